//! Serde models of Trino's client protocol bodies (`QueryResults` and what it contains).
//!
//! Field names follow Trino's `io.trino.client` classes. Unknown fields are ignored so newer servers work.
//! Type-signature parameter kinds are accepted under both the legacy (`LONG_LITERAL`, `TYPE_SIGNATURE`,
//! `NAMED_TYPE_SIGNATURE`) and current (`LONG`, `TYPE`, `NAMED_TYPE`) names.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use crate::error::ErrorLocation;

/// One page of a statement's results: the body of `POST /v1/statement` and of every `GET nextUri`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryResults {
    /// The query id.
    pub id: String,
    /// The web UI page of the query.
    #[serde(default)]
    pub info_uri: Option<String>,
    /// Where to cancel a stage (legacy).
    #[serde(default)]
    pub partial_cancel_uri: Option<String>,
    /// The next page; absent when the query is done.
    #[serde(default)]
    pub next_uri: Option<String>,
    /// The result columns, once known.
    #[serde(default)]
    pub columns: Option<Vec<Column>>,
    /// The rows of this page, as raw JSON: an array of rows (direct protocol) or an object with
    /// segments (spooling protocol). Decode with [`QueryResults::query_data`].
    #[serde(default)]
    pub data: Option<Box<RawValue>>,
    /// Execution statistics.
    #[serde(default)]
    pub stats: Option<StatementStats>,
    /// Present only when the query failed.
    #[serde(default)]
    pub error: Option<QueryError>,
    /// Warnings raised so far.
    #[serde(default)]
    pub warnings: Vec<Warning>,
    /// The kind of update statement (`INSERT`, `CREATE TABLE`, `PREPARE`...), if any.
    #[serde(default)]
    pub update_type: Option<String>,
    /// The number of rows an update statement changed.
    #[serde(default)]
    pub update_count: Option<i64>,
}

/// The `data` field of a page, parsed.
#[derive(Debug, Clone)]
pub enum QueryData {
    /// Direct protocol: rows inline in the page (still raw JSON: an array of arrays).
    Direct(Box<RawValue>),
    /// Spooling protocol: encoded segments.
    Spooled(EncodedQueryData),
}

impl QueryResults {
    /// Like [`QueryResults::query_data`], but moves the rows out instead of copying them.
    pub fn take_query_data(&mut self) -> crate::Result<Option<QueryData>> {
        match self.data.take() {
            Some(raw) if !raw.get().trim_start().starts_with('{') => {
                Ok(Some(QueryData::Direct(raw)))
            }
            other => {
                self.data = other;
                self.query_data()
            }
        }
    }

    /// Parses the `data` field into direct rows or spooled segments.
    pub fn query_data(&self) -> crate::Result<Option<QueryData>> {
        let Some(raw) = &self.data else {
            return Ok(None);
        };
        let text = raw.get();
        if text.trim_start().starts_with('{') {
            let enc: EncodedQueryData = serde_json::from_str(text).map_err(|e| {
                crate::Error::protocol(format!("spooled data of query {}", self.id), &e)
            })?;
            Ok(Some(QueryData::Spooled(enc)))
        } else {
            Ok(Some(QueryData::Direct(raw.clone())))
        }
    }
}

/// One result column.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Column {
    /// The column name.
    pub name: String,
    /// The type as SQL text, e.g. `row(x bigint,y double)`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The parsed type signature.
    #[serde(default)]
    pub type_signature: Option<ClientTypeSignature>,
}

/// A type signature: a raw type and its parameters.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientTypeSignature {
    /// The base type, e.g. `varchar`, `timestamp with time zone`, `row`.
    pub raw_type: String,
    /// The parameters.
    #[serde(default)]
    pub arguments: Vec<ClientTypeSignatureParameter>,
}

/// A parameter of a type signature.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "kind", content = "value")]
pub enum ClientTypeSignatureParameter {
    /// A nested type (array element, map key/value).
    #[serde(rename = "TYPE", alias = "TYPE_SIGNATURE")]
    Type(ClientTypeSignature),
    /// A named row field.
    #[serde(rename = "NAMED_TYPE", alias = "NAMED_TYPE_SIGNATURE")]
    NamedType(NamedTypeSignature),
    /// A number (length, precision, scale).
    #[serde(rename = "LONG", alias = "LONG_LITERAL")]
    Long(i64),
    /// A type variable.
    #[serde(rename = "VARIABLE")]
    Variable(String),
}

/// A row field's name and type.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamedTypeSignature {
    /// The field name; anonymous fields have none.
    #[serde(default)]
    pub field_name: Option<RowFieldName>,
    /// The field type.
    pub type_signature: ClientTypeSignature,
}

/// A row field name.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct RowFieldName {
    /// The name.
    pub name: String,
    /// Whether it was quoted (legacy servers only).
    #[serde(default)]
    pub delimited: bool,
}

