//! Plan and deploy: observe, plan, and (under the deploy lock) apply.
//!
//! A deploy whose plan is empty takes no lock and makes no mutating call. Otherwise it takes the lock,
//! observes and plans again (another deploy may have finished meanwhile), applies, and releases the lock.

use std::time::{Duration, Instant};

use crate::aws::AwsCluster;
use crate::error::{Error, Result};
use crate::model::Desired;
use crate::plan::{self, Action, Plan};

/// How a deploy runs.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Who deploys (shown to a concurrent deploy that finds the lock taken).
    pub owner: String,
    /// How long the lock is valid if this process dies without releasing it.
    pub lease: Duration,
    /// How long to wait for a lock held by another deploy before failing with [`Error::Locked`].
    pub lock_wait: Duration,
}

impl Default for DeployOptions {
    /// Owner `pid <this process>` (the caller names the person, e.g. from `$USER`), a 30-minute lease, no
    /// waiting for the lock.
    fn default() -> Self {
        Self {
            owner: format!("pid {}", std::process::id()),
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

/// Observes, plans, asks `confirm` (skipped when the plan is empty), and applies under the deploy lock.
/// Returns the plan that was applied (empty: nothing to do; `None`: declined).
pub async fn deploy(
    aws: &AwsCluster,
    desired: &Desired,
    options: &DeployOptions,
    confirm: &mut (dyn FnMut(&Plan) -> bool + Send),
    progress: &mut (dyn FnMut(&Action) + Send),
) -> Result<Option<Plan>> {
    let first = plan(aws, desired).await?;
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
                &options.owner,
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
        let plan = plan::plan(desired, &observed);
        if !plan.is_empty() && plan != first && !confirm(&plan) {
            return Ok(None);
        }
        aws.apply(desired, &plan, &observed, progress).await?;
        Ok(Some(plan))
    }
    .await;
    let released = aws.unlock(lock).await;
    let plan = result?;
    released?;
    Ok(plan)
}
