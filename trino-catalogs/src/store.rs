//! The catalog store: Parameter Store as the source of truth, with an in-memory twin.
//!
//! Layout, under a [`Layout`]'s root `/<prefix>/<cluster>/catalogs`:
//!
//! - `<root>/<name>/secrets/<field>`: one SecureString per secret whose source is `{ env = ... }` (optional
//!   KMS key id). Secrets declared as `{ parameter = ... }` stay where they are and are referenced.
//! - `<root>/<name>/spec`: String, the catalog definition as JSON with every secret as a `parameter`
//!   reference. Written last: it is the commit marker. A catalog without it does not exist for readers.
//!
//! Writes are idempotent (a parameter whose value and type are unchanged is not rewritten, so its version
//! stays), a failed write rolls back what it changed, and values over the 4 KB standard tier use the advanced
//! tier (8 KB) when allowed, or fail with [`Error::TooLarge`] before anything of the catalog is written;
//! nothing is ever truncated. A SecureString is rewritten when its KMS key changes (an ARN and the key id
//! or alias it ends in count as the same key).

use std::collections::BTreeSet;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::spec::{CatalogSpec, SecretRef, SecretValue, SecretValues, secret_env_name};
use crate::validate::{check, is_parameter_segment};

mod memory;
mod ssm;
pub mod testsuite;

pub use memory::MemoryCatalogStore;
pub use ssm::SsmCatalogStore;

/// Largest value of a standard-tier parameter, bytes.
pub const STANDARD_LIMIT: usize = 4096;
/// Largest value of an advanced-tier parameter, bytes.
pub const ADVANCED_LIMIT: usize = 8192;

/// Where a cluster's catalogs live: `/<prefix>/<cluster>/catalogs/...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    prefix: String,
    cluster: String,
}

impl Layout {
    /// `prefix` like `/trino` (leading `/`, no trailing `/`), `cluster` one path segment.
    pub fn new(prefix: &str, cluster: &str) -> Result<Self> {
        let mut issues = Vec::new();
        if !prefix.starts_with('/') || !prefix[1..].split('/').all(is_parameter_segment) {
            issues.push(crate::Issue {
                field: "prefix".into(),
                reason: format!(
                    "{prefix:?} must look like /trino: /segments of letters, digits and _ . -"
                ),
            });
        }
        if !is_parameter_segment(cluster) {
            issues.push(crate::Issue {
                field: "cluster".into(),
                reason: format!("{cluster:?} must be one segment of letters, digits and _ . -"),
            });
        }
        if issues.is_empty() {
            Ok(Self {
                prefix: prefix.to_owned(),
                cluster: cluster.to_owned(),
            })
        } else {
            Err(Error::Invalid {
                catalog: "(store layout)".into(),
                issues,
            })
        }
    }

    /// `/<prefix>/<cluster>/catalogs`.
    pub fn root(&self) -> String {
        format!("{}/{}/catalogs", self.prefix, self.cluster)
    }

    /// `<root>/<name>`.
    pub fn catalog_path(&self, name: &str) -> String {
        format!("{}/{name}", self.root())
    }

    /// `<root>/<name>/spec`, the commit marker holding the definition.
    pub fn spec_parameter(&self, name: &str) -> String {
        format!("{}/spec", self.catalog_path(name))
    }

    /// `<root>/<name>/secrets/<field>`.
    pub fn secret_parameter(&self, name: &str, field: &str) -> String {
        format!("{}/secrets/{field}", self.catalog_path(name))
    }

    /// The definition as stored: every `{ env = ... }` secret replaced by its parameter in this layout.
    pub fn stored_spec(&self, name: &str, spec: &CatalogSpec) -> CatalogSpec {
        let mut stored = spec.clone();
        for f in spec.secret_fields() {
            if let SecretRef::Env(_) = f.source {
                stored.set_secret_source(
                    &f.field,
                    SecretRef::Parameter(self.secret_parameter(name, &f.field)),
                );
            }
        }
        stored
    }

