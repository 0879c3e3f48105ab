//! Usage reports computed from query events, one event at a time, in memory bounded by the number of
//! distinct users, sources, tables and days (never by the number of queries). Pure: no IO.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use hdrhistogram::Histogram;
use serde::Serialize;

use super::model::{QueryEvent, TimeWindow};

/// The complete usage report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageReport {
    /// The days the report covers.
    pub window: TimeWindow,
    /// Completed queries in the window.
    pub total_queries: u64,
    /// Of which failed.
    pub failed_queries: u64,
    /// `failed_queries / total_queries` (0 when there are none).
    pub failure_rate: f64,
    /// Distinct users.
    pub distinct_users: u64,
    /// Queries per day (UTC, from the query id).
    pub per_day: Vec<DayUsage>,
    /// The users with the most queries.
    pub top_users: Vec<Ranked>,
    /// The client sources with the most queries (`(none)` when a client sent none).
    pub top_sources: Vec<Ranked>,
    /// Every catalog any query read, by queries.
    pub catalogs: Vec<CatalogUsage>,
    /// The most read tables.
    pub top_tables: Vec<TableAccess>,
    /// Failures by Trino's error type.
    pub failures_by_type: Vec<Counted>,
    /// The most frequent error names.
    pub top_error_codes: Vec<Counted>,
    /// Wall-time percentiles in milliseconds.
    pub wall_time_millis: Percentiles,
    /// Queued-time percentiles in milliseconds.
    pub queued_time_millis: Percentiles,
    /// Bytes read from all data sources.
    pub bytes_scanned: u64,
    /// Rows read from all data sources.
    pub rows_scanned: u64,
    /// CPU time of all queries, in milliseconds.
    pub cpu_time_millis: u64,
    /// The slowest queries by wall time.
    pub slowest: Vec<SlowQuery>,
    /// Share of the queries that read at least one table, per data source kind (the connector behind each
    /// catalog, e.g. `iceberg`, `redshift`): the evidence of where exploratory load runs.
    pub data_source_share: Vec<Share>,
    /// Rows of the window left out of every figure above because they could not be decoded (an
    /// `inputs_json` that is not the expected JSON array). Non-zero means the report is partial.
    pub skipped_rows: u64,
    /// The first few skipped rows (at most the ranking size), to find them in the database.
    pub skipped_examples: Vec<SkippedRow>,
}

/// A row of `trino_queries` the reader could not use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedRow {
    /// The row's query id.
    pub query_id: String,
    /// What is wrong with it.
    pub reason: String,
}

/// One day's queries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayUsage {
    /// The UTC day.
    pub day: NaiveDate,
    /// Completed queries.
    pub queries: u64,
    /// Of which failed.
    pub failed: u64,
    /// Distinct users that day.
    pub users: u64,
}

/// A user or source with its query count and cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ranked {
    /// The user or source.
    pub name: String,
    /// Completed queries.
    pub queries: u64,
    /// Of which failed.
    pub failed: u64,
    /// Total wall time in milliseconds.
    pub wall_time_millis: u64,
    /// Bytes read.
    pub bytes_scanned: u64,
}

/// A catalog's use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogUsage {
    /// The catalog.
    pub catalog: String,
    /// The connector behind it, when the lake config names the catalog.
    pub connector: Option<String>,
    /// Queries that read at least one of its tables.
    pub queries: u64,
    /// `queries` / queries that read any table.
    pub share: f64,
    /// Bytes read from it (as reported per input table).
    pub bytes_scanned: u64,
}

/// A table's access, the evidence the lifecycle classifier consumes (lake-lifecycle's type, so what
/// `events table-access` writes is exactly what `lifecycle analyze --table-access` reads).
pub use lake_lifecycle::evidence::TableAccess;

/// A name and how often it occurred.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Counted {
    /// The error type or name.
    pub name: String,
    /// Occurrences.
    pub count: u64,
    /// `count` / all completed queries.
    pub share_of_queries: f64,
}

/// A share of queries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Share {
    /// The data source kind (connector) or catalog.
    pub name: String,
    /// Queries that read from it.
    pub queries: u64,
    /// `queries` / queries that read any table (a query reading two kinds counts for both).
    pub share: f64,
}

/// Nearest-rank percentiles (within 0.1 %: values are kept in a 3-significant-digit histogram).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Maximum (exact).
    pub max: u64,
}

