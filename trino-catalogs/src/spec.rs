//! Typed catalog definitions, as written in the lake config (`[catalogs.<name>]`) and kept in the store.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where a secret value comes from. Secrets are never written in the lake config itself.
///
/// In TOML: `password = { env = "SALES_DB_PASSWORD" }` (read from the deploying process's environment and
/// published as a SecureString) or `password = { parameter = "/trino/lake/secrets/sales" }` (an existing
/// SecureString parameter).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SecretRef {
    /// The name of an environment variable of the process that publishes the catalog.
    Env(String),
    /// The name of an existing SSM SecureString parameter.
    Parameter(String),
}

/// One catalog: a connector and its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "connector", rename_all = "snake_case", deny_unknown_fields)]
pub enum CatalogSpec {
    /// Iceberg tables in the Glue Data Catalog, data in S3.
    Iceberg(IcebergCatalog),
    /// MySQL or Aurora MySQL.
    Mysql(JdbcCatalog),
    /// PostgreSQL or Aurora PostgreSQL.
    Postgresql(JdbcCatalog),
    /// Amazon Redshift.
    Redshift(RedshiftCatalog),
    /// Google Sheets.
    Gsheets(SheetsCatalog),
    /// Any other connector, as raw properties.
    Generic(GenericCatalog),
}

/// Iceberg on the Glue catalog with an S3 warehouse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IcebergCatalog {
    /// AWS region of Glue and S3.
    pub region: String,
    /// Default warehouse location, `s3://bucket/prefix`.
    pub warehouse: String,
    /// Glue database that must exist (checked by the connectivity probe).
    #[serde(default)]
    pub glue_database: Option<String>,
    /// Glue endpoint override (emulator or VPC endpoint).
    #[serde(default)]
    pub glue_endpoint: Option<String>,
    /// Glue catalog id (account id) when it differs from the caller's.
    #[serde(default)]
    pub catalog_id: Option<String>,
    /// S3 endpoint override.
    #[serde(default)]
    pub s3_endpoint: Option<String>,
    /// Path-style S3 addressing (needed by emulators).
    #[serde(default)]
    pub s3_path_style: bool,
    /// Data file format, `PARQUET` (default), `ORC` or `AVRO`.
    #[serde(default)]
    pub file_format: Option<String>,
    /// Further connector properties, rendered verbatim.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

/// A MySQL or PostgreSQL catalog reached over JDBC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JdbcCatalog {
    /// `jdbc:mysql://host:3306` or `jdbc:postgresql://host:5432/db`.
    pub url: String,
    /// Connection user.
    pub user: String,
    /// Connection password.
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// Further connector properties, rendered verbatim.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

/// A Redshift catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedshiftCatalog {
    /// `jdbc:redshift://host:5439/db`.
    pub url: String,
    /// Connection user.
    pub user: String,
    /// Connection password.
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// S3 location for UNLOAD-based reads.
    #[serde(default)]
    pub unload_location: Option<String>,
    /// IAM role Redshift assumes for UNLOAD.
    #[serde(default)]
    pub unload_iam_role: Option<String>,
    /// Further connector properties, rendered verbatim.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

/// A Google Sheets catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SheetsCatalog {
    /// Base64 service-account JSON key.
    pub credentials_key: SecretRef,
    /// Id of the sheet that maps table names to sheets.
    pub metadata_sheet_id: String,
    /// How long sheet data is cached, e.g. `5m`.
    #[serde(default)]
    pub data_cache_ttl: Option<String>,
    /// Further connector properties, rendered verbatim.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

/// Any connector, as raw properties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericCatalog {
    /// Trino's `connector.name`.
    pub connector_name: String,
    /// Plain properties.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// Properties whose values are secrets.
    #[serde(default)]
    pub secret_properties: BTreeMap<String, SecretRef>,
}

/// One secret field of a catalog: its field name (`password`, `credentials_key`, or a generic property key),
/// the Trino property it feeds, and where its value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretField<'a> {
    /// The field name, used in parameter names (`.../secrets/<field>`) and env var names.
    pub field: String,
    /// The Trino property whose value becomes `${ENV:...}`.
    pub property: String,
    /// Where the value comes from.
    pub source: &'a SecretRef,
}

impl CatalogSpec {
    /// Trino's `connector.name` for this catalog.
    pub fn connector_name(&self) -> &str {
        match self {
            CatalogSpec::Iceberg(_) => "iceberg",
            CatalogSpec::Mysql(_) => "mysql",
            CatalogSpec::Postgresql(_) => "postgresql",
            CatalogSpec::Redshift(_) => "redshift",
            CatalogSpec::Gsheets(_) => "gsheets",
            CatalogSpec::Generic(g) => &g.connector_name,
        }
    }

