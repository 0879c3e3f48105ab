//! `cargo xtask events ...`.

use clap::Subcommand;

use crate::common::{Global, pending};

/// `events` subcommands.
#[derive(Debug, Subcommand)]
pub enum EventsCmd {
    /// Not built yet.
    #[command(hide = true)]
    Pending,
}

/// Runs a `events` subcommand.
pub async fn run(_global: &Global, _cmd: EventsCmd) -> anyhow::Result<()> {
    pending("events", 7)
}
