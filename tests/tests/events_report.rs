//! The event-log report against the real MariaDB: Trino's own `trino_queries` schema, a generated realistic
//! event set, and every figure of the report checked against SQL computed independently by the database.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use mysql_async::prelude::Queryable as _;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use trino_ecs_core::events::{EventLogReader, TimeWindow};

/// `trino_queries` exactly as Trino's MySQL event listener creates it (trinodb/trino,
/// plugin/trino-mysql-event-listener, schema of the flyway baseline), plus one column a later version might
/// add, which the reader must tolerate.
const TRINO_QUERIES_DDL: &str = "CREATE TABLE IF NOT EXISTS trino_queries (
  query_id VARCHAR(255) NOT NULL PRIMARY KEY,
  transaction_id VARCHAR(255) NULL,
  query MEDIUMTEXT NOT NULL,
  update_type VARCHAR(255) NULL,
  prepared_query MEDIUMTEXT NULL,
  query_state VARCHAR(255) NOT NULL,
  plan MEDIUMTEXT NULL,
  stage_info_json MEDIUMTEXT NULL,
  user VARCHAR(255) NOT NULL,
  principal VARCHAR(255) NULL,
  trace_token VARCHAR(255) NULL,
  remote_client_address VARCHAR(255) NULL,
  user_agent VARCHAR(255) NULL,
  client_info VARCHAR(255) NULL,
  client_tags_json MEDIUMTEXT NOT NULL,
  source VARCHAR(255) NULL,
  catalog VARCHAR(255) NULL,
  `schema` VARCHAR(255) NULL,
  resource_group_id VARCHAR(255) NULL,
  session_properties_json MEDIUMTEXT NOT NULL,
  server_address VARCHAR(255) NOT NULL,
  server_version VARCHAR(255) NOT NULL,
  environment VARCHAR(255) NOT NULL,
  query_type VARCHAR(255) NULL,
  inputs_json MEDIUMTEXT NOT NULL,
  output_json MEDIUMTEXT NULL,
  error_code VARCHAR(255) NULL,
  error_type VARCHAR(255) NULL,
  failure_type VARCHAR(255) NULL,
  failure_message MEDIUMTEXT NULL,
  failure_task VARCHAR(255) NULL,
  failure_host VARCHAR(255) NULL,
  failures_json MEDIUMTEXT NULL,
  warnings_json MEDIUMTEXT NOT NULL,
  cpu_time_millis BIGINT NOT NULL,
  failed_cpu_time_millis BIGINT NOT NULL,
  wall_time_millis BIGINT NOT NULL,
  queued_time_millis BIGINT NOT NULL,
  scheduled_time_millis BIGINT NOT NULL,
  failed_scheduled_time_millis BIGINT NOT NULL,
  waiting_time_millis BIGINT NOT NULL,
  analysis_time_millis BIGINT NOT NULL,
  planning_time_millis BIGINT NOT NULL,
  planning_cpu_time_millis BIGINT NOT NULL,
  starting_time_millis BIGINT NOT NULL,
  execution_time_millis BIGINT NOT NULL,
  input_blocked_time_millis BIGINT NOT NULL,
  failed_input_blocked_time_millis BIGINT NOT NULL,
  output_blocked_time_millis BIGINT NOT NULL,
  failed_output_blocked_time_millis BIGINT NOT NULL,
  physical_input_read_time_millis BIGINT NOT NULL,
  peak_memory_bytes BIGINT NOT NULL,
  peak_task_memory_bytes BIGINT NOT NULL,
  physical_input_bytes BIGINT NOT NULL,
  physical_input_rows BIGINT NOT NULL,
  internal_network_bytes BIGINT NOT NULL,
  internal_network_rows BIGINT NOT NULL,
  total_bytes BIGINT NOT NULL,
  total_rows BIGINT NOT NULL,
  output_bytes BIGINT NOT NULL,
  output_rows BIGINT NOT NULL,
  written_bytes BIGINT NOT NULL,
  written_rows BIGINT NOT NULL,
  cumulative_memory DOUBLE NOT NULL,
  failed_cumulative_memory DOUBLE NOT NULL,
  completed_splits BIGINT NOT NULL,
  retry_policy VARCHAR(255) NOT NULL,
  operator_summaries_json MEDIUMTEXT NOT NULL,
  some_future_column VARCHAR(255) NULL
) DEFAULT CHARACTER SET utf8";

