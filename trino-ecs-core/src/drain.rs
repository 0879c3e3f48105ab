//! Scaling workers without killing queries.
//!
//! Trino does not drain on SIGTERM (trino#1234): ECS stopping a busy worker kills its queries. Trino drains
//! itself after `PUT /v1/info/state "SHUTTING_DOWN"`: it takes no new tasks, sleeps the grace period, waits for
//! its running tasks, sleeps again and exits. Workers therefore run with ECS task scale-in protection, and to
//! remove workers [`scale_workers`]:
//! 1. protects every running worker, so ECS can stop none of them on its own;
//! 2. picks the workers with the fewest unfinished tasks (as the coordinator reports them) and puts each into
//!    `SHUTTING_DOWN`;
//! 3. lowers the service's desired count: ECS wants fewer tasks but every task is protected, so it stops none;
//! 4. waits until each drained worker has exited by itself (its queries finished): it is unreachable or no
//!    longer a running task. Since the desired count is already lower, ECS does not replace it;
//! 5. releases protection, so rolling deployments are not held up by it.
//!
//! If draining times out, nothing is killed: the drained workers stay protected and in `SHUTTING_DOWN` (they take
//! no new work and exit once their queries finish), and the desired count is already the new one.
//!
//! Automatic scale-in: Application Auto Scaling's target tracking lowers the desired count, and ECS would then
//! stop any worker (killing its queries) unless it is protected. [`follow_autoscaling`] (`cargo xtask scale
//! --follow <seconds>`) is the drain loop that carries the autoscaler's decision out safely: each pass
//! protects every running worker (new ones too) for a short, renewed period, drains the excess and releases only
//! the drained workers' protection. Without the loop, workers are unprotected and a scale-in stops an arbitrary
//! worker: run the loop wherever target tracking may scale in, or set `workers.min = workers.max`.

use std::fmt;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::render::{HTTP_PORT, OPS_USER};

/// A Trino node's state as `/v1/info/state` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeState {
    /// Serving.
    Active,
    /// Draining: no new tasks.
    ShuttingDown,
    /// Not serving.
    Inactive,
    /// Unreachable: the process has exited.
    Gone,
    /// Anything else Trino reports.
    Other(String),
}

/// A node's `/v1/info`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    /// Trino's version.
    #[serde(default)]
    pub node_version: serde_json::Value,
    /// `node.environment`.
    #[serde(default)]
    pub environment: String,
    /// Whether it is the coordinator.
    #[serde(default)]
    pub coordinator: bool,
    /// Whether it is still starting.
    #[serde(default)]
    pub starting: bool,
    /// Uptime, e.g. `3.45h`.
    #[serde(default)]
    pub uptime: String,
}

impl fmt::Display for NodeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let version = self
            .node_version
            .get("version")
            .and_then(|v| v.as_str())
            .unwrap_or("?");
        write!(
            f,
            "version {version}, environment {}, {}, uptime {}{}",
            self.environment,
            if self.coordinator {
                "coordinator"
            } else {
                "worker"
            },
            self.uptime,
            if self.starting { ", starting" } else { "" }
        )
    }
}

/// The node-state calls draining needs. `node` is a base URL such as `http://10.0.1.7:8080`.
#[async_trait]
pub trait NodeStateApi: Send + Sync {
    /// `GET /v1/info/state`; an unreachable node is [`NodeState::Gone`].
    async fn state(&self, node: &str) -> Result<NodeState>;
    /// `PUT /v1/info/state` with `"SHUTTING_DOWN"`.
    async fn shut_down(&self, node: &str) -> Result<()>;
    /// Unfinished tasks per active worker node, as the coordinator reports them; used only to choose which
    /// workers to drain (the least busy). Empty when no coordinator is known.
    async fn load(&self) -> Result<std::collections::BTreeMap<String, u32>>;
}

/// [`NodeStateApi`] over HTTP, acting as the ops user the access-control rules allow to shut nodes down.
#[derive(Debug, Clone)]
pub struct HttpNodeApi {
    http: reqwest::Client,
    coordinator: Option<trino_client::Client>,
}

