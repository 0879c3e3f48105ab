//! The AWS adapter: observes a cluster's resources (SSM, Cloud Map, ECS, Application Auto Scaling,
//! CloudWatch) and applies a [`Plan`]. The only module besides [`crate::drain`]'s ECS fleet that names
//! `aws_sdk_*` types. Clients are built by the caller from one `SdkConfig`; retries are the SDK's standard
//! mode with the attempts configured there.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_applicationautoscaling as aas;
use aws_sdk_cloudwatch as cw;
use aws_sdk_ecs as ecs;
use aws_sdk_servicediscovery as sd;
use aws_sdk_ssm as ssm;

use crate::calls::CallCounter;
use crate::error::{Error, Result, aws};
use crate::lease::{Holder, Lease, LeaseState};
use crate::model::{
    AlarmSpec, DEPLOY_TAG, Desired, HASH_TAG, LIVE_TAG, ParamValue, PolicySpec, RESTART_TAG,
    SERVICE_HASH_TAG, SPEC_TAG, ServiceSpec, TaskDefSpec, Tier,
};
use crate::plan::{
    Action, Change, LiveTag, Observed, ObservedParam, ObservedService, ObservedTaskDef, Plan,
};
use crate::render::Role;

/// The AWS clients of one cluster.
#[derive(Debug, Clone)]
pub struct AwsCluster {
    pub(crate) ecs: ecs::Client,
    ssm: ssm::Client,
    aas: aas::Client,
    sd: sd::Client,
    cw: cw::Client,
    kms_key_id: Option<String>,
}

/// The SSM parameters a task definition's containers inject, by name.
fn parameters_read(td: &ecs::types::TaskDefinition) -> Vec<String> {
    td.container_definitions()
        .iter()
        .flat_map(|c| c.secrets())
        .filter_map(|s| crate::runner::ecs::parameter_name(s.value_from()).ok())
        .collect()
}

/// An ECS tag.
fn ecs_tag(key: &str, value: &str) -> ecs::types::Tag {
    ecs::types::Tag::builder().key(key).value(value).build()
}

/// The value of tag `key`.
fn tag(tags: &[ecs::types::Tag], key: &str) -> Option<String> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
        .map(str::to_owned)
}

fn build_err(
    operation: &'static str,
) -> impl Fn(aws_smithy_types::error::operation::BuildError) -> Error {
    move |e| Error::InvalidParameter {
        operation,
        message: e.to_string(),
    }
}

impl AwsCluster {
    /// Clients built from `sdk`.
    pub fn new(sdk: &SdkConfig) -> Self {
        Self::build(sdk, None)
    }

    /// Clients built from `sdk` that record every request in `counter`.
    pub fn with_counter(sdk: &SdkConfig, counter: &CallCounter) -> Self {
        Self::build(sdk, Some(counter))
    }

    /// Encrypt SecureString parameters with this KMS key instead of `aws/ssm`.
    pub fn with_kms_key(mut self, key: Option<String>) -> Self {
        self.kms_key_id = key;
        self
    }

    fn build(sdk: &SdkConfig, counter: Option<&CallCounter>) -> Self {
        macro_rules! client {
            ($krate:ident) => {{
                let mut b = $krate::config::Builder::from(sdk);
                if let Some(c) = counter {
                    b = b.interceptor(c.clone());
                }
                $krate::Client::from_conf(b.build())
            }};
        }
        Self {
            ecs: client!(ecs),
            ssm: client!(ssm),
            aas: client!(aas),
            sd: client!(sd),
            cw: client!(cw),
            kms_key_id: None,
        }
    }

