//! The lake config file: one TOML file describing the AWS target, the cluster, catalogs, the lake bucket and
//! the event log. Parsed into typed structs and validated once; every error names the file, line, column and
//! the offending key and value.
//!
//! This module does no IO except [`LakeConfig::load`], which reads the file.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use trino_catalogs::validate::{
    check_bucket, is_catalog_name, is_region, parse_s3_uri, redact_url_credentials, url_credentials,
};
use trino_catalogs::{CatalogSpec, SecretRef, TrinoVersion};

/// A validated lake config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LakeConfig {
    /// Where AWS is: region, endpoint (the emulator) and retries.
    pub aws: AwsConfig,
    /// The Trino cluster on ECS.
    pub cluster: ClusterConfig,
    /// Where the catalogs and rendered files live in SSM Parameter Store.
    #[serde(default)]
    pub parameters: ParametersConfig,
    /// Catalogs declared in the file, by name; `deploy` publishes them to the store.
    #[serde(default)]
    pub catalogs: BTreeMap<String, CatalogSpec>,
    /// The lake bucket and its lifecycle policy.
    #[serde(default)]
    pub lake: Option<LakeBucketConfig>,
    /// The MySQL/Aurora database Trino's event listener writes to.
    #[serde(default)]
    pub event_log: Option<EventLogConfig>,
    /// The file this config was read from (set by [`LakeConfig::load`]).
    #[serde(skip)]
    pub source: PathBuf,
}

/// Where AWS is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    /// The region, e.g. `eu-west-1`.
    pub region: String,
    /// An endpoint that replaces AWS, e.g. the local emulator `http://127.0.0.1:4566`. Absent: real AWS.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// A named profile from the shared AWS config files.
    #[serde(default)]
    pub profile: Option<String>,
    /// Attempts per AWS call in the SDK's standard retry mode.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
}

fn default_max_attempts() -> u32 {
    5
}

/// The ECS launch type of the tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum LaunchType {
    /// Serverless tasks; CPU/memory must be one of Fargate's combinations.
    #[serde(rename = "FARGATE")]
    Fargate,
    /// Tasks on the cluster's EC2 container instances.
    #[serde(rename = "EC2")]
    Ec2,
}

/// How Trino manages catalogs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatalogManagement {
    /// Catalog files are read at start; a change rolls the services.
    #[default]
    Static,
    /// `CREATE CATALOG` / `DROP CATALOG` work on the running cluster (`catalog.management=dynamic`).
    Dynamic,
}

/// The Trino cluster.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// The ECS cluster name; also names services, task families and parameter paths.
    pub name: String,
    /// Trino's `node.environment`, `[a-z0-9][_a-z0-9]*` (airlift refuses anything else, `-` included);
    /// defaults to the cluster name with every other character replaced by `_` (see
    /// [`LakeConfig::environment`]).
    #[serde(default)]
    pub environment: Option<String>,
    /// The container image, `trinodb/trino:<version>` or a mirror of it, with an explicit tag or digest. The
    /// Trino release is read from the tag (see [`image_tag_version`]) unless `trino_version` says it.
    pub image: String,
    /// The Trino release the image runs, for an image whose tag does not say it: a mirror tagged `prod`, or a
    /// reference pinned by digest only. When the tag names a release too, both must agree.
    #[serde(default)]
    pub trino_version: Option<u32>,
    /// `FARGATE` or `EC2`.
    pub launch_type: LaunchType,
    /// Subnets of the tasks (awsvpc networking).
    #[serde(default)]
    pub subnets: Vec<String>,
    /// Security groups of the tasks; they must allow port 8080 between tasks.
    #[serde(default)]
    pub security_groups: Vec<String>,
    /// Give tasks a public IP (public subnets without a NAT gateway).
    #[serde(default)]
    pub assign_public_ip: bool,
    /// The task execution role (pulls the image, reads the SSM parameters).
    #[serde(default)]
    pub execution_role_arn: Option<String>,
    /// The role the Trino process runs with (Glue, S3).
    #[serde(default)]
    pub task_role_arn: Option<String>,
    /// The CloudWatch Logs group; defaults to `/ecs/<cluster name>`.
    #[serde(default)]
    pub log_group: Option<String>,
    /// Static catalog files or dynamic catalog management.
    #[serde(default)]
    pub catalog_management: CatalogManagement,
    /// Trino's `shutdown.grace-period` in seconds, used when draining workers.
    #[serde(default = "default_grace_period")]
    pub shutdown_grace_period_seconds: u32,
    /// The shared secret of internal communication; generated and kept in SSM when absent.
    #[serde(default)]
    pub shared_secret: Option<SecretRef>,
    /// The coordinator task's size.
    pub coordinator: NodeSize,
    /// The workers' size and scaling bounds.
    pub workers: WorkerConfig,
    /// How many task-definition revisions of each family stay registered (the newest ones, the one a
    /// service runs or still drains always among them): older ones are deregistered once no service
    /// deployment uses them. 1 to [`MAX_RETAINED_REVISIONS`]; default 3.
    #[serde(default = "default_retained_revisions")]
    pub retained_revisions: u32,
}

