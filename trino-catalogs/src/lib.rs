//! Typed Trino catalogs, rendered to `.properties` and kept in SSM Parameter Store.
#![deny(missing_docs)]

pub mod spec;

pub use spec::{CatalogSpec, SecretRef};