    /// Reads everything `desired` consists of. Missing resources are absent from the result, not errors.
    pub async fn observe(&self, desired: &Desired) -> Result<Observed> {
        let mut observed = Observed::default();
        for path in &desired.managed_paths {
            let mut pages = self
                .ssm
                .get_parameters_by_path()
                .path(path)
                .recursive(true)
                .with_decryption(true)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| aws("ssm:GetParametersByPath", e))?;
                for p in page.parameters() {
                    let (Some(name), Some(value)) = (p.name(), p.value()) else {
                        continue;
                    };
                    let secure = p.r#type() == Some(&ssm::types::ParameterType::SecureString);
                    observed.parameters.insert(
                        name.to_owned(),
                        ObservedParam {
                            value: value.to_owned(),
                            secure,
                            tier: Tier::Standard,
                        },
                    );
                }
            }
            // GetParametersByPath does not say a parameter's tier; DescribeParameters does.
            let filter = ssm::types::ParameterStringFilter::builder()
                .key("Path")
                .option("Recursive")
                .values(path)
                .build()
                .map_err(build_err("ssm:DescribeParameters"))?;
            let mut pages = self
                .ssm
                .describe_parameters()
                .parameter_filters(filter)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| aws("ssm:DescribeParameters", e))?;
                for meta in page.parameters() {
                    let observed = meta.name().and_then(|n| observed.parameters.get_mut(n));
                    if let (Some(param), Some(ssm::types::ParameterTier::Advanced)) =
                        (observed, meta.tier())
                    {
                        param.tier = Tier::Advanced;
                    }
                }
            }
        }
        // Parameters the config references but does not own (e.g. `{ parameter = ... }`) are not observed.

        observed.namespace_arn = self.namespace_arn(&desired.namespace).await?;

        match self
            .ecs
            .describe_clusters()
            .clusters(&desired.cluster)
            .send()
            .await
        {
            Ok(out) => {
                observed.cluster = out
                    .clusters()
                    .iter()
                    .find(|c| c.status() == Some("ACTIVE"))
                    .map(|c| {
                        c.service_connect_defaults()
                            .and_then(|d| d.namespace())
                            .map(str::to_owned)
                    });
            }
            Err(e) => return Err(aws("ecs:DescribeClusters", e)),
        }

        for family in desired.task_defs.keys() {
            match self
                .ecs
                .describe_task_definition()
                .task_definition(family)
                .include(ecs::types::TaskDefinitionField::Tags)
                .send()
                .await
            {
                Ok(out) => {
                    let Some(td) = out.task_definition() else {
                        continue;
                    };
                    if td.status() != Some(&ecs::types::TaskDefinitionStatus::Active) {
                        continue;
                    }
                    let hash = out
                        .tags()
                        .iter()
                        .find(|t| t.key() == Some(HASH_TAG))
                        .and_then(|t| t.value())
                        .map(str::to_owned);
                    let arn = td.task_definition_arn().unwrap_or_default().to_owned();
                    let active = self.active_revisions(family).await?;
                    let mut reads = BTreeMap::new();
                    let mut deploys = BTreeMap::new();
                    let mut restarts = BTreeMap::new();
                    let mut hashes = BTreeMap::new();
                    let mut service_hashes = BTreeMap::new();
                    for revision in &active {
                        let (parameters, tags) = if *revision == arn {
                            (parameters_read(td), out.tags().to_vec())
                        } else {
                            let out = self
                                .ecs
                                .describe_task_definition()
                                .task_definition(revision)
                                .include(ecs::types::TaskDefinitionField::Tags)
                                .send()
                                .await
                                .map_err(|e| aws("ecs:DescribeTaskDefinition", e))?;
                            (
                                out.task_definition()
                                    .map(parameters_read)
                                    .unwrap_or_default(),
                                out.tags().to_vec(),
                            )
                        };
                        reads.insert(revision.clone(), parameters);
                        if let Some(deploy) = tag(&tags, DEPLOY_TAG) {
                            deploys.insert(revision.clone(), deploy);
                        }
                        if let Some(restart) = tag(&tags, RESTART_TAG) {
                            restarts.insert(revision.clone(), restart);
                        }
                        if let Some(hash) = tag(&tags, HASH_TAG) {
                            hashes.insert(revision.clone(), hash);
                        }
                        if let Some(hash) = tag(&tags, SERVICE_HASH_TAG) {
                            service_hashes.insert(revision.clone(), hash);
                        }
                    }
                    observed.task_defs.insert(
                        family.clone(),
                        ObservedTaskDef {
                            arn,
                            hash,
                            active,
                            reads,
                            deploys,
                            restarts,
                            hashes,
                            service_hashes,
                        },
                    );
                }
                // ECS answers ClientException for a family that was never registered.
                Err(e) if ecs_code(&e) == Some("ClientException") => {}
                Err(e) => return Err(aws("ecs:DescribeTaskDefinition", e)),
            }
        }

        if observed.cluster.is_some() {
            let mut req = self
                .ecs
                .describe_services()
                .cluster(&desired.cluster)
                .include(ecs::types::ServiceField::Tags);
            for s in &desired.services {
                req = req.services(&s.name);
            }
            let out = req
                .send()
                .await
                .map_err(|e| aws("ecs:DescribeServices", e))?;
            for s in out.services() {
                if s.status() != Some("ACTIVE") {
                    continue;
                }
                let hash = tag(s.tags(), HASH_TAG);
                let live = tag(s.tags(), LIVE_TAG).and_then(|v| LiveTag::parse(&v));
                // The coordinator's running task, with dynamic catalog management: a live catalog change
                // is made on it, and a live tag holds only while the task it names runs.
                let tasks = if desired.live_catalogs
                    && desired.services.iter().any(|d| {
                        d.role == Role::Coordinator && Some(d.name.as_str()) == s.service_name()
                    }) {
                    self.service_tasks(&desired.cluster, s.service_name().unwrap_or_default())
                        .await?
                } else {
                    Vec::new()
                };
                observed.services.insert(
                    s.service_name().unwrap_or_default().to_owned(),
                    ObservedService {
                        arn: s.service_arn().unwrap_or_default().to_owned(),
                        task_definition: s.task_definition().unwrap_or_default().to_owned(),
                        // The primary deployment runs `task_definition`; ACTIVE ones are older and still
                        // have tasks while a rollout is in flight.
                        draining: s
                            .deployments()
                            .iter()
                            .filter(|d| d.status() == Some("ACTIVE"))
                            .filter_map(|d| d.task_definition().map(str::to_owned))
                            .collect(),
                        desired: s.desired_count(),
                        running: s.running_count(),
                        hash,
                        spec_hash: tag(s.tags(), SPEC_TAG),
                        restart_hash: tag(s.tags(), RESTART_TAG),
                        live,
                        tasks,
                    },
                );
            }
        }

        let scaling = &desired.scaling;
        let targets = self
            .aas
            .describe_scalable_targets()
            .service_namespace(aas::types::ServiceNamespace::Ecs)
            .scalable_dimension(aas::types::ScalableDimension::EcsServiceDesiredCount)
            .resource_ids(&scaling.resource_id)
            .send()
            .await
            .map_err(|e| aws("application-autoscaling:DescribeScalableTargets", e))?;
        observed.scalable_target = targets
            .scalable_targets()
            .first()
            .map(|t| (t.min_capacity(), t.max_capacity()));

        let policies = self
            .aas
            .describe_scaling_policies()
            .service_namespace(aas::types::ServiceNamespace::Ecs)
            .resource_id(&scaling.resource_id)
            .send()
            .await
            .map_err(|e| aws("application-autoscaling:DescribeScalingPolicies", e))?;
        for p in policies.scaling_policies() {
            if let Some(spec) = policy_from_aws(p) {
                observed.policies.insert(spec.name().to_owned(), spec);
            }
        }

        let alarms = self
            .cw
            .describe_alarms()
            .alarm_names(&scaling.queue_alarm.name)
            .send()
            .await
            .map_err(|e| unimplemented_or_aws("cloudwatch:DescribeAlarms", e));
        let alarms = match alarms {
            Ok(alarms) => alarms,
            Err(Error::Unsupported { operation, .. }) => {
                observed.unsupported.push(operation.to_owned());
                return Ok(observed);
            }
            Err(e) => return Err(e),
        };
        for a in alarms.metric_alarms() {
            let spec = AlarmSpec {
                name: a.alarm_name().unwrap_or_default().to_owned(),
                namespace: a.namespace().unwrap_or_default().to_owned(),
                metric: a.metric_name().unwrap_or_default().to_owned(),
                cluster: a
                    .dimensions()
                    .iter()
                    .find(|d| d.name() == Some("ClusterName"))
                    .and_then(|d| d.value())
                    .unwrap_or_default()
                    .to_owned(),
                period: a.period().unwrap_or_default(),
                evaluation_periods: a.evaluation_periods().unwrap_or_default(),
                threshold: a.threshold().unwrap_or_default(),
            };
            let wired = !a.alarm_actions().is_empty();
            observed.alarms.insert(spec.name.clone(), (spec, wired));
        }
        Ok(observed)
    }

    async fn namespace_arn(&self, name: &str) -> Result<Option<String>> {
        let mut pages = self.sd.list_namespaces().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws("servicediscovery:ListNamespaces", e))?;
            if let Some(ns) = page.namespaces().iter().find(|n| n.name() == Some(name)) {
                return Ok(ns.arn().map(str::to_owned));
            }
        }
        Ok(None)
    }

    /// Applies `plan` in order. Every action is idempotent, so re-running after a failure converges.
    /// `progress` is told about each action before it starts.
    pub async fn apply(
        &self,
        desired: &Desired,
        plan: &Plan,
        observed: &Observed,
        deploy_id: &str,
        coordinator: Option<&trino_client::Client>,
        progress: &mut (dyn FnMut(&Action) + Send),
    ) -> Result<()> {
        let mut task_arns: BTreeMap<String, String> = observed
            .task_defs
            .iter()
            .map(|(family, td)| (family.clone(), td.arn.clone()))
            .collect();
        let mut namespace_arn = observed.namespace_arn.clone();
        let mut policy_arns: BTreeMap<String, String> = BTreeMap::new();
        for action in &plan.actions {
            progress(action);
            match action {
                Action::PutParameter {
                    name,
                    value,
                    tier,
                    old,
                    ..
                } => self.put_parameter(name, value, *tier, old.as_ref()).await?,
                Action::DeleteParameter { name, .. } => self.delete_parameter(name).await?,
                Action::CreateNamespace { name } => {
                    namespace_arn = Some(self.create_namespace(name).await?)
                }
                Action::PutCluster { name, exists } => {
                    let ns = match &namespace_arn {
                        Some(arn) => arn.clone(),
                        None => self
                            .namespace_arn(&desired.namespace)
                            .await?
                            .ok_or_else(|| Error::NotFound {
                                operation: "servicediscovery:ListNamespaces",
                                message: format!("namespace {} does not exist", desired.namespace),
                            })?,
                    };
                    let defaults = ecs::types::ClusterServiceConnectDefaultsRequest::builder()
                        .namespace(ns)
                        .build()
                        .map_err(build_err("ecs:CreateCluster"))?;
                    if *exists {
                        self.ecs
                            .update_cluster()
                            .cluster(name)
                            .service_connect_defaults(defaults)
                            .send()
                            .await
                            .map_err(|e| aws("ecs:UpdateCluster", e))?;
                    } else {
                        self.ecs
                            .create_cluster()
                            .cluster_name(name)
                            .service_connect_defaults(defaults)
                            .send()
                            .await
                            .map_err(|e| aws("ecs:CreateCluster", e))?;
                    }
                }
                Action::RegisterTaskDefinition { spec, hash, .. } => {
                    let restart = desired.restart_hash(&spec.family);
                    let service_hash = desired
                        .services
                        .iter()
                        .find(|s| s.task_family == spec.family)
                        .map(|s| desired.service_hash(s));
                    let arn = self
                        .register_task_definition(
                            spec,
                            [hash, &restart],
                            service_hash.as_deref(),
                            deploy_id,
                        )
                        .await?;
                    task_arns.insert(spec.family.clone(), arn);
                }
                Action::DeregisterTaskDefinition { arn } => {
                    self.ecs
                        .deregister_task_definition()
                        .task_definition(arn)
                        .send()
                        .await
                        .map_err(|e| aws("ecs:DeregisterTaskDefinition", e))?;
                }
                Action::PutService { spec, hash, change } => {
                    let task_arn = task_arns.get(&spec.task_family).cloned().ok_or_else(|| {
                        Error::NotFound {
                            operation: "ecs:DescribeTaskDefinition",
                            message: format!(
                                "task definition family {} has no active revision",
                                spec.task_family
                            ),
                        }
                    })?;
                    let existing = observed.services.get(&spec.name).map(|s| s.arn.clone());
                    let spec_hash = desired.spec_hash(spec);
                    let restart_hash = desired.restart_hash(&spec.task_family);
                    self.put_service(
                        &desired.cluster,
                        spec,
                        [hash, &spec_hash, &restart_hash],
                        &task_arn,
                        change,
                        existing,
                    )
                    .await?;
                }
                Action::LiveCatalogs {
                    service,
                    family,
                    task,
                    revision,
                    changes,
                    hash,
                    ..
                } => {
                    let client = coordinator.ok_or_else(|| Error::InvalidConfig {
                        field: "--coordinator".into(),
                        reason: format!(
                            "the plan changes the catalogs of {service} live (CREATE/DROP CATALOG) and needs \
                             the coordinator's address"
                        ),
                    })?;
                    let revision = match revision {
                        Some(arn) => arn.clone(),
                        None => task_arns
                            .get(family)
                            .cloned()
                            .ok_or_else(|| Error::NotFound {
                                operation: "ecs:DescribeTaskDefinition",
                                message: format!(
                                    "task definition family {family} has no active revision"
                                ),
                            })?,
                    };
                    let arn = observed
                        .services
                        .get(service)
                        .map(|s| s.arn.clone())
                        .ok_or_else(|| Error::NotFound {
                            operation: "ecs:DescribeServices",
                            message: format!("service {service} does not exist"),
                        })?;
                    let observed_service = &observed.services[service];
                    let live = |pending: bool| LiveTag {
                        started: observed_service.task_definition.clone(),
                        revision: revision.clone(),
                        task: task.clone(),
                        pending,
                    };
                    // Marked first: a run that dies or fails before the end leaves the mark, and the next plan
                    // sets every catalog of the task again.
                    self.tag_service(&arn, vec![ecs_tag(LIVE_TAG, &live(true).value())])
                        .await?;
                    if let Err(e) = crate::live::apply_catalog_changes(client, changes).await {
                        if matches!(e, Error::LiveCatalog { undone: true, .. }) {
                            // Undone: the task has the catalogs it had, as the earlier tag said.
                            match &observed_service.live {
                                Some(before) => {
                                    self.tag_service(&arn, vec![ecs_tag(LIVE_TAG, &before.value())])
                                        .await?
                                }
                                None => self.untag_service(&arn, LIVE_TAG).await?,
                            }
                        }
                        return Err(e);
                    }
                    // The statements went to whichever coordinator the client reached: only if the task they
                    // were planned for is still the one running is the change recorded as made on it.
                    let running = self.service_tasks(&desired.cluster, service).await?;
                    if running != [task.clone()] {
                        return Err(Error::Trino {
                            node: "coordinator".into(),
                            reason: format!(
                                "the coordinator task changed while its catalogs were set (planned for {task}, \
                                 now {running:?}); the service stays marked, and the next deploy sets them again"
                            ),
                        });
                    }
                    let mut tags = vec![ecs_tag(LIVE_TAG, &live(false).value())];
                    if let Some(hash) = hash {
                        tags.push(ecs_tag(HASH_TAG, hash));
                    }
                    self.tag_service(&arn, tags).await?;
                }
                Action::RollBackService {
                    service,
                    to,
                    hash,
                    restart_hash,
                    ..
                } => {
                    // Only the revision changes; the service's other settings are the ones that revision
                    // ran with (a deploy sets them all again). Forced: a service whose task has another
                    // revision's catalogs live rolls back to the revision it runs, which is a new deployment too.
                    self.ecs
                        .update_service()
                        .cluster(&desired.cluster)
                        .service(service)
                        .task_definition(to)
                        .force_new_deployment(true)
                        .send()
                        .await
                        .map_err(|e| aws("ecs:UpdateService", e))?;
                    // The hashes the revision was registered with: a config that describes it again then
                    // restarts nothing.
                    let tags: Vec<ecs::types::Tag> =
                        [(HASH_TAG, hash), (RESTART_TAG, restart_hash)]
                            .into_iter()
                            .filter_map(|(key, value)| value.as_deref().map(|v| ecs_tag(key, v)))
                            .collect();
                    if let (false, Some(existing)) =
                        (tags.is_empty(), observed.services.get(service))
                    {
                        self.tag_service(&existing.arn, tags).await?;
                    }
                }
                Action::PutScalableTarget {
                    resource_id,
                    bounds,
                    ..
                } => {
                    self.aas
                        .register_scalable_target()
                        .service_namespace(aas::types::ServiceNamespace::Ecs)
                        .scalable_dimension(aas::types::ScalableDimension::EcsServiceDesiredCount)
                        .resource_id(resource_id)
                        .min_capacity(bounds.0)
                        .max_capacity(bounds.1)
                        .send()
                        .await
                        .map_err(|e| aws("application-autoscaling:RegisterScalableTarget", e))?;
                }
                Action::PutScalingPolicy { spec, .. } => {
                    let arn = self.put_policy(&desired.scaling.resource_id, spec).await?;
                    policy_arns.insert(spec.name().to_owned(), arn);
                }
                Action::PutAlarm { spec, .. } => {
                    let policy = desired.scaling.queue_policy.name();
                    let arn = match policy_arns.get(policy) {
                        Some(arn) => arn.clone(),
                        // The policy exists unchanged: PutScalingPolicy is an idempotent upsert that returns its ARN.
                        None => {
                            self.put_policy(
                                &desired.scaling.resource_id,
                                &desired.scaling.queue_policy,
                            )
                            .await?
                        }
                    };
                    put_alarm(&self.cw, spec, &arn).await?;
                }
            }
        }
        Ok(())
    }

    /// Writes one parameter in `tier`. SSM refuses to move an Advanced parameter back to Standard in place,
    /// so that one is deleted first and written anew (a task starting in between retries).
    async fn put_parameter(
        &self,
        name: &str,
        value: &ParamValue,
        tier: Tier,
        old: Option<&ObservedParam>,
    ) -> Result<()> {
        let (text, kind) = match value {
            ParamValue::Text(text) => (text.clone(), ssm::types::ParameterType::String),
            ParamValue::Secret(secret) => (
                secret.expose().to_owned(),
                ssm::types::ParameterType::SecureString,
            ),
            ParamValue::Generated => {
                let v = format!(
                    "{}{}",
                    uuid::Uuid::new_v4().simple(),
                    uuid::Uuid::new_v4().simple()
                );
                (v, ssm::types::ParameterType::SecureString)
            }
        };
        let mut exists = old.is_some();
        if old.is_some_and(|o| o.tier > tier) {
            self.delete_parameter(name).await?;
            exists = false;
        }
        let tier = match tier {
            Tier::Standard => ssm::types::ParameterTier::Standard,
            Tier::Advanced => ssm::types::ParameterTier::Advanced,
        };
        let secure = kind == ssm::types::ParameterType::SecureString;
        let mut req = self
            .ssm
            .put_parameter()
            .name(name)
            .value(text)
            .r#type(kind)
            .tier(tier)
            .overwrite(exists);
        if secure {
            req = req.set_key_id(self.kms_key_id.clone());
        }
        match req.send().await {
            Ok(_) => Ok(()),
            // A generated secret that appeared since observing (another deploy) is kept, never replaced.
            Err(e)
                if matches!(value, ParamValue::Generated)
                    && e.as_service_error()
                        .is_some_and(|s| s.is_parameter_already_exists()) =>
            {
                Ok(())
            }
            Err(e) => Err(aws("ssm:PutParameter", e)),
        }
    }

    /// Deletes a parameter; one already gone is fine.
    async fn delete_parameter(&self, name: &str) -> Result<()> {
        match self.ssm.delete_parameter().name(name).send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_not_found()) =>
            {
                Ok(())
            }
            Err(e) => Err(aws("ssm:DeleteParameter", e)),
        }
    }

    /// Every ACTIVE revision ARN of `family`, oldest first.
    async fn active_revisions(&self, family: &str) -> Result<Vec<String>> {
        let mut revisions = Vec::new();
        let mut pages = self
            .ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(ecs::types::TaskDefinitionStatus::Active)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws("ecs:ListTaskDefinitions", e))?;
            for arn in page.task_definition_arns() {
                // `familyPrefix` is the whole family name in ECS; the ARN ends in `<family>:<revision>`.
                let Some((name, revision)) =
                    arn.rsplit('/').next().and_then(|r| r.rsplit_once(':'))
                else {
                    continue;
                };
                if let (true, Ok(revision)) = (name == family, revision.parse::<u32>()) {
                    revisions.push((revision, arn.clone()));
                }
            }
        }
        revisions.sort();
        Ok(revisions.into_iter().map(|(_, arn)| arn).collect())
    }

    async fn create_namespace(&self, name: &str) -> Result<String> {
        // A deterministic request id makes a retried create idempotent instead of a duplicate.
        let out = self
            .sd
            .create_http_namespace()
            .name(name)
            .creator_request_id(format!("trino-lake-{name}"))
            .description("Service Connect namespace of a Trino cluster (trino-ecs-core)")
            .send()
            .await;
        let operation = match out {
            Ok(out) => out.operation_id().map(str::to_owned),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_namespace_already_exists()) =>
            {
                None
            }
            Err(e) => return Err(aws("servicediscovery:CreateHttpNamespace", e)),
        };
        if let Some(id) = operation {
            for _ in 0..60 {
                let op = self
                    .sd
                    .get_operation()
                    .operation_id(&id)
                    .send()
                    .await
                    .map_err(|e| aws("servicediscovery:GetOperation", e))?;
                match op.operation().and_then(|o| o.status()) {
                    Some(sd::types::OperationStatus::Success) => break,
                    Some(sd::types::OperationStatus::Fail) => {
                        return Err(Error::InvalidParameter {
                            operation: "servicediscovery:CreateHttpNamespace",
                            message: op
                                .operation()
                                .and_then(|o| o.error_message())
                                .unwrap_or("failed")
                                .to_owned(),
                        });
                    }
                    _ => tokio::time::sleep(Duration::from_secs(1)).await,
                }
            }
        }
        self.namespace_arn(name)
            .await?
            .ok_or_else(|| Error::Timeout {
                what: format!("cloud map namespace {name}"),
                seconds: 60,
            })
    }

    async fn register_task_definition(
        &self,
        spec: &TaskDefSpec,
        [hash, restart_hash]: [&str; 2],
        service_hash: Option<&str>,
        deploy_id: &str,
    ) -> Result<String> {
        const OP: &str = "ecs:RegisterTaskDefinition";
        let mut tags = vec![
            ecs_tag(HASH_TAG, hash),
            ecs_tag(DEPLOY_TAG, deploy_id),
            ecs_tag(RESTART_TAG, restart_hash),
        ];
        if let Some(h) = service_hash {
            tags.push(ecs_tag(SERVICE_HASH_TAG, h));
        }
        let c = &spec.container;
        let mut secrets = Vec::new();
        for s in &c.secrets {
            secrets.push(
                ecs::types::Secret::builder()
                    .name(&s.name)
                    .value_from(&s.value_from)
                    .build()
                    .map_err(build_err(OP))?,
            );
        }
        let container = ecs::types::ContainerDefinition::builder()
            .name(&c.name)
            .image(&c.image)
            .essential(true)
            .set_command(Some(c.command.clone()))
            .set_secrets(Some(secrets))
            .port_mappings(
                ecs::types::PortMapping::builder()
                    .name(c.port_name)
                    .container_port(i32::from(c.port))
                    .protocol(ecs::types::TransportProtocol::Tcp)
                    .app_protocol(ecs::types::ApplicationProtocol::Http)
                    .build(),
            )
            .health_check(
                ecs::types::HealthCheck::builder()
                    .set_command(Some(c.health_check.clone()))
                    .interval(30)
                    .timeout(10)
                    .retries(3)
                    .start_period(120)
                    .build()
                    .map_err(build_err(OP))?,
            )
            .stop_timeout(crate::error::api_count("stopTimeout", c.stop_timeout)?)
            .ulimits(
                ecs::types::Ulimit::builder()
                    .name(ecs::types::UlimitName::Nofile)
                    .soft_limit(131072)
                    .hard_limit(131072)
                    .build()
                    .map_err(build_err(OP))?,
            )
            .log_configuration(
                ecs::types::LogConfiguration::builder()
                    .log_driver(ecs::types::LogDriver::Awslogs)
                    .options("awslogs-group", &c.log_group)
                    .options("awslogs-region", &c.log_region)
                    .options("awslogs-stream-prefix", &c.log_stream_prefix)
                    .options("awslogs-create-group", "true")
                    .build()
                    .map_err(build_err(OP))?,
            )
            .build();
        let out = self
            .ecs
            .register_task_definition()
            .family(&spec.family)
            .cpu(spec.cpu.to_string())
            .memory(spec.memory.to_string())
            .network_mode(ecs::types::NetworkMode::Awsvpc)
            .requires_compatibilities(ecs::types::Compatibility::from(
                spec.requires_compatibilities,
            ))
            .execution_role_arn(&spec.execution_role_arn)
            .set_task_role_arn(spec.task_role_arn.clone())
            .container_definitions(container)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws(OP, e))?;
        Ok(out
            .task_definition()
            .and_then(|t| t.task_definition_arn())
            .unwrap_or_default()
            .to_owned())
    }

    /// The ARNs of a service's tasks that ECS wants running.
    async fn service_tasks(&self, cluster: &str, service: &str) -> Result<Vec<String>> {
        Ok(self
            .ecs
            .list_tasks()
            .cluster(cluster)
            .service_name(service)
            .desired_status(ecs::types::DesiredStatus::Running)
            .send()
            .await
            .map_err(|e| aws("ecs:ListTasks", e))?
            .task_arns()
            .to_vec())
    }

    async fn tag_service(&self, arn: &str, tags: Vec<ecs::types::Tag>) -> Result<()> {
        self.ecs
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws("ecs:TagResource", e))?;
        Ok(())
    }

    async fn untag_service(&self, arn: &str, key: &str) -> Result<()> {
        self.ecs
            .untag_resource()
            .resource_arn(arn)
            .tag_keys(key)
            .send()
            .await
            .map_err(|e| aws("ecs:UntagResource", e))?;
        Ok(())
    }

    async fn put_service(
        &self,
        cluster: &str,
        spec: &ServiceSpec,
        [hash, spec_hash, restart_hash]: [&str; 3],
        task_arn: &str,
        change: &Change,
        existing: Option<String>,
    ) -> Result<()> {
        const OP: &str = "ecs:CreateService";
        let network = ecs::types::NetworkConfiguration::builder()
            .awsvpc_configuration(
                ecs::types::AwsVpcConfiguration::builder()
                    .set_subnets(Some(spec.subnets.clone()))
                    .set_security_groups(Some(spec.security_groups.clone()))
                    .assign_public_ip(if spec.assign_public_ip {
                        ecs::types::AssignPublicIp::Enabled
                    } else {
                        ecs::types::AssignPublicIp::Disabled
                    })
                    .build()
                    .map_err(build_err(OP))?,
            )
            .build();
        let deployment = ecs::types::DeploymentConfiguration::builder()
            .deployment_circuit_breaker(
                ecs::types::DeploymentCircuitBreaker::builder()
                    .enable(true)
                    .rollback(spec.circuit_breaker_rollback)
                    .build(),
            )
            .minimum_healthy_percent(spec.minimum_healthy_percent)
            .maximum_percent(spec.maximum_percent)
            .build();
        let mut connect = ecs::types::ServiceConnectConfiguration::builder()
            .enabled(true)
            .namespace(&spec.service_connect.namespace);
        if let Some(server) = &spec.service_connect.server {
            connect = connect.services(
                ecs::types::ServiceConnectService::builder()
                    .port_name(server.port_name)
                    .discovery_name(&server.discovery_name)
                    .client_aliases(
                        ecs::types::ServiceConnectClientAlias::builder()
                            .port(i32::from(server.port))
                            .dns_name(&server.dns_name)
                            .build()
                            .map_err(build_err(OP))?,
                    )
                    .build()
                    .map_err(build_err(OP))?,
            );
        }
        let connect = connect.build();
        let tags = vec![
            ecs_tag(HASH_TAG, hash),
            ecs_tag(SPEC_TAG, spec_hash),
            ecs_tag(RESTART_TAG, restart_hash),
        ];
        match (change, existing) {
            (Change::Update(_) | Change::RolledBack { .. }, Some(arn)) => {
                self.ecs
                    .update_service()
                    .cluster(cluster)
                    .service(&spec.name)
                    .task_definition(task_arn)
                    .network_configuration(network)
                    .deployment_configuration(deployment)
                    .service_connect_configuration(connect)
                    .health_check_grace_period_seconds(spec.health_check_grace_seconds)
                    .force_new_deployment(true)
                    .send()
                    .await
                    .map_err(|e| aws("ecs:UpdateService", e))?;
                // Tagged last: a crash before this line makes the next run update (roll) again, never skip.
                self.ecs
                    .tag_resource()
                    .resource_arn(arn)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map_err(|e| aws("ecs:TagResource", e))?;
            }
            _ => {
                self.ecs
                    .create_service()
                    .cluster(cluster)
                    .service_name(&spec.name)
                    .task_definition(task_arn)
                    .desired_count(crate::error::api_count(
                        "cluster.workers.desired",
                        spec.initial_count,
                    )?)
                    .launch_type(ecs::types::LaunchType::from(spec.launch_type))
                    .network_configuration(network)
                    .deployment_configuration(deployment)
                    .service_connect_configuration(connect)
                    .health_check_grace_period_seconds(spec.health_check_grace_seconds)
                    .propagate_tags(ecs::types::PropagateTags::Service)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map_err(|e| aws(OP, e))?;
            }
        }
        Ok(())
    }

    async fn put_policy(&self, resource_id: &str, spec: &PolicySpec) -> Result<String> {
        const OP: &str = "application-autoscaling:PutScalingPolicy";
        let req = self
            .aas
            .put_scaling_policy()
            .policy_name(spec.name())
            .service_namespace(aas::types::ServiceNamespace::Ecs)
            .scalable_dimension(aas::types::ScalableDimension::EcsServiceDesiredCount)
            .resource_id(resource_id);
        let req = match spec {
            PolicySpec::TargetTracking {
                metric,
                target,
                scale_in_cooldown,
                scale_out_cooldown,
                ..
            } => req
                .policy_type(aas::types::PolicyType::TargetTrackingScaling)
                .target_tracking_scaling_policy_configuration(
                    aas::types::TargetTrackingScalingPolicyConfiguration::builder()
                        .target_value(*target)
                        .predefined_metric_specification(
                            aas::types::PredefinedMetricSpecification::builder()
                                .predefined_metric_type(aas::types::MetricType::from(
                                    metric.as_str(),
                                ))
                                .build()
                                .map_err(build_err(OP))?,
                        )
                        .scale_in_cooldown(*scale_in_cooldown)
                        .scale_out_cooldown(*scale_out_cooldown)
                        .build()
                        .map_err(build_err(OP))?,
                ),
            PolicySpec::Step {
                cooldown, steps, ..
            } => {
                let mut cfg = aas::types::StepScalingPolicyConfiguration::builder()
                    .adjustment_type(aas::types::AdjustmentType::ChangeInCapacity)
                    .cooldown(*cooldown)
                    .metric_aggregation_type(aas::types::MetricAggregationType::Average);
                for (lower, upper, add) in steps {
                    cfg = cfg.step_adjustments(
                        aas::types::StepAdjustment::builder()
                            .set_metric_interval_lower_bound(*lower)
                            .set_metric_interval_upper_bound(*upper)
                            .scaling_adjustment(*add)
                            .build()
                            .map_err(build_err(OP))?,
                    );
                }
                req.policy_type(aas::types::PolicyType::StepScaling)
                    .step_scaling_policy_configuration(cfg.build())
            }
        };
        let out = req.send().await.map_err(|e| aws(OP, e))?;
        Ok(out.policy_arn().to_owned())
    }

    /// Publishes the queued-queries-per-worker metric the step policy's alarm watches (run it periodically,
    /// e.g. from the coordinator's `/metrics` or `system.runtime.queries`).
    pub async fn publish_queue_metric(
        &self,
        cluster: &str,
        queued: u32,
        active_workers: u32,
    ) -> Result<()> {
        let value = f64::from(queued) / f64::from(active_workers.max(1));
        self.cw
            .put_metric_data()
            .namespace(crate::model::METRIC_NAMESPACE)
            .metric_data(
                cw::types::MetricDatum::builder()
                    .metric_name(crate::model::QUEUED_METRIC)
                    .dimensions(
                        cw::types::Dimension::builder()
                            .name("ClusterName")
                            .value(cluster)
                            .build(),
                    )
                    .value(value)
                    .unit(cw::types::StandardUnit::Count)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| unimplemented_or_aws("cloudwatch:PutMetricData", e))?;
        Ok(())
    }

    /// Takes the deploy lock: a parameter created with `Overwrite=false`, so exactly one of two concurrent
    /// deploys succeeds. A lease that expired, or whose holder ran on this machine and is gone (see
    /// [`Lease::state`]), is taken over.
    pub async fn lock(
        &self,
        parameter: &str,
        cluster: &str,
        holder: &Holder,
        lease: Duration,
    ) -> Result<DeployLock> {
        for _ in 0..2 {
            let mine = Lease::new(holder, chrono::Utc::now(), lease);
            match self
                .ssm
                .put_parameter()
                .name(parameter)
                .value(mine.to_json())
                .r#type(ssm::types::ParameterType::String)
                .overwrite(false)
                .send()
                .await
            {
                Ok(_) => {
                    return Ok(DeployLock {
                        parameter: parameter.to_owned(),
                        token: mine.token,
                    });
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_parameter_already_exists()) => {}
                Err(e) => return Err(aws("ssm:PutParameter", e)),
            }
            let Some(text) = self.lock_text(parameter).await? else {
                continue;
            };
            let held = Lease::parse(&text);
            let state = held.as_ref().map_or(LeaseState::Expired, |l| {
                l.state(chrono::Utc::now(), &holder.host, process_alive)
            });
            if state == LeaseState::Held {
                let held = held.expect("a held lease parsed");
                return Err(Error::Locked {
                    cluster: cluster.to_owned(),
                    owner: held.holder(),
                    expires_at: held.expires_at.to_rfc3339(),
                    parameter: parameter.to_owned(),
                });
            }
            // Another deploy may have taken the lock over since we read it: delete only the lease we read,
            // re-checked right before the delete. SSM has no conditional delete, so two deploys taking over
            // the same dead lease in the same instant remain possible, not otherwise.
            if self.lock_text(parameter).await?.as_deref() != Some(text.as_str()) {
                continue;
            }
            tracing::warn!(
                parameter,
                holder = held.as_ref().map(Lease::holder).unwrap_or_default(),
                ?state,
                "taking over the deploy lock"
            );
            self.delete_lock(parameter).await?;
        }
        Err(Error::Locked {
            cluster: cluster.to_owned(),
            owner: "a concurrent deploy".into(),
            expires_at: "unknown".into(),
            parameter: parameter.to_owned(),
        })
    }

    /// The lease in the lock parameter, if any: for `--force-unlock` to show before it deletes.
    pub async fn lock_holder(&self, parameter: &str) -> Result<Option<Lease>> {
        Ok(self
            .lock_text(parameter)
            .await?
            .map(|text| Lease::parse(&text).unwrap_or_else(|| unreadable_lease(&text))))
    }

    /// Removes the lock whoever holds it (a deploy that died on another machine, a hung one), if it still
    /// holds exactly `seen`, the lease the caller showed and had confirmed; returns whether it removed it.
    pub async fn force_unlock(&self, parameter: &str, seen: &Lease) -> Result<bool> {
        match self.lock_holder(parameter).await? {
            Some(now) if now == *seen => {
                self.delete_lock(parameter).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn lock_text(&self, parameter: &str) -> Result<Option<String>> {
        match self.ssm.get_parameter().name(parameter).send().await {
            Ok(out) => Ok(Some(
                out.parameter()
                    .and_then(|p| p.value())
                    .unwrap_or_default()
                    .to_owned(),
            )),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_not_found()) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws("ssm:GetParameter", e)),
        }
    }

    async fn delete_lock(&self, parameter: &str) -> Result<()> {
        match self.ssm.delete_parameter().name(parameter).send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_not_found()) =>
            {
                Ok(())
            }
            Err(e) => Err(aws("ssm:DeleteParameter", e)),
        }
    }

    /// Releases a lock taken by [`AwsCluster::lock`], unless someone else took it over meanwhile.
    pub async fn unlock(&self, lock: DeployLock) -> Result<()> {
        let held = self.lock_text(&lock.parameter).await?;
        if held
            .as_deref()
            .and_then(Lease::parse)
            .is_some_and(|l| l.token == lock.token)
        {
            self.delete_lock(&lock.parameter).await?;
        }
        Ok(())
    }

    /// The services' and autoscaling's current state, with the retained revisions (rollback targets).
    pub async fn status(&self, desired: &Desired) -> Result<ClusterStatus> {
        let mut status = self.rollout_status(desired).await?;
        if status.cluster_active {
            status.revisions = crate::plan::retained(&self.observe(desired).await?);
        }
        Ok(status)
    }

    /// [`Self::status`] without the revisions: the few calls a wait for a stable rollout polls.
    pub async fn rollout_status(&self, desired: &Desired) -> Result<ClusterStatus> {
        let mut status = ClusterStatus {
            cluster: desired.cluster.clone(),
            ..Default::default()
        };
        let clusters = self
            .ecs
            .describe_clusters()
            .clusters(&desired.cluster)
            .send()
            .await
            .map_err(|e| aws("ecs:DescribeClusters", e))?;
        status.cluster_active = clusters
            .clusters()
            .iter()
            .any(|c| c.status() == Some("ACTIVE"));
        if !status.cluster_active {
            return Ok(status);
        }
        let mut req = self.ecs.describe_services().cluster(&desired.cluster);
        for s in &desired.services {
            req = req.services(&s.name);
        }
        let out = req
            .send()
            .await
            .map_err(|e| aws("ecs:DescribeServices", e))?;
        for s in out
            .services()
            .iter()
            .filter(|s| s.status() == Some("ACTIVE"))
        {
            status.services.push(ServiceStatus {
                name: s.service_name().unwrap_or_default().to_owned(),
                task_definition: s
                    .task_definition()
                    .unwrap_or_default()
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                desired: s.desired_count(),
                running: s.running_count(),
                pending: s.pending_count(),
                deployments: s
                    .deployments()
                    .iter()
                    .map(|d| {
                        format!(
                            "{} {} {}/{} ({})",
                            d.status().unwrap_or_default(),
                            d.task_definition()
                                .unwrap_or_default()
                                .rsplit('/')
                                .next()
                                .unwrap_or_default(),
                            d.running_count(),
                            d.desired_count(),
                            d.rollout_state()
                                .map(|r| r.as_str().to_owned())
                                .unwrap_or_else(|| "-".into())
                        )
                    })
                    .collect(),
            });
        }
        let targets = self
            .aas
            .describe_scalable_targets()
            .service_namespace(aas::types::ServiceNamespace::Ecs)
            .resource_ids(&desired.scaling.resource_id)
            .send()
            .await
            .map_err(|e| aws("application-autoscaling:DescribeScalableTargets", e))?;
        status.worker_bounds = targets
            .scalable_targets()
            .first()
            .map(|t| (t.min_capacity(), t.max_capacity()));
        let policies = self
            .aas
            .describe_scaling_policies()
            .service_namespace(aas::types::ServiceNamespace::Ecs)
            .resource_id(&desired.scaling.resource_id)
            .send()
            .await
            .map_err(|e| aws("application-autoscaling:DescribeScalingPolicies", e))?;
        status.policies = policies
            .scaling_policies()
            .iter()
            .map(|p| p.policy_name().to_owned())
            .collect();
        status.retained = desired.retained_revisions;
        Ok(status)
    }
}