fn default_grace_period() -> u32 {
    120
}

fn default_retained_revisions() -> u32 {
    3
}

/// The most task-definition revisions of one family `cluster.retained_revisions` may keep.
pub const MAX_RETAINED_REVISIONS: u32 = 100;

/// A task's CPU units (1024 = one vCPU) and memory in MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSize {
    /// CPU units.
    pub cpu: u32,
    /// Memory in MiB.
    pub memory: u32,
}

/// Workers: size, scaling bounds and the autoscaling targets.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    /// CPU units per worker.
    pub cpu: u32,
    /// Memory in MiB per worker.
    pub memory: u32,
    /// The fewest workers autoscaling keeps.
    pub min: u32,
    /// The most workers autoscaling starts.
    pub max: u32,
    /// The count at first deploy; defaults to `min`.
    #[serde(default)]
    pub desired: Option<u32>,
    /// Target average CPU utilisation (percent) for target tracking.
    #[serde(default = "default_target_cpu")]
    pub target_cpu_percent: u32,
    /// Queued queries per worker above which the step policy adds workers.
    #[serde(default = "default_queued_per_worker")]
    pub queued_queries_per_worker: u32,
}

fn default_target_cpu() -> u32 {
    60
}

fn default_queued_per_worker() -> u32 {
    5
}

/// Where the catalogs and rendered files live in Parameter Store.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParametersConfig {
    /// The path prefix, e.g. `/trino`; parameters live under `<prefix>/<cluster>/...`.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// The KMS key of SecureString parameters; absent: the account's `aws/ssm` key.
    #[serde(default)]
    pub kms_key_id: Option<String>,
}

fn default_prefix() -> String {
    "/trino".to_owned()
}

impl Default for ParametersConfig {
    fn default() -> Self {
        Self {
            prefix: default_prefix(),
            kms_key_id: None,
        }
    }
}

/// The lake bucket.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LakeBucketConfig {
    /// The S3 bucket holding the Iceberg warehouse.
    pub bucket: String,
    /// The warehouse prefix inside the bucket.
    #[serde(default = "default_warehouse_prefix")]
    pub warehouse_prefix: String,
    /// The lifecycle policy file (relative paths are relative to this config file).
    #[serde(default)]
    pub lifecycle_policy: Option<PathBuf>,
    /// Where the bucket's server access logs are delivered, `s3://bucket/prefix`.
    #[serde(default)]
    pub access_logs: Option<String>,
    /// Where the bucket's S3 Inventory reports are delivered, `s3://bucket/prefix`.
    #[serde(default)]
    pub inventory: Option<String>,
}

fn default_warehouse_prefix() -> String {
    "warehouse/".to_owned()
}

/// The event-log database.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventLogConfig {
    /// `jdbc:mysql://host:3306/database` (as Trino's listener wants it) or `mysql://host:3306/database`,
    /// optionally with driver options (`?useSSL=true`). It must not carry credentials (`user:pass@`, `user=`,
    /// `password=`): it is kept in a plain `String` parameter and in rendered files. Use `user` and `password`.
    pub url: String,
    /// The database user.
    pub user: String,
    /// The user's password.
    ///
    /// Trino 480's MySQL event listener has no password property, only the JDBC URL, so the rendered URL ends
    /// in `&password=${ENV:TRINO_EVENT_LOG_PASSWORD}` and Trino splices the injected value in verbatim;
    /// Connector/J then URL-decodes it. The SecureString behind that variable must therefore hold the
    /// password percent-encoded ([`crate::render::encode_jdbc_query_value`]): a `{ parameter = ... }` you
    /// manage must be stored that way (passwords of only letters, digits and `-._~` read the same either
    /// way). `xtask events` connects with its own driver and takes the plain
    /// password.
    #[serde(default)]
    pub password: Option<SecretRef>,
}

