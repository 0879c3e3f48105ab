use std::sync::{Arc, Mutex};

use aws_sdk_ecs::Client;
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
use aws_sdk_ecs::operation::update_task_protection::UpdateTaskProtectionOutput;
use aws_sdk_ecs::types::{Attachment, KeyValuePair, Service, Task};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;

use super::*;
use crate::render::OPS_USER;

/// A fake Trino worker on a real loopback socket, behaving like Trino's graceful shutdown: it reports its
/// state, accepts `SHUTTING_DOWN` only from the ops user, then finishes one running task per state poll and
/// exits (stops listening) once none is left. Like Trino, it serves no task list to outsiders.
#[derive(Debug)]
struct FakeNode {
    state: &'static str,
    running: u32,
    finishes: bool,
    transitions: Vec<&'static str>,
    exit: Arc<tokio::sync::Notify>,
    /// When `SHUTTING_DOWN` was requested.
    shut_at: Option<Instant>,
    /// Whether it stopped listening (its queries all finished).
    exited: bool,
}

type Shared = Arc<Mutex<FakeNode>>;

async fn get_state(State(node): State<Shared>) -> axum::Json<&'static str> {
    let mut n = node.lock().unwrap();
    if n.state == "SHUTTING_DOWN" && n.finishes {
        if n.running > 0 {
            n.running -= 1;
        } else {
            n.exited = true;
            n.exit.notify_one();
        }
    }
    axum::Json(n.state)
}

async fn put_state(State(node): State<Shared>, headers: HeaderMap, body: String) -> StatusCode {
    if headers.get("x-trino-user").and_then(|v| v.to_str().ok()) != Some(OPS_USER) {
        return StatusCode::FORBIDDEN;
    }
    if body != "\"SHUTTING_DOWN\"" {
        return StatusCode::BAD_REQUEST;
    }
    let mut n = node.lock().unwrap();
    n.state = "SHUTTING_DOWN";
    n.transitions.push("SHUTTING_DOWN");
    n.shut_at.get_or_insert_with(Instant::now);
    StatusCode::OK
}

async fn start_node(ip: &str, port: u16, running: u32, finishes: bool) -> Shared {
    let node = new_node(running, finishes);
    serve(ip, port, &node).await;
    node
}

/// A node that does not listen yet (a task whose Trino is still starting).
fn new_node(running: u32, finishes: bool) -> Shared {
    Arc::new(Mutex::new(FakeNode {
        state: "ACTIVE",
        running,
        finishes,
        transitions: vec!["ACTIVE"],
        exit: Arc::new(tokio::sync::Notify::new()),
        shut_at: None,
        exited: false,
    }))
}

async fn serve(ip: &str, port: u16, node: &Shared) {
    let exit = node.lock().unwrap().exit.clone();
    let app = Router::new()
        .route("/v1/info/state", get(get_state).put(put_state))
        .with_state(node.clone());
    let listener = tokio::net::TcpListener::bind((ip, port))
        .await
        .expect("bind a loopback address");
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { exit.notified().await })
            .await
            .unwrap()
    });
}

/// A coordinator reporting `running` unfinished tasks on each worker, as `system.runtime.tasks` would, and a
/// client of it acting as the ops user.
async fn coordinator(
    port: u16,
    running: &[(&str, u32)],
) -> (trino_client::replay::ReplayServer, trino_client::Client) {
    let rows: Vec<serde_json::Value> = running
        .iter()
        .map(|(ip, n)| serde_json::json!([format!("http://{ip}:{port}"), n]))
        .collect();
    let server = crate::testutil::coordinator(&[(
        crate::live::ACTIVE_TASKS_SQL,
        &[("http_uri", "varchar"), ("_col1", "bigint")],
        serde_json::Value::Array(rows),
    )])
    .await;
    let client = trino_client::Client::builder(server.url().as_str())
        .user(OPS_USER)
        .build()
        .unwrap();
    (server, client)
}

fn task(arn: &str, ip: &str, revision: &str) -> Task {
    Task::builder()
        .task_arn(arn)
        .task_definition_arn(revision)
        .attachments(
            Attachment::builder()
                .r#type("ElasticNetworkInterface")
                .details(
                    KeyValuePair::builder()
                        .name("privateIPv4Address")
                        .value(ip)
                        .build(),
                )
                .build(),
        )
        .build()
}

const TD: &str = "arn:aws:ecs:us-east-1:1:task-definition/lake-worker:2";

