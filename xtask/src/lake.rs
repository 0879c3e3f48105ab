//! A real local lake: the AWS emulator, private MariaDB and PostgreSQL, the lake deployed into the emulator,
//! and the local task runner playing the ECS agent so real Trino 476 processes run what was deployed.
//! `cargo xtask local` shows it; `cargo xtask test` starts one and shares it with every integration test.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::sync::{Mutex, watch};
use trino_ecs_core::config::LakeConfig;
use trino_ecs_core::runner::ecs::EmulatorTasks;
use trino_ecs_core::runner::process::ProcessLauncher;
use trino_ecs_core::runner::{LocalRunner, RunnerConfig};

use crate::common::workspace_root;
use crate::harness::{Databases, Emulator, Jdk, TrinoInstall, Venv, ensure_trino, find_jdk};

type Runner = LocalRunner<EmulatorTasks, ProcessLauncher>;

/// A running local lake. Dropping it stops everything it started.
pub struct LocalLake {
    /// The effective lake config (the example with the emulator's and databases' addresses).
    pub config: LakeConfig,
    /// Where that config was written.
    pub config_path: PathBuf,
    /// The emulator.
    pub emulator: Emulator,
    /// The databases.
    pub databases: Databases,
    /// The Trino install the tasks run.
    pub trino: TrinoInstall,
    /// The JDK they run on.
    pub jdk: Jdk,
    /// The coordinator's URL (its task's own address).
    pub coordinator_url: String,
    /// Where the runner's event lines go (`-` = stdout).
    pub runner_log: PathBuf,
    /// The ECS endpoint that answers the task calls from the runner's tasks and forwards the rest to the
    /// emulator (`runner::facade`): a deploy or `scale` pointed at it drains real Trino workers.
    pub ecs_facade: trino_ecs_core::runner::facade::Facade,
    runner: Arc<Mutex<Runner>>,
    stop: watch::Sender<LoopControl>,
    loop_task: Option<tokio::task::JoinHandle<()>>,
    /// Held while the lake lives: its loopback range and directory are this lake's.
    _lock: std::fs::File,
}

/// How to bring a lake up.
pub struct LakeOptions {
    /// The lake config to deploy (e.g. `examples/local.toml`).
    pub config: PathBuf,
    /// Print runner events to stdout (`local`) or only to the runner log (`test`).
    pub verbose: bool,
}

/// The first loopback octet tried for the runner's task addresses: `127.0.77.N`.
const FIRST_ADDRESS_OCTET: u8 = 77;

/// A loopback range `127.0.<octet>.0/24` no other lake on this machine serves on (another `local --keep` or
/// test run may hold 127.0.77.x): the first whose lock file this process can take and whose task addresses are
/// free. The returned lock is held for the lake's lifetime, so two lakes starting at once never pick the same.
fn free_address_octet(dir: &Path) -> anyhow::Result<(u8, std::fs::File)> {
    std::fs::create_dir_all(dir)?;
    for octet in FIRST_ADDRESS_OCTET..=250 {
        let lock = std::fs::File::create(dir.join(format!("127.0.{octet}.lock")))?;
        if lock.try_lock().is_err() {
            continue;
        }
        if (1..=4)
            .all(|n| std::net::TcpListener::bind((format!("127.0.{octet}.{n}"), 8080)).is_ok())
        {
            return Ok((octet, lock));
        }
    }
    bail!("no free loopback range 127.0.N.0/24 with port 8080 free for the Trino tasks")
}

/// How long the coordinator and every worker may take to become active on a 2-core machine.
const READY_TIMEOUT: Duration = Duration::from_secs(420);

