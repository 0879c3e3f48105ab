//! The runner's [`TaskSource`] over the emulator's ECS and SSM: the only runner module naming SDK types.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_ecs as ecs;
use aws_sdk_ssm as ssm;

use super::{ServiceView, TaskDefView, TaskSource};
use crate::error::{Error, Result, aws};
use crate::model::SecretString;

/// ECS's default `stopTimeout` when a container definition gives none.
const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// The services of one cluster in the emulator, and its parameters.
#[derive(Debug, Clone)]
pub struct EmulatorTasks {
    ecs: ecs::Client,
    ssm: ssm::Client,
    cluster: String,
}

impl EmulatorTasks {
    /// Clients for `cluster` built from `sdk` (the caller's emulator `SdkConfig`).
    pub fn new(sdk: &SdkConfig, cluster: impl Into<String>) -> Self {
        Self {
            ecs: ecs::Client::new(sdk),
            ssm: ssm::Client::new(sdk),
            cluster: cluster.into(),
        }
    }
}

/// The parameter name in an SSM `valueFrom`: ECS accepts a parameter ARN
/// (`arn:aws:ssm:REGION:ACCOUNT:parameter/NAME`) or the name itself.
pub fn parameter_name(value_from: &str) -> Result<String> {
    if let Some(rest) = value_from.strip_prefix("arn:") {
        let mut parts = rest.splitn(5, ':');
        let (partition, service, _region, _account, resource) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        );
        return match (partition, service, resource) {
            (Some(_), Some("ssm"), Some(resource)) if resource.starts_with("parameter/") => {
                Ok(resource["parameter".len()..].to_owned())
            }
            (Some(_), Some("secretsmanager"), _) => Err(Error::Local {
                what: format!("resolve secret {value_from}"),
                reason:
                    "Secrets Manager references are not supported by the local runner; the lake \
                         keeps its secrets in SSM Parameter Store"
                        .into(),
            }),
            _ => Err(Error::Local {
                what: format!("resolve secret {value_from}"),
                reason: "valueFrom is neither an SSM parameter ARN nor a parameter name".into(),
            }),
        };
    }
    Ok(value_from.to_owned())
}

#[async_trait]
impl TaskSource for EmulatorTasks {
    async fn services(&self) -> Result<Vec<ServiceView>> {
        let mut arns = Vec::new();
        let mut pages = self
            .ecs
            .list_services()
            .cluster(&self.cluster)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => arns.extend(page.service_arns().iter().cloned()),
                Err(e) => {
                    let e = aws("ecs:ListServices", e);
                    // No cluster yet means no services yet: the deploy has not run.
                    if matches!(e, Error::NotFound { .. }) {
                        return Ok(Vec::new());
                    }
                    return Err(e);
                }
            }
        }
        let mut services = Vec::new();
        for chunk in arns.chunks(10) {
            let out = self
                .ecs
                .describe_services()
                .cluster(&self.cluster)
                .set_services(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| aws("ecs:DescribeServices", e))?;
            for s in out.services() {
                if s.status() != Some("ACTIVE") {
                    continue;
                }
                let (Some(name), Some(task_definition)) = (s.service_name(), s.task_definition())
                else {
                    continue;
                };
                let maximum_percent = s
                    .deployment_configuration()
                    .and_then(|d| d.maximum_percent())
                    .unwrap_or(200);
                services.push(ServiceView {
                    name: name.to_owned(),
                    task_definition: task_definition.to_owned(),
                    desired_count: u32::try_from(s.desired_count()).unwrap_or(0),
                    maximum_percent: u32::try_from(maximum_percent).unwrap_or(200),
                });
            }
        }
        services.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(services)
    }

    async fn task_definition(&self, arn: &str) -> Result<TaskDefView> {
        const OP: &str = "ecs:DescribeTaskDefinition";
        let out = self
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await
            .map_err(|e| aws(OP, e))?;
        let def = out.task_definition().ok_or_else(|| Error::NotFound {
            operation: OP,
            message: format!("task definition {arn}"),
        })?;
        let [container] = def.container_definitions() else {
            return Err(Error::Local {
                what: format!("run task definition {arn}"),
                reason: format!(
                    "it has {} containers; the local runner runs exactly one (the lake's task \
                     definitions have one)",
                    def.container_definitions().len()
                ),
            });
        };
        Ok(TaskDefView {
            arn: arn.to_owned(),
            family_revision: format!("{}:{}", def.family().unwrap_or_default(), def.revision()),
            command: container.command().to_vec(),
            environment: container
                .environment()
                .iter()
                .filter_map(|kv| Some((kv.name()?.to_owned(), kv.value()?.to_owned())))
                .collect(),
            secrets: container
                .secrets()
                .iter()
                .map(|s| (s.name().to_owned(), s.value_from().to_owned()))
                .collect(),
            stop_timeout: container
                .stop_timeout()
                .and_then(|s| u64::try_from(s).ok())
                .map_or(DEFAULT_STOP_TIMEOUT, Duration::from_secs),
            port: container
                .port_mappings()
                .first()
                .and_then(|p| p.container_port())
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(8080),
        })
    }

    async fn resolve_secrets(
        &self,
        secrets: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, SecretString>> {
        const OP: &str = "ssm:GetParameters";
        let mut by_name: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (var, value_from) in secrets {
            by_name
                .entry(parameter_name(value_from)?)
                .or_default()
                .push(var);
        }
        let names: Vec<String> = by_name.keys().cloned().collect();
        let mut resolved = BTreeMap::new();
        for chunk in names.chunks(10) {
            let out = self
                .ssm
                .get_parameters()
                .set_names(Some(chunk.to_vec()))
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| aws(OP, e))?;
            if !out.invalid_parameters().is_empty() {
                // ECS refuses to start a task whose secrets cannot be resolved; so does the runner.
                return Err(Error::NotFound {
                    operation: OP,
                    message: format!(
                        "parameters {} (named by the task definition's secrets)",
                        out.invalid_parameters().join(", ")
                    ),
                });
            }
            for p in out.parameters() {
                let (Some(name), Some(value)) = (p.name(), p.value()) else {
                    continue;
                };
                for var in by_name.get(name).into_iter().flatten() {
                    resolved.insert((*var).to_owned(), SecretString::new(value));
                }
            }
        }
        Ok(resolved)
    }
}
