//! The desired state of a cluster, derived from the lake config and the rendered catalogs: SSM parameters,
//! the Cloud Map namespace, the ECS cluster, task definitions, services and worker autoscaling. Pure: no IO.
//!
//! Config delivery: every rendered file becomes one SSM parameter under `<prefix>/<cluster>/rendered/`. The task
//! definition lists each as a container `secret` (valueFrom = the parameter ARN), so ECS injects the text as
//! an environment variable, and the container's command writes each variable to its file before it execs
//! Trino. Secret values (the shared secret, database passwords) are SecureString parameters reached the same
//! way; the task definition only carries their ARNs.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};
use trino_catalogs::SecretRef;

use crate::config::{CatalogManagement, LakeConfig, LaunchType};
use crate::error::{Error, Result};
use crate::render::{
    self, CATALOG_DIR, CONFIG_DIR, EVENT_LOG_PASSWORD_ENV, HTTP_PORT, PORT_NAME, Role,
    SHARED_SECRET_ENV,
};

/// The tag carrying a resource's content hash; a redeploy compares it instead of re-reading every field.
pub const HASH_TAG: &str = "trino-lake:hash";
/// The tag naming the deploy that registered a task-definition revision: the UTC time it started applying,
/// `YYYYMMDDTHHMMSS.mmmZ`, so ids sort in time order. `rollback` and `status` group revisions by it.
pub const DEPLOY_TAG: &str = "trino-lake:deploy";

/// The deploy id of a deploy started at `at`, as [`DEPLOY_TAG`] holds it.
pub fn deploy_id(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y%m%dT%H%M%S%.3fZ").to_string()
}
/// The tag of a task-definition revision holding its [`Desired::restart_hash`] when registered: what a running
/// task of it would need a restart to change. A coordinator whose revision differs from the desired one in
/// catalog files only takes the change live (see [`crate::plan::Action::LiveCatalogs`]).
pub const RESTART_TAG: &str = "trino-lake:restart-hash";
/// The tag of a task-definition revision holding the [`Desired::service_hash`] of the service it was registered
/// for: a rollback to the revision puts it back on the service.
pub const SERVICE_HASH_TAG: &str = "trino-lake:service-hash";
/// The tag of a service holding its [`Desired::spec_hash`] (the service's own settings, which UpdateService
/// applies whether or not its deployment then succeeds).
pub const SPEC_TAG: &str = "trino-lake:spec-hash";
/// The tag of the coordinator service saying which revision's catalogs its running task has since a live
/// change: `<revision ARN> <task ARN>`. It holds only while that task runs: a replacement starts with the files
/// of the revision the service runs.
pub const LIVE_TAG: &str = "trino-lake:live-catalogs";

/// The CloudWatch namespace of the metrics the tool publishes.
pub const METRIC_NAMESPACE: &str = "TrinoLake";
/// The metric the step-scaling alarm watches: queued queries divided by active workers.
pub const QUEUED_METRIC: &str = "QueuedQueriesPerWorker";

/// A secret value: compared and sent, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The value, for sending to AWS only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

/// What the planner needs besides the lake config: plain values gathered by the caller.
#[derive(Debug, Clone, Default)]
pub struct DeployInputs {
    /// Rendered catalog files by catalog name (`<name>.properties` text, secrets as `${ENV:VAR}`).
    pub catalog_files: BTreeMap<String, String>,
    /// The catalogs' secret environment variables and the SSM SecureString parameter holding each value.
    pub catalog_secrets: BTreeMap<String, String>,
    /// Values of the environment variables the cluster config names through `{ env = "VAR" }`.
    pub env: BTreeMap<String, SecretString>,
    /// The value each catalog secret parameter (a value of `catalog_secrets`) will hold when the tasks start.
    /// Only its digest is kept (in the services' content hash), so a rotated catalog password rolls the
    /// services even though the task definition, which names only the parameter, did not change.
    pub catalog_secret_values: BTreeMap<String, SecretString>,
}

impl DeployInputs {
    /// Reads, from the process environment, every variable named by an `{ env = ... }` secret of the cluster
    /// config (`cluster.shared_secret`, `event_log.password`); a missing one is an error naming its key.
    pub fn read_env(config: &LakeConfig) -> Result<BTreeMap<String, SecretString>> {
        let mut out = BTreeMap::new();
        for (field, secret) in secret_fields(config) {
            if let SecretRef::Env(var) = secret {
                let value = std::env::var(var).map_err(|_| Error::MissingEnv {
                    var: var.clone(),
                    field: field.to_owned(),
                })?;
                out.insert(var.clone(), SecretString::new(value));
            }
        }
        Ok(out)
    }
}

fn secret_fields(config: &LakeConfig) -> Vec<(&'static str, &SecretRef)> {
    let mut out = Vec::new();
    if let Some(s) = &config.cluster.shared_secret {
        out.push(("cluster.shared_secret", s));
    }
    if let Some(s) = config.event_log.as_ref().and_then(|l| l.password.as_ref()) {
        out.push(("event_log.password", s));
    }
    out
}

/// The value an SSM parameter should have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ParamValue {
    /// A plain `String` parameter (rendered files; they hold no secrets).
    Text(String),
    /// A `SecureString` parameter with a known value.
    Secret(#[serde(skip)] SecretString),
    /// A `SecureString` generated once by the deploy tool and never overwritten (the shared secret).
    Generated,
}

