//! Deploys that kill no query, judged by the real local cluster: `cargo xtask deploy`, pointed at the ECS facade
//! in front of the emulator (the runner answers the task calls from its real Trino tasks and honours task
//! protection as ECS does), while a query reads from the cluster.
//!
//! These tests change the shared cluster (its services move to new revisions), so they are their own test
//! binary (cargo runs test binaries one after another, never beside the `trino_cluster` tests) and take turns
//! within it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lake_tests::trino::{
    catalogs, client_builder, count, local_config_path, ops_client, run, run_all, run_best_effort,
    strings, trino_url, unique_ident, xtask, xtask_bin,
};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _};

/// One cluster change at a time, each from the config the last one deployed (the effective config at first).
static SERIAL: tokio::sync::Mutex<Option<String>> = tokio::sync::Mutex::const_new(None);

/// The facade's URL, from `LAKE_ECS_FACADE_URL`.
fn facade_url() -> String {
    std::env::var("LAKE_ECS_FACADE_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "LAKE_ECS_FACADE_URL is not set: {}",
                lake_tests::trino::HOW_TO_GET_TRINO
            )
        })
}

/// The deployed config (`deployed`, else the shared lake's effective one) with the facade as the AWS endpoint
/// and `edit` made, written beside the effective config as `change-<name>.toml` (so relative paths still
/// resolve). Returns its path and text.
fn changed_config(
    deployed: &Option<String>,
    name: &str,
    edit: impl FnOnce(&mut toml::Table),
) -> (PathBuf, String) {
    let text = deployed
        .clone()
        .unwrap_or_else(|| std::fs::read_to_string(local_config_path()).unwrap());
    let mut doc: toml::Table = text.parse().unwrap();
    doc["aws"]
        .as_table_mut()
        .unwrap()
        .insert("endpoint_url".into(), facade_url().into());
    edit(&mut doc);
    let path = local_config_path().with_file_name(format!("change-{name}.toml"));
    let text = toml::to_string(&doc).unwrap();
    std::fs::write(&path, &text).unwrap();
    (path, text)
}

/// [`changed_config`] with `cluster.<role>.cpu` toggled between 512 and 1024: a change only that role's task
/// definition sees (the runner does not enforce cpu, Fargate would).
fn cpu_change_config(deployed: &Option<String>, role: &str) -> (PathBuf, String) {
    changed_config(deployed, role, |doc| {
        let table = doc["cluster"][role].as_table_mut().unwrap();
        let cpu = table["cpu"].as_integer().unwrap();
        table.insert(
            "cpu".into(),
            toml::Value::Integer(if cpu == 1024 { 512 } else { 1024 }),
        );
    })
}

/// The plan's change lines (`+`, `~`), each of which must name `role`'s resources (a `-` line retires what no
/// kept revision uses any more, such as the files a refused deploy left, whichever role it was).
async fn assert_plan_touches_only(config: &Path, role: &str) {
    let plan = xtask(config, &["plan"]).await.expect_success();
    let changes: Vec<&str> = plan
        .stdout
        .lines()
        .filter(|l| l.starts_with("+ ") || l.starts_with("~ "))
        .collect();
    assert!(
        !changes.is_empty()
            && changes
                .iter()
                .all(|l| l.contains(&format!("-{role}")) || l.contains(&format!("/{role}/"))),
        "a change of the {role} alone touches the {role} only:\n{}",
        plan.stdout
    );
}

/// A timeline of what happened, for the failure messages and the record.
#[derive(Default)]
struct Timeline {
    started: Option<Instant>,
    lines: Vec<(Duration, String)>,
}

impl Timeline {
    fn at(&mut self, what: impl Into<String>) {
        self.at_instant(Instant::now(), what);
    }

    fn at_instant(&mut self, at: Instant, what: impl Into<String>) {
        let started = *self.started.get_or_insert(at);
        self.lines
            .push((at.saturating_duration_since(started), what.into()));
    }

