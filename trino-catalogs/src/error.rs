//! The crate's one error type.

use std::fmt;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A catalog definition breaks a rule; every issue names the field and the offending value.
    #[error("catalog {catalog:?} is invalid: {}", join(issues))]
    Invalid {
        /// The catalog name.
        catalog: String,
        /// What is wrong, one entry per field.
        issues: Vec<Issue>,
    },
    /// An existing `.properties` file could not be turned into a catalog.
    #[error("cannot import {file}: {reason}")]
    Import {
        /// The file (or catalog name) being imported.
        file: String,
        /// Why.
        reason: String,
    },
    /// The catalog does not exist in the store.
    #[error("catalog {catalog:?} not found")]
    NotFound {
        /// The catalog name.
        catalog: String,
    },
    /// A parameter the catalog references does not exist.
    #[error("parameter {parameter} does not exist")]
    MissingParameter {
        /// The parameter name.
        parameter: String,
    },
    /// A secret that must be published has no value (its environment variable is unset or empty).
    #[error(
        "secret {field} of catalog {catalog:?} needs environment variable {env}, which is not set or empty"
    )]
    MissingSecret {
        /// The catalog name.
        catalog: String,
        /// The secret field, e.g. `password`.
        field: String,
        /// The environment variable that should hold it.
        env: String,
    },
    /// A parameter value does not fit the Parameter Store tier it would need.
    #[error(
        "parameter {parameter} is {bytes} bytes, over the {limit}-byte limit of the {tier} tier"
    )]
    TooLarge {
        /// The parameter name.
        parameter: String,
        /// The value's size in bytes.
        bytes: usize,
        /// The limit that was exceeded.
        limit: usize,
        /// `standard` or `advanced`.
        tier: &'static str,
    },
    /// A stored parameter does not hold what this crate wrote.
    #[error("stored parameter {parameter} is unreadable: {reason}")]
    Corrupt {
        /// The parameter name.
        parameter: String,
        /// Why it cannot be read.
        reason: String,
    },
    /// A catalog write failed part-way; what had been written was rolled back.
    #[error(
        "writing catalog {catalog:?} failed at parameter {parameter}; earlier writes were rolled back"
    )]
    RolledBack {
        /// The catalog name.
        catalog: String,
        /// The parameter whose write failed.
        parameter: String,
        /// The failure.
        #[source]
        source: Box<Error>,
    },
    /// A catalog write failed part-way and rolling back failed too: these parameters need attention.
    #[error("writing catalog {catalog:?} failed and rollback left these parameters changed: {}", leftovers.join(", "))]
    RollbackFailed {
        /// The catalog name.
        catalog: String,
        /// Parameters that could not be restored.
        leftovers: Vec<String>,
        /// The original failure.
        #[source]
        source: Box<Error>,
    },
    /// Parameter Store throttled the request even after the SDK's retries.
    #[error("parameter store throttled {operation}")]
    Throttled {
        /// The SSM operation.
        operation: &'static str,
    },
    /// The caller may not perform the operation (IAM or KMS).
    #[error("access denied to {operation} on {resource}")]
    AccessDenied {
        /// The SSM operation.
        operation: &'static str,
        /// The parameter or path.
        resource: String,
    },
    /// Any other AWS failure.
    #[error("aws {operation} failed on {resource}")]
    Aws {
        /// The operation, e.g. `ssm:PutParameter`.
        operation: &'static str,
        /// The parameter, path or resource.
        resource: String,
        /// The SDK error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A connectivity probe failed.
    #[error("probe of catalog {catalog:?} failed: {failure}")]
    Probe {
        /// The catalog name.
        catalog: String,
        /// What failed.
        failure: crate::probe::ProbeFailure,
    },
}

/// One problem with one field of a catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// The field, e.g. `url` or `properties."a.b"`.
    pub field: String,
    /// What is wrong, naming the value when it is not secret.
    pub reason: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

fn join(issues: &[Issue]) -> String {
    issues
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// This crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