/// Brings a lake up: services, deploy into the emulator, tasks, and waits until the coordinator lists
/// every desired worker as active.
pub async fn up(options: LakeOptions) -> anyhow::Result<LocalLake> {
    let started = Instant::now();
    let jdk = find_jdk()?;
    let trino = ensure_trino()?;
    let venv = Venv::ensure()?;
    let emulator = Emulator::start(&venv)?;
    outln!("emulator: moto server at {}", emulator.endpoint);
    let databases = Databases::start()?;
    outln!(
        "databases: MariaDB at {}, PostgreSQL at {}",
        databases.mysql.addr(),
        databases.postgres.addr()
    );

    // Each lake gets its own loopback range and its own directory, so a second lake on the machine (a test
    // run beside a kept `local`) shares neither addresses nor files with the first.
    let lakes = workspace_root()?.join("target").join("lake-local");
    let (octet, lock) = free_address_octet(&lakes)?;
    let dir = lakes.join(format!("127.0.{octet}"));
    std::fs::create_dir_all(&dir)?;
    let config_path = dir.join("lake.toml");
    let region = LakeConfig::load(&options.config)?.aws.region;
    let network = crate::cluster::emulator_network(&emulator.endpoint, &region)?;
    write_effective_config(
        &options.config,
        &config_path,
        &emulator.endpoint,
        &databases,
        &network,
    )?;
    let config = LakeConfig::load(&config_path)?;
    let sdk = crate::local::emulator_sdk_config(&config, &emulator.endpoint).await;

    ensure_bucket(&config, &sdk).await?;
    crate::cluster::local_job(&config, &sdk).await?;

    let desired = crate::cluster::desired(&config, &sdk).await?;
    let mut aliases = BTreeMap::new();
    for service in &desired.services {
        if let Some(server) = &service.service_connect.server {
            aliases.insert(service.name.clone(), server.dns_name.clone());
        }
    }
    let tasks_dir = dir.join("tasks");
    // Task directories of an earlier run hold nothing a new run needs (config arrives from SSM).
    let _ = std::fs::remove_dir_all(&tasks_dir);
    let runner_config = RunnerConfig {
        shared_paths: [("/usr/lib/trino".to_owned(), trino.root.clone())].into(),
        task_paths: [
            ("/etc/trino".to_owned(), Some(trino.default_etc.clone())),
            ("/data/trino".to_owned(), None),
        ]
        .into(),
        work_dir: tasks_dir,
        image_environment: [
            ("JAVA_HOME".to_owned(), jdk.home.display().to_string()),
            (
                "PATH".to_owned(),
                format!("{}:/usr/local/bin:/usr/bin:/bin", jdk.bin().display()),
            ),
            ("LANG".to_owned(), "C.UTF-8".to_owned()),
        ]
        .into(),
        // ECS hands a task its task role's credentials; against the emulator they are its static test keys.
        task_role_environment: [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", config.aws.region.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), trino_ecs_core::model::SecretString::new(v)))
        .collect(),
        service_aliases: aliases,
        hostname_domain: RunnerConfig::fargate_domain(&config.aws.region),
        address_octet: octet,
    };
    let runner = Runner::new(
        EmulatorTasks::new(&sdk, config.cluster.name.clone()),
        ProcessLauncher::new(),
        runner_config,
    );
    let runner = Arc::new(Mutex::new(runner));
    let ecs_facade = trino_ecs_core::runner::facade::Facade::start(
        runner.clone(),
        &emulator.endpoint,
        &config.cluster.name,
        &config.aws.region,
    )
    .await?;
    outln!(
        "ECS facade: task calls of cluster {} answered from the runner's tasks at {} (the rest forwarded to the emulator)",
        config.cluster.name,
        ecs_facade.url()
    );
    let runner_log = dir.join("runner.log");
    let (stop, stop_rx) = watch::channel(LoopControl::Run);
    // Ctrl-C (or SIGTERM from a CI timeout) stops the tasks the way ECS would before the process exits, so no
    // JVM outlives the command that started it.
    let interrupt = stop.clone();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let term = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
        }
        let _ = interrupt.send(LoopControl::Interrupt);
    });
    let loop_task = tokio::spawn(run_loop(
        runner.clone(),
        stop_rx,
        runner_log.clone(),
        options.verbose,
    ));
    outln!(
        "local task runner: playing the ECS agent for cluster {}; its events go to {}",
        config.cluster.name,
        runner_log.display()
    );
    let coordinator_url = format!("http://127.0.{octet}.1:8080");
    let mut lake = LocalLake {
        config,
        config_path,
        emulator,
        databases,
        trino,
        jdk,
        coordinator_url,
        runner_log,
        ecs_facade,
        runner,
        stop,
        loop_task: Some(loop_task),
        _lock: lock,
    };
    if let Err(e) = lake.wait_ready().await {
        lake.down().await?;
        return Err(e);
    }
    outln!(
        "lake up in {:.0} s: coordinator {}",
        started.elapsed().as_secs_f64(),
        lake.coordinator_url
    );
    Ok(lake)
}

/// What the runner loop is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoopControl {
    /// Keep reconciling.
    Run,
    /// Stop reconciling and stop every task.
    Stop,
    /// Stop reconciling and leave the tasks running (`--keep`).
    Detach,
    /// The user interrupted: stop every task, then exit the process.
    Interrupt,
}

