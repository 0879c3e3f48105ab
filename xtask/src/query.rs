//! `cargo xtask query`: run SQL against a Trino coordinator.

use clap::Args;

use crate::common::{Global, pending};

/// Arguments of `query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The SQL text; read from standard input when absent.
    pub sql: Option<String>,
}

/// Runs `query`.
pub async fn run(_global: &Global, _args: QueryArgs) -> anyhow::Result<()> {
    pending("query", 3)
}
