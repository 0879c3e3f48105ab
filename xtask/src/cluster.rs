//! `cargo xtask plan|deploy|rollback|status|scale`: the Trino cluster on ECS.

use std::collections::BTreeMap;
use std::io::{BufRead as _, Write as _};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use trino_catalogs::store::{CatalogStore as _, SsmCatalogStore};
use trino_ecs_core::aws::AwsCluster;
use trino_ecs_core::config::LakeConfig;
use trino_ecs_core::deploy::{self, DeployOptions};
use trino_ecs_core::drain::{self, Drainer, EcsWorkerFleet, HttpNodeApi, ScaleOptions};
use trino_ecs_core::model::{self, DeployInputs, Desired};
use trino_ecs_core::plan::Action;

use crate::common::{Global, sdk_config};

/// Arguments of `plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {}

/// What `deploy` and `rollback` share: confirmation, waiting, the lock, and how the workers drain.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Apply without asking for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Wait up to this many seconds for the services to become stable (0: do not wait; the emulator never
    /// starts tasks).
    #[arg(long, default_value_t = 0)]
    pub wait: u64,
    /// Wait up to this many seconds for another deploy's lock before failing.
    #[arg(long, default_value_t = 0)]
    pub lock_wait: u64,
    /// First remove the deploy lock whoever holds it (a deploy that died on another machine, or hung): shows
    /// the holder and asks, unless `--yes`. A holder that died on this machine is detected without it.
    #[arg(long)]
    pub force_unlock: bool,
    /// With --coordinator, wait up to this many seconds for the running queries to finish before a change that
    /// replaces the coordinator (Trino cannot drain one); past it nothing is applied.
    #[arg(long, default_value_t = 600)]
    pub coordinator_wait: u64,
    /// With --coordinator, how many seconds a replaced coordinator may take to serve again (with an active
    /// worker) before the deploy fails; a coordinator Trino refuses to start never does (then `rollback`).
    #[arg(long, default_value_t = 600)]
    pub coordinator_serve_timeout: u64,
    #[command(flatten)]
    pub drain: DrainArgs,
}

/// How workers are drained (by `scale`, and by `deploy`/`rollback` when they roll the workers).
#[derive(Debug, Args)]
pub struct DrainArgs {
    /// Give up waiting for draining workers after this many seconds: nothing is killed, they stay protected
    /// and draining, and running the command again carries on.
    #[arg(long, default_value_t = 3600)]
    pub drain_timeout: u64,
    /// The coordinator's base URL (e.g. http://10.0.1.5:8080): the least busy workers (fewest unfinished tasks
    /// in `system.runtime.tasks`) are drained first, and `scale --follow` publishes the
    /// queued-queries-per-worker metric the step scaling policy watches. Without it, workers are picked by task
    /// ARN and the metric is not published.
    #[arg(long)]
    pub coordinator: Option<String>,
}

/// Arguments of `deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub apply: ApplyArgs,
}

/// Arguments of `rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Where to: a deploy id (`status` lists them, e.g. 20261203T101500.250Z) or revisions `family:N[,family:N]`.
    /// Without it, the newest deploy the services run is undone.
    #[arg(long, value_name = "DEPLOY|REVISION")]
    pub to: Option<String>,
    #[command(flatten)]
    pub apply: ApplyArgs,
}

/// Arguments of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The coordinator's base URL (e.g. http://10.0.1.5:8080); when given and reachable, its /v1/info is shown.
    #[arg(long)]
    pub coordinator: Option<String>,
    /// Wait up to this many seconds for the services to become stable (0: do not wait).
    #[arg(long, default_value_t = 0)]
    pub wait: u64,
}

/// Arguments of `scale`.
#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// The desired number of workers.
    #[arg(required_unless_present = "follow")]
    pub workers: Option<u32>,
    /// Run the drain loop instead: every this many seconds, protect the workers that stay, drain those above the
    /// count autoscaling wants and those of an older revision once replacements are active, so neither automatic
    /// scale-in nor a deployment kills a query. A pass never waits for a drain; one that fails for a transient
    /// reason is retried with backoff.
    #[arg(long, value_name = "SECONDS")]
    pub follow: Option<u64>,
    #[command(flatten)]
    pub drain: DrainArgs,
}

