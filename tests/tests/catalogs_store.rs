//! The SSM catalog store against the AWS emulator: the shared store suite, plus what only raw Parameter
//! Store shows (types, versions, tiers, KMS key ids, incomplete catalogs).

use std::collections::BTreeMap;

use aws_sdk_ssm::types::{ParameterTier, ParameterType};
use trino_catalogs::spec::{GenericCatalog, JdbcCatalog};
use trino_catalogs::store::{CatalogStore, Layout, SsmCatalogStore, testsuite};
use trino_catalogs::{CatalogSpec, SecretRef, SecretValue, SecretValues};

async fn fresh_store() -> (SsmCatalogStore, aws_sdk_ssm::Client) {
    let sdk = lake_tests::aws_config().await;
    let client = aws_sdk_ssm::Client::new(&sdk);
    let layout = Layout::new(&format!("/{}", lake_tests::unique_name("cat")), "lake").unwrap();
    (SsmCatalogStore::new(client.clone(), layout), client)
}

#[tokio::test]
async fn ssm_store_passes_the_shared_suite() {
    let (store, _) = fresh_store().await;
    testsuite::run(&store).await;
}

#[tokio::test]
async fn ssm_store_rewrites_secrets_when_the_kms_key_changes() {
    let (before, client) = fresh_store().await;
    let after = SsmCatalogStore::new(client.clone(), before.layout().clone())
        .with_kms_key_id(Some("alias/rotated-key".into()));
    testsuite::kms_key_change_rewrites_secrets(&before, &after).await;
}

#[tokio::test]
async fn ssm_store_rolls_back_writes_failing_mid_way() {
    let (store, _) = fresh_store().await;
    testsuite::mid_write_failures_roll_back(&store, |n| {
        testsuite::FailingStore::over_ssm(&store, n)
    })
    .await;
}

#[tokio::test]
async fn ssm_store_is_idempotent_across_kms_key_spellings() {
    // SSM may report a SecureString's key as an ARN where the config has the bare key id (or the reverse):
    // that is the same key, and an unchanged catalog must not be rewritten.
    let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
    let arn = format!("arn:aws:kms:us-east-1:123456789012:key/{id}");
    let (by_arn, client) = fresh_store().await;
    let by_arn = by_arn.with_kms_key_id(Some(arn));
    let by_id =
        SsmCatalogStore::new(client, by_arn.layout().clone()).with_kms_key_id(Some(id.to_owned()));
    let spec = CatalogSpec::Mysql(JdbcCatalog {
        url: "jdbc:mysql://orders.example:3306".into(),
        user: "ro".into(),
        password: Some(SecretRef::Env("ORDERS_DB_PASSWORD".into())),
        properties: BTreeMap::new(),
    });
    let pw: SecretValues = [("password".to_owned(), SecretValue::new("pw"))].into();
    assert_eq!(
        by_arn.put("keyed", &spec, &pw).await.unwrap().written.len(),
        2
    );
    let again = by_id.put("keyed", &spec, &pw).await.unwrap();
    assert!(again.written.is_empty(), "rewrote {:?}", again.written);
    let rotated = SsmCatalogStore::new(
        aws_sdk_ssm::Client::new(&lake_tests::aws_config().await),
        by_arn.layout().clone(),
    )
    .with_kms_key_id(Some("alias/another-key".into()));
    assert_eq!(
        rotated.put("keyed", &spec, &pw).await.unwrap().written,
        vec![by_arn.layout().secret_parameter("keyed", "password")],
        "a different key still re-encrypts"
    );
    assert!(by_arn.delete("keyed").await.unwrap());
}

async fn raw(client: &aws_sdk_ssm::Client, name: &str) -> aws_sdk_ssm::types::Parameter {
    client
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .unwrap()
        .parameter
        .unwrap()
}

