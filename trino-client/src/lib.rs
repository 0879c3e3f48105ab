//! Async client for Trino's REST protocol.
//!
//! This crate has no AWS dependency: any Rust service can import it to query a Trino coordinator.
#![deny(missing_docs)]

pub mod error;
pub mod protocol;
pub mod types;
pub mod value;

pub use error::{Error, ErrorLocation, Result};
pub use types::TrinoType;
pub use value::{Columns, Decimal, Row, Value};