/// A held deploy lock; release it with [`AwsCluster::unlock`].
#[derive(Debug)]
pub struct DeployLock {
    parameter: String,
    token: String,
}

/// One service's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceStatus {
    /// Name.
    pub name: String,
    /// `family:revision`.
    pub task_definition: String,
    /// Desired tasks.
    pub desired: i32,
    /// Running tasks.
    pub running: i32,
    /// Pending tasks.
    pub pending: i32,
    /// One line per deployment.
    pub deployments: Vec<String>,
}

/// The cluster's state as ECS and autoscaling report it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterStatus {
    /// Cluster name.
    pub cluster: String,
    /// Whether the ECS cluster exists.
    pub cluster_active: bool,
    /// Services.
    pub services: Vec<ServiceStatus>,
    /// Worker (min, max).
    pub worker_bounds: Option<(i32, i32)>,
    /// Scaling policy names.
    pub policies: Vec<String>,
    /// The retained task-definition revisions (rollback targets), newest first per family.
    pub revisions: Vec<crate::plan::RetainedRevision>,
    /// How many revisions per family are kept (`cluster.retained_revisions`).
    pub retained: usize,
}

impl ClusterStatus {
    /// Whether every service runs as many tasks as it wants, with one deployment.
    pub fn is_stable(&self) -> bool {
        self.cluster_active
            && !self.services.is_empty()
            && self
                .services
                .iter()
                .all(|s| s.running == s.desired && s.deployments.len() <= 1)
    }
}