/// Statement statistics, as far as the client needs them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StatementStats {
    /// `QUEUED`, `PLANNING`, `STARTING`, `RUNNING`, `FINISHING`, `FINISHED`, `FAILED`. Informational only.
    pub state: String,
    /// Whether the query is queued.
    pub queued: bool,
    /// Whether it is scheduled.
    pub scheduled: bool,
    /// Percentage done, when Trino can estimate it.
    pub progress_percentage: Option<f64>,
    /// Nodes involved.
    pub nodes: u64,
    /// Splits in total.
    pub total_splits: u64,
    /// Splits queued.
    pub queued_splits: u64,
    /// Splits running.
    pub running_splits: u64,
    /// Splits completed.
    pub completed_splits: u64,
    /// CPU time.
    pub cpu_time_millis: u64,
    /// Wall time.
    pub wall_time_millis: u64,
    /// Time queued.
    pub queued_time_millis: u64,
    /// Time since creation.
    pub elapsed_time_millis: u64,
    /// Rows read.
    pub processed_rows: u64,
    /// Bytes read.
    pub processed_bytes: u64,
    /// Physical input bytes.
    pub physical_input_bytes: u64,
    /// Peak memory.
    pub peak_memory_bytes: u64,
    /// Spilled bytes.
    pub spilled_bytes: u64,
}

/// Trino's description of a failure.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryError {
    /// The message.
    pub message: String,
    /// SQL state, if any.
    #[serde(default)]
    pub sql_state: Option<String>,
    /// Numeric code.
    #[serde(default)]
    pub error_code: i64,
    /// Name, e.g. `SYNTAX_ERROR`.
    #[serde(default)]
    pub error_name: String,
    /// Type, e.g. `USER_ERROR`.
    #[serde(default)]
    pub error_type: String,
    /// Where in the SQL.
    #[serde(default)]
    pub error_location: Option<ErrorLocation>,
    /// Java failure details (stack etc.), kept raw.
    #[serde(default)]
    pub failure_info: Option<serde_json::Value>,
}

/// A warning attached to a query.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Warning {
    /// The warning code.
    #[serde(default)]
    pub warning_code: Option<WarningCode>,
    /// The message.
    pub message: String,
}

/// A warning's code.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct WarningCode {
    /// Numeric code.
    pub code: i64,
    /// Name.
    pub name: String,
}

/// Spooling protocol `data`: an encoding and segments.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncodedQueryData {
    /// `json`, `json+zstd` or `json+lz4`.
    pub encoding: String,
    /// Encoding-level metadata.
    #[serde(default)]
    pub metadata: BTreeMap<String, serde_json::Value>,
    /// The segments in row order.
    #[serde(default)]
    pub segments: Vec<Segment>,
}

/// One spooled or inline segment.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Segment {
    /// Rows carried in the page itself, base64 encoded.
    Inline {
        /// The encoded bytes (base64 in JSON).
        data: String,
        /// Sizes and offsets.
        metadata: SegmentMetadata,
    },
    /// Rows stored elsewhere, fetched by URI then acknowledged.
    #[serde(rename_all = "camelCase")]
    Spooled {
        /// Where to download the segment.
        uri: String,
        /// Where to acknowledge it (`GET`).
        ack_uri: String,
        /// Sizes and offsets.
        metadata: SegmentMetadata,
        /// The only headers to send when downloading.
        #[serde(default)]
        headers: BTreeMap<String, Vec<String>>,
    },
}

/// Segment metadata; numbers may arrive as JSON strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentMetadata {
    /// Index of the segment's first row in the result.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub row_offset: u64,
    /// Rows in the segment.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub rows_count: u64,
    /// Encoded size in bytes (as transferred).
    #[serde(default, deserialize_with = "lenient_u64")]
    pub segment_size: u64,
    /// Decompressed size, present only when compressed.
    #[serde(default, deserialize_with = "lenient_opt_u64")]
    pub uncompressed_size: Option<u64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrString {
    Num(u64),
    Str(String),
}

fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    lenient_opt_u64(d).map(Option::unwrap_or_default)
}

fn lenient_opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<NumOrString>::deserialize(d)? {
        None => Ok(None),
        Some(NumOrString::Num(n)) => Ok(Some(n)),
        Some(NumOrString::Str(s)) => s.trim().parse().map(Some).map_err(|_| {
            serde::de::Error::custom(format!(
                "segment metadata number {s:?} is not an unsigned integer"
            ))
        }),
    }
}

/// The body of `GET /v1/info`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    /// Version information.
    pub node_version: NodeVersion,
    /// `node.environment`.
    pub environment: String,
    /// Whether this node is a coordinator.
    pub coordinator: bool,
    /// Whether the node is still starting.
    pub starting: bool,
    /// Uptime as Trino formats it, e.g. `1.50m`.
    #[serde(default)]
    pub uptime: Option<String>,
}

/// Trino's version.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct NodeVersion {
    /// E.g. `480`.
    pub version: String,
}

