//! The pure planner: desired state + observed state -> a typed [`Plan`] of actions, printable as a readable
//! diff with secrets redacted. No IO.

use std::collections::BTreeMap;
use std::fmt;

use crate::model::{AlarmSpec, Desired, ParamValue, PolicySpec, ServiceSpec, TaskDefSpec, Tier};
use crate::render::Role;

/// A parameter as read from SSM.
#[derive(Clone, PartialEq, Eq)]
pub struct ObservedParam {
    /// Its value (decrypted).
    pub value: String,
    /// Whether it is a SecureString.
    pub secure: bool,
    /// Its tier.
    pub tier: Tier,
}

impl fmt::Debug for ObservedParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = if self.secure {
            "<redacted>"
        } else {
            &self.value
        };
        f.debug_struct("ObservedParam")
            .field("value", &value)
            .field("secure", &self.secure)
            .field("tier", &self.tier)
            .finish()
    }
}

/// The latest active revision of a task definition family, and every other one still active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedTaskDef {
    /// The revision ARN.
    pub arn: String,
    /// The hash tag, if the tool registered it.
    pub hash: Option<String>,
    /// Every ACTIVE revision ARN of the family, oldest first, `arn` included. A run that died between
    /// registering and retiring leaves more here than the retention keeps; the next plan retires them.
    pub active: Vec<String>,
    /// The parameter names each active revision injects, by revision ARN: what a kept revision reads
    /// stays.
    pub reads: BTreeMap<String, Vec<String>>,
    /// The deploy that registered each active revision (its `lake:deploy` tag, a UTC time such as
    /// `20261203T101500.250Z`), by revision ARN; revisions registered before the tag existed are absent.
    pub deploys: BTreeMap<String, String>,
    /// Each active revision's restart hash ([`crate::model::RESTART_TAG`]), by revision ARN.
    pub restarts: BTreeMap<String, String>,
    /// Each active revision's content hash tag, by revision ARN.
    pub hashes: BTreeMap<String, String>,
    /// The service hash each active revision was registered for ([`crate::model::SERVICE_HASH_TAG`]), by
    /// revision ARN: a rollback to it puts it back on the service, so a config that describes it again
    /// restarts nothing.
    pub service_hashes: BTreeMap<String, String>,
}

impl ObservedTaskDef {
    /// Whether revision `arn` has other content than the newest one (by their hash tags; by ARN when a tag
    /// is missing). A revision registered again with the content of an older one (a deploy reverted after a
    /// failed one) is the same content: a service on the older one need not move.
    fn differs_from_newest(&self, arn: &str) -> bool {
        match (self.hashes.get(arn), self.hashes.get(&self.arn)) {
            (Some(a), Some(b)) => a != b,
            _ => arn != self.arn,
        }
    }
}

/// What [`crate::model::LIVE_TAG`] says: the coordinator task `task`, started from revision `started`, has the
/// catalogs of `revision`, made live with `CREATE CATALOG`/`DROP CATALOG`. `pending`: a live change to
/// `revision` began and did not end (the process died, Trino refused a statement and undoing failed, or the task
/// could not be confirmed afterwards), so the task's catalogs are unknown and the next plan sets every one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveTag {
    /// The revision ARN the task was started from (the service's, when the change was made).
    pub started: String,
    /// The revision ARN whose catalogs the task has (or was getting, when `pending`).
    pub revision: String,
    /// The task ARN.
    pub task: String,
    /// Whether the change did not end.
    pub pending: bool,
}

impl LiveTag {
    /// The tag's value, `[pending ]<started ARN> <revision ARN> <task ARN>`.
    pub fn value(&self) -> String {
        format!(
            "{}{} {} {}",
            if self.pending { "pending " } else { "" },
            self.started,
            self.revision,
            self.task
        )
    }

    /// Reads a tag's value (`None`: not of that shape).
    pub fn parse(value: &str) -> Option<Self> {
        let (pending, rest) = match value.strip_prefix("pending ") {
            Some(rest) => (true, rest),
            None => (false, value),
        };
        let mut parts = rest.split(' ');
        let (Some(started), Some(revision), Some(task), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        (!started.is_empty() && !revision.is_empty() && !task.is_empty()).then(|| Self {
            started: started.to_owned(),
            revision: revision.to_owned(),
            task: task.to_owned(),
            pending,
        })
    }
}

/// An ECS service as described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedService {
    /// The service ARN.
    pub arn: String,
    /// The task definition ARN it runs.
    pub task_definition: String,
    /// Task definition ARNs of its older deployments still running tasks (a rollout in flight).
    pub draining: Vec<String>,
    /// Desired count.
    pub desired: i32,
    /// Running count.
    pub running: i32,
    /// The hash tag of the last applied spec.
    pub hash: Option<String>,
    /// The spec-hash tag ([`crate::model::SPEC_TAG`]) of the last applied service settings.
    pub spec_hash: Option<String>,
    /// The restart-hash tag ([`crate::model::RESTART_TAG`]) of what its tasks were last started with (set by
    /// every deployment this tool starts, so a rotated secret shows here even without a new revision).
    pub restart_hash: Option<String>,
    /// The live-catalogs tag ([`crate::model::LIVE_TAG`]), when a live change was made.
    pub live: Option<LiveTag>,
    /// The ARNs of its running tasks, when observed (the coordinator's, with dynamic catalog management).
    pub tasks: Vec<String>,
}

impl ObservedService {
    /// The revision whose files its running task has in effect: the live catalogs' revision while the task
    /// that live change was made on still runs (and the service still runs the revision it was started from),
    /// else the one it runs.
    pub fn effective(&self) -> &str {
        self.valid_live()
            .filter(|l| !l.pending)
            .map_or(&self.task_definition, |l| &l.revision)
    }

    /// The live tag, while the task it names still runs and the service has not moved since.
    pub fn valid_live(&self) -> Option<&LiveTag> {
        self.live
            .as_ref()
            .filter(|l| self.tasks.contains(&l.task) && l.started == self.task_definition)
    }

    /// Whether a live change on the running task did not end: its catalogs are unknown.
    pub fn live_pending(&self) -> bool {
        self.valid_live().is_some_and(|l| l.pending)
    }
}

/// What exists in AWS for one cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// Parameters under the managed paths, by name.
    pub parameters: BTreeMap<String, ObservedParam>,
    /// The Cloud Map namespace ARN, when it exists.
    pub namespace_arn: Option<String>,
    /// The ECS cluster, when it exists and is active: its Service Connect default namespace ARN.
    pub cluster: Option<Option<String>>,
    /// Task definitions by family.
    pub task_defs: BTreeMap<String, ObservedTaskDef>,
    /// Active services by name.
    pub services: BTreeMap<String, ObservedService>,
    /// The worker scalable target's (min, max).
    pub scalable_target: Option<(i32, i32)>,
    /// Scaling policies by name.
    pub policies: BTreeMap<String, PolicySpec>,
    /// Alarms by name, with whether they trigger a scaling policy.
    pub alarms: BTreeMap<String, (AlarmSpec, bool)>,
    /// Operations the endpoint does not implement (an emulator); the resources behind them are skipped.
    pub unsupported: Vec<String>,
}

/// Why a task definition gets a new revision or a service a new deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// It does not exist yet.
    Create,
    /// Its content hash changed from this value (`None`: not registered by this tool).
    Update(Option<String>),
    /// The service runs an older revision than its family's newest (a circuit-breaker rollback, or
    /// `rollback`): deploying moves it to the newest one again.
    RolledBack {
        /// The revision it runs.
        running: String,
    },
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Action {
    /// Create or overwrite a parameter. When `old` is Advanced and `tier` Standard, it is deleted and
    /// re-created, as SSM refuses that downgrade in place.
    PutParameter {
        /// Name.
        name: String,
        /// Desired value.
        value: ParamValue,
        /// The tier the value needs (the cheapest that holds it).
        tier: Tier,
        /// The current value when it exists (`None`: create).
        old: Option<ObservedParam>,
        /// For a new file parameter, the one of the same file the running revision reads (shown as a
        /// diff); it stays while a kept revision reads it.
        replaces: Option<Box<(String, ObservedParam)>>,
    },
    /// Delete a parameter nothing uses any more.
    DeleteParameter {
        /// Name.
        name: String,
        /// Whether it is a SecureString (for redaction).
        secure: bool,
    },
    /// Create the Cloud Map HTTP namespace.
    CreateNamespace {
        /// Name.
        name: String,
    },
    /// Create the ECS cluster, or set its Service Connect default namespace.
    PutCluster {
        /// Name.
        name: String,
        /// Whether it exists already.
        exists: bool,
    },
    /// Register a task definition revision.
    RegisterTaskDefinition {
        /// The spec.
        spec: Box<TaskDefSpec>,
        /// Its content hash (tagged).
        hash: String,
        /// Why.
        change: Change,
    },
    /// Deregister a revision beyond the retained ones that no service deployment uses (after the services
    /// moved).
    DeregisterTaskDefinition {
        /// The replaced revision's ARN.
        arn: String,
    },
    /// Create a service, or update it and start a new deployment.
    PutService {
        /// The spec.
        spec: Box<ServiceSpec>,
        /// Its content hash (tagged).
        hash: String,
        /// Why.
        change: Change,
    },
    /// Change the catalogs of the running coordinator task with `DROP CATALOG`/`CREATE CATALOG` (dynamic
    /// catalog management) instead of replacing it: the revision it was started from differs from the one
    /// it gets in catalog files only. The service stays on its revision; its live tag then says the task
    /// has `revision`'s catalogs (a replacement task starts with its revision's files, and the next plan
    /// makes the change again).
    LiveCatalogs {
        /// The coordinator service.
        service: String,
        /// Its task family.
        family: String,
        /// The running task the statements change.
        task: String,
        /// The revision whose catalogs the task gets (`None`: the one this plan registers for `family`).
        revision: Option<String>,
        /// The revision whose catalogs the task has now.
        from: String,
        /// The catalogs that change, by name.
        changes: Vec<CatalogChange>,
        /// The service's hash tag afterwards (`None`: kept, as by a rollback).
        hash: Option<String>,
    },
    /// Move a service back to a retained revision of its family (`rollback`), which reads its own files.
    RollBackService {
        /// The service.
        service: String,
        /// The revision it runs.
        from: String,
        /// The revision it moves to.
        to: String,
        /// The deploy that registered `to`, when known.
        deploy: Option<String>,
        /// The files that differ between the two revisions.
        files: Vec<FileChange>,
        /// The service hash `to` was registered for, put back on the service (`None`: unknown).
        hash: Option<String>,
        /// The restart hash `to` was registered with, put on the service (`None`: unknown).
        restart_hash: Option<String>,
    },
    /// Register the worker scalable target.
    PutScalableTarget {
        /// Resource id.
        resource_id: String,
        /// New (min, max).
        bounds: (i32, i32),
        /// Old (min, max).
        old: Option<(i32, i32)>,
    },
    /// Create or update a scaling policy.
    PutScalingPolicy {
        /// The policy.
        spec: PolicySpec,
        /// Whether it exists.
        exists: bool,
    },
    /// Create or update the queued-queries alarm (after its step policy, whose ARN it needs).
    PutAlarm {
        /// The alarm.
        spec: AlarmSpec,
        /// Whether it exists.
        exists: bool,
    },
}

