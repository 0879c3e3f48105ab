//! Async client for Trino's REST protocol.
//!
//! This crate has no AWS dependency: any Rust service can import it to query a Trino coordinator.
#![deny(missing_docs)]

pub mod client;
pub mod error;
pub mod protocol;
#[cfg(feature = "replay")]
pub mod replay;
pub mod session;
pub mod stream;
pub mod types;
pub mod value;

pub use client::{Auth, Client, ClientBuilder, RedirectHandler, RetryPolicy};
pub use error::{Error, ErrorLocation, Result};
pub use session::{Secret, Session};
pub use stream::{QueryResult, QueryStatus, QueryStream};
pub use types::TrinoType;
pub use value::{Columns, Decimal, Row, Value};