    /// The events in the order they happened.
    fn render(&self) -> String {
        let mut lines = self.lines.clone();
        lines.sort_by_key(|(at, _)| *at);
        lines
            .iter()
            .map(|(at, what)| format!("{:>6.1} s  {what}", at.as_secs_f64()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A `cargo xtask deploy --yes --coordinator URL` running as a user runs it, its output read line by line.
struct Deploy {
    child: tokio::process::Child,
    /// Each line with when it was printed.
    lines: tokio::sync::mpsc::UnboundedReceiver<(Instant, String)>,
    output: Vec<String>,
}

/// Whether a deploy line belongs on the timeline.
fn progress_line(line: &str) -> bool {
    line.starts_with("  workers:")
        || line.starts_with("  coordinator:")
        || line.starts_with("applied")
}

impl Deploy {
    fn spawn(config: &Path) -> Self {
        let mut child = tokio::process::Command::new(xtask_bin())
            .arg("-c")
            .arg(config)
            .args([
                "deploy",
                "--yes",
                "--drain-timeout",
                "600",
                "--coordinator-wait",
                "300",
                "--coordinator",
                &trino_url(),
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel::<(Instant, String)>();
        tokio::spawn(async move {
            while let Ok(Some(line)) = out.next_line().await {
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            output: Vec::new(),
        }
    }

    /// The lines printed since the last call; progress lines go on the timeline.
    fn new_lines(&mut self, timeline: &mut Timeline) -> Vec<String> {
        let mut new = Vec::new();
        while let Ok((at, line)) = self.lines.try_recv() {
            if progress_line(&line) {
                timeline.at_instant(at, format!("deploy: {}", line.trim()));
            }
            self.output.push(line.clone());
            new.push(line);
        }
        new
    }

    /// Whether the deploy process has ended.
    fn exited(&mut self) -> bool {
        self.child.try_wait().unwrap().is_some()
    }

    /// Waits for the deploy to end and returns its whole story and its output; panics with the story unless
    /// it succeeded.
    async fn finish(mut self, timeline: &mut Timeline, record: &str) -> (String, String) {
        let status = tokio::time::timeout(Duration::from_secs(600), self.child.wait())
            .await
            .expect("the deploy finished within 600 s")
            .unwrap();
        while let Some((at, line)) = self.lines.recv().await {
            if progress_line(&line) {
                timeline.at_instant(at, format!("deploy: {}", line.trim()));
            }
            self.output.push(line);
        }
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .await
            .unwrap();
        timeline.at(format!("deploy exited: {status}"));
        let story = format!(
            "timeline:\n{}\ndeploy stdout:\n{}\nstderr:\n{stderr}",
            timeline.render(),
            self.output.join("\n")
        );
        eprintln!("{story}");
        // Kept for the record (the README quotes them): target/lake-local/<range>/<record>.
        let _ = std::fs::write(local_config_path().with_file_name(record), &story);
        assert!(status.success(), "{story}");
        (story, self.output.join("\n"))
    }
}

async fn workers_in(state: &str) -> Vec<String> {
    let rows = run(
        &ops_client(),
        &format!(
            "SELECT node_id FROM system.runtime.nodes WHERE coordinator = false AND state = '{state}' ORDER BY 1"
        ),
    )
    .await;
    strings(&rows, 0)
}

/// A query whose result is far larger than Trino's buffers, to be read slowly: its tasks stay running on the
/// workers (their output is not consumed) for as long as the test holds it.
async fn slow_query(sql: &str) -> (trino_client::QueryStream, usize) {
    let client = client_builder("analyst").buffered_pages(2).build().unwrap();
    let mut stream = client.execute(sql).await.unwrap();
    let first = stream.next_batch().await.expect("a first batch").unwrap();
    (stream, first.len())
}

/// The next batch's row count (`None` at the end); a failed query fails the test with the timeline.
async fn next_rows(stream: &mut trino_client::QueryStream, timeline: &Timeline) -> Option<usize> {
    let batch = stream.next_batch().await?;
    Some(
        batch
            .unwrap_or_else(|e| {
                panic!(
                    "the query failed during the deploy: {e}\n{}",
                    timeline.render()
                )
            })
            .len(),
    )
}

async fn read_rest(stream: &mut trino_client::QueryStream, timeline: &Timeline) -> usize {
    let mut rows = 0;
    while let Some(n) = next_rows(stream, timeline).await {
        rows += n;
    }
    rows
}

fn runner_log() -> PathBuf {
    local_config_path().with_file_name("runner.log")
}

fn log_len() -> usize {
    std::fs::metadata(runner_log()).map_or(0, |m| m.len() as usize)
}

fn log_since(from: usize) -> String {
    let log = std::fs::read_to_string(runner_log()).unwrap();
    log[from.min(log.len())..].to_owned()
}

#[tokio::test]
async fn a_worker_change_rolls_the_workers_with_draining_and_a_running_query_survives() {
    let mut deployed = SERIAL.lock().await;
    let (config, text) = cpu_change_config(&deployed, "workers");
    let log_before = log_len();
    let mut timeline = Timeline::default();
    timeline.at("start");
    let before = workers_in("active").await;
    assert_eq!(
        before.len(),
        2,
        "the shared lake runs two workers: {before:?}"
    );
    assert_plan_touches_only(&config, "worker").await;

    let (mut stream, mut rows) =
        slow_query("SELECT orderkey, comment FROM tpch.sf1.lineitem").await;
    timeline.at(format!("query {} reading (slowly)", stream.query_id()));
    let mut deploy = Deploy::spawn(&config);
    timeline.at("deploy started");

    // Read slowly until a worker has been asked to drain and has had time to exit if it did not wait for us.
    let mut drain_requested: Option<Instant> = None;
    let hold = Duration::from_secs(30);
    let deadline = Instant::now() + Duration::from_secs(420);
    while drain_requested.is_none_or(|at| at.elapsed() < hold) {
        if drain_requested.is_none()
            && deploy
                .new_lines(&mut timeline)
                .iter()
                .any(|l| l.contains("SHUTTING_DOWN requested"))
        {
            drain_requested = Some(Instant::now());
        }
        assert!(
            Instant::now() < deadline,
            "no worker was drained within 420 s; deploy said:\n{}",
            deploy.output.join("\n")
        );
        match next_rows(&mut stream, &timeline).await {
            Some(n) => rows += n,
            None => panic!(
                "the result ended before the drain began ({rows} rows): make the query larger"
            ),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    timeline.at(format!(
        "held the query {} s after the first drain request ({rows} rows read)",
        hold.as_secs()
    ));
    let waiting = workers_in("active").await;
    let draining = workers_in("shutting_down").await;
    timeline.at(format!(
        "workers active {waiting:?}, shutting down (waiting for the query) {draining:?}"
    ));

    // Now read the rest at full speed: the old workers' tasks finish, and only then may they exit.
    rows += read_rest(&mut stream, &timeline).await;
    timeline.at(format!("query finished: {rows} rows"));
    assert_eq!(rows, 6_001_215, "every row of tpch.sf1.lineitem arrived");

    let (story, output) = deploy
        .finish(&mut timeline, "worker-rollout-timeline.txt")
        .await;
    *deployed = Some(text);
    assert!(
        output.contains("protected 2 running worker(s)"),
        "the old workers were protected before the service moved\n{story}"
    );
    assert_eq!(
        output.matches("exited: drained").count(),
        2,
        "both old workers drained and exited by themselves\n{story}"
    );
    assert!(
        waiting.len() >= 2,
        "while the drained workers waited for the query, replacements were active: {waiting:?}\n{story}"
    );
    assert!(
        !draining.is_empty() && draining.iter().all(|n| before.contains(n)),
        "an old worker was SHUTTING_DOWN and still there {} s after the drain request, waiting for the query: {draining:?}\n{story}",
        hold.as_secs()
    );
    let after = workers_in("active").await;
    assert_eq!(after.len(), 2, "{after:?}\n{story}");
    assert!(
        after.iter().all(|n| !before.contains(n)),
        "both workers were replaced: before {before:?}, after {after:?}\n{story}"
    );
    // The runner log says how each old worker ended: by itself, never stopped by the deployment.
    let log = log_since(log_before);
    assert!(
        !log.lines()
            .any(|l| l.contains("-worker-") && l.contains("stopped (task definition replaced)")),
        "no worker was stopped by the deployment:\n{log}\n{story}"
    );

    // A second deploy of the same config changes nothing and finds no rollout left to finish.
    let again = xtask(&config, &["deploy", "--yes"]).await.expect_success();
    assert!(!again.stdout.contains("SHUTTING_DOWN"), "{}", again.stdout);
}

#[tokio::test]
async fn a_coordinator_change_waits_for_the_running_query_and_measures_the_outage() {
    let mut deployed = SERIAL.lock().await;
    let (config, text) = cpu_change_config(&deployed, "coordinator");
    let log_before = log_len();
    let mut timeline = Timeline::default();
    timeline.at("start");
    assert_plan_touches_only(&config, "coordinator").await;

    let (mut stream, mut rows) = slow_query("SELECT orderkey, comment FROM tpch.sf1.orders").await;
    let query = stream.query_id();
    timeline.at(format!("query {query} reading (slowly)"));
    let mut deploy = Deploy::spawn(&config);
    timeline.at("deploy started");

    // The deploy waits for our query before it changes anything.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut waited: Option<Instant> = None;
    while waited.is_none_or(|at| at.elapsed() < Duration::from_secs(10)) {
        let new = deploy.new_lines(&mut timeline);
        assert!(
            !new.iter().any(|l| l.trim_start().starts_with("[1] ")),
            "nothing is applied while the query runs:\n{}",
            deploy.output.join("\n")
        );
        if waited.is_none()
            && new
                .iter()
                .any(|l| l.contains("waiting for 1 running query") && l.contains(&query))
        {
            waited = Some(Instant::now());
        }
        assert!(
            Instant::now() < deadline,
            "the deploy did not wait for the running query {query}:\n{}",
            deploy.output.join("\n")
        );
        rows += next_rows(&mut stream, &timeline).await.unwrap_or(0);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(
        !deploy
            .new_lines(&mut timeline)
            .iter()
            .any(|l| l.trim_start().starts_with("[1] ")),
        "nothing was applied while the query ran:\n{}",
        deploy.output.join("\n")
    );
    timeline.at("the deploy waited 10 s for the query, applying nothing");
    rows += read_rest(&mut stream, &timeline).await;
    timeline.at(format!("query finished: {rows} rows"));
    assert_eq!(rows, 1_500_000, "every row of tpch.sf1.orders arrived");

    let (story, output) = deploy
        .finish(&mut timeline, "coordinator-restart-timeline.txt")
        .await;
    *deployed = Some(text);
    let outage = output
        .lines()
        .find(|l| l.contains("coordinator unavailable for"))
        .unwrap_or_else(|| panic!("the deploy measured the outage\n{story}"));
    let seconds: f64 = outage
        .split("unavailable for ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a figure in {outage:?}"));
    assert!(seconds > 0.0 && seconds < 600.0, "{outage}\n{story}");
    let log = log_since(log_before);
    assert!(
        log.lines().any(
            |l| l.contains("-coordinator-") && l.contains("stopped (task definition replaced)")
        ),
        "the runner replaced the coordinator:\n{log}\n{story}"
    );
    // The cluster serves again: the new coordinator sees both workers and runs queries.
    assert_eq!(
        count(&ops_client(), "SELECT count(*) FROM tpch.tiny.nation").await,
        25
    );
    assert_eq!(workers_in("active").await.len(), 2, "{story}");
}

/// The coordinator's node id (a replaced coordinator has another).
async fn coordinator_node() -> Vec<String> {
    let rows = run(
        &ops_client(),
        "SELECT node_id FROM system.runtime.nodes WHERE coordinator",
    )
    .await;
    strings(&rows, 0)
}

/// A copy of the deployed config's `crm` catalog (PostgreSQL) with `properties`.
fn crm_with(doc: &toml::Table, properties: &[(&str, &str)]) -> toml::Value {
    let mut crm = doc["catalogs"]["crm"].as_table().unwrap().clone();
    let mut props = toml::Table::new();
    for (k, v) in properties {
        props.insert((*k).into(), (*v).into());
    }
    crm.insert("properties".into(), toml::Value::Table(props));
    toml::Value::Table(crm)
}

#[tokio::test]
async fn a_catalog_change_goes_live_without_a_restart_and_a_running_query_survives_it() {
    let mut deployed = SERIAL.lock().await;
    let added = unique_ident("live_added");
    let (config, text) = changed_config(&deployed, "catalogs", |doc| {
        // `crm` changed (a property every JDBC connector has), and a new catalog on the same database.
        let changed = crm_with(doc, &[("metadata.cache-ttl", "1s")]);
        let new = crm_with(doc, &[]);
        let catalogs = doc["catalogs"].as_table_mut().unwrap();
        catalogs.insert("crm".into(), changed);
        catalogs.insert(added.clone(), new);
    });
    let log_before = log_len();
    let mut timeline = Timeline::default();
    timeline.at("start");
    let plan = xtask(&config, &["plan"]).await.expect_success();
    assert!(
        plan.stdout
            .contains("~ catalogs of lake-local-coordinator: live on its running task"),
        "a catalog-only change is planned live:\n{}",
        plan.stdout
    );
    assert!(
        !plan.stdout.lines().any(|l| l.starts_with("~ service")),
        "no service moves:\n{}",
        plan.stdout
    );
    let analyst = client_builder("analyst").build().unwrap();
    let schema = unique_ident("live");
    run_all(
        &analyst,
        &[
            format!("CREATE SCHEMA crm.{schema}"),
            format!(
                "CREATE TABLE crm.{schema}.tag AS SELECT * FROM (VALUES (BIGINT '1', 'live')) AS t(id, tag)"
            ),
        ],
    )
    .await;
    let coordinator = coordinator_node().await;

    // A slow query over the catalog being changed (its small table joined to every lineitem row).
    let (mut stream, mut rows) = slow_query(&format!(
        "SELECT l.orderkey, l.comment, t.tag FROM tpch.sf1.lineitem l CROSS JOIN crm.{schema}.tag t"
    ))
    .await;
    let query = stream.query_id();
    timeline.at(format!("query {query} over crm reading (slowly)"));
    let mut deploy = Deploy::spawn(&config);
    timeline.at("deploy started");
    let deadline = Instant::now() + Duration::from_secs(240);
    while !deploy.exited() {
        deploy.new_lines(&mut timeline);
        assert!(
            Instant::now() < deadline,
            "the live deploy did not end within 240 s while the query ran:\n{}",
            deploy.output.join("\n")
        );
        match next_rows(&mut stream, &timeline).await {
            Some(n) => rows += n,
            None => panic!(
                "the result ended before the deploy did ({rows} rows): make the query larger"
            ),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    timeline.at(format!(
        "deploy exited while query {query} still ran ({rows} rows read)"
    ));
    let answered = lake_tests::trino::count(
        &analyst,
        &format!("SELECT count(*) FROM {added}.{schema}.tag"),
    )
    .await;
    timeline.at(format!("the new catalog {added} answers: {answered} row"));
    rows += read_rest(&mut stream, &timeline).await;
    timeline.at(format!("query {query} finished: {rows} rows"));
    let (story, output) = deploy
        .finish(&mut timeline, "catalog-live-timeline.txt")
        .await;
    *deployed = Some(text);
    let shown = catalogs(&ops_client()).await;
    let after = coordinator_node().await;
    run_best_effort(
        &analyst,
        &[
            format!("DROP TABLE crm.{schema}.tag"),
            format!("DROP SCHEMA crm.{schema}"),
        ],
    )
    .await;

    assert_eq!(rows, 6_001_215, "every row arrived\n{story}");
    assert_eq!(answered, 1, "{story}");
    assert!(shown.contains(&added), "SHOW CATALOGS: {shown:?}\n{story}");
    assert!(
        output.contains("catalog lake-local-coordinator"),
        "the live step ran\n{story}"
    );
    assert!(
        !output.contains("waiting for"),
        "a live change waits for no query\n{story}"
    );
    assert_eq!(
        coordinator, after,
        "the coordinator was not replaced\n{story}"
    );
    let log = log_since(log_before);
    assert!(
        !log.lines().any(|l| l.contains("stopped")),
        "no task was stopped:\n{log}\n{story}"
    );
    let again = xtask(&config, &["plan"]).await.expect_success();
    assert!(
        again.stdout.contains("no changes"),
        "the live change holds:\n{}",
        again.stdout
    );
    let status = xtask(&config, &["status"]).await.expect_success();
    assert!(
        status
            .stdout
            .contains("its catalogs live on a task started from lake-local-coordinator:"),
        "{}",
        status.stdout
    );
}

#[tokio::test]
async fn a_catalog_trino_refuses_is_undone_and_the_coordinator_keeps_its_catalogs() {
    let deployed = SERIAL.lock().await;
    let good = unique_ident("live_a_good");
    let bad = unique_ident("live_z_bad");
    let (config, _) = changed_config(&deployed, "refused", |doc| {
        let (ok, refused) = (
            crm_with(doc, &[]),
            crm_with(doc, &[("no-such.property", "1")]),
        );
        let catalogs = doc["catalogs"].as_table_mut().unwrap();
        catalogs.insert(good.clone(), ok);
        catalogs.insert(bad.clone(), refused);
    });
    let before = catalogs(&ops_client()).await;
    let coordinator = coordinator_node().await;
    let run = xtask(&config, &["deploy", "--yes", "--coordinator", &trino_url()]).await;
    let shown = catalogs(&ops_client()).await;
    // The store keeps what the failed deploy published (until #15 makes publication part of the plan).
    for name in [&good, &bad] {
        xtask(&config, &["catalog", "remove", name]).await;
    }
    assert!(
        !run.success,
        "Trino refuses the catalog:\n{}\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            "changing catalog {bad} on the running coordinator failed"
        )) && run.stderr.contains("no-such.property")
            && run.stderr.contains("every change before it was undone"),
        "the error names the catalog, Trino's answer and the undo:\n{}",
        run.stderr
    );
    assert_eq!(shown, before, "the coordinator has the catalogs it had");
    assert_eq!(coordinator_node().await, coordinator, "nothing restarted");
    // Deploying the config the cluster runs again converges without restarting anything: it registers the
    // coordinator's revision anew (the refused deploy left a newer one), and moves no service.
    let deployed_config = changed_config(&deployed, "after-refused", |_| {}).0;
    let converge = xtask(
        &deployed_config,
        &["deploy", "--yes", "--coordinator", &trino_url()],
    )
    .await
    .expect_success();
    assert!(
        !converge.stdout.contains("] service") && !converge.stdout.contains("] catalog"),
        "{}",
        converge.stdout
    );
    let plan = xtask(&deployed_config, &["plan"]).await.expect_success();
    assert!(plan.stdout.contains("no changes"), "{}", plan.stdout);
    assert_eq!(coordinator_node().await, coordinator, "nothing restarted");
}

/// `url` (a JDBC url `jdbc:<kind>://host:port/path`) with the port replaced by 9, where nothing listens.
fn dead_port(url: &str) -> String {
    let (head, rest) = url.split_once("://").unwrap();
    let (host_port, path) = rest.split_once('/').unwrap();
    let host = host_port.rsplit_once(':').map_or(host_port, |(h, _)| h);
    format!("{head}://{host}:9/{path}")
}

#[tokio::test]
async fn a_coordinator_trino_refuses_fails_the_deploy_and_rollback_restores_it() {
    let deployed = SERIAL.lock().await;
    // The event log pointed at a port where no MySQL listens: the coordinator's event listener cannot create its
    // table, and Trino does not start. Only the coordinator reads the event log.
    let (config, _) = changed_config(&deployed, "refused-coordinator", |doc| {
        let log = doc["event_log"].as_table_mut().unwrap();
        let url = dead_port(log["url"].as_str().unwrap());
        log.insert("url".into(), url.into());
    });
    assert_plan_touches_only(&config, "coordinator").await;
    let log_before = log_len();
    let mut timeline = Timeline::default();
    timeline.at("start");
    let url = trino_url();
    let failed = xtask(
        &config,
        &[
            "deploy",
            "--yes",
            "--coordinator",
            &url,
            "--coordinator-serve-timeout",
            "150",
        ],
    )
    .await;
    timeline.at(format!("deploy exited, success {}", failed.success));
    let down = lake_tests::trino::client_builder("analyst")
        .retry(trino_client::RetryPolicy {
            max_attempts: 1,
            ..Default::default()
        })
        .build()
        .unwrap()
        .fetch_all("SELECT 1")
        .await;
    timeline.at(format!(
        "a query while it is down: {:?}",
        down.as_ref().err()
    ));

    // The config the cluster ran before: rollback returns the coordinator to its revision.
    let good = changed_config(&deployed, "before-refused", |_| {}).0;
    let rolled = xtask(
        &good,
        &[
            "rollback",
            "--yes",
            "--coordinator",
            &url,
            "--coordinator-serve-timeout",
            "300",
        ],
    )
    .await;
    timeline.at(format!("rollback exited, success {}", rolled.success));
    let story = format!(
        "timeline:\n{}\ndeploy stdout:\n{}\ndeploy stderr:\n{}\nrollback stdout:\n{}\nrollback stderr:\n{}\nrunner log:\n{}",
        timeline.render(),
        failed.stdout,
        failed.stderr,
        rolled.stdout,
        rolled.stderr,
        log_since(log_before)
    );
    eprintln!("{story}");
    let _ = std::fs::write(
        local_config_path().with_file_name("refused-rollback-timeline.txt"),
        &story,
    );
    assert!(
        !failed.success,
        "the refused coordinator fails the deploy\n{story}"
    );
    assert!(
        failed.stdout.contains("the new coordinator does not serve"),
        "the deploy says what to do\n{story}"
    );
    assert!(
        down.is_err(),
        "no coordinator served while it was refused\n{story}"
    );
    assert!(rolled.success, "{story}");
    assert!(
        rolled
            .stdout
            .contains("~ service lake-local-coordinator: roll back")
            && rolled.stdout.contains("coordinator unavailable for"),
        "the rollback replaced the coordinator and measured the outage\n{story}"
    );
    assert_eq!(
        count(&ops_client(), "SELECT count(*) FROM tpch.tiny.nation").await,
        25,
        "{story}"
    );
    assert_eq!(workers_in("active").await.len(), 2, "{story}");

    // Deploying the good config again converges without a restart, and then nothing is left to do.
    let converge = xtask(&good, &["deploy", "--yes", "--coordinator", &url])
        .await
        .expect_success();
    assert!(
        !converge.stdout.contains("] service"),
        "{}\n{story}",
        converge.stdout
    );
    let plan = xtask(&good, &["plan"]).await.expect_success();
    assert!(
        plan.stdout.contains("no changes"),
        "{}\n{story}",
        plan.stdout
    );
}

#[tokio::test]
async fn a_catalog_deploy_killed_midway_converges_on_rerun_without_a_restart() {
    let mut deployed = SERIAL.lock().await;
    let added = unique_ident("killed_added");
    let (config, text) = changed_config(&deployed, "killed", |doc| {
        let new = crm_with(doc, &[]);
        doc["catalogs"]
            .as_table_mut()
            .unwrap()
            .insert(added.clone(), new);
    });
    let coordinator = coordinator_node().await;
    let log_before = log_len();
    let mut timeline = Timeline::default();
    timeline.at("start");
    let mut deploy = Deploy::spawn(&config);
    // Killed (SIGKILL, no cleanup) as soon as it has registered the coordinator's new revision: the parameters
    // and the revision exist, the live step has not run or is running, the lock is held.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let lines = deploy.new_lines(&mut timeline);
        if lines
            .iter()
            .any(|l| l.contains("] task-definition lake-local-coordinator"))
        {
            deploy.child.start_kill().unwrap();
            timeline.at("killed the deploy after it registered the revision");
            break;
        }
        assert!(
            !deploy.exited() && Instant::now() < deadline,
            "the deploy ended before it could be killed:\n{}",
            deploy.output.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = deploy.child.wait().await;
    let rerun = xtask(&config, &["deploy", "--yes", "--coordinator", &trino_url()]).await;
    timeline.at(format!("re-run exited, success {}", rerun.success));
    let plan = xtask(&config, &["plan"]).await.expect_success();
    let story = format!(
        "timeline:\n{}\nkilled deploy said:\n{}\nre-run:\n{}\n{}\nplan after:\n{}",
        timeline.render(),
        deploy.output.join("\n"),
        rerun.stdout,
        rerun.stderr,
        plan.stdout
    );
    eprintln!("{story}");
    let _ = std::fs::write(
        local_config_path().with_file_name("killed-catalog-deploy-timeline.txt"),
        &story,
    );
    assert!(
        rerun.success,
        "the re-run takes over the dead deploy's lock\n{story}"
    );
    assert!(plan.stdout.contains("no changes"), "{story}");
    *deployed = Some(text);
    assert!(
        catalogs(&ops_client()).await.contains(&added),
        "the catalog is live\n{story}"
    );
    assert_eq!(
        coordinator_node().await,
        coordinator,
        "nothing restarted\n{story}"
    );
    let log = log_since(log_before);
    assert!(
        !log.lines().any(|l| l.contains("stopped")),
        "{log}\n{story}"
    );
}