impl Action {
    /// The resource the action works on (parameter name, family, service, policy, ...), for progress lines.
    pub fn target(&self) -> &str {
        match self {
            Action::PutParameter { name, .. }
            | Action::DeleteParameter { name, .. }
            | Action::CreateNamespace { name }
            | Action::PutCluster { name, .. } => name,
            Action::RegisterTaskDefinition { spec, .. } => &spec.family,
            Action::DeregisterTaskDefinition { arn } => arn,
            Action::PutService { spec, .. } => &spec.name,
            Action::RollBackService { service, .. } | Action::LiveCatalogs { service, .. } => {
                service
            }
            Action::PutScalableTarget { resource_id, .. } => resource_id,
            Action::PutScalingPolicy { spec, .. } => spec.name(),
            Action::PutAlarm { spec, .. } => &spec.name,
        }
    }

    /// The resource kind, for summaries and call counts.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::PutParameter { .. } | Action::DeleteParameter { .. } => "parameter",
            Action::CreateNamespace { .. } => "namespace",
            Action::PutCluster { .. } => "cluster",
            Action::RegisterTaskDefinition { .. } | Action::DeregisterTaskDefinition { .. } => {
                "task-definition"
            }
            Action::PutService { .. } | Action::RollBackService { .. } => "service",
            Action::LiveCatalogs { .. } => "catalog",
            Action::PutScalableTarget { .. } => "scalable-target",
            Action::PutScalingPolicy { .. } => "scaling-policy",
            Action::PutAlarm { .. } => "alarm",
        }
    }
}

/// A catalog a [`Action::LiveCatalogs`] changes: its `.properties` text before and after (`None`: absent).
/// Catalog files hold secrets as `${ENV:VAR}` references only, so the texts are safe to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogChange {
    /// The catalog.
    pub name: String,
    /// Its file as the task has it.
    pub from: Option<String>,
    /// Its file as the task gets it.
    pub to: Option<String>,
}

/// An ordered list of actions; applying them in order converges the cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// The actions, in dependency order.
    pub actions: Vec<Action>,
    /// Resources left out because the endpoint cannot manage them (printed with the plan).
    pub skipped: Vec<String>,
    /// Why a change that could not be made live restarts what it restarts (printed with the plan).
    pub notes: Vec<String>,
}

impl Plan {
    /// The live catalog change the plan makes, if any.
    pub fn live_catalogs(&self) -> Option<&Action> {
        self.actions
            .iter()
            .find(|a| matches!(a, Action::LiveCatalogs { .. }))
    }
}

