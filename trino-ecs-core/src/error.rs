//! The crate's one error type, and the mapping of AWS SDK errors onto it.

use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Why planning, deploying, scaling or draining failed. Every variant says what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The lake config (or a value derived from it) cannot be deployed.
    #[error("invalid config `{field}`: {reason}")]
    InvalidConfig {
        /// The dotted config key, e.g. `cluster.execution_role_arn`.
        field: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A value the cluster would store is larger than any Parameter Store tier holds. Found while building
    /// the desired state, so nothing is written.
    #[error(
        "parameter {parameter} would be {bytes} bytes, over the {limit}-byte limit of Parameter Store's advanced tier{hint}"
    )]
    ParameterTooLarge {
        /// The parameter.
        parameter: String,
        /// Its value's size.
        bytes: usize,
        /// The largest value a parameter holds.
        limit: usize,
        /// What to do about it (starts with `: ` or is empty).
        hint: &'static str,
    },
    /// An environment variable named by a secret reference is not set.
    #[error("environment variable {var} is not set (named by `{field}`)")]
    MissingEnv {
        /// The variable.
        var: String,
        /// The config key that names it.
        field: String,
    },
    /// An AWS resource does not exist.
    #[error("{operation}: not found: {message}")]
    NotFound {
        /// The AWS operation, e.g. `ecs:DescribeServices`.
        operation: &'static str,
        /// The service's message.
        message: String,
    },
    /// The caller's credentials lack a permission; grant the named action.
    #[error("access denied: the caller may not call {operation}: {message}")]
    AccessDenied {
        /// The AWS operation whose IAM action is missing, e.g. `ssm:PutParameter`.
        operation: &'static str,
        /// The service's message.
        message: String,
    },
    /// AWS throttled the calls even after the SDK's retries; retry later or raise `aws.max_attempts`.
    #[error("{operation}: throttled by AWS after all retries")]
    Throttled {
        /// The AWS operation.
        operation: &'static str,
    },
    /// AWS rejected a request parameter.
    #[error("{operation}: invalid parameter: {message}")]
    InvalidParameter {
        /// The AWS operation.
        operation: &'static str,
        /// The service's message, which names the field.
        message: String,
    },
    /// The endpoint (typically the emulator) does not implement an operation.
    #[error("{operation} is not supported by this endpoint: {message}")]
    Unsupported {
        /// The AWS operation.
        operation: &'static str,
        /// The endpoint's message.
        message: String,
    },
    /// Another deploy holds the cluster's deploy lock.
    #[error(
        "cluster {cluster} is locked by {owner} until {expires_at} (parameter {parameter}); wait, or if that deploy died on another machine, force the unlock (`cargo xtask deploy --force-unlock`)"
    )]
    Locked {
        /// The cluster.
        cluster: String,
        /// Who holds the lock.
        owner: String,
        /// When the lease ends (RFC 3339).
        expires_at: String,
        /// The lock parameter.
        parameter: String,
    },
    /// The catalog store refused or failed to write a catalog; nothing after it was applied.
    #[error("publishing catalog {catalog} failed; nothing after it was applied")]
    Catalog {
        /// The catalog.
        catalog: String,
        /// The store's error.
        #[source]
        source: trino_catalogs::Error,
    },
    /// A Trino node's HTTP API failed or answered something unexpected.
    #[error("trino node {node}: {reason}")]
    Trino {
        /// The node's base URL.
        node: String,
        /// What went wrong.
        reason: String,
    },
    /// A live catalog change failed on the running coordinator; `undo` says whether the changes made before
    /// it were undone (the coordinator then has the catalogs it had).
    #[error("changing catalog {catalog} on the running coordinator failed: {reason}; {undo}")]
    LiveCatalog {
        /// The catalog whose statement failed.
        catalog: String,
        /// Trino's answer.
        reason: String,
        /// What became of the changes made before it.
        undo: String,
        /// Whether every change made before it was undone.
        undone: bool,
    },
    /// A rollback cannot move to what was asked (nothing is changed).
    #[error("rollback: {reason}")]
    Rollback {
        /// Why, and what can be rolled back to instead.
        reason: String,
    },
    /// Waiting for something took longer than allowed.
    #[error("timed out after {seconds} s waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// The limit.
        seconds: u64,
    },
    /// A local process or file the local task runner needs failed.
    #[error("local runner: cannot {what}: {reason}")]
    Local {
        /// What the runner was doing.
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// Any other AWS failure.
    #[error("{operation} failed: {code}: {message}")]
    Aws {
        /// The AWS operation.
        operation: &'static str,
        /// The error code, or `unknown`.
        code: String,
        /// The message.
        message: String,
        /// The SDK error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// Whether trying again later may succeed: throttling, a Trino node or AWS endpoint that failed or was
    /// unreachable. Configuration, permission, validation and not-found errors are not.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Throttled { .. } | Error::Trino { .. } | Error::Aws { .. }
        )
    }
}

