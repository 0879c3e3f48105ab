//! The crate's one error type.

use std::time::Duration;

/// Where in a SQL text Trino located an error (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorLocation {
    /// Line number, starting at 1.
    pub line_number: u32,
    /// Column number, starting at 1.
    pub column_number: u32,
}

/// What went wrong. Variants are the cases a caller can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client was configured wrongly (bad URL, auth over plain HTTP, unreadable CA, ...).
    #[error("invalid client configuration: {field}: {reason}")]
    InvalidConfig {
        /// The builder field or option at fault.
        field: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// Trino ran the query and reported a failure.
    #[error("query {query_id} failed: {error_name} ({error_type}){}: {message}", location.map(|l| format!(" at line {}, column {}", l.line_number, l.column_number)).unwrap_or_default())]
    QueryFailed {
        /// Trino's query id.
        query_id: String,
        /// Trino's message.
        message: String,
        /// Trino's error name, e.g. `SYNTAX_ERROR`.
        error_name: String,
        /// Trino's error type, e.g. `USER_ERROR`.
        error_type: String,
        /// Trino's numeric error code.
        error_code: i64,
        /// Where in the SQL the error is, when Trino knows.
        location: Option<ErrorLocation>,
    },
    /// The server answered with an HTTP status the protocol does not allow here (after retries).
    #[error("{method} {uri} returned HTTP {status}: {body}")]
    Http {
        /// The request method.
        method: String,
        /// The request URI (no credentials).
        uri: String,
        /// The status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// The server rejected the credentials (HTTP 401/403).
    #[error("authentication failed at {uri}: HTTP {status}: {body}")]
    Unauthorized {
        /// The request URI.
        uri: String,
        /// 401 or 403.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// The connection failed or broke (after retries where retrying was safe).
    #[error("transport error on {method} {uri}")]
    Transport {
        /// The request method.
        method: String,
        /// The request URI.
        uri: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The response broke the protocol: malformed or truncated JSON, a missing field, a bad segment size.
    #[error("protocol error in {context}: {message}{}", position.map(|(l, c)| format!(" at line {l}, column {c}")).unwrap_or_default())]
    Protocol {
        /// What was being read (e.g. `statement page`, `segment https://...`).
        context: String,
        /// What is wrong.
        message: String,
        /// Line and column of the offending byte, when known.
        position: Option<(usize, usize)>,
    },
    /// A value could not be decoded as its column's declared Trino type (the JSON itself was well formed).
    #[error("cannot decode {value} as {trino_type} in {context}{}: {reason}", position.map(|(l, c)| format!(" at line {l}, column {c}")).unwrap_or_default())]
    Decode {
        /// The Trino type.
        trino_type: String,
        /// The offending value as it appeared (strings quoted; truncated to 64 bytes).
        value: String,
        /// Why.
        reason: String,
        /// What was being decoded (e.g. `data of query ...`, `segment https://...`).
        context: String,
        /// Line and column of the offending value in that JSON, when known.
        position: Option<(usize, usize)>,
    },
    /// The query did not finish within the configured timeout; it was cancelled.
    #[error("query timed out after {0:?} and was cancelled")]
    Timeout(Duration),
    /// The query was cancelled (by the caller or the server).
    #[error("query was cancelled")]
    Cancelled,
    /// Converting rows into a user type failed.
    #[error("cannot deserialize row into the requested type: {0}")]
    Deserialize(String),
}

impl Error {
    pub(crate) fn protocol(context: impl Into<String>, e: &serde_json::Error) -> Self {
        let position = if e.line() > 0 {
            Some((e.line(), e.column()))
        } else {
            None
        };
        Error::Protocol {
            context: context.into(),
            message: e.to_string(),
            position,
        }
    }

    /// Whether this is a query failure reported by Trino (as opposed to transport or client trouble).
    pub fn is_query_failure(&self) -> bool {
        matches!(self, Error::QueryFailed { .. })
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