/// What the catalogs contribute to a deploy.
struct CatalogInputs {
    files: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
    secret_values: BTreeMap<String, model::SecretString>,
}

/// The rendered catalogs, their secret parameters and the values those will hold: every catalog in the catalog
/// store (added with `catalog add`), overlaid by the config's `[catalogs]` (which `deploy` publishes to the
/// store, so their secret values come from the environment, like the publish).
async fn catalog_inputs(
    config: &LakeConfig,
    sdk: &aws_config::SdkConfig,
) -> anyhow::Result<CatalogInputs> {
    let store = catalog_store(config, sdk)?;
    let layout = store.layout().clone();
    let mut specs: BTreeMap<String, trino_catalogs::CatalogSpec> = store
        .list()
        .await
        .context("reading the catalog store")?
        .into_iter()
        .map(|c| (c.name, c.spec))
        .collect();
    specs.extend(config.catalogs.iter().map(|(n, s)| (n.clone(), s.clone())));
    let mut out = CatalogInputs {
        files: BTreeMap::new(),
        secrets: BTreeMap::new(),
        secret_values: BTreeMap::new(),
    };
    // Catalog property names follow the Trino release the cluster runs (e.g. the S3 switch renamed in 481).
    let version = config
        .trino_version()
        .map_err(|(key, why)| anyhow::anyhow!("`{key}`: {why}"))?;
    for (name, spec) in &specs {
        out.files.insert(
            name.clone(),
            trino_catalogs::render_for(name, spec, version).text,
        );
        for s in layout.ecs_secrets(name, spec) {
            out.secrets.insert(s.env, s.parameter);
        }
        let from_env = if config.catalogs.contains_key(name) {
            trino_catalogs::spec::secrets_from_env(name, spec)?
        } else {
            Default::default()
        };
        for f in spec.secret_fields() {
            let (parameter, value) =
                match (&f.source, from_env.get(&f.field)) {
                    (trino_catalogs::SecretRef::Env(_), Some(value)) => (
                        layout.secret_parameter(name, &f.field),
                        value.expose().to_owned(),
                    ),
                    (trino_catalogs::SecretRef::Env(_), None) => {
                        let parameter = layout.secret_parameter(name, &f.field);
                        let value = store.read_secret(&parameter).await.with_context(|| {
                            format!("reading catalog {name}'s secret {}", f.field)
                        })?;
                        (parameter, value.expose().to_owned())
                    }
                    (trino_catalogs::SecretRef::Parameter(p), _) => {
                        let value = store.read_secret(p).await.with_context(|| {
                            format!("reading catalog {name}'s secret {}", f.field)
                        })?;
                        (p.clone(), value.expose().to_owned())
                    }
                };
            out.secret_values
                .insert(parameter, model::SecretString::new(value));
        }
    }
    Ok(out)
}

/// The desired state of the cluster `config` describes.
pub async fn desired(config: &LakeConfig, sdk: &aws_config::SdkConfig) -> anyhow::Result<Desired> {
    let catalogs = catalog_inputs(config, sdk).await?;
    let inputs = DeployInputs {
        catalog_files: catalogs.files,
        catalog_secrets: catalogs.secrets,
        catalog_secret_values: catalogs.secret_values,
        env: DeployInputs::read_env(config)?,
    };
    Ok(model::desired(config, &inputs)?)
}

/// Publishes the config's catalogs to the catalog store (unchanged parameters are not rewritten).
/// The catalog store of the config's cluster in Parameter Store (new secrets written with the config's KMS
/// key).
pub(crate) fn catalog_store(
    config: &LakeConfig,
    sdk: &aws_config::SdkConfig,
) -> anyhow::Result<SsmCatalogStore> {
    Ok(
        SsmCatalogStore::from_sdk_config(sdk, crate::catalog::layout(config)?)
            .with_kms_key_id(config.parameters.kms_key_id.clone()),
    )
}