impl std::fmt::Display for ClusterStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.cluster_active {
            return writeln!(f, "cluster {}: not deployed", self.cluster);
        }
        writeln!(f, "cluster {}", self.cluster)?;
        for s in &self.services {
            writeln!(
                f,
                "  service {} [{}]: desired {} running {} pending {}",
                s.name, s.task_definition, s.desired, s.running, s.pending
            )?;
            for d in &s.deployments {
                writeln!(f, "    deployment {d}")?;
            }
        }
        match self.worker_bounds {
            Some((min, max)) => writeln!(
                f,
                "  worker autoscaling: min {min} max {max}, policies {}",
                self.policies.join(", ")
            )?,
            None => writeln!(f, "  worker autoscaling: not registered")?,
        }
        if !self.revisions.is_empty() {
            writeln!(
                f,
                "  retained revisions (newest {} per family; rollback --to DEPLOY or family:N):",
                self.retained
            )?;
            let width = self
                .revisions
                .iter()
                .map(|r| r.revision.len())
                .max()
                .unwrap_or(0);
            for r in &self.revisions {
                let state = match (r.running, r.draining, &r.live_from) {
                    (true, _, Some(task)) => {
                        format!("  running (its catalogs live on a task started from {task})")
                    }
                    (true, _, None) => "  running".to_owned(),
                    (false, true, _) => "  draining".to_owned(),
                    _ => String::new(),
                };
                writeln!(
                    f,
                    "    {:width$}  deploy {}{state}",
                    r.revision,
                    r.deploy.as_deref().unwrap_or("(untagged)")
                )?;
            }
        }
        Ok(())
    }
}