/// A result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Maps any SDK error of `operation` (e.g. `ecs:CreateService`) to an actionable [`Error`].
pub(crate) fn aws<E>(operation: &'static str, error: E) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = error.code().unwrap_or("unknown").to_owned();
    let message = error.message().map(str::to_owned).unwrap_or_else(|| {
        // Transport failures carry no metadata: show the chain so "connection refused" is visible.
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(inner) = source {
            text.push_str(": ");
            text.push_str(&inner.to_string());
            source = inner.source();
        }
        text
    });
    classify(operation, &code, message, Box::new(error))
}

fn classify(
    operation: &'static str,
    code: &str,
    message: String,
    source: Box<dyn std::error::Error + Send + Sync>,
) -> Error {
    match code {
        "AccessDeniedException"
        | "AccessDenied"
        | "UnauthorizedOperation"
        | "AccessDeniedFault" => Error::AccessDenied { operation, message },
        "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "RequestLimitExceeded" => Error::Throttled { operation },
        "InvalidParameterException"
        | "ValidationException"
        | "InvalidParameterValue"
        | "InvalidParameterValueException"
        | "InvalidParameterCombination"
        // ECS reports most request validation failures (e.g. a bad task definition) as ClientException.
        | "ClientException"
        | "ValidationError"
        | "HierarchyLevelLimitExceededException" => Error::InvalidParameter { operation, message },
        "NotImplemented" | "UnknownOperationException" | "InvalidAction" => {
            Error::Unsupported { operation, message }
        }
        c if c.contains("NotFound") => Error::NotFound { operation, message },
        _ if message.contains("has not been implemented")
            || message.contains("not yet implemented") =>
        {
            Error::Unsupported { operation, message }
        }
        _ => Error::Aws {
            operation,
            code: code.to_owned(),
            message,
            source,
        },
    }
}

/// `value` as the `i32` the ECS and Application Auto Scaling APIs take; an error naming `field` instead of a
/// count that wraps (`4_500_000_000 as i32` is negative).
pub fn api_count(field: &str, value: u32) -> Result<i32> {
    i32::try_from(value).map_err(|_| Error::InvalidConfig {
        field: field.to_owned(),
        reason: format!("{value} does not fit the API's 32-bit signed count"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed() -> Box<dyn std::error::Error + Send + Sync> {
        "x".into()
    }

    #[test]
    fn codes_map_to_actionable_variants() {
        let e = classify(
            "ssm:PutParameter",
            "AccessDeniedException",
            "no ssm:PutParameter".into(),
            boxed(),
        );
        assert_eq!(
            e.to_string(),
            "access denied: the caller may not call ssm:PutParameter: no ssm:PutParameter"
        );
        assert!(matches!(
            classify("ecs:X", "ThrottlingException", String::new(), boxed()),
            Error::Throttled { .. }
        ));
        assert!(matches!(
            classify("ecs:X", "ClusterNotFoundException", String::new(), boxed()),
            Error::NotFound { .. }
        ));
        let e = classify(
            "ecs:CreateService",
            "InvalidParameterException",
            "subnets can not be empty.".into(),
            boxed(),
        );
        assert_eq!(
            e.to_string(),
            "ecs:CreateService: invalid parameter: subnets can not be empty."
        );
        assert!(matches!(
            classify(
                "ecs:RegisterTaskDefinition",
                "ClientException",
                "Fargate requires task definition to have execution role ARN to support ECR images.".into(),
                boxed()
            ),
            Error::InvalidParameter { .. }
        ));
        assert!(matches!(
            classify("ecs:X", "Boom", String::new(), boxed()),
            Error::Aws { .. }
        ));
    }
}
