//! `cargo xtask local`: start the AWS emulator and run the main job (deploy) against it.

use std::path::PathBuf;

use clap::Args;

use crate::common::{Global, workspace_root};
use crate::harness::{Emulator, Venv};

/// Arguments of `local`.
#[derive(Debug, Args)]
pub struct LocalArgs {
    /// The lake config to deploy into the emulator.
    #[arg(long, default_value = "examples/local.toml")]
    pub local_config: PathBuf,
    /// Leave the emulator running after the job (prints how to reach and stop it).
    #[arg(long)]
    pub keep: bool,
}

/// Runs `local`.
pub async fn run(_global: &Global, args: LocalArgs) -> anyhow::Result<()> {
    let root = workspace_root()?;
    let path = if args.local_config.is_absolute() {
        args.local_config.clone()
    } else {
        root.join(&args.local_config)
    };
    let mut config = trino_ecs_core::config::LakeConfig::load(&path)?;

    let venv = Venv::ensure()?;
    let emulator = Emulator::start(&venv)?;
    println!("emulator: moto server at {}", emulator.endpoint);
    // The emulator's endpoint replaces whatever the file says, so this command can never reach real AWS.
    config.aws.endpoint_url = Some(emulator.endpoint.clone());
    let sdk = emulator_sdk_config(&config, &emulator.endpoint).await;

    let result = crate::cluster::local_job(&config, &sdk).await;

    if args.keep {
        println!(
            "emulator left running at {} (pid {}); stop it with: kill {}",
            emulator.endpoint,
            emulator.pid(),
            emulator.pid()
        );
        std::mem::forget(emulator);
    }
    result
}

/// An `SdkConfig` for the emulator only: its endpoint, fake static credentials, and none of the developer's
/// profiles or instance credentials.
pub async fn emulator_sdk_config(
    config: &trino_ecs_core::config::LakeConfig,
    endpoint: &str,
) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(config.aws.region.clone()))
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "lake-emulator",
        ))
        .load()
        .await
}
