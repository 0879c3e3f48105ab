//! Plan and deploy: observe, plan, and (under the deploy lock) apply.
//!
//! A deploy whose plan is empty takes no lock and makes no mutating call. Otherwise it takes the lock,
//! observes and plans again (another deploy may have finished meanwhile), applies, and releases the lock.

use std::time::{Duration, Instant};

use crate::aws::AwsCluster;
use crate::drain::Drainer;
use crate::error::{Error, Result};
use crate::lease::Holder;
use crate::live;
use crate::model::Desired;
use crate::plan::{self, Action, Change, Observed, Plan, RollbackTarget};

/// How a deploy runs.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Who deploys (shown to a concurrent deploy that finds the lock taken, and used to see that it died).
    pub holder: Holder,
    /// How long the lock is valid if this process dies without releasing it.
    pub lease: Duration,
    /// How long to wait for a lock held by another deploy before failing with [`Error::Locked`].
    pub lock_wait: Duration,
}

impl Default for DeployOptions {
    /// Holder `pid <this process>` on an unknown machine (the caller names the person and the machine), a
    /// 30-minute lease, no waiting for the lock.
    fn default() -> Self {
        Self {
            holder: Holder::named(format!("pid {}", std::process::id())),
            lease: Duration::from_secs(1800),
            lock_wait: Duration::ZERO,
        }
    }
}

/// Observes and plans without changing anything.
pub async fn plan(aws: &AwsCluster, desired: &Desired) -> Result<Plan> {
    let observed = aws.observe(desired).await?;
    Ok(plan::plan(desired, &observed))
}

/// Catalogs a deploy writes to the catalog store under its lock, before it applies the plan: two deploys
/// never interleave their catalog writes and task definitions, so the store and the rendered files agree.
pub struct CatalogPublication<'a> {
    /// The store.
    pub store: &'a dyn trino_catalogs::store::CatalogStore,
    /// Each catalog with the values of its secrets.
    pub catalogs: Vec<(
        String,
        trino_catalogs::CatalogSpec,
        trino_catalogs::SecretValues,
    )>,
}

/// How a deploy rolls the workers: a plan that moves the worker service first protects every running worker
/// ([`Drainer::protect_for_rollout`]), and after the lock is released the old workers drain as their
/// replacements become active ([`Drainer::finish_rollout`]). Every deploy given one also finishes a rollout
/// that an earlier one left (it timed out or died), even when its plan is empty.
pub struct WorkerRollout<'a> {
    /// The drainer over the worker service.
    pub drainer: Drainer<'a>,
    /// Progress lines of the rollout.
    pub progress: Box<dyn FnMut(&str) + Send + 'a>,
}

/// How a deploy reaches and replaces the coordinator. Its client makes live catalog changes
/// ([`Action::LiveCatalogs`]: a plan with one is refused without it). Trino cannot drain a coordinator (it refuses `SHUTTING_DOWN`), and
/// ECS stops the old one before it starts the new one (two coordinators never serve the alias), so the
/// replacement ends every query the coordinator runs. A deploy given this waits, before it changes anything,
/// until no user query runs (within `wait`; past it nothing is applied), then applies, and measures how long
/// no coordinator served (see [`live::watch_restart`]), which it reports through `progress`.
pub struct CoordinatorRestart<'a> {
    /// The coordinator service's name.
    pub service: String,
    /// The ops user's client of a stable coordinator address (the analysts' endpoint or the Service Connect
    /// alias; a task's own address goes away with the task). Give it no retries, so an outage shows at once.
    pub client: trino_client::Client,
    /// How long to wait for the running queries to finish.
    pub wait: Duration,
    /// How long the new coordinator may take to serve.
    pub serve_timeout: Duration,
    /// Poll interval.
    pub poll: Duration,
    /// Progress lines.
    pub progress: Box<dyn FnMut(&str) + Send + 'a>,
    /// The outage the last deploy measured.
    pub outage: Option<live::Outage>,
}

/// What a deploy does besides applying the plan: how it rolls the workers and replaces the coordinator.
/// The default does neither (ECS's own rolling deployments).
#[derive(Default)]
pub struct Rollout<'a> {
    /// Worker rollout with draining.
    pub workers: Option<WorkerRollout<'a>>,
    /// Coordinator replacement that waits for running queries and measures the outage.
    pub coordinator: Option<CoordinatorRestart<'a>>,
}

/// Whether `plan` moves the existing service `name` to another revision or deployment.
fn moves(plan: &Plan, name: &str) -> bool {
    plan.actions.iter().any(|a| match a {
        Action::PutService { spec, change, .. } => {
            spec.name == name && !matches!(change, Change::Create)
        }
        Action::RollBackService { service, .. } => service == name,
        _ => false,
    })
}