/// One of the slowest queries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SlowQuery {
    /// Wall time in milliseconds.
    pub wall_time_millis: u64,
    /// The query id.
    pub query_id: String,
    /// The user.
    pub user: String,
    /// `FINISHED` or `FAILED`.
    pub query_state: String,
    /// The start of the SQL text.
    pub query_head: String,
}

#[derive(Default)]
struct Acc {
    queries: u64,
    failed: u64,
    wall: u64,
    bytes: u64,
}

#[derive(Default)]
struct DayAcc {
    queries: u64,
    failed: u64,
    users: HashSet<String>,
}

#[derive(Default)]
struct TableAcc {
    queries: u64,
    bytes: u64,
    days: BTreeSet<NaiveDate>,
    first: Option<NaiveDateTime>,
    last: Option<NaiveDateTime>,
}

/// A histogram of milliseconds up to about 35 years, at 3 significant digits (a fixed ~100 KB).
fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_max(1 << 40, 3)
        .expect("1..2^40 at 3 significant digits is a valid histogram range")
}

/// Accumulates query events into a [`UsageReport`].
pub struct ReportBuilder {
    window: TimeWindow,
    top: usize,
    connectors: BTreeMap<String, String>,
    total: u64,
    failed: u64,
    with_inputs: u64,
    days: BTreeMap<NaiveDate, DayAcc>,
    users: HashMap<String, Acc>,
    sources: HashMap<String, Acc>,
    catalogs: HashMap<String, (u64, u64)>,
    kinds: HashMap<String, u64>,
    tables: HashMap<(String, String, String), TableAcc>,
    error_types: HashMap<String, u64>,
    error_codes: HashMap<String, u64>,
    wall: Histogram<u64>,
    queued: Histogram<u64>,
    max_wall: u64,
    max_queued: u64,
    bytes: u64,
    rows: u64,
    cpu: u64,
    slowest: BinaryHeap<Reverse<SlowQuery>>,
    skipped: u64,
    skipped_examples: Vec<SkippedRow>,
}

impl ReportBuilder {
    /// A builder for `window`, keeping the `top` entries of each ranking. `connectors` maps catalog names to
    /// their connector (from the lake config) so data-source shares can be reported per kind; catalogs it
    /// does not name are reported under their own name.
    pub fn new(window: TimeWindow, top: usize, connectors: BTreeMap<String, String>) -> Self {
        Self {
            window,
            top: top.max(1),
            connectors,
            total: 0,
            failed: 0,
            with_inputs: 0,
            days: BTreeMap::new(),
            users: HashMap::new(),
            sources: HashMap::new(),
            catalogs: HashMap::new(),
            kinds: HashMap::new(),
            tables: HashMap::new(),
            error_types: HashMap::new(),
            error_codes: HashMap::new(),
            wall: latency_histogram(),
            queued: latency_histogram(),
            max_wall: 0,
            max_queued: 0,
            bytes: 0,
            rows: 0,
            cpu: 0,
            slowest: BinaryHeap::new(),
            skipped: 0,
            skipped_examples: Vec::new(),
        }
    }

    /// Records a row of the window that could not be decoded: it is counted, kept as an example while there
    /// is room, and left out of every other figure.
    pub fn skip(&mut self, row: SkippedRow) {
        self.skipped += 1;
        if self.skipped_examples.len() < self.top {
            self.skipped_examples.push(row);
        }
    }