/// A problem found in a config file, located at a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, 0 when the position is unknown.
    pub line: usize,
    /// 1-based column, 0 when the position is unknown.
    pub column: usize,
    /// The dotted key path, e.g. `cluster.workers.min`.
    pub key: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "`{}`: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

/// Why a config file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid: one or more issues, each located.
    #[error("{}", issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// Every issue found.
        issues: Vec<ConfigIssue>,
    },
}

impl LakeConfig {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let config = Self::parse(path, &text)?;
        // The one check that reads the disk besides the config itself: a policy file named but absent would
        // fail only at `lifecycle apply`, long after `check` said the config is fine.
        if let Some(policy) = config.lifecycle_policy_path()
            && !policy.is_file()
        {
            let locator = Locator::new(path, &text);
            return Err(ConfigError::Invalid {
                issues: vec![locator.at_key(
                    "lake.lifecycle_policy",
                    format!(
                        "{} does not exist (relative paths are resolved from the config's directory)",
                        policy.display()
                    ),
                )],
            });
        }
        Ok(config)
    }

    /// Parses and validates config text; `path` is only used in messages and to resolve relative paths.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let locator = Locator::new(path, text);
        let mut config: LakeConfig =
            toml::from_str(text).map_err(|error| ConfigError::Invalid {
                issues: vec![locator.issue_of_toml_error(&error)],
            })?;
        config.source = path.to_owned();
        let problems = config.problems();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid {
                issues: problems
                    .into_iter()
                    .map(|(key, message)| locator.at_key(&key, message))
                    .collect(),
            })
        }
    }

    /// Trino's `node.environment`: `cluster.environment`, or else the cluster name made valid for airlift's
    /// `[a-z0-9][_a-z0-9]*` ([`environment_from_name`]: `lake-local` becomes `lake_local`).
    pub fn environment(&self) -> String {
        match &self.cluster.environment {
            Some(environment) => environment.clone(),
            None => environment_from_name(&self.cluster.name),
        }
    }

    /// The Trino release the cluster runs: `cluster.trino_version`, or else the one the image tag names.
    ///
    /// On failure: the dotted key to blame and a message naming the value. [`LakeConfig::parse`] reports the
    /// same problem, so a loaded config always has a version; a config changed in code may not.
    pub fn trino_version(&self) -> Result<TrinoVersion, (&'static str, String)> {
        let c = &self.cluster;
        let from_tag = image_tag_version(&c.image);
        let (key, version) = match (c.trino_version, from_tag) {
            (Some(given), Some(tagged)) if given != tagged => {
                return Err((
                    "cluster.trino_version",
                    format!(
                        "{given} disagrees with cluster.image {:?}, whose tag names Trino {tagged}; \
                         remove trino_version or make them agree",
                        c.image
                    ),
                ));
            }
            (Some(given), _) => ("cluster.trino_version", given),
            (None, Some(tagged)) => ("cluster.image", tagged),
            (None, None) => {
                return Err((
                    "cluster.image",
                    format!(
                        "{:?} names no Trino release in its tag (a mirror tagged by name, or a reference \
                         pinned by digest only): set cluster.trino_version to the release it runs, e.g. {}",
                        c.image,
                        TrinoVersion::OLDEST_SUPPORTED
                    ),
                ));
            }
        };
        let version = TrinoVersion(version);
        if !version.is_supported() {
            let what = if key == "cluster.image" {
                format!("{:?} is Trino {version}", c.image)
            } else {
                format!("{version}")
            };
            return Err((
                key,
                format!(
                    "{what}, a release trino-ecs-core cannot render configuration for: supported releases are \
                     {}..={} (docs/trino-versions.md lists what differs between them)",
                    TrinoVersion::OLDEST_SUPPORTED,
                    TrinoVersion::NEWEST_SUPPORTED
                ),
            ));
        }
        Ok(version)
    }

    /// The worker count at first deploy.
    pub fn initial_workers(&self) -> u32 {
        self.cluster
            .workers
            .desired
            .unwrap_or(self.cluster.workers.min)
    }

    /// Whether the config points at an emulator rather than real AWS.
    pub fn is_emulator(&self) -> bool {
        self.aws.endpoint_url.is_some()
    }

    /// The lifecycle policy path, resolved against the config file's directory.
    pub fn lifecycle_policy_path(&self) -> Option<PathBuf> {
        let policy = self.lake.as_ref()?.lifecycle_policy.as_ref()?;
        Some(
            self.source
                .parent()
                .map(|dir| dir.join(policy))
                .unwrap_or_else(|| policy.clone()),
        )
    }

    /// Every semantic problem as (dotted key, message). Pure: no IO.
    fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut bad = |key: &str, message: String| out.push((key.to_owned(), message));

        if !is_region(&self.aws.region) {
            bad(
                "aws.region",
                format!(
                    "{:?} is not an AWS region name (like \"eu-west-1\")",
                    self.aws.region
                ),
            );
        }
        if let Some(endpoint) = &self.aws.endpoint_url {
            match url::Url::parse(endpoint) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
                _ => bad(
                    "aws.endpoint_url",
                    format!("{endpoint:?} is not an http(s) URL"),
                ),
            }
        }
        if !(1..=20).contains(&self.aws.max_attempts) {
            bad(
                "aws.max_attempts",
                format!("{} is outside 1..=20", self.aws.max_attempts),
            );
        }

        let c = &self.cluster;
        if !is_name(&c.name, 32) {
            bad(
                "cluster.name",
                format!(
                    "{:?} must be 1-32 characters of lowercase letters, digits and '-', starting with a letter",
                    c.name
                ),
            );
        }
        if let Some(env) = &c.environment
            && !is_node_environment(env)
        {
            bad(
                "cluster.environment",
                format!(
                    "{env:?} is not a valid Trino node.environment: airlift accepts only [a-z0-9][_a-z0-9]* \
                     (lowercase letters, digits and '_', not starting with '_'), e.g. {:?}",
                    environment_from_name(env)
                ),
            );
        }
        if let Err(why) = check_image(&c.image) {
            bad("cluster.image", format!("{:?} {why}", c.image));
        } else if let Err((key, why)) = self.trino_version() {
            bad(key, why);
        }
        // Every task definition uses awsvpc networking whatever the launch type (workers announce their own IP
        // and nodes reach them directly), and an awsvpc service needs subnets on EC2 as on Fargate.
        if c.subnets.is_empty() {
            bad(
                "cluster.subnets",
                format!(
                    "[] (launch_type {}): tasks use awsvpc networking and need at least one subnet",
                    match c.launch_type {
                        LaunchType::Fargate => "FARGATE",
                        LaunchType::Ec2 => "EC2",
                    }
                ),
            );
        }
        // ECS accepts `assignPublicIp = ENABLED` only for Fargate tasks; on EC2 it rejects the service.
        if c.launch_type == LaunchType::Ec2 && c.assign_public_ip {
            bad(
                "cluster.assign_public_ip",
                "true is not allowed with launch_type EC2: ECS assigns public IPs only to FARGATE tasks; \
                 use private subnets with a NAT gateway (or FARGATE)"
                    .to_owned(),
            );
        }
        for (i, subnet) in c.subnets.iter().enumerate() {
            if !is_aws_id(subnet, "subnet-") {
                bad(
                    &format!("cluster.subnets[{i}]"),
                    format!("{subnet:?} is not a subnet id (subnet-0123abcd...)"),
                );
            }
        }
        for (i, group) in c.security_groups.iter().enumerate() {
            if !is_aws_id(group, "sg-") {
                bad(
                    &format!("cluster.security_groups[{i}]"),
                    format!("{group:?} is not a security group id (sg-0123abcd...)"),
                );
            }
        }
        for (key, arn) in [
            ("cluster.execution_role_arn", &c.execution_role_arn),
            ("cluster.task_role_arn", &c.task_role_arn),
        ] {
            if let Some(arn) = arn
                && !(arn.starts_with("arn:aws") && arn.contains(":iam::") && arn.contains(":role/"))
            {
                bad(
                    key,
                    format!("{arn:?} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)"),
                );
            }
        }
        if !(10..=3600).contains(&c.shutdown_grace_period_seconds) {
            bad(
                "cluster.shutdown_grace_period_seconds",
                format!("{} is outside 10..=3600", c.shutdown_grace_period_seconds),
            );
        }
        if !(1..=MAX_RETAINED_REVISIONS).contains(&c.retained_revisions) {
            bad(
                "cluster.retained_revisions",
                format!(
                    "{} is outside 1..={MAX_RETAINED_REVISIONS}",
                    c.retained_revisions
                ),
            );
        }
        let sizes = [
            (
                "cluster.coordinator",
                c.coordinator.cpu,
                c.coordinator.memory,
            ),
            ("cluster.workers", c.workers.cpu, c.workers.memory),
        ];
        for (key, cpu, memory) in sizes {
            if let Some(why) = check_size(c.launch_type, cpu, memory) {
                bad(&format!("{key}.{}", why.0), why.1);
            }
        }
        let w = &c.workers;
        if w.min > w.max {
            bad(
                "cluster.workers.min",
                format!(
                    "worker min ({}) must not exceed worker max ({})",
                    w.min, w.max
                ),
            );
        }
        if w.max == 0 {
            bad("cluster.workers.max", "must be at least 1".to_owned());
        }
        if w.min == 0 {
            bad(
                "cluster.workers.min",
                "0 workers can never scale up: the coordinator schedules no work \
                 (node-scheduler.include-coordinator=false), so with no worker every query fails, no worker \
                 CPU exists for target tracking to scale on and the queued-queries alarm sees nothing run; \
                 keep at least 1 (for a cheap idle cluster, min = 1 with a small worker size, or stop the \
                 whole cluster by scaling both services to 0 yourself)"
                    .to_owned(),
            );
        }
        if w.max > MAX_TASKS_PER_SERVICE {
            bad(
                "cluster.workers.max",
                format!(
                    "{} is above {MAX_TASKS_PER_SERVICE}, the ECS quota of tasks per service",
                    w.max
                ),
            );
        }
        if let Some(desired) = w.desired
            && (desired < w.min || desired > w.max)
        {
            bad(
                "cluster.workers.desired",
                format!(
                    "{desired} must lie within min..=max ({}..={})",
                    w.min, w.max
                ),
            );
        }
        if !(10..=95).contains(&w.target_cpu_percent) {
            bad(
                "cluster.workers.target_cpu_percent",
                format!("{} is outside 10..=95", w.target_cpu_percent),
            );
        }
        if w.queued_queries_per_worker == 0 {
            bad(
                "cluster.workers.queued_queries_per_worker",
                "must be at least 1".to_owned(),
            );
        }

        let p = &self.parameters;
        if !p.prefix.starts_with('/')
            || p.prefix.ends_with('/')
            || !p
                .prefix
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "/_.-".contains(ch))
        {
            bad(
                "parameters.prefix",
                format!(
                    "{:?} must start with '/', not end with '/', and use only letters, digits and / _ . -",
                    p.prefix
                ),
            );
        }

        let first_segment = p
            .prefix
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if first_segment.starts_with("aws") || first_segment.starts_with("ssm") {
            bad(
                "parameters.prefix",
                format!(
                    "{:?}: Parameter Store reserves names that begin with \"aws\" or \"ssm\" (any case); \
                     choose another first segment, e.g. /trino",
                    p.prefix
                ),
            );
        }
        let depth = p.prefix.split('/').filter(|s| !s.is_empty()).count();
        if depth > MAX_PREFIX_DEPTH || p.prefix.len() > MAX_PREFIX_LEN {
            bad(
                "parameters.prefix",
                format!(
                    "{:?} has {depth} levels and {} characters; the tool adds up to {} levels \
                     (<cluster>/catalogs/<name>/secrets/<field>) and Parameter Store allows 15 levels and \
                     1011 characters with the ARN: use at most {MAX_PREFIX_DEPTH} levels and \
                     {MAX_PREFIX_LEN} characters",
                    p.prefix,
                    p.prefix.len(),
                    15 - MAX_PREFIX_DEPTH
                ),
            );
        }
        let layout = trino_catalogs::store::Layout::new(&p.prefix, &self.cluster.name).ok();

        for (name, spec) in &self.catalogs {
            if let Some(layout) = &layout {
                // Both the stored definition and the rendered file are one parameter each.
                let stored = serde_json::to_string(&layout.stored_spec(name, spec))
                    .map_or(0, |json| json.len());
                let rendered = trino_catalogs::render(name, spec).text.len();
                let limit = trino_catalogs::store::ADVANCED_LIMIT;
                for (what, bytes) in [("stored definition", stored), ("rendered file", rendered)] {
                    if bytes > limit {
                        bad(
                            &format!("catalogs.{name}"),
                            format!(
                                "its {what} is {bytes} bytes; a Parameter Store value holds at most \
                                 {limit} bytes (advanced tier): move large values (keys, certificates) \
                                 into secret references"
                            ),
                        );
                    }
                }
            }
            if !is_catalog_name(name) {
                bad(
                    &format!("catalogs.{name}"),
                    format!("catalog name {name:?} must match [a-z][a-z0-9_]*"),
                );
                continue;
            }
            for issue in trino_catalogs::validate(name, spec) {
                bad(&format!("catalogs.{name}.{}", issue.field), issue.reason);
            }
        }
        let valid_names = self
            .catalogs
            .iter()
            .filter(|(name, _)| is_catalog_name(name))
            .map(|(name, spec)| (name.as_str(), spec));
        for (name, issue) in trino_catalogs::validate::env_collisions(valid_names) {
            bad(&format!("catalogs.{name}.{}", issue.field), issue.reason);
        }

        if let Some(lake) = &self.lake {
            if let Err(why) = check_bucket(&lake.bucket) {
                bad("lake.bucket", format!("{:?} {why}", lake.bucket));
            }
            for (key, uri) in [
                ("lake.access_logs", &lake.access_logs),
                ("lake.inventory", &lake.inventory),
            ] {
                if let Some(Err(why)) = uri.as_deref().map(parse_s3_uri) {
                    bad(key, why);
                }
            }
        }
        if let Some(log) = &self.event_log {
            let rest = log
                .url
                .strip_prefix("jdbc:mysql://")
                .or_else(|| log.url.strip_prefix("mysql://"));
            match rest {
                Some(rest) if rest.split('/').nth(1).is_some_and(|db| !db.is_empty()) => {}
                _ => bad(
                    "event_log.url",
                    format!(
                        "{:?} must look like jdbc:mysql://host:3306/database",
                        redact_url_credentials(&log.url)
                    ),
                ),
            }
            for (key, value) in [("event_log.url", &log.url), ("event_log.user", &log.user)] {
                if value.contains("${") {
                    bad(
                        key,
                        format!(
                            "{:?} contains \"${{\", which Trino resolves as a secret reference such as \
                             ${{ENV:VAR}} in mysql-event-listener.properties (any variable of the container, \
                             another catalog's password included); set the password with \
                             `event_log.password = {{ env = \"VAR\" }}` instead",
                            redact_url_credentials(value)
                        ),
                    );
                }
                if let Some(ch) = value.chars().find(|c| c.is_control() || c.is_whitespace()) {
                    bad(
                        key,
                        format!(
                            "{:?} contains {ch:?}: a JDBC url and user are one token without whitespace or \
                             control characters (a line break would end the property in \
                             mysql-event-listener.properties)",
                            redact_url_credentials(value)
                        ),
                    );
                }
            }
            let found = url_credentials(&log.url);
            if !found.is_empty() {
                bad(
                    "event_log.url",
                    format!(
                        "{:?} carries credentials ({}): the url is stored in a plain String parameter and \
                         rendered into files; remove them and set `event_log.user` and \
                         `event_log.password = {{ env = \"VAR\" }}` (or `{{ parameter = \"/name\" }}`)",
                        redact_url_credentials(&log.url),
                        found.join(", ")
                    ),
                );
            }
        }
        out
    }
}