/// Creates or updates the queued-queries alarm, wired to the step policy `policy_arn`.
async fn put_alarm(cw: &cw::Client, spec: &AlarmSpec, policy_arn: &str) -> Result<()> {
    cw.put_metric_alarm()
        .alarm_name(&spec.name)
        .alarm_description("Adds Trino workers when queries queue (trino-ecs-core)")
        .namespace(&spec.namespace)
        .metric_name(&spec.metric)
        .dimensions(
            cw::types::Dimension::builder()
                .name("ClusterName")
                .value(&spec.cluster)
                .build(),
        )
        .statistic(cw::types::Statistic::Average)
        .period(spec.period)
        .evaluation_periods(spec.evaluation_periods)
        .threshold(spec.threshold)
        .comparison_operator(cw::types::ComparisonOperator::GreaterThanOrEqualToThreshold)
        .treat_missing_data("notBreaching")
        .alarm_actions(policy_arn)
        .send()
        .await
        .map_err(|e| unimplemented_or_aws("cloudwatch:PutMetricAlarm", e))?;
    Ok(())
}

/// Maps an SDK error, recognising an endpoint that does not implement the operation at all: moto 5.2 answers
/// CloudWatch's CBOR protocol (smithy rpc-v2) with a 404 HTML page and operations it lacks (ECS
/// UpdateTaskProtection) with a 500 HTML page, both without an AWS error code. AWS itself always sends a
/// modelled error body, so this never hides a real AWS failure.
pub(crate) fn unimplemented_or_aws<E>(
    operation: &'static str,
    e: aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> Error
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
{
    let not_implemented = e.raw_response().is_some_and(|raw| {
        matches!(raw.status().as_u16(), 404 | 500)
            && raw
                .headers()
                .get("content-type")
                .is_some_and(|t| t.starts_with("text/html"))
    }) && aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&e)
        .is_none();
    if not_implemented {
        return Error::Unsupported {
            operation,
            message: "the endpoint answered with an HTML error page and no AWS error code (it does not implement this operation)".into(),
        };
    }
    aws(operation, e)
}

