//! What one drain pass does, decided from what it sees: pure, tested with plain values.
//!
//! A pass sees the worker service (the revision it runs, the count it wants) and every running worker task
//! with its revision, its Trino node state and its load. It decides which workers to protect, which to put
//! into `SHUTTING_DOWN` and whose protection to release, so that, pass after pass:
//! - no worker that may run a query is ever left to ECS unprotected (ECS would stop it with SIGTERM, on which
//!   Trino does not drain);
//! - workers of an older revision (a deployment in progress) are drained once enough workers of the service's
//!   revision are active to take their place, so a worker deployment finishes without killing a query;
//! - workers above the wanted count are drained, least busy first;
//! - a draining worker keeps its protection until it has exited, then loses it; an older worker this process did
//!   not drain keeps it while ECS lists it, even when unreachable (unreachable is no proof that it is idle).
//!
//! Which workers drain is derived from what the nodes report (`SHUTTING_DOWN`) plus what this process asked,
//! so a pass after a restart of the loop, or after a deploy that died midway, continues where the last one
//! stopped.

use std::collections::BTreeSet;
use std::fmt;

use super::NodeState;

/// One running worker task as a pass sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worker {
    /// The ECS task ARN.
    pub arn: String,
    /// Its Trino base URL, once the task has an address.
    pub node: Option<String>,
    /// The task definition it runs.
    pub revision: String,
    /// The deployment that started it, when known.
    pub deployment: Option<String>,
    /// Its node state (`Gone` when unreachable: starting, or exited).
    pub state: NodeState,
    /// Unfinished tasks the coordinator reports on it (0 when unknown).
    pub load: u32,
}

/// The worker service and its running tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetView {
    /// The task definition the service runs.
    pub revision: String,
    /// The service's primary deployment, when known.
    pub deployment: Option<String>,
    /// The running tasks.
    pub workers: Vec<Worker>,
}

/// What a pass does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassPlan {
    /// Workers to keep (or start keeping) protected: the kept ones, and the draining ones until they exit.
    pub protect: Vec<String>,
    /// Workers to put into `SHUTTING_DOWN` now: `(task ARN, node URL)`.
    pub shut_down: Vec<(String, String)>,
    /// Workers whose protection goes: drained ones that exited, and ones without a reachable Trino that are
    /// not kept (they run no query).
    pub release: Vec<String>,
    /// Workers already draining that have not exited yet.
    pub draining: Vec<String>,
    /// Workers of an older revision still running (draining or not).
    pub old: usize,
}

impl PassPlan {
    /// True when nothing is left to drain: no older revision runs and no worker is draining.
    pub fn settled(&self) -> bool {
        self.old == 0 && self.draining.is_empty() && self.shut_down.is_empty()
    }
}

impl fmt::Display for PassPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} kept, {} to drain, {} draining, {} of an older revision",
            self.protect.len() - self.draining.len(),
            self.shut_down.len(),
            self.draining.len(),
            self.old
        )
    }
}