/// The most levels `parameters.prefix` may have: Parameter Store allows 15, and the tool adds up to 5
/// (`<cluster>/catalogs/<name>/secrets/<field>`).
pub const MAX_PREFIX_DEPTH: usize = 10;
/// The longest `parameters.prefix`: Parameter Store allows 1011 characters including the ARN (about 60), and
/// the names under the prefix take up to about 200 (a 64-character catalog name, a field name, a cluster name).
pub const MAX_PREFIX_LEN: usize = 512;

/// ECS's quota of tasks per service ("Tasks per service", not adjustable): the most workers a config may ask
/// for. It also keeps every count within the `i32` the ECS and Application Auto Scaling APIs take.
pub const MAX_TASKS_PER_SERVICE: u32 = 5000;

/// Whether `environment` passes airlift's `node.environment` rule, `[a-z0-9][_a-z0-9]*`.
pub fn is_node_environment(environment: &str) -> bool {
    let mut chars = environment.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A valid `node.environment` made from a name: lowercased, every character outside `[a-z0-9_]` replaced by
/// `_`, and `e` put in front when the result would not start with a letter or digit.
pub fn environment_from_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !out
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        out.insert(0, 'e');
    }
    out
}

/// The Trino release an image reference's tag names, if any: the tag is what follows the last `:` of the
/// last path segment (so a registry port such as `registry:5000/` is not mistaken for it), a digest
/// (`@sha256:...`) is ignored, and the tag must start with the release number, optionally followed by a
/// `-` suffix as in the official per-architecture tags (`476-arm64`). `trinodb/trino:476`,
/// `registry:5000/trino:476@sha256:...` and `....dkr.ecr....amazonaws.com/trino:476-arm64` all name 476;
/// `trino:prod` and `trinodb/trino@sha256:...` name none.
pub fn image_tag_version(image: &str) -> Option<u32> {
    let last = image.rsplit('/').next().unwrap_or(image);
    let without_digest = last.split('@').next().unwrap_or(last);
    let (_, tag) = without_digest.split_once(':')?;
    let digits = tag.len() - tag.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let (number, rest) = tag.split_at(digits);
    if number.is_empty() || !(rest.is_empty() || rest.starts_with('-')) {
        return None;
    }
    number.parse().ok()
}

