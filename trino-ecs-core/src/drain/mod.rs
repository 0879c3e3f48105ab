//! Scaling and rolling workers without killing queries.
//!
//! Trino does not drain on SIGTERM (trino#1234): ECS stopping a busy worker kills its queries. Trino drains
//! itself after `PUT /v1/info/state "SHUTTING_DOWN"`: it takes no new tasks, sleeps the grace period, waits for
//! its running tasks, sleeps again and exits. ECS task scale-in protection keeps ECS from stopping a worker,
//! on scale-in and in deployments alike. So workers run protected, and a [`Drainer`] pass ([`pass::plan_pass`]
//! decides, from what the service and the nodes report):
//! 1. protects the workers that stay (renewed before it lapses), and every worker of an older revision until
//!    enough workers of the service's revision are active to take its place;
//! 2. puts the workers to remove into `SHUTTING_DOWN`, least busy first (as the coordinator's
//!    `system.runtime.tasks` reports them): those above the wanted count, and the older revision's ones
//!    once they are covered;
//! 3. keeps a draining worker protected until it has exited by itself (its queries finished), then releases
//!    it, so ECS never stops it while it finishes its work and does not replace it (the count is lower, or
//!    the deployment wants the new revision).
//!
//! Three callers run passes:
//! - [`scale_workers`] (`cargo xtask scale N`): a pass, the desired count lowered while every worker is
//!   protected, then passes until the drained workers have exited;
//! - the drain loop (`cargo xtask scale --follow`): one pass every few seconds, each quick (it never waits for a
//!   drain), so the loop also publishes the queue metric on time; a pass that fails for a transient reason
//!   (throttling, a node or AWS briefly unreachable) is retried with backoff, and protection outlasts a few
//!   failed passes. Application Auto Scaling lowers the count; the loop drains the excess;
//! - a worker deployment ([`Drainer::protect_for_rollout`] before the service moves to the new revision,
//!   [`Drainer::finish_rollout`] after): ECS starts the replacements but can stop no protected old worker;
//!   each old worker drains once a replacement is active. A timeout kills nothing: the old workers stay
//!   protected and draining, and the next deploy (or the drain loop) finishes the rollout.
//!
//! What a pass drains is derived from the nodes' own state plus what this process asked, so a restarted loop
//! or a re-run deploy continues where the last one stopped.

pub mod ecs;
pub mod http;
pub mod pass;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

use async_trait::async_trait;

pub use self::ecs::EcsWorkerFleet;
pub use self::http::HttpNodeApi;
use self::pass::{FleetView, PassPlan, Worker, plan_pass};
use crate::error::{Error, Result};

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

impl fmt::Display for NodeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NodeState::Active => "ACTIVE",
            NodeState::ShuttingDown => "SHUTTING_DOWN",
            NodeState::Inactive => "INACTIVE",
            NodeState::Gone => "unreachable",
            NodeState::Other(s) => s,
        })
    }
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

/// A running worker task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerTask {
    /// The ECS task ARN.
    pub arn: String,
    /// Its Trino base URL, `http://<private ip>:8080`, once it has an address.
    pub node: Option<String>,
    /// The task definition (revision) it runs.
    pub task_definition: String,
    /// The service deployment that started it (ECS's `startedBy`), when known.
    pub deployment: Option<String>,
}

/// What the worker service wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceState {
    /// The desired count.
    pub desired: u32,
    /// The task definition (revision) it runs: tasks of any other are being replaced.
    pub task_definition: String,
    /// Its primary deployment, when known: tasks another deployment started are being replaced too (a new
    /// deployment of the same revision, e.g. after a rotated secret).
    pub deployment: Option<String>,
}

/// Task scale-in protection to set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// Protected for this many minutes (ECS allows 1..=2880).
    For {
        /// Minutes.
        minutes: i32,
    },
    /// Not protected: ECS may stop the task.
    Off,
}

/// The worker service's tasks and count.
#[async_trait]
pub trait WorkerFleet: Send + Sync {
    /// The service's name.
    fn service_name(&self) -> &str;
    /// Running worker tasks.
    async fn tasks(&self) -> Result<Vec<WorkerTask>>;
    /// The service's desired count and revision.
    async fn service(&self) -> Result<ServiceState>;
    /// Sets or clears scale-in protection of `tasks`.
    async fn protect(&self, tasks: &[String], protection: Protection) -> Result<()>;
    /// Sets the service's desired count.
    async fn set_desired(&self, count: u32) -> Result<()>;
}