impl ParamValue {
    /// The tier this value needs. A generated secret is 64 characters.
    pub fn tier(&self) -> Tier {
        let bytes = match self {
            ParamValue::Text(text) => text.len(),
            ParamValue::Secret(secret) => secret.expose().len(),
            ParamValue::Generated => return Tier::Standard,
        };
        // `desired` refuses values no tier holds, so a larger one never reaches a plan.
        Tier::for_size(bytes).unwrap_or(Tier::Advanced)
    }
}

/// A Parameter Store tier. Standard holds 4 KB and is free; Advanced holds 8 KB and is charged per parameter
/// and month. SSM never moves a parameter from Advanced back to Standard in place: the plan deletes and
/// re-creates it (see [`crate::plan::Action::PutParameter`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Tier {
    /// Up to [`trino_catalogs::store::STANDARD_LIMIT`] bytes.
    #[default]
    Standard,
    /// Up to [`trino_catalogs::store::ADVANCED_LIMIT`] bytes.
    Advanced,
}

impl Tier {
    /// The cheapest tier that holds a value of `bytes`, or `None` when no tier does.
    pub fn for_size(bytes: usize) -> Option<Tier> {
        if bytes <= trino_catalogs::store::STANDARD_LIMIT {
            Some(Tier::Standard)
        } else if bytes <= trino_catalogs::store::ADVANCED_LIMIT {
            Some(Tier::Advanced)
        } else {
            None
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tier::Standard => "standard",
            Tier::Advanced => "advanced",
        })
    }
}

/// One SSM parameter the cluster owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSpec {
    /// Full parameter name.
    pub name: String,
    /// Desired value.
    pub value: ParamValue,
}

/// A container's environment entry injected from SSM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretEnv {
    /// The environment variable.
    pub name: String,
    /// The SSM parameter ARN.
    #[serde(rename = "valueFrom")]
    pub value_from: String,
}

/// An ECS task definition, as registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDefSpec {
    /// The family, `<cluster>-<role>`.
    pub family: String,
    /// Which node it runs.
    #[serde(skip)]
    pub role: Role,
    /// Task CPU units.
    pub cpu: u32,
    /// Task memory in MiB.
    pub memory: u32,
    /// Always `awsvpc`: Trino nodes reach workers by their own IP.
    pub network_mode: &'static str,
    /// `FARGATE` or `EC2`.
    pub requires_compatibilities: &'static str,
    /// The execution role (pulls the image, reads SSM).
    pub execution_role_arn: String,
    /// The role of the Trino process.
    pub task_role_arn: Option<String>,
    /// The one container.
    pub container: ContainerSpec,
}

/// The Trino container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerSpec {
    /// Always `trino`.
    pub name: String,
    /// The image.
    pub image: String,
    /// `[sh, -c, script]`: writes the injected files, then execs Trino.
    pub command: Vec<String>,
    /// Files and secrets injected from SSM.
    pub secrets: Vec<SecretEnv>,
    /// The port mapping's container port.
    pub port: u16,
    /// The port mapping's name (Service Connect's `portName`).
    pub port_name: &'static str,
    /// The health check command (the image's own script checks `/v1/info` reports `starting: false`).
    pub health_check: Vec<String>,
    /// Seconds ECS waits after SIGTERM before SIGKILL (Fargate allows at most 120).
    pub stop_timeout: u32,
    /// The awslogs group.
    pub log_group: String,
    /// The awslogs region.
    pub log_region: String,
    /// The awslogs stream prefix.
    pub log_stream_prefix: String,
}

/// Service Connect settings of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceConnectSpec {
    /// The Cloud Map namespace name.
    pub namespace: String,
    /// For the coordinator: the discovery name and the client alias other tasks resolve.
    pub server: Option<ServiceConnectServer>,
}

/// The coordinator's Service Connect endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceConnectServer {
    /// The container port mapping name.
    pub port_name: &'static str,
    /// The Cloud Map service name.
    pub discovery_name: String,
    /// The DNS alias clients use.
    pub dns_name: String,
    /// The alias port.
    pub port: u16,
}

/// An ECS service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// Service name, `<cluster>-<role>`.
    pub name: String,
    /// Which node it runs.
    #[serde(skip)]
    pub role: Role,
    /// The task definition family it runs (the latest revision).
    pub task_family: String,
    /// Tasks at creation; later left to autoscaling and `scale`.
    pub initial_count: u32,
    /// `FARGATE` or `EC2`.
    pub launch_type: &'static str,
    /// awsvpc subnets.
    pub subnets: Vec<String>,
    /// awsvpc security groups.
    pub security_groups: Vec<String>,
    /// Whether tasks get a public IP.
    pub assign_public_ip: bool,
    /// Deployment lower bound in percent.
    pub minimum_healthy_percent: i32,
    /// Deployment upper bound in percent.
    pub maximum_percent: i32,
    /// Deployment circuit breaker with rollback.
    pub circuit_breaker_rollback: bool,
    /// Seconds health checks are ignored after a task starts.
    pub health_check_grace_seconds: i32,
    /// Service Connect.
    pub service_connect: ServiceConnectSpec,
}

/// The worker service's scalable target and policies.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScalingSpec {
    /// `service/<cluster>/<service>`.
    pub resource_id: String,
    /// Fewest workers.
    pub min: i32,
    /// Most workers.
    pub max: i32,
    /// CPU target tracking.
    pub cpu_policy: PolicySpec,
    /// Step scaling on queued queries per worker.
    pub queue_policy: PolicySpec,
    /// The alarm that drives the step policy.
    pub queue_alarm: AlarmSpec,
}

