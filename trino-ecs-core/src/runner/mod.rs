//! A local task runner: the ECS agent the AWS emulator does not have.
//!
//! moto stores ECS services and task definitions but never runs a task. [`LocalRunner`] plays the agent for
//! an emulator: for every service of a cluster it reads the task definition and desired count
//! ([`TaskSource`], implemented over ECS and SSM by [`ecs::EmulatorTasks`]), resolves every `secrets` entry
//! the way ECS does (SecureStrings decrypted), and runs the container's own command as a local process
//! ([`TaskLauncher`], implemented by [`process::ProcessLauncher`]) with the image's paths mapped to local
//! directories. It stops tasks the way ECS does (SIGTERM, then SIGKILL after the container's `stopTimeout`),
//! replaces tasks whose task definition changed (surging first when the service's `maximumPercent` allows
//! it, as ECS does), starts a replacement when a task exits, and follows desired-count changes.
//!
//! Networking: every task gets its own loopback address (`127.0.77.N`, the way awsvpc gives each task its
//! own interface) and a hosts file, read by the JVM through `-Djdk.net.hosts.file`, in which `localhost`
//! and the task's hostname resolve to that address and each Service Connect alias resolves to the address
//! of the task that serves it. Every local substitution is reported as a [`RunnerEvent`]; none is written
//! into the rendered files, which stay exactly as the emulator holds them.
//!
//! What it cannot show: the container image itself (the local install stands in for it), container health
//! checks and the deployment circuit breaker (the runner replaces exited tasks but never judges health),
//! task placement and resource limits (cpu/memory are not enforced), and ECS's choice of which unprotected task
//! to stop on scale-in (the newest here). Task scale-in protection is honoured as ECS does (a protected task
//! is stopped neither by a deployment nor by a lower count): [`facade`] serves the task calls
//! (ListTasks, DescribeTasks, UpdateTaskProtection, GetTaskProtection) from the runner's tasks in front of
//! the emulator, so the drain code runs unchanged against real Trino tasks.
//!
//! This module is pure; [`ecs`] and [`process`] are the adapters.

pub mod ecs;
pub mod facade;
pub mod process;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::Result;
use crate::model::SecretString;

/// One service as the emulator holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceView {
    /// The service name.
    pub name: String,
    /// The task definition ARN the service runs.
    pub task_definition: String,
    /// How many tasks should run.
    pub desired_count: u32,
    /// `deploymentConfiguration.maximumPercent`: above 100, new tasks start before old ones stop.
    pub maximum_percent: u32,
}

/// The parts of a task definition the runner needs (its one container).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDefView {
    /// The task definition ARN.
    pub arn: String,
    /// `family:revision`.
    pub family_revision: String,
    /// The container's command (the image's entrypoint is not used: the lake's task definitions always
    /// give a full command).
    pub command: Vec<String>,
    /// Plain `environment` entries.
    pub environment: BTreeMap<String, String>,
    /// `secrets` entries: variable name to `valueFrom` (an SSM parameter ARN or name).
    pub secrets: BTreeMap<String, String>,
    /// `stopTimeout`: seconds between SIGTERM and SIGKILL (ECS's default is 30).
    pub stop_timeout: Duration,
    /// The container port (the task serves on it at its own address).
    pub port: u16,
}

