//! The pure planner: desired state + observed state -> a typed [`Plan`] of actions, printable as a readable
//! diff with secrets redacted. No IO.

use std::collections::BTreeMap;
use std::fmt;

use crate::model::{AlarmSpec, Desired, ParamValue, PolicySpec, ServiceSpec, TaskDefSpec, Tier};

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
            Action::PutService { .. } => "service",
            Action::PutScalableTarget { .. } => "scalable-target",
            Action::PutScalingPolicy { .. } => "scaling-policy",
            Action::PutAlarm { .. } => "alarm",
        }
    }
}

/// An ordered list of actions; applying them in order converges the cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// The actions, in dependency order.
    pub actions: Vec<Action>,
    /// Resources left out because the endpoint cannot manage them (printed with the plan).
    pub skipped: Vec<String>,
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

    for spec in &desired.services {
        let hash = desired.service_hash(spec);
        let change = match observed.services.get(&spec.name) {
            None => Some(Change::Create),
            Some(o) if o.hash.as_deref() != Some(hash.as_str()) => {
                Some(Change::Update(o.hash.clone()))
            }
            Some(_) => None,
        };
        if let Some(change) = change {
            actions.push(Action::PutService {
                spec: Box::new(spec.clone()),
                hash,
                change,
            });
        }
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
    Plan { actions, skipped }
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
        .flat_map(|s| std::iter::once(&s.task_definition).chain(&s.draining))
        .map(String::as_str)
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
                } => writeln!(
                    f,
                    "~ service {}: rolling deployment (content {} -> {hash})",
                    spec.name,
                    old.as_deref().unwrap_or("untagged")
                )?,
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
                        running: 0,
                        hash: Some(d.service_hash(s)),
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

    #[test]
    fn changed_catalog_writes_one_parameter_and_registers_and_rolls_both_services() {
        let before = desired_with(&inputs());
        let observed = converged(&before);
        let mut changed = inputs();
        changed.catalog_files.insert(
            "lake".into(),
            "connector.name=iceberg\niceberg.file-format=ORC\n".into(),
        );
        let after = desired_with(&changed);
        let p = plan(&after, &observed);
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
            "a new file parameter, so new revisions that read it; the old file and revision stay: {p}"
        );
        insta::assert_snapshot!("changed_catalog_plan", p.to_string());
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