    /// The secret fields, in a fixed order (typed fields, then generic secret properties by key).
    pub fn secret_fields(&self) -> Vec<SecretField<'_>> {
        let one = |field: &str, property: &str, source| SecretField {
            field: field.to_owned(),
            property: property.to_owned(),
            source,
        };
        match self {
            CatalogSpec::Iceberg(_) => Vec::new(),
            CatalogSpec::Mysql(j) | CatalogSpec::Postgresql(j) => j
                .password
                .iter()
                .map(|p| one("password", "connection-password", p))
                .collect(),
            CatalogSpec::Redshift(r) => r
                .password
                .iter()
                .map(|p| one("password", "connection-password", p))
                .collect(),
            CatalogSpec::Gsheets(s) => vec![one(
                "credentials_key",
                "gsheets.credentials-key",
                &s.credentials_key,
            )],
            CatalogSpec::Generic(g) => g
                .secret_properties
                .iter()
                .map(|(k, v)| one(k, k, v))
                .collect(),
        }
    }

    /// Replaces the source of the secret `field`; false when the catalog has no such secret field.
    pub fn set_secret_source(&mut self, field: &str, source: SecretRef) -> bool {
        let slot = match self {
            CatalogSpec::Iceberg(_) => None,
            CatalogSpec::Mysql(j) | CatalogSpec::Postgresql(j) if field == "password" => {
                j.password.as_mut()
            }
            CatalogSpec::Redshift(r) if field == "password" => r.password.as_mut(),
            CatalogSpec::Gsheets(s) if field == "credentials_key" => Some(&mut s.credentials_key),
            CatalogSpec::Generic(g) => g.secret_properties.get_mut(field),
            _ => None,
        };
        match slot {
            Some(slot) => {
                *slot = source;
                true
            }
            None => false,
        }
    }
}

/// The environment variable a container reads the secret `field` of catalog `catalog` from:
/// `TRINO_CATALOG_<CATALOG>_<FIELD>`, upper-cased, every character other than `A-Z`, `0-9` and `_` turned into `_`.
pub fn secret_env_name(catalog: &str, field: &str) -> String {
    let clean = |s: &str| {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect::<String>()
    };
    format!("TRINO_CATALOG_{}_{}", clean(catalog), clean(field))
}

/// Whether a property key names a secret: it contains `password`, or ends in `secret`, `credentials-key`,
/// `token`, `secret-key` or `access-key` (case-insensitive). `import` lifts such values out of generic
/// catalogs; validation refuses them in a plain `properties` map, where they would be rendered inline.
pub fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("password")
        || [
            "secret",
            "credentials-key",
            "token",
            "secret-key",
            "access-key",
            "api-key",
            "apikey",
            "private-key",
        ]
        .iter()
        .any(|s| k.ends_with(s))
}

/// A secret value. It never prints: `Debug` shows `SecretValue(***)` and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must send it (a parameter write, a database login).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValue(***)")
    }
}

/// Secret values of one catalog, by secret field name (see [`CatalogSpec::secret_fields`]).
pub type SecretValues = BTreeMap<String, SecretValue>;

/// Reads the values of the catalog's `SecretRef::Env` secrets from the process environment.
///
/// Reads exactly the variables named by the catalog's `{ env = "..." }` secret references. Parameter references
/// are skipped (their values already live in Parameter Store). An unset or empty variable is an error naming it.
pub fn secrets_from_env(catalog: &str, spec: &CatalogSpec) -> Result<SecretValues> {
    secrets_from(catalog, spec, |var| std::env::var(var).ok())
}

/// Like [`secrets_from_env`], with the lookup supplied by the caller (tests, other sources).
pub fn secrets_from(
    catalog: &str,
    spec: &CatalogSpec,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<SecretValues> {
    let mut out = SecretValues::new();
    for f in spec.secret_fields() {
        if let SecretRef::Env(var) = f.source {
            match lookup(var) {
                Some(v) if !v.is_empty() => {
                    out.insert(f.field.clone(), SecretValue::new(v));
                }
                _ => {
                    return Err(Error::MissingSecret {
                        catalog: catalog.to_owned(),
                        field: f.field.clone(),
                        env: var.clone(),
                    });
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_never_print() {
        let v = SecretValue::new("hunter2");
        assert_eq!(format!("{v:?}"), "SecretValue(***)");
        let mut m = SecretValues::new();
        m.insert("password".into(), v);
        assert!(!format!("{m:?}").contains("hunter2"));
    }

    #[test]
    fn env_names_are_deterministic_and_valid() {
        assert_eq!(
            secret_env_name("orders", "password"),
            "TRINO_CATALOG_ORDERS_PASSWORD"
        );
        assert_eq!(
            secret_env_name("x_1", "auth.token-value"),
            "TRINO_CATALOG_X_1_AUTH_TOKEN_VALUE"
        );
    }

    #[test]
    fn secret_keys_are_recognised() {
        for k in [
            "connection-password",
            "ssl.truststore.password",
            "Keystore-Password-File",
            "gsheets.credentials-key",
            "elasticsearch.auth.token",
            "s3.aws-secret-key",
            "s3.aws-access-key",
            "client-secret",
        ] {
            assert!(looks_secret(k), "{k}");
        }
        for k in [
            "connection-user",
            "connection-url",
            "tokens.limit",
            "s3.region",
        ] {
            assert!(!looks_secret(k), "{k}");
        }
    }

    #[test]
    fn missing_env_secret_names_the_variable() {
        let spec = CatalogSpec::Mysql(JdbcCatalog {
            url: "jdbc:mysql://h:3306".into(),
            user: "u".into(),
            password: Some(SecretRef::Env("NOPE_PW".into())),
            properties: BTreeMap::new(),
        });
        let err = secrets_from("orders", &spec, |_| None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "secret password of catalog \"orders\" needs environment variable NOPE_PW, which is not set or empty"
        );
        let ok = secrets_from("orders", &spec, |v| {
            (v == "NOPE_PW").then(|| "pw".to_owned())
        })
        .unwrap();
        assert_eq!(ok["password"].expose(), "pw");
    }
}