/// Reads services and task definitions and resolves secrets: the emulator side of the agent.
#[async_trait]
pub trait TaskSource: Send + Sync {
    /// Every service of the cluster that is not being deleted.
    async fn services(&self) -> Result<Vec<ServiceView>>;
    /// The task definition `arn` (task definitions are immutable, so callers may cache this).
    async fn task_definition(&self, arn: &str) -> Result<TaskDefView>;
    /// The values of `secrets` (variable name to `valueFrom`), SecureStrings decrypted, as ECS injects them.
    async fn resolve_secrets(
        &self,
        secrets: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, SecretString>>;
}

/// Everything a launcher needs to start one task.
#[derive(Debug, Clone)]
pub struct TaskLaunch {
    /// The runner's id of the task, e.g. `lake-local-worker-3`.
    pub id: String,
    /// The service.
    pub service: String,
    /// The task's own address (awsvpc: one interface per task).
    pub address: Ipv4Addr,
    /// The hostname the container sees (`HOSTNAME`), as Fargate names it: `ip-a-b-c-d.<domain>`.
    pub hostname: String,
    /// The command, with the image's paths already mapped to local ones.
    pub command: Vec<String>,
    /// The container's environment (secrets resolved, paths mapped). Values may be secret.
    pub environment: BTreeMap<String, SecretString>,
    /// Names resolved through the task's hosts file, besides `localhost` and the hostname.
    pub hosts: BTreeMap<String, Ipv4Addr>,
    /// The task's own directory (its mapped paths, hosts file and log live under it).
    pub dir: PathBuf,
    /// Seconds between SIGTERM and SIGKILL.
    pub stop_timeout: Duration,
}

/// A task the launcher started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskHandle {
    /// The runner's id of the task.
    pub id: String,
    /// The OS process id of the task's main process.
    pub pid: u32,
    /// Where its output goes.
    pub log: PathBuf,
}

/// Starts and stops tasks: the container-runtime side of the agent.
#[async_trait]
pub trait TaskLauncher: Send + Sync {
    /// Starts `launch`.
    async fn start(&self, launch: &TaskLaunch) -> Result<TaskHandle>;
    /// Stops a task as ECS does: SIGTERM, then SIGKILL once `timeout` has passed. Returns the exit status
    /// text and whether SIGKILL was needed.
    async fn stop(&self, task: &TaskHandle, timeout: Duration) -> Result<StopOutcome>;
    /// `Some(status)` once the task's process has exited by itself.
    fn exited(&self, task: &TaskHandle) -> Option<String>;
}

/// How a stopped task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopOutcome {
    /// The exit status, e.g. `exit status: 143`.
    pub status: String,
    /// Whether the task ignored SIGTERM for `stopTimeout` and was killed.
    pub killed: bool,
}

/// The image paths a task's command and files name, and the local directories that stand in for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathMap {
    /// `(image path, local path)`, longest image path first so nested paths map before their parents.
    pairs: Vec<(String, String)>,
}

impl PathMap {
    /// A map from image paths to local paths.
    pub fn new(pairs: impl IntoIterator<Item = (String, PathBuf)>) -> Self {
        let mut pairs: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(image, local)| (image, local.display().to_string()))
            .collect();
        pairs.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        Self { pairs }
    }

    /// The image-to-local pairs, for reporting.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// `text` with every image path that starts a path component mapped (`/etc/trino/x` and
    /// `/etc/trino` map; `/etc/trinox` does not).
    pub fn apply(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        'scan: while !rest.is_empty() {
            for (image, local) in &self.pairs {
                if let Some(after) = rest.strip_prefix(image.as_str()) {
                    let boundary = after
                        .chars()
                        .next()
                        .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.'));
                    let starts_component = out
                        .chars()
                        .last()
                        .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.'));
                    if boundary && starts_component {
                        out.push_str(local);
                        rest = after;
                        continue 'scan;
                    }
                }
            }
            let c = rest.chars().next().expect("rest is not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
        out
    }
}

/// Where the Trino image reads its configuration; the local `run-trino` learns the task's stand-in from
/// `TRINO_ETC_DIR`.
pub const TRINO_ETC: &str = "/etc/trino";

/// What the runner knows about a running task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskState {
    /// The runner's id.
    pub id: String,
    /// Its service.
    pub service: String,
    /// The task definition ARN it runs.
    pub task_definition: String,
    /// `family:revision`.
    pub family_revision: String,
    /// Its address.
    pub address: Ipv4Addr,
    /// The launcher's handle.
    pub handle: TaskHandle,
    /// Its stop timeout.
    pub stop_timeout: Duration,
}