    /// Adds one completed query.
    pub fn add(&mut self, event: &QueryEvent) {
        let failed = event.failed();
        self.total += 1;
        self.failed += u64::from(failed);
        self.bytes += event.physical_input_bytes;
        self.rows += event.physical_input_rows;
        self.cpu += event.cpu_time_millis;
        self.wall.saturating_record(event.wall_time_millis);
        self.queued.saturating_record(event.queued_time_millis);
        self.max_wall = self.max_wall.max(event.wall_time_millis);
        self.max_queued = self.max_queued.max(event.queued_time_millis);

        let created = event.created_at();
        if let Some(created) = created {
            let day = self.days.entry(created.date()).or_default();
            day.queries += 1;
            day.failed += u64::from(failed);
            if !day.users.contains(&event.user) {
                day.users.insert(event.user.clone());
            }
        }
        let bump = |acc: &mut Acc| {
            acc.queries += 1;
            acc.failed += u64::from(failed);
            acc.wall += event.wall_time_millis;
            acc.bytes += event.physical_input_bytes;
        };
        bump(self.users.entry(event.user.clone()).or_default());
        let source = event.source.clone().unwrap_or_else(|| "(none)".to_owned());
        bump(self.sources.entry(source).or_default());

        if failed {
            let kind = event
                .error_type
                .clone()
                .unwrap_or_else(|| "(unknown)".to_owned());
            *self.error_types.entry(kind).or_default() += 1;
            if let Some(code) = &event.error_code {
                *self.error_codes.entry(code.clone()).or_default() += 1;
            }
        }

        if !event.inputs.is_empty() {
            self.with_inputs += 1;
        }
        let mut seen_catalogs = HashSet::new();
        let mut seen_kinds = HashSet::new();
        let mut seen_tables = HashSet::new();
        for input in &event.inputs {
            let bytes = input.physical_input_bytes.unwrap_or(0);
            let catalog = self.catalogs.entry(input.catalog_name.clone()).or_default();
            catalog.1 += bytes;
            if seen_catalogs.insert(input.catalog_name.as_str()) {
                catalog.0 += 1;
                let kind = self
                    .connectors
                    .get(&input.catalog_name)
                    .unwrap_or(&input.catalog_name);
                if seen_kinds.insert(kind.clone()) {
                    *self.kinds.entry(kind.clone()).or_default() += 1;
                }
            }
            let key = (
                input.catalog_name.clone(),
                input.schema.clone(),
                input.table.clone(),
            );
            let first_in_query = seen_tables.insert(key.clone());
            let table = self.tables.entry(key).or_default();
            table.bytes += bytes;
            if first_in_query {
                table.queries += 1;
                if let Some(created) = created {
                    table.days.insert(created.date());
                    table.first = Some(table.first.map_or(created, |f| f.min(created)));
                    table.last = Some(table.last.map_or(created, |l| l.max(created)));
                }
            }
        }

        let slow = SlowQuery {
            wall_time_millis: event.wall_time_millis,
            query_id: event.query_id.clone(),
            user: event.user.clone(),
            query_state: event.query_state.clone(),
            query_head: event.query_head.clone(),
        };
        if self.slowest.len() < self.top {
            self.slowest.push(Reverse(slow));
        } else if self.slowest.peek().is_some_and(|Reverse(min)| slow > *min) {
            self.slowest.pop();
            self.slowest.push(Reverse(slow));
        }
    }

    /// The table-level access of every table read in the window, most read first.
    pub fn table_access(&self) -> Vec<TableAccess> {
        let mut out: Vec<TableAccess> = self
            .tables
            .iter()
            .map(|((catalog, schema, table), acc)| TableAccess {
                catalog: catalog.clone(),
                schema: schema.clone(),
                table: table.clone(),
                queries: acc.queries,
                days_accessed: acc.days.len() as u64,
                first_access: acc.first,
                last_access: acc.last,
                bytes_scanned: acc.bytes,
            })
            .collect();
        out.sort_by(|a, b| {
            b.queries.cmp(&a.queries).then_with(|| {
                (&a.catalog, &a.schema, &a.table).cmp(&(&b.catalog, &b.schema, &b.table))
            })
        });
        out
    }