/// A scaling policy, in the fields the tool sets and compares.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum PolicySpec {
    /// Target tracking on a predefined metric.
    TargetTracking {
        /// Policy name.
        name: String,
        /// e.g. `ECSServiceAverageCPUUtilization`.
        metric: String,
        /// Target value.
        target: f64,
        /// Scale-in cooldown, seconds.
        scale_in_cooldown: i32,
        /// Scale-out cooldown, seconds.
        scale_out_cooldown: i32,
    },
    /// Step scaling driven by an alarm.
    Step {
        /// Policy name.
        name: String,
        /// Cooldown, seconds.
        cooldown: i32,
        /// (lower bound, upper bound, added tasks), bounds relative to the alarm threshold.
        steps: Vec<(Option<f64>, Option<f64>, i32)>,
    },
}

impl PolicySpec {
    /// The policy name.
    pub fn name(&self) -> &str {
        match self {
            PolicySpec::TargetTracking { name, .. } | PolicySpec::Step { name, .. } => name,
        }
    }
}

/// A CloudWatch alarm on a metric the tool publishes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmSpec {
    /// Alarm name.
    pub name: String,
    /// Metric namespace.
    pub namespace: String,
    /// Metric name.
    pub metric: String,
    /// The `ClusterName` dimension value.
    pub cluster: String,
    /// Period in seconds.
    pub period: i32,
    /// Evaluation periods.
    pub evaluation_periods: i32,
    /// Threshold.
    pub threshold: f64,
}

/// Everything one cluster consists of.
#[derive(Debug, Clone)]
pub struct Desired {
    /// Cluster name.
    pub cluster: String,
    /// Region (for awslogs).
    pub region: String,
    /// Managed parameter paths (`<prefix>/<cluster>/rendered` and `/secrets`): anything else under them is stale.
    pub managed_paths: Vec<String>,
    /// Parameters by name.
    pub parameters: BTreeMap<String, ParamSpec>,
    /// The deploy lock parameter, `<prefix>/<cluster>/deploy-lock`.
    pub lock_parameter: String,
    /// The Cloud Map HTTP namespace.
    pub namespace: String,
    /// Task definitions by family.
    pub task_defs: BTreeMap<String, TaskDefSpec>,
    /// Services by name, coordinator first.
    pub services: Vec<ServiceSpec>,
    /// Worker autoscaling.
    pub scaling: ScalingSpec,
    /// How many revisions of each task-definition family stay registered (`cluster.retained_revisions`).
    pub retained_revisions: usize,
    /// SHA-256 of each catalog secret parameter's value, by parameter name (see
    /// [`DeployInputs::catalog_secret_values`]).
    pub catalog_secret_digests: BTreeMap<String, Vec<u8>>,
    /// Whether catalogs change on the running cluster (`cluster.catalog_management = "dynamic"`): the
    /// coordinator alone reads catalog files (workers get catalogs from it), and a change of catalog files
    /// only is made with `CREATE CATALOG`/`DROP CATALOG` instead of a restart.
    pub live_catalogs: bool,
    /// Where the catalog files' parameters live, `<prefix>/<cluster>/rendered/catalog`: a parameter
    /// `<catalog_dir>/<digest>/<name>.properties` is catalog `name`'s file.
    pub catalog_dir: String,
    /// Each task definition without its catalog files: what [`Desired::restart_hash`] hashes.
    pub restart_specs: BTreeMap<String, TaskDefSpec>,
}