const TABLES: &[(&str, &str, &str)] = &[
    ("lake", "sales", "orders"),
    ("lake", "sales", "order_items"),
    ("lake", "web", "events"),
    ("lake", "web", "sessions"),
    ("dw", "finance", "revenue"),
    ("dw", "finance", "ledger"),
    ("shop", "public", "customers"),
    ("crm", "public", "accounts"),
    ("sheets", "default", "targets"),
    ("archive", "sales", "orders_2019"),
];
const SOURCES: &[Option<&str>] = &[
    Some("trino-cli"),
    Some("superset"),
    Some("dbt"),
    Some("jupyter"),
    None,
];
const ERRORS: &[(&str, &str)] = &[
    ("TABLE_NOT_FOUND", "USER_ERROR"),
    ("SYNTAX_ERROR", "USER_ERROR"),
    ("EXCEEDED_LOCAL_MEMORY_LIMIT", "INSUFFICIENT_RESOURCES"),
    ("GENERIC_INTERNAL_ERROR", "INTERNAL_ERROR"),
    ("JDBC_ERROR", "EXTERNAL"),
];
const QUERIES: usize = 4000;

struct Db {
    pool: mysql_async::Pool,
    url: String,
    name: String,
}

async fn fresh_database() -> Db {
    let server = lake_tests::mysql_url();
    let admin = mysql_async::Pool::new(server.as_str());
    let name = lake_tests::unique_name("events").replace('-', "_");
    let mut conn = admin.get_conn().await.expect("connect to MariaDB as root");
    conn.query_drop(format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    drop(conn);
    admin.disconnect().await.unwrap();
    let base = server
        .rsplit_once('/')
        .map_or(server.as_str(), |(base, _)| base)
        .to_owned();
    let pool = mysql_async::Pool::new(format!("{base}/{name}").as_str());
    let url = format!("jdbc:mysql://{}/{name}", lake_tests::mysql_addr());
    Db { pool, url, name }
}

async fn drop_database(db: Db) {
    let mut conn = db.pool.get_conn().await.unwrap();
    conn.query_drop(format!("DROP DATABASE {}", db.name))
        .await
        .unwrap();
    drop(conn);
    db.pool.disconnect().await.unwrap();
}

/// Loads a realistic month: skewed users, several clients, joins across catalogs, ~8 % failures.
async fn load_events(pool: &mysql_async::Pool) {
    let mut conn = pool.get_conn().await.unwrap();
    conn.query_drop(TRINO_QUERIES_DDL).await.unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let start = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    let mut rows = Vec::with_capacity(QUERIES);
    for i in 0..QUERIES {
        let day = start + chrono::Days::new(rng.random_range(0..31));
        let (h, m, s) = (
            rng.random_range(0..24),
            rng.random_range(0..60),
            rng.random_range(0..60),
        );
        let query_id = format!("{}_{h:02}{m:02}{s:02}_{i:05}_abcde", day.format("%Y%m%d"));
        // A few heavy users, a long tail.
        let user = format!(
            "user{:02}",
            (rng.random_range(0.0f64..1.0).powi(3) * 40.0) as u32
        );
        let source = SOURCES[rng.random_range(0..SOURCES.len())];
        let n_inputs = [0, 1, 1, 1, 2, 2, 3][rng.random_range(0..7)];
        let mut inputs = Vec::new();
        let mut bytes_total = 0u64;
        for _ in 0..n_inputs {
            let (c, s, t) = TABLES[rng.random_range(0..TABLES.len())];
            let bytes: u64 = rng.random_range(1_000..50_000_000);
            bytes_total += bytes;
            inputs.push(serde_json::json!({
                "catalogName": c, "schema": s, "table": t, "columns": ["id", "amount"],
                "connectorInfo": null, "physicalInputBytes": bytes, "physicalInputRows": bytes / 100
            }));
        }
        let failed = rng.random_range(0..100) < 8;
        let error = failed.then(|| ERRORS[rng.random_range(0..ERRORS.len())]);
        // Log-normal-ish wall times from 5 ms to minutes.
        let wall = (5.0 * (rng.random_range(0.0f64..10.0)).exp()) as u64;
        let queued = rng.random_range(0..wall.max(1) / 10 + 1);
        rows.push((
            query_id,
            format!(
                "SELECT /* {i} */ * FROM t WHERE x = '{}'",
                "y".repeat(rng.random_range(0..400))
            ),
            if failed { "FAILED" } else { "FINISHED" },
            user,
            source,
            serde_json::Value::Array(inputs).to_string(),
            error,
            wall,
            queued,
            bytes_total,
        ));
    }
    for chunk in rows.chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|(id, query, state, user, source, inputs, error, wall, queued, bytes)| {
                let opt = |v: Option<&str>| v.map_or("NULL".to_owned(), |v| format!("'{v}'"));
                format!(
                    "('{id}', '{}', '{state}', '{user}', {}, '{}', {}, {}, {wall}, {queued}, {}, {bytes}, {}, \
                     '[]', '{{}}', '10.0.0.1', '480', 'production', '[]', 'NONE', '[]', 'SELECT', 'lake', 'default', \
                     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)",
                    query.replace('\'', "''"),
                    opt(*source),
                    inputs.replace('\'', "''"),
                    opt(error.map(|e| e.0)),
                    opt(error.map(|e| e.1)),
                    wall / 2,
                    bytes / 100,
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO trino_queries (query_id, query, query_state, user, source, inputs_json, error_code, error_type, \
             wall_time_millis, queued_time_millis, cpu_time_millis, physical_input_bytes, physical_input_rows, \
             client_tags_json, session_properties_json, server_address, server_version, environment, warnings_json, \
             retry_policy, operator_summaries_json, query_type, catalog, `schema`, \
             failed_cpu_time_millis, scheduled_time_millis, failed_scheduled_time_millis, waiting_time_millis, \
             analysis_time_millis, planning_time_millis, planning_cpu_time_millis, starting_time_millis, \
             execution_time_millis, input_blocked_time_millis, failed_input_blocked_time_millis, \
             output_blocked_time_millis, failed_output_blocked_time_millis, physical_input_read_time_millis, \
             peak_memory_bytes, peak_task_memory_bytes, internal_network_bytes, internal_network_rows, total_bytes, \
             total_rows, output_bytes, output_rows, written_bytes, written_rows, cumulative_memory, \
             failed_cumulative_memory, completed_splits) VALUES {}",
            values.join(", ")
        );
        conn.query_drop(sql).await.unwrap();
    }
}

/// Catalog -> connector as the lake config gives it: two catalogs (`lake`, `archive`) share the `iceberg`
/// connector, and `sheets` is not named at all, so it is reported under its own name.
fn connectors() -> BTreeMap<String, String> {
    [
        ("lake", "iceberg"),
        ("archive", "iceberg"),
        ("dw", "redshift"),
        ("shop", "mysql"),
        ("crm", "postgresql"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect()
}

/// The same mapping as a table, so the database can compute the per-connector shares itself.
async fn load_connectors(conn: &mut mysql_async::Conn) {
    conn.query_drop(
        "CREATE TABLE catalog_connectors (catalog VARCHAR(255) PRIMARY KEY, connector VARCHAR(255) NOT NULL)",
    )
    .await
    .unwrap();
    for (catalog, connector) in connectors() {
        conn.exec_drop(
            "INSERT INTO catalog_connectors VALUES (?, ?)",
            (catalog, connector),
        )
        .await
        .unwrap();
    }
}

/// Adds copies of an existing row under `ids` whose `inputs_json` is not JSON at all.
async fn insert_malformed(conn: &mut mysql_async::Conn, ids: &[&str]) {
    for id in ids {
        conn.query_drop(
            "CREATE TEMPORARY TABLE one_row AS SELECT * FROM trino_queries ORDER BY query_id LIMIT 1",
        )
        .await
        .unwrap();
        conn.exec_drop(
            "UPDATE one_row SET query_id = ?, inputs_json = '{not json'",
            (id,),
        )
        .await
        .unwrap();
        conn.query_drop("INSERT INTO trino_queries SELECT * FROM one_row")
            .await
            .unwrap();
        conn.query_drop("DROP TEMPORARY TABLE one_row")
            .await
            .unwrap();
    }
}

/// The SQL condition selecting `window`'s rows that the report can use (valid `inputs_json`).
fn sql_filter(window: TimeWindow) -> String {
    let day = |d: NaiveDate| d.format("%Y%m%d").to_string();
    let range = match (window.since, window.until) {
        (Some(s), Some(u)) => format!("LEFT(query_id, 8) BETWEEN '{}' AND '{}'", day(s), day(u)),
        (Some(s), None) => format!("LEFT(query_id, 8) >= '{}'", day(s)),
        (None, Some(u)) => format!("LEFT(query_id, 8) <= '{}'", day(u)),
        (None, None) => "1 = 1".to_owned(),
    };
    format!("{range} AND JSON_VALID(inputs_json)")
}

fn close(a: u64, b: u64) -> bool {
    // The report keeps latencies in a 3-significant-digit histogram.
    (a as f64 - b as f64).abs() <= (b as f64 * 0.001).max(1.0)
}

/// Rows just outside the bounded window, on both sides, whose `inputs_json` is not JSON: the report counts
/// every row it decodes but cannot use as skipped, so a windowed report that skips none of them proves the
/// window was applied by the database (a range on `query_id`), not to rows already read.
const OUT_OF_WINDOW_MALFORMED: &[&str] =
    &["20261009_235959_99990_abcde", "20261021_000000_99991_abcde"];

#[tokio::test]
async fn report_matches_sql_computed_by_the_database() {
    let db = fresh_database().await;
    load_events(&db.pool).await;
    let mut conn = db.pool.get_conn().await.unwrap();
    load_connectors(&mut conn).await;
    insert_malformed(&mut conn, OUT_OF_WINDOW_MALFORMED).await;
    let reader = EventLogReader::new(&db.url, "root", None).unwrap();

    for (window, skipped) in [
        (TimeWindow::default(), OUT_OF_WINDOW_MALFORMED.len() as u64),
        (
            TimeWindow {
                since: NaiveDate::from_ymd_opt(2026, 10, 10),
                until: NaiveDate::from_ymd_opt(2026, 10, 20),
            },
            0,
        ),
        // `--since` alone: open-ended, from the 25th on.
        (
            TimeWindow {
                since: NaiveDate::from_ymd_opt(2026, 10, 25),
                until: None,
            },
            0,
        ),
    ] {
        let (report, access) = reader.report(window, 5, connectors()).await.unwrap();
        let filter = sql_filter(window);
        assert_eq!(report.skipped_rows, skipped, "{window:?}");
        let mut examples: Vec<&str> = report
            .skipped_examples
            .iter()
            .map(|s| s.query_id.as_str())
            .collect();
        examples.sort_unstable();
        if skipped > 0 {
            assert_eq!(examples, OUT_OF_WINDOW_MALFORMED);
        } else {
            assert!(examples.is_empty(), "{window:?}: {examples:?}");
        }

        let (total, failed, users, bytes, rows, cpu): (u64, u64, u64, u64, u64, u64) = conn
            .query_first(format!(
                "SELECT COUNT(*), SUM(query_state = 'FAILED'), COUNT(DISTINCT user), SUM(physical_input_bytes), \
                 SUM(physical_input_rows), SUM(cpu_time_millis) FROM trino_queries WHERE {filter}"
            ))
            .await
            .unwrap()
            .unwrap();
        assert!(
            total > 500,
            "the window must hold a real sample, got {total}"
        );
        assert_eq!(report.total_queries, total);
        assert_eq!(report.failed_queries, failed);
        assert_eq!(report.distinct_users, users);
        assert_eq!(report.bytes_scanned, bytes);
        assert_eq!(report.rows_scanned, rows);
        assert_eq!(report.cpu_time_millis, cpu);
        assert!((report.failure_rate - failed as f64 / total as f64).abs() < 1e-12);

        let per_day: Vec<(String, u64, u64, u64)> = conn
            .query(format!(
                "SELECT LEFT(query_id, 8), COUNT(*), SUM(query_state = 'FAILED'), COUNT(DISTINCT user) \
                 FROM trino_queries WHERE {filter} GROUP BY 1 ORDER BY 1"
            ))
            .await
            .unwrap();
        let ours: Vec<(String, u64, u64, u64)> = report
            .per_day
            .iter()
            .map(|d| {
                (
                    d.day.format("%Y%m%d").to_string(),
                    d.queries,
                    d.failed,
                    d.users,
                )
            })
            .collect();
        assert_eq!(ours, per_day);

        let top_users: Vec<(String, u64, u64, u64, u64)> = conn
            .query(format!(
                "SELECT user, COUNT(*), SUM(query_state = 'FAILED'), SUM(wall_time_millis), \
                 SUM(physical_input_bytes) FROM trino_queries WHERE {filter} \
                 GROUP BY user ORDER BY 2 DESC, 1 LIMIT 5"
            ))
            .await
            .unwrap();
        assert_eq!(
            report
                .top_users
                .iter()
                .map(|u| (
                    u.name.clone(),
                    u.queries,
                    u.failed,
                    u.wall_time_millis,
                    u.bytes_scanned
                ))
                .collect::<Vec<_>>(),
            top_users
        );

        let sources: Vec<(String, u64)> = conn
            .query(format!(
                "SELECT COALESCE(source, '(none)'), COUNT(*) FROM trino_queries WHERE {filter} \
                 GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5"
            ))
            .await
            .unwrap();
        assert_eq!(
            report
                .top_sources
                .iter()
                .map(|u| (u.name.clone(), u.queries))
                .collect::<Vec<_>>(),
            sources
        );

        let by_type: Vec<(String, u64)> = conn
            .query(format!(
                "SELECT error_type, COUNT(*) FROM trino_queries WHERE {filter} AND query_state = 'FAILED' \
                 GROUP BY 1 ORDER BY 2 DESC, 1"
            ))
            .await
            .unwrap();
        assert_eq!(
            report
                .failures_by_type
                .iter()
                .map(|c| (c.name.clone(), c.count))
                .collect::<Vec<_>>(),
            by_type
        );

        let codes: Vec<(String, u64)> = conn
            .query(format!(
                "SELECT error_code, COUNT(*) FROM trino_queries WHERE {filter} AND query_state = 'FAILED' \
                 AND error_code IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, BINARY error_code LIMIT 5"
            ))
            .await
            .unwrap();
        assert_eq!(
            report
                .top_error_codes
                .iter()
                .map(|c| (c.name.clone(), c.count))
                .collect::<Vec<_>>(),
            codes
        );
        for c in &report.top_error_codes {
            assert!((c.share_of_queries - c.count as f64 / total as f64).abs() < 1e-12);
        }

        // Per catalog and per table, from inputs_json, with the database's own JSON_TABLE.
        let catalogs: Vec<(String, u64, u64)> = conn
            .query(format!(
                "SELECT jt.catalog, COUNT(DISTINCT q.query_id), SUM(jt.bytes) \
                 FROM (SELECT * FROM trino_queries WHERE {filter}) q, \
                 JSON_TABLE(q.inputs_json, '$[*]' COLUMNS (catalog VARCHAR(255) PATH '$.catalogName', \
                 bytes BIGINT PATH '$.physicalInputBytes')) jt GROUP BY 1 ORDER BY 2 DESC, 1"
            ))
            .await
            .unwrap();
        assert_eq!(
            report
                .catalogs
                .iter()
                .map(|c| (c.catalog.clone(), c.queries, c.bytes_scanned))
                .collect::<Vec<_>>(),
            catalogs
        );
        let with_inputs: u64 = conn
            .query_first(format!(
                "SELECT COUNT(*) FROM trino_queries WHERE {filter} AND inputs_json <> '[]'"
            ))
            .await
            .unwrap()
            .unwrap();
        // Every connector's share, with catalogs mapped to connectors by the database (two catalogs share
        // `iceberg`; an unmapped catalog counts under its own name) and a query counted once per connector.
        let shares: Vec<(String, u64)> = conn
            .query(format!(
                "SELECT COALESCE(cc.connector, jt.catalog), COUNT(DISTINCT q.query_id) \
                 FROM (SELECT * FROM trino_queries WHERE {filter}) q \
                 CROSS JOIN JSON_TABLE(q.inputs_json, '$[*]' COLUMNS (catalog VARCHAR(255) PATH '$.catalogName')) jt \
                 LEFT JOIN catalog_connectors cc ON cc.catalog = jt.catalog \
                 GROUP BY 1 ORDER BY 2 DESC, 1"
            ))
            .await
            .unwrap();
        assert_eq!(
            report
                .data_source_share
                .iter()
                .map(|s| (s.name.clone(), s.queries))
                .collect::<Vec<_>>(),
            shares
        );
        for s in &report.data_source_share {
            assert!(
                (s.share - s.queries as f64 / with_inputs as f64).abs() < 1e-12,
                "{s:?}"
            );
        }
        let iceberg = shares.iter().find(|s| s.0 == "iceberg").unwrap().1;
        let by_catalog = |name: &str| catalogs.iter().find(|c| c.0 == name).unwrap().1;
        assert!(
            iceberg < by_catalog("lake") + by_catalog("archive"),
            "some queries read both iceberg catalogs and must count once"
        );
        assert!(shares.iter().any(|s| s.0 == "sheets"));

        type TableRow = (String, u64, u64, String, String, u64);
        let tables: Vec<TableRow> = conn
            .query(format!(
                "SELECT CONCAT(jt.c, '.', jt.s, '.', jt.t), COUNT(DISTINCT q.query_id), \
                 COUNT(DISTINCT LEFT(q.query_id, 8)), MIN(LEFT(q.query_id, 15)), MAX(LEFT(q.query_id, 15)), \
                 SUM(jt.bytes) FROM (SELECT * FROM trino_queries WHERE {filter}) q, \
                 JSON_TABLE(q.inputs_json, '$[*]' COLUMNS (c VARCHAR(255) PATH '$.catalogName', \
                 s VARCHAR(255) PATH '$.schema', t VARCHAR(255) PATH '$.table', \
                 bytes BIGINT PATH '$.physicalInputBytes')) jt \
                 GROUP BY jt.c, jt.s, jt.t ORDER BY 2 DESC, BINARY jt.c, BINARY jt.s, BINARY jt.t"
            ))
            .await
            .unwrap();
        let stamp =
            |t: Option<chrono::NaiveDateTime>| t.unwrap().format("%Y%m%d_%H%M%S").to_string();
        let ours: Vec<TableRow> = access
            .iter()
            .map(|a| {
                (
                    format!("{}.{}.{}", a.catalog, a.schema, a.table),
                    a.queries,
                    a.days_accessed,
                    stamp(a.first_access),
                    stamp(a.last_access),
                    a.bytes_scanned,
                )
            })
            .collect();
        assert_eq!(ours, tables);
        assert_eq!(
            report.top_tables,
            access.iter().take(5).cloned().collect::<Vec<_>>()
        );

        // Nearest-rank percentiles, computed by the database.
        let (p50, p95, p99, max): (u64, u64, u64, u64) = conn
            .query_first(format!(
                "SELECT DISTINCT PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY wall_time_millis) OVER (), \
                 PERCENTILE_DISC(0.95) WITHIN GROUP (ORDER BY wall_time_millis) OVER (), \
                 PERCENTILE_DISC(0.99) WITHIN GROUP (ORDER BY wall_time_millis) OVER (), \
                 MAX(wall_time_millis) OVER () FROM trino_queries WHERE {filter}"
            ))
            .await
            .unwrap()
            .unwrap();
        let w = report.wall_time_millis;
        assert!(
            close(w.p50, p50) && close(w.p95, p95) && close(w.p99, p99),
            "{w:?} vs {p50} {p95} {p99}"
        );
        assert_eq!(w.max, max);
        let (q50, q95, q99, qmax): (u64, u64, u64, u64) = conn
            .query_first(format!(
                "SELECT DISTINCT PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY queued_time_millis) OVER (), \
                 PERCENTILE_DISC(0.95) WITHIN GROUP (ORDER BY queued_time_millis) OVER (), \
                 PERCENTILE_DISC(0.99) WITHIN GROUP (ORDER BY queued_time_millis) OVER (), \
                 MAX(queued_time_millis) OVER () FROM trino_queries WHERE {filter}"
            ))
            .await
            .unwrap()
            .unwrap();
        let q = report.queued_time_millis;
        assert!(
            close(q.p50, q50) && close(q.p95, q95) && close(q.p99, q99),
            "{q:?} vs {q50} {q95} {q99}"
        );
        assert_eq!(q.max, qmax);

        let slowest: Vec<(String, u64)> = conn
            .query(format!(
                "SELECT query_id, wall_time_millis FROM trino_queries WHERE {filter} \
                 ORDER BY wall_time_millis DESC, query_id DESC LIMIT 5"
            ))
            .await
            .unwrap();
        assert_eq!(
            report
                .slowest
                .iter()
                .map(|s| (s.query_id.clone(), s.wall_time_millis))
                .collect::<Vec<_>>(),
            slowest
        );
        assert!(
            report
                .slowest
                .iter()
                .all(|s| s.query_head.chars().count() <= 240)
        );
    }
    drop(conn);
    reader.close().await;
    drop_database(db).await;
}

/// Rows inside the window whose `inputs_json` is malformed no longer abort the report: they are counted as
/// skipped, named, and left out of every figure, which still match the database on the remaining rows.
#[tokio::test]
async fn malformed_inputs_json_rows_are_skipped_and_counted() {
    let db = fresh_database().await;
    load_events(&db.pool).await;
    let mut conn = db.pool.get_conn().await.unwrap();
    let window = TimeWindow {
        since: NaiveDate::from_ymd_opt(2026, 10, 5),
        until: NaiveDate::from_ymd_opt(2026, 10, 6),
    };
    // Corrupt three rows in the window, each differently, and none outside it.
    let ids: Vec<String> = conn
        .query(
            "SELECT query_id FROM trino_queries WHERE LEFT(query_id, 8) BETWEEN '20261005' AND '20261006' \
             AND inputs_json <> '[]' ORDER BY query_id LIMIT 3",
        )
        .await
        .unwrap();
    assert_eq!(ids.len(), 3);
    for (id, json) in ids
        .iter()
        .zip(["{broken", "{\"catalogName\": \"lake\"}", "[{\"table\": 1}]"])
    {
        conn.exec_drop(
            "UPDATE trino_queries SET inputs_json = ? WHERE query_id = ?",
            (json, id),
        )
        .await
        .unwrap();
    }
    let reader = EventLogReader::new(&db.url, "root", None).unwrap();
    let (report, access) = reader.report(window, 5, connectors()).await.unwrap();

    assert_eq!(report.skipped_rows, 3);
    assert_eq!(
        report
            .skipped_examples
            .iter()
            .map(|s| s.query_id.clone())
            .collect::<Vec<_>>(),
        ids
    );
    assert!(
        report
            .skipped_examples
            .iter()
            .all(|s| s.reason.contains("inputs_json"))
    );
    let in_window = "LEFT(query_id, 8) BETWEEN '20261005' AND '20261006'";
    let (all, bytes): (u64, u64) = conn
        .query_first(format!(
            "SELECT COUNT(*), SUM(physical_input_bytes) FROM trino_queries WHERE {in_window} \
             AND query_id NOT IN ('{}')",
            ids.join("', '")
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.total_queries, all);
    assert_eq!(report.bytes_scanned, bytes);
    let table_queries: u64 = access.iter().map(|a| a.queries).sum();
    let sql_table_queries: u64 = conn
        .query_first(format!(
            "SELECT COUNT(*) FROM (SELECT DISTINCT q.query_id, jt.c, jt.s, jt.t \
             FROM (SELECT * FROM trino_queries WHERE {in_window} AND query_id NOT IN ('{}')) q, \
             JSON_TABLE(q.inputs_json, '$[*]' COLUMNS (c VARCHAR(255) PATH '$.catalogName', \
             s VARCHAR(255) PATH '$.schema', t VARCHAR(255) PATH '$.table')) jt) x",
            ids.join("', '")
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(table_queries, sql_table_queries);

    drop(conn);
    reader.close().await;
    drop_database(db).await;
}

#[tokio::test]
async fn a_database_without_the_listener_table_gets_a_clear_error() {
    let db = fresh_database().await;
    let reader = EventLogReader::new(&db.url, "root", None).unwrap();
    let error = reader.check_schema().await.unwrap_err().to_string();
    assert!(
        error.contains(&format!("{}.trino_queries does not exist", db.name)),
        "{error}"
    );
    reader.close().await;
    drop_database(db).await;
}

#[tokio::test]
async fn missing_columns_are_named() {
    let db = fresh_database().await;
    let mut conn = db.pool.get_conn().await.unwrap();
    conn.query_drop(
        "CREATE TABLE trino_queries (query_id VARCHAR(255) PRIMARY KEY, user VARCHAR(255))",
    )
    .await
    .unwrap();
    drop(conn);
    let reader = EventLogReader::new(&db.url, "root", None).unwrap();
    let error = reader.check_schema().await.unwrap_err().to_string();
    assert!(
        error.contains("lacks the columns query_state, source"),
        "{error}"
    );
    reader.close().await;
    drop_database(db).await;
}

#[tokio::test]
async fn wrong_password_is_a_connect_error() {
    let db = fresh_database().await;
    let reader = EventLogReader::new(&db.url, "nobody_here", Some("wrong")).unwrap();
    let error = reader.check_schema().await.unwrap_err();
    assert!(
        error.to_string().starts_with(&format!(
            "cannot connect to the event-log database at {}/",
            lake_tests::mysql_addr()
        )),
        "{error}"
    );
    reader.close().await;
    drop_database(db).await;
}
