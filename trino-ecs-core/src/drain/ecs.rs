//! [`WorkerFleet`] over ECS.

use async_trait::async_trait;

use super::{Protection, ServiceState, WorkerFleet, WorkerTask};
use crate::error::{Error, Result};
use crate::render::HTTP_PORT;

/// [`WorkerFleet`] over ECS: the worker service's running tasks, task scale-in protection and desired count.
#[derive(Debug, Clone)]
pub struct EcsWorkerFleet {
    ecs: aws_sdk_ecs::Client,
    cluster: String,
    service: String,
    port: u16,
}

impl EcsWorkerFleet {
    /// The fleet of `service` in `cluster`.
    pub fn new(sdk: &aws_config::SdkConfig, cluster: &str, service: &str) -> Self {
        Self::from_client(aws_sdk_ecs::Client::new(sdk), cluster, service)
    }

    /// The fleet over an existing client.
    pub fn from_client(ecs: aws_sdk_ecs::Client, cluster: &str, service: &str) -> Self {
        Self {
            ecs,
            cluster: cluster.to_owned(),
            service: service.to_owned(),
            port: HTTP_PORT,
        }
    }

    /// Trino's HTTP port on the workers, when it is not [`HTTP_PORT`].
    pub fn with_node_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }
}

#[async_trait]
impl WorkerFleet for EcsWorkerFleet {
    fn service_name(&self) -> &str {
        &self.service
    }

    async fn tasks(&self) -> Result<Vec<WorkerTask>> {
        use crate::error::aws;
        let mut arns = Vec::new();
        let mut pages = self
            .ecs
            .list_tasks()
            .cluster(&self.cluster)
            .service_name(&self.service)
            .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            arns.extend(
                page.map_err(|e| aws("ecs:ListTasks", e))?
                    .task_arns()
                    .iter()
                    .cloned(),
            );
        }
        let mut out = Vec::new();
        for chunk in arns.chunks(100) {
            let described = self
                .ecs
                .describe_tasks()
                .cluster(&self.cluster)
                .set_tasks(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| aws("ecs:DescribeTasks", e))?;
            for task in described.tasks() {
                let ip = task
                    .attachments()
                    .iter()
                    .flat_map(|a| a.details())
                    .find(|d| d.name() == Some("privateIPv4Address"))
                    .and_then(|d| d.value());
                out.push(WorkerTask {
                    arn: task.task_arn().unwrap_or_default().to_owned(),
                    node: ip.map(|ip| format!("http://{ip}:{}", self.port)),
                    task_definition: task.task_definition_arn().unwrap_or_default().to_owned(),
                    deployment: task.started_by().map(str::to_owned),
                });
            }
        }
        Ok(out)
    }

    async fn service(&self) -> Result<ServiceState> {
        let out = self
            .ecs
            .describe_services()
            .cluster(&self.cluster)
            .services(&self.service)
            .send()
            .await
            .map_err(|e| crate::error::aws("ecs:DescribeServices", e))?;
        let service = out.services().first().ok_or_else(|| Error::NotFound {
            operation: "ecs:DescribeServices",
            message: format!("service {} in cluster {}", self.service, self.cluster),
        })?;
        Ok(ServiceState {
            desired: service.desired_count().max(0) as u32,
            task_definition: service.task_definition().unwrap_or_default().to_owned(),
            // A service task's `startedBy` is the id of the deployment that started it.
            deployment: service
                .deployments()
                .iter()
                .find(|d| d.status() == Some("PRIMARY"))
                .and_then(|d| d.id())
                .map(str::to_owned),
        })
    }

    async fn protect(&self, tasks: &[String], protection: Protection) -> Result<()> {
        // UpdateTaskProtection takes at most 10 tasks per call.
        let mut failures = Vec::new();
        for chunk in tasks.chunks(10) {
            let mut req = self
                .ecs
                .update_task_protection()
                .cluster(&self.cluster)
                .set_tasks(Some(chunk.to_vec()));
            req = match protection {
                Protection::For { minutes } => {
                    req.protection_enabled(true).expires_in_minutes(minutes)
                }
                Protection::Off => req.protection_enabled(false),
            };
            let out = req
                .send()
                .await
                .map_err(|e| crate::aws::unimplemented_or_aws("ecs:UpdateTaskProtection", e))?;
            failures.extend(out.failures().iter().map(|f| {
                (
                    f.arn().unwrap_or("?").to_owned(),
                    f.reason().unwrap_or("failed").to_owned(),
                )
            }));
        }
        if !failures.is_empty() {
            // A task that stopped since it was listed cannot be protected, and needs no protection.
            let running: Vec<String> = self.tasks().await?.into_iter().map(|t| t.arn).collect();
            if let Some((arn, reason)) = failures.iter().find(|(arn, _)| running.contains(arn)) {
                return Err(Error::InvalidParameter {
                    operation: "ecs:UpdateTaskProtection",
                    message: format!("{arn}: {reason}"),
                });
            }
        }
        Ok(())
    }

    async fn set_desired(&self, count: u32) -> Result<()> {
        self.ecs
            .update_service()
            .cluster(&self.cluster)
            .service(&self.service)
            .desired_count(crate::error::api_count("desired count", count)?)
            .send()
            .await
            .map_err(|e| crate::error::aws("ecs:UpdateService", e))?;
        Ok(())
    }
}