fn ecs_code<E: aws_smithy_types::error::metadata::ProvideErrorMetadata>(e: &E) -> Option<&str> {
    e.code()
}

fn policy_from_aws(p: &aas::types::ScalingPolicy) -> Option<PolicySpec> {
    let name = p.policy_name().to_owned();
    if let Some(t) = p.target_tracking_scaling_policy_configuration() {
        return Some(PolicySpec::TargetTracking {
            name,
            metric: t
                .predefined_metric_specification()
                .map(|m| m.predefined_metric_type().as_str().to_owned())
                .unwrap_or_default(),
            target: t.target_value(),
            scale_in_cooldown: t.scale_in_cooldown().unwrap_or_default(),
            scale_out_cooldown: t.scale_out_cooldown().unwrap_or_default(),
        });
    }
    let s = p.step_scaling_policy_configuration()?;
    Some(PolicySpec::Step {
        name,
        cooldown: s.cooldown().unwrap_or_default(),
        steps: s
            .step_adjustments()
            .iter()
            .map(|a| {
                (
                    a.metric_interval_lower_bound(),
                    a.metric_interval_upper_bound(),
                    a.scaling_adjustment(),
                )
            })
            .collect(),
    })
}

/// Whether process `pid` of this machine runs (signal 0: EPERM means it runs under another user).
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return true;
    };
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