    /// What an ECS container definition needs in `secrets[]` for this catalog: (environment variable,
    /// SSM parameter name) pairs, for the spec as declared (env secrets map to where `put` stores them) or as
    /// stored.
    pub fn ecs_secrets(&self, name: &str, spec: &CatalogSpec) -> Vec<EcsSecret> {
        self.stored_spec(name, spec)
            .secret_fields()
            .into_iter()
            .filter_map(|f| match f.source {
                SecretRef::Parameter(p) => Some(EcsSecret {
                    env: secret_env_name(name, &f.field),
                    parameter: p.clone(),
                }),
                SecretRef::Env(_) => None,
            })
            .collect()
    }
}

/// One `secrets[]` entry of an ECS container definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsSecret {
    /// The environment variable the rendered catalog file references.
    pub env: String,
    /// The SSM parameter name (ECS accepts the name in the task's region, or build the ARN from it).
    pub parameter: String,
}

impl EcsSecret {
    /// The parameter's ARN, for `secrets[].valueFrom` and IAM policies: `arn:<partition>:ssm:<region>:<account>:parameter/<name>`.
    pub fn arn(&self, partition: &str, region: &str, account: &str) -> String {
        format!(
            "arn:{partition}:ssm:{region}:{account}:parameter/{}",
            self.parameter.trim_start_matches('/')
        )
    }
}

/// A catalog as read from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCatalog {
    /// The catalog name.
    pub name: String,
    /// The definition, secrets as parameter references.
    pub spec: CatalogSpec,
    /// The version of its `spec` parameter.
    pub version: i64,
    /// When the `spec` parameter was last written, seconds since the epoch, when known.
    pub modified_epoch_seconds: Option<i64>,
}

/// One historical version of a catalog definition.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogVersion {
    /// The `spec` parameter version.
    pub version: i64,
    /// When it was written, seconds since the epoch, when known.
    pub modified_epoch_seconds: Option<i64>,
    /// The definition at that version.
    pub spec: CatalogSpec,
}

/// What a `put` did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PutReport {
    /// Parameters written (new or changed).
    pub written: Vec<String>,
    /// Parameters left alone because they already held the value.
    pub unchanged: Vec<String>,
    /// Parameters of secrets the definition no longer has, deleted.
    pub removed: Vec<String>,
    /// The version of the `spec` parameter afterwards.
    pub version: i64,
}

/// Catalog definitions kept per cluster.
#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// Where this store keeps its catalogs.
    fn layout(&self) -> &Layout;
    /// Every complete catalog (one with a `spec` parameter), sorted by name.
    async fn list(&self) -> Result<Vec<StoredCatalog>>;
    /// One catalog, or `None` when it does not exist (or is incomplete).
    async fn get(&self, name: &str) -> Result<Option<StoredCatalog>>;
    /// Validates and writes a catalog: secrets (from `secrets`, by field) first, the `spec` marker last;
    /// unchanged parameters are not rewritten; on failure what was changed is rolled back.
    async fn put(
        &self,
        name: &str,
        spec: &CatalogSpec,
        secrets: &SecretValues,
    ) -> Result<PutReport>;
    /// Removes a catalog and every parameter under its path; false when there was nothing.
    async fn delete(&self, name: &str) -> Result<bool>;
    /// The versions of a catalog's definition, oldest first (empty when it does not exist).
    async fn history(&self, name: &str) -> Result<Vec<CatalogVersion>>;
    /// The decrypted value of a SecureString parameter (a stored secret or a referenced one).
    async fn read_secret(&self, parameter: &str) -> Result<SecretValue>;
}

/// The values of every secret of a catalog, for probes: `{ env }` secrets from `env_values` (see
/// [`crate::spec::secrets_from_env`]), `{ parameter }` secrets read from the store.
pub async fn resolve_secrets(
    name: &str,
    spec: &CatalogSpec,
    env_values: &SecretValues,
    store: &dyn CatalogStore,
) -> Result<SecretValues> {
    let mut out = SecretValues::new();
    for f in spec.secret_fields() {
        let value = match f.source {
            SecretRef::Env(var) => {
                env_values
                    .get(&f.field)
                    .cloned()
                    .ok_or_else(|| Error::MissingSecret {
                        catalog: name.to_owned(),
                        field: f.field.clone(),
                        env: var.clone(),
                    })?
            }
            SecretRef::Parameter(p) => store.read_secret(p).await?,
        };
        out.insert(f.field, value);
    }
    Ok(out)
}