impl Plan {
    /// Whether nothing needs doing.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}

/// Computes the actions that turn `observed` into `desired`.
pub fn plan(desired: &Desired, observed: &Observed) -> Plan {
    let mut actions = Vec::new();

    for (name, spec) in &desired.parameters {
        let old = observed.parameters.get(name);
        let tier = spec.value.tier();
        // A value that fits Standard but sits in a (charged) Advanced parameter is moved back down.
        let downgrade = old.is_some_and(|o| o.tier > tier);
        let same = match (&spec.value, old) {
            (_, None) => false,
            // A generated secret is kept whatever its tier: re-creating it would change it.
            (ParamValue::Generated, Some(o)) => o.secure,
            (ParamValue::Text(text), Some(o)) => !o.secure && &o.value == text && !downgrade,
            (ParamValue::Secret(value), Some(o)) => {
                o.secure && o.value == value.expose() && !downgrade
            }
        };
        if !same {
            actions.push(Action::PutParameter {
                name: name.clone(),
                value: spec.value.clone(),
                tier,
                old: old.cloned(),
                replaces: old
                    .is_none()
                    .then(|| replaced_file(observed, name))
                    .flatten(),
            });
        }
    }

    if observed.namespace_arn.is_none() {
        actions.push(Action::CreateNamespace {
            name: desired.namespace.clone(),
        });
    }
    match &observed.cluster {
        None => actions.push(Action::PutCluster {
            name: desired.cluster.clone(),
            exists: false,
        }),
        Some(ns) => {
            let ok = match (ns, &observed.namespace_arn) {
                (Some(have), Some(want)) => have == want,
                _ => false,
            };
            if !ok {
                actions.push(Action::PutCluster {
                    name: desired.cluster.clone(),
                    exists: true,
                });
            }
        }
    }

    let mut registering = Vec::new();
    for (family, spec) in &desired.task_defs {
        let hash = desired.task_def_hash(family);
        let change = match observed.task_defs.get(family) {
            None => Some(Change::Create),
            Some(o) if o.hash.as_deref() != Some(hash.as_str()) => {
                Some(Change::Update(o.hash.clone()))
            }
            Some(_) => None,
        };
        if let Some(change) = change {
            registering.push(family.as_str());
            actions.push(Action::RegisterTaskDefinition {
                spec: Box::new(spec.clone()),
                hash,
                change,
            });
        }
    }

    let mut notes = Vec::new();
    for spec in &desired.services {
        let hash = desired.service_hash(spec);
        let registers = registering.contains(&spec.task_family.as_str());
        let newest = observed
            .task_defs
            .get(&spec.task_family)
            .map(|td| td.arn.as_str());
        let running = observed.services.get(&spec.name);
        let change = match running {
            None => Some(Change::Create),
            // An older revision than the config's (the newest) runs: rolled back (a rollback puts back the
            // hash that revision was registered for), or a coordinator replaced since its catalogs were
            // changed live.
            Some(o)
                if !registers
                    && observed
                        .task_defs
                        .get(&spec.task_family)
                        .is_some_and(|td| td.differs_from_newest(o.effective())) =>
            {
                Some(Change::RolledBack {
                    running: o.effective().to_owned(),
                })
            }
            Some(o) if o.hash.as_deref() != Some(hash.as_str()) => {
                Some(Change::Update(o.hash.clone()))
            }
            // A live catalog change on the running task did not end: its catalogs are set again.
            Some(o) if o.live_pending() => Some(Change::RolledBack {
                running: o.task_definition.clone(),
            }),
            Some(_) => None,
        };
        let Some(change) = change else { continue };
        if let Some(o) = running.filter(|_| change != Change::Create) {
            let to = (!registers).then(|| newest.map(str::to_owned)).flatten();
            match live_change(desired, observed, spec, o, to, Some(hash.clone())) {
                Ok(Some(action)) => {
                    actions.push(action);
                    continue;
                }
                Ok(None) => {}
                Err(why) => notes.push(why),
            }
        }
        actions.push(Action::PutService {
            spec: Box::new(spec.clone()),
            hash,
            change,
        });
    }

    let s = &desired.scaling;
    if observed.scalable_target != Some((s.min, s.max)) {
        actions.push(Action::PutScalableTarget {
            resource_id: s.resource_id.clone(),
            bounds: (s.min, s.max),
            old: observed.scalable_target,
        });
    }
    let mut queue_policy_changed = false;
    for policy in [&s.cpu_policy, &s.queue_policy] {
        let old = observed.policies.get(policy.name());
        if old != Some(policy) {
            queue_policy_changed |= policy == &s.queue_policy;
            actions.push(Action::PutScalingPolicy {
                spec: policy.clone(),
                exists: old.is_some(),
            });
        }
    }
    let mut skipped = Vec::new();
    let alarm = observed.alarms.get(&s.queue_alarm.name);
    let alarm_ok = matches!(alarm, Some((spec, true)) if spec == &s.queue_alarm);
    if observed
        .unsupported
        .iter()
        .any(|op| op.starts_with("cloudwatch:"))
    {
        skipped.push(format!(
            "alarm {} (the endpoint does not implement CloudWatch)",
            s.queue_alarm.name
        ));
    } else if !alarm_ok || queue_policy_changed {
        actions.push(Action::PutAlarm {
            spec: s.queue_alarm.clone(),
            exists: alarm.is_some(),
        });
    }

    // Retired revisions and stale parameters go last: running tasks use them until the services rolled.
    // A parameter stays while a kept revision reads it, so a rollback finds its revision's files.
    let retired = retired_revisions(desired, observed, &registering);
    let still_read: Vec<&str> = observed
        .task_defs
        .values()
        .flat_map(|td| &td.reads)
        .filter(|(arn, _)| {
            !retired
                .iter()
                .any(|a| matches!(a, Action::DeregisterTaskDefinition { arn: r } if r == *arn))
        })
        .flat_map(|(_, names)| names.iter().map(String::as_str))
        .collect();
    actions.extend(retired);
    for (name, old) in &observed.parameters {
        if !desired.parameters.contains_key(name)
            && !still_read.contains(&name.as_str())
            && desired
                .managed_paths
                .iter()
                .any(|p| name.starts_with(&format!("{p}/")))
        {
            actions.push(Action::DeleteParameter {
                name: name.clone(),
                secure: old.secure,
            });
        }
    }
    Plan {
        actions,
        skipped,
        notes,
    }
}

/// The catalogs (name -> `.properties` text) revision `arn` of `family` reads, from the observed parameters
/// (`None`: a file is gone).
fn revision_catalogs(
    desired: &Desired,
    observed: &Observed,
    family: &str,
    arn: &str,
) -> Option<BTreeMap<String, String>> {
    let td = observed.task_defs.get(family)?;
    let mut out = BTreeMap::new();
    for name in td.reads.get(arn)? {
        if let Some(catalog) = desired.catalog_of_parameter(name) {
            out.insert(
                catalog.to_owned(),
                observed.parameters.get(name)?.value.clone(),
            );
        }
    }
    Some(out)
}

/// The live catalog change that moves the coordinator service `o` to revision `to` (`None`: the one the
/// plan registers, which reads the desired files), when the revision its task was started from differs from
/// it in catalog files only. `Ok(None)`: the catalogs do not change (another change restarts it); `Err`: they
/// do, but the coordinator restarts, for the reason given.
fn live_change(
    desired: &Desired,
    observed: &Observed,
    spec: &ServiceSpec,
    o: &ObservedService,
    to: Option<String>,
    hash: Option<String>,
) -> Result<Option<Action>, String> {
    if spec.role != Role::Coordinator {
        return Ok(None);
    }
    let family = &spec.task_family;
    let from = o.effective();
    let pending = o.live_pending();
    let (Some(have), Some(want)) = (
        revision_catalogs(desired, observed, family, from),
        match &to {
            Some(arn) => revision_catalogs(desired, observed, family, arn),
            None => Some(desired.catalog_files(family)),
        },
    ) else {
        return Ok(None);
    };
    // After a live change that did not end, the task may have any mix of the two revisions' catalogs: every
    // catalog either names is set again.
    let unsettled: BTreeMap<String, String> = match o.valid_live().filter(|_| pending) {
        Some(l) => revision_catalogs(desired, observed, family, &l.revision).unwrap_or_default(),
        None => BTreeMap::new(),
    };
    if have == want && !pending {
        return Ok(None);
    }
    let name = &spec.name;
    let restarts = |why: &str| Err(format!("{name}: the catalogs change, and {why}"));
    if !desired.live_catalogs {
        return restarts(
            "with static catalog management only a restart reads them: the coordinator and the workers \
             restart (cluster.catalog_management = \"dynamic\" changes catalogs on the running cluster)",
        );
    }
    let [task] = o.tasks.as_slice() else {
        return restarts(&format!(
            "the service runs {} coordinator tasks, not one to change live: it restarts",
            o.tasks.len()
        ));
    };
    if !o.draining.is_empty() {
        return restarts("a deployment of the service is still in flight: it restarts");
    }
    // A rollback moves only the revision (RollBackService applies no service settings).
    if hash.is_some() && o.spec_hash.as_deref() != Some(desired.spec_hash(spec).as_str()) {
        return restarts("the service's own settings change too: it restarts");
    }
    let started = observed
        .task_defs
        .get(family)
        .and_then(|td| td.restarts.get(&o.task_definition));
    if started.is_none() || o.restart_hash.is_none() {
        return restarts(&format!(
            "{} or its service has no restart-hash tag (registered before this tool compared them), so \
             what else differs is unknown: the coordinator restarts",
            revision_name(&o.task_definition)
        ));
    }
    let wanted = match &to {
        Some(arn) => observed
            .task_defs
            .get(family)
            .and_then(|td| td.restarts.get(arn))
            .cloned(),
        None => Some(desired.restart_hash(family)),
    };
    // Both the revision the task was started from (which an ECS circuit-breaker rollback changes) and what the
    // last deployment started it with (which a rotated secret changes without a new revision).
    if started != wanted.as_ref() || o.restart_hash != wanted {
        return restarts(&format!(
            "more than catalog files differs from {} (node configuration, task size, image or a secret): \
             the coordinator restarts",
            revision_name(&o.task_definition)
        ));
    }
    let mut names: Vec<&String> = have
        .keys()
        .chain(want.keys())
        .chain(unsettled.keys())
        .collect();
    names.sort();
    names.dedup();
    let changes = names
        .into_iter()
        .filter(|n| pending || have.get(*n) != want.get(*n))
        .map(|n| CatalogChange {
            name: n.clone(),
            from: have.get(n).cloned(),
            to: want.get(n).cloned(),
        })
        .collect();
    Ok(Some(Action::LiveCatalogs {
        service: name.clone(),
        family: family.clone(),
        task: task.clone(),
        revision: to,
        from: from.to_owned(),
        changes,
        hash,
    }))
}

/// The revisions to deregister: of each family's ACTIVE revisions, all but the `retained_revisions` newest
/// (a revision this plan registers counts among them) and any that a service runs or still drains, as
/// observed before this plan. So a revision a deploy replaces stays a rollback target, a revision still
/// serving a rollout in flight is never retired under it, and what a killed run left behind (registered,
/// never retired) is retired by the next plan.
fn retired_revisions(desired: &Desired, observed: &Observed, registering: &[&str]) -> Vec<Action> {
    let in_use: Vec<&str> = observed
        .services
        .values()
        .flat_map(|s| {
            [s.task_definition.as_str(), s.effective()]
                .into_iter()
                .chain(s.draining.iter().map(String::as_str))
        })
        .collect();
    let mut retired = Vec::new();
    for family in desired.task_defs.keys() {
        let Some(td) = observed.task_defs.get(family) else {
            continue;
        };
        let keep = desired
            .retained_revisions
            .saturating_sub(usize::from(registering.contains(&family.as_str())));
        let older = td.active.len().saturating_sub(keep);
        retired.extend(
            td.active[..older]
                .iter()
                .filter(|arn| !in_use.contains(&arn.as_str()))
                .map(|arn| Action::DeregisterTaskDefinition { arn: arn.clone() }),
        );
    }
    retired
}

/// What `rollback` moves the services to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackTarget {
    /// Undo the newest deploy the services run: every family goes back to the revision it had in the deploy
    /// before it (a family that deploy did not change stays).
    Previous,
    /// The state after the deploy with this id (`status` lists them): each family's newest retained
    /// revision registered by that deploy or an earlier one.
    Deploy(String),
    /// Named revisions, `family:N` (families not named stay).
    Revisions(Vec<String>),
}

impl RollbackTarget {
    /// `--to` as given: `family:N` names (comma-separated) or a deploy id; nothing is [`Self::Previous`].
    pub fn parse(to: Option<&str>) -> Self {
        match to {
            None => Self::Previous,
            Some(text) if text.contains(':') => Self::Revisions(
                text.split(',')
                    .map(|r| r.trim().to_owned())
                    .filter(|r| !r.is_empty())
                    .collect(),
            ),
            Some(id) => Self::Deploy(id.trim().to_owned()),
        }
    }
}

/// A file that differs between two revisions: its parameter in each (`None`: that revision has no such file).
#[derive(Debug, Clone, PartialEq)]
pub struct FileChange {
    /// The file, e.g. `catalog/lake.properties`.
    pub file: String,
    /// Its parameter in the revision the service runs.
    pub from: Option<ObservedParam>,
    /// Its parameter in the revision it moves to.
    pub to: Option<ObservedParam>,
}

/// `family:N` of a task-definition ARN (or of a name already in that form).
pub fn revision_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// A retained (ACTIVE) task-definition revision, as `status` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetainedRevision {
    /// `family:N`.
    pub revision: String,
    /// The deploy that registered it, when tagged.
    pub deploy: Option<String>,
    /// Whether a service runs it (its primary deployment).
    pub running: bool,
    /// Whether an older deployment of a service still has tasks of it (a rollout in flight).
    pub draining: bool,
    /// When it runs through a live catalog change: the revision the task was started from.
    pub live_from: Option<String>,
}

/// Every retained revision of every family, newest first within a family.
pub fn retained(observed: &Observed) -> Vec<RetainedRevision> {
    let mut out = Vec::new();
    for td in observed.task_defs.values() {
        for arn in td.active.iter().rev() {
            out.push(RetainedRevision {
                revision: revision_name(arn).to_owned(),
                deploy: td.deploys.get(arn).cloned(),
                running: observed.services.values().any(|s| s.effective() == arn),
                draining: observed.services.values().any(|s| s.draining.contains(arn)),
                live_from: observed
                    .services
                    .values()
                    .find(|s| s.effective() == arn && s.task_definition != *arn)
                    .map(|s| revision_name(&s.task_definition).to_owned()),
            });
        }
    }
    out
}