impl Default for HttpNodeApi {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpNodeApi {
    /// A client with short timeouts (nodes are on the same network). Connections are not pooled: a node that
    /// exited must show as unreachable on the next poll, not as an error on a stale connection.
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(0)
            .build()
            .expect("a reqwest client builds");
        Self {
            http,
            coordinator: None,
        }
    }

    /// Asks this coordinator (through trino-client, as the ops user) how busy each worker is, so the least busy
    /// workers are drained.
    pub fn with_coordinator(mut self, coordinator: trino_client::Client) -> Self {
        self.coordinator = Some(coordinator);
        self
    }

    /// `GET /v1/info`.
    pub async fn info(&self, node: &str) -> Result<NodeInfo> {
        let response = self.get(node, "/v1/info").await?;
        response
            .json()
            .await
            .map_err(|e| trino(node, format!("unreadable /v1/info: {e}")))
    }

    async fn get(&self, node: &str, path: &str) -> Result<reqwest::Response> {
        let response = self
            .http
            .get(format!("{}{path}", node.trim_end_matches('/')))
            .header("X-Trino-User", OPS_USER)
            .send()
            .await
            .map_err(|e| trino(node, format!("GET {path}: {e}")))?;
        if !response.status().is_success() {
            return Err(trino(
                node,
                format!("GET {path}: HTTP {}", response.status()),
            ));
        }
        Ok(response)
    }
}

fn trino(node: &str, reason: String) -> Error {
    Error::Trino {
        node: node.to_owned(),
        reason,
    }
}

fn gone(e: &reqwest::Error) -> bool {
    e.is_connect() || e.is_timeout()
}

#[async_trait]
impl NodeStateApi for HttpNodeApi {
    async fn state(&self, node: &str) -> Result<NodeState> {
        let url = format!("{}/v1/info/state", node.trim_end_matches('/'));
        let response = match self
            .http
            .get(&url)
            .header("X-Trino-User", OPS_USER)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) if gone(&e) => return Ok(NodeState::Gone),
            Err(e) => return Err(trino(node, format!("GET /v1/info/state: {e}"))),
        };
        if !response.status().is_success() {
            return Err(trino(
                node,
                format!("GET /v1/info/state: HTTP {}", response.status()),
            ));
        }
        let state: String = response
            .json()
            .await
            .map_err(|e| trino(node, format!("unreadable state: {e}")))?;
        Ok(match state.as_str() {
            "ACTIVE" => NodeState::Active,
            "SHUTTING_DOWN" => NodeState::ShuttingDown,
            "INACTIVE" => NodeState::Inactive,
            _ => NodeState::Other(state),
        })
    }

    async fn shut_down(&self, node: &str) -> Result<()> {
        let response = self
            .http
            .put(format!("{}/v1/info/state", node.trim_end_matches('/')))
            .header("X-Trino-User", OPS_USER)
            .header("Content-Type", "application/json")
            .body("\"SHUTTING_DOWN\"")
            .send()
            .await
            .map_err(|e| trino(node, format!("PUT /v1/info/state: {e}")))?;
        match response.status().as_u16() {
            200..=299 => Ok(()),
            403 => Err(trino(
                node,
                format!(
                    "the access-control rules do not let {OPS_USER} shut nodes down (HTTP 403)"
                ),
            )),
            code => Err(trino(node, format!("PUT /v1/info/state: HTTP {code}"))),
        }
    }

    async fn load(&self) -> Result<std::collections::BTreeMap<String, u32>> {
        match &self.coordinator {
            Some(client) => crate::live::active_tasks_by_node(client).await,
            None => Ok(Default::default()),
        }
    }
}

/// A running worker task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerTask {
    /// The ECS task ARN.
    pub arn: String,
    /// Its Trino base URL, `http://<private ip>:8080`, once it has an address.
    pub node: Option<String>,
}

