//! The MySQL event listener records what the cluster ran, and the events report counts it: queries of a user
//! of the test's own, read back from MariaDB's `trino_events.trino_queries` and through `events report`.

use std::collections::BTreeMap;
use std::time::Duration;

use lake_tests::trino::{self, unique_ident};
use mysql_async::prelude::Queryable as _;
use trino_client::Client;
use trino_ecs_core::config::LakeConfig;
use trino_ecs_core::events::ReportBuilder;

/// How long the listener may take to write a finished query (it writes on completion, so normally at once).
const LISTENER_TIMEOUT: Duration = Duration::from_secs(60);

/// A pool on the event-log database named by the effective config's `[event_log]` (what Trino writes to).
fn event_log_pool(config: &LakeConfig) -> mysql_async::Pool {
    let log = config.event_log.as_ref().expect("an [event_log]");
    let address = log
        .url
        .strip_prefix("jdbc:mysql://")
        .unwrap_or_else(|| panic!("[event_log] url {:?} is not jdbc:mysql://", log.url));
    // Without the query: its options are Connector/J's (createDatabaseIfNotExist), which mysql_async refuses.
    let address = address.split('?').next().unwrap_or(address);
    mysql_async::Pool::new(format!("mysql://{}@{address}", log.user).as_str())
}

/// One `trino_queries` row, the columns this test checks.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Logged {
    query_state: String,
    user: String,
    source: Option<String>,
    catalog: Option<String>,
    schema: Option<String>,
    inputs_json: String,
    error_code: Option<String>,
    error_type: Option<String>,
    failure_message: Option<String>,
}

/// The rows of `ids` the listener has written so far.
async fn logged(pool: &mysql_async::Pool, ids: &[String]) -> BTreeMap<String, Logged> {
    let mut conn = pool
        .get_conn()
        .await
        .expect("a connection to the event log");
    let marks = vec!["?"; ids.len()].join(", ");
    let rows: Vec<mysql_async::Row> = conn
        .exec(
            format!(
                "SELECT query_id, query_state, user, source, catalog, `schema`, inputs_json, error_code, \
                 error_type, failure_message FROM trino_queries WHERE query_id IN ({marks})"
            ),
            ids.to_vec(),
        )
        .await
        .expect("reading trino_queries");
    rows.into_iter()
        .map(|mut row| {
            let mut text =
                |i: usize| -> Option<String> { row.take::<Option<String>, _>(i).flatten() };
            let id = text(0).expect("query_id");
            let logged = Logged {
                query_state: text(1).expect("query_state"),
                user: text(2).expect("user"),
                source: text(3),
                catalog: text(4),
                schema: text(5),
                inputs_json: text(6).expect("inputs_json"),
                error_code: text(7),
                error_type: text(8),
                failure_message: text(9),
            };
            (id, logged)
        })
        .collect()
}

/// Runs `sql`, returning its query id.
async fn query_id(client: &Client, sql: &str) -> String {
    trino::run(client, sql).await.status.id
}

