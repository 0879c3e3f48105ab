//! The access rules the tool renders (`rules.json`, file-based access control) as Trino enforces them: only
//! the ops user may change a worker's state, and an ordinary user can run what analysts need.

use lake_tests::trino::{self, unique_ident};
use trino_catalogs::CatalogSpec;
use trino_client::Client;
use trino_ecs_core::render::OPS_USER;

/// The workers' HTTP URIs, as the coordinator lists them.
async fn worker_uris(client: &Client) -> Vec<String> {
    let result = trino::run(
        client,
        "SELECT http_uri, state FROM system.runtime.nodes WHERE NOT coordinator ORDER BY http_uri",
    )
    .await;
    let states = trino::strings(&result, 1);
    assert!(
        states.iter().all(|s| s == "active"),
        "a worker of the shared cluster is not active: {states:?}"
    );
    trino::strings(&result, 0)
}

/// `PUT /v1/info/state` on a worker with body `"ACTIVE"`: a request Trino authorizes as a management write,
/// and then, for a worker that is already active, a no-op (`NodeStateManager.transitionState` returns at once
/// when the state does not change). It never shuts a worker down, whoever sends it.
async fn put_active(http: &reqwest::Client, worker: &str, user: &str) -> (u16, String) {
    let response = http
        .put(format!("{}/v1/info/state", worker.trim_end_matches('/')))
        .header("X-Trino-User", user)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body("\"ACTIVE\"")
        .send()
        .await
        .unwrap_or_else(|e| panic!("PUT {worker}/v1/info/state: {e}"));
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// The ops user passes the `system_information` write check on every worker (Trino answers the no-op
/// request instead of refusing it) while an ordinary user is refused with 403, and the workers stay active.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_ops_user_may_change_a_workers_state() {
    let ops = trino::ops_client();
    let workers = worker_uris(&ops).await;
    let expected = trino::local_config().initial_workers() as usize;
    assert_eq!(workers.len(), expected, "workers: {workers:?}");
    let http = reqwest::Client::new();
    let analyst = unique_ident("analyst");
    for worker in &workers {
        let (status, body) = put_active(&http, worker, &analyst).await;
        assert_eq!(
            status, 403,
            "an ordinary user changing {worker}'s state must be refused; Trino answered {status}: {body}"
        );
        // Past the authorization check Trino either accepts the no-op (200, `NodeStateManager`) or, in releases
        // whose `ServerInfoResource` had no ACTIVE transition, refuses it as a bad transition (400); either way
        // the ops user was authorized, which a 403 would deny.
        let (status, body) = put_active(&http, worker, OPS_USER).await;
        assert!(
            status == 200 || (status == 400 && body.contains("Invalid state transition")),
            "the ops user ({OPS_USER}) must pass the management-write check on {worker}; Trino answered {status}: {body}"
        );
        let state = trino_client::Client::builder(worker.as_str())
            .user(OPS_USER)
            .build()
            .expect("a client of the worker")
            .state()
            .await
            .unwrap_or_else(|e| panic!("GET {worker}/v1/info/state: {e}"));
        assert_eq!(state, trino_client::protocol::NodeState::Active, "{worker}");
    }
    assert_eq!(worker_uris(&ops).await, workers);
}

/// An ordinary user can run the JDBC connectors' pass-through table function (`system.query`) on the lake's
/// MySQL and PostgreSQL catalogs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analyst_may_run_jdbc_pass_through_queries() {
    let analyst = trino::client(&unique_ident("analyst"));
    for catalog in ["sales", "crm"] {
        let sql = format!(
            "SELECT * FROM TABLE({catalog}.system.query(query => 'SELECT 41 + 1 AS answer'))"
        );
        let result = analyst
            .fetch_all(&sql)
            .await
            .unwrap_or_else(|e| panic!("an analyst may run `{sql}`, but Trino said: {e}"));
        let values: Vec<i64> = result
            .rows
            .iter()
            .map(|r| trino::integer(r.get(0).expect("one column")))
            .collect();
        assert_eq!(values, [42], "{sql}");
    }
}

/// The Iceberg warehouse of the effective config, `s3://bucket/prefix` without a trailing slash.
fn warehouse() -> String {
    match &trino::local_config().catalogs["lake"] {
        CatalogSpec::Iceberg(i) => i.warehouse.trim_end_matches('/').to_owned(),
        other => panic!("catalog lake is not Iceberg: {other:?}"),
    }
}