impl CoordinatorRestart<'_> {
    /// Waits until no user query runs on the coordinator, or fails (nothing applied yet) after `wait`. With
    /// `recovering` (a rollback), a coordinator that does not answer has no query to wait for: it is the
    /// broken one the rollback replaces.
    async fn quiesce(&mut self, recovering: bool) -> Result<()> {
        let started = Instant::now();
        let mut last = usize::MAX;
        loop {
            let running = match live::running_queries(&self.client).await {
                Err(e) if recovering => {
                    (self.progress)(&format!(
                        "the coordinator does not answer ({e}): no query to wait for, replacing it"
                    ));
                    return Ok(());
                }
                other => other?,
            };
            if running.is_empty() {
                (self.progress)("no query runs: replacing the coordinator");
                return Ok(());
            }
            if running.len() != last {
                let ids: Vec<String> = running
                    .iter()
                    .map(|q| format!("{} ({}, {})", q.id, q.user, q.state))
                    .collect();
                (self.progress)(&format!(
                    "waiting for {} running quer{} to finish before the coordinator is replaced: {}",
                    running.len(),
                    if running.len() == 1 { "y" } else { "ies" },
                    ids.join(", ")
                ));
                last = running.len();
            }
            if started.elapsed() >= self.wait {
                return Err(Error::Timeout {
                    what: format!(
                        "{} running quer{} to finish before replacing the coordinator (Trino cannot drain a coordinator: replacing it ends its queries); nothing was applied: deploy again when the cluster is quieter, or raise --coordinator-wait",
                        running.len(),
                        if running.len() == 1 { "y" } else { "ies" }
                    ),
                    seconds: self.wait.as_secs(),
                });
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}

/// Observes, plans, asks `confirm` (skipped when the plan is empty), and applies under the deploy lock.
/// Returns the plan that was applied (empty: nothing to do; `None`: declined).
pub async fn deploy(
    aws: &AwsCluster,
    desired: &Desired,
    options: &DeployOptions,
    confirm: &mut (dyn FnMut(&Plan) -> bool + Send),
    progress: &mut (dyn FnMut(&Action) + Send),
) -> Result<Option<Plan>> {
    deploy_with_catalogs(
        aws,
        desired,
        options,
        None,
        &mut Rollout::default(),
        confirm,
        progress,
    )
    .await
}

/// [`deploy`] that also publishes `catalogs` under the lock, after the re-plan was confirmed and before the
/// first change (a declined or empty plan publishes nothing), and rolls the services as `rollout` says (workers
/// with draining instead of ECS's SIGTERM, see [`WorkerRollout`]; the coordinator once no query runs, see
/// [`CoordinatorRestart`]).
pub async fn deploy_with_catalogs(
    aws: &AwsCluster,
    desired: &Desired,
    options: &DeployOptions,
    catalogs: Option<&CatalogPublication<'_>>,
    rollout: &mut Rollout<'_>,
    confirm: &mut (dyn FnMut(&Plan) -> bool + Send),
    progress: &mut (dyn FnMut(&Action) + Send),
) -> Result<Option<Plan>> {
    let make = |observed: &Observed| Ok(plan::plan(desired, observed));
    locked(
        aws, desired, options, &make, catalogs, rollout, confirm, progress,
    )
    .await
}

/// Observes and plans a rollback to `target` without changing anything.
pub async fn plan_rollback(
    aws: &AwsCluster,
    desired: &Desired,
    target: &RollbackTarget,
) -> Result<Plan> {
    let observed = aws.observe(desired).await?;
    plan::rollback(desired, &observed, target)
}

/// Moves the services back to `target` (retained revisions, which read their own files) under the deploy
/// lock, like [`deploy`]: the plan is confirmed first, and again if it changed while waiting for the lock.
/// It works after a deploy died midway: the revisions that deploy registered are simply newer ones. With
/// `rollout`, the services roll back as in [`deploy_with_catalogs`].
pub async fn rollback(
    aws: &AwsCluster,
    desired: &Desired,
    target: &RollbackTarget,
    options: &DeployOptions,
    rollout: &mut Rollout<'_>,
    confirm: &mut (dyn FnMut(&Plan) -> bool + Send),
    progress: &mut (dyn FnMut(&Action) + Send),
) -> Result<Option<Plan>> {
    let make = |observed: &Observed| plan::rollback(desired, observed, target);
    locked(
        aws, desired, options, &make, None, rollout, confirm, progress,
    )
    .await
}

/// Plans with `make`, asks `confirm` (skipped when the plan is empty), takes the lock, plans again under it
/// (confirming again a plan that changed), waits for running queries when the plan replaces the coordinator,
/// publishes `catalogs`, protects the workers when the plan moves them, applies, releases the lock, measures
/// the coordinator's outage and finishes the worker rollout.
#[allow(clippy::too_many_arguments)]
async fn locked(
    aws: &AwsCluster,
    desired: &Desired,
    options: &DeployOptions,
    make: &(dyn Fn(&Observed) -> Result<Plan> + Sync),
    catalogs: Option<&CatalogPublication<'_>>,
    rollout: &mut Rollout<'_>,
    confirm: &mut (dyn FnMut(&Plan) -> bool + Send),
    progress: &mut (dyn FnMut(&Action) + Send),
) -> Result<Option<Plan>> {
    let first = make(&aws.observe(desired).await?)?;
    if first.is_empty() {
        // Nothing to change, but a rollout an earlier deploy left unfinished is finished.
        if let Some(w) = rollout.workers.as_mut() {
            w.drainer.finish_rollout(&mut *w.progress).await?;
        }
        return Ok(Some(first));
    }
    if !confirm(&first) {
        return Ok(None);
    }
    let started = Instant::now();
    let lock = loop {
        match aws
            .lock(
                &desired.lock_parameter,
                &desired.cluster,
                &options.holder,
                options.lease,
            )
            .await
        {
            Ok(lock) => break lock,
            Err(Error::Locked { .. }) if started.elapsed() < options.lock_wait => {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return Err(e),
        }
    };
    let result = async {
        // Re-planned under the lock: another deploy may have changed the cluster since `first` was confirmed.
        // A plan that differs from the confirmed one is confirmed again, never applied unseen.
        let observed = aws.observe(desired).await?;
        let plan = make(&observed)?;
        if !plan.is_empty() && plan != first && !confirm(&plan) {
            return Ok(None);
        }
        if plan.live_catalogs().is_some() && rollout.coordinator.is_none() {
            return Err(Error::InvalidConfig {
                field: "--coordinator".into(),
                reason: "the plan changes catalogs on the running coordinator (CREATE/DROP CATALOG) and \
                         needs its address: give --coordinator URL; nothing was applied"
                    .into(),
            });
        }
        if let Some(c) = rollout
            .coordinator
            .as_mut()
            .filter(|c| moves(&plan, &c.service))
        {
            // Before anything is written: a deploy that cannot wait them out changes nothing.
            let recovering = plan
                .actions
                .iter()
                .any(|a| matches!(a, Action::RollBackService { service, .. } if *service == c.service));
            c.quiesce(recovering).await?;
        }
        if let Some(publication) = catalogs.filter(|_| !plan.is_empty()) {
            for (name, spec, secrets) in &publication.catalogs {
                publication
                    .store
                    .put(name, spec, secrets)
                    .await
                    .map_err(|source| Error::Catalog {
                        catalog: name.clone(),
                        source,
                    })?;
            }
        }
        if let Some(w) = rollout
            .workers
            .as_mut()
            .filter(|w| moves(&plan, w.drainer.service_name()))
        {
            // Before ECS starts the deployment: it may then stop none of the running workers itself.
            w.drainer.protect_for_rollout(&mut *w.progress).await?;
        }
        let deploy_id = crate::model::deploy_id(chrono::Utc::now());
        let client = rollout.coordinator.as_ref().map(|c| &c.client);
        aws.apply(desired, &plan, &observed, &deploy_id, client, progress)
            .await?;
        Ok(Some(plan))
    }
    .await;
    let released = aws.unlock(lock).await;
    let plan = result?;
    released?;
    // Outside the lock: draining takes as long as the longest query, and a concurrent deploy's rollout only
    // drains the same older workers.
    if let Some(plan) = &plan {
        // The watch's failure (a coordinator that does not come back) is reported after the workers' rollout
        // has finished: their drain must not be abandoned for it.
        let mut watched = Ok(());
        if let Some(c) = rollout
            .coordinator
            .as_mut()
            .filter(|c| moves(plan, &c.service))
        {
            match live::watch_restart(&c.client, c.poll, c.serve_timeout, &mut *c.progress).await {
                Ok(outage) => {
                    (c.progress)(&outage.to_string());
                    c.outage = Some(outage);
                }
                Err(e) => {
                    (c.progress)(
                        "the new coordinator does not serve: if Trino refused its configuration (its log \
                         says why), `rollback` returns the services to the revisions before this deploy",
                    );
                    watched = Err(e);
                }
            }
        }
        if let Some(w) = rollout.workers.as_mut() {
            w.drainer.finish_rollout(&mut *w.progress).await?;
        }
        watched?;
    }
    Ok(plan)
}
