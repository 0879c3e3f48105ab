//! Typed catalog definitions, as written in the lake config (`[catalogs.<name>]`) and kept in the store.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