/// A lock value that is not a lease, shown as its text (it expires at once: a corrupt lock never blocks).
fn unreadable_lease(text: &str) -> Lease {
    Lease {
        owner: format!(
            "unreadable lock value {:?}",
            text.chars().take(120).collect::<String>()
        ),
        host: String::new(),
        pid: 0,
        expires_at: chrono::DateTime::<chrono::Utc>::MIN_UTC,
        token: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudwatch::Client;
    use aws_sdk_cloudwatch::operation::put_metric_alarm::PutMetricAlarmOutput;
    use aws_smithy_mocks::{mock, mock_client};

    use super::*;

    // moto 5.2 does not route CloudWatch's CBOR protocol, so the alarm's request shape is checked here.
    #[tokio::test]
    async fn queue_alarm_request_shape() {
        let spec = AlarmSpec {
            name: "lake-workers-queued-queries".into(),
            namespace: "TrinoLake".into(),
            metric: "QueuedQueriesPerWorker".into(),
            cluster: "lake".into(),
            period: 60,
            evaluation_periods: 2,
            threshold: 5.0,
        };
        let rule = mock!(Client::put_metric_alarm)
            .match_requests(|r| {
                r.alarm_name() == Some("lake-workers-queued-queries")
                    && r.namespace() == Some("TrinoLake")
                    && r.metric_name() == Some("QueuedQueriesPerWorker")
                    && r.dimensions().len() == 1
                    && r.dimensions()[0].name() == Some("ClusterName")
                    && r.dimensions()[0].value() == Some("lake")
                    && r.statistic() == Some(&cw::types::Statistic::Average)
                    && r.period() == Some(60)
                    && r.evaluation_periods() == Some(2)
                    && r.threshold() == Some(5.0)
                    && r.comparison_operator()
                        == Some(&cw::types::ComparisonOperator::GreaterThanOrEqualToThreshold)
                    && r.alarm_actions() == ["arn:aws:autoscaling:policy/step"]
            })
            .then_output(|| PutMetricAlarmOutput::builder().build());
        let client = mock_client!(aws_sdk_cloudwatch, [&rule]);
        put_alarm(&client, &spec, "arn:aws:autoscaling:policy/step")
            .await
            .unwrap();
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn unrouted_cloudwatch_is_unsupported_not_a_failure() {
        let rule = mock!(Client::describe_alarms).then_http_response(|| {
            let mut response = aws_smithy_runtime_api::http::Response::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(404).unwrap(),
                aws_smithy_types::body::SdkBody::from(
                    "<!doctype html><title>404 Not Found</title>",
                ),
            );
            response
                .headers_mut()
                .insert("content-type", "text/html; charset=utf-8");
            response
        });
        let client = mock_client!(aws_sdk_cloudwatch, [&rule]);
        let err = client.describe_alarms().send().await.unwrap_err();
        let err = unimplemented_or_aws("cloudwatch:DescribeAlarms", err);
        assert!(
            matches!(
                err,
                Error::Unsupported {
                    operation: "cloudwatch:DescribeAlarms",
                    ..
                }
            ),
            "{err}"
        );
    }
}