/// One thing the reconciler decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskAction {
    /// Start one task of `service` on `task_definition`.
    Start {
        /// The service.
        service: String,
        /// The task definition ARN.
        task_definition: String,
    },
    /// Stop the task `id`.
    Stop {
        /// The task.
        id: String,
        /// Why.
        reason: StopReason,
    },
}

/// Why a task is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The service's desired count went down.
    ScaleIn,
    /// The service runs a newer task definition.
    Replaced,
    /// The service is gone.
    ServiceDeleted,
    /// The runner is shutting down.
    Shutdown,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StopReason::ScaleIn => "desired count lowered",
            StopReason::Replaced => "task definition replaced",
            StopReason::ServiceDeleted => "service deleted",
            StopReason::Shutdown => "runner stopping",
        })
    }
}

/// The actions that move `running` towards `services`, in the order ECS would take them.
///
/// Per service: tasks on an old task definition are replaced; with `maximumPercent > 100` the replacements
/// start first and one old task stops for each started one (ECS keeps the healthy count; with a surge the
/// old task stops in the next pass, after its replacement has started), otherwise old tasks stop first
/// (the coordinator's min 0 / max 100: two coordinators never serve the alias at once). Then the count
/// follows `desiredCount`, stopping the newest tasks first. Tasks of services that no longer exist stop.
///
/// As in ECS, a task in `protected` (task scale-in protection) is stopped neither to replace it nor to lower
/// the count: the deployment or the scale-in waits until its protection is gone or it exits by itself.
pub fn reconcile(
    services: &[ServiceView],
    running: &[TaskState],
    protected: &BTreeSet<String>,
) -> Vec<TaskAction> {
    let mut actions = Vec::new();
    let names: BTreeSet<&str> = services.iter().map(|s| s.name.as_str()).collect();
    for task in running {
        if !names.contains(task.service.as_str()) {
            actions.push(TaskAction::Stop {
                id: task.id.clone(),
                reason: StopReason::ServiceDeleted,
            });
        }
    }
    for service in services {
        let mine: Vec<&TaskState> = running
            .iter()
            .filter(|t| t.service == service.name)
            .collect();
        let (current, old): (Vec<&TaskState>, Vec<&TaskState>) = mine
            .iter()
            .partition(|t| t.task_definition == service.task_definition);
        let desired = service.desired_count as usize;
        let start = |actions: &mut Vec<TaskAction>, n: usize| {
            for _ in 0..n {
                actions.push(TaskAction::Start {
                    service: service.name.clone(),
                    task_definition: service.task_definition.clone(),
                });
            }
        };
        let stop = |actions: &mut Vec<TaskAction>, tasks: &[&TaskState], reason: StopReason| {
            for t in tasks.iter().filter(|t| !protected.contains(&t.id)) {
                actions.push(TaskAction::Stop {
                    id: t.id.clone(),
                    reason,
                });
            }
        };
        if old.is_empty() {
            if current.len() < desired {
                start(&mut actions, desired - current.len());
            } else if current.len() > desired {
                // The newest unprotected tasks stop first (ids grow with start order).
                let mut newest: Vec<&TaskState> = current
                    .iter()
                    .copied()
                    .filter(|t| !protected.contains(&t.id))
                    .collect();
                newest.sort_by_key(|t| std::cmp::Reverse(task_order(t)));
                let excess = (current.len() - desired).min(newest.len());
                stop(&mut actions, &newest[..excess], StopReason::ScaleIn);
            }
            continue;
        }
        if service.maximum_percent > 100 {
            // Surge: bring the new revision up to the desired count, and retire as many old tasks as there
            // are current ones beyond what the desired count still needs from the old revision.
            if current.len() < desired {
                start(&mut actions, desired - current.len());
            }
            let keep_old = desired.saturating_sub(current.len());
            let unprotected: Vec<&TaskState> = old
                .iter()
                .copied()
                .filter(|t| !protected.contains(&t.id))
                .collect();
            let retire = old.len().saturating_sub(keep_old).min(unprotected.len());
            stop(&mut actions, &unprotected[..retire], StopReason::Replaced);
        } else {
            stop(&mut actions, &old, StopReason::Replaced);
            if current.len() < desired {
                start(&mut actions, desired - current.len());
            }
        }
    }
    actions
}