/// Builds the desired state. Fails only on config that cannot be deployed (e.g. no execution role).
pub fn desired(config: &LakeConfig, inputs: &DeployInputs) -> Result<Desired> {
    let c = &config.cluster;
    let version = config
        .trino_version()
        .map_err(|(field, reason)| Error::InvalidConfig {
            field: field.into(),
            reason,
        })?;
    let execution_role = c
        .execution_role_arn
        .clone()
        .ok_or_else(|| Error::InvalidConfig {
            field: "cluster.execution_role_arn".into(),
            reason: "required: tasks read their configuration and secrets from SSM with this role"
                .into(),
        })?;
    // arn:<partition>:iam::<account>:role/<name>
    let parts: Vec<&str> = execution_role.split(':').collect();
    let (partition, account) = match parts.as_slice() {
        [_, partition, _, _, account, ..] if !account.is_empty() => (*partition, *account),
        _ => {
            return Err(Error::InvalidConfig {
                field: "cluster.execution_role_arn".into(),
                reason: format!("{execution_role:?} names no account"),
            });
        }
    };
    let region = config.aws.region.clone();
    let arn = |name: &str| {
        format!(
            "arn:{partition}:ssm:{region}:{account}:parameter/{}",
            name.trim_start_matches('/')
        )
    };
    let base = format!("{}/{}", config.parameters.prefix, c.name);
    let rendered = format!("{base}/rendered");
    let secrets = format!("{base}/secrets");
    let mut parameters = BTreeMap::new();

    // Secrets of the cluster itself.
    let mut secret_env: Vec<SecretEnv> = Vec::new();
    let shared = match &c.shared_secret {
        None => {
            let name = format!("{secrets}/shared-secret");
            parameters.insert(
                name.clone(),
                ParamSpec {
                    name: name.clone(),
                    value: ParamValue::Generated,
                },
            );
            name
        }
        Some(SecretRef::Parameter(name)) => name.clone(),
        Some(SecretRef::Env(var)) => {
            let name = format!("{secrets}/shared-secret");
            let value = env_value(inputs, var, "cluster.shared_secret")?;
            parameters.insert(
                name.clone(),
                ParamSpec {
                    name: name.clone(),
                    value: ParamValue::Secret(value),
                },
            );
            name
        }
    };
    secret_env.push(SecretEnv {
        name: SHARED_SECRET_ENV.into(),
        value_from: arn(&shared),
    });
    let mut coordinator_only: Vec<SecretEnv> = Vec::new();
    if let Some(password) = config.event_log.as_ref().and_then(|l| l.password.as_ref()) {
        let name = match password {
            SecretRef::Parameter(name) => name.clone(),
            SecretRef::Env(var) => {
                let name = format!("{secrets}/event-log-password");
                // Trino pastes the variable into the listener's JDBC URL query string (it has no separate
                // password property), which Connector/J percent-decodes: store the value encoded.
                let value = SecretString::new(crate::render::encode_jdbc_query_value(
                    env_value(inputs, var, "event_log.password")?.expose(),
                ));
                parameters.insert(
                    name.clone(),
                    ParamSpec {
                        name: name.clone(),
                        value: ParamValue::Secret(value),
                    },
                );
                name
            }
        };
        coordinator_only.push(SecretEnv {
            name: EVENT_LOG_PASSWORD_ENV.into(),
            value_from: arn(&name),
        });
    }
    for (var, name) in &inputs.catalog_secrets {
        secret_env.push(SecretEnv {
            name: var.clone(),
            value_from: arn(name),
        });
    }

    // Rendered catalog files, shared by both roles.
    let mut catalog_files = Vec::new();
    for (catalog, text) in &inputs.catalog_files {
        let name = file_parameter(
            &format!("{rendered}/catalog"),
            &format!("{catalog}.properties"),
            text,
        );
        parameters.insert(
            name.clone(),
            ParamSpec {
                name: name.clone(),
                value: ParamValue::Text(text.clone()),
            },
        );
        // `TRINO_FILE_CATALOG_<NAME>_PROPERTIES`, not `TRINO_CATALOG_<NAME>`: the latter is the shape of the
        // catalogs' secret variables (`TRINO_CATALOG_<NAME>_<FIELD>`), so the file of a catalog `orders_password`
        // would have taken the name of the password of a catalog `orders`.
        catalog_files.push((
            file_env("FILE", &format!("catalog/{catalog}.properties")),
            format!("{CATALOG_DIR}/{catalog}.properties"),
            name,
        ));
    }

    let launch = match c.launch_type {
        LaunchType::Fargate => "FARGATE",
        LaunchType::Ec2 => "EC2",
    };
    let log_group = c
        .log_group
        .clone()
        .unwrap_or_else(|| format!("/ecs/{}", c.name));
    let mut task_defs = BTreeMap::new();
    let mut restart_specs = BTreeMap::new();
    let mut services = Vec::new();
    for role in [Role::Coordinator, Role::Worker] {
        let mut files = Vec::new();
        for (file, text) in render::render_node(config, role, version) {
            let name = file_parameter(&format!("{rendered}/{}", role.as_str()), &file, &text);
            parameters.insert(
                name.clone(),
                ParamSpec {
                    name: name.clone(),
                    value: ParamValue::Text(text),
                },
            );
            files.push((
                file_env("FILE", &file),
                format!("{CONFIG_DIR}/{file}"),
                name,
            ));
        }
        let restart_files = files.clone();
        // With dynamic catalog management a worker gets each catalog's properties from the coordinator with
        // its tasks (WorkerDynamicCatalogManager): only the coordinator's catalog store reads files, so a
        // catalog change touches the coordinator alone.
        if role == Role::Coordinator || c.catalog_management == CatalogManagement::Static {
            files.extend(catalog_files.iter().cloned());
        }
        let secrets_for = |files: &[(String, String, String)]| {
            let mut secrets = secret_env.clone();
            if role == Role::Coordinator {
                secrets.extend(coordinator_only.iter().cloned());
            }
            secrets.extend(files.iter().map(|(var, _, name)| SecretEnv {
                name: var.clone(),
                value_from: arn(name),
            }));
            secrets.sort_by(|a, b| a.name.cmp(&b.name));
            secrets
        };
        let secrets = secrets_for(&files);
        let size = match role {
            Role::Coordinator => c.coordinator,
            Role::Worker => crate::config::NodeSize {
                cpu: c.workers.cpu,
                memory: c.workers.memory,
            },
        };
        let family = format!("{}-{}", c.name, role.as_str());
        // Trino drains itself only through `scale`; SIGTERM gives it what Fargate allows to exit cleanly.
        let stop_timeout = match c.launch_type {
            LaunchType::Fargate => 120,
            LaunchType::Ec2 => (2 * c.shutdown_grace_period_seconds).max(120),
        };
        let spec = TaskDefSpec {
            family: family.clone(),
            role,
            cpu: size.cpu,
            memory: size.memory,
            network_mode: "awsvpc",
            requires_compatibilities: launch,
            execution_role_arn: execution_role.clone(),
            task_role_arn: c.task_role_arn.clone(),
            container: ContainerSpec {
                name: "trino".into(),
                image: c.image.clone(),
                command: vec!["sh".into(), "-c".into(), entry_script(&files)],
                secrets,
                port: HTTP_PORT,
                port_name: PORT_NAME,
                health_check: vec!["CMD-SHELL".into(), "/usr/lib/trino/bin/health-check".into()],
                stop_timeout,
                log_group: log_group.clone(),
                log_region: region.clone(),
                log_stream_prefix: role.as_str().into(),
            },
        };
        let mut restart = spec.clone();
        restart.container.command = vec!["sh".into(), "-c".into(), entry_script(&restart_files)];
        restart.container.secrets = secrets_for(&restart_files);
        restart_specs.insert(family.clone(), restart);
        task_defs.insert(family.clone(), spec);
        let server = (role == Role::Coordinator).then(|| ServiceConnectServer {
            port_name: PORT_NAME,
            discovery_name: render::coordinator_alias(config),
            dns_name: render::coordinator_alias(config),
            port: HTTP_PORT,
        });
        let (min_healthy, max_percent, count) = match role {
            // Never two coordinators behind one alias: stop the old before starting the new.
            Role::Coordinator => (0, 100, 1),
            Role::Worker => (100, 200, config.initial_workers()),
        };
        services.push(ServiceSpec {
            name: family.clone(),
            role,
            task_family: family,
            initial_count: count,
            launch_type: launch,
            subnets: c.subnets.clone(),
            security_groups: c.security_groups.clone(),
            assign_public_ip: c.assign_public_ip,
            minimum_healthy_percent: min_healthy,
            maximum_percent: max_percent,
            circuit_breaker_rollback: true,
            health_check_grace_seconds: 180,
            service_connect: ServiceConnectSpec {
                namespace: c.name.clone(),
                server,
            },
        });
    }

    let w = &c.workers;
    let worker_service = format!("{}-worker", c.name);
    let scaling = ScalingSpec {
        resource_id: format!("service/{}/{worker_service}", c.name),
        min: crate::error::api_count("cluster.workers.min", w.min)?,
        max: crate::error::api_count("cluster.workers.max", w.max)?,
        cpu_policy: PolicySpec::TargetTracking {
            name: format!("{}-workers-cpu", c.name),
            metric: "ECSServiceAverageCPUUtilization".into(),
            target: f64::from(w.target_cpu_percent),
            // Slow scale-in: each removal without a drain may kill queries (see drain module docs).
            scale_in_cooldown: 600,
            scale_out_cooldown: 60,
        },
        queue_policy: PolicySpec::Step {
            name: format!("{}-workers-queue", c.name),
            cooldown: 120,
            steps: vec![
                (Some(0.0), Some(f64::from(w.queued_queries_per_worker)), 1),
                (Some(f64::from(w.queued_queries_per_worker)), None, 2),
            ],
        },
        queue_alarm: AlarmSpec {
            name: format!("{}-workers-queued-queries", c.name),
            namespace: METRIC_NAMESPACE.into(),
            metric: QUEUED_METRIC.into(),
            cluster: c.name.clone(),
            period: 60,
            evaluation_periods: 2,
            threshold: f64::from(w.queued_queries_per_worker),
        },
    };

    for (name, spec) in &parameters {
        let bytes = match &spec.value {
            ParamValue::Text(text) => text.len(),
            ParamValue::Secret(secret) => secret.expose().len(),
            ParamValue::Generated => continue,
        };
        if Tier::for_size(bytes).is_none() {
            return Err(Error::ParameterTooLarge {
                parameter: name.clone(),
                bytes,
                limit: trino_catalogs::store::ADVANCED_LIMIT,
                hint: if name.contains("/catalog/") {
                    ": move large values (keys, certificates) into secret references"
                } else {
                    ""
                },
            });
        }
    }

    Ok(Desired {
        cluster: c.name.clone(),
        region,
        managed_paths: vec![rendered.clone(), secrets],
        parameters,
        lock_parameter: format!("{base}/deploy-lock"),
        namespace: c.name.clone(),
        task_defs,
        services,
        scaling,
        retained_revisions: c.retained_revisions as usize,
        catalog_secret_digests: inputs
            .catalog_secret_values
            .iter()
            .map(|(name, value)| {
                (
                    name.clone(),
                    Sha256::digest(value.expose().as_bytes()).to_vec(),
                )
            })
            .collect(),
        live_catalogs: c.catalog_management == CatalogManagement::Dynamic,
        catalog_dir: format!("{rendered}/catalog"),
        restart_specs,
    })
}