/// A table of three single-row snapshots in a schema of the test's own, created by `client` itself.
async fn three_snapshot_table(client: &Client, schema: &str) -> String {
    let table = format!("lake.{schema}.readings");
    trino::run_all(
        client,
        &[
            format!(
                "CREATE SCHEMA lake.{schema} WITH (location = '{}/{schema}')",
                warehouse()
            ),
            format!("CREATE TABLE {table} (id bigint, reading double)"),
            format!("INSERT INTO {table} VALUES (1, 0.5)"),
            format!("INSERT INTO {table} VALUES (2, 1.5)"),
            format!("INSERT INTO {table} VALUES (3, 2.5)"),
        ],
    )
    .await;
    table
}

async fn drop_table(client: &Client, schema: &str) {
    trino::run_best_effort(
        client,
        &[
            format!("DROP TABLE lake.{schema}.readings"),
            format!("DROP SCHEMA lake.{schema}"),
        ],
    )
    .await;
}

/// An ordinary user can run Iceberg table procedures on a table of their own: `optimize` compacts the three
/// one-row files into fewer files without changing the rows, and `expire_snapshots` at the connector's
/// minimum retention runs (and keeps every snapshot, all younger than 7 days).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analyst_may_run_iceberg_table_procedures() {
    let analyst = trino::client(&unique_ident("analyst"));
    let schema = unique_ident("tproc");
    let table = three_snapshot_table(&analyst, &schema).await;
    let files = format!("SELECT count(*) FROM lake.{schema}.\"readings$files\"");
    let snapshots = format!("SELECT count(*) FROM lake.{schema}.\"readings$snapshots\"");
    let files_before = trino::count(&analyst, &files).await;
    let snapshots_before = trino::count(&analyst, &snapshots).await;

    let optimize = analyst
        .fetch_all(&format!("ALTER TABLE {table} EXECUTE optimize"))
        .await;
    let files_after = trino::count(&analyst, &files).await;
    let rows_after = trino::count(&analyst, &format!("SELECT count(*) FROM {table}")).await;
    let expire = analyst
        .fetch_all(&format!(
            "ALTER TABLE {table} EXECUTE expire_snapshots(retention_threshold => '7d')"
        ))
        .await;
    let snapshots_after = trino::count(&analyst, &snapshots).await;
    drop_table(&analyst, &schema).await;

    optimize
        .unwrap_or_else(|e| panic!("an analyst may optimize their own table, but Trino said: {e}"));
    assert_eq!(files_before, 3);
    assert!(
        files_after < files_before,
        "optimize left {files_after} files"
    );
    assert_eq!(rows_after, 3);
    expire.unwrap_or_else(|e| {
        panic!("an analyst may expire snapshots of their own table, but Trino said: {e}")
    });
    // optimize added one snapshot; expiring at 7 days removes none of these minutes-old ones.
    assert_eq!(snapshots_after, snapshots_before + 1);
}

/// An ordinary user can call the Iceberg connector's procedures on a table of their own:
/// `system.rollback_to_snapshot` takes the table back to its first insert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analyst_may_call_iceberg_procedures() {
    let analyst = trino::client(&unique_ident("analyst"));
    let schema = unique_ident("proc");
    let table = three_snapshot_table(&analyst, &schema).await;
    // The snapshot of the first INSERT: the one whose table held exactly one row.
    let first = trino::run(
        &analyst,
        &format!(
            "SELECT snapshot_id FROM lake.{schema}.\"readings$snapshots\" \
             WHERE summary['total-records'] = '1' ORDER BY committed_at LIMIT 1"
        ),
    )
    .await;
    let first = trino::integer(
        first
            .rows
            .first()
            .and_then(|r| r.get(0))
            .expect("a snapshot"),
    );
    let call = analyst
        .fetch_all(&format!(
            "CALL lake.system.rollback_to_snapshot('{schema}', 'readings', {first})"
        ))
        .await;
    let ids = trino::run(&analyst, &format!("SELECT id FROM {table} ORDER BY id")).await;
    drop_table(&analyst, &schema).await;

    call.unwrap_or_else(|e| {
        panic!("an analyst may call lake.system.rollback_to_snapshot on their own table, but Trino said: {e}")
    });
    let ids: Vec<i64> = ids
        .rows
        .iter()
        .map(|r| trino::integer(r.get(0).expect("id")))
        .collect();
    assert_eq!(ids, [1]);
}