// ---- The engine shared by both stores: catalog semantics over a minimal parameter-store surface. ----

/// A parameter as the engine sees it.
#[derive(Debug, Clone)]
pub(crate) struct Param {
    pub(crate) value: SecretValue,
    pub(crate) secure: bool,
    pub(crate) version: i64,
    pub(crate) modified: Option<i64>,
    /// The KMS key of a SecureString (`alias/aws/ssm` when the account default is used); `None` otherwise.
    pub(crate) key_id: Option<String>,
}

/// The key SSM uses for SecureString parameters when none is given.
pub(crate) const DEFAULT_KEY: &str = "alias/aws/ssm";

/// The parameter-store operations the engine needs. Implemented over SSM and over a map.
#[async_trait]
pub(crate) trait Params: Send + Sync {
    /// The latest version, decrypted; `None` when absent.
    async fn get(&self, name: &str) -> Result<Option<Param>>;
    /// The KMS key new SecureString values are written with (`None`: the account default).
    fn key_id(&self) -> Option<&str>;
    /// Writes (overwriting) and returns the new version.
    async fn put(&self, name: &str, value: &str, secure: bool, advanced: bool) -> Result<i64>;
    /// Deletes these parameters (absent ones are ignored).
    async fn delete(&self, names: &[String]) -> Result<()>;
    /// Names and latest values (String values only; SecureString values are not decrypted) under a path,
    /// recursively.
    async fn list(&self, path: &str) -> Result<Vec<(String, Param)>>;
    /// Every retained version, oldest first.
    async fn history(&self, name: &str) -> Result<Vec<Param>>;
}

/// Tier for a value: standard up to 4 KB, advanced up to 8 KB when allowed.
pub(crate) fn needs_advanced(parameter: &str, value: &str, allow_advanced: bool) -> Result<bool> {
    let bytes = value.len();
    if bytes <= STANDARD_LIMIT {
        Ok(false)
    } else if allow_advanced && bytes <= ADVANCED_LIMIT {
        Ok(true)
    } else {
        let (limit, tier) = if allow_advanced {
            (ADVANCED_LIMIT, "advanced")
        } else {
            (STANDARD_LIMIT, "standard")
        };
        Err(Error::TooLarge {
            parameter: parameter.to_owned(),
            bytes,
            limit,
            tier,
        })
    }
}

/// A KMS key reference reduced to what identifies it: `arn:<partition>:kms:<region>:<account>:key/<id>` and
/// `<id>` become `<id>`; `arn:...:alias/<name>` and `alias/<name>` become `alias/<name>`. SSM may report the
/// key of a SecureString in another of these spellings than the one it was written with.
pub(crate) fn kms_key_canonical(key: &str) -> &str {
    let resource = if key.starts_with("arn:") {
        // arn:partition:kms:region:account:resource
        key.splitn(6, ':').nth(5).unwrap_or(key)
    } else {
        key
    };
    resource.strip_prefix("key/").unwrap_or(resource)
}

/// Whether two spellings of a KMS key name the same key, as far as can be told without KMS: an ARN and the
/// bare id (or alias) it ends in are the same key. An alias and a key id cannot be compared without
/// `kms:DescribeKey`, so they count as different (the secret is rewritten with the configured key).
pub(crate) fn same_kms_key(a: &str, b: &str) -> bool {
    a == b || kms_key_canonical(a) == kms_key_canonical(b)
}

fn parse_spec(parameter: &str, json: &str) -> Result<CatalogSpec> {
    serde_json::from_str(json).map_err(|e| Error::Corrupt {
        parameter: parameter.to_owned(),
        reason: e.to_string(),
    })
}