fn is_name(name: &str, max: usize) -> bool {
    let mut chars = name.chars();
    name.len() <= max
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_aws_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|hex| {
        (8..=17).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit())
    })
}

fn check_image(image: &str) -> Result<(), &'static str> {
    if image.contains(char::is_whitespace) || image.is_empty() {
        return Err("is not an image reference");
    }
    if image.contains('@') {
        return Ok(());
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => Err("needs an explicit tag, e.g. trinodb/trino:476"),
        Some((_, "latest")) => {
            Err("uses the `latest` tag; pin a Trino version, e.g. trinodb/trino:476")
        }
        Some((_, "")) => Err("has an empty tag"),
        Some(_) => Ok(()),
    }
}

/// Fargate's valid CPU/memory combinations (AWS ECS developer guide, "Task CPU and memory").
fn check_size(launch: LaunchType, cpu: u32, memory: u32) -> Option<(&'static str, String)> {
    if memory < 2048 {
        return Some((
            "memory",
            format!("{memory} MiB is too small for Trino; use at least 2048"),
        ));
    }
    if launch == LaunchType::Ec2 {
        return (cpu < 256).then(|| ("cpu", format!("{cpu} CPU units is below 256")));
    }
    let (lo, hi, step) = match cpu {
        256 => (512, 2048, 512),
        512 => (1024, 4096, 1024),
        1024 => (2048, 8192, 1024),
        2048 => (4096, 16384, 1024),
        4096 => (8192, 30720, 1024),
        8192 => (16384, 61440, 4096),
        16384 => (32768, 122880, 8192),
        _ => {
            return Some((
                "cpu",
                format!(
                    "{cpu} is not a Fargate CPU value (256, 512, 1024, 2048, 4096, 8192 or 16384)"
                ),
            ));
        }
    };
    let fits = memory >= lo && memory <= hi && (memory - lo).is_multiple_of(step)
        || (cpu == 256 && memory == 2048);
    (!fits).then(|| {
        ("memory", format!("{memory} MiB does not fit Fargate cpu {cpu}: use {lo}..={hi} MiB in steps of {step}"))
    })
}