/// Start order of a task from its id's numeric suffix.
fn task_order(task: &TaskState) -> (u64, String) {
    let n = task
        .id
        .rsplit('-')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (n, task.id.clone())
}

/// What the runner did, for the caller to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunnerEvent {
    /// A task started.
    Started {
        /// The task.
        id: String,
        /// `family:revision`.
        family_revision: String,
        /// Its address and port.
        address: String,
        /// Its log file.
        log: PathBuf,
        /// The local substitutions made for it, as `image -> local` lines.
        substitutions: Vec<String>,
    },
    /// A task was stopped.
    Stopped {
        /// The task.
        id: String,
        /// Why.
        reason: StopReason,
        /// How it ended.
        outcome: StopOutcome,
    },
    /// A task's process exited by itself (ECS will start a replacement if the service still wants one).
    Exited {
        /// The task.
        id: String,
        /// Its exit status.
        status: String,
        /// Its log file.
        log: PathBuf,
    },
}

impl fmt::Display for RunnerEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunnerEvent::Started {
                id,
                family_revision,
                address,
                log,
                substitutions,
            } => {
                write!(
                    f,
                    "task {id} ({family_revision}) started at {address}; log {}",
                    log.display()
                )?;
                for s in substitutions {
                    write!(f, "\n  local substitution: {s}")?;
                }
                Ok(())
            }
            RunnerEvent::Stopped {
                id,
                reason,
                outcome,
            } => write!(
                f,
                "task {id} stopped ({reason}): {}{}",
                outcome.status,
                if outcome.killed {
                    ", killed after stopTimeout"
                } else {
                    ""
                }
            ),
            RunnerEvent::Exited { id, status, log } => {
                write!(
                    f,
                    "task {id} exited by itself: {status}; log {}",
                    log.display()
                )
            }
        }
    }
}

/// How the runner maps the image onto this machine.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Image path to local directory, shared by every task (e.g. `/usr/lib/trino` -> the local install).
    pub shared_paths: BTreeMap<String, PathBuf>,
    /// Image paths that get a fresh directory per task (e.g. `/etc/trino`, `/data/trino`), with an optional
    /// directory whose contents seed it (the image's own files at that path).
    pub task_paths: BTreeMap<String, Option<PathBuf>>,
    /// Where per-task directories are created.
    pub work_dir: PathBuf,
    /// Environment every container gets from its image (e.g. `JAVA_HOME`, `PATH`), already local.
    pub image_environment: BTreeMap<String, String>,
    /// What stands in for the task role's credentials, which ECS serves to a task through its container
    /// credentials endpoint (e.g. the emulator's static test keys as `AWS_ACCESS_KEY_ID` and friends). The
    /// values are reported by variable name only.
    pub task_role_environment: BTreeMap<String, SecretString>,
    /// Service name to the Service Connect alias its tasks serve (moto drops Service Connect config, so
    /// the caller passes what the deploy asked for).
    pub service_aliases: BTreeMap<String, String>,
    /// The DNS suffix of task hostnames (Fargate: `ec2.internal` in us-east-1, else
    /// `<region>.compute.internal`).
    pub hostname_domain: String,
    /// The third octet of the loopback range tasks get addresses from: `127.0.<octet>.N`.
    pub address_octet: u8,
}

impl RunnerConfig {
    /// The hostname domain Fargate gives tasks in `region`.
    pub fn fargate_domain(region: &str) -> String {
        if region == "us-east-1" {
            "ec2.internal".to_owned()
        } else {
            format!("{region}.compute.internal")
        }
    }
}