#[tokio::test]
async fn ssm_layout_types_versions_and_idempotency() {
    let (store, client) = fresh_store().await;
    let store = store.with_kms_key_id(Some("alias/trino-catalogs-test".into()));
    let layout = store.layout().clone();
    let spec = CatalogSpec::Mysql(JdbcCatalog {
        url: "jdbc:mysql://orders.example:3306".into(),
        user: "ro".into(),
        password: Some(SecretRef::Env("ORDERS_DB_PASSWORD".into())),
        properties: BTreeMap::new(),
    });
    let pw: SecretValues = [("password".to_owned(), SecretValue::new("p@ss=w:rd"))].into();
    store.put("orders", &spec, &pw).await.unwrap();

    let secret = raw(&client, &layout.secret_parameter("orders", "password")).await;
    assert_eq!(secret.r#type, Some(ParameterType::SecureString));
    assert_eq!(secret.value.as_deref(), Some("p@ss=w:rd"));
    let described = client
        .describe_parameters()
        .parameter_filters(
            aws_sdk_ssm::types::ParameterStringFilter::builder()
                .key("Name")
                .values(layout.secret_parameter("orders", "password"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.parameters()[0].key_id(),
        Some("alias/trino-catalogs-test"),
        "secrets use the KMS key"
    );
    let spec_param = raw(&client, &layout.spec_parameter("orders")).await;
    assert_eq!(spec_param.r#type, Some(ParameterType::String));
    assert!(
        !spec_param.value.as_deref().unwrap().contains("p@ss"),
        "the spec holds no secret value"
    );
    let versions = (secret.version, spec_param.version);
    assert_eq!(versions, (1, 1));

    // Ten identical puts: moto's parameter versions do not move.
    for _ in 0..10 {
        let r = store.put("orders", &spec, &pw).await.unwrap();
        assert!(r.written.is_empty());
    }
    let after = (
        raw(&client, &layout.secret_parameter("orders", "password"))
            .await
            .version,
        raw(&client, &layout.spec_parameter("orders")).await.version,
    );
    assert_eq!(
        after, versions,
        "idempotent writes must not create parameter versions"
    );

    // A large definition goes to the advanced tier, whole.
    let big = CatalogSpec::Generic(GenericCatalog {
        connector_name: "x".into(),
        properties: [("filler".to_owned(), "f".repeat(6000))].into(),
        secret_properties: BTreeMap::new(),
    });
    store.put("big", &big, &SecretValues::new()).await.unwrap();
    let described = client
        .describe_parameters()
        .parameter_filters(
            aws_sdk_ssm::types::ParameterStringFilter::builder()
                .key("Name")
                .values(layout.spec_parameter("big"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.parameters()[0].tier(),
        Some(&ParameterTier::Advanced)
    );
    assert_eq!(store.get("big").await.unwrap().unwrap().spec, big);

    // A catalog whose write died before its spec marker is invisible, and delete cleans it up.
    client
        .put_parameter()
        .name(layout.secret_parameter("halfway", "password"))
        .value("orphan")
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let names: Vec<String> = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["big", "orders"]);
    assert!(store.get("halfway").await.unwrap().is_none());
    assert!(store.delete("halfway").await.unwrap());
    let left = client
        .get_parameters_by_path()
        .path(layout.catalog_path("halfway"))
        .recursive(true)
        .send()
        .await
        .unwrap();
    assert!(left.parameters().is_empty());

    // ECS secrets point at the parameters put wrote.
    let ecs = layout.ecs_secrets("orders", &spec);
    assert_eq!(ecs[0].env, "TRINO_CATALOG_ORDERS_PASSWORD");
    assert_eq!(
        ecs[0].parameter,
        layout.secret_parameter("orders", "password")
    );
    raw(&client, &ecs[0].parameter).await;

    for name in ["orders", "big"] {
        assert!(store.delete(name).await.unwrap());
    }
    let left = client
        .get_parameters_by_path()
        .path(layout.root())
        .recursive(true)
        .send()
        .await
        .unwrap();
    assert!(
        left.parameters().is_empty(),
        "delete leaves nothing: {:?}",
        left.parameters()
    );
}
