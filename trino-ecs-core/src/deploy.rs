//! Plan and deploy: observe, plan, and (under the deploy lock) apply.
//!
//! A deploy whose plan is empty takes no lock and makes no mutating call. Otherwise it takes the lock,
//! observes and plans again (another deploy may have finished meanwhile), applies, and releases the lock.

use std::time::{Duration, Instant};

use crate::aws::AwsCluster;
use crate::error::{Error, Result};
use crate::lease::Holder;
use crate::model::Desired;
use crate::plan::{self, Action, Observed, Plan, RollbackTarget};

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

/// Observes, plans, asks `confirm` (skipped when the plan is empty), and applies under the deploy lock.
/// Returns the plan that was applied (empty: nothing to do; `None`: declined).
pub async fn deploy(
    aws: &AwsCluster,
    desired: &Desired,
    options: &DeployOptions,
    confirm: &mut (dyn FnMut(&Plan) -> bool + Send),
    progress: &mut (dyn FnMut(&Action) + Send),
) -> Result<Option<Plan>> {
    deploy_with_catalogs(aws, desired, options, None, confirm, progress).await
}

/// [`deploy`] that also publishes `catalogs` under the lock, after the re-plan was confirmed and before the
/// first change: a declined or empty plan publishes nothing.
pub async fn deploy_with_catalogs(
    aws: &AwsCluster,
    desired: &Desired,
    options: &DeployOptions,
    catalogs: Option<&CatalogPublication<'_>>,
    confirm: &mut (dyn FnMut(&Plan) -> bool + Send),
    progress: &mut (dyn FnMut(&Action) + Send),
) -> Result<Option<Plan>> {
    let make = |observed: &Observed| Ok(plan::plan(desired, observed));
    locked(aws, desired, options, &make, catalogs, confirm, progress).await
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
/// It works after a deploy died midway: the revisions that deploy registered are simply newer ones.
pub async fn rollback(
    aws: &AwsCluster,
    desired: &Desired,
    target: &RollbackTarget,
    options: &DeployOptions,
    confirm: &mut (dyn FnMut(&Plan) -> bool + Send),
    progress: &mut (dyn FnMut(&Action) + Send),
) -> Result<Option<Plan>> {
    let make = |observed: &Observed| plan::rollback(desired, observed, target);
    locked(aws, desired, options, &make, None, confirm, progress).await
}

/// Plans with `make`, asks `confirm` (skipped when the plan is empty), takes the lock, plans again under it
/// (confirming again a plan that changed), publishes `catalogs` and applies.
async fn locked(
    aws: &AwsCluster,
    desired: &Desired,
    options: &DeployOptions,
    make: &(dyn Fn(&Observed) -> Result<Plan> + Sync),
    catalogs: Option<&CatalogPublication<'_>>,
    confirm: &mut (dyn FnMut(&Plan) -> bool + Send),
    progress: &mut (dyn FnMut(&Action) + Send),
) -> Result<Option<Plan>> {
    let first = make(&aws.observe(desired).await?)?;
    if first.is_empty() {
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
        let deploy_id = crate::model::deploy_id(chrono::Utc::now());
        aws.apply(desired, &plan, &observed, &deploy_id, progress)
            .await?;
        Ok(Some(plan))
    }
    .await;
    let released = aws.unlock(lock).await;
    let plan = result?;
    released?;
    Ok(plan)
}