/// The agent: reconciles the emulator's services with local processes.
pub struct LocalRunner<S, L> {
    source: S,
    launcher: L,
    config: RunnerConfig,
    tasks: Vec<TaskState>,
    task_defs: BTreeMap<String, TaskDefView>,
    next_task: u64,
    /// When each service last had a task exit by itself, to back off restarting a crashing task.
    last_exit: BTreeMap<String, Instant>,
    /// Task scale-in protection: task id to when it lapses.
    protection: BTreeMap<String, Instant>,
}

/// How long a service waits before replacing a task that exited by itself (ECS throttles restarts too).
const RESTART_BACKOFF: Duration = Duration::from_secs(10);

impl<S: TaskSource, L: TaskLauncher> LocalRunner<S, L> {
    /// A runner with no tasks yet.
    pub fn new(source: S, launcher: L, config: RunnerConfig) -> Self {
        Self {
            source,
            launcher,
            config,
            tasks: Vec::new(),
            task_defs: BTreeMap::new(),
            next_task: 1,
            last_exit: BTreeMap::new(),
            protection: BTreeMap::new(),
        }
    }

    /// Sets (`Some(until)`) or clears the task scale-in protection of the running task `id`, as ECS's
    /// UpdateTaskProtection does; false when no such task runs.
    pub fn set_protection(&mut self, id: &str, until: Option<Instant>) -> bool {
        if !self.tasks.iter().any(|t| t.id == id) {
            return false;
        }
        match until {
            Some(until) => self.protection.insert(id.to_owned(), until),
            None => self.protection.remove(id),
        };
        true
    }

    /// When the protection of task `id` lapses, if it is protected.
    pub fn protected_until(&self, id: &str) -> Option<Instant> {
        self.protection
            .get(id)
            .copied()
            .filter(|until| *until > Instant::now())
    }

    /// The configuration the runner runs tasks with.
    pub fn config(&self) -> &RunnerConfig {
        &self.config
    }

    /// The running tasks.
    pub fn tasks(&self) -> &[TaskState] {
        &self.tasks
    }

    /// The address a task of `service` serves on, if one runs.
    pub fn address_of(&self, service: &str) -> Option<Ipv4Addr> {
        self.tasks
            .iter()
            .find(|t| t.service == service)
            .map(|t| t.address)
    }

    /// One pass: notice exited tasks, read the services, and start or stop tasks to match them.
    pub async fn reconcile_once(&mut self) -> Result<Vec<RunnerEvent>> {
        let mut events = Vec::new();
        let mut still = Vec::new();
        for task in std::mem::take(&mut self.tasks) {
            match self.launcher.exited(&task.handle) {
                Some(status) => {
                    self.last_exit.insert(task.service.clone(), Instant::now());
                    events.push(RunnerEvent::Exited {
                        id: task.id.clone(),
                        status,
                        log: task.handle.log.clone(),
                    });
                }
                None => still.push(task),
            }
        }
        self.tasks = still;

        let services = self.source.services().await?;
        let now = Instant::now();
        let ids: BTreeSet<&str> = self.tasks.iter().map(|t| t.id.as_str()).collect();
        self.protection
            .retain(|id, until| *until > now && ids.contains(id.as_str()));
        let protected: BTreeSet<String> = self.protection.keys().cloned().collect();
        for action in reconcile(&services, &self.tasks, &protected) {
            match action {
                TaskAction::Stop { id, reason } => events.push(self.stop(&id, reason).await?),
                TaskAction::Start {
                    service,
                    task_definition,
                } => {
                    if self
                        .last_exit
                        .get(&service)
                        .is_some_and(|at| at.elapsed() < RESTART_BACKOFF)
                    {
                        continue;
                    }
                    events.push(self.start(&service, &task_definition).await?);
                }
            }
        }
        Ok(events)
    }

