//! Async client for Trino's REST protocol.
//!
//! This crate has no AWS dependency: any Rust service can import it to query a Trino coordinator.
#![deny(missing_docs)]
