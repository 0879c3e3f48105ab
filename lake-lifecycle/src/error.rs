//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in this crate, as variants a caller can act on.
///
/// Messages are lowercase without a trailing period; `Display` never includes the source (read it with
/// [`std::error::Error::source`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A policy file could not be read.
    #[error("cannot read policy file {path}")]
    ReadPolicy {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A policy document is not valid JSON of the AWS shape (the message names the field and position).
    #[error("policy {origin} is not an S3 lifecycle/Intelligent-Tiering document: {reason}")]
    ParsePolicy {
        /// The file name, or `<input>`.
        origin: String,
        /// What serde said, with line and column.
        reason: String,
    },
    /// The policy breaks AWS's rules; every violation is listed.
    #[error("policy breaks {} AWS rule(s): {}", .0.len(), summary(.0))]
    InvalidPolicy(Vec<crate::validate::Violation>),
    /// A line of access evidence (server access log, inventory CSV) cannot be parsed.
    #[error("{origin} line {line}: {reason}")]
    ParseEvidence {
        /// Which input (file name or kind).
        origin: String,
        /// 1-based line number.
        line: u64,
        /// What is wrong, naming the field.
        reason: String,
    },
    /// An input value makes no sense (names the field and value).
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The field.
        field: String,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// The bucket or table does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked up.
        what: String,
    },
    /// Applying the plan would delete data (an expiration rule) and the caller did not confirm it.
    #[error(
        "the plan adds or changes expiration in rule(s) {rules}: this deletes data; confirm it explicitly"
    )]
    ExpirationNotConfirmed {
        /// The rule IDs.
        rules: String,
    },
    /// AWS refused the call because of throttling; retry later.
    #[error("aws throttled {operation}")]
    Throttled {
        /// The API operation.
        operation: &'static str,
    },
    /// AWS refused or failed the call.
    #[error("aws {operation} failed: {message}")]
    Aws {
        /// The API operation.
        operation: &'static str,
        /// The service's error code and message.
        message: String,
        /// The SDK error, boxed so no SDK type is named in the public API.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn summary(violations: &[crate::validate::Violation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