/// The plan that moves the services to `target`: one [`Action::RollBackService`] per service that moves
/// (empty: they run it already). Only retained (ACTIVE) revisions are targets: their files are still there.
pub fn rollback(
    desired: &Desired,
    observed: &Observed,
    target: &RollbackTarget,
) -> crate::error::Result<Plan> {
    let refuse = |reason: String| crate::error::Error::Rollback { reason };
    let deploy_of = |td: &ObservedTaskDef, arn: &str| td.deploys.get(arn).cloned();
    // Every deploy id of a retained revision, and the newest one a service runs.
    let mut known: Vec<String> = observed
        .task_defs
        .values()
        .flat_map(|td| td.deploys.values().cloned())
        .collect();
    known.sort();
    known.dedup();
    let goal = match target {
        RollbackTarget::Previous => {
            let running = desired
                .services
                .iter()
                .filter_map(|s| {
                    let td = observed.task_defs.get(&s.task_family)?;
                    let svc = observed.services.get(&s.name)?;
                    Some(deploy_of(td, svc.effective()))
                })
                .collect::<Vec<_>>();
            if running.is_empty() {
                return Err(refuse("no service of this cluster is deployed".into()));
            }
            let Some(newest) = running.iter().flatten().max() else {
                return Err(refuse(
                    "the running revisions were registered before deploys were tagged; name the revisions \
                     with --to family:N (cargo xtask status lists them)"
                        .into(),
                ));
            };
            match known.iter().rev().find(|d| *d < newest) {
                Some(previous) => Some(previous.clone()),
                None => {
                    return Err(refuse(format!(
                        "the services run deploy {newest} and no earlier deploy is retained \
                         (cluster.retained_revisions keeps the newest revisions of each family)"
                    )));
                }
            }
        }
        RollbackTarget::Deploy(id) => {
            if !known.contains(id) {
                return Err(refuse(format!(
                    "no retained revision was registered by deploy {id:?}; retained deploys: {}",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                )));
            }
            Some(id.clone())
        }
        RollbackTarget::Revisions(names) => {
            if names.is_empty() {
                return Err(refuse("--to names no revision".into()));
            }
            for name in names {
                let family = name.rsplit_once(':').map(|(f, _)| f).unwrap_or_default();
                let Some(td) = observed.task_defs.get(family) else {
                    return Err(refuse(format!(
                        "{name:?}: no family {family:?} in this cluster (families: {})",
                        desired
                            .task_defs
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                };
                if !td.active.iter().any(|a| revision_name(a) == name) {
                    return Err(refuse(format!(
                        "{name} is not a retained revision, so its files may be gone; retained: {}",
                        retained_names(td)
                    )));
                }
            }
            None
        }
    };
    let mut actions = Vec::new();
    let mut notes = Vec::new();
    for spec in &desired.services {
        let (Some(td), Some(svc)) = (
            observed.task_defs.get(&spec.task_family),
            observed.services.get(&spec.name),
        ) else {
            return Err(refuse(format!("service {} is not deployed", spec.name)));
        };
        let to = match (target, &goal) {
            (RollbackTarget::Revisions(names), _) => match td
                .active
                .iter()
                .find(|a| names.iter().any(|n| revision_name(a) == n))
            {
                Some(arn) => arn.clone(),
                None => continue,
            },
            (_, Some(goal)) => {
                // The family's newest revision at that deploy: registered by it or before it.
                match td
                    .active
                    .iter()
                    .rev()
                    .find(|a| deploy_of(td, a).is_some_and(|d| &d <= goal))
                {
                    Some(arn) => arn.clone(),
                    None => {
                        return Err(refuse(format!(
                            "{} has no retained revision from deploy {goal} or earlier; retained: {}",
                            spec.task_family,
                            retained_names(td)
                        )));
                    }
                }
            }
            (_, None) => continue,
        };
        if to == svc.effective() && !svc.live_pending() {
            continue;
        }
        // A coordinator whose task differs from the target in catalog files only gets them live.
        let hash = td.service_hashes.get(&to).cloned();
        match live_change(desired, observed, spec, svc, Some(to.clone()), hash.clone()) {
            Ok(Some(action)) => {
                actions.push(action);
                continue;
            }
            Ok(None) => {}
            Err(why) => notes.push(why),
        }
        actions.push(Action::RollBackService {
            hash,
            restart_hash: td.restarts.get(&to).cloned(),
            service: spec.name.clone(),
            from: svc.effective().to_owned(),
            deploy: deploy_of(td, &to),
            files: file_changes(observed, td, svc.effective(), &to),
            to,
        });
    }
    Ok(Plan {
        actions,
        notes,
        ..Plan::default()
    })
}

/// `family:N` of every retained revision of `td`, oldest first, for messages.
fn retained_names(td: &ObservedTaskDef) -> String {
    td.active
        .iter()
        .map(|a| revision_name(a))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The files whose parameters differ between revisions `from` and `to` of `td`, by file name.
fn file_changes(
    observed: &Observed,
    td: &ObservedTaskDef,
    from: &str,
    to: &str,
) -> Vec<FileChange> {
    let files = |arn: &str| -> BTreeMap<String, String> {
        td.reads
            .get(arn)
            .into_iter()
            .flatten()
            .map(|name| {
                let file = crate::model::file_of_parameter(name).unwrap_or_else(|| name.clone());
                (file, name.clone())
            })
            .collect()
    };
    let (a, b) = (files(from), files(to));
    let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|file| a.get(*file) != b.get(*file))
        .map(|file| FileChange {
            file: file.clone(),
            from: a
                .get(file)
                .and_then(|n| observed.parameters.get(n))
                .cloned(),
            to: b
                .get(file)
                .and_then(|n| observed.parameters.get(n))
                .cloned(),
        })
        .collect()
}

/// The parameter holding the same file as the new `name` that a service's running revision reads (a file
/// parameter of another digest, or the digest-less name older deploys wrote).
fn replaced_file(observed: &Observed, name: &str) -> Option<Box<(String, ObservedParam)>> {
    let file = crate::model::file_of_parameter(name)?;
    let running: Vec<&String> = observed
        .services
        .values()
        .map(|s| &s.task_definition)
        .collect();
    observed
        .task_defs
        .values()
        .flat_map(|td| &td.reads)
        .filter(|(arn, _)| running.contains(arn))
        .flat_map(|(_, names)| names)
        .find(|n| {
            n.as_str() != name
                && (crate::model::file_of_parameter(n).as_deref() == Some(file.as_str())
                    || **n == file)
        })
        .and_then(|n| {
            observed
                .parameters
                .get(n)
                .map(|p| Box::new((n.clone(), p.clone())))
        })
}

fn show_value(value: &ParamValue) -> String {
    match value {
        ParamValue::Text(text) => text.clone(),
        ParamValue::Secret(_) => "<secret redacted>".into(),
        ParamValue::Generated => "<generated secret>".into(),
    }
}

/// What the plan says about a parameter's tier: nothing for the free Standard tier it stays in.
/// What replacing a service's tasks means for the queries they run.
fn role_note(f: &mut fmt::Formatter<'_>, role: Role) -> fmt::Result {
    match role {
        Role::Coordinator => writeln!(
            f,
            "    replaces the one coordinator: Trino cannot drain it, so the queries it runs end \
             (deploy --coordinator URL waits until none runs, then measures the outage)"
        ),
        Role::Worker => writeln!(
            f,
            "    old workers drain: each finishes its queries and exits once a replacement is active"
        ),
    }
}

fn tier_note(tier: Tier, old: Option<Tier>) -> String {
    match (old, tier) {
        (Some(Tier::Advanced), Tier::Standard) => {
            " (advanced -> standard tier: deleted and re-created, SSM cannot downgrade in place)"
                .into()
        }
        (Some(old), tier) if old != tier => format!(" ({old} -> {tier} tier)"),
        (None, Tier::Advanced) | (Some(_), Tier::Advanced) => " (advanced tier)".into(),
        _ => String::new(),
    }
}

fn line_diff(f: &mut fmt::Formatter<'_>, old: &str, new: &str) -> fmt::Result {
    let old_lines: Vec<&str> = old.lines().collect();
    let new_lines: Vec<&str> = new.lines().collect();
    for line in &old_lines {
        if !new_lines.contains(line) {
            writeln!(f, "      - {line}")?;
        }
    }
    for line in &new_lines {
        if !old_lines.contains(line) {
            writeln!(f, "      + {line}")?;
        }
    }
    Ok(())
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for skipped in &self.skipped {
            writeln!(f, "! skipped: {skipped}")?;
        }
        if self.actions.is_empty() {
            return writeln!(f, "no changes: the cluster matches the config");
        }
        for action in &self.actions {
            match action {
                Action::PutParameter {
                    name,
                    value,
                    tier,
                    old: None,
                    replaces: Some(replaced),
                } => {
                    let (previous, old) = &**replaced;
                    writeln!(f, "+ parameter {name}{}", tier_note(*tier, None))?;
                    writeln!(f, "      (replaces {previous}, which stays for rollback)")?;
                    match value {
                        ParamValue::Text(text) if !old.secure => line_diff(f, &old.value, text)?,
                        _ => writeln!(f, "      <secret redacted> changed")?,
                    }
                }
                Action::PutParameter {
                    name,
                    value,
                    tier,
                    old: None,
                    replaces: None,
                } => {
                    writeln!(f, "+ parameter {name}{}", tier_note(*tier, None))?;
                    if let ParamValue::Text(text) = value {
                        for line in text.lines() {
                            writeln!(f, "      + {line}")?;
                        }
                    } else {
                        writeln!(f, "      {}", show_value(value))?;
                    }
                }
                Action::PutParameter {
                    name,
                    value,
                    tier,
                    old: Some(old),
                    ..
                } => {
                    writeln!(f, "~ parameter {name}{}", tier_note(*tier, Some(old.tier)))?;
                    match value {
                        ParamValue::Text(text) if !old.secure => line_diff(f, &old.value, text)?,
                        ParamValue::Secret(s) if old.secure && old.value == s.expose() => {}
                        _ => writeln!(f, "      <secret redacted> changed")?,
                    }
                }
                Action::DeleteParameter { name, .. } => writeln!(f, "- parameter {name}")?,
                Action::CreateNamespace { name } => writeln!(f, "+ cloud map namespace {name}")?,
                Action::PutCluster {
                    name,
                    exists: false,
                } => writeln!(f, "+ ecs cluster {name} (service connect namespace {name})")?,
                Action::PutCluster { name, exists: true } => writeln!(
                    f,
                    "~ ecs cluster {name}: service connect namespace -> {name}"
                )?,
                Action::DeregisterTaskDefinition { arn } => writeln!(
                    f,
                    "- task definition {arn} (older than the retained revisions, unused)"
                )?,
                Action::RegisterTaskDefinition { spec, hash, change } => {
                    let sign = if *change == Change::Create { '+' } else { '~' };
                    write!(
                        f,
                        "{sign} task definition {} (new revision, content {hash}",
                        spec.family
                    )?;
                    if let Change::Update(old) = change {
                        write!(f, ", was {}", old.as_deref().unwrap_or("untagged"))?;
                    }
                    writeln!(
                        f,
                        "): {} cpu {} MiB, image {}, {} injected values",
                        spec.cpu,
                        spec.memory,
                        spec.container.image,
                        spec.container.secrets.len()
                    )?;
                }
                Action::PutService {
                    spec,
                    hash,
                    change: Change::Create,
                } => {
                    writeln!(
                        f,
                        "+ service {} ({} tasks of {}, {}, service connect {}, content {hash})",
                        spec.name,
                        spec.initial_count,
                        spec.task_family,
                        spec.launch_type,
                        spec.service_connect.server.as_ref().map_or(
                            "client".to_owned(),
                            |s| format!("alias {}:{}", s.dns_name, s.port)
                        ),
                    )?
                }
                Action::PutService {
                    spec,
                    hash,
                    change: Change::Update(old),
                } => {
                    writeln!(
                        f,
                        "~ service {}: rolling deployment (content {} -> {hash})",
                        spec.name,
                        old.as_deref().unwrap_or("untagged")
                    )?;
                    role_note(f, spec.role)?;
                }
                Action::PutService {
                    spec,
                    change: Change::RolledBack { running },
                    ..
                } => {
                    writeln!(
                        f,
                        "~ service {}: runs {}, rolled back from the config's revision; rolling deployment to \
                         the newest {} revision",
                        spec.name,
                        revision_name(running),
                        spec.task_family
                    )?;
                    role_note(f, spec.role)?;
                }
                Action::RollBackService {
                    service,
                    from,
                    to,
                    deploy,
                    files,
                    ..
                } => {
                    writeln!(
                        f,
                        "~ service {service}: roll back {} -> {}{} (its own files; rolling deployment)",
                        revision_name(from),
                        revision_name(to),
                        deploy
                            .as_deref()
                            .map(|d| format!(", deployed {d}"))
                            .unwrap_or_default()
                    )?;
                    for change in files {
                        writeln!(f, "      file {}:", change.file)?;
                        match (&change.from, &change.to) {
                            (Some(a), Some(b)) if !a.secure && !b.secure => {
                                line_diff(f, &a.value, &b.value)?
                            }
                            (None, Some(_)) => writeln!(f, "      + (only in the older revision)")?,
                            (Some(_), None) => writeln!(f, "      - (not in the older revision)")?,
                            _ => writeln!(f, "      <secret redacted> changed")?,
                        }
                    }
                }
                Action::LiveCatalogs {
                    service,
                    task,
                    revision,
                    from,
                    changes,
                    ..
                } => {
                    writeln!(
                        f,
                        "~ catalogs of {service}: live on its running task {} (DROP/CREATE CATALOG, nothing \
                         restarts; running queries keep the catalogs they started with), {} -> {}",
                        revision_name(task),
                        revision_name(from),
                        revision
                            .as_deref()
                            .map_or("the new revision", revision_name)
                    )?;
                    for change in changes {
                        match (&change.from, &change.to) {
                            (None, Some(text)) => {
                                writeln!(f, "      + catalog {} (CREATE CATALOG)", change.name)?;
                                for line in text.lines() {
                                    writeln!(f, "          + {line}")?;
                                }
                            }
                            (Some(_), None) => {
                                writeln!(f, "      - catalog {} (DROP CATALOG)", change.name)?
                            }
                            (Some(old), Some(new)) => {
                                writeln!(
                                    f,
                                    "      ~ catalog {} (DROP and CREATE CATALOG)",
                                    change.name
                                )?;
                                line_diff(f, old, new)?;
                            }
                            (None, None) => {}
                        }
                    }
                }
                Action::PutScalableTarget {
                    resource_id,
                    bounds,
                    old,
                } => match old {
                    None => writeln!(
                        f,
                        "+ scalable target {resource_id} min {} max {}",
                        bounds.0, bounds.1
                    )?,
                    Some(o) => writeln!(
                        f,
                        "~ scalable target {resource_id} min {} -> {}, max {} -> {}",
                        o.0, bounds.0, o.1, bounds.1
                    )?,
                },
                Action::PutScalingPolicy { spec, exists } => {
                    let sign = if *exists { '~' } else { '+' };
                    match spec {
                        PolicySpec::TargetTracking {
                            name,
                            metric,
                            target,
                            ..
                        } => writeln!(
                            f,
                            "{sign} scaling policy {name}: target tracking {metric} at {target}"
                        )?,
                        PolicySpec::Step { name, steps, .. } => {
                            writeln!(f, "{sign} scaling policy {name}: step scaling {steps:?}")?
                        }
                    }
                }
                Action::PutAlarm { spec, exists } => {
                    let sign = if *exists { '~' } else { '+' };
                    writeln!(
                        f,
                        "{sign} alarm {}: {}/{} >= {}",
                        spec.name, spec.namespace, spec.metric, spec.threshold
                    )?
                }
            }
        }
        for note in &self.notes {
            writeln!(f, "! {note}")?;
        }
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for a in &self.actions {
            *kinds.entry(a.kind()).or_default() += 1;
        }
        let summary: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
        writeln!(f, "{} actions: {}", self.actions.len(), summary.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{self, DeployInputs, SecretString};

    fn desired_with(inputs: &DeployInputs) -> Desired {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/local.toml");
        let config = crate::config::LakeConfig::load(&path).unwrap();
        model::desired(&config, inputs).unwrap()
    }

    fn inputs() -> DeployInputs {
        DeployInputs {
            catalog_files: [("lake".to_owned(), "connector.name=iceberg\n".to_owned())].into(),
            ..Default::default()
        }
    }

    /// What AWS would report right after applying `desired` completely.
    pub(crate) fn converged(d: &Desired) -> Observed {
        Observed {
            parameters: d
                .parameters
                .iter()
                .map(|(n, p)| {
                    let (value, secure) = match &p.value {
                        ParamValue::Text(t) => (t.clone(), false),
                        ParamValue::Secret(s) => (s.expose().to_owned(), true),
                        ParamValue::Generated => ("random".to_owned(), true),
                    };
                    let tier = p.value.tier();
                    (
                        n.clone(),
                        ObservedParam {
                            value,
                            secure,
                            tier,
                        },
                    )
                })
                .collect(),
            namespace_arn: Some("arn:ns".into()),
            cluster: Some(Some("arn:ns".into())),
            task_defs: d
                .task_defs
                .iter()
                .map(|(f, spec)| {
                    let reads = spec
                        .container
                        .secrets
                        .iter()
                        .map(|s| crate::runner::ecs::parameter_name(&s.value_from).unwrap())
                        .collect();
                    (
                        f.clone(),
                        ObservedTaskDef {
                            arn: format!("{f}:1"),
                            hash: Some(d.task_def_hash(f)),
                            active: vec![format!("{f}:1")],
                            reads: [(format!("{f}:1"), reads)].into(),
                            deploys: [(format!("{f}:1"), "20261201T000000Z".to_owned())].into(),
                            restarts: [(format!("{f}:1"), d.restart_hash(f))].into(),
                            hashes: [(format!("{f}:1"), d.task_def_hash(f))].into(),
                            service_hashes: d
                                .services
                                .iter()
                                .filter(|s| &s.task_family == f)
                                .map(|s| (format!("{f}:1"), d.service_hash(s)))
                                .collect(),
                        },
                    )
                })
                .collect(),
            services: d
                .services
                .iter()
                .map(|s| {
                    let o = ObservedService {
                        arn: s.name.clone(),
                        task_definition: format!("{}:1", s.task_family),
                        draining: Vec::new(),
                        desired: 1,
                        running: 1,
                        hash: Some(d.service_hash(s)),
                        spec_hash: Some(d.spec_hash(s)),
                        restart_hash: Some(d.restart_hash(&s.task_family)),
                        live: None,
                        tasks: vec![format!("arn:task/{}/1", s.name)],
                    };
                    (s.name.clone(), o)
                })
                .collect(),
            scalable_target: Some((d.scaling.min, d.scaling.max)),
            policies: [&d.scaling.cpu_policy, &d.scaling.queue_policy]
                .iter()
                .map(|p| (p.name().to_owned(), (*p).clone()))
                .collect(),
            alarms: [(
                d.scaling.queue_alarm.name.clone(),
                (d.scaling.queue_alarm.clone(), true),
            )]
            .into(),
            unsupported: Vec::new(),
        }
    }

    #[test]
    fn a_rotated_catalog_secret_rolls_the_services_and_nothing_else() {
        let with = |password: &str| DeployInputs {
            catalog_secrets: [(
                "TRINO_CATALOG_SALES_PASSWORD".to_owned(),
                "/trino/lake-local/catalogs/sales/secrets/password".to_owned(),
            )]
            .into(),
            catalog_secret_values: [(
                "/trino/lake-local/catalogs/sales/secrets/password".to_owned(),
                SecretString::new(password.to_owned()),
            )]
            .into(),
            ..inputs()
        };
        let before = desired_with(&with("old-password"));
        let observed = converged(&before);
        assert!(plan(&desired_with(&with("old-password")), &observed).is_empty());
        let rotated = plan(&desired_with(&with("new-password")), &observed);
        let kinds: Vec<&str> = rotated.actions.iter().map(Action::kind).collect();
        assert_eq!(
            kinds,
            ["service", "service"],
            "the task definitions name only the parameter; ECS injects the new value on a new deployment"
        );
        assert!(!rotated.to_string().contains("new-password"), "{rotated}");
    }

    #[test]
    fn changing_the_initial_worker_count_rolls_nothing() {
        let before = desired_with(&inputs());
        let observed = converged(&before);
        let mut after = before.clone();
        for service in &mut after.services {
            service.initial_count += 3;
        }
        assert!(
            plan(&after, &observed).actions.is_empty(),
            "the initial count matters only at creation; autoscaling owns the count afterwards"
        );
    }

    #[test]
    fn empty_account_creates_everything_in_order() {
        let d = desired_with(&inputs());
        let p = plan(&d, &Observed::default());
        let kinds: Vec<&str> = p.actions.iter().map(Action::kind).collect();
        let first = |k: &str| kinds.iter().position(|x| *x == k).unwrap();
        assert!(first("parameter") < first("task-definition"));
        assert!(first("namespace") < first("cluster") && first("cluster") < first("service"));
        assert!(
            first("task-definition") < first("service")
                && first("service") < first("scalable-target")
        );
        assert!(first("scaling-policy") < first("alarm"));
        insta::assert_snapshot!("first_deploy_plan", p.to_string());
    }

    #[test]
    fn converged_state_plans_nothing() {
        let d = desired_with(&inputs());
        let p = plan(&d, &converged(&d));
        assert!(p.is_empty(), "{p}");
        assert_eq!(
            p.to_string(),
            "no changes: the cluster matches the config\n"
        );
    }

    /// `inputs()` with catalog `lake` changed.
    fn lake_changed() -> DeployInputs {
        let mut changed = inputs();
        changed.catalog_files.insert(
            "lake".into(),
            "connector.name=iceberg\niceberg.file-format=ORC\n".into(),
        );
        changed
    }

    const COORDINATOR: &str = "lake-local-coordinator";

    #[test]
    fn a_catalog_only_change_is_made_live_on_the_coordinator_and_touches_no_worker() {
        let before = desired_with(&inputs());
        let observed = converged(&before);
        let after = desired_with(&lake_changed());
        let p = plan(&after, &observed);
        let kinds: Vec<&str> = p.actions.iter().map(Action::kind).collect();
        assert_eq!(
            kinds,
            ["parameter", "task-definition", "catalog"],
            "a new file parameter and a coordinator revision reading it (the workers read no catalog file with \
             dynamic catalog management); the running coordinator gets the catalog live: {p}"
        );
        let Action::RegisterTaskDefinition { spec, .. } = &p.actions[1] else {
            unreachable!()
        };
        assert_eq!(spec.family, COORDINATOR);
        assert_eq!(
            p.actions[2],
            Action::LiveCatalogs {
                service: COORDINATOR.into(),
                family: COORDINATOR.into(),
                task: format!("arn:task/{COORDINATOR}/1"),
                revision: None,
                from: format!("{COORDINATOR}:1"),
                changes: vec![CatalogChange {
                    name: "lake".into(),
                    from: Some("connector.name=iceberg\n".into()),
                    to: Some("connector.name=iceberg\niceberg.file-format=ORC\n".into()),
                }],
                hash: Some(after.service_hash(&after.services[0])),
            }
        );
        assert!(p.notes.is_empty(), "{p}");
        insta::assert_snapshot!("changed_catalog_plan", p.to_string());
    }

    #[test]
    fn with_static_catalogs_a_catalog_change_restarts_both_roles_and_the_plan_says_why() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/local.toml");
        let mut config = crate::config::LakeConfig::load(&path).unwrap();
        config.cluster.catalog_management = crate::config::CatalogManagement::Static;
        let before = model::desired(&config, &inputs()).unwrap();
        let after = model::desired(&config, &lake_changed()).unwrap();
        let p = plan(&after, &converged(&before));
        let kinds: Vec<&str> = p.actions.iter().map(Action::kind).collect();
        assert_eq!(
            kinds,
            [
                "parameter",
                "task-definition",
                "task-definition",
                "service",
                "service"
            ],
            "{p}"
        );
        assert_eq!(p.notes.len(), 1, "{p}");
        assert!(
            p.to_string().contains(
                "! lake-local-coordinator: the catalogs change, and with static catalog management only a \
                 restart reads them"
            ),
            "{p}"
        );
    }

    #[test]
    fn a_catalog_change_with_more_restarts_the_coordinator_and_says_why() {
        let before = desired_with(&inputs());
        let observed = converged(&before);
        // A new catalog with a secret: every node needs the new variable, which only a new task gets.
        let mut with_secret = lake_changed();
        with_secret.catalog_secrets.insert(
            "TRINO_CATALOG_SALES_PASSWORD".into(),
            "/trino/lake-local/catalogs/sales/secrets/password".into(),
        );
        with_secret.catalog_files.insert(
            "sales".into(),
            "connector.name=mysql\nconnection-password=${ENV:TRINO_CATALOG_SALES_PASSWORD}\n"
                .into(),
        );
        let p = plan(&desired_with(&with_secret), &observed);
        let services: Vec<&str> = p
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::PutService { spec, .. } => Some(spec.name.as_str()),
                Action::LiveCatalogs { .. } => panic!("nothing is live: {p}"),
                _ => None,
            })
            .collect();
        assert_eq!(services, [COORDINATOR, "lake-local-worker"], "{p}");
        assert!(
            p.to_string().contains(
                "! lake-local-coordinator: the catalogs change, and more than catalog files differs from \
                 lake-local-coordinator:1"
            ),
            "{p}"
        );

        // Two coordinator tasks (a deployment in flight) cannot be changed live either.
        let mut observed = converged(&before);
        let svc = observed.services.get_mut(COORDINATOR).unwrap();
        svc.tasks.push(format!("arn:task/{COORDINATOR}/2"));
        let p = plan(&desired_with(&lake_changed()), &observed);
        assert!(p.live_catalogs().is_none(), "{p}");
        assert!(
            p.to_string()
                .contains("the service runs 2 coordinator tasks, not one to change live"),
            "{p}"
        );
    }

    /// What AWS shows after the live change of `lake_changed()`: the coordinator service still runs :1, its
    /// newest revision :2 reads the changed file, and its tag says task 1 has :2's catalogs.
    fn live_applied() -> (Desired, Observed) {
        let before = desired_with(&inputs());
        let after = desired_with(&lake_changed());
        let mut observed = converged(&before);
        let new = converged(&after);
        observed.parameters.extend(new.parameters);
        let (one, two) = (format!("{COORDINATOR}:1"), format!("{COORDINATOR}:2"));
        let td = observed.task_defs.get_mut(COORDINATOR).unwrap();
        td.arn = two.clone();
        td.hash = Some(after.task_def_hash(COORDINATOR));
        td.active.push(two.clone());
        td.reads
            .insert(two.clone(), new.task_defs[COORDINATOR].reads[&one].clone());
        td.deploys
            .insert(two.clone(), "20261202T000000Z".to_owned());
        td.restarts
            .insert(two.clone(), after.restart_hash(COORDINATOR));
        td.hashes
            .insert(two.clone(), after.task_def_hash(COORDINATOR));
        let svc = observed.services.get_mut(COORDINATOR).unwrap();
        svc.hash = Some(after.service_hash(&after.services[0]));
        svc.live = Some(LiveTag {
            started: one,
            revision: two,
            task: svc.tasks[0].clone(),
            pending: false,
        });
        (after, observed)
    }

    #[test]
    fn a_live_change_holds_while_its_task_runs_and_is_made_again_on_a_replacement() {
        let (after, observed) = live_applied();
        let p = plan(&after, &observed);
        assert!(p.is_empty(), "task 1 has :2's catalogs: {p}");
        let svc = &observed.services[COORDINATOR];
        assert_eq!(svc.effective(), format!("{COORDINATOR}:2"));
        let listed = retained(&observed);
        assert!(
            listed
                .iter()
                .any(|r| r.revision == format!("{COORDINATOR}:2") && r.running),
            "{listed:?}"
        );

        // ECS replaced the task (it failed its health check): the new one started with :1's files.
        let mut replaced = observed.clone();
        replaced.services.get_mut(COORDINATOR).unwrap().tasks =
            vec![format!("arn:task/{COORDINATOR}/9")];
        let p = plan(&after, &replaced);
        let [
            Action::LiveCatalogs {
                task,
                revision,
                from,
                changes,
                ..
            },
        ] = p.actions.as_slice()
        else {
            panic!("the change is made again, live, on the new task: {p}");
        };
        assert_eq!(task, &format!("arn:task/{COORDINATOR}/9"));
        assert_eq!(
            revision.as_deref(),
            Some(format!("{COORDINATOR}:2").as_str())
        );
        assert_eq!(from, &format!("{COORDINATOR}:1"));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].name, "lake");
    }

    #[test]
    fn a_rollback_of_catalogs_only_is_made_live() {
        let (after, observed) = live_applied();
        let p = rollback(&after, &observed, &RollbackTarget::Previous).unwrap();
        let [
            Action::LiveCatalogs {
                revision,
                changes,
                hash,
                ..
            },
        ] = p.actions.as_slice()
        else {
            panic!("the coordinator's catalogs go back live, nothing else moves: {p}");
        };
        assert_eq!(
            revision.as_deref(),
            Some(format!("{COORDINATOR}:1").as_str())
        );
        assert_eq!(
            changes[0].to.as_deref(),
            Some("connector.name=iceberg\n"),
            "{p}"
        );
        let before = desired_with(&inputs());
        assert_eq!(
            hash.as_deref(),
            Some(before.service_hash(&before.services[0]).as_str()),
            "the hash :1 was registered for goes back on the service: a config describing :1 again restarts \
             nothing, the config describing :2 moves it forward"
        );
        let unchanged = plan(&after, &observed);
        assert!(
            unchanged.is_empty(),
            "before the rollback is applied nothing changes: {unchanged}"
        );
        assert!(p.to_string().contains("live on its running task"), "{p}");
        assert_eq!(
            LiveTag::parse(&observed.services[COORDINATOR].live.clone().unwrap().value()).as_ref(),
            observed.services[COORDINATOR].live.as_ref(),
            "the tag's value reads back"
        );
    }

    #[test]
    fn a_live_change_that_did_not_end_sets_every_catalog_again() {
        let (after, mut observed) = live_applied();
        observed
            .services
            .get_mut(COORDINATOR)
            .unwrap()
            .live
            .as_mut()
            .unwrap()
            .pending = true;
        let p = plan(&after, &observed);
        let [Action::LiveCatalogs { changes, .. }] = p.actions.as_slice() else {
            panic!("the task's catalogs are unknown: they are set again, live: {p}");
        };
        let names: Vec<&str> = changes.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["lake"], "every catalog either revision names");
        assert_eq!(
            changes[0].to.as_deref(),
            Some("connector.name=iceberg\niceberg.file-format=ORC\n")
        );
        // The same when the config went back to the catalogs the task was started with.
        let reverted = desired_with(&inputs());
        let p = plan(&reverted, &observed);
        assert!(p.live_catalogs().is_some(), "{p}");
    }

    #[test]
    fn a_live_tag_holds_only_while_the_service_runs_the_revision_it_was_made_on() {
        let (after, mut observed) = live_applied();
        // A later deploy moved the service (its task still runs for a moment before ECS stops it).
        observed
            .services
            .get_mut(COORDINATOR)
            .unwrap()
            .task_definition = format!("{COORDINATOR}:2");
        assert_eq!(
            observed.services[COORDINATOR].effective(),
            format!("{COORDINATOR}:2")
        );
        assert!(observed.services[COORDINATOR].valid_live().is_none());
        assert!(plan(&after, &observed).is_empty());
    }

    #[test]
    fn a_rotated_secret_is_never_taken_live() {
        // The task was last started with other secret values (the service's restart tag) than the config's:
        // the catalog change restarts the coordinator, so it gets the new values.
        let before = desired_with(&inputs());
        let mut observed = converged(&before);
        observed.services.get_mut(COORDINATOR).unwrap().restart_hash =
            Some("started-with-the-old-password".into());
        let p = plan(&desired_with(&lake_changed()), &observed);
        assert!(p.live_catalogs().is_none(), "{p}");
        assert!(
            p.to_string().contains("more than catalog files differs"),
            "{p}"
        );
    }

    #[test]
    fn a_removed_catalog_file_stays_while_a_kept_revision_reads_it() {
        let mut two = inputs();
        two.catalog_files
            .insert("old".into(), "connector.name=memory\n".into());
        let with_old = desired_with(&two);
        let old_file = with_old
            .parameters
            .keys()
            .find(|n| n.ends_with("/old.properties"))
            .unwrap()
            .clone();
        let mut d = desired_with(&inputs());
        let observed = converged(&with_old);
        let p = plan(&d, &observed);
        assert!(
            p.actions.iter().all(|a| a.target() != old_file),
            "revision 1 runs and reads it: {p}"
        );

        // Revision 2 (without it) runs; keeping one revision retires 1, and then nothing reads the file.
        d.retained_revisions = 1;
        let mut observed = converged(&d);
        for (family, td) in observed.task_defs.iter_mut() {
            let reads = td.reads.remove(&td.arn).unwrap();
            td.arn = format!("{family}:2");
            td.active = vec![format!("{family}:1"), td.arn.clone()];
            td.reads = [
                (
                    format!("{family}:1"),
                    [reads.clone(), vec![old_file.clone()]].concat(),
                ),
                (td.arn.clone(), reads),
            ]
            .into();
        }
        for s in observed.services.values_mut() {
            s.task_definition = format!("{}:2", s.arn);
        }
        observed.parameters.insert(
            old_file.clone(),
            ObservedParam {
                value: "connector.name=memory\n".into(),
                secure: false,
                tier: Tier::Standard,
            },
        );
        let p = plan(&d, &observed);
        assert_eq!(
            kinds_and_targets(&p),
            [
                ("task-definition", "lake-local-coordinator:1"),
                ("task-definition", "lake-local-worker:1"),
                ("parameter", old_file.as_str()),
            ],
            "{p}"
        );
    }

    #[test]
    fn secrets_are_redacted_in_the_diff() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/local.toml");
        let mut config = crate::config::LakeConfig::load(&path).unwrap();
        config.cluster.shared_secret = Some(trino_catalogs::SecretRef::Env("S".into()));
        let mut i = inputs();
        i.env
            .insert("S".into(), SecretString::new("old-secret-value"));
        let observed = converged(&model::desired(&config, &i).unwrap());
        i.env
            .insert("S".into(), SecretString::new("new-secret-value"));
        let p = plan(&model::desired(&config, &i).unwrap(), &observed);
        let text = format!("{p}{p:?}{observed:?}");
        assert!(!text.contains("secret-value"), "{text}");
        assert!(text.contains(
            "~ parameter /trino/lake-local/secrets/shared-secret\n      <secret redacted> changed"
        ));
    }

    /// The desired state after an image change (a mirror of the same release: the image changes, the
    /// rendered files do not), keeping `retained` revisions.
    fn with_new_image(retained: usize) -> (Desired, Observed) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/local.toml");
        let mut config = crate::config::LakeConfig::load(&path).unwrap();
        let observed = converged(&model::desired(&config, &inputs()).unwrap());
        config.cluster.image = "registry.example/trinodb/trino:476".into();
        let mut d = model::desired(&config, &inputs()).unwrap();
        d.retained_revisions = retained;
        (d, observed)
    }

    fn kinds_and_targets(p: &Plan) -> Vec<(&str, &str)> {
        p.actions.iter().map(|a| (a.kind(), a.target())).collect()
    }

    #[test]
    fn changed_image_registers_a_revision_and_keeps_the_old_one_to_roll_back_to() {
        let (d, observed) = with_new_image(3);
        let p = plan(&d, &observed);
        assert_eq!(
            kinds_and_targets(&p),
            [
                ("task-definition", "lake-local-coordinator"),
                ("task-definition", "lake-local-worker"),
                ("service", "lake-local-coordinator"),
                ("service", "lake-local-worker"),
            ],
            "{p}"
        );
    }

    #[test]
    fn a_revision_is_never_retired_while_a_service_runs_or_drains_it() {
        // Keeping one revision: the one the services ran when planning still serves them until the rollout
        // settled, so this plan keeps it...
        let (d, mut observed) = with_new_image(1);
        let p = plan(&d, &observed);
        assert!(
            p.actions
                .iter()
                .all(|a| !matches!(a, Action::DeregisterTaskDefinition { .. })),
            "{p}"
        );
        // ...and the next one, planned while the worker rollout is still in flight, keeps the worker's too.
        for (family, td) in observed.task_defs.iter_mut() {
            td.arn = format!("{family}:2");
            td.hash = Some(d.task_def_hash(family));
            td.active = vec![format!("{family}:1"), format!("{family}:2")];
        }
        for s in observed.services.values_mut() {
            s.task_definition = format!("{}:2", s.arn);
            s.hash = Some(d.service_hash(d.services.iter().find(|x| x.name == s.arn).unwrap()));
        }
        observed
            .services
            .get_mut("lake-local-worker")
            .unwrap()
            .draining = vec!["lake-local-worker:1".into()];
        let p = plan(&d, &observed);
        assert_eq!(
            kinds_and_targets(&p),
            [("task-definition", "lake-local-coordinator:1")],
            "{p}"
        );
        assert!(
            p.to_string()
                .contains("- task definition lake-local-coordinator:1 (older than the retained revisions, unused)"),
            "{p}"
        );
    }

    #[test]
    fn revisions_a_killed_run_left_beyond_the_retention_are_retired_by_the_next_plan() {
        let d = desired_with(&inputs());
        let mut observed = converged(&d);
        // Five active revisions each, the newest tagged with today's hash and run by the service: the
        // state after runs that registered and died before retiring anything.
        for (family, td) in observed.task_defs.iter_mut() {
            td.active = (1..=5).map(|r| format!("{family}:{r}")).collect();
            td.arn = format!("{family}:5");
        }
        for s in observed.services.values_mut() {
            s.task_definition = format!("{}:5", s.arn);
        }
        let p = plan(&d, &observed);
        assert_eq!(
            kinds_and_targets(&p),
            [
                ("task-definition", "lake-local-coordinator:1"),
                ("task-definition", "lake-local-coordinator:2"),
                ("task-definition", "lake-local-worker:1"),
                ("task-definition", "lake-local-worker:2"),
            ],
            "{p}"
        );
    }

    #[test]
    fn a_service_left_on_an_old_revision_by_a_crash_moves_and_keeps_it() {
        let (d, mut observed) = with_new_image(3);
        // The new revisions were registered (latest = :2, tagged), the services still run :1.
        for (family, td) in observed.task_defs.iter_mut() {
            td.arn = format!("{family}:2");
            td.hash = Some(d.task_def_hash(family));
            td.active.push(td.arn.clone());
        }
        let p = plan(&d, &observed);
        assert_eq!(
            kinds_and_targets(&p),
            [
                ("service", "lake-local-coordinator"),
                ("service", "lake-local-worker"),
            ],
            "{p}"
        );
    }

    /// Two deploys of the local example: `A` with the catalog file as `inputs()` gives it, `B` with a changed
    /// one. Each family has revision :1 (deploy A) and :2 (deploy B), each reading its own file parameter;
    /// the services run :2. Returns the config's desired state (B's) and what AWS shows.
    fn two_deploys() -> (Desired, Observed) {
        let old = desired_with(&inputs());
        let mut changed = inputs();
        changed.catalog_files.insert(
            "lake".into(),
            "connector.name=iceberg\niceberg.file-format=ORC\n".into(),
        );
        let new = desired_with(&changed);
        let (was, mut observed) = (converged(&old), converged(&new));
        for (family, td) in observed.task_defs.iter_mut() {
            let (one, two) = (format!("{family}:1"), format!("{family}:2"));
            td.reads = [
                (one.clone(), was.task_defs[family].reads[&one].clone()),
                (two.clone(), td.reads[&one].clone()),
            ]
            .into();
            td.deploys = [
                (one.clone(), "20261201T000000Z".to_owned()),
                (two.clone(), "20261202T000000Z".to_owned()),
            ]
            .into();
            // Deploy A's revisions differ from B's beyond catalog files (say, in the node configuration), so
            // returning to them replaces the tasks (`a_rollback_of_catalogs_only_is_made_live` is the other case).
            td.restarts = [
                (one.clone(), "deploy-a-shape".to_owned()),
                (two.clone(), new.restart_hash(family)),
            ]
            .into();
            td.hashes = [
                (
                    one.clone(),
                    format!("deploy-a-{}", old.task_def_hash(family)),
                ),
                (two.clone(), new.task_def_hash(family)),
            ]
            .into();
            td.active = vec![one, two.clone()];
            td.arn = two;
        }
        for svc in observed.services.values_mut() {
            svc.task_definition = svc.task_definition.replace(":1", ":2");
        }
        observed.parameters.extend(was.parameters);
        assert!(
            plan(&new, &observed).is_empty(),
            "{}",
            plan(&new, &observed)
        );
        (new, observed)
    }

    fn moves(p: &Plan) -> Vec<(&str, &str, &str)> {
        p.actions
            .iter()
            .map(|a| match a {
                Action::RollBackService {
                    service, from, to, ..
                } => (service.as_str(), from.as_str(), to.as_str()),
                other => panic!("a rollback plans only service moves: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn rollback_undoes_the_newest_deploy_with_the_files_of_the_revision_it_returns_to() {
        let (d, observed) = two_deploys();
        let p = rollback(&d, &observed, &RollbackTarget::Previous).unwrap();
        assert_eq!(
            moves(&p),
            [
                (
                    "lake-local-coordinator",
                    "lake-local-coordinator:2",
                    "lake-local-coordinator:1"
                ),
                (
                    "lake-local-worker",
                    "lake-local-worker:2",
                    "lake-local-worker:1"
                ),
            ]
        );
        let text = p.to_string();
        assert!(
            text.contains(
                "~ service lake-local-coordinator: roll back lake-local-coordinator:2 -> lake-local-coordinator:1, \
                 deployed 20261201T000000Z (its own files; rolling deployment)"
            ),
            "{text}"
        );
        assert!(
            text.contains("catalog/lake.properties:\n      - iceberg.file-format=ORC\n"),
            "{text}"
        );
        // The same by deploy id and by revision name; the deploy B itself is where they run already.
        let by_id = rollback(
            &d,
            &observed,
            &RollbackTarget::parse(Some("20261201T000000Z")),
        )
        .unwrap();
        assert_eq!(by_id, p);
        let one = rollback(
            &d,
            &observed,
            &RollbackTarget::parse(Some("lake-local-worker:1")),
        )
        .unwrap();
        assert_eq!(
            moves(&one),
            [(
                "lake-local-worker",
                "lake-local-worker:2",
                "lake-local-worker:1"
            )]
        );
        let current = rollback(
            &d,
            &observed,
            &RollbackTarget::parse(Some("20261202T000000Z")),
        )
        .unwrap();
        assert!(current.is_empty(), "{current}");
    }

    #[test]
    fn rollback_refuses_what_is_not_retained_and_says_what_is() {
        let (d, observed) = two_deploys();
        let err = rollback(
            &d,
            &observed,
            &RollbackTarget::parse(Some("lake-local-worker:7")),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("lake-local-worker:7 is not a retained revision")
                && err.contains("retained: lake-local-worker:1, lake-local-worker:2"),
            "{err}"
        );
        let err = rollback(
            &d,
            &observed,
            &RollbackTarget::parse(Some("20250101T000000Z")),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("retained deploys: 20261201T000000Z, 20261202T000000Z"),
            "{err}"
        );
        let err = rollback(&d, &observed, &RollbackTarget::parse(Some("other:1")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no family \"other\""), "{err}");
        // Back at the oldest retained deploy, there is nothing earlier to undo.
        let mut at_first = observed.clone();
        for svc in at_first.services.values_mut() {
            svc.task_definition = svc.task_definition.replace(":2", ":1");
        }
        let err = rollback(&d, &at_first, &RollbackTarget::Previous)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no earlier deploy is retained"), "{err}");
    }

    /// A deploy that died after moving the coordinator but before the worker: rollback returns the
    /// coordinator to the deploy before, and leaves the worker, which never left it.
    #[test]
    fn rollback_after_a_deploy_that_died_midway_restores_the_state_before_it() {
        let (d, mut observed) = two_deploys();
        let worker = observed.services.get_mut("lake-local-worker").unwrap();
        worker.task_definition = "lake-local-worker:1".into();
        let p = rollback(&d, &observed, &RollbackTarget::Previous).unwrap();
        assert_eq!(
            moves(&p),
            [(
                "lake-local-coordinator",
                "lake-local-coordinator:2",
                "lake-local-coordinator:1"
            )]
        );
    }

    /// After a rollback (or the circuit breaker's), the services run an older revision with the config's
    /// content hash; a deploy sees it and moves them to the newest revision again, saying why.
    #[test]
    fn a_rolled_back_service_is_moved_forward_by_the_next_deploy() {
        let (d, mut observed) = two_deploys();
        for svc in observed.services.values_mut() {
            svc.task_definition = svc.task_definition.replace(":2", ":1");
        }
        let p = plan(&d, &observed);
        assert_eq!(
            kinds_and_targets(&p),
            [
                ("service", "lake-local-coordinator"),
                ("service", "lake-local-worker")
            ],
            "{p}"
        );
        assert!(
            p.to_string().contains(
                "~ service lake-local-worker: runs lake-local-worker:1, rolled back from the config's revision; \
                 rolling deployment to the newest lake-local-worker revision"
            ),
            "{p}"
        );
        let listed = retained(&observed);
        let worker: Vec<(&str, Option<&str>, bool)> = listed
            .iter()
            .filter(|r| r.revision.starts_with("lake-local-worker"))
            .map(|r| (r.revision.as_str(), r.deploy.as_deref(), r.running))
            .collect();
        assert_eq!(
            worker,
            [
                ("lake-local-worker:2", Some("20261202T000000Z"), false),
                ("lake-local-worker:1", Some("20261201T000000Z"), true),
            ]
        );
    }

    #[test]
    fn tiers_are_the_cheapest_that_holds_the_value_and_advanced_ones_come_back_down() {
        assert_eq!(Tier::for_size(4096), Some(Tier::Standard));
        assert_eq!(Tier::for_size(4097), Some(Tier::Advanced));
        assert_eq!(Tier::for_size(8192), Some(Tier::Advanced));
        assert_eq!(Tier::for_size(8193), None);

        let mut big = inputs();
        big.catalog_files.insert(
            "lake".into(),
            format!("connector.name=iceberg\n#{}\n", "x".repeat(5000)),
        );
        let d = desired_with(&big);
        let file = "/trino/lake-local/rendered/catalog/lake.properties";
        let p = plan(&d, &converged(&desired_with(&inputs())));
        let put = p
            .actions
            .iter()
            .find(|a| model::file_of_parameter(a.target()).as_deref() == Some(file))
            .unwrap();
        let Action::PutParameter {
            name,
            tier: Tier::Advanced,
            replaces: Some(replaced),
            ..
        } = put
        else {
            panic!("{put:?}");
        };
        let text = p.to_string();
        assert!(
            text.contains(&format!(
                "+ parameter {name} (advanced tier)\n      (replaces {}, which stays for rollback)\n",
                replaced.0
            )),
            "{text}"
        );

        // The file shrank back under 4 KB: the parameter, still Advanced, is re-created as Standard. With
        // an unchanged value too: SSM charges for the advanced tier, and never downgrades by itself.
        let small = desired_with(&inputs());
        let mut observed = converged(&small);
        let name = small
            .parameters
            .keys()
            .find(|n| model::file_of_parameter(n).as_deref() == Some(file))
            .unwrap()
            .as_str();
        observed.parameters.get_mut(name).unwrap().tier = Tier::Advanced;
        let p = plan(&small, &observed);
        assert_eq!(kinds_and_targets(&p), [("parameter", name)], "{p}");
        assert!(
            matches!(&p.actions[0], Action::PutParameter { tier: Tier::Standard, old: Some(o), .. } if o.tier == Tier::Advanced)
        );
        assert_eq!(
            p.to_string().lines().next().unwrap(),
            format!(
                "~ parameter {name} (advanced -> standard tier: deleted and re-created, SSM cannot downgrade in place)"
            )
        );
    }

    #[test]
    fn a_value_no_tier_holds_is_refused_before_any_plan() {
        let mut huge = inputs();
        huge.catalog_files.insert(
            "lake".into(),
            format!("connector.name=iceberg\n#{}\n", "x".repeat(9000)),
        );
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/local.toml");
        let config = crate::config::LakeConfig::load(&path).unwrap();
        let err = model::desired(&config, &huge).unwrap_err().to_string();
        assert!(
            err.starts_with("parameter /trino/lake-local/rendered/catalog/")
                && err.ends_with(
                    "/lake.properties would be 9025 bytes, over the 8192-byte limit of Parameter Store's \
                     advanced tier: move large values (keys, certificates) into secret references"
                ),
            "{err}"
        );
    }

    #[test]
    fn generated_secret_is_never_regenerated() {
        let d = desired_with(&inputs());
        let mut observed = converged(&d);
        observed
            .parameters
            .get_mut("/trino/lake-local/secrets/shared-secret")
            .unwrap()
            .value = "anything".into();
        assert!(plan(&d, &observed).is_empty());
    }

    #[test]
    fn scaling_bounds_change_is_one_action() {
        let d = desired_with(&inputs());
        let mut observed = converged(&d);
        observed.scalable_target = Some((1, 4));
        let p = plan(&d, &observed);
        assert_eq!(
            p.to_string(),
            "~ scalable target service/lake-local/lake-local-worker min 1 -> 1, max 4 -> 2\n1 actions: 1 scalable-target\n"
        );
    }
}