async fn run_loop(
    runner: Arc<Mutex<Runner>>,
    mut stop: watch::Receiver<LoopControl>,
    log: PathBuf,
    verbose: bool,
) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .ok();
    let mut say = |line: String| {
        if let Some(f) = file.as_mut() {
            let _ = writeln!(f, "{} {line}", chrono::Utc::now().format("%H:%M:%S"));
        }
        if verbose {
            outln!("runner: {line}");
        }
    };
    loop {
        let pass = runner.lock().await.reconcile_once().await;
        match pass {
            Ok(events) => events.iter().for_each(|e| say(e.to_string())),
            // A failed pass (the emulator busy, say) is retried; the tasks keep running meanwhile.
            Err(e) => say(format!("reconcile failed, retrying: {e}")),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = stop.changed() => {}
        }
        let control = *stop.borrow();
        match control {
            LoopControl::Run => continue,
            LoopControl::Detach => return,
            LoopControl::Stop | LoopControl::Interrupt => {
                match runner.lock().await.stop_all().await {
                    Ok(events) => events.iter().for_each(|e| say(e.to_string())),
                    Err(e) => eprintln!("runner: stopping the tasks failed: {e}"),
                }
                if control == LoopControl::Interrupt {
                    eprintln!("interrupted: every Trino task stopped");
                    std::process::exit(130);
                }
                return;
            }
        }
    }
}

impl LocalLake {
    /// A client of the coordinator as `user`.
    pub fn client(&self, user: &str) -> anyhow::Result<trino_client::Client> {
        Ok(trino_client::Client::builder(&self.coordinator_url)
            .user(user)
            .source("lake-local")
            .build()?)
    }