/// How draining runs.
#[derive(Debug, Clone)]
pub struct ScaleOptions {
    /// Trino's `shutdown.grace-period`, for the progress lines (a drained worker exits no earlier than twice
    /// this).
    pub grace_period: Duration,
    /// Give up waiting after this long (nothing is killed then).
    pub drain_timeout: Duration,
    /// Interval between passes while waiting.
    pub poll: Duration,
    /// Protection length in minutes (ECS allows 1..=2880); renewed once half of it has passed.
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

/// What one [`Drainer::pass`] saw and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassReport {
    /// The service as the pass saw it.
    pub service: ServiceState,
    /// What it decided.
    pub plan: PassPlan,
    /// Workers it asked to drain that have now exited.
    pub exited: Vec<String>,
}

/// Runs drain passes over one worker fleet, remembering across passes which workers it asked to shut down
/// and when it last renewed each protection.
pub struct Drainer<'a> {
    fleet: &'a dyn WorkerFleet,
    nodes: &'a dyn NodeStateApi,
    options: ScaleOptions,
    /// Workers asked to shut down, and whether their exit was reported.
    asked: BTreeMap<String, bool>,
    /// The protection this drainer last set on each listed worker.
    held: BTreeMap<String, Held>,
    /// The state last reported for each draining worker (a line only when it changes).
    reported: BTreeMap<String, String>,
}

/// Protection a [`Drainer`] set on a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    /// Protected (or renewed) at this time.
    Since(Instant),
    /// Released: not released again while listed.
    Released,
}

impl<'a> Drainer<'a> {
    /// A drainer that has asked nothing yet.
    pub fn new(
        fleet: &'a dyn WorkerFleet,
        nodes: &'a dyn NodeStateApi,
        options: ScaleOptions,
    ) -> Self {
        Self {
            fleet,
            nodes,
            options,
            asked: BTreeMap::new(),
            held: BTreeMap::new(),
            reported: BTreeMap::new(),
        }
    }

    /// The fleet's service name.
    pub fn service_name(&self) -> &str {
        self.fleet.service_name()
    }

    /// The options.
    pub fn options(&self) -> &ScaleOptions {
        &self.options
    }

    /// The workers this drainer asked to shut down.
    fn asked(&self) -> BTreeSet<String> {
        self.asked.keys().cloned().collect()
    }

    /// Protects `arns` for `protection_minutes` and remembers when.
    async fn protect(&mut self, arns: Vec<String>) -> Result<()> {
        if arns.is_empty() {
            return Ok(());
        }
        self.fleet
            .protect(
                &arns,
                Protection::For {
                    minutes: self.options.protection_minutes,
                },
            )
            .await?;
        let now = Instant::now();
        for arn in arns {
            self.held.insert(arn, Held::Since(now));
        }
        Ok(())
    }

    async fn view(&self) -> Result<(ServiceState, FleetView)> {
        let service = self.fleet.service().await?;
        let tasks = self.fleet.tasks().await?;
        // The load only orders the workers to drain: without it they are taken by task ARN.
        let load = if tasks.is_empty() {
            BTreeMap::new()
        } else {
            self.nodes.load().await.unwrap_or_default()
        };
        let mut workers = Vec::with_capacity(tasks.len());
        for task in tasks {
            let state = match &task.node {
                Some(node) => self.nodes.state(node).await?,
                None => NodeState::Gone,
            };
            let load = task
                .node
                .as_deref()
                .and_then(|n| load.get(n.trim_end_matches('/')).copied())
                .unwrap_or(0);
            workers.push(Worker {
                arn: task.arn,
                node: task.node,
                revision: task.task_definition,
                deployment: task.deployment,
                state,
                load,
            });
        }
        let view = FleetView {
            revision: service.task_definition.clone(),
            deployment: service.deployment.clone(),
            workers,
        };
        Ok((service, view))
    }

