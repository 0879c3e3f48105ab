//! Deploys that kill no query, judged by the real local cluster: `cargo xtask deploy` of a worker-only change,
//! pointed at the ECS facade in front of the emulator (the runner answers the task calls from its real Trino
//! tasks and honours task protection as ECS does), rolls the workers with draining while a query reads from
//! them.
//!
//! This target changes the shared cluster (its workers move to a new revision), so it is its own test binary:
//! cargo runs test binaries one after another, never beside the `trino_cluster` tests.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lake_tests::trino::{client_builder, local_config_path, ops_client, run, trino_url, xtask_bin};
use tokio::io::AsyncBufReadExt as _;

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

/// The shared lake's effective config with the facade as the AWS endpoint and `workers.cpu` raised: a change
/// that only the worker task definition sees (the runner does not enforce cpu, Fargate would).
fn worker_change_config() -> PathBuf {
    let text = std::fs::read_to_string(local_config_path()).unwrap();
    let mut doc: toml::Table = text.parse().unwrap();
    doc["aws"]
        .as_table_mut()
        .unwrap()
        .insert("endpoint_url".into(), facade_url().into());
    let workers = doc["cluster"]["workers"].as_table_mut().unwrap();
    let cpu = workers["cpu"].as_integer().unwrap();
    workers.insert(
        "cpu".into(),
        toml::Value::Integer(if cpu == 1024 { 512 } else { 1024 }),
    );
    // Beside the effective config, so any relative path in it still resolves.
    let path = local_config_path().with_file_name("rollout.toml");
    std::fs::write(&path, toml::to_string(&doc).unwrap()).unwrap();
    path
}

/// A timeline of what happened, for the failure message and the closing note.
#[derive(Default)]
struct Timeline {
    started: Option<Instant>,
    lines: Vec<String>,
}