    /// The environment an integration test needs to reach this lake.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = self.emulator.env();
        env.extend(self.databases.env());
        env.extend(self.trino.env());
        env.extend(self.jdk.env());
        env.push(("LAKE_TRINO_URL", self.coordinator_url.clone()));
        env.push(("LAKE_LOCAL_CONFIG", self.config_path.display().to_string()));
        env.push(("LAKE_ECS_FACADE_URL", self.ecs_facade.url().to_owned()));
        env
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let workers = i64::from(self.config.initial_workers());
        let client = self.client(trino_ecs_core::render::OPS_USER)?;
        let started = Instant::now();
        let mut last = String::new();
        loop {
            let state = match trino_ecs_core::live::active_workers(&client).await {
                Ok(n) if n >= workers => break,
                Ok(n) => format!("coordinator up, {n}/{workers} workers active"),
                Err(_) => "coordinator starting".to_owned(),
            };
            if state != last {
                eprintln!(
                    "waiting for Trino: {state} ({:.0} s)",
                    started.elapsed().as_secs_f64()
                );
                last = state;
            }
            if started.elapsed() > READY_TIMEOUT {
                let tasks = self.task_lines().await.join("\n");
                bail!(
                    "Trino did not become ready within {} s ({last}); tasks and their logs:\n{tasks}",
                    READY_TIMEOUT.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        eprintln!(
            "waiting for Trino: coordinator and {workers} workers active ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// One line per running task: id, revision, address, pid, log.
    pub async fn task_lines(&self) -> Vec<String> {
        let runner = self.runner.lock().await;
        runner
            .tasks()
            .iter()
            .map(|t| {
                format!(
                    "{:<28} {:<28} {:<16} pid {:<8} {}",
                    t.id,
                    t.family_revision,
                    t.address,
                    t.handle.pid,
                    t.handle.log.display()
                )
            })
            .collect()
    }

    /// Stops every task (workers first), then the databases and the emulator (by dropping them).
    pub async fn down(mut self) -> anyhow::Result<()> {
        let _ = self.stop.send(LoopControl::Stop);
        if let Some(task) = self.loop_task.take() {
            task.await?;
        }
        Ok(())
    }

    /// Leaves everything running after this process exits and returns how to stop it.
    pub async fn keep(mut self) -> anyhow::Result<String> {
        let _ = self.stop.send(LoopControl::Detach);
        if let Some(task) = self.loop_task.take() {
            let _ = task.await;
        }
        let mut pids: Vec<u32> = self
            .runner
            .lock()
            .await
            .tasks()
            .iter()
            .map(|t| t.handle.pid)
            .collect();
        pids.push(self.emulator.pid());
        let mut lines = Vec::new();
        let Self {
            runner,
            emulator,
            databases,
            ..
        } = self;
        // The runner's launcher kills its process groups when dropped: leak it so the tasks outlive us.
        std::mem::forget(runner);
        std::mem::forget(emulator);
        lines.extend(databases.keep());
        let groups: Vec<String> = pids[..pids.len() - 1]
            .iter()
            .map(|p| format!("-{p}"))
            .collect();
        lines.push(format!(
            "stop the Trino tasks with: kill -TERM -- {}; the emulator with: kill {}",
            groups.join(" "),
            pids[pids.len() - 1]
        ));
        Ok(lines.join("\n"))
    }
}

/// Writes `to`: the config at `from` with the emulator's endpoint, its default VPC's subnets and security
/// group, and the harness databases' addresses in place of the example's (the only local substitutions in the
/// config; each one is printed). It is exactly what the lake deploys, so a deploy of it is a no-op.
fn write_effective_config(
    from: &Path,
    to: &Path,
    endpoint: &str,
    databases: &Databases,
    (subnets, groups): &(Vec<String>, Vec<String>),
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(from)
        .with_context(|| format!("cannot read the lake config {}", from.display()))?;
    let mut doc: toml::Table = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", from.display()))?;
    let mut changes = Vec::new();
    if let Some(cluster) = doc.get_mut("cluster").and_then(|v| v.as_table_mut()) {
        for (key, ids) in [("subnets", subnets), ("security_groups", groups)] {
            let value = toml::Value::Array(ids.iter().cloned().map(toml::Value::String).collect());
            if cluster.get(key) != Some(&value) {
                changes.push(format!(
                    "cluster.{key}: {} -> {value} (the emulator's default VPC)",
                    cluster
                        .get(key)
                        .map_or("(unset)".to_owned(), |v| v.to_string())
                ));
                cluster.insert(key.to_owned(), value);
            }
        }
    }
    let mut set = |table: &mut toml::Table, key: &str, value: String, what: String| {
        let old = table.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        if old.as_deref() != Some(value.as_str()) {
            changes.push(format!(
                "{what}.{key}: {} -> {value}",
                old.unwrap_or_else(|| "(unset)".into())
            ));
            table.insert(key.to_owned(), toml::Value::String(value));
        }
    };
    let mysql = format!("jdbc:mysql://127.0.0.1:{}", databases.mysql.port);
    let postgres = format!(
        "jdbc:postgresql://127.0.0.1:{}/{}",
        databases.postgres.port, databases.postgres.database
    );
    if let Some(aws) = doc.get_mut("aws").and_then(|v| v.as_table_mut()) {
        set(aws, "endpoint_url", endpoint.to_owned(), "aws".into());
    }
    if let Some(catalogs) = doc.get_mut("catalogs").and_then(|v| v.as_table_mut()) {
        for (name, catalog) in catalogs.iter_mut() {
            let Some(catalog) = catalog.as_table_mut() else {
                continue;
            };
            let what = format!("catalogs.{name}");
            match catalog.get("connector").and_then(|v| v.as_str()) {
                Some("mysql") => set(catalog, "url", mysql.clone(), what),
                Some("postgresql") => set(catalog, "url", postgres.clone(), what),
                Some("iceberg") => {
                    set(catalog, "glue_endpoint", endpoint.to_owned(), what.clone());
                    set(catalog, "s3_endpoint", endpoint.to_owned(), what);
                }
                _ => {}
            }
        }
    }
    if let Some(log) = doc.get_mut("event_log").and_then(|v| v.as_table_mut()) {
        let database = log
            .get("url")
            .and_then(|v| v.as_str())
            .and_then(|u| u.rsplit('/').next())
            .map(|d| d.to_owned())
            .unwrap_or_else(|| "trino_events".into());
        set(
            log,
            "url",
            format!("{mysql}/{database}"),
            "event_log".into(),
        );
    }
    for change in &changes {
        outln!("local substitution: {change}");
    }
    let header = format!(
        "# Generated by `cargo xtask local`/`test` from {}: the emulator's and the harness databases'\n\
         # addresses replace the example's. Do not edit; edit the example.\n",
        from.display()
    );
    std::fs::write(to, header + &toml::to_string_pretty(&doc)?)
        .with_context(|| format!("cannot write {}", to.display()))?;
    Ok(())
}

/// Creates the lake bucket in the emulator when it does not exist (Iceberg writes its tables there).
async fn ensure_bucket(config: &LakeConfig, sdk: &aws_config::SdkConfig) -> anyhow::Result<()> {
    let Some(lake) = &config.lake else {
        return Ok(());
    };
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    );
    if s3.head_bucket().bucket(&lake.bucket).send().await.is_err() {
        s3.create_bucket()
            .bucket(&lake.bucket)
            .send()
            .await
            .with_context(|| format!("cannot create bucket {} in the emulator", lake.bucket))?;
        outln!("emulator: created bucket {}", lake.bucket);
    }
    Ok(())
}