/// The pass that moves `view` towards `target` workers of the service's revision. `asked` are the workers
/// this process already put into `SHUTTING_DOWN` (a node that has exited no longer says so itself).
pub fn plan_pass(view: &FleetView, target: u32, asked: &BTreeSet<String>) -> PassPlan {
    let target = target as usize;
    let mut plan = PassPlan::default();
    let mut current: Vec<&Worker> = Vec::new();
    let mut old: Vec<&Worker> = Vec::new();
    for w in &view.workers {
        // Another revision, or the same one started by an older deployment (ECS replaces those too).
        let is_old = w.revision != view.revision
            || matches!((&w.deployment, &view.deployment), (Some(a), Some(b)) if a != b);
        if is_old {
            plan.old += 1;
        }
        let draining = asked.contains(&w.arn) || w.state == NodeState::ShuttingDown;
        if draining {
            if w.state == NodeState::Gone {
                // Exited (ECS has not noticed yet): nothing left to protect.
                plan.release.push(w.arn.clone());
            } else {
                plan.protect.push(w.arn.clone());
                plan.draining.push(w.arn.clone());
            }
        } else if is_old {
            if w.state == NodeState::Gone {
                // Unreachable but still listed: it exited a moment ago (ECS will notice), or it is out of this
                // process's reach. Either way it stays protected until ECS no longer lists it.
                plan.protect.push(w.arn.clone());
            } else {
                old.push(w);
            }
        } else {
            current.push(w);
        }
    }

    // Least busy first, and a worker that serves nothing (starting, no address) before any that may.
    let rank = |w: &&Worker| (w.state == NodeState::Active, w.load, w.arn.clone());
    current.sort_by_key(rank);
    old.sort_by_key(rank);

    // Workers of the service's revision above the target are drained.
    let excess = current.len().saturating_sub(target);
    let (drain_current, keep_current) = current.split_at(excess);
    // Older workers stay while they cover for kept ones not active yet; the least busy of the rest drain.
    let active_kept = keep_current
        .iter()
        .filter(|w| w.state == NodeState::Active)
        .count();
    let keep_old = old.len().min(target.saturating_sub(active_kept));
    let (drain_old, keep_old) = old.split_at(old.len() - keep_old);

    for w in keep_current.iter().chain(keep_old) {
        plan.protect.push(w.arn.clone());
    }
    for w in drain_current.iter().chain(drain_old) {
        match (&w.node, &w.state) {
            (Some(node), state) if *state != NodeState::Gone => {
                plan.shut_down.push((w.arn.clone(), node.clone()));
                plan.protect.push(w.arn.clone());
            }
            // No reachable Trino, no query: ECS may stop it at once.
            _ => plan.release.push(w.arn.clone()),
        }
    }
    plan.protect.sort();
    plan.release.sort();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(arn: &str, revision: &str, state: NodeState, load: u32) -> Worker {
        Worker {
            arn: arn.into(),
            node: (state != NodeState::Gone || arn.ends_with("-addressed"))
                .then(|| format!("http://{arn}:8080")),
            revision: revision.into(),
            deployment: None,
            state,
            load,
        }
    }

    fn view(workers: Vec<Worker>) -> FleetView {
        FleetView {
            revision: "td:2".into(),
            deployment: None,
            workers,
        }
    }

    fn arns(v: &[(String, String)]) -> Vec<&str> {
        v.iter().map(|(a, _)| a.as_str()).collect()
    }

    #[test]
    fn a_settled_fleet_protects_every_worker_and_drains_none() {
        let v = view(vec![
            worker("a", "td:2", NodeState::Active, 3),
            worker("b", "td:2", NodeState::Active, 0),
        ]);
        let p = plan_pass(&v, 2, &BTreeSet::new());
        assert_eq!(p.protect, ["a", "b"]);
        assert!(p.shut_down.is_empty() && p.release.is_empty());
        assert!(p.settled());
    }

    #[test]
    fn scale_in_drains_the_least_busy_and_a_starting_worker_first() {
        let v = view(vec![
            worker("a", "td:2", NodeState::Active, 3),
            worker("b", "td:2", NodeState::Active, 1),
            worker("c", "td:2", NodeState::Active, 7),
            worker("d", "td:2", NodeState::Gone, 0),
        ]);
        let p = plan_pass(&v, 2, &BTreeSet::new());
        assert_eq!(
            p.release,
            ["d"],
            "a worker that serves nothing yet is removed first, without draining"
        );
        assert_eq!(arns(&p.shut_down), ["b"], "then the least busy");
        assert_eq!(
            p.protect,
            ["a", "b", "c"],
            "the drained worker stays protected until it exits"
        );
        assert!(!p.settled());
    }

    #[test]
    fn older_workers_stay_until_active_replacements_cover_them() {
        // Deployment just started: the replacements are starting.
        let v = view(vec![
            worker("old1", "td:1", NodeState::Active, 2),
            worker("old2", "td:1", NodeState::Active, 5),
            worker("new1", "td:2", NodeState::Gone, 0),
            worker("new2", "td:2", NodeState::Gone, 0),
        ]);
        let p = plan_pass(&v, 2, &BTreeSet::new());
        assert!(p.shut_down.is_empty(), "{p:?}");
        assert_eq!(p.protect, ["new1", "new2", "old1", "old2"]);
        assert_eq!(p.old, 2);

        // One replacement is active: the least busy old worker drains.
        let v = view(vec![
            worker("old1", "td:1", NodeState::Active, 2),
            worker("old2", "td:1", NodeState::Active, 5),
            worker("new1", "td:2", NodeState::Active, 0),
            worker("new2", "td:2", NodeState::Gone, 0),
        ]);
        let p = plan_pass(&v, 2, &BTreeSet::new());
        assert_eq!(arns(&p.shut_down), ["old1"]);
        assert_eq!(p.protect, ["new1", "new2", "old1", "old2"]);

        // Both active, old1 draining: old2 drains too.
        let v = view(vec![
            worker("old1", "td:1", NodeState::ShuttingDown, 1),
            worker("old2", "td:1", NodeState::Active, 5),
            worker("new1", "td:2", NodeState::Active, 0),
            worker("new2", "td:2", NodeState::Active, 0),
        ]);
        let p = plan_pass(&v, 2, &BTreeSet::new());
        assert_eq!(arns(&p.shut_down), ["old2"]);
        assert_eq!(p.draining, ["old1"]);
        assert_eq!(p.protect, ["new1", "new2", "old1", "old2"]);
        assert!(!p.settled());
    }

    #[test]
    fn a_drained_worker_that_exited_loses_its_protection_and_the_fleet_settles() {
        let asked: BTreeSet<String> = ["old1".to_owned()].into();
        let mut exited = worker("old1", "td:1", NodeState::Gone, 0);
        exited.node = Some("http://old1:8080".into());
        let v = view(vec![exited, worker("new1", "td:2", NodeState::Active, 0)]);
        let p = plan_pass(&v, 1, &asked);
        assert_eq!(p.release, ["old1"]);
        assert_eq!(p.protect, ["new1"]);
        assert!(p.shut_down.is_empty());
        assert_eq!(p.old, 1, "ECS still lists it");
        let v = view(vec![worker("new1", "td:2", NodeState::Active, 0)]);
        assert!(plan_pass(&v, 1, &asked).settled());
    }

    #[test]
    fn a_worker_asked_before_the_loop_restarted_is_still_seen_draining() {
        let v = view(vec![
            worker("a", "td:2", NodeState::ShuttingDown, 4),
            worker("b", "td:2", NodeState::Active, 0),
        ]);
        let p = plan_pass(&v, 1, &BTreeSet::new());
        assert_eq!(p.draining, ["a"]);
        assert!(
            p.shut_down.is_empty(),
            "b is the one worker wanted; a drains already"
        );
        assert_eq!(p.protect, ["a", "b"]);
    }

    #[test]
    fn workers_an_older_deployment_of_the_same_revision_started_are_rolled_too() {
        let mut v = view(vec![
            worker("a", "td:2", NodeState::Active, 0),
            worker("b", "td:2", NodeState::Active, 0),
        ]);
        v.deployment = Some("ecs-svc/2".into());
        v.workers[0].deployment = Some("ecs-svc/1".into());
        v.workers[1].deployment = Some("ecs-svc/2".into());
        let p = plan_pass(&v, 2, &BTreeSet::new());
        assert_eq!(
            p.old, 1,
            "a forced new deployment replaces a's task although the revision is the same"
        );
        assert!(p.shut_down.is_empty(), "a is kept until b's twin is active");
        v.workers.push(worker("c", "td:2", NodeState::Active, 0));
        v.workers[2].deployment = Some("ecs-svc/2".into());
        let p = plan_pass(&v, 2, &BTreeSet::new());
        assert_eq!(p.shut_down.len(), 1);
        assert_eq!(p.shut_down[0].0, "a");
    }

    #[test]
    fn an_unreachable_older_worker_this_process_did_not_drain_stays_protected() {
        let v = view(vec![
            worker("old1", "td:1", NodeState::Gone, 0),
            worker("new1", "td:2", NodeState::Active, 0),
        ]);
        let p = plan_pass(&v, 1, &BTreeSet::new());
        assert!(
            p.release.is_empty(),
            "unreachable is not proof that it runs no query"
        );
        assert_eq!(p.protect, ["new1", "old1"]);
        assert!(p.shut_down.is_empty());
        assert!(
            !p.settled(),
            "the rollout waits until ECS no longer lists it"
        );
    }
}
