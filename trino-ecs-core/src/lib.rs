//! The core of the lake tools: the lake config file, Trino server configuration, and the ECS plan/apply
//! that runs a Trino coordinator and autoscaled workers.
//!
//! Code map: [`config`] (the lake config file) -> [`render`] (Trino's files, pure) -> [`model`] (the desired
//! ECS/SSM/autoscaling state, pure) -> [`plan`] (desired + observed -> typed actions with a readable diff,
//! pure) -> [`aws`] (the adapter that observes and applies; the only module besides [`drain`]'s ECS fleet that
//! names SDK types) -> [`deploy`] (observe, plan, lock, apply). [`drain`] scales workers in without killing
//! queries; [`live`] talks to the running cluster; [`calls`] counts the AWS calls an adapter sends.
//!
//! Planning is pure, so a plan can be computed and printed from plain values:
//!
//! ```
//! use trino_ecs_core::config::LakeConfig;
//! use trino_ecs_core::model::{self, DeployInputs};
//! use trino_ecs_core::plan::{Observed, plan};
//!
//! let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/local.toml");
//! let config = LakeConfig::load(&path).unwrap();
//! let inputs = DeployInputs {
//!     catalog_files: [("lake".to_owned(), "connector.name=iceberg\n".to_owned())].into(),
//!     ..Default::default()
//! };
//! let desired = model::desired(&config, &inputs).unwrap();
//! let first = plan(&desired, &Observed::default());
//! assert!(first.to_string().contains("+ service lake-local-coordinator"));
//! ```
#![deny(missing_docs)]

pub mod aws;
pub mod calls;
pub mod config;
pub mod demo;
pub mod deploy;
pub mod drain;
pub mod error;
pub mod events;
pub mod lease;
pub mod live;
pub mod model;
pub mod plan;
pub mod render;
pub mod runner;
#[cfg(test)]
mod testutil;

pub use error::{Error, Result};