/// The worker service's tasks and count.
#[async_trait]
pub trait WorkerFleet: Send + Sync {
    /// Running worker tasks.
    async fn tasks(&self) -> Result<Vec<WorkerTask>>;
    /// The service's desired count.
    async fn desired(&self) -> Result<u32>;
    /// Sets or clears scale-in protection of `tasks` (for `minutes` when set).
    async fn protect(&self, tasks: &[String], enabled: bool, minutes: i32) -> Result<()>;
    /// Sets the service's desired count.
    async fn set_desired(&self, count: u32) -> Result<()>;
}

/// How [`scale_workers`] drains.
#[derive(Debug, Clone)]
pub struct ScaleOptions {
    /// Trino's `shutdown.grace-period`, for the progress lines (a drained worker exits no earlier than twice
    /// this).
    pub grace_period: Duration,
    /// Give up waiting after this long (nothing is killed then).
    pub drain_timeout: Duration,
    /// Interval between polls.
    pub poll: Duration,
    /// Protection length in minutes (ECS allows 1..=2880); renewed while a drain waits.
    pub protection_minutes: i32,
}

impl Default for ScaleOptions {
    fn default() -> Self {
        Self {
            grace_period: Duration::from_secs(120),
            drain_timeout: Duration::from_secs(3600),
            poll: Duration::from_secs(5),
            protection_minutes: 10,
        }
    }
}

/// What [`scale_workers`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScaleReport {
    /// The desired count before.
    pub from: u32,
    /// The desired count after.
    pub to: u32,
    /// The drained task ARNs.
    pub drained: Vec<String>,
}

impl fmt::Display for ScaleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "workers {} -> {}", self.from, self.to)?;
        if !self.drained.is_empty() {
            write!(
                f,
                " ({} drained: {})",
                self.drained.len(),
                self.drained.join(", ")
            )?;
        }
        Ok(())
    }
}