    /// One pass towards `target` workers (`None`: the service's desired count, i.e. autoscaling's): protects,
    /// drains and releases as [`plan_pass`] decides, without waiting for anything.
    pub async fn pass(
        &mut self,
        target: Option<u32>,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<PassReport> {
        let (service, view) = self.view().await?;
        let plan = plan_pass(&view, target.unwrap_or(service.desired), &self.asked());
        // Renew a protection once half of it has passed; a task first seen (or released) is protected at once.
        let half = Duration::from_secs(self.options.protection_minutes.max(1) as u64 * 30);
        let due: Vec<String> = plan
            .protect
            .iter()
            .filter(|a| match self.held.get(*a) {
                Some(Held::Since(at)) => at.elapsed() >= half,
                _ => true,
            })
            .cloned()
            .collect();
        self.protect(due).await?;
        for (arn, node) in &plan.shut_down {
            self.nodes.shut_down(node).await?;
            self.asked.insert(arn.clone(), false);
            progress(&format!("{arn}: SHUTTING_DOWN requested at {node}"));
        }
        for arn in &plan.draining {
            let state = view
                .workers
                .iter()
                .find(|w| &w.arn == arn)
                .map(|w| w.state.to_string())
                .unwrap_or_default();
            if self.reported.get(arn) != Some(&state) {
                progress(&format!("{arn}: {state}, draining"));
                self.reported.insert(arn.clone(), state);
            }
        }
        let release: Vec<String> = plan
            .release
            .iter()
            .filter(|a| self.held.get(*a) != Some(&Held::Released))
            .cloned()
            .collect();
        if !release.is_empty() {
            // Best effort: a task may stop between the listing and this call, and protection lapses by itself
            // within `protection_minutes` anyway.
            if let Err(e) = self.fleet.protect(&release, Protection::Off).await {
                progress(&format!(
                    "warning: releasing protection failed ({e}); it lapses within {} minutes",
                    self.options.protection_minutes
                ));
            }
            for arn in release {
                self.held.insert(arn, Held::Released);
            }
        }
        // Drained workers that exited: released above while ECS still lists them, or no longer listed.
        let listed: BTreeSet<&str> = view.workers.iter().map(|w| w.arn.as_str()).collect();
        let mut exited = Vec::new();
        self.asked.retain(|arn, reported| {
            let listed = listed.contains(arn.as_str());
            if !*reported && (!listed || plan.release.contains(arn)) {
                exited.push(arn.clone());
                *reported = true;
            }
            listed
        });
        for arn in &exited {
            progress(&format!("{arn}: exited: drained"));
        }
        // Forget tasks ECS no longer lists.
        self.held.retain(|a, _| listed.contains(a.as_str()));
        self.reported.retain(|a, _| listed.contains(a.as_str()));
        Ok(PassReport {
            service,
            plan,
            exited,
        })
    }

    /// A pass, retried (with backoff, within `drain_timeout` from `started`) while it fails for a transient
    /// reason.
    async fn pass_retrying(
        &mut self,
        target: Option<u32>,
        started: Instant,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<PassReport> {
        let mut failures = 0u32;
        loop {
            match self.pass(target, progress).await {
                Ok(report) => return Ok(report),
                Err(e) if e.is_transient() && started.elapsed() < self.options.drain_timeout => {
                    failures += 1;
                    progress(&format!("warning: drain pass failed ({e}); retrying"));
                    tokio::time::sleep(self.options.poll * 2u32.pow(failures.min(5))).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Passes towards `target` every `poll` until the last one settled (nothing drains, no older revision
    /// runs), within `drain_timeout` from `started`. Returns the workers that exited after draining.
    async fn wait_settled(
        &mut self,
        mut last: PassReport,
        target: Option<u32>,
        started: Instant,
        resume: &str,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Vec<String>> {
        let mut exited = std::mem::take(&mut last.exited);
        while !last.plan.settled() {
            if started.elapsed() >= self.options.drain_timeout {
                return Err(Error::Timeout {
                    what: format!(
                        "{} draining worker(s) to exit and {} of an older revision to be replaced; they stay protected, draining ones SHUTTING_DOWN (no new work) until their queries finish; nothing was stopped; {resume}",
                        last.plan.draining.len() + last.plan.shut_down.len(),
                        last.plan.old
                    ),
                    seconds: self.options.drain_timeout.as_secs(),
                });
            }
            tokio::time::sleep(self.options.poll).await;
            last = self.pass_retrying(target, started, progress).await?;
            exited.append(&mut last.exited);
        }
        Ok(exited)
    }

    /// Before the worker service moves to a new revision: protects every running worker, so ECS (whose
    /// deployment would stop them with SIGTERM) can stop none of them.
    pub async fn protect_for_rollout(
        &mut self,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<()> {
        let tasks = self.fleet.tasks().await?;
        if tasks.is_empty() {
            return Ok(());
        }
        self.protect(tasks.iter().map(|t| t.arn.clone()).collect())
            .await?;
        progress(&format!(
            "protected {} running worker(s) for {} min: the deployment starts replacements but stops none of them",
            tasks.len(),
            self.options.protection_minutes
        ));
        // Draining needs each worker's Trino: a deploy that reaches none (run from outside the VPC, say) would
        // wait for nothing it can drain. Refused before the service moves. (A node that fails to answer in time
        // is busy, not gone.)
        let nodes: Vec<&str> = tasks.iter().filter_map(|t| t.node.as_deref()).collect();
        let mut unreachable = 0;
        for node in &nodes {
            if matches!(self.nodes.state(node).await, Ok(NodeState::Gone)) {
                unreachable += 1;
            }
        }
        if !nodes.is_empty() && unreachable == nodes.len() {
            return Err(Error::Trino {
                node: nodes[0].to_owned(),
                reason: format!(
                    "none of the {} running workers answers at its address, so none can be drained; run the deploy where the workers' private addresses are reachable (inside the VPC); nothing was applied (they stay protected for {} min)",
                    nodes.len(),
                    self.options.protection_minutes
                ),
            });
        }
        Ok(())
    }

    /// After the worker service moved to a new revision (or to finish a rollout a timeout or a crash left):
    /// drains each older worker once a replacement is active, until no older worker runs.
    pub async fn finish_rollout(
        &mut self,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Vec<String>> {
        let started = Instant::now();
        // Nothing to roll (the usual case of a deploy that did not move the workers): read only, so a deploy with
        // nothing to change makes no write.
        // (A failed read is retried by the passes below.)
        if let Ok((service, view)) = self.view().await
            && plan_pass(&view, service.desired, &self.asked()).settled()
        {
            return Ok(Vec::new());
        }
        let first = self.pass_retrying(None, started, progress).await?;
        if first.plan.settled() {
            return Ok(first.exited);
        }
        progress(&format!(
            "rolling {} older worker(s): each drains once a replacement is active, and exits after its queries (at least 2 x {} s grace period)",
            first.plan.old,
            self.options.grace_period.as_secs()
        ));
        self.wait_settled(
            first,
            None,
            started,
            "run the deploy again (or keep `cargo xtask scale --follow` running) to finish the rollout",
            progress,
        )
        .await
    }
}

/// What the drain loop runs before each pass (e.g. publishing the queue metric the step scaling policy
/// watches). It reports its own failures: the loop goes on.
#[async_trait]
pub trait BeforePass: Send + Sync {
    /// Runs once per pass.
    async fn before_pass(&self);
}

/// The drain loop (`cargo xtask scale --follow`): every `every`, [`BeforePass::before_pass`] and one
/// [`Drainer::pass`] towards autoscaling's count; neither waits for a drain. A pass that fails for a transient
/// reason is reported and retried after 2, then 4 intervals; any other failure ends the loop with its error.
/// Runs `passes` passes when given (tests), else until an error ends it.
pub async fn drain_loop(
    drainer: &mut Drainer<'_>,
    every: Duration,
    passes: Option<u64>,
    hook: &dyn BeforePass,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<()> {
    let mut failures = 0u32;
    let mut done = 0u64;
    while passes.is_none_or(|n| done < n) {
        hook.before_pass().await;
        match drainer.pass(None, progress).await {
            Ok(report) => {
                failures = 0;
                if !report.plan.shut_down.is_empty() || !report.exited.is_empty() {
                    progress(&format!(
                        "{} (desired {})",
                        report.plan, report.service.desired
                    ));
                }
            }
            Err(e) if e.is_transient() => {
                failures += 1;
                progress(&format!(
                    "warning: drain pass failed ({e}); retrying (failure {failures} in a row)"
                ));
            }
            Err(e) => return Err(e),
        }
        done += 1;
        tokio::time::sleep(every * (1 << failures.min(2))).await;
    }
    Ok(())
}

/// Sets the worker count to `target`; when that removes workers, drains them first (see the module docs).
pub async fn scale_workers(
    fleet: &dyn WorkerFleet,
    nodes: &dyn NodeStateApi,
    target: u32,
    options: &ScaleOptions,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<ScaleReport> {
    let from = fleet.service().await?.desired;
    let running = fleet.tasks().await?.len();
    if running <= target as usize {
        // Nothing to remove: no protection, so no deployment is held up.
        if from != target {
            fleet.set_desired(target).await?;
            progress(&format!("desired count {from} -> {target}"));
        }
        return Ok(ScaleReport {
            from,
            to: target,
            drained: Vec::new(),
        });
    }
    let mut drainer = Drainer::new(fleet, nodes, options.clone());
    let started = Instant::now();
    let first = drainer
        .pass_retrying(Some(target), started, progress)
        .await?;
    if from != target {
        // Every remaining worker is protected, so ECS stops none of them now; each drained one exits by
        // itself when its queries are done and is then not replaced.
        fleet.set_desired(target).await?;
        progress(&format!(
            "desired count {from} -> {target}; waiting for {} draining worker(s) to exit (at least 2 x {} s grace period)",
            first.plan.shut_down.len() + first.plan.draining.len(),
            options.grace_period.as_secs()
        ));
    }
    let drained = drainer
        .wait_settled(
            first,
            Some(target),
            started,
            "run the scale again to wait for them",
            progress,
        )
        .await?;
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

#[cfg(test)]
mod tests;
