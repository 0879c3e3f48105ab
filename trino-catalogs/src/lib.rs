//! Typed Trino catalogs, rendered to `.properties` and kept in SSM Parameter Store.
//!
//! - [`spec`]: the definitions (`[catalogs.<name>]` in the lake config), secret references, redacting
//!   [`SecretValue`], deterministic secret env var names (`TRINO_CATALOG_<NAME>_<FIELD>`).
//! - [`mod@render`]: definition -> `.properties` text for one Trino release ([`TrinoVersion`]), secrets only
//!   as `${ENV:NAME}`. Pure.
//! - [`properties`]: the Java properties escaper (ASCII output, proven against the JDK in
//!   `tests/java_roundtrip.rs`) and reader. Pure.
//! - [`mod@validate`]: names, required settings, JDBC URLs (a MySQL URL names no database, as Trino requires),
//!   regions, S3 URIs, values Trino would trim, no secret-looking keys in plain `properties`. Pure.
//! - [`import`]: existing `.properties` files -> definitions; literal secrets are lifted out. Pure.
//! - [`store`]: the [`store::CatalogStore`] trait, [`store::SsmCatalogStore`] and [`store::MemoryCatalogStore`],
//!   one shared suite ([`store::testsuite`]), the parameter layout and the ECS `secrets[]` mapping.
//! - [`probe`]: connectivity checks with real drivers and the SDK; failures classified.
//!
//! Invariants: no secret value is ever part of a definition, a rendered file, a `Debug`/`Display` output or
//! an error message; only `store::ssm` and `probe::aws` name `aws_sdk_*` types.
//!
//! ```
//! use trino_catalogs::{CatalogSpec, render};
//! let spec: CatalogSpec = toml_like();
//! let r = render("orders", &spec);
//! assert!(r.text.contains("connection-password=${ENV:TRINO_CATALOG_ORDERS_PASSWORD}"));
//! assert_eq!(r.secrets[0].env, "TRINO_CATALOG_ORDERS_PASSWORD");
//! # fn toml_like() -> CatalogSpec {
//! #     serde_json::from_str(r#"{"connector":"mysql","url":"jdbc:mysql://db:3306","user":"ro",
//! #         "password":{"env":"ORDERS_DB_PASSWORD"}}"#).unwrap()
//! # }
//! ```
#![deny(missing_docs)]

pub mod error;
pub mod import;
pub mod probe;
pub mod properties;
pub mod render;
pub mod spec;
pub mod store;
pub mod validate;
pub mod version;

pub use error::{Error, Issue, Result};
pub use render::{Rendered, SecretEnv, render, render_for};
pub use spec::{
    CatalogSpec, SecretRef, SecretValue, SecretValues, secret_env_name, secrets_from_env,
};
pub use validate::{check, check_all, validate};
pub use version::TrinoVersion;