/// Every catalog of the config with its secret values from this process's environment, for the deploy to
/// publish under its lock.
fn catalogs_to_publish(
    config: &LakeConfig,
) -> anyhow::Result<
    Vec<(
        String,
        trino_catalogs::CatalogSpec,
        trino_catalogs::SecretValues,
    )>,
> {
    config
        .catalogs
        .iter()
        .map(|(name, spec)| {
            let secrets =
                trino_catalogs::spec::secrets_from(name, spec, |var| std::env::var(var).ok())?;
            Ok((name.clone(), spec.clone(), secrets))
        })
        .collect()
}

fn adapter(config: &LakeConfig, sdk: &aws_config::SdkConfig) -> AwsCluster {
    AwsCluster::new(sdk).with_kms_key(config.parameters.kms_key_id.clone())
}

/// Runs `plan`.
pub async fn plan(global: &Global, _args: PlanArgs) -> anyhow::Result<()> {
    let config = global.load()?;
    let sdk = sdk_config(&config).await?;
    let desired = desired(&config, &sdk).await?;
    let plan = deploy::plan(&adapter(&config, &sdk), &desired).await?;
    out!("{plan}");
    Ok(())
}

/// Prints `question` and reads a yes from stdin (anything else, or no input, is no).
fn ask(question: &str) -> bool {
    out!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).is_ok() && matches!(line.trim(), "y" | "Y" | "yes")
}

fn confirm_on_stdin(plan: &trino_ecs_core::plan::Plan) -> bool {
    ask(&format!("{plan}apply these changes?"))
}

/// The confirmation a deploy or rollback passes to the library, which asks for the first plan and again,
/// under the lock, for a plan that changed meanwhile: `--yes` prints the plan and goes on.
fn confirmation(yes: bool) -> impl FnMut(&trino_ecs_core::plan::Plan) -> bool + Send {
    move |plan| {
        if yes {
            out!("{plan}");
            true
        } else {
            confirm_on_stdin(plan)
        }
    }
}

/// A progress line per applied action.
fn progress_lines() -> impl FnMut(&Action) + Send {
    let mut step = 0;
    move |action| {
        step += 1;
        outln!("  [{step}] {} {}", action.kind(), action.target());
    }
}

fn deploy_options(lock_wait: u64) -> DeployOptions {
    DeployOptions {
        holder: this_holder(),
        lock_wait: Duration::from_secs(lock_wait),
        ..Default::default()
    }
}

/// The worker service's fleet, its nodes (with the coordinator's load when `--coordinator` is given) and the
/// drain options, as `scale` and the worker rollout of `deploy`/`rollback` use them.
///
/// Protection outlasts what may go wrong: for a drain that waits (scale, a rollout), the drain timeout plus 10
/// minutes, so a timed-out or killed command leaves the workers protected for that long (renewed while it
/// runs); for the drain loop passing every `follow` seconds, 32 intervals (renewed after 16, the backoff being
/// at most 4 intervals), so only many failed passes in a row let it lapse. At least 10 minutes, at most ECS's
/// 48 hours.
fn worker_drain(
    config: &LakeConfig,
    sdk: &aws_config::SdkConfig,
    args: &DrainArgs,
    follow: Option<u64>,
) -> anyhow::Result<(EcsWorkerFleet, HttpNodeApi, ScaleOptions)> {
    let protection_minutes = match follow {
        Some(every) => (every * 32).div_ceil(60),
        None => args.drain_timeout.div_ceil(60) + 10,
    }
    .clamp(10, 2880) as i32;
    let fleet = EcsWorkerFleet::new(
        sdk,
        &config.cluster.name,
        &format!("{}-worker", config.cluster.name),
    );
    let mut nodes = HttpNodeApi::new();
    if let Some(url) = &args.coordinator {
        nodes = nodes.with_coordinator(ops_client(url)?);
    }
    let options = ScaleOptions {
        drain_timeout: Duration::from_secs(args.drain_timeout),
        grace_period: Duration::from_secs(u64::from(config.cluster.shutdown_grace_period_seconds)),
        protection_minutes,
        ..Default::default()
    };
    Ok((fleet, nodes, options))
}

