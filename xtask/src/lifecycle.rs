//! `cargo xtask lifecycle ...`.

use clap::Subcommand;

use crate::common::{Global, pending};

/// `lifecycle` subcommands.
#[derive(Debug, Subcommand)]
pub enum LifecycleCmd {
    /// Not built yet.
    #[command(hide = true)]
    Pending,
}

/// Runs a `lifecycle` subcommand.
pub async fn run(_global: &Global, _cmd: LifecycleCmd) -> anyhow::Result<()> {
    pending("lifecycle", 6)
}
