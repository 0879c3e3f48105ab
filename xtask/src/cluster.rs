//! `cargo xtask plan|deploy|status|scale`: the Trino cluster on ECS.

use clap::Args;

use crate::common::{Global, pending};

/// Arguments of `plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {}

/// Arguments of `deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Apply without asking for confirmation.
    #[arg(long)]
    pub yes: bool,
}

/// Arguments of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {}

/// Arguments of `scale`.
#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// The desired number of workers.
    pub workers: u32,
}

/// Runs `plan`.
pub async fn plan(_global: &Global, _args: PlanArgs) -> anyhow::Result<()> {
    pending("plan", 5)
}

/// Runs `deploy`.
pub async fn deploy(_global: &Global, _args: DeployArgs) -> anyhow::Result<()> {
    pending("deploy", 5)
}

/// Runs `status`.
pub async fn status(_global: &Global, _args: StatusArgs) -> anyhow::Result<()> {
    pending("status", 5)
}

/// Runs `scale`.
pub async fn scale(_global: &Global, _args: ScaleArgs) -> anyhow::Result<()> {
    pending("scale", 5)
}

/// The main job of `cargo xtask local`: plan and deploy `config` into the emulator `sdk` points at.
pub async fn local_job(
    config: &trino_ecs_core::config::LakeConfig,
    _sdk: &aws_config::SdkConfig,
) -> anyhow::Result<()> {
    println!(
        "would deploy cluster {:?} ({} workers, {} catalogs) from {} into the emulator",
        config.cluster.name,
        config.initial_workers(),
        config.catalogs.len(),
        config.source.display()
    );
    pending("deploy", 5)
}