/// The ECS side through aws-smithy-mocks (three workers of the service's revision that ECS keeps listing):
/// answers, and records the writes with their arguments.
fn ecs(desired: i32, log: Arc<Mutex<Vec<String>>>) -> (Client, Vec<aws_smithy_mocks::Rule>) {
    let l = log.clone();
    let describe = mock!(Client::describe_services)
        .match_requests(move |_| {
            l.lock().unwrap().push("DescribeServices".into());
            true
        })
        .then_output(move || {
            DescribeServicesOutput::builder()
                .services(
                    Service::builder()
                        .desired_count(desired)
                        .task_definition(TD)
                        .build(),
                )
                .build()
        });
    let list = mock!(Client::list_tasks).then_output(|| {
        ListTasksOutput::builder()
            .task_arns("arn:task/a")
            .task_arns("arn:task/b")
            .task_arns("arn:task/c")
            .build()
    });
    let tasks = mock!(Client::describe_tasks).then_output(|| {
        DescribeTasksOutput::builder()
            .tasks(task("arn:task/a", "127.0.0.1", TD))
            .tasks(task("arn:task/b", "127.0.0.2", TD))
            .tasks(task("arn:task/c", "127.0.0.3", TD))
            .build()
    });
    let l = log.clone();
    let protect = mock!(Client::update_task_protection)
        .match_requests(move |r| {
            let mut tasks = r.tasks().to_vec();
            tasks.sort();
            l.lock().unwrap().push(format!(
                "UpdateTaskProtection enabled={} minutes={:?} {}",
                r.protection_enabled().unwrap_or_default(),
                r.expires_in_minutes(),
                tasks.join(",")
            ));
            true
        })
        .then_output(|| UpdateTaskProtectionOutput::builder().build());
    let l = log;
    let update = mock!(Client::update_service)
        .match_requests(move |r| {
            l.lock()
                .unwrap()
                .push(format!("UpdateService desired={:?}", r.desired_count()));
            true
        })
        .then_output(|| UpdateServiceOutput::builder().build());
    let rules = vec![describe, list, tasks, protect, update];
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &rules);
    (client, rules)
}

/// The calls that change something, in order.
fn writes(log: &Mutex<Vec<String>>) -> Vec<String> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|l| !l.starts_with("Describe"))
        .cloned()
        .collect()
}

