//! The one behaviour suite every [`CatalogStore`] must pass. Run it against a fresh store (a layout no
//! other run uses): the in-memory twin runs it in this crate's unit tests, the SSM store against the AWS
//! emulator in `tests/tests/catalogs_store.rs`. Each check panics with what differed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use super::{
    CatalogStore, Layout, MemoryCatalogStore, Param, Params, PutReport, SsmCatalogStore,
    catalog_store_via_engine,
};
use crate::error::{Error, Result};
use crate::spec::{CatalogSpec, GenericCatalog, JdbcCatalog, SecretRef, SecretValue, SecretValues};

/// A view of a store whose `fail_at`-th parameter write (1-based, counted over the view's life) fails with
/// an injected `ssm:PutParameter` error; every other operation goes to the store underneath. It proves that
/// a put failing part-way leaves nothing half-applied.
pub struct FailingStore<'a> {
    inner: &'a dyn Params,
    layout: Layout,
    allow_advanced: bool,
    fail_at: usize,
    writes: AtomicUsize,
}

impl<'a> FailingStore<'a> {
    /// Over an in-memory store.
    pub fn over_memory(store: &'a MemoryCatalogStore, fail_at: usize) -> Self {
        Self::over(store.params(), &store.layout, store.allow_advanced, fail_at)
    }

    /// Over an SSM store.
    pub fn over_ssm(store: &'a SsmCatalogStore, fail_at: usize) -> Self {
        Self::over(store.params(), &store.layout, store.allow_advanced, fail_at)
    }

    fn over(inner: &'a dyn Params, layout: &Layout, allow_advanced: bool, fail_at: usize) -> Self {
        Self {
            inner,
            layout: layout.clone(),
            allow_advanced,
            fail_at,
            writes: AtomicUsize::new(0),
        }
    }

    fn params(&self) -> &dyn Params {
        self
    }
}

#[async_trait]
impl Params for FailingStore<'_> {
    async fn get(&self, name: &str) -> Result<Option<Param>> {
        self.inner.get(name).await
    }
    fn key_id(&self) -> Option<&str> {
        self.inner.key_id()
    }
    async fn put(&self, name: &str, value: &str, secure: bool, advanced: bool) -> Result<i64> {
        if self.writes.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_at {
            return Err(Error::Aws {
                operation: "ssm:PutParameter",
                resource: name.to_owned(),
                source: "injected fault (testsuite::FailingStore)".into(),
            });
        }
        self.inner.put(name, value, secure, advanced).await
    }
    async fn delete(&self, names: &[String]) -> Result<()> {
        self.inner.delete(names).await
    }
    async fn list(&self, path: &str) -> Result<Vec<(String, Param)>> {
        self.inner.list(path).await
    }
    async fn history(&self, name: &str) -> Result<Vec<Param>> {
        self.inner.history(name).await
    }
}

catalog_store_via_engine!(FailingStore<'_>);

fn mysql(user: &str) -> CatalogSpec {
    CatalogSpec::Mysql(JdbcCatalog {
        url: "jdbc:mysql://orders.example:3306".into(),
        user: user.into(),
        password: Some(SecretRef::Env("ORDERS_DB_PASSWORD".into())),
        properties: BTreeMap::new(),
    })
}

fn secrets(pairs: &[(&str, &str)]) -> SecretValues {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), SecretValue::new(*v)))
        .collect()
}

fn generic(secret_fields: &[&str], filler: usize) -> CatalogSpec {
    CatalogSpec::Generic(GenericCatalog {
        connector_name: "elasticsearch".into(),
        properties: [("filler".to_owned(), "f".repeat(filler))].into(),
        secret_properties: secret_fields
            .iter()
            .map(|f| {
                (
                    f.to_string(),
                    SecretRef::Env(format!("E_{}", f.replace('.', "_"))),
                )
            })
            .collect(),
    })
}

/// Puts catalog `big` whose stored definition is about `bytes` bytes.
pub async fn put_big(store: &dyn CatalogStore, bytes: usize) -> Result<PutReport> {
    store
        .put("big", &generic(&[], bytes), &SecretValues::new())
        .await
}