impl Timeline {
    fn at(&mut self, what: impl Into<String>) {
        let started = *self.started.get_or_insert_with(Instant::now);
        self.lines.push(format!(
            "{:>6.1} s  {}",
            started.elapsed().as_secs_f64(),
            what.into()
        ));
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
    lake_tests::trino::strings(&rows, 0)
}

async fn active_workers() -> Vec<String> {
    workers_in("active").await
}

#[tokio::test]
async fn a_worker_change_rolls_the_workers_with_draining_and_a_running_query_survives() {
    let config = worker_change_config();
    let runner_log = local_config_path().with_file_name("runner.log");
    let log_before = std::fs::metadata(&runner_log).map_or(0, |m| m.len() as usize);
    let mut timeline = Timeline::default();
    timeline.at("start");
    let before = active_workers().await;
    assert_eq!(
        before.len(),
        2,
        "the shared lake runs two workers: {before:?}"
    );

    // The plan: only the worker family and the worker service change.
    let plan = lake_tests::trino::xtask(&config, &["plan"])
        .await
        .expect_success();
    let changes: Vec<&str> = plan
        .stdout
        .lines()
        .filter(|l| l.starts_with("+ ") || l.starts_with("~ ") || l.starts_with("- "))
        .collect();
    assert!(
        !changes.is_empty() && changes.iter().all(|l| l.contains("-worker")),
        "a workers.cpu change touches the workers only:\n{}",
        plan.stdout
    );

    // A query whose result is far larger than the buffers, read slowly: its tasks stay running on the workers
    // (their output is not consumed) for as long as this test holds it.
    let client = client_builder("analyst").buffered_pages(2).build().unwrap();
    let mut stream = client
        .execute("SELECT orderkey, comment FROM tpch.sf1.lineitem")
        .await
        .unwrap();
    let mut rows = 0usize;
    let first = stream.next_batch().await.expect("a first batch").unwrap();
    rows += first.len();
    timeline.at(format!("query {} reading (slowly)", stream.query_id()));

    // The deploy, as a user runs it, with the coordinator given so the least busy workers drain first.
    let mut deploy = tokio::process::Command::new(xtask_bin())
        .arg("-c")
        .arg(&config)
        .args([
            "deploy",
            "--yes",
            "--drain-timeout",
            "600",
            "--coordinator",
            &trino_url(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = tokio::io::BufReader::new(deploy.stdout.take().unwrap()).lines();
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        while let Ok(Some(line)) = out.next_line().await {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    timeline.at("deploy started");

    // Read slowly until a worker has been asked to drain and has had time to exit if it did not wait for us.
    let mut output = Vec::new();
    let mut drain_requested: Option<Instant> = None;
    let hold = Duration::from_secs(30);
    let deadline = Instant::now() + Duration::from_secs(420);
    loop {
        while let Ok(line) = lines.try_recv() {
            if line.contains("SHUTTING_DOWN requested") && drain_requested.is_none() {
                drain_requested = Some(Instant::now());
            }
            if line.contains("workers:") || line.contains("applied") {
                timeline.at(format!("deploy: {}", line.trim()));
            }
            output.push(line);
        }
        if drain_requested.is_some_and(|at| at.elapsed() >= hold) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no worker was drained within 420 s; deploy said:\n{}",
            output.join("\n")
        );
        match stream.next_batch().await {
            Some(batch) => {
                rows += batch
                    .unwrap_or_else(|e| {
                        panic!(
                            "the query failed during the rollout: {e}\n{}",
                            timeline.lines.join("\n")
                        )
                    })
                    .len()
            }
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
    let waiting = active_workers().await;
    let draining = workers_in("shutting_down").await;
    timeline.at(format!(
        "workers active {waiting:?}, shutting down (waiting for the query) {draining:?}"
    ));

    // Now read the rest at full speed: the old workers' tasks finish, and only then may they exit.
    while let Some(batch) = stream.next_batch().await {
        rows += batch
            .unwrap_or_else(|e| {
                panic!(
                    "the query failed during the rollout: {e}\n{}",
                    timeline.lines.join("\n")
                )
            })
            .len();
    }
    timeline.at(format!("query finished: {rows} rows"));
    assert_eq!(rows, 6_001_215, "every row of tpch.sf1.lineitem arrived");

    let status = tokio::time::timeout(Duration::from_secs(300), deploy.wait())
        .await
        .expect("the deploy finished within 300 s of the query")
        .unwrap();
    while let Some(line) = lines.recv().await {
        if line.contains("workers:") || line.contains("applied") {
            timeline.at(format!("deploy: {}", line.trim()));
        }
        output.push(line);
    }
    let mut stderr = String::new();
    use tokio::io::AsyncReadExt as _;
    deploy
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    timeline.at(format!("deploy exited: {status}"));
    let story = format!(
        "timeline:\n{}\ndeploy stdout:\n{}\nstderr:\n{stderr}",
        timeline.lines.join("\n"),
        output.join("\n")
    );
    eprintln!("{story}");
    // Kept for the record (the README quotes it): target/lake-local/<range>/rollout-timeline.txt.
    let _ = std::fs::write(
        local_config_path().with_file_name("rollout-timeline.txt"),
        &story,
    );
    assert!(status.success(), "{story}");

    let output = output.join("\n");
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
    let after = active_workers().await;
    assert_eq!(after.len(), 2, "{after:?}\n{story}");
    assert!(
        after.iter().all(|n| !before.contains(n)),
        "both workers were replaced: before {before:?}, after {after:?}\n{story}"
    );

    // The runner log says how each old worker ended: by itself, never stopped by the deployment.
    let log = std::fs::read_to_string(&runner_log).unwrap();
    let log = &log[log_before.min(log.len())..];
    assert!(
        !log.lines()
            .any(|l| l.contains("-worker-") && l.contains("stopped (task definition replaced)")),
        "no worker was stopped by the deployment:\n{log}\n{story}"
    );

    // A second deploy of the same config changes nothing and finds no rollout left to finish.
    let again = lake_tests::trino::xtask(&config, &["deploy", "--yes"])
        .await
        .expect_success();
    assert!(!again.stdout.contains("SHUTTING_DOWN"), "{}", again.stdout);
}
