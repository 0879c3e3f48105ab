//! Helpers for the tests that run against the shared local Trino cluster.
//!
//! `cargo xtask test` brings up one real local lake before the integration tests run (the AWS emulator, the
//! private MariaDB and PostgreSQL, the lake of `examples/local.toml` deployed into the emulator, and Trino
//! processes run by the local task runner) and tells the test process where it is: `LAKE_TRINO_URL` (the
//! coordinator), `LAKE_LOCAL_CONFIG` (the effective lake config, with the emulator's and databases' real
//! addresses) and `LAKE_XTASK_BIN` (the `xtask` binary, to run a command the way a user would).
//!
//! The cluster is shared by every test of the binary, running in parallel threads, so a test names its own
//! schemas, tables and catalogs with [`unique_ident`] and never changes what others rely on (it never stops or
//! drains a worker). Every helper panics, saying how to get what is missing, rather than skip a test.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use trino_client::{Client, ClientBuilder, QueryResult, Value};
use trino_ecs_core::config::LakeConfig;

/// What to do when the cluster's variables are missing.
pub const HOW_TO_GET_TRINO: &str =
    "run through `cargo xtask test`, which starts the shared local Trino cluster";

/// The source (`X-Trino-Source`) of the tests' queries unless a test sets its own.
pub const SOURCE: &str = "lake-tests";

fn required_variable(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| panic!("{name} is not set: {HOW_TO_GET_TRINO}"))
}

/// The coordinator's base URL, e.g. `http://127.0.77.1:8080`, from `LAKE_TRINO_URL`.
pub fn trino_url() -> String {
    required_variable("LAKE_TRINO_URL")
        .trim_end_matches('/')
        .to_owned()
}

/// A client builder for the coordinator as `user`, with the tests' source.
pub fn client_builder(user: &str) -> ClientBuilder {
    Client::builder(trino_url()).user(user).source(SOURCE)
}

/// A client of the coordinator as `user`.
pub fn client(user: &str) -> Client {
    client_builder(user)
        .build()
        .expect("a client of LAKE_TRINO_URL")
}

/// A client acting as the ops user the tool renders access rules for (`render::OPS_USER`), as `xtask` does.
pub fn ops_client() -> Client {
    client(trino_ecs_core::render::OPS_USER)
}

/// The effective lake config's path, from `LAKE_LOCAL_CONFIG`.
pub fn local_config_path() -> PathBuf {
    let path = PathBuf::from(required_variable("LAKE_LOCAL_CONFIG"));
    assert!(
        path.exists(),
        "LAKE_LOCAL_CONFIG names {}, which does not exist: {HOW_TO_GET_TRINO}",
        path.display()
    );
    path
}

/// The effective lake config the shared cluster was deployed from.
pub fn local_config() -> LakeConfig {
    let path = local_config_path();
    LakeConfig::load(&path).unwrap_or_else(|e| {
        panic!(
            "the effective lake config {} is invalid: {e}",
            path.display()
        )
    })
}

/// A name no other test uses that is also a plain SQL identifier and a valid catalog name: `prefix_` and
/// twelve hex digits (Trino would need quotes around the `-` that [`crate::unique_name`] uses).
pub fn unique_ident(prefix: &str) -> String {
    crate::unique_name(prefix).replace('-', "_")
}

/// Runs `sql`, panicking with the statement and Trino's error when it fails.
pub async fn run(client: &Client, sql: &str) -> QueryResult {
    client
        .fetch_all(sql)
        .await
        .unwrap_or_else(|e| panic!("Trino refused `{sql}`: {e}"))
}

/// Runs each statement in order, panicking at the first that fails.
pub async fn run_all(client: &Client, statements: &[String]) {
    for sql in statements {
        run(client, sql).await;
    }
}

/// Runs statements whose failure must not fail the test, e.g. cleanup of what a failed test left behind; the
/// failures are printed so a leak is visible in the test output.
pub async fn run_best_effort(client: &Client, statements: &[String]) {
    for sql in statements {
        if let Err(e) = client.fetch_all(sql).await {
            eprintln!("cleanup `{sql}` failed: {e}");
        }
    }
}