/// Maps byte offsets and key paths of one TOML text to lines and columns.
struct Locator<'a> {
    path: &'a Path,
    text: &'a str,
    table: Option<toml::Spanned<toml::de::DeTable<'a>>>,
}

impl<'a> Locator<'a> {
    fn new(path: &'a Path, text: &'a str) -> Self {
        Self {
            path,
            text,
            table: toml::de::DeTable::parse(text).ok(),
        }
    }

    fn position(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    fn issue(&self, offset: Option<usize>, key: String, message: String) -> ConfigIssue {
        let (line, column) = offset.map_or((0, 0), |o| self.position(o));
        ConfigIssue {
            file: self.path.to_owned(),
            line,
            column,
            key,
            message,
        }
    }

    /// The span of a dotted key (`a.b[2].c`): the value's start, or the nearest existing ancestor's.
    fn key_offset(&self, key: &str) -> Option<usize> {
        let table = self.table.as_ref()?;
        let mut offset = table.span().start;
        let mut current: Option<&toml::de::DeValue<'_>> = None;
        let mut root = Some(table.get_ref());
        for part in split_key(key) {
            let (name, index) = match part.strip_suffix(']').and_then(|p| p.rsplit_once('[')) {
                Some((name, i)) if !part.starts_with('"') => {
                    (name.to_owned(), i.parse::<usize>().ok())
                }
                _ => (part.clone(), None),
            };
            let name = unquote(&name);
            let name = name.as_str();
            let map = match (root.take(), current) {
                (Some(map), _) => map,
                (None, Some(value)) => match value.as_table() {
                    Some(map) => map,
                    None => break,
                },
                (None, None) => break,
            };
            let Some((k, v)) = map.iter().find(|(k, _)| k.get_ref().as_ref() == name) else {
                break;
            };
            offset = k.span().start;
            current = Some(v.get_ref());
            if let Some(i) = index {
                match v.get_ref().as_array().and_then(|a| a.get(i)) {
                    Some(item) => {
                        offset = item.span().start;
                        current = Some(item.get_ref());
                    }
                    None => break,
                }
            }
        }
        Some(offset)
    }

    fn at_key(&self, key: &str, message: String) -> ConfigIssue {
        self.issue(self.key_offset(key), key.to_owned(), message)
    }

    fn issue_of_toml_error(&self, error: &toml::de::Error) -> ConfigIssue {
        let mut message = error.message().trim().to_owned();
        let mut offset = error.span().map(|span| span.start);
        // toml says only "duplicate key": name it, from the text at the span.
        if message.starts_with("duplicate key")
            && !message.contains('`')
            && let Some(start) = offset
            && let Some(name) = key_token(&self.text[start.min(self.text.len())..])
        {
            message = format!("duplicate key `{name}`");
        }
        // Errors inside internally tagged enums (catalogs) come back with the whole table's span: point at
        // the offending key itself when the message names one.
        if let (Some(start), Some(name)) = (offset, quoted_field(&message)) {
            // The table's span may cover only its `[header]`: search up to the next header.
            let rest = &self.text[start.min(self.text.len())..];
            let end = rest
                .match_indices("\n[")
                .next()
                .map_or(rest.len(), |(i, _)| i + 1);
            if let Some(pos) = find_key(&rest[..end], &name) {
                offset = Some(start + pos);
            }
        }
        let key = offset.map(|o| self.key_at(o)).unwrap_or_default();
        if let Some(suggestion) = suggest(&message) {
            message.push_str(&format!(" (did you mean `{suggestion}`?)"));
        }
        if message.is_empty() {
            message = "invalid TOML".to_owned();
        }
        self.issue(offset, key, message)
    }

    /// The dotted key whose key or value contains `offset` (the deepest one).
    fn key_at(&self, offset: usize) -> String {
        fn walk(
            map: &toml::de::DeTable<'_>,
            offset: usize,
            path: &mut Vec<String>,
            best: &mut Vec<String>,
        ) {
            for (k, v) in map.iter() {
                path.push(k.get_ref().to_string());
                if (k.span().contains(&offset) || v.span().contains(&offset))
                    && path.len() >= best.len()
                {
                    *best = path.clone();
                }
                // Tables opened by a `[header]` do not enclose their keys' spans, so always descend.
                if let Some(t) = v.get_ref().as_table() {
                    walk(t, offset, path, best);
                }
                path.pop();
            }
        }
        let (mut path, mut best) = (Vec::new(), Vec::new());
        if let Some(table) = &self.table {
            walk(table.get_ref(), offset, &mut path, &mut best);
        }
        best.join(".")
    }
}

/// For serde's "unknown field `x`, expected one of `a`, `b`" (or "unknown variant"), the closest expected name.
fn suggest(message: &str) -> Option<String> {
    if !message.starts_with("unknown field") && !message.starts_with("unknown variant") {
        return None;
    }
    let given = quoted_field(message)?;
    let expected = message.split_once("expected")?.1;
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|name| {
            (
                strsim::jaro_winkler(&given.to_lowercase(), &name.to_lowercase()),
                name,
            )
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name.to_owned())
}

fn quoted_field(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_owned())
}