/// Sets the worker count to `target`; when that removes workers, drains them first (see the module docs).
pub async fn scale_workers(
    fleet: &dyn WorkerFleet,
    nodes: &dyn NodeStateApi,
    target: u32,
    options: &ScaleOptions,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<ScaleReport> {
    let from = fleet.desired().await?;
    converge(fleet, nodes, from, target, true, options, progress).await
}

/// One pass of the drain loop that carries out automatic scale-in safely: protects every running worker
/// (new ones included), and when autoscaling has lowered the desired count below the running workers, drains
/// the excess and releases only their protection, so ECS stops exactly the drained ones. Run it periodically
/// (e.g. `cargo xtask scale --follow`).
pub async fn follow_autoscaling(
    fleet: &dyn WorkerFleet,
    nodes: &dyn NodeStateApi,
    options: &ScaleOptions,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<ScaleReport> {
    let desired = fleet.desired().await?;
    converge(fleet, nodes, desired, desired, false, options, progress).await
}

async fn converge(
    fleet: &dyn WorkerFleet,
    nodes: &dyn NodeStateApi,
    from: u32,
    target: u32,
    one_shot: bool,
    options: &ScaleOptions,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<ScaleReport> {
    let tasks = fleet.tasks().await?;
    let arns: Vec<String> = tasks.iter().map(|t| t.arn.clone()).collect();
    let excess = (tasks.len() as u32).saturating_sub(target) as usize;
    // The drain loop keeps every worker protected between passes, so autoscaling can stop none by itself; a
    // one-shot scale needs protection only while it drains.
    if !arns.is_empty() && (excess > 0 || !one_shot) {
        fleet
            .protect(&arns, true, options.protection_minutes)
            .await?;
    }
    if excess == 0 {
        if one_shot && from != target {
            fleet.set_desired(target).await?;
            progress(&format!("desired count {from} -> {target}"));
        }
        return Ok(ScaleReport {
            from,
            to: target,
            drained: Vec::new(),
        });
    }

    // Least busy first: they drain soonest. Tasks without an address run no Trino yet.
    let load = nodes.load().await?;
    let busy = |task: &WorkerTask| {
        task.node.as_deref().map_or(0, |n| {
            load.get(n.trim_end_matches('/')).copied().unwrap_or(0)
        })
    };
    let mut ranked: Vec<(u32, &WorkerTask)> = tasks.iter().map(|t| (busy(t), t)).collect();
    ranked.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.arn.cmp(&b.1.arn)));
    let victims: Vec<WorkerTask> = ranked
        .into_iter()
        .take(excess)
        .map(|(_, t)| t.clone())
        .collect();
    let kept: Vec<String> = arns
        .iter()
        .filter(|a| !victims.iter().any(|v| &v.arn == *a))
        .cloned()
        .collect();

    let (addressed, bare): (Vec<&WorkerTask>, Vec<&WorkerTask>) =
        victims.iter().partition(|v| v.node.is_some());
    for victim in &addressed {
        let node = victim.node.as_deref().unwrap_or_default();
        nodes.shut_down(node).await?;
        progress(&format!(
            "{}: SHUTTING_DOWN requested at {node}",
            victim.arn
        ));
    }
    if !bare.is_empty() {
        // No Trino address, no query: ECS may stop these at once.
        let bare: Vec<String> = bare.iter().map(|v| v.arn.clone()).collect();
        fleet
            .protect(&bare, false, options.protection_minutes)
            .await?;
    }
    if one_shot {
        // Every draining worker is protected, so ECS stops none of them now; each exits by itself when its
        // queries are done and is then not replaced.
        fleet.set_desired(target).await?;
        progress(&format!(
            "desired count {from} -> {target}; waiting for {} draining worker(s) to exit (at least 2 x {} s grace period)",
            addressed.len(),
            options.grace_period.as_secs()
        ));
    }

    let started = Instant::now();
    let mut renewed = Instant::now();
    let renew_every = Duration::from_secs(options.protection_minutes.max(1) as u64 * 30);
    let mut pending: Vec<&WorkerTask> = addressed;
    while !pending.is_empty() {
        let running: Vec<String> = fleet.tasks().await?.into_iter().map(|t| t.arn).collect();
        let mut still = Vec::new();
        for victim in pending {
            let node = victim.node.as_deref().unwrap_or_default();
            let state = if running.contains(&victim.arn) {
                nodes.state(node).await?
            } else {
                NodeState::Gone
            };
            let done = state == NodeState::Gone;
            progress(&format!(
                "{}: {state:?}{}",
                victim.arn,
                if done { ", exited: drained" } else { "" }
            ));
            if !done {
                still.push(victim);
            }
        }
        pending = still;
        if pending.is_empty() {
            break;
        }
        if started.elapsed() >= options.drain_timeout {
            return Err(Error::Timeout {
                what: format!(
                    "{} draining worker(s) to exit; they stay protected and SHUTTING_DOWN (no new work), and exit once their queries finish; nothing was stopped",
                    pending.len()
                ),
                seconds: options.drain_timeout.as_secs(),
            });
        }
        if renewed.elapsed() >= renew_every {
            let protected: Vec<String> = kept
                .iter()
                .cloned()
                .chain(pending.iter().map(|v| v.arn.clone()))
                .collect();
            fleet
                .protect(&protected, true, options.protection_minutes)
                .await?;
            renewed = Instant::now();
        }
        tokio::time::sleep(options.poll).await;
    }

    // Release protection: of the drained workers still listed (ECS may not have noticed the exit yet), and on a
    // one-shot scale of every worker, so protection does not hold up the next rolling deployment.
    let listed: Vec<String> = fleet.tasks().await?.into_iter().map(|t| t.arn).collect();
    let drained: Vec<String> = victims.iter().map(|v| v.arn.clone()).collect();
    let release: Vec<String> = listed
        .into_iter()
        .filter(|a| one_shot || drained.contains(a))
        .collect();
    // Best effort: the drain is done, a task may stop between the listing and this call, and protection lapses
    // by itself within `protection_minutes` anyway.
    if !release.is_empty()
        && let Err(e) = fleet
            .protect(&release, false, options.protection_minutes)
            .await
    {
        progress(&format!(
            "warning: releasing protection failed ({e}); it lapses within {} minutes",
            options.protection_minutes
        ));
    }
    progress(&format!(
        "{} worker(s) drained and exited; desired count {from} -> {target}",
        drained.len()
    ));
    Ok(ScaleReport {
        from,
        to: target,
        drained,
    })
}

/// [`WorkerFleet`] over ECS: the worker service's running tasks, task scale-in protection and desired count.
#[derive(Debug, Clone)]
pub struct EcsWorkerFleet {
    ecs: aws_sdk_ecs::Client,
    cluster: String,
    service: String,
    port: u16,
}

impl EcsWorkerFleet {
    /// The fleet of `service` in `cluster`.
    pub fn new(sdk: &aws_config::SdkConfig, cluster: &str, service: &str) -> Self {
        Self::from_client(aws_sdk_ecs::Client::new(sdk), cluster, service)
    }

    /// The fleet over an existing client.
    pub fn from_client(ecs: aws_sdk_ecs::Client, cluster: &str, service: &str) -> Self {
        Self {
            ecs,
            cluster: cluster.to_owned(),
            service: service.to_owned(),
            port: HTTP_PORT,
        }
    }

    /// Trino's HTTP port on the workers, when it is not [`HTTP_PORT`].
    pub fn with_node_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }
}

