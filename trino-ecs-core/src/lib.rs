//! The core of the lake tools: the lake config file, Trino server configuration, and the ECS plan/apply
//! that runs a Trino coordinator and autoscaled workers.
#![deny(missing_docs)]

pub mod aws;
pub mod calls;
pub mod config;
pub mod deploy;
pub mod drain;
pub mod error;
pub mod live;
pub mod model;
pub mod plan;
pub mod render;

pub use error::{Error, Result};
pub mod events;