/// A definition over 4 KB is stored whole (advanced tier) and reads back equal; over 8 KB fails clearly and
/// leaves nothing.
pub async fn big_catalog_uses_advanced_tier(store: &dyn CatalogStore) {
    put_big(store, 6000)
        .await
        .expect("a 6 KB definition fits the advanced tier");
    let got = store.get("big").await.unwrap().expect("big exists");
    assert_eq!(
        got.spec,
        generic(&[], 6000),
        "a large definition must read back whole, never truncated"
    );
    store.delete("big").await.unwrap();
    let err = put_big(store, 9000).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::TooLarge {
                limit: 8192,
                tier: "advanced",
                ..
            }
        ),
        "a 9 KB definition must fail with TooLarge, got {err}"
    );
    assert!(
        store.get("big").await.unwrap().is_none(),
        "a failed put leaves no catalog"
    );
}

/// `before` and `after` are two stores over the same parameters and layout whose KMS keys differ: a put
/// through `after` of an unchanged catalog re-encrypts (rewrites) its secret, and only its secret.
pub async fn kms_key_change_rewrites_secrets(before: &dyn CatalogStore, after: &dyn CatalogStore) {
    let pw = secrets(&[("password", "pw")]);
    before.put("keyed", &mysql("ro"), &pw).await.unwrap();
    assert!(
        before
            .put("keyed", &mysql("ro"), &pw)
            .await
            .unwrap()
            .written
            .is_empty()
    );
    let report = after.put("keyed", &mysql("ro"), &pw).await.unwrap();
    assert_eq!(
        report.written,
        vec![after.layout().secret_parameter("keyed", "password")]
    );
    assert!(
        after
            .put("keyed", &mysql("ro"), &pw)
            .await
            .unwrap()
            .written
            .is_empty(),
        "and then it is stable"
    );
    assert!(after.delete("keyed").await.unwrap());
}

/// A put that fails part-way (the `n`-th parameter write fails in `failing(n)`, a [`FailingStore`] over
/// `store`) is rolled back: for an update, at a secret and at the spec marker, the old values stand and no
/// new parameter is left; for a first write, nothing is left. `store` must not hold catalogs `tx`/`tx_new`.
pub async fn mid_write_failures_roll_back<'a>(
    store: &'a dyn CatalogStore,
    failing: impl Fn(usize) -> FailingStore<'a>,
) {
    let layout = store.layout().clone();
    let a = layout.secret_parameter("tx", "a.token");
    let b = layout.secret_parameter("tx", "b.token");
    let v1 = secrets(&[("a.token", "v1")]);
    store
        .put("tx", &generic(&["a.token"], 10), &v1)
        .await
        .unwrap();
    let before = store.get("tx").await.unwrap().unwrap();
    let update = generic(&["a.token", "b.token"], 20);
    let update_secrets = secrets(&[("a.token", "v2"), ("b.token", "vb")]);
    // The plan writes a.token, b.token, then the spec: fail the 2nd write (a secret, after a.token was
    // changed) and the 3rd (the commit marker, after both secrets were written).
    for (fail_at, failed) in [(2, b.clone()), (3, layout.spec_parameter("tx"))] {
        let view = failing(fail_at);
        let err = CatalogStore::put(&view, "tx", &update, &update_secrets)
            .await
            .unwrap_err();
        match &err {
            Error::RolledBack {
                catalog, parameter, ..
            } => assert_eq!(
                (catalog.as_str(), parameter.as_str()),
                ("tx", failed.as_str())
            ),
            other => panic!("write {fail_at} failed: expected a rolled-back put, got {other}"),
        }
        assert_eq!(
            store.read_secret(&a).await.unwrap().expose(),
            "v1",
            "write {fail_at} failed: the changed secret is restored"
        );
        assert!(
            matches!(
                store.read_secret(&b).await,
                Err(Error::MissingParameter { .. })
            ),
            "write {fail_at} failed: the new secret is removed"
        );
        let after = store.get("tx").await.unwrap().unwrap();
        assert_eq!(
            (&after.spec, after.version),
            (&before.spec, before.version),
            "write {fail_at} failed: the old definition stands"
        );
    }
    // The same put without a fault then goes through whole.
    let report = store.put("tx", &update, &update_secrets).await.unwrap();
    assert_eq!(report.written.len(), 3, "{report:?}");
    assert_eq!(store.read_secret(&b).await.unwrap().expose(), "vb");

    // A first write failing at its marker leaves no catalog and no secret.
    let err = CatalogStore::put(&failing(3), "tx_new", &update, &update_secrets)
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::RolledBack { .. }), "{err}");
    assert!(store.get("tx_new").await.unwrap().is_none());
    for field in ["a.token", "b.token"] {
        assert!(
            store
                .read_secret(&layout.secret_parameter("tx_new", field))
                .await
                .is_err(),
            "{field} of a rolled-back first write is gone"
        );
    }
    assert!(
        !store.delete("tx_new").await.unwrap(),
        "nothing at all is left under the catalog"
    );
    assert!(store.delete("tx").await.unwrap());
}

