//! Async client for Trino's REST protocol.
//!
//! This crate has no AWS dependency: any Rust service can import it to query a Trino coordinator.
//!
//! - [`Client`] holds one Trino session: the `X-Trino-*` request headers ([`Session`]) and every
//!   state-changing response header (`SET SESSION`, `USE`, `PREPARE`, transactions, roles, `SET SESSION
//!   AUTHORIZATION`) so consecutive statements behave as in one CLI session.
//! - [`Client::execute`] returns a [`QueryStream`] of typed [`Row`]s with bounded memory: a background task
//!   follows `nextUri`, decodes pages on a blocking thread while fetching the next one, and for the spooling
//!   protocol (`json+zstd`, `json+lz4`, `json`; inline and spooled segments) downloads segments concurrently
//!   (bounded), checks their sizes, decodes them in batches, yields rows in order and acknowledges each one.
//!   Whenever a heartbeat interval (30 s, [`ClientBuilder::heartbeat_interval`]) passes without contact with
//!   the coordinator, because the consumer or segment downloads are slow, the task sends `HEAD nextUri`.
//!   Dropping the stream, [`QueryStream::cancel`], the query timeout or the first error the stream yields
//!   cancel the query (`DELETE nextUri`).
//! - Values decode straight from the JSON bytes into [`Value`] using the column's Trino type (decimals
//!   exact, all date/time kinds with precision and zones, intervals, varbinary, uuid, ipaddress, json,
//!   arrays, maps, rows, NaN/Infinity), or into your own types with [`Row::deserialize`] /
//!   [`Client::query_as`].
//! - Failures: 502/503/504 and broken connections are retried with exponential backoff and jitter, 429
//!   after `Retry-After`, an empty 200 body is re-requested; a `POST` that may have been accepted is never
//!   re-sent. [`Error`] tells query failures (Trino's name, type, location, message) from HTTP, protocol
//!   (with the line and column of the offending byte), decode (a value that does not fit its column type,
//!   with its position), timeout and cancellation. Segment metadata is checked before use (sizes, an
//!   `uncompressedSize` of at most 1 GiB).
//! - Auth: Basic and JWT (refused over plain HTTP unless allowed), OAuth2 external authentication with a
//!   pluggable [`RedirectHandler`], extra CA certificates or (tests only) no certificate checks, rustls.
//! - [`Client::info`], [`Client::state`] and [`Client::set_state`] serve the ops code (`/v1/info`,
//!   graceful shutdown through `/v1/info/state`).
//! - Feature `replay`: [`replay::ReplayServer`], a scripted coordinator serving real Trino bodies, for tests
//!   and benchmarks.
//!
//! ```
//! # #[cfg(feature = "replay")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use futures::StreamExt as _;
//! use trino_client::{Client, Value};
//! # use trino_client::replay::{ReplayServer, Script, sample};
//! # let server = ReplayServer::start().await?;
//! # server.add_query("SELECT * FROM system.runtime.nodes", Script::new()
//! #     .page(sample("python-client__conftest__sample_post_response_data.json"))
//! #     .page(sample("python-client__conftest__sample_get_response_data.json")));
//! # let url = server.url();
//!
//! let client = Client::builder(url).user("analyst").catalog("system").build()?;
//! let mut rows = client.execute("SELECT * FROM system.runtime.nodes").await?;
//! while let Some(row) = rows.next().await {
//!     let row = row?;
//!     assert!(matches!(row.get_by_name("coordinator"), Some(Value::Boolean(_))));
//! }
//!
//! #[derive(serde::Deserialize)]
//! struct Node { node_id: String, coordinator: bool }
//! let nodes: Vec<Node> = client.query_as("SELECT * FROM system.runtime.nodes").await?;
//! assert_eq!(nodes.len(), 3);
//! assert!(!nodes[0].coordinator && nodes[0].node_id == "UUID-0");
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "replay"))]
//! # fn main() {}
//! ```
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
pub use value::{Columns, Decimal, Row, RowValue, Value};