fn env_value(inputs: &DeployInputs, var: &str, field: &str) -> Result<SecretString> {
    inputs
        .env
        .get(var)
        .cloned()
        .ok_or_else(|| Error::MissingEnv {
            var: var.into(),
            field: field.into(),
        })
}

/// `TRINO_FILE_CONFIG_PROPERTIES` style variable names for injected files (`catalog/x.properties` gives
/// `TRINO_FILE_CATALOG_X_PROPERTIES`).
fn file_env(kind: &str, file: &str) -> String {
    let upper: String = file
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("TRINO_{kind}_{upper}")
}

/// The image's entrypoint, which the container command execs once the files are written.
pub const RUN_TRINO: &str = "/usr/lib/trino/bin/run-trino";

/// The part of the container command that gives the node its `node.id`: the task's hostname up to its first
/// dot, every character outside `[A-Za-z0-9_-]` turned into `_`, appended to `node.properties`.
///
/// Why the command does it, not the image: `run-trino` adds `-Dnode.id=$HOSTNAME`, and on Fargate (awsvpc)
/// the hostname is the task's private DNS name, `ip-10-0-1-23.ec2.internal`, which airlift refuses ("Invalid
/// configuration property node.id: should match [A-Za-z0-9][_A-Za-z0-9-]*", seen on a real 476). The first
/// label, `ip-10-0-1-23`, is the task's private IP: unique in the VPC while the task runs and stable for its
/// whole life, which is what Trino wants of a node id. With `node.id` in the file, `run-trino` adds nothing.
/// `HOSTNAME` is read from the kernel when the variable is missing, and a hostname that yields no valid id
/// stops the container with a message instead of starting a node Trino would refuse. The id goes on a line
/// of its own even if the injected file lost its final newline on the way through SSM.
pub fn node_id_script() -> String {
    format!(
        "host=${{HOSTNAME:-$(cat /proc/sys/kernel/hostname)}}; \
         node_id=$(printf '%s' \"${{host%%.*}}\" | LC_ALL=C tr -c 'A-Za-z0-9_-' '_'); \
         case $node_id in [A-Za-z0-9]*) ;; \
         *) echo \"cannot make a Trino node.id of the hostname '$host'\" >&2; exit 1;; esac; \
         printf '\\nnode.id=%s\\n' \"$node_id\" >> {CONFIG_DIR}/node.properties"
    )
}

