//! S3 cost control for the lake: lifecycle and Intelligent-Tiering policies chosen from real access.
//!
//! - [`policy`]: the S3 lifecycle + Intelligent-Tiering model in AWS's own JSON shape.
//! - [`validate`]: AWS's real rules, checked client-side (the emulator accepts anything).
//!
//! ```
//! use lake_lifecycle::policy::PolicyDocument;
//! let doc = PolicyDocument::from_json("inline", r#"{"Rules":[{"ID":"ia","Filter":{"Prefix":"logs/"},
//!     "Status":"Enabled","Transitions":[{"Days":7,"StorageClass":"STANDARD_IA"}]}]}"#).unwrap();
//! let problems = lake_lifecycle::validate::validate(&doc);
//! assert_eq!(problems[0].field, "Transitions[0].Days");
//! ```
#![deny(missing_docs)]

pub mod error;
pub mod plan;
pub mod policy;
pub mod validate;

pub use error::{Error, Result};
pub mod bench;
pub mod classify;
pub mod cost;
pub mod evidence;
pub mod glue;
pub mod recommend;
pub mod s3;
pub mod store;
pub mod trace;