async fn free_port() -> u16 {
    tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn options() -> ScaleOptions {
    ScaleOptions {
        grace_period: Duration::from_millis(200),
        drain_timeout: Duration::from_secs(10),
        poll: Duration::from_millis(20),
        protection_minutes: 60,
    }
}

#[tokio::test]
async fn scale_in_drains_the_least_busy_workers_and_releases_them_after_they_exit() {
    let port = free_port().await;
    let a = start_node("127.0.0.1", port, 0, true).await;
    let b = start_node("127.0.0.2", port, 2, true).await;
    let c = start_node("127.0.0.3", port, 5, true).await;
    let (server, coordinator) = coordinator(
        port,
        &[("127.0.0.1", 0), ("127.0.0.2", 2), ("127.0.0.3", 5)],
    )
    .await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let (client, _rules) = ecs(3, log.clone());
    let fleet = EcsWorkerFleet::from_client(client, "lake", "lake-worker").with_node_port(port);
    let mut lines = Vec::new();
    let report = scale_workers(
        &fleet,
        &HttpNodeApi::new().with_coordinator(coordinator),
        1,
        &options(),
        &mut |l: &str| lines.push(l.to_owned()),
    )
    .await
    .unwrap();

    assert_eq!(
        report,
        ScaleReport {
            from: 3,
            to: 1,
            drained: vec!["arn:task/a".into(), "arn:task/b".into()]
        }
    );
    let statements = crate::testutil::statements(&server);
    assert!(
        !statements.is_empty()
            && statements.iter().all(|s| *s
                == (
                    OPS_USER.to_owned(),
                    crate::live::ACTIVE_TASKS_SQL.to_owned()
                )),
        "the load comes from the coordinator, not from the workers' internal /v1/task: {statements:?}"
    );
    assert_eq!(
        writes(&log),
        [
            "UpdateTaskProtection enabled=true minutes=Some(60) arn:task/a,arn:task/b,arn:task/c",
            "UpdateService desired=Some(1)",
            "UpdateTaskProtection enabled=false minutes=None arn:task/a",
            "UpdateTaskProtection enabled=false minutes=None arn:task/b",
        ],
        "count lowered while every worker is protected; each drained worker released only after it exited, once"
    );
    assert_eq!(a.lock().unwrap().transitions, ["ACTIVE", "SHUTTING_DOWN"]);
    assert_eq!(b.lock().unwrap().transitions, ["ACTIVE", "SHUTTING_DOWN"]);
    assert!(a.lock().unwrap().exited && b.lock().unwrap().exited);
    assert_eq!(
        b.lock().unwrap().running,
        0,
        "it exited only after its queries finished"
    );
    assert_eq!(
        c.lock().unwrap().transitions,
        ["ACTIVE"],
        "the busiest worker keeps running"
    );
    assert_eq!(c.lock().unwrap().running, 5);
    assert!(
        lines.iter().any(|l| l == "arn:task/b: exited: drained"),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_drain_that_times_out_stops_nothing() {
    let port = free_port().await;
    let a = start_node("127.0.0.1", port, 3, false).await;
    let _b = start_node("127.0.0.2", port, 4, false).await;
    let _c = start_node("127.0.0.3", port, 5, false).await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let (client, _rules) = ecs(3, log.clone());
    let fleet = EcsWorkerFleet::from_client(client, "lake", "lake-worker").with_node_port(port);
    let options = ScaleOptions {
        drain_timeout: Duration::from_millis(300),
        ..options()
    };
    let err = scale_workers(&fleet, &HttpNodeApi::new(), 2, &options, &mut |_: &str| {})
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("nothing was stopped"), "{err}");
    assert_eq!(
        writes(&log),
        [
            "UpdateTaskProtection enabled=true minutes=Some(60) arn:task/a,arn:task/b,arn:task/c",
            "UpdateService desired=Some(2)",
        ],
        "no protection released: ECS can stop nothing while the victim still runs queries"
    );
    assert_eq!(
        a.lock().unwrap().transitions,
        ["ACTIVE", "SHUTTING_DOWN"],
        "without a coordinator the victim is chosen by task ARN"
    );
}

#[tokio::test]
async fn drain_loop_passes_never_wait_and_never_touch_the_count() {
    let port = free_port().await;
    let a = start_node("127.0.0.1", port, 1, true).await;
    let _b = start_node("127.0.0.2", port, 3, true).await;
    let _c = start_node("127.0.0.3", port, 4, true).await;
    let (_server, coordinator) = coordinator(
        port,
        &[("127.0.0.1", 1), ("127.0.0.2", 3), ("127.0.0.3", 4)],
    )
    .await;
    let log = Arc::new(Mutex::new(Vec::new()));
    // Autoscaling lowered the count to 2 while 3 protected workers run.
    let (client, _rules) = ecs(2, log.clone());
    let fleet = EcsWorkerFleet::from_client(client, "lake", "lake-worker").with_node_port(port);
    let nodes = HttpNodeApi::new().with_coordinator(coordinator);
    let mut drainer = Drainer::new(&fleet, &nodes, options());
    let first = drainer.pass(None, &mut |_: &str| {}).await.unwrap();
    assert_eq!(
        first.plan.shut_down,
        [("arn:task/a".to_owned(), format!("http://127.0.0.1:{port}"))]
    );
    assert!(
        !a.lock().unwrap().exited,
        "the pass returned without waiting for the drain"
    );
    let mut exited = Vec::new();
    for _ in 0..20 {
        exited.extend(drainer.pass(None, &mut |_: &str| {}).await.unwrap().exited);
    }
    assert_eq!(exited, ["arn:task/a"]);
    assert_eq!(a.lock().unwrap().transitions, ["ACTIVE", "SHUTTING_DOWN"]);
    assert_eq!(
        writes(&log),
        [
            "UpdateTaskProtection enabled=true minutes=Some(60) arn:task/a,arn:task/b,arn:task/c",
            "UpdateTaskProtection enabled=false minutes=None arn:task/a",
        ],
        "the count is autoscaling's; protection is not renewed before half its time; only the drained worker loses it, after it exited"
    );
}

#[tokio::test]
async fn scale_out_only_raises_the_count() {
    let port = free_port().await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let (client, _rules) = ecs(3, log.clone());
    let fleet = EcsWorkerFleet::from_client(client, "lake", "lake-worker").with_node_port(port);
    let report = scale_workers(
        &fleet,
        &HttpNodeApi::new(),
        4,
        &options(),
        &mut |_: &str| {},
    )
    .await
    .unwrap();
    assert_eq!(report.to, 4);
    assert_eq!(
        *log.lock().unwrap(),
        ["DescribeServices", "UpdateService desired=Some(4)"],
        "scaling out protects nothing, so no deployment is held up"
    );
}

/// A worker service in memory playing ECS during a deployment: it lists the tasks it was given, drops a task
/// whose node exited (ECS notices the container stopped), records protection changes with whether the node
/// had exited then, and fails the next `fail` calls to `service` with throttling.
struct FakeFleet {
    revision: String,
    tasks: Mutex<Vec<(WorkerTask, Shared)>>,
    log: Mutex<Vec<String>>,
    fail: std::sync::atomic::AtomicU32,
}

impl FakeFleet {
    /// The service on `revision` with `tasks`, failing the first `fail` service lookups.
    fn new(revision: &str, tasks: Vec<(WorkerTask, Shared)>, fail: u32) -> Self {
        Self {
            revision: revision.into(),
            tasks: Mutex::new(tasks),
            log: Mutex::new(Vec::new()),
            fail: std::sync::atomic::AtomicU32::new(fail),
        }
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

#[async_trait]
impl WorkerFleet for FakeFleet {
    fn service_name(&self) -> &str {
        "lake-worker"
    }

    async fn tasks(&self) -> Result<Vec<WorkerTask>> {
        let mut tasks = self.tasks.lock().unwrap();
        tasks.retain(|(_, node)| !node.lock().unwrap().exited);
        Ok(tasks.iter().map(|(t, _)| t.clone()).collect())
    }

    async fn service(&self) -> Result<ServiceState> {
        if self
            .fail
            .fetch_update(
                std::sync::atomic::Ordering::SeqCst,
                std::sync::atomic::Ordering::SeqCst,
                |n| n.checked_sub(1),
            )
            .is_ok()
        {
            return Err(Error::Throttled {
                operation: "ecs:DescribeServices",
            });
        }
        Ok(ServiceState {
            desired: 2,
            task_definition: self.revision.clone(),
            deployment: None,
        })
    }

    async fn protect(&self, tasks: &[String], protection: Protection) -> Result<()> {
        let all = self.tasks.lock().unwrap();
        for arn in tasks {
            let exited = all
                .iter()
                .find(|(t, _)| &t.arn == arn)
                .is_none_or(|(_, n)| n.lock().unwrap().exited);
            self.log.lock().unwrap().push(match protection {
                Protection::For { .. } => format!("protect {arn}"),
                Protection::Off => format!(
                    "release {arn}{}",
                    if exited { " (exited)" } else { " (RUNNING)" }
                ),
            });
        }
        Ok(())
    }

    async fn set_desired(&self, count: u32) -> Result<()> {
        self.log
            .lock()
            .unwrap()
            .push(format!("set_desired {count}"));
        Ok(())
    }
}

fn worker_task(arn: &str, ip: &str, port: u16, revision: &str) -> WorkerTask {
    WorkerTask {
        arn: arn.into(),
        node: Some(format!("http://{ip}:{port}")),
        task_definition: revision.into(),
        deployment: None,
    }
}

/// A deployment from revision 1 to 2: two busy old workers, two replacements whose Trino answers only
/// after `replacements_after` (never when `None`). Returns the fleet, the nodes and when the replacements came
/// up.
async fn deployment(
    port: u16,
    replacements_after: Option<Duration>,
) -> (Arc<FakeFleet>, [Shared; 4], Arc<Mutex<Option<Instant>>>) {
    let old1 = start_node("127.0.0.1", port, 2, true).await;
    let old2 = start_node("127.0.0.2", port, 4, true).await;
    let new1 = new_node(0, true);
    let new2 = new_node(0, true);
    let up = Arc::new(Mutex::new(None));
    if let Some(after) = replacements_after {
        let (n1, n2, up) = (new1.clone(), new2.clone(), up.clone());
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            serve("127.0.0.3", port, &n1).await;
            serve("127.0.0.4", port, &n2).await;
            *up.lock().unwrap() = Some(Instant::now());
        });
    }
    let fleet = Arc::new(FakeFleet::new(
        "td:2",
        vec![
            (worker_task("old1", "127.0.0.1", port, "td:1"), old1.clone()),
            (worker_task("old2", "127.0.0.2", port, "td:1"), old2.clone()),
            (worker_task("new1", "127.0.0.3", port, "td:2"), new1.clone()),
            (worker_task("new2", "127.0.0.4", port, "td:2"), new2.clone()),
        ],
        0,
    ));
    (fleet, [old1, old2, new1, new2], up)
}

#[tokio::test]
async fn a_worker_rollout_drains_each_old_worker_after_replacements_are_active_and_kills_nothing() {
    let port = free_port().await;
    let (fleet, [old1, old2, new1, new2], up) =
        deployment(port, Some(Duration::from_millis(300))).await;
    // Two passes fail with throttling on the way: the rollout goes on.
    fleet.fail.store(2, std::sync::atomic::Ordering::SeqCst);
    let nodes = HttpNodeApi::new();
    let mut drainer = Drainer::new(fleet.as_ref(), &nodes, options());
    let mut lines = Vec::new();
    let err = drainer
        .protect_for_rollout(&mut |l: &str| lines.push(l.to_owned()))
        .await;
    assert!(err.is_ok(), "{err:?}");
    let drained = drainer
        .finish_rollout(&mut |l: &str| lines.push(l.to_owned()))
        .await
        .unwrap();

    assert_eq!(drained, ["old1", "old2"]);
    let up = up.lock().unwrap().expect("the replacements came up");
    for old in [&old1, &old2] {
        let old = old.lock().unwrap();
        assert_eq!(old.transitions, ["ACTIVE", "SHUTTING_DOWN"]);
        assert!(
            old.exited && old.running == 0,
            "exited by itself after its queries"
        );
        assert!(
            old.shut_at.expect("drained") > up,
            "no old worker drains before its replacement is active"
        );
    }
    for new in [&new1, &new2] {
        assert_eq!(
            new.lock().unwrap().transitions,
            ["ACTIVE"],
            "replacements keep serving"
        );
    }
    let log = fleet.log();
    assert_eq!(
        log[..4],
        [
            "protect old1",
            "protect old2",
            "protect new1",
            "protect new2"
        ],
        "{log:?}"
    );
    assert!(
        log.iter()
            .filter(|l| l.starts_with("release"))
            .all(|l| l.ends_with("(exited)")),
        "protection is released only from workers that exited: {log:?}"
    );
    assert!(!log.iter().any(|l| l.starts_with("set_desired")), "{log:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("warning: drain pass failed")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_rollout_that_times_out_stops_nothing_and_the_next_run_finishes_it() {
    let port = free_port().await;
    let (fleet, [old1, old2, new1, new2], _) = deployment(port, None).await;
    let nodes = HttpNodeApi::new();
    let timeout = ScaleOptions {
        drain_timeout: Duration::from_millis(300),
        ..options()
    };
    let mut drainer = Drainer::new(fleet.as_ref(), &nodes, timeout);
    drainer
        .protect_for_rollout(&mut |_: &str| {})
        .await
        .unwrap();
    let err = drainer.finish_rollout(&mut |_: &str| {}).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(
        err.to_string().contains("nothing was stopped")
            && err.to_string().contains("run the deploy again"),
        "{err}"
    );
    assert_eq!(
        old1.lock().unwrap().transitions,
        ["ACTIVE"],
        "no replacement is active: nothing drains"
    );
    assert_eq!(old2.lock().unwrap().transitions, ["ACTIVE"]);
    assert!(
        !fleet.log().iter().any(|l| l.starts_with("release")),
        "{:?}",
        fleet.log()
    );

    // A later run (a new process: a new drainer) once the replacements are up.
    serve("127.0.0.3", port, &new1).await;
    serve("127.0.0.4", port, &new2).await;
    let mut again = Drainer::new(fleet.as_ref(), &nodes, options());
    let drained = again.finish_rollout(&mut |_: &str| {}).await.unwrap();
    assert_eq!(drained, ["old1", "old2"]);
    assert!(old1.lock().unwrap().exited && old2.lock().unwrap().exited);
}

#[tokio::test]
async fn unreachable_node_is_gone_and_forbidden_shutdown_is_explained() {
    let port = free_port().await;
    let api = HttpNodeApi::new();
    assert_eq!(
        api.state(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap(),
        NodeState::Gone
    );
    let _node = start_node("127.0.0.1", port, 0, true).await;
    let err = api.shut_down(&format!("http://127.0.0.1:{port}/")).await;
    assert!(err.is_ok(), "{err:?}");
    let other = reqwest::Client::new()
        .put(format!("http://127.0.0.1:{port}/v1/info/state"))
        .header("X-Trino-User", "analyst")
        .body("\"SHUTTING_DOWN\"")
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        403,
        "the fake enforces the same rule as rules.json"
    );
}

#[tokio::test]
async fn finishing_a_rollout_on_a_settled_fleet_writes_nothing() {
    let port = free_port().await;
    let a = start_node("127.0.0.1", port, 1, true).await;
    let b = start_node("127.0.0.2", port, 0, true).await;
    let fleet = FakeFleet::new(
        "td:2",
        vec![
            (worker_task("a", "127.0.0.1", port, "td:2"), a),
            (worker_task("b", "127.0.0.2", port, "td:2"), b),
        ],
        0,
    );
    let nodes = HttpNodeApi::new();
    let drained = Drainer::new(&fleet, &nodes, options())
        .finish_rollout(&mut |_: &str| {})
        .await
        .unwrap();
    assert!(drained.is_empty());
    assert!(
        fleet.log().is_empty(),
        "a deploy that moved no worker protects, drains and releases nothing: {:?}",
        fleet.log()
    );
}

#[tokio::test]
async fn a_rollout_that_reaches_no_worker_is_refused_before_the_service_moves() {
    let port = free_port().await;
    // Listed by ECS, but nothing answers at their addresses from here (a deploy run outside the VPC).
    let fleet = FakeFleet::new(
        "td:1",
        vec![
            (
                worker_task("a", "127.0.0.1", port, "td:1"),
                new_node(3, true),
            ),
            (
                worker_task("b", "127.0.0.2", port, "td:1"),
                new_node(1, true),
            ),
        ],
        0,
    );
    let nodes = HttpNodeApi::new();
    let err = Drainer::new(&fleet, &nodes, options())
        .protect_for_rollout(&mut |_: &str| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("none of the 2 running workers answers")
            && err.contains("nothing was applied"),
        "{err}"
    );
    assert_eq!(
        fleet.log(),
        ["protect a", "protect b"],
        "protected, never released: unreachable is no proof they are idle"
    );
}

/// Counts the hook's calls.
struct Hook(std::sync::atomic::AtomicU32);

#[async_trait]
impl BeforePass for Hook {
    async fn before_pass(&self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn the_drain_loop_runs_the_hook_every_pass_and_survives_transient_failures() {
    let port = free_port().await;
    let a = start_node("127.0.0.1", port, 0, true).await;
    // The first two passes are throttled.
    let fleet = FakeFleet::new(
        "td:1",
        vec![(worker_task("a", "127.0.0.1", port, "td:1"), a)],
        2,
    );
    let nodes = HttpNodeApi::new();
    let mut drainer = Drainer::new(&fleet, &nodes, options());
    let hook = Hook(std::sync::atomic::AtomicU32::new(0));
    let mut lines = Vec::new();
    drain_loop(
        &mut drainer,
        Duration::from_millis(5),
        Some(4),
        &hook,
        &mut |l: &str| lines.push(l.to_owned()),
    )
    .await
    .unwrap();
    assert_eq!(
        hook.0.load(std::sync::atomic::Ordering::SeqCst),
        4,
        "the metric is published on every pass, failed or not"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("warning: drain pass failed"))
            .count(),
        2,
        "{lines:?}"
    );
    assert!(lines[1].contains("failure 2 in a row"), "{lines:?}");
    assert_eq!(
        fleet.log(),
        ["protect a"],
        "after the failures the loop protected the worker, once (renewal only after half the protection)"
    );
}

/// A fleet whose service lookup is refused for good.
struct Refused;

#[async_trait]
impl WorkerFleet for Refused {
    fn service_name(&self) -> &str {
        "lake-worker"
    }
    async fn tasks(&self) -> Result<Vec<WorkerTask>> {
        Ok(Vec::new())
    }
    async fn service(&self) -> Result<ServiceState> {
        Err(Error::AccessDenied {
            operation: "ecs:DescribeServices",
            message: "not allowed".into(),
        })
    }
    async fn protect(&self, _: &[String], _: Protection) -> Result<()> {
        Ok(())
    }
    async fn set_desired(&self, _: u32) -> Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_drain_loop_ends_on_an_error_retrying_cannot_fix() {
    let nodes = HttpNodeApi::new();
    let mut drainer = Drainer::new(&Refused, &nodes, options());
    let hook = Hook(std::sync::atomic::AtomicU32::new(0));
    let err = drain_loop(
        &mut drainer,
        Duration::from_millis(5),
        None,
        &hook,
        &mut |_: &str| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::AccessDenied { .. }), "{err}");
    assert_eq!(hook.0.load(std::sync::atomic::Ordering::SeqCst), 1);
}