fn ops_client(url: &str) -> anyhow::Result<trino_client::Client> {
    Ok(trino_client::Client::builder(url)
        .user(trino_ecs_core::render::OPS_USER)
        .build()?)
}

/// A progress line of the worker rollout.
fn rollout_line(line: &str) {
    outln!("  workers: {line}");
}

/// A progress line of the coordinator's replacement.
fn coordinator_line(line: &str) {
    outln!("  coordinator: {line}");
}

/// How `deploy`/`rollback` roll the services: workers with draining, and with `--coordinator` the coordinator
/// once no query runs, with its outage measured (without it, a coordinator change ends its queries, as the
/// plan says).
fn rollout<'a>(
    config: &LakeConfig,
    args: &ApplyArgs,
    drainer: Drainer<'a>,
) -> anyhow::Result<deploy::Rollout<'a>> {
    anyhow::ensure!(
        args.coordinator_wait <= 1200,
        "--coordinator-wait {} is above 1200 s: the wait runs under the deploy lock, whose 30-minute lease it must not outlast",
        args.coordinator_wait
    );
    let coordinator = match &args.drain.coordinator {
        Some(url) => Some(deploy::CoordinatorRestart {
            service: format!("{}-coordinator", config.cluster.name),
            // No retries: the outage is measured by when requests fail and succeed again.
            client: trino_client::Client::builder(url.as_str())
                .user(trino_ecs_core::render::OPS_USER)
                .retry(trino_client::RetryPolicy {
                    max_attempts: 1,
                    ..Default::default()
                })
                .connect_timeout(Duration::from_secs(2))
                .request_timeout(Duration::from_secs(10))
                .build()?,
            wait: Duration::from_secs(args.coordinator_wait),
            serve_timeout: Duration::from_secs(args.coordinator_serve_timeout),
            poll: Duration::from_secs(1),
            progress: Box::new(coordinator_line),
            outage: None,
        }),
        None => None,
    };
    Ok(deploy::Rollout {
        workers: Some(deploy::WorkerRollout {
            drainer,
            progress: Box::new(rollout_line),
        }),
        coordinator,
    })
}

async fn deploy_config(
    config: &LakeConfig,
    sdk: &aws_config::SdkConfig,
    args: &ApplyArgs,
) -> anyhow::Result<bool> {
    let desired = desired(config, sdk).await?;
    let aws = adapter(config, sdk);
    let store = catalog_store(config, sdk)?;
    // Resolved before anything else, so a missing secret variable stops the deploy before it asks.
    let publication = deploy::CatalogPublication {
        store: &store,
        catalogs: catalogs_to_publish(config)?,
    };
    let (fleet, nodes, options) = worker_drain(config, sdk, &args.drain, None)?;
    let mut rollout = rollout(config, args, Drainer::new(&fleet, &nodes, options))?;
    let started = Instant::now();
    let applied = deploy::deploy_with_catalogs(
        &aws,
        &desired,
        &deploy_options(args.lock_wait),
        Some(&publication),
        &mut rollout,
        &mut confirmation(args.yes),
        &mut progress_lines(),
    )
    .await?;
    Ok(report_applied(applied, started))
}

/// Prints what a deploy or rollback applied; false when the plan was declined.
fn report_applied(applied: Option<trino_ecs_core::plan::Plan>, started: Instant) -> bool {
    match applied {
        Some(plan) if plan.is_empty() => out!("{plan}"),
        Some(plan) => outln!(
            "applied {} actions in {:.1} s",
            plan.actions.len(),
            started.elapsed().as_secs_f64()
        ),
        // `None` only when a plan was declined.
        None => {
            outln!("nothing applied");
            return false;
        }
    }
    true
}