/// Runs every check against `store`, which must be empty.
pub async fn run(store: &dyn CatalogStore) {
    let layout = store.layout().clone();
    let secret_param = layout.secret_parameter("orders", "password");

    // Empty store.
    assert!(
        store.list().await.unwrap().is_empty(),
        "a fresh store lists nothing"
    );
    assert!(store.get("orders").await.unwrap().is_none());
    assert!(store.history("orders").await.unwrap().is_empty());
    assert!(
        !store.delete("orders").await.unwrap(),
        "deleting nothing reports false"
    );

    // Invalid definitions and missing secrets write nothing.
    let err = store
        .put("Bad-Name", &mysql("ro"), &secrets(&[("password", "x")]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
    let err = store
        .put("orders", &mysql("ro"), &SecretValues::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::MissingSecret { env, .. } if env == "ORDERS_DB_PASSWORD"),
        "a missing env secret names its variable: {err}"
    );
    assert!(store.list().await.unwrap().is_empty());

    // First write: secret then spec.
    let report = store
        .put("orders", &mysql("ro"), &secrets(&[("password", "pw-one")]))
        .await
        .unwrap();
    assert_eq!(
        report.written,
        vec![secret_param.clone(), layout.spec_parameter("orders")]
    );
    assert_eq!(report.version, 1);
    let got = store.get("orders").await.unwrap().expect("orders exists");
    assert_eq!(got.version, 1);
    assert_eq!(got.spec, layout.stored_spec("orders", &mysql("ro")));
    match &got.spec {
        CatalogSpec::Mysql(j) => {
            assert_eq!(j.password, Some(SecretRef::Parameter(secret_param.clone())))
        }
        other => panic!("stored as another connector: {other:?}"),
    }
    assert_eq!(
        store.read_secret(&secret_param).await.unwrap().expose(),
        "pw-one"
    );
    let listed = store.list().await.unwrap();
    assert_eq!(
        listed.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["orders"]
    );

    // Issue 16 item 5: a name that is not a catalog name addresses nothing: "" would be every catalog,
    // "orders/secrets" only the secrets of one.
    for name in ["", "orders/secrets", "orders/", "../trino", "Orders"] {
        let err = store.delete(name).await.unwrap_err();
        assert!(
            matches!(&err, Error::Invalid { issues, .. } if issues[0].field == "name"),
            "delete({name:?}): {err}"
        );
        assert!(store.get(name).await.is_err(), "get({name:?})");
        assert!(store.history(name).await.is_err(), "history({name:?})");
    }
    assert!(store.get("orders").await.unwrap().is_some());
    assert_eq!(
        store.read_secret(&secret_param).await.unwrap().expose(),
        "pw-one",
        "the secret survived"
    );

    // Idempotent: nothing rewritten, versions unchanged.
    let again = store
        .put("orders", &mysql("ro"), &secrets(&[("password", "pw-one")]))
        .await
        .unwrap();
    assert!(
        again.written.is_empty(),
        "an identical put rewrote {:?}",
        again.written
    );
    assert_eq!(again.unchanged.len(), 2);
    assert_eq!(store.get("orders").await.unwrap().unwrap().version, 1);
    assert_eq!(store.history("orders").await.unwrap().len(), 1);

    // A changed field writes only the spec; history shows both versions.
    let changed = store
        .put("orders", &mysql("ro2"), &secrets(&[("password", "pw-one")]))
        .await
        .unwrap();
    assert_eq!(changed.written, vec![layout.spec_parameter("orders")]);
    assert_eq!(changed.version, 2);
    let history = store.history("orders").await.unwrap();
    assert_eq!(
        history.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(history[0].spec, layout.stored_spec("orders", &mysql("ro")));
    assert_eq!(history[1].spec, layout.stored_spec("orders", &mysql("ro2")));

    // A changed secret writes only the secret.
    let rotated = store
        .put("orders", &mysql("ro2"), &secrets(&[("password", "pw-two")]))
        .await
        .unwrap();
    assert_eq!(rotated.written, vec![secret_param.clone()]);
    assert_eq!(rotated.version, 2, "the spec did not change");
    assert_eq!(
        store.read_secret(&secret_param).await.unwrap().expose(),
        "pw-two"
    );

    // A value too large for any tier is refused before anything is written: the old secret value and the
    // old spec stand, no new parameter appears (failures part-way are in `mid_write_failures_roll_back`).
    let gen_secrets = secrets(&[("a.token", "v1")]);
    store
        .put("gen", &generic(&["a.token"], 10), &gen_secrets)
        .await
        .unwrap();
    let before = store.get("gen").await.unwrap().unwrap();
    let huge = "h".repeat(9000);
    let err = store
        .put(
            "gen",
            &generic(&["a.token", "b.token"], 20),
            &secrets(&[("a.token", "v2"), ("b.token", &huge)]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::TooLarge { parameter, .. }
            if *parameter == layout.secret_parameter("gen", "b.token")),
        "expected TooLarge before any write, got {err}"
    );
    assert_eq!(
        store
            .read_secret(&layout.secret_parameter("gen", "a.token"))
            .await
            .unwrap()
            .expose(),
        "v1"
    );
    assert!(matches!(
        store
            .read_secret(&layout.secret_parameter("gen", "b.token"))
            .await,
        Err(Error::MissingParameter { .. })
    ));
    let after = store.get("gen").await.unwrap().unwrap();
    assert_eq!(
        (after.spec, after.version),
        (before.spec, before.version),
        "the old definition stands"
    );
    assert!(
        store
            .put("gen", &generic(&["a.token"], 10), &gen_secrets)
            .await
            .unwrap()
            .written
            .is_empty(),
        "and nothing about gen was rewritten"
    );

    // Same for a first write: no catalog and no secret behind.
    let err = store
        .put(
            "fresh",
            &generic(&["a.token", "b.token"], 1),
            &secrets(&[("a.token", "v1"), ("b.token", &huge)]),
        )
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::TooLarge { .. }), "{err}");
    assert!(store.get("fresh").await.unwrap().is_none());
    assert!(
        store
            .read_secret(&layout.secret_parameter("fresh", "a.token"))
            .await
            .is_err()
    );

    // Large definitions.
    big_catalog_uses_advanced_tier(store).await;

    // Dropping a secret (password removed) deletes its parameter.
    let mut no_pw = mysql("ro2");
    if let CatalogSpec::Mysql(j) = &mut no_pw {
        j.password = None;
    }
    let dropped = store
        .put("orders", &no_pw, &SecretValues::new())
        .await
        .unwrap();
    assert_eq!(dropped.removed, vec![secret_param.clone()]);
    assert!(store.read_secret(&secret_param).await.is_err());
    store
        .put(
            "orders",
            &mysql("ro2"),
            &secrets(&[("password", "pw-three")]),
        )
        .await
        .unwrap();

    // Parameter-referenced secrets are kept as references, nothing is written for them.
    let mut referenced = mysql("ro");
    if let CatalogSpec::Mysql(j) = &mut referenced {
        j.password = Some(SecretRef::Parameter("/elsewhere/shared-password".into()));
    }
    let report = store
        .put("shared", &referenced, &SecretValues::new())
        .await
        .unwrap();
    assert_eq!(report.written, vec![layout.spec_parameter("shared")]);
    assert_eq!(store.get("shared").await.unwrap().unwrap().spec, referenced);

    // Delete removes everything under the catalog.
    let names: Vec<String> = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["gen", "orders", "shared"]);
    assert!(store.delete("orders").await.unwrap());
    assert!(store.get("orders").await.unwrap().is_none());
    assert!(
        store.read_secret(&secret_param).await.is_err(),
        "delete removes the secrets"
    );
    assert!(store.history("orders").await.unwrap().is_empty());
    assert!(!store.delete("orders").await.unwrap());
    for name in ["gen", "shared"] {
        assert!(store.delete(name).await.unwrap());
    }
    assert!(store.list().await.unwrap().is_empty());
}