    /// The finished report.
    pub fn finish(self) -> UsageReport {
        let ratio = |n: u64, d: u64| if d == 0 { 0.0 } else { n as f64 / d as f64 };
        let ranked = |map: &HashMap<String, Acc>| {
            let mut v: Vec<Ranked> = map
                .iter()
                .map(|(name, a)| Ranked {
                    name: name.clone(),
                    queries: a.queries,
                    failed: a.failed,
                    wall_time_millis: a.wall,
                    bytes_scanned: a.bytes,
                })
                .collect();
            v.sort_by(|a, b| b.queries.cmp(&a.queries).then_with(|| a.name.cmp(&b.name)));
            v.truncate(self.top);
            v
        };
        let counted = |map: &HashMap<String, u64>, limit: usize| {
            let mut v: Vec<Counted> = map
                .iter()
                .map(|(name, &count)| Counted {
                    name: name.clone(),
                    count,
                    share_of_queries: ratio(count, self.total),
                })
                .collect();
            v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
            v.truncate(limit);
            v
        };
        let percentiles = |h: &Histogram<u64>, max: u64| {
            if h.is_empty() {
                return Percentiles::default();
            }
            // The histogram answers with its bucket's upper bound; the bucket's middle is closer to the
            // recorded value, and no percentile can exceed the exact maximum.
            let at = |q: f64| h.median_equivalent(h.value_at_quantile(q)).min(max);
            Percentiles {
                p50: at(0.50),
                p95: at(0.95),
                p99: at(0.99),
                max,
            }
        };
        let mut catalogs: Vec<CatalogUsage> = self
            .catalogs
            .iter()
            .map(|(catalog, &(queries, bytes))| CatalogUsage {
                catalog: catalog.clone(),
                connector: self.connectors.get(catalog).cloned(),
                queries,
                share: ratio(queries, self.with_inputs),
                bytes_scanned: bytes,
            })
            .collect();
        catalogs.sort_by(|a, b| {
            b.queries
                .cmp(&a.queries)
                .then_with(|| a.catalog.cmp(&b.catalog))
        });
        let mut data_source_share: Vec<Share> = self
            .kinds
            .iter()
            .map(|(name, &queries)| Share {
                name: name.clone(),
                queries,
                share: ratio(queries, self.with_inputs),
            })
            .collect();
        data_source_share
            .sort_by(|a, b| b.queries.cmp(&a.queries).then_with(|| a.name.cmp(&b.name)));
        let mut top_tables = self.table_access();
        top_tables.truncate(self.top);
        let mut slowest: Vec<SlowQuery> = self.slowest.iter().map(|Reverse(s)| s.clone()).collect();
        slowest.sort_by(|a, b| b.cmp(a));
        let distinct_users = self.users.len() as u64;
        UsageReport {
            window: self.window,
            total_queries: self.total,
            failed_queries: self.failed,
            failure_rate: ratio(self.failed, self.total),
            distinct_users,
            per_day: self
                .days
                .iter()
                .map(|(day, acc)| DayUsage {
                    day: *day,
                    queries: acc.queries,
                    failed: acc.failed,
                    users: acc.users.len() as u64,
                })
                .collect(),
            top_users: ranked(&self.users),
            top_sources: ranked(&self.sources),
            catalogs,
            top_tables,
            failures_by_type: counted(&self.error_types, usize::MAX),
            top_error_codes: counted(&self.error_codes, self.top),
            wall_time_millis: percentiles(&self.wall, self.max_wall),
            queued_time_millis: percentiles(&self.queued, self.max_queued),
            bytes_scanned: self.bytes,
            rows_scanned: self.rows,
            cpu_time_millis: self.cpu,
            slowest,
            data_source_share,
            skipped_rows: self.skipped,
            skipped_examples: self.skipped_examples,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::model::InputTable;

    fn event(
        id: &str,
        user: &str,
        wall: u64,
        inputs: &[(&str, &str, &str, u64)],
        error: Option<&str>,
    ) -> QueryEvent {
        QueryEvent {
            query_id: id.to_owned(),
            query_state: if error.is_some() {
                "FAILED"
            } else {
                "FINISHED"
            }
            .to_owned(),
            user: user.to_owned(),
            source: Some("trino-cli".to_owned()),
            catalog: None,
            schema: None,
            query_type: Some("SELECT".to_owned()),
            inputs: inputs
                .iter()
                .map(|(c, s, t, b)| InputTable {
                    catalog_name: (*c).to_owned(),
                    schema: (*s).to_owned(),
                    table: (*t).to_owned(),
                    physical_input_bytes: Some(*b),
                    physical_input_rows: None,
                })
                .collect(),
            error_code: error.map(str::to_owned),
            error_type: error.map(|_| "USER_ERROR".to_owned()),
            wall_time_millis: wall,
            queued_time_millis: 1,
            cpu_time_millis: wall / 2,
            physical_input_bytes: inputs.iter().map(|i| i.3).sum(),
            physical_input_rows: 0,
            output_rows: 0,
            peak_memory_bytes: 0,
            query_head: "SELECT 1".to_owned(),
        }
    }

    #[test]
    fn a_join_across_catalogs_counts_once_per_catalog_and_table() {
        let connectors = BTreeMap::from([
            ("lake".to_owned(), "iceberg".to_owned()),
            ("dw".to_owned(), "redshift".to_owned()),
        ]);
        let mut b = ReportBuilder::new(TimeWindow::default(), 5, connectors);
        b.add(&event(
            "20240501_100000_00000_a",
            "ana",
            100,
            &[
                ("lake", "s", "t", 10),
                ("lake", "s", "t", 5),
                ("dw", "x", "y", 7),
            ],
            None,
        ));
        b.add(&event(
            "20240502_100000_00001_a",
            "bob",
            300,
            &[("lake", "s", "u", 1)],
            Some("TABLE_NOT_FOUND"),
        ));
        b.add(&event("20240502_110000_00002_a", "bob", 200, &[], None));
        let access = b.table_access();
        let t = access.iter().find(|a| a.table == "t").unwrap();
        assert_eq!((t.queries, t.bytes_scanned, t.days_accessed), (1, 15, 1));
        let r = b.finish();
        assert_eq!(
            (r.total_queries, r.failed_queries, r.distinct_users),
            (3, 1, 2)
        );
        assert_eq!(r.per_day.len(), 2);
        assert_eq!(
            (
                r.per_day[1].queries,
                r.per_day[1].failed,
                r.per_day[1].users
            ),
            (2, 1, 1)
        );
        let lake = r.catalogs.iter().find(|c| c.catalog == "lake").unwrap();
        assert_eq!(
            (lake.queries, lake.bytes_scanned, lake.connector.as_deref()),
            (2, 16, Some("iceberg"))
        );
        assert_eq!(lake.share, 1.0);
        let redshift = r
            .data_source_share
            .iter()
            .find(|s| s.name == "redshift")
            .unwrap();
        assert_eq!((redshift.queries, redshift.share), (1, 0.5));
        assert_eq!(r.top_users[0].name, "bob");
        assert_eq!(r.failures_by_type[0].name, "USER_ERROR");
        assert_eq!(r.top_error_codes[0].name, "TABLE_NOT_FOUND");
        assert_eq!(
            r.slowest
                .iter()
                .map(|s| s.wall_time_millis)
                .collect::<Vec<_>>(),
            [300, 200, 100]
        );
        assert_eq!(r.wall_time_millis.max, 300);
        assert_eq!(r.wall_time_millis.p50, 200);
    }

    #[test]
    fn slowest_keeps_only_the_top_n() {
        let mut b = ReportBuilder::new(TimeWindow::default(), 2, BTreeMap::new());
        for (i, wall) in [5u64, 50, 1, 500, 20].iter().enumerate() {
            b.add(&event(
                &format!("20240501_100000_{i:05}_a"),
                "u",
                *wall,
                &[],
                None,
            ));
        }
        let r = b.finish();
        assert_eq!(
            r.slowest
                .iter()
                .map(|s| s.wall_time_millis)
                .collect::<Vec<_>>(),
            [500, 50]
        );
    }

    #[test]
    fn skipped_rows_are_counted_apart_from_the_figures() {
        let mut b = ReportBuilder::new(TimeWindow::default(), 2, BTreeMap::new());
        b.add(&event(
            "20240501_100000_00000_a",
            "u",
            10,
            &[("lake", "s", "t", 5)],
            None,
        ));
        for i in 1..=3 {
            b.skip(SkippedRow {
                query_id: format!("20240501_100000_{i:05}_a"),
                reason: "bad".to_owned(),
            });
        }
        let r = b.finish();
        assert_eq!((r.total_queries, r.bytes_scanned), (1, 5));
        assert_eq!(r.skipped_rows, 3);
        assert_eq!(
            r.skipped_examples
                .iter()
                .map(|s| s.query_id.as_str())
                .collect::<Vec<_>>(),
            ["20240501_100000_00001_a", "20240501_100000_00002_a"]
        );
    }

    #[test]
    fn empty_report_has_zero_rates() {
        let r = ReportBuilder::new(TimeWindow::default(), 3, BTreeMap::new()).finish();
        assert_eq!(r.total_queries, 0);
        assert_eq!(r.failure_rate, 0.0);
        assert_eq!(r.wall_time_millis, Percentiles::default());
        assert_eq!((r.skipped_rows, r.skipped_examples.len()), (0, 0));
    }
}