/// This deploy as a lock holder: `$USER pid N` on this machine (hostname and boot id, so a holder that died
/// here is recognised, and one on another machine or before a reboot never is).
fn this_holder() -> trino_ecs_core::lease::Holder {
    let read = |path: &str| std::fs::read_to_string(path).map(|s| s.trim().to_owned());
    let host = match (
        read("/proc/sys/kernel/hostname"),
        read("/proc/sys/kernel/random/boot_id"),
    ) {
        (Ok(name), Ok(boot)) if !name.is_empty() && !boot.is_empty() => {
            format!("{name} boot {boot}")
        }
        _ => String::new(),
    };
    trino_ecs_core::lease::Holder {
        owner: format!(
            "{} pid {}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
            std::process::id()
        ),
        host,
        pid: std::process::id(),
    }
}

/// `deploy --force-unlock`: shows who holds the lock and removes it once confirmed (or with `--yes`).
async fn force_unlock(
    aws: &trino_ecs_core::aws::AwsCluster,
    desired: &trino_ecs_core::model::Desired,
    yes: bool,
) -> anyhow::Result<()> {
    let parameter = &desired.lock_parameter;
    let Some(lease) = aws.lock_holder(parameter).await? else {
        outln!("no deploy lock is held ({parameter})");
        return Ok(());
    };
    outln!(
        "the deploy lock {parameter} is held by {} until {}",
        lease.holder(),
        lease.expires_at.to_rfc3339()
    );
    if !yes {
        anyhow::ensure!(
            ask("remove it? a deploy that still runs would then overlap this one"),
            "the lock was left in place; nothing applied"
        );
    }
    if aws.force_unlock(parameter, &lease).await? {
        outln!("removed the deploy lock of {}", lease.holder());
    } else {
        outln!("the lock changed hands meanwhile; left it in place");
    }
    Ok(())
}

/// Runs `deploy`.
pub async fn deploy(global: &Global, args: DeployArgs) -> anyhow::Result<()> {
    let config = global.load()?;
    let sdk = sdk_config(&config).await?;
    let args = args.apply;
    if args.force_unlock {
        let desired = desired(&config, &sdk).await?;
        force_unlock(&adapter(&config, &sdk), &desired, args.yes).await?;
    }
    if deploy_config(&config, &sdk, &args).await? && args.wait > 0 {
        wait_stable(
            &adapter(&config, &sdk),
            &desired(&config, &sdk).await?,
            args.wait,
        )
        .await?;
    }
    Ok(())
}

/// Runs `rollback`.
pub async fn rollback(global: &Global, args: RollbackArgs) -> anyhow::Result<()> {
    let config = global.load()?;
    let sdk = sdk_config(&config).await?;
    let desired = desired(&config, &sdk).await?;
    let aws = adapter(&config, &sdk);
    let apply = &args.apply;
    if apply.force_unlock {
        force_unlock(&aws, &desired, apply.yes).await?;
    }
    let target = trino_ecs_core::plan::RollbackTarget::parse(args.to.as_deref());
    let (fleet, nodes, options) = worker_drain(&config, &sdk, &apply.drain, None)?;
    let mut rollout = rollout(&config, apply, Drainer::new(&fleet, &nodes, options))?;
    let started = Instant::now();
    let applied = deploy::rollback(
        &aws,
        &desired,
        &target,
        &deploy_options(apply.lock_wait),
        &mut rollout,
        &mut confirmation(apply.yes),
        &mut progress_lines(),
    )
    .await?;
    if applied.as_ref().is_some_and(|p| p.is_empty()) {
        outln!("nothing to roll back: the services run those revisions already");
        return Ok(());
    }
    if report_applied(applied, started) {
        outln!(
            "rolled back; the config still describes the newer revisions, so the next deploy moves forward \
             again (fix the config first)"
        );
        if apply.wait > 0 {
            wait_stable(&aws, &desired, apply.wait).await?;
        }
    }
    Ok(())
}