/// The parts of a dotted key as the checks name it (`catalogs.x.properties."iceberg.file-format"`): a
/// quoted part keeps its dots.
fn split_key(key: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut part = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for ch in key.chars() {
        match ch {
            _ if escaped => {
                part.push(ch);
                escaped = false;
            }
            '\\' if quoted => {
                part.push(ch);
                escaped = true;
            }
            '"' => {
                quoted = !quoted;
                part.push(ch);
            }
            '.' if !quoted => parts.push(std::mem::take(&mut part)),
            _ => part.push(ch),
        }
    }
    parts.push(part);
    parts
}

/// A key part without its quotes (as `{:?}` wrote it).
fn unquote(part: &str) -> String {
    match part.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => part.to_owned(),
    }
}

/// The key written at the start of `text`: a bare key or a quoted one.
fn key_token(text: &str) -> Option<String> {
    let text = text.trim_start();
    if let Some(rest) = text.strip_prefix('"') {
        return rest.find('"').map(|end| rest[..end].to_owned());
    }
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(text.len());
    (end > 0).then(|| text[..end].to_owned())
}

/// The offset of `name` used as a key (`name =` at a line start) in `text`.
fn find_key(text: &str, name: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(name)
            && rest.trim_start().starts_with('=')
        {
            return Some(offset + (line.len() - trimmed.len()));
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests;