    /// Stops every task (SIGTERM, then SIGKILL after each one's stop timeout).
    pub async fn stop_all(&mut self) -> Result<Vec<RunnerEvent>> {
        let mut events = Vec::new();
        // Workers first, then the coordinator, so no worker loses its coordinator mid-shutdown.
        let mut ids: Vec<(bool, String)> = self
            .tasks
            .iter()
            .map(|t| {
                (
                    self.config.service_aliases.contains_key(&t.service),
                    t.id.clone(),
                )
            })
            .collect();
        ids.sort();
        for (_, id) in ids {
            events.push(self.stop(&id, StopReason::Shutdown).await?);
        }
        Ok(events)
    }

    async fn stop(&mut self, id: &str, reason: StopReason) -> Result<RunnerEvent> {
        let index = self
            .tasks
            .iter()
            .position(|t| t.id == id)
            .expect("reconcile only stops running tasks");
        let task = self.tasks.remove(index);
        let outcome = self.launcher.stop(&task.handle, task.stop_timeout).await?;
        Ok(RunnerEvent::Stopped {
            id: task.id,
            reason,
            outcome,
        })
    }

    fn free_address(&self, service: &str) -> Ipv4Addr {
        let used: BTreeSet<Ipv4Addr> = self.tasks.iter().map(|t| t.address).collect();
        // A service that serves an alias keeps the first address of its own range while it is free, so
        // a replaced coordinator comes back where the workers' hosts files point.
        let octet = self.config.address_octet;
        if self.config.service_aliases.contains_key(service) {
            let services: Vec<&String> = self.config.service_aliases.keys().collect();
            let slot = services.iter().position(|s| *s == service).unwrap_or(0) as u8 + 1;
            let fixed = Ipv4Addr::new(127, 0, octet, slot);
            if !used.contains(&fixed) {
                return fixed;
            }
        }
        let first = self.config.service_aliases.len() as u8 + 1;
        (first..=254)
            .map(|n| Ipv4Addr::new(127, 0, octet, n))
            .find(|a| !used.contains(a))
            .unwrap_or(Ipv4Addr::new(127, 0, octet, 254))
    }

    fn hosts(&self) -> BTreeMap<String, Ipv4Addr> {
        let mut hosts = BTreeMap::new();
        for (service, alias) in &self.config.service_aliases {
            let address = self.address_of(service).unwrap_or_else(|| {
                // Before the serving task runs, the alias points where it will start.
                let services: Vec<&String> = self.config.service_aliases.keys().collect();
                let slot = services.iter().position(|s| *s == service).unwrap_or(0) as u8 + 1;
                Ipv4Addr::new(127, 0, self.config.address_octet, slot)
            });
            hosts.insert(alias.clone(), address);
        }
        hosts
    }