async fn wait_stable(aws: &AwsCluster, desired: &Desired, seconds: u64) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let status = aws.rollout_status(desired).await?;
        let line: Vec<String> = status
            .services
            .iter()
            .map(|s| format!("{} {}/{}", s.name, s.running, s.desired))
            .collect();
        outln!("[{:>4} s] {}", started.elapsed().as_secs(), line.join(", "));
        if status.is_stable() {
            outln!("stable");
            return Ok(());
        }
        if started.elapsed() >= Duration::from_secs(seconds) {
            anyhow::bail!(
                "the services did not become stable within {seconds} s (an emulator never starts tasks: use --wait 0)"
            );
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// Runs `status`.
pub async fn status(global: &Global, args: StatusArgs) -> anyhow::Result<()> {
    let config = global.load()?;
    let sdk = sdk_config(&config).await?;
    let desired = desired(&config, &sdk).await?;
    let aws = adapter(&config, &sdk);
    out!("{}", aws.status(&desired).await?);
    if let Some(url) = &args.coordinator {
        match HttpNodeApi::new().info(url).await {
            Ok(info) => {
                outln!("coordinator {url}: {info}");
                let client = trino_client::Client::builder(url.as_str())
                    .user(trino_ecs_core::render::OPS_USER)
                    .build()?;
                match trino_ecs_core::live::active_workers(&client).await {
                    Ok(n) => outln!("active workers: {n}"),
                    Err(e) => outln!("active workers: unknown ({e})"),
                }
            }
            Err(e) => outln!("coordinator {url}: not reachable ({e})"),
        }
    }
    if args.wait > 0 {
        wait_stable(&aws, &desired, args.wait).await?;
    }
    Ok(())
}

/// Publishes the queued-queries-per-worker metric the step scaling policy's alarm watches. A failure is reported
/// and the drain loop goes on: draining matters more than one missed data point.
async fn publish_queue_metric(aws: &AwsCluster, cluster: &str, client: &trino_client::Client) {
    let counts = async {
        let queued = trino_ecs_core::live::queued_queries(client).await?;
        let workers = trino_ecs_core::live::active_workers(client).await?;
        Ok::<_, trino_ecs_core::Error>((queued, workers))
    };
    let result = match counts.await {
        Ok((queued, workers)) => aws
            .publish_queue_metric(
                cluster,
                u32::try_from(queued).unwrap_or(u32::MAX),
                u32::try_from(workers).unwrap_or(u32::MAX),
            )
            .await
            .map(|()| (queued, workers)),
        Err(e) => Err(e),
    };
    match result {
        Ok((queued, workers)) => outln!(
            "metric {}: {queued} queued / {workers} workers",
            trino_ecs_core::model::QUEUED_METRIC
        ),
        Err(e) => eprintln!("warning: queued-queries metric not published: {e}"),
    }
}

/// Runs `scale`: drains workers before lowering the count, so no running query is killed.
pub async fn scale(global: &Global, args: ScaleArgs) -> anyhow::Result<()> {
    let config = global.load()?;
    let sdk = sdk_config(&config).await?;
    let (fleet, nodes, options) = worker_drain(&config, &sdk, &args.drain, args.follow)?;
    if let Some(every) = args.follow {
        return follow(&config, &sdk, &args.drain, &fleet, &nodes, options, every).await;
    }
    let workers = args.workers.context("the number of workers is required")?;
    let w = &config.cluster.workers;
    anyhow::ensure!(
        (w.min..=w.max).contains(&workers),
        "{workers} workers is outside cluster.workers min..=max ({}..={})",
        w.min,
        w.max
    );
    let report = drain::scale_workers(&fleet, &nodes, workers, &options, &mut |line: &str| {
        outln!("{line}")
    })
    .await?;
    outln!("{report}");
    Ok(())
}

/// `scale --follow`: the drain loop. Each pass publishes the queue metric and runs one drain pass, neither of
/// which waits for a drain; a pass failing for a transient reason is retried with backoff (protection is
/// long enough to outlast several), any other failure ends the loop with its error.
async fn follow(
    config: &LakeConfig,
    sdk: &aws_config::SdkConfig,
    args: &DrainArgs,
    fleet: &EcsWorkerFleet,
    nodes: &HttpNodeApi,
    options: ScaleOptions,
    every: u64,
) -> anyhow::Result<()> {
    outln!(
        "drain loop: every {every} s, protect the workers that stay (for {} min, renewed), drain those above \
         autoscaling's count and those of an older revision once their replacements are active",
        options.protection_minutes
    );
    let metric = QueueMetric {
        aws: adapter(config, sdk),
        cluster: config.cluster.name.clone(),
        coordinator: args.coordinator.as_deref().map(ops_client).transpose()?,
    };
    let mut drainer = Drainer::new(fleet, nodes, options);
    drain::drain_loop(
        &mut drainer,
        Duration::from_secs(every),
        None,
        &metric,
        &mut |line: &str| {
            if line.starts_with("warning:") {
                eprintln!("{line}");
            } else {
                outln!("{line}");
            }
        },
    )
    .await?;
    Ok(())
}

/// The drain loop's hook: publishes the queued-queries-per-worker metric when the coordinator is known.
struct QueueMetric {
    aws: AwsCluster,
    cluster: String,
    coordinator: Option<trino_client::Client>,
}

#[async_trait::async_trait]
impl drain::BeforePass for QueueMetric {
    async fn before_pass(&self) {
        if let Some(client) = &self.coordinator {
            publish_queue_metric(&self.aws, &self.cluster, client).await;
        }
    }
}

/// The emulator's default VPC subnets and security group, looked up with the harness venv's boto3 (moto
/// validates the awsvpc network of a service; the example config's ids are placeholders).
pub(crate) fn emulator_network(
    endpoint: &str,
    region: &str,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let venv = crate::harness::Venv::ensure()?;
    let script = r#"
import boto3, json, sys
ec2 = boto3.client("ec2", endpoint_url=sys.argv[1], region_name=sys.argv[2], aws_access_key_id="testing", aws_secret_access_key="testing")
subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]]
groups = [g["GroupId"] for g in ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["default"]}])["SecurityGroups"]]
print(json.dumps([sorted(subnets)[:2], groups[:1]]))
"#;
    let out = std::process::Command::new(venv.python())
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_DEFAULT_PROFILE")
        .args(["-c", script, endpoint, region])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "looking up the emulator's default VPC: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// The main job of `cargo xtask local`: plan and deploy `config` into the emulator `sdk` points at.
