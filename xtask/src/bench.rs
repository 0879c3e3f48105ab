//! `cargo xtask bench ...`: benchmarks that print ratios against a baseline measured in the same run.

use clap::Subcommand;

use crate::common::pending;

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCmd {
    /// The Trino client against the official python client and raw JSON parsing.
    Client,
    /// AWS calls per no-op plan and per first deploy.
    Deploy,
    /// Classification of inventory rows and access-log lines.
    Lifecycle,
}

/// Runs a benchmark.
pub async fn run(cmd: BenchCmd) -> anyhow::Result<()> {
    match cmd {
        BenchCmd::Client => pending("bench client", 3),
        BenchCmd::Deploy => crate::cluster::bench_deploy().await,
        BenchCmd::Lifecycle => crate::lifecycle::bench().await,
    }
}
