//! `cargo xtask catalog ...`.

use clap::Subcommand;

use crate::common::{Global, pending};

/// `catalog` subcommands.
#[derive(Debug, Subcommand)]
pub enum CatalogCmd {
    /// Not built yet.
    #[command(hide = true)]
    Pending,
}

/// Runs a `catalog` subcommand.
pub async fn run(_global: &Global, _cmd: CatalogCmd) -> anyhow::Result<()> {
    pending("catalog", 4)
}