pub async fn local_job(
    config: &trino_ecs_core::config::LakeConfig,
    sdk: &aws_config::SdkConfig,
) -> anyhow::Result<()> {
    let endpoint = config
        .aws
        .endpoint_url
        .clone()
        .context("local_job needs the emulator's endpoint in aws.endpoint_url")?;
    let mut config = config.clone();
    let (subnets, groups) = emulator_network(&endpoint, &config.aws.region)?;
    outln!("emulator network: subnets {subnets:?}, security groups {groups:?}");
    config.cluster.subnets = subnets;
    config.cluster.security_groups = groups;
    outln!(
        "deploying cluster {:?} ({} workers, {} catalogs) from {}",
        config.cluster.name,
        config.initial_workers(),
        config.catalogs.len(),
        config.source.display()
    );
    deploy_config(
        &config,
        sdk,
        &ApplyArgs {
            yes: true,
            wait: 0,
            lock_wait: 0,
            force_unlock: false,
            coordinator_wait: 600,
            coordinator_serve_timeout: 600,
            drain: DrainArgs {
                drain_timeout: 3600,
                coordinator: None,
            },
        },
    )
    .await?;
    outln!("--- redeploy (must be a no-op) ---");
    let desired = desired(&config, sdk).await?;
    let counter = trino_ecs_core::calls::CallCounter::new();
    let aws = AwsCluster::with_counter(sdk, &counter);
    let plan = deploy::deploy(
        &aws,
        &desired,
        &DeployOptions::default(),
        &mut |_| true,
        &mut |_| {},
    )
    .await?;
    out!("{}", plan.unwrap_or_default());
    outln!(
        "{} AWS calls, {} mutating",
        counter.calls().len(),
        counter.mutating().len()
    );
    outln!("--- status ---");
    out!("{}", aws.status(&desired).await?);
    Ok(())
}

