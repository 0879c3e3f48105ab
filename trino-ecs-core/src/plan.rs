//! The pure planner: desired state + observed state -> a typed [`Plan`] of actions, printable as a readable
//! diff with secrets redacted. No IO.

use std::collections::BTreeMap;
use std::fmt;

use crate::model::{AlarmSpec, Desired, ParamValue, PolicySpec, ServiceSpec, TaskDefSpec};

/// A parameter as read from SSM.
#[derive(Clone, PartialEq, Eq)]
pub struct ObservedParam {
    /// Its value (decrypted).
    pub value: String,
    /// Whether it is a SecureString.
    pub secure: bool,
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
            .finish()
    }
}

/// The latest active revision of a task definition family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedTaskDef {
    /// The revision ARN.
    pub arn: String,
    /// The hash tag, if the tool registered it.
    pub hash: Option<String>,
}

/// An ECS service as described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedService {
    /// The service ARN.
    pub arn: String,
    /// The task definition ARN it runs.
    pub task_definition: String,
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
    /// Create or overwrite a parameter.
    PutParameter {
        /// Name.
        name: String,
        /// Desired value.
        value: ParamValue,
        /// The current value when it exists (`None`: create).
        old: Option<ObservedParam>,
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
    /// Deregister a revision a new one replaced (after the services moved to the new one).
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
        let same = match (&spec.value, old) {
            (_, None) => false,
            (ParamValue::Generated, Some(o)) => o.secure,
            (ParamValue::Text(text), Some(o)) => !o.secure && &o.value == text,
            (ParamValue::Secret(value), Some(o)) => o.secure && o.value == value.expose(),
        };
        if !same {
            actions.push(Action::PutParameter {
                name: name.clone(),
                value: spec.value.clone(),
                old: old.cloned(),
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

    let mut replaced = Vec::new();
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
            if let (Change::Update(_), Some(old)) = (&change, observed.task_defs.get(family)) {
                replaced.push(Action::DeregisterTaskDefinition {
                    arn: old.arn.clone(),
                });
            }
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
            // A run that died after registering a revision but before moving the service leaves the
            // service on an older revision than the family's latest: retire that one too.
            if let (Some(o), Some(td)) = (
                observed.services.get(&spec.name),
                observed.task_defs.get(&spec.task_family),
            ) {
                let old = Action::DeregisterTaskDefinition {
                    arn: o.task_definition.clone(),
                };
                if !o.task_definition.is_empty()
                    && o.task_definition != td.arn
                    && !replaced.contains(&old)
                {
                    replaced.push(old);
                }
            }
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

    // Replaced revisions and stale parameters go last: running tasks use them until the services rolled.
    actions.extend(replaced);
    for (name, old) in &observed.parameters {
        if !desired.parameters.contains_key(name)
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

fn show_value(value: &ParamValue) -> String {
    match value {
        ParamValue::Text(text) => text.clone(),
        ParamValue::Secret(_) => "<secret redacted>".into(),
        ParamValue::Generated => "<generated secret>".into(),
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
                    old: None,
                } => {
                    writeln!(f, "+ parameter {name}")?;
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
                    old: Some(old),
                } => {
                    writeln!(f, "~ parameter {name}")?;
                    match value {
                        ParamValue::Text(text) if !old.secure => line_diff(f, &old.value, text)?,
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
                Action::DeregisterTaskDefinition { arn } => {
                    writeln!(f, "- task definition {arn} (replaced)")?
                }
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
                    (n.clone(), ObservedParam { value, secure })
                })
                .collect(),
            namespace_arn: Some("arn:ns".into()),
            cluster: Some(Some("arn:ns".into())),
            task_defs: d
                .task_defs
                .keys()
                .map(|f| {
                    (
                        f.clone(),
                        ObservedTaskDef {
                            arn: format!("{f}:1"),
                            hash: Some(d.task_def_hash(f)),
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
                        task_definition: String::new(),
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
    fn changed_catalog_updates_one_parameter_and_rolls_both_services() {
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
        assert_eq!(kinds, ["parameter", "service", "service"], "{p}");
        insta::assert_snapshot!("changed_catalog_plan", p.to_string());
    }

    #[test]
    fn removed_catalog_deletes_its_parameter_last() {
        let mut two = inputs();
        two.catalog_files
            .insert("old".into(), "connector.name=memory\n".into());
        let observed = converged(&desired_with(&two));
        let p = plan(&desired_with(&inputs()), &observed);
        let last = p.actions.last().unwrap();
        assert_eq!(
            last,
            &Action::DeleteParameter {
                name: "/trino/lake-local/rendered/catalog/old.properties".into(),
                secure: false
            }
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

    #[test]
    fn changed_image_registers_a_revision_rolls_services_and_deregisters_the_old_one() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/local.toml");
        let mut config = crate::config::LakeConfig::load(&path).unwrap();
        let observed = converged(&model::desired(&config, &inputs()).unwrap());
        // A mirror of the same release: the image changes, the rendered files do not.
        config.cluster.image = "registry.example/trinodb/trino:476".into();
        let p = plan(&model::desired(&config, &inputs()).unwrap(), &observed);
        let kinds: Vec<(&str, &str)> = p.actions.iter().map(|a| (a.kind(), a.target())).collect();
        assert_eq!(
            kinds,
            [
                ("task-definition", "lake-local-coordinator"),
                ("task-definition", "lake-local-worker"),
                ("service", "lake-local-coordinator"),
                ("service", "lake-local-worker"),
                ("task-definition", "lake-local-coordinator:1"),
                ("task-definition", "lake-local-worker:1"),
            ],
            "{p}"
        );
    }

    #[test]
    fn a_service_left_on_an_old_revision_by_a_crash_retires_it_after_moving() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/local.toml");
        let mut config = crate::config::LakeConfig::load(&path).unwrap();
        let mut observed = converged(&model::desired(&config, &inputs()).unwrap());
        // A mirror of the same release: the image changes, the rendered files do not.
        config.cluster.image = "registry.example/trinodb/trino:476".into();
        let d = model::desired(&config, &inputs()).unwrap();
        // The new revisions were registered (latest = :2, tagged), the services still run :1.
        for (family, td) in observed.task_defs.iter_mut() {
            td.arn = format!("{family}:2");
            td.hash = Some(d.task_def_hash(family));
        }
        for s in observed.services.values_mut() {
            s.task_definition = format!("{}:1", s.arn);
        }
        let p = plan(&d, &observed);
        let kinds: Vec<(&str, &str)> = p.actions.iter().map(|a| (a.kind(), a.target())).collect();
        assert_eq!(
            kinds,
            [
                ("service", "lake-local-coordinator"),
                ("service", "lake-local-worker"),
                ("task-definition", "lake-local-coordinator:1"),
                ("task-definition", "lake-local-worker:1"),
            ],
            "{p}"
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