/// The container command: write each injected variable to its file, give the node its id
/// ([`node_id_script`]), then exec the image's entrypoint ([`RUN_TRINO`]).
fn entry_script(files: &[(String, String, String)]) -> String {
    let mut script = format!("set -eu; mkdir -p {CATALOG_DIR}");
    for (var, path, _) in files {
        script.push_str(&format!("; printf '%s' \"${var}\" > {path}"));
    }
    script.push_str("; ");
    script.push_str(&node_id_script());
    script.push_str(&format!("; exec {RUN_TRINO}"));
    script
}

/// The parameter of one rendered file: `<dir>/<digest>/<file>`, the digest of its content in the name, so a
/// parameter never changes once written and each task-definition revision keeps the files it was registered
/// with (ECS injects an SSM parameter's latest value and cannot pin a version; see containers-roadmap#636).
/// A changed file is a new parameter, hence a new revision; the old one stays while a retained revision
/// references it (see [`crate::plan`]).
pub fn file_parameter(dir: &str, file: &str, text: &str) -> String {
    format!("{dir}/{}/{file}", hex16(&Sha256::digest(text.as_bytes())))
}

/// The file a [`file_parameter`] name stands for, without its digest (`<dir>/<file>`), to pair a changed
/// file with the one it replaces; `None` for other names.
pub fn file_of_parameter(name: &str) -> Option<String> {
    let (rest, file) = name.rsplit_once('/')?;
    let (dir, digest) = rest.rsplit_once('/')?;
    (digest.len() == 16 && digest.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("{dir}/{file}"))
}

/// A short stable content hash (hex SHA-256 prefix) of any serialisable value.
pub fn content_hash<T: Serialize>(value: &T) -> String {
    let json = serde_json::to_vec(value).expect("model values serialise");
    hex16(&Sha256::digest(&json))
}