/// A node state for `/v1/info/state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum NodeState {
    /// Serving.
    Active,
    /// Not serving (deprecated).
    Inactive,
    /// Draining then exiting.
    ShuttingDown,
    /// Draining (newer Trino).
    Draining,
    /// Drained (newer Trino).
    Drained,
    /// Invalid (newer Trino).
    Invalid,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> String {
        let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
    }

    #[test]
    fn parses_every_captured_page() {
        for name in [
            "TestQueryResults__GOLDEN_VALUE.json",
            "python-client__conftest__sample_get_response_data.json",
            "python-client__conftest__sample_get_response_data_none.json",
            "python-client__conftest__sample_post_response_data.json",
            "python-client__conftest__sample_get_error_response_data.json",
            "rust-client__models__query_result_empty.json",
            "rust-client__models__query_result_finished.json",
            "rust-client__models__query_result_finished_prepare.json",
            "rust-client__models__query_result_planning.json",
            "rust-client__models__query_result_queued.json",
            "rust-client__models__query_result_running.json",
        ] {
            let page: QueryResults =
                serde_json::from_str(&sample(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!page.id.is_empty(), "{name}");
        }
    }

    #[test]
    fn error_page_exposes_name_type_location() {
        let page: QueryResults = serde_json::from_str(&sample(
            "python-client__conftest__sample_get_error_response_data.json",
        ))
        .unwrap();
        let err = page.error.unwrap();
        assert_eq!(err.error_name, "SYNTAX_ERROR");
        assert_eq!(err.error_type, "USER_ERROR");
        assert_eq!(
            err.error_location,
            Some(ErrorLocation {
                line_number: 1,
                column_number: 15
            })
        );
        assert_eq!(page.stats.unwrap().state, "FAILED");
    }

    #[test]
    fn legacy_and_current_signature_kinds() {
        let legacy: QueryResults = serde_json::from_str(&sample(
            "python-client__conftest__sample_get_response_data.json",
        ))
        .unwrap();
        let sig = legacy.columns.unwrap()[0].type_signature.clone().unwrap();
        assert_eq!(
            sig.arguments,
            vec![ClientTypeSignatureParameter::Long(2147483647)]
        );
        let row: serde_json::Value =
            serde_json::from_str(&sample("rust-client__types__row.json")).unwrap();
        let cols: Vec<Column> = serde_json::from_value(row["columns"].clone()).unwrap();
        match &cols[0].type_signature.as_ref().unwrap().arguments[0] {
            ClientTypeSignatureParameter::NamedType(n) => {
                assert_eq!(n.field_name.as_ref().unwrap().name, "x");
                assert_eq!(n.type_signature.raw_type, "integer");
            }
            other => panic!("unexpected {other:?}"),
        }
        let current = r#"{"rawType":"array","arguments":[{"kind":"TYPE","value":{"rawType":"bigint","arguments":[]}}]}"#;
        let sig: ClientTypeSignature = serde_json::from_str(current).unwrap();
        assert_eq!(sig.arguments.len(), 1);
    }

    #[test]
    fn spooled_shapes_from_upstream() {
        let data: EncodedQueryData = serde_json::from_str(&sample(
            "TestSpoolingDataSerialization__encodedQueryData.json",
        ))
        .unwrap();
        assert_eq!(data.encoding, "json");
        assert_eq!(data.segments.len(), 2);
        match &data.segments[1] {
            Segment::Spooled {
                uri,
                ack_uri,
                headers,
                metadata,
            } => {
                assert_eq!(uri, "https://download.uri");
                assert_eq!(ack_uri, "https://ack.uri");
                assert_eq!(headers["X-Trino-Header"], vec!["Header-Value".to_string()]);
                assert_eq!(metadata.segment_size, 1000);
            }
            other => panic!("unexpected {other:?}"),
        }
        let inline: Segment =
            serde_json::from_str(&sample("TestSpoolingDataSerialization__inlineSegment.json"))
                .unwrap();
        assert!(matches!(inline, Segment::Inline { .. }));
        let stringly: SegmentMetadata = serde_json::from_str(
            r#"{"rowOffset":"5","rowsCount":"10","segmentSize":"100","uncompressedSize":"400"}"#,
        )
        .unwrap();
        assert_eq!(stringly.uncompressed_size, Some(400));
        assert_eq!(stringly.row_offset, 5);
        let bad = serde_json::from_str::<SegmentMetadata>(r#"{"rowsCount":"ten"}"#).unwrap_err();
        assert!(bad.to_string().contains("ten"), "{bad}");
    }

    #[test]
    fn truncated_page_is_an_error_not_a_panic() {
        let text = sample("rust-client__models__query_result_running.json");
        for cut in [1, 10, text.len() / 2, text.len() - 2] {
            assert!(serde_json::from_str::<QueryResults>(&text[..cut]).is_err());
        }
    }
}