/// The resource kind an AWS operation works on, for call-count tables.
fn kind_of(service: &str, operation: &str) -> &'static str {
    match (service, operation) {
        ("SSM", op) if op.contains("Parameter") => "parameter",
        ("ServiceDiscovery", _) => "namespace",
        ("ECS", op) if op.contains("TaskDefinition") => "task-definition",
        ("ECS", op) if op.contains("Cluster") => "cluster",
        ("ECS", _) => "service",
        (_, op) if op.contains("ScalableTarget") => "scalable-target",
        (_, op) if op.contains("Polic") => "scaling-policy",
        ("CloudWatch", _) => "alarm",
        _ => "other",
    }
}

fn print_calls(title: &str, counter: &trino_ecs_core::calls::CallCounter) -> usize {
    let mut table: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let calls = counter.calls();
    for call in &calls {
        let entry = table
            .entry(kind_of(&call.service, &call.operation))
            .or_default();
        entry.0 += 1;
        entry.1 += usize::from(call.is_mutating());
    }
    outln!(
        "{title}: {} AWS calls ({} mutating)",
        calls.len(),
        calls.iter().filter(|c| c.is_mutating()).count()
    );
    for (kind, (all, mutating)) in &table {
        outln!("  {kind:<16} {all:>3} calls  {mutating:>3} mutating");
    }
    calls.len()
}

/// `cargo xtask bench deploy`: AWS calls per first deploy, per no-op plan and per no-op deploy of
/// examples/local.toml into a fresh emulator, by resource kind.
pub async fn bench_deploy() -> anyhow::Result<()> {
    let root = crate::common::workspace_root()?;
    let mut config = LakeConfig::load(&root.join("examples/local.toml"))?;
    let venv = crate::harness::Venv::ensure()?;
    let emulator = crate::harness::Emulator::start(&venv)?;
    config.aws.endpoint_url = Some(emulator.endpoint.clone());
    let sdk = crate::local::emulator_sdk_config(&config, &emulator.endpoint).await;
    let (subnets, groups) = emulator_network(&emulator.endpoint, &config.aws.region)?;
    config.cluster.subnets = subnets;
    config.cluster.security_groups = groups;
    // Published outside the counted calls: the bench counts the cluster's own.
    let store = catalog_store(&config, &sdk)?;
    for (name, spec, secrets) in catalogs_to_publish(&config)? {
        store.put(&name, &spec, &secrets).await?;
    }
    let desired = desired(&config, &sdk).await?;
    let counter = trino_ecs_core::calls::CallCounter::new();
    let aws = AwsCluster::with_counter(&sdk, &counter);

    let started = Instant::now();
    let plan = deploy::deploy(
        &aws,
        &desired,
        &DeployOptions::default(),
        &mut |_| true,
        &mut |_| {},
    )
    .await?;
    let first_time = started.elapsed();
    let actions = plan.map_or(0, |p| p.actions.len());
    let first = print_calls(
        &format!(
            "first deploy ({actions} actions, {:.2} s)",
            first_time.as_secs_f64()
        ),
        &counter,
    );

    counter.reset();
    let started = Instant::now();
    let noop = deploy::plan(&aws, &desired).await?;
    anyhow::ensure!(
        noop.is_empty(),
        "the plan after a deploy is not empty:\n{noop}"
    );
    let plan_calls = print_calls(
        &format!("no-op plan ({:.3} s)", started.elapsed().as_secs_f64()),
        &counter,
    );

    counter.reset();
    deploy::deploy(
        &aws,
        &desired,
        &DeployOptions::default(),
        &mut |_| true,
        &mut |_| {},
    )
    .await?;
    print_calls("no-op deploy", &counter);
    anyhow::ensure!(
        counter.mutating().is_empty(),
        "a no-op deploy sent mutating calls: {:?}",
        counter.mutating()
    );
    outln!(
        "ratio: a no-op plan costs {plan_calls}/{first} = {:.2} of a first deploy's calls",
        plan_calls as f64 / first.max(1) as f64
    );
    Ok(())
}