/// Queries run as a user of the test's own (with its own source and session catalogs), one of them failing,
/// appear in `trino_queries` with their user, source, catalog, schema, state, error and inputs; the events
/// report, built the way `events report` builds it over that user's rows, counts exactly those queries,
/// the failure and the catalogs read; and `xtask events report --output json` ranks the user and source
/// with the same counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_listener_records_queries_and_the_report_counts_them() {
    let config = trino::local_config();
    let schema = unique_ident("ev");
    let user = unique_ident("events_user");
    let source = unique_ident("events_source");

    // Set up as another user, so the test user's rows are exactly the queries measured below.
    let setup = trino::client("lake-tests-events-setup");
    trino::run_all(
        &setup,
        &[
            format!("CREATE SCHEMA sales.{schema}"),
            format!(
                "CREATE TABLE sales.{schema}.orders AS SELECT * FROM (VALUES (BIGINT '1', BIGINT '10'), (BIGINT '2', BIGINT '20')) AS t(customer_id, amount)"
            ),
            format!("CREATE SCHEMA crm.{schema}"),
            format!(
                "CREATE TABLE crm.{schema}.customers AS SELECT * FROM (VALUES (BIGINT '1', 'Ada'), (BIGINT '2', 'Grace'), (BIGINT '3', 'Edsger')) AS t(customer_id, name)"
            ),
        ],
    )
    .await;

    let in_catalog = |catalog: &str| {
        trino::client_builder(&user)
            .source(source.clone())
            .catalog(catalog)
            .schema(schema.clone())
            .build()
            .expect("a client")
    };
    let sales = in_catalog("sales");
    let crm = in_catalog("crm");
    // Plain scans: an aggregation the JDBC connectors push down is logged with the generated query as its
    // input (`_generated._generated_query`, seen on 476) instead of the table.
    let sales_scan = query_id(&sales, "SELECT customer_id FROM orders").await;
    let crm_scan = query_id(&crm, "SELECT customer_id FROM customers").await;
    let join = query_id(
        &crm,
        &format!(
            "SELECT c.name, sum(o.amount) FROM sales.{schema}.orders o JOIN customers c ON o.customer_id = c.customer_id GROUP BY c.name"
        ),
    )
    .await;
    let failed = match sales.fetch_all("SELECT * FROM no_such_table").await {
        Err(trino_client::Error::QueryFailed {
            query_id,
            error_name,
            error_type,
            ..
        }) => {
            assert_eq!(
                (error_name.as_str(), error_type.as_str()),
                ("TABLE_NOT_FOUND", "USER_ERROR")
            );
            query_id
        }
        other => panic!("a query of a missing table must fail with TABLE_NOT_FOUND: {other:?}"),
    };
    let ids = vec![
        sales_scan.clone(),
        crm_scan.clone(),
        join.clone(),
        failed.clone(),
    ];

    let pool = event_log_pool(&config);
    let (pool_ref, ids_ref) = (&pool, &ids);
    let rows = trino::eventually(
        "the MySQL event listener to write the test's four queries",
        LISTENER_TIMEOUT,
        move || async move {
            let rows = logged(pool_ref, ids_ref).await;
            (rows.len() == ids_ref.len()).then_some(rows)
        },
    )
    .await;
    pool.disconnect().await.ok();
    trino::run_best_effort(
        &setup,
        &[
            format!("DROP TABLE sales.{schema}.orders"),
            format!("DROP SCHEMA sales.{schema}"),
            format!("DROP TABLE crm.{schema}.customers"),
            format!("DROP SCHEMA crm.{schema}"),
        ],
    )
    .await;

    for (id, catalog) in [
        (&sales_scan, "sales"),
        (&crm_scan, "crm"),
        (&join, "crm"),
        (&failed, "sales"),
    ] {
        let row = &rows[id];
        assert_eq!(row.user, user, "{id}: {row:?}");
        assert_eq!(
            row.source.as_deref(),
            Some(source.as_str()),
            "{id}: {row:?}"
        );
        assert_eq!(row.catalog.as_deref(), Some(catalog), "{id}: {row:?}");
        assert_eq!(
            row.schema.as_deref(),
            Some(schema.as_str()),
            "{id}: {row:?}"
        );
    }
    for id in [&sales_scan, &crm_scan, &join] {
        let row = &rows[id];
        assert_eq!(row.query_state, "FINISHED", "{id}: {row:?}");
        assert_eq!(
            (row.error_code.as_deref(), row.error_type.as_deref()),
            (None, None),
            "{id}: {row:?}"
        );
    }
    let failure = &rows[&failed];
    assert_eq!(failure.query_state, "FAILED", "{failure:?}");
    assert_eq!(
        failure.error_code.as_deref(),
        Some("TABLE_NOT_FOUND"),
        "{failure:?}"
    );
    assert_eq!(
        failure.error_type.as_deref(),
        Some("USER_ERROR"),
        "{failure:?}"
    );
    assert!(
        failure
            .failure_message
            .as_deref()
            .is_some_and(|m| m.contains("no_such_table")),
        "{failure:?}"
    );
    // The listener records the tables each query read (catalog, schema and table in `inputs_json`).
    let inputs = |id: &String| -> Vec<(String, String, String)> {
        let json: serde_json::Value =
            serde_json::from_str(&rows[id].inputs_json).expect("inputs_json is JSON");
        let mut tables: Vec<(String, String, String)> = json
            .as_array()
            .expect("inputs_json is an array")
            .iter()
            .map(|i| {
                let field = |k: &str| i[k].as_str().unwrap_or_default().to_owned();
                (field("catalogName"), field("schema"), field("table"))
            })
            .collect();
        tables.sort();
        tables
    };
    let table = |c: &str, t: &str| (c.to_owned(), schema.clone(), t.to_owned());
    assert_eq!(inputs(&sales_scan), [table("sales", "orders")]);
    assert_eq!(inputs(&crm_scan), [table("crm", "customers")]);
    assert_eq!(
        inputs(&join),
        [table("crm", "customers"), table("sales", "orders")]
    );
    assert_eq!(inputs(&failed), []);

    // The report over the test user's rows, built by the library the way `events report` builds it (the
    // command reports every user; the window is a query-id range, then each row is added to the builder).
    let connectors: BTreeMap<String, String> = config
        .catalogs
        .iter()
        .map(|(name, spec)| (name.clone(), spec.connector_name().to_owned()))
        .collect();
    let window = trino::recent_window();
    let reader = trino::event_log_reader(&config);
    let builder = std::cell::RefCell::new(ReportBuilder::new(window, 10, connectors));
    reader
        .for_each(
            window,
            |event| {
                if event.user == user {
                    builder.borrow_mut().add(&event);
                }
            },
            |_| {},
        )
        .await
        .expect("reading the event log");
    reader.close().await;
    let report = builder.into_inner().finish();
    assert_eq!(report.total_queries, 4, "{report:#?}");
    assert_eq!(report.failed_queries, 1, "{report:#?}");
    assert_eq!(report.distinct_users, 1, "{report:#?}");
    assert_eq!(
        report
            .top_users
            .iter()
            .map(|u| (u.name.as_str(), u.queries, u.failed))
            .collect::<Vec<_>>(),
        [(user.as_str(), 4, 1)]
    );
    assert_eq!(
        report
            .top_sources
            .iter()
            .map(|s| (s.name.as_str(), s.queries, s.failed))
            .collect::<Vec<_>>(),
        [(source.as_str(), 4, 1)]
    );
    let mut catalogs: Vec<(&str, Option<&str>, u64)> = report
        .catalogs
        .iter()
        .map(|c| (c.catalog.as_str(), c.connector.as_deref(), c.queries))
        .collect();
    catalogs.sort();
    assert_eq!(
        catalogs,
        [("crm", Some("postgresql"), 2), ("sales", Some("mysql"), 2)]
    );
    assert_eq!(
        report
            .failures_by_type
            .iter()
            .map(|c| (c.name.as_str(), c.count))
            .collect::<Vec<_>>(),
        [("USER_ERROR", 1)]
    );
    assert_eq!(
        report
            .top_error_codes
            .iter()
            .map(|c| (c.name.as_str(), c.count))
            .collect::<Vec<_>>(),
        [("TABLE_NOT_FOUND", 1)]
    );
    let mut tables: Vec<(String, u64)> = report
        .top_tables
        .iter()
        .map(|t| (format!("{}.{}.{}", t.catalog, t.schema, t.table), t.queries))
        .collect();
    tables.sort();
    assert_eq!(
        tables,
        [
            (format!("crm.{schema}.customers"), 2),
            (format!("sales.{schema}.orders"), 2)
        ]
    );

    // The command as a user runs it, over every user of the window: the test user's and source's rankings
    // carry exactly the test's counts. `--top` is large so no ranking drops them.
    let since = window.since.expect("a first day").to_string();
    let run = trino::xtask(
        &trino::local_config_path(),
        &[
            "events", "report", "--output", "json", "--top", "100000", "--since", &since,
        ],
    )
    .await
    .expect_success();
    let json: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("`{}` printed no JSON ({e}):\n{}", run.command, run.stdout));
    let ranked = |list: &str, name: &str| -> (u64, u64) {
        let entry = json[list]
            .as_array()
            .unwrap_or_else(|| panic!("no {list} in the report"))
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not in the report's {list}"));
        (
            entry["queries"].as_u64().expect("queries"),
            entry["failed"].as_u64().expect("failed"),
        )
    };
    assert_eq!(ranked("top_users", &user), (4, 1));
    assert_eq!(ranked("top_sources", &source), (4, 1));
}