fn hex16(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

impl Desired {
    /// The hash tag of a task definition.
    pub fn task_def_hash(&self, family: &str) -> String {
        content_hash(&self.task_defs[family])
    }

    /// The hash tag of a service: its spec, its task definition, and the values of every parameter its tasks
    /// read at start (a changed file or secret needs a new deployment even when the task definition did not
    /// change, because ECS injects parameter values only when a task starts).
    pub fn service_hash(&self, service: &ServiceSpec) -> String {
        let task = &self.task_defs[&service.task_family];
        let mut hasher = Sha256::new();
        hasher.update(self.spec_hash(service));
        hasher.update(self.task_def_hash(&service.task_family));
        self.hash_reads(&mut hasher, &task.container.secrets);
        hex16(&hasher.finalize())
    }

    /// The [`SPEC_TAG`] of a service: its own settings. The initial count is left out: it is used only when
    /// the service is created (autoscaling owns the count afterwards), so changing `workers.desired` must not
    /// roll every worker.
    pub fn spec_hash(&self, service: &ServiceSpec) -> String {
        content_hash(&ServiceSpec {
            initial_count: 0,
            ..service.clone()
        })
    }

    /// The [`RESTART_TAG`] of a family's revision: its task definition without the catalog files, and the
    /// values of every other parameter it reads. Two revisions with the same restart hash differ in catalog
    /// files only, which dynamic catalog management changes on a running coordinator.
    pub fn restart_hash(&self, family: &str) -> String {
        let spec = &self.restart_specs[family];
        let mut hasher = Sha256::new();
        hasher.update(content_hash(spec));
        self.hash_reads(&mut hasher, &spec.container.secrets);
        hex16(&hasher.finalize())
    }

    /// Catalog `name` of a parameter holding a catalog file (`<catalog_dir>/<digest>/<name>.properties`).
    pub fn catalog_of_parameter<'a>(&self, parameter: &'a str) -> Option<&'a str> {
        let rest = parameter
            .strip_prefix(&self.catalog_dir)?
            .strip_prefix('/')?;
        let (_, file) = rest.split_once('/')?;
        file.strip_suffix(".properties")
    }

    /// The catalog files a family's desired revision reads: catalog name -> `.properties` text.
    pub fn catalog_files(&self, family: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for secret in &self.task_defs[family].container.secrets {
            if let Some(param) = self
                .parameters
                .values()
                .find(|p| secret.value_from.ends_with(&p.name))
                && let (Some(name), ParamValue::Text(text)) =
                    (self.catalog_of_parameter(&param.name), &param.value)
            {
                out.insert(name.to_owned(), text.clone());
            }
        }
        out
    }

    /// Hashes the value of each parameter `secrets` inject (secrets by digest only).
    fn hash_reads(&self, hasher: &mut Sha256, secrets: &[SecretEnv]) {
        for secret in secrets {
            hasher.update(secret.value_from.as_bytes());
            if let Some(param) = self
                .parameters
                .values()
                .find(|p| secret.value_from.ends_with(&p.name))
            {
                match &param.value {
                    ParamValue::Text(text) => hasher.update(text.as_bytes()),
                    ParamValue::Secret(value) => {
                        hasher.update(Sha256::digest(value.expose().as_bytes()))
                    }
                    ParamValue::Generated => hasher.update(b"generated"),
                }
            } else if let Some(digest) = self
                .catalog_secret_digests
                .iter()
                .find(|(name, _)| secret.value_from.ends_with(name.as_str()))
                .map(|(_, digest)| digest)
            {
                hasher.update(digest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn local() -> LakeConfig {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/local.toml");
        LakeConfig::load(&path).expect("examples/local.toml is valid")
    }

    pub(crate) fn inputs() -> DeployInputs {
        DeployInputs {
            catalog_files: BTreeMap::from([
                (
                    "sales".into(),
                    "connector.name=mysql\nconnection-password=${ENV:SALES_PASSWORD}\n".into(),
                ),
                ("lake".into(), "connector.name=iceberg\n".into()),
            ]),
            catalog_secrets: BTreeMap::from([(
                "SALES_PASSWORD".into(),
                "/trino/lake-local/catalogs/sales/secrets/password".into(),
            )]),
            env: BTreeMap::new(),
            catalog_secret_values: BTreeMap::new(),
        }
    }

    #[test]
    fn event_log_password_is_stored_encoded_for_the_listener_url() {
        let mut config = local();
        config.event_log.as_mut().unwrap().password = Some(SecretRef::Env("EVENT_PW".into()));
        let mut inputs = inputs();
        inputs.env.insert(
            "EVENT_PW".into(),
            SecretString::new("p&ss w#%+=".to_owned()),
        );
        let d = desired(&config, &inputs).unwrap();
        let param = &d.parameters["/trino/lake-local/secrets/event-log-password"];
        match &param.value {
            ParamValue::Secret(v) => assert_eq!(v.expose(), "p%26ss%20w%23%25%2B%3D"),
            other => panic!("not a secret: {other:?}"),
        }
    }

    #[test]
    fn task_definitions_snapshot() {
        let d = desired(&local(), &inputs()).unwrap();
        insta::assert_json_snapshot!(
            "coordinator_task_definition",
            d.task_defs["lake-local-coordinator"]
        );
        insta::assert_json_snapshot!("worker_task_definition", d.task_defs["lake-local-worker"]);
        insta::assert_json_snapshot!("services", d.services);
        insta::assert_json_snapshot!("scaling", d.scaling);
    }

    #[test]
    fn every_secret_is_an_ssm_arn_and_no_value_is_inline() {
        let d = desired(&local(), &inputs()).unwrap();
        for td in d.task_defs.values() {
            let json = serde_json::to_string(td).unwrap();
            assert!(
                !json.contains("connector.name"),
                "file contents must not be inline"
            );
            for s in &td.container.secrets {
                assert!(
                    s.value_from
                        .starts_with("arn:aws:ssm:us-east-1:123456789012:parameter/trino/"),
                    "{s:?}"
                );
            }
            assert!(
                td.container
                    .secrets
                    .iter()
                    .any(|s| s.name == "SALES_PASSWORD")
            );
            assert!(
                td.container
                    .secrets
                    .iter()
                    .any(|s| s.name == SHARED_SECRET_ENV)
            );
        }
        assert_eq!(
            d.parameters["/trino/lake-local/secrets/shared-secret"].value,
            ParamValue::Generated
        );
    }

    #[test]
    fn env_secret_must_be_provided_and_never_prints() {
        let mut config = local();
        config.cluster.shared_secret = Some(SecretRef::Env("LAKE_SECRET".into()));
        let err = desired(&config, &inputs()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable LAKE_SECRET is not set (named by `cluster.shared_secret`)"
        );
        let mut inputs = inputs();
        inputs
            .env
            .insert("LAKE_SECRET".into(), SecretString::new("hunter2"));
        let d = desired(&config, &inputs).unwrap();
        assert!(!format!("{d:?}").contains("hunter2"));
    }

    #[test]
    fn missing_execution_role_is_a_config_error() {
        let mut config = local();
        config.cluster.execution_role_arn = None;
        let err = desired(&config, &inputs()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid config `cluster.execution_role_arn`"),
            "{err}"
        );
    }

    /// Runs the container command as ECS would, with the image's paths moved into a temporary directory and
    /// the final `exec` replaced, and returns the `node.properties` it leaves (or the shell's stderr).
    #[cfg(unix)]
    fn run_container_command(hostname: Option<&str>) -> std::result::Result<String, String> {
        let d = desired(&local(), &inputs()).unwrap();
        let container = &d.task_defs["lake-local-worker"].container;
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        let script = container.command[2]
            .replace(CONFIG_DIR, etc.to_str().unwrap())
            .replace(&format!("exec {RUN_TRINO}"), "exec true");
        let mut command = std::process::Command::new("sh");
        command.arg("-c").arg(&script).env_remove("HOSTNAME");
        if let Some(hostname) = hostname {
            command.env("HOSTNAME", hostname);
        }
        // ECS injects each file's parameter as a variable; the shared secret is not read by the script.
        for secret in &container.secrets {
            let text = d
                .parameters
                .values()
                .find(|p| secret.value_from.ends_with(&p.name))
                .and_then(|p| match &p.value {
                    ParamValue::Text(text) => Some(text.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            command.env(&secret.name, text);
        }
        let out = command.output().unwrap();
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(std::fs::read_to_string(etc.join("node.properties")).unwrap())
    }

    /// airlift's rule for `node.id`.
    fn is_airlift_node_id(id: &str) -> bool {
        let mut chars = id.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }

    /// A Fargate task's hostname (`ip-10-0-1-23.ec2.internal`) is not a valid airlift node id; the container
    /// command appends its first label, so `run-trino` adds no `-Dnode.id` of its own.
    #[cfg(unix)]
    #[test]
    fn container_command_gives_every_task_a_valid_node_id() {
        let rendered = render::render_node(
            &local(),
            Role::Worker,
            local().trino_version().unwrap(),
        )["node.properties"]
            .clone();
        for (hostname, id) in [
            ("ip-10-0-1-23.ec2.internal", "ip-10-0-1-23"),
            ("ip-10-0-1-23.eu-west-1.compute.internal", "ip-10-0-1-23"),
            ("3f1c2a9b8d7e", "3f1c2a9b8d7e"),
            ("odd:host name.example", "odd_host_name"),
        ] {
            let text = run_container_command(Some(hostname)).unwrap();
            assert_eq!(text, format!("{rendered}\nnode.id={id}\n"), "{hostname}");
            assert!(is_airlift_node_id(id));
        }
        // Without HOSTNAME the kernel's hostname is used.
        let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        let label = kernel.trim().split('.').next().unwrap().to_owned();
        let text = run_container_command(None).unwrap();
        assert!(
            text.ends_with(&format!("\nnode.id={label}\n")) || !is_airlift_node_id(&label),
            "{text}"
        );
        // A hostname that yields no valid id stops the container instead of starting a node Trino refuses.
        let err = run_container_command(Some("-x.example")).unwrap_err();
        assert!(
            err.contains("cannot make a Trino node.id of the hostname '-x.example'"),
            "{err}"
        );
    }

    /// No two injected values share a variable, even when a catalog's name ends like another catalog's secret
    /// field (`orders_password` and the password of `orders`).
    #[test]
    fn injected_variable_names_are_unique() {
        let mut inputs = inputs();
        inputs
            .catalog_files
            .insert("sales_password".into(), "connector.name=memory\n".into());
        inputs.catalog_secrets.insert(
            "TRINO_CATALOG_SALES_PASSWORD".into(),
            "/trino/lake-local/catalogs/sales/secrets/password".into(),
        );
        let d = desired(&local(), &inputs).unwrap();
        for td in d.task_defs.values() {
            let names: Vec<&str> = td
                .container
                .secrets
                .iter()
                .map(|s| s.name.as_str())
                .collect();
            let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
            assert_eq!(names.len(), unique.len(), "{names:?}");
            // With dynamic catalog management only the coordinator reads catalog files.
            assert_eq!(
                names.contains(&"TRINO_FILE_CATALOG_SALES_PASSWORD_PROPERTIES"),
                td.role == Role::Coordinator,
                "{names:?}"
            );
        }
    }

    #[test]
    fn unsupported_or_unknown_release_is_a_config_error() {
        let mut config = local();
        config.cluster.image = "trinodb/trino:475".into();
        let err = desired(&config, &inputs()).unwrap_err().to_string();
        assert!(err.starts_with("invalid config `cluster.image`"), "{err}");
        assert!(err.contains("\"trinodb/trino:475\" is Trino 475"), "{err}");
    }

    #[test]
    fn a_changed_file_is_a_new_parameter_and_a_new_task_definition_the_old_one_kept_apart() {
        let a = desired(&local(), &inputs()).unwrap();
        let mut changed = inputs();
        changed.catalog_files.insert(
            "lake".into(),
            "connector.name=iceberg\niceberg.file-format=ORC\n".into(),
        );
        let b = desired(&local(), &changed).unwrap();
        assert_ne!(
            a.task_def_hash("lake-local-coordinator"),
            b.task_def_hash("lake-local-coordinator")
        );
        assert_eq!(
            a.task_def_hash("lake-local-worker"),
            b.task_def_hash("lake-local-worker"),
            "with dynamic catalog management a worker gets catalogs from the coordinator, not from files"
        );
        assert_eq!(
            a.restart_hash("lake-local-coordinator"),
            b.restart_hash("lake-local-coordinator"),
            "only catalog files differ"
        );
        let files = |d: &Desired| -> Vec<String> {
            d.parameters
                .keys()
                .filter(|n| n.ends_with("/lake.properties"))
                .cloned()
                .collect()
        };
        let (old, new) = (files(&a), files(&b));
        assert_eq!((old.len(), new.len()), (1, 1));
        assert_ne!(
            old, new,
            "a new name: the old revision keeps reading the old file"
        );
        assert_eq!(file_of_parameter(&old[0]), file_of_parameter(&new[0]));
        assert_eq!(
            file_of_parameter(&new[0]).as_deref(),
            Some("/trino/lake-local/rendered/catalog/lake.properties")
        );
        // Every other file kept its name (same content, same digest).
        let same: Vec<&String> = a
            .parameters
            .keys()
            .filter(|n| b.parameters.contains_key(*n))
            .collect();
        assert_eq!(same.len(), a.parameters.len() - 1);
    }

    #[test]
    fn file_parameters_are_named_by_their_content() {
        let name = file_parameter("/p/rendered/coordinator", "config.properties", "a=1\n");
        assert!(name.starts_with("/p/rendered/coordinator/"), "{name}");
        assert!(name.ends_with("/config.properties"), "{name}");
        assert_eq!(
            name,
            file_parameter("/p/rendered/coordinator", "config.properties", "a=1\n")
        );
        assert_ne!(
            name,
            file_parameter("/p/rendered/coordinator", "config.properties", "a=2\n")
        );
        assert_eq!(
            file_of_parameter(&name).as_deref(),
            Some("/p/rendered/coordinator/config.properties")
        );
        assert_eq!(
            file_of_parameter("/p/rendered/coordinator/config.properties"),
            None
        );
        assert_eq!(file_of_parameter("/p/secrets/shared-secret"), None);
    }
}