    async fn start(&mut self, service: &str, arn: &str) -> Result<RunnerEvent> {
        if !self.task_defs.contains_key(arn) {
            let def = self.source.task_definition(arn).await?;
            self.task_defs.insert(arn.to_owned(), def);
        }
        let def = self.task_defs[arn].clone();
        let id = format!("{service}-{}", self.next_task);
        self.next_task += 1;
        let dir = self.config.work_dir.join(&id);
        let address = self.free_address(service);
        let octets = address.octets();
        let hostname = format!(
            "ip-{}-{}-{}-{}.{}",
            octets[0], octets[1], octets[2], octets[3], self.config.hostname_domain
        );

        let mut pairs: Vec<(String, PathBuf)> = self
            .config
            .shared_paths
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for image_path in self.config.task_paths.keys() {
            pairs.push((image_path.clone(), dir.join(local_dir_name(image_path))));
        }
        let map = PathMap::new(pairs);
        let secrets = self.source.resolve_secrets(&def.secrets).await?;
        let mut environment: BTreeMap<String, SecretString> = self
            .config
            .image_environment
            .iter()
            .map(|(k, v)| (k.clone(), SecretString::new(v.clone())))
            .collect();
        for (k, v) in &self.config.task_role_environment {
            environment.insert(k.clone(), v.clone());
        }
        for (k, v) in &def.environment {
            environment.insert(k.clone(), SecretString::new(map.apply(v)));
        }
        for (k, v) in secrets {
            environment.insert(k, SecretString::new(map.apply(v.expose())));
        }
        environment.insert("HOSTNAME".into(), SecretString::new(hostname.clone()));
        // The local install's `run-trino` stands in for the image's: it reads the task's configuration
        // directory from `TRINO_ETC_DIR` and passes `TRINO_LOCAL_LAUNCHER_ARGS` to the launcher, which makes
        // the JVM bind and announce the task's own address and resolve names through the task's hosts file.
        let etc_dir = map.apply(TRINO_ETC);
        let hosts_path = dir.join("hosts");
        let launcher_args = format!(
            "-Dnode.bind-ip={address} -Dnode.internal-address={address} -Djdk.net.hosts.file={}",
            hosts_path.display()
        );
        environment.insert("TRINO_ETC_DIR".into(), SecretString::new(etc_dir.clone()));
        environment.insert(
            "TRINO_LOCAL_LAUNCHER_ARGS".into(),
            SecretString::new(launcher_args.clone()),
        );
        let hosts = self.hosts();

        let launch = TaskLaunch {
            id: id.clone(),
            service: service.to_owned(),
            address,
            hostname: hostname.clone(),
            command: def.command.iter().map(|c| map.apply(c)).collect(),
            environment,
            hosts: hosts.clone(),
            dir: dir.clone(),
            stop_timeout: def.stop_timeout,
        };
        let mut substitutions: Vec<String> = map
            .pairs()
            .iter()
            .map(|(image, local)| format!("{image} -> {local}"))
            .collect();
        substitutions.push(format!("task address (awsvpc) -> {address}:{}", def.port));
        substitutions.push(format!("HOSTNAME -> {hostname}"));
        for (alias, addr) in &hosts {
            substitutions.push(format!("Service Connect alias {alias} -> {addr}"));
        }
        substitutions.push(format!("TRINO_ETC_DIR={etc_dir}"));
        substitutions.push(format!("TRINO_LOCAL_LAUNCHER_ARGS={launcher_args}"));
        for (k, v) in &self.config.image_environment {
            substitutions.push(format!("image environment {k}={v}"));
        }
        if !self.config.task_role_environment.is_empty() {
            let names: Vec<&str> = self
                .config
                .task_role_environment
                .keys()
                .map(String::as_str)
                .collect();
            substitutions.push(format!("task role credentials -> {}", names.join(", ")));
        }

        prepare_task_dir(&launch, &self.config)?;
        let handle = self.launcher.start(&launch).await?;
        let log = handle.log.clone();
        self.tasks.push(TaskState {
            id: id.clone(),
            service: service.to_owned(),
            task_definition: arn.to_owned(),
            family_revision: def.family_revision.clone(),
            address,
            handle,
            stop_timeout: def.stop_timeout,
        });
        Ok(RunnerEvent::Started {
            id,
            family_revision: def.family_revision,
            address: format!("{address}:{}", def.port),
            log,
            substitutions,
        })
    }
}

/// The per-task directory name standing in for an image path: `/etc/trino` -> `etc-trino`.
fn local_dir_name(image_path: &str) -> String {
    image_path.trim_matches('/').replace('/', "-")
}

/// Creates the task's directories, seeding each from the image's files at that path.
fn prepare_task_dir(launch: &TaskLaunch, config: &RunnerConfig) -> Result<()> {
    let io = |path: &Path, e: std::io::Error| crate::Error::Local {
        what: format!("prepare task directory {}", path.display()),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(&launch.dir).map_err(|e| io(&launch.dir, e))?;
    for (image_path, seed) in &config.task_paths {
        let local = launch.dir.join(local_dir_name(image_path));
        std::fs::create_dir_all(&local).map_err(|e| io(&local, e))?;
        if let Some(seed) = seed {
            copy_tree(seed, &local).map_err(|e| io(seed, e))?;
        }
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