pub(crate) async fn engine_list(p: &dyn Params, layout: &Layout) -> Result<Vec<StoredCatalog>> {
    let root = layout.root();
    let mut out = Vec::new();
    for (param, value) in p.list(&root).await? {
        let Some(rest) = param.strip_prefix(&format!("{root}/")) else {
            continue;
        };
        let Some((name, "spec")) = rest.split_once('/') else {
            continue;
        };
        out.push(StoredCatalog {
            name: name.to_owned(),
            spec: parse_spec(&param, value.value.expose())?,
            version: value.version,
            modified_epoch_seconds: value.modified,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Refuses a name that is not a catalog name before it becomes part of a parameter path: `""` would address
/// every catalog under the root, `sales/secrets` only a catalog's secrets.
fn catalog_name(name: &str) -> Result<()> {
    if crate::validate::is_catalog_name(name) {
        Ok(())
    } else {
        Err(Error::Invalid {
            catalog: name.to_owned(),
            issues: vec![crate::error::Issue {
                field: "name".to_owned(),
                reason: format!("{name:?} must match [a-z][a-z0-9_]* and be at most 64 characters"),
            }],
        })
    }
}

pub(crate) async fn engine_get(
    p: &dyn Params,
    layout: &Layout,
    name: &str,
) -> Result<Option<StoredCatalog>> {
    catalog_name(name)?;
    let param = layout.spec_parameter(name);
    Ok(match p.get(&param).await? {
        None => None,
        Some(v) => Some(StoredCatalog {
            name: name.to_owned(),
            spec: parse_spec(&param, v.value.expose())?,
            version: v.version,
            modified_epoch_seconds: v.modified,
        }),
    })
}

pub(crate) async fn engine_put(
    p: &dyn Params,
    layout: &Layout,
    allow_advanced: bool,
    name: &str,
    spec: &CatalogSpec,
    secrets: &SecretValues,
) -> Result<PutReport> {
    check(name, spec)?;
    // The plan: secrets first, the spec marker last, each with its tier. Every size is checked before the
    // first write, so a value too large for any tier fails the put with nothing written.
    let mut plan: Vec<(String, SecretValue, bool)> = Vec::new();
    for f in spec.secret_fields() {
        if let SecretRef::Env(var) = f.source {
            let value = secrets
                .get(&f.field)
                .filter(|v| !v.expose().is_empty())
                .ok_or_else(|| Error::MissingSecret {
                    catalog: name.to_owned(),
                    field: f.field.clone(),
                    env: var.clone(),
                })?;
            plan.push((layout.secret_parameter(name, &f.field), value.clone(), true));
        }
    }
    let stored = layout.stored_spec(name, spec);
    let json = serde_json::to_string(&stored).map_err(|e| Error::Corrupt {
        parameter: layout.spec_parameter(name),
        reason: format!("cannot serialise: {e}"),
    })?;
    plan.push((layout.spec_parameter(name), SecretValue::new(json), false));
    let tiers = plan
        .iter()
        .map(|(param, value, _)| needs_advanced(param, value.expose(), allow_advanced))
        .collect::<Result<Vec<bool>>>()?;

    let mut report = PutReport::default();
    let mut undo: Vec<(String, Option<Param>)> = Vec::new();
    for ((param, value, secure), advanced) in plan.iter().zip(tiers) {
        let step = async {
            let existing = p.get(param).await?;
            let wanted_key = p.key_id().unwrap_or(DEFAULT_KEY);
            let same = |e: &Param| {
                e.value == *value
                    && e.secure == *secure
                    // A changed KMS key re-encrypts the secret.
                    && (!secure
                        || same_kms_key(e.key_id.as_deref().unwrap_or(DEFAULT_KEY), wanted_key))
            };
            if existing.as_ref().is_some_and(same) {
                return Ok((existing, None));
            }
            let version = p.put(param, value.expose(), *secure, advanced).await?;
            Ok::<_, Error>((existing, Some(version)))
        };
        match step.await {
            Ok((existing, None)) => {
                report.unchanged.push(param.clone());
                report.version = existing.map(|e| e.version).unwrap_or_default();
            }
            Ok((existing, Some(version))) => {
                undo.push((param.clone(), existing));
                report.written.push(param.clone());
                report.version = version;
            }
            Err(e) => return Err(rollback(p, allow_advanced, name, param, undo, e).await),
        }
    }
    // Secrets the definition no longer has (a password removed, or switched to a referenced parameter).
    let keep: BTreeSet<&str> = plan.iter().map(|(n, _, _)| n.as_str()).collect();
    let secrets_path = format!("{}/secrets", layout.catalog_path(name));
    let stale: Vec<String> = p
        .list(&secrets_path)
        .await?
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| !keep.contains(n.as_str()))
        .collect();
    if !stale.is_empty() {
        p.delete(&stale).await?;
        report.removed = stale;
    }
    Ok(report)
}

async fn rollback(
    p: &dyn Params,
    allow_advanced: bool,
    name: &str,
    failed: &str,
    undo: Vec<(String, Option<Param>)>,
    cause: Error,
) -> Error {
    if undo.is_empty() {
        // Nothing was changed: the failure itself is the answer.
        return cause;
    }
    let mut leftovers = Vec::new();
    for (param, previous) in undo.into_iter().rev() {
        let restored = match &previous {
            None => p.delete(std::slice::from_ref(&param)).await,
            Some(prev) => {
                let advanced =
                    needs_advanced(&param, prev.value.expose(), allow_advanced).unwrap_or(true);
                p.put(&param, prev.value.expose(), prev.secure, advanced)
                    .await
                    .map(|_| ())
            }
        };
        if restored.is_err() {
            leftovers.push(param);
        }
    }
    tracing::warn!(catalog = name, parameter = failed, error = %cause, "catalog write failed; rolled back");
    if leftovers.is_empty() {
        Error::RolledBack {
            catalog: name.to_owned(),
            parameter: failed.to_owned(),
            source: Box::new(cause),
        }
    } else {
        Error::RollbackFailed {
            catalog: name.to_owned(),
            leftovers,
            source: Box::new(cause),
        }
    }
}

pub(crate) async fn engine_delete(p: &dyn Params, layout: &Layout, name: &str) -> Result<bool> {
    catalog_name(name)?;
    let spec = layout.spec_parameter(name);
    let existed = p.get(&spec).await?.is_some();
    // The marker first: from here on readers no longer see the catalog.
    if existed {
        p.delete(std::slice::from_ref(&spec)).await?;
    }
    let rest: Vec<String> = p
        .list(&layout.catalog_path(name))
        .await?
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let any_rest = !rest.is_empty();
    if any_rest {
        p.delete(&rest).await?;
    }
    Ok(existed || any_rest)
}

pub(crate) async fn engine_history(
    p: &dyn Params,
    layout: &Layout,
    name: &str,
) -> Result<Vec<CatalogVersion>> {
    catalog_name(name)?;
    let param = layout.spec_parameter(name);
    p.history(&param)
        .await?
        .into_iter()
        .map(|v| {
            Ok(CatalogVersion {
                version: v.version,
                modified_epoch_seconds: v.modified,
                spec: parse_spec(&param, v.value.expose())?,
            })
        })
        .collect()
}

pub(crate) async fn engine_read_secret(p: &dyn Params, parameter: &str) -> Result<SecretValue> {
    match p.get(parameter).await? {
        Some(v) => Ok(v.value),
        None => Err(Error::MissingParameter {
            parameter: parameter.to_owned(),
        }),
    }
}

/// Implements [`CatalogStore`] for a type with `layout`, `allow_advanced` fields and a `params()` method.
macro_rules! catalog_store_via_engine {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::CatalogStore for $ty {
            fn layout(&self) -> &$crate::store::Layout {
                &self.layout
            }
            async fn list(&self) -> $crate::Result<Vec<$crate::store::StoredCatalog>> {
                $crate::store::engine_list(self.params(), &self.layout).await
            }
            async fn get(
                &self,
                name: &str,
            ) -> $crate::Result<Option<$crate::store::StoredCatalog>> {
                $crate::store::engine_get(self.params(), &self.layout, name).await
            }
            async fn put(
                &self,
                name: &str,
                spec: &$crate::CatalogSpec,
                secrets: &$crate::SecretValues,
            ) -> $crate::Result<$crate::store::PutReport> {
                $crate::store::engine_put(
                    self.params(),
                    &self.layout,
                    self.allow_advanced,
                    name,
                    spec,
                    secrets,
                )
                .await
            }
            async fn delete(&self, name: &str) -> $crate::Result<bool> {
                $crate::store::engine_delete(self.params(), &self.layout, name).await
            }
            async fn history(
                &self,
                name: &str,
            ) -> $crate::Result<Vec<$crate::store::CatalogVersion>> {
                $crate::store::engine_history(self.params(), &self.layout, name).await
            }
            async fn read_secret(&self, parameter: &str) -> $crate::Result<$crate::SecretValue> {
                $crate::store::engine_read_secret(self.params(), parameter).await
            }
        }
    };
}
pub(crate) use catalog_store_via_engine;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_paths_and_ecs_secrets() {
        let l = Layout::new("/trino", "lake").unwrap();
        assert_eq!(
            l.spec_parameter("orders"),
            "/trino/lake/catalogs/orders/spec"
        );
        assert_eq!(
            l.secret_parameter("orders", "password"),
            "/trino/lake/catalogs/orders/secrets/password"
        );
        let spec: CatalogSpec = serde_json::from_str(
            r#"{"connector":"generic","connector_name":"x","secret_properties":{
                "a.token":{"env":"A_TOKEN"},"b.key":{"parameter":"/shared/b"}}}"#,
        )
        .unwrap();
        assert_eq!(
            l.ecs_secrets("search", &spec),
            vec![
                EcsSecret {
                    env: "TRINO_CATALOG_SEARCH_A_TOKEN".into(),
                    parameter: "/trino/lake/catalogs/search/secrets/a.token".into()
                },
                EcsSecret {
                    env: "TRINO_CATALOG_SEARCH_B_KEY".into(),
                    parameter: "/shared/b".into()
                },
            ]
        );
        assert_eq!(
            l.ecs_secrets("search", &spec)[1].arn("aws", "eu-west-1", "123456789012"),
            "arn:aws:ssm:eu-west-1:123456789012:parameter/shared/b"
        );
        assert!(Layout::new("trino/", "lake").is_err());
        assert!(Layout::new("/trino", "a/b").is_err());
    }

    #[test]
    fn kms_key_spellings_compare_by_key_id() {
        let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        let arn = format!("arn:aws:kms:eu-west-1:123456789012:key/{id}");
        assert_eq!(kms_key_canonical(&arn), id);
        assert_eq!(kms_key_canonical(id), id);
        assert!(same_kms_key(&arn, id));
        assert!(same_kms_key(id, &arn));
        assert!(same_kms_key(
            &format!("arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/{id}"),
            &arn
        ));
        assert!(same_kms_key(
            "arn:aws:kms:eu-west-1:123456789012:alias/trino",
            "alias/trino"
        ));
        assert!(same_kms_key(DEFAULT_KEY, "alias/aws/ssm"));
        assert!(same_kms_key(
            "mrk-1234abcd",
            "arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd"
        ));
        // Different keys, and spellings that cannot be compared without KMS, differ.
        assert!(!same_kms_key(
            &arn,
            "arn:aws:kms:eu-west-1:123456789012:key/other"
        ));
        assert!(!same_kms_key("alias/trino", id));
        assert!(!same_kms_key("alias/trino", "alias/other"));
        assert!(!same_kms_key(DEFAULT_KEY, id));
    }

    #[test]
    fn tiers() {
        assert!(!needs_advanced("p", &"x".repeat(4096), false).unwrap());
        assert!(needs_advanced("p", &"x".repeat(4097), true).unwrap());
        let e = needs_advanced("p", &"x".repeat(4097), false)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "parameter p is 4097 bytes, over the 4096-byte limit of the standard tier"
        );
        assert!(needs_advanced("p", &"x".repeat(8193), true).is_err());
    }
}