/// The text of column `index` of every row; panics on a value that is not `varchar`/`char`.
pub fn strings(result: &QueryResult, index: usize) -> Vec<String> {
    result
        .rows
        .iter()
        .map(|row| match row.get(index) {
            Some(Value::Varchar(s) | Value::Char(s)) => s.clone(),
            other => panic!("column {index} is not text: {other:?}"),
        })
        .collect()
}

/// An integer value of any integer width (connectors map `SELECT 1` to different widths).
pub fn integer(value: &Value) -> i64 {
    match value {
        Value::TinyInt(n) => i64::from(*n),
        Value::SmallInt(n) => i64::from(*n),
        Value::Integer(n) => i64::from(*n),
        Value::BigInt(n) => *n,
        other => panic!("not an integer: {other:?}"),
    }
}

/// The single integer a `SELECT count(*) ...` returns.
pub async fn count(client: &Client, sql: &str) -> i64 {
    let result = run(client, sql).await;
    assert_eq!(
        result.rows.len(),
        1,
        "`{sql}` returned {} rows",
        result.rows.len()
    );
    integer(result.rows[0].get(0).expect("one column"))
}

/// The cluster's catalogs (`SHOW CATALOGS`, through the library call `xtask` uses).
pub async fn catalogs(client: &Client) -> Vec<String> {
    trino_ecs_core::live::catalogs(client)
        .await
        .unwrap_or_else(|e| panic!("SHOW CATALOGS failed: {e}"))
}

/// Polls `probe` every half second until it returns `Some`, panicking with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            started.elapsed() < timeout,
            "gave up after {} s waiting for {what}",
            timeout.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The `xtask` binary from `LAKE_XTASK_BIN`.
pub fn xtask_bin() -> PathBuf {
    let path = PathBuf::from(required_variable("LAKE_XTASK_BIN"));
    assert!(
        path.exists(),
        "LAKE_XTASK_BIN names {}, which does not exist: {HOW_TO_GET_TRINO}",
        path.display()
    );
    path
}

/// What one `xtask` run printed and how it ended.
#[derive(Debug)]
pub struct XtaskRun {
    /// The command line, for messages.
    pub command: String,
    /// Whether it exited with status 0.
    pub success: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

/// Runs `xtask -c <config> ARGS` as a user would, with the test process's environment (the emulator's
/// endpoint and fake credentials), and waits for it.
pub async fn xtask(config: &Path, args: &[&str]) -> XtaskRun {
    let bin = xtask_bin();
    let output = tokio::process::Command::new(&bin)
        .arg("-c")
        .arg(config)
        .args(args)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    XtaskRun {
        command: format!("xtask -c {} {}", config.display(), args.join(" ")),
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

impl XtaskRun {
    /// Panics with everything the command printed unless it succeeded.
    pub fn expect_success(self) -> Self {
        assert!(
            self.success,
            "`{}` failed\nstdout:\n{}\nstderr:\n{}",
            self.command, self.stdout, self.stderr
        );
        self
    }
}

/// A reader of the event-log database the cluster's MySQL event listener writes (`[event_log]` of the
/// effective config), the way `cargo xtask events` opens it.
pub fn event_log_reader(config: &LakeConfig) -> trino_ecs_core::events::EventLogReader {
    let log = config
        .event_log
        .as_ref()
        .expect("the effective lake config has an [event_log]");
    assert!(
        log.password.is_none(),
        "the local lake's event-log database takes no password"
    );
    trino_ecs_core::events::EventLogReader::new(&log.url, &log.user, None)
        .unwrap_or_else(|e| panic!("cannot open the event log: {e}"))
}

/// The report window the event-log tests read: yesterday and today (UTC), so a test running across midnight
/// still sees its own queries, without reading the whole history of a long-lived database.
pub fn recent_window() -> trino_ecs_core::events::TimeWindow {
    let today = chrono::Utc::now().date_naive();
    trino_ecs_core::events::TimeWindow {
        since: today.pred_opt(),
        until: None,
    }
}
