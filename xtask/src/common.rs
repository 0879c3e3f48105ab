//! What every subcommand shares: the global options, loading the lake config, and building the AWS SDK config.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use trino_ecs_core::config::LakeConfig;

/// Options every subcommand accepts.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// The lake config file.
    #[arg(
        long,
        short = 'c',
        global = true,
        env = "LAKE_CONFIG",
        default_value = "lake.toml"
    )]
    pub config: PathBuf,
}

impl Global {
    /// Loads and validates the lake config named by `--config`.
    pub fn load(&self) -> anyhow::Result<LakeConfig> {
        Ok(LakeConfig::load(&self.config)?)
    }
}

/// Builds the one `SdkConfig` every adapter's clients are made from, honouring the config's region and
/// endpoint (the emulator) and the standard AWS environment for credentials.
pub async fn sdk_config(config: &LakeConfig) -> anyhow::Result<aws_config::SdkConfig> {
    let aws = &config.aws;
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(aws.region.clone()))
        .retry_config(
            aws_config::retry::RetryConfig::standard().with_max_attempts(aws.max_attempts),
        );
    if let Some(endpoint) = &aws.endpoint_url {
        loader = loader.endpoint_url(endpoint.as_str());
    }
    if let Some(profile) = &aws.profile {
        loader = loader.profile_name(profile);
    }
    Ok(loader.load().await)
}

/// The workspace root (where the top-level Cargo.toml is), for paths such as `target/`.
pub fn workspace_root() -> anyhow::Result<PathBuf> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(PathBuf::from)
        .context("xtask's manifest directory has no parent")
}

/// Whether stdout's reader has gone away; from then on command output is dropped.
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes command output (see `outln!`): a closed pipe ends the output quietly, other write errors are
/// dropped as `println!` would have panicked on them.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    use std::sync::atomic::Ordering;
    // Unit tests print through the test harness, which captures `print!` but not writes to the stdout handle.
    if cfg!(test) {
        print!("{args}");
        return;
    }
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    let written = stdout.write_fmt(args).and_then(|()| stdout.flush());
    if let Err(e) = written
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
}

/// Whether `error` comes from writing to a pipe whose reader has gone away.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
