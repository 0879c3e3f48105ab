//! Typed Trino catalogs, rendered to `.properties` and kept in SSM Parameter Store.
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

pub use error::{Error, Issue, Result};
pub use render::{Rendered, SecretEnv, render};
pub use spec::{
    CatalogSpec, SecretRef, SecretValue, SecretValues, secret_env_name, secrets_from_env,
};
pub use validate::{check, check_all, validate};
