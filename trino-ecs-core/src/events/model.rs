//! One completed query as the event log records it, and the time window of a report. Pure: no IO.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

/// One completed (finished or failed) query: the columns of `trino_queries` the reports use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryEvent {
    /// Trino's query id, e.g. `20240515_143022_00001_xyz12`.
    pub query_id: String,
    /// `FINISHED` or `FAILED`.
    pub query_state: String,
    /// The session user.
    pub user: String,
    /// The client's source (`trino-cli`, `superset`, ...), if it sent one.
    pub source: Option<String>,
    /// The session's default catalog.
    pub catalog: Option<String>,
    /// The session's default schema.
    pub schema: Option<String>,
    /// `SELECT`, `INSERT`, `DESCRIBE`, ... when Trino classified the statement.
    pub query_type: Option<String>,
    /// The tables the query read, from `inputs_json`.
    pub inputs: Vec<InputTable>,
    /// Trino's error name, e.g. `TABLE_NOT_FOUND`, for failed queries.
    pub error_code: Option<String>,
    /// `USER_ERROR`, `INTERNAL_ERROR`, `INSUFFICIENT_RESOURCES` or `EXTERNAL`, for failed queries.
    pub error_type: Option<String>,
    /// Wall time in milliseconds.
    pub wall_time_millis: u64,
    /// Time spent queued, in milliseconds.
    pub queued_time_millis: u64,
    /// CPU time in milliseconds.
    pub cpu_time_millis: u64,
    /// Bytes read from the data sources.
    pub physical_input_bytes: u64,
    /// Rows read from the data sources.
    pub physical_input_rows: u64,
    /// Rows returned to the client.
    pub output_rows: u64,
    /// Peak user memory in bytes.
    pub peak_memory_bytes: u64,
    /// The start of the SQL text (the reader truncates it).
    pub query_head: String,
}

/// One table a query read (an element of `inputs_json`).
///
/// Trino documents that this JSON's shape is not guaranteed across versions, so every field but the three
/// names is optional and unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputTable {
    /// The catalog.
    pub catalog_name: String,
    /// The schema.
    pub schema: String,
    /// The table.
    pub table: String,
    /// Bytes read from this table, when the connector reports it.
    #[serde(default)]
    pub physical_input_bytes: Option<u64>,
    /// Rows read from this table, when the connector reports it.
    #[serde(default)]
    pub physical_input_rows: Option<u64>,
}

impl QueryEvent {
    /// Whether the query failed.
    pub fn failed(&self) -> bool {
        self.query_state == "FAILED" || self.error_code.is_some()
    }

    /// When the query was created, from its id (UTC); `None` for an id that is not Trino's.
    pub fn created_at(&self) -> Option<NaiveDateTime> {
        created_at(&self.query_id)
    }
}

/// Parses the creation time (UTC) out of a Trino query id `YYYYMMDD_HHMMSS_...`.
pub fn created_at(query_id: &str) -> Option<NaiveDateTime> {
    let head = query_id.get(..15)?;
    NaiveDateTime::parse_from_str(head, "%Y%m%d_%H%M%S").ok()
}

/// Parses `inputs_json`; `None` when it is not the expected JSON array.
pub fn parse_inputs(json: &str) -> Option<Vec<InputTable>> {
    serde_json::from_str(json).ok()
}

/// Which days a report covers: `since` and `until` are inclusive UTC dates; either may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindow {
    /// The first day, inclusive.
    pub since: Option<NaiveDate>,
    /// The last day, inclusive.
    pub until: Option<NaiveDate>,
}

impl TimeWindow {
    /// The half-open `query_id` range `[lower, upper)` matching this window: query ids start with the
    /// creation date, so a string range on the primary key selects exactly the window's days.
    pub fn query_id_bounds(&self) -> (Option<String>, Option<String>) {
        let lower = self.since.map(|d| d.format("%Y%m%d").to_string());
        let upper = self
            .until
            .and_then(|d| d.succ_opt())
            .map(|d| d.format("%Y%m%d").to_string());
        (lower, upper)
    }

    /// Whether `query_id` falls in this window (what the SQL range selects, for in-memory use).
    pub fn contains(&self, query_id: &str) -> bool {
        let (lower, upper) = self.query_id_bounds();
        lower.is_none_or(|l| query_id >= l.as_str()) && upper.is_none_or(|u| query_id < u.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_time_comes_from_the_query_id() {
        let t = created_at("20240515_143022_00001_xyz12").unwrap();
        assert_eq!(t.to_string(), "2024-05-15 14:30:22");
        assert_eq!(created_at("not-a-query-id"), None);
        assert_eq!(created_at(""), None);
    }

    #[test]
    fn window_bounds_are_a_half_open_id_range() {
        let window = TimeWindow {
            since: NaiveDate::from_ymd_opt(2024, 5, 1),
            until: NaiveDate::from_ymd_opt(2024, 5, 31),
        };
        assert_eq!(
            window.query_id_bounds(),
            (Some("20240501".into()), Some("20240601".into()))
        );
        assert!(window.contains("20240501_000000_00000_aaaaa"));
        assert!(window.contains("20240531_235959_99999_aaaaa"));
        assert!(!window.contains("20240601_000000_00000_aaaaa"));
        assert!(!window.contains("20240430_235959_00000_aaaaa"));
        assert!(TimeWindow::default().contains("anything"));
    }

    #[test]
    fn inputs_json_tolerates_version_differences() {
        let old = r#"[{"catalogName":"lake","schema":"sales","table":"orders","columns":["id","total"],
            "connectorInfo":null,"physicalInputBytes":1024,"physicalInputRows":10}]"#;
        let new = r#"[{"catalogName":"mysql","catalogVersion":"abc","schema":"crm","table":"users",
            "columns":[{"name":"id","type":"bigint"}],"connectorMetrics":{},"physicalInputBytes":null}]"#;
        let a = parse_inputs(old).unwrap();
        assert_eq!(a[0].physical_input_bytes, Some(1024));
        let b = parse_inputs(new).unwrap();
        assert_eq!(
            (b[0].catalog_name.as_str(), b[0].table.as_str()),
            ("mysql", "users")
        );
        assert_eq!(b[0].physical_input_bytes, None);
        assert_eq!(parse_inputs("[]").unwrap().len(), 0);
        assert!(parse_inputs("{broken").is_none());
    }
}