#[async_trait]
impl WorkerFleet for EcsWorkerFleet {
    async fn tasks(&self) -> Result<Vec<WorkerTask>> {
        use crate::error::aws;
        let mut arns = Vec::new();
        let mut pages = self
            .ecs
            .list_tasks()
            .cluster(&self.cluster)
            .service_name(&self.service)
            .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            arns.extend(
                page.map_err(|e| aws("ecs:ListTasks", e))?
                    .task_arns()
                    .iter()
                    .cloned(),
            );
        }
        let mut out = Vec::new();
        for chunk in arns.chunks(100) {
            let described = self
                .ecs
                .describe_tasks()
                .cluster(&self.cluster)
                .set_tasks(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| aws("ecs:DescribeTasks", e))?;
            for task in described.tasks() {
                let ip = task
                    .attachments()
                    .iter()
                    .flat_map(|a| a.details())
                    .find(|d| d.name() == Some("privateIPv4Address"))
                    .and_then(|d| d.value());
                out.push(WorkerTask {
                    arn: task.task_arn().unwrap_or_default().to_owned(),
                    node: ip.map(|ip| format!("http://{ip}:{}", self.port)),
                });
            }
        }
        Ok(out)
    }

    async fn desired(&self) -> Result<u32> {
        let out = self
            .ecs
            .describe_services()
            .cluster(&self.cluster)
            .services(&self.service)
            .send()
            .await
            .map_err(|e| crate::error::aws("ecs:DescribeServices", e))?;
        let service = out.services().first().ok_or_else(|| Error::NotFound {
            operation: "ecs:DescribeServices",
            message: format!("service {} in cluster {}", self.service, self.cluster),
        })?;
        Ok(service.desired_count().max(0) as u32)
    }

    async fn protect(&self, tasks: &[String], enabled: bool, minutes: i32) -> Result<()> {
        // UpdateTaskProtection takes at most 10 tasks per call.
        for chunk in tasks.chunks(10) {
            let mut req = self
                .ecs
                .update_task_protection()
                .cluster(&self.cluster)
                .set_tasks(Some(chunk.to_vec()))
                .protection_enabled(enabled);
            if enabled {
                req = req.expires_in_minutes(minutes);
            }
            let out = req
                .send()
                .await
                .map_err(|e| crate::aws::unimplemented_or_aws("ecs:UpdateTaskProtection", e))?;
            if let Some(failure) = out.failures().first() {
                return Err(Error::InvalidParameter {
                    operation: "ecs:UpdateTaskProtection",
                    message: format!(
                        "{}: {}",
                        failure.arn().unwrap_or("?"),
                        failure.reason().unwrap_or("failed")
                    ),
                });
            }
        }
        Ok(())
    }

    async fn set_desired(&self, count: u32) -> Result<()> {
        self.ecs
            .update_service()
            .cluster(&self.cluster)
            .service(&self.service)
            .desired_count(crate::error::api_count("desired count", count)?)
            .send()
            .await
            .map_err(|e| crate::error::aws("ecs:UpdateService", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
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
    }

    type Shared = Arc<Mutex<FakeNode>>;

    async fn get_state(State(node): State<Shared>) -> axum::Json<&'static str> {
        let mut n = node.lock().unwrap();
        if n.state == "SHUTTING_DOWN" && n.finishes {
            if n.running > 0 {
                n.running -= 1;
            } else {
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
        StatusCode::OK
    }

    async fn start_node(ip: &str, port: u16, running: u32, finishes: bool) -> Shared {
        let exit = Arc::new(tokio::sync::Notify::new());
        let node = Arc::new(Mutex::new(FakeNode {
            state: "ACTIVE",
            running,
            finishes,
            transitions: vec!["ACTIVE"],
            exit: exit.clone(),
        }));
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
        node
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

    fn task(arn: &str, ip: &str) -> Task {
        Task::builder()
            .task_arn(arn)
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

    /// The ECS side through aws-smithy-mocks: answers, and records the call sequence with its arguments.
    fn ecs(desired: i32, log: Arc<Mutex<Vec<String>>>) -> (Client, Vec<aws_smithy_mocks::Rule>) {
        let l = log.clone();
        let describe = mock!(Client::describe_services)
            .match_requests(move |_| {
                l.lock().unwrap().push("DescribeServices".into());
                true
            })
            .then_output(move || {
                DescribeServicesOutput::builder()
                    .services(Service::builder().desired_count(desired).build())
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
                .tasks(task("arn:task/a", "127.0.0.1"))
                .tasks(task("arn:task/b", "127.0.0.2"))
                .tasks(task("arn:task/c", "127.0.0.3"))
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
        assert_eq!(
            crate::testutil::statements(&server),
            [(
                OPS_USER.to_owned(),
                crate::live::ACTIVE_TASKS_SQL.to_owned()
            )],
            "the load comes from the coordinator, not from the workers' internal /v1/task"
        );
        assert_eq!(
            *log.lock().unwrap(),
            [
                "DescribeServices",
                "UpdateTaskProtection enabled=true minutes=Some(60) arn:task/a,arn:task/b,arn:task/c",
                "UpdateService desired=Some(1)",
                "UpdateTaskProtection enabled=false minutes=None arn:task/a,arn:task/b,arn:task/c",
            ],
            "count lowered while every worker is protected; protection released only after the drained ones exited"
        );
        assert_eq!(a.lock().unwrap().transitions, ["ACTIVE", "SHUTTING_DOWN"]);
        assert_eq!(b.lock().unwrap().transitions, ["ACTIVE", "SHUTTING_DOWN"]);
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
            lines
                .iter()
                .any(|l| l.contains("arn:task/b: Gone, exited: drained")),
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
            *log.lock().unwrap(),
            [
                "DescribeServices",
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
    async fn following_autoscaling_drains_the_excess_and_never_touches_the_count() {
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
        let report = follow_autoscaling(
            &fleet,
            &HttpNodeApi::new().with_coordinator(coordinator),
            &options(),
            &mut |_: &str| {},
        )
        .await
        .unwrap();
        assert_eq!(report.drained, ["arn:task/a"]);
        assert_eq!(a.lock().unwrap().transitions, ["ACTIVE", "SHUTTING_DOWN"]);
        assert_eq!(
            *log.lock().unwrap(),
            [
                "DescribeServices",
                "UpdateTaskProtection enabled=true minutes=Some(60) arn:task/a,arn:task/b,arn:task/c",
                "UpdateTaskProtection enabled=false minutes=None arn:task/a",
            ],
            "the count is autoscaling's; only the drained worker loses protection"
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
}
