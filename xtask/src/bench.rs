//! `cargo xtask bench ...`: benchmarks that print ratios against a baseline measured in the same run.

use clap::Subcommand;

use crate::harness::Venv;

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
        BenchCmd::Client => client(),
        BenchCmd::Deploy => crate::cluster::bench_deploy().await,
        BenchCmd::Lifecycle => crate::lifecycle::bench().await,
    }
}

/// `bench client`: the trino-client benchmark (`cargo bench -p trino-client --bench client`, optimised), with the
/// harness venv's official python client as the baseline it prints ratios against.
fn client() -> anyhow::Result<()> {
    let root = crate::common::workspace_root()?;
    let venv = Venv::ensure()?;
    crate::testcmd::cargo(
        &root,
        &["bench", "-p", "trino-client", "--bench", "client"],
        &[],
        &[("LAKE_PYTHON", venv.python().display().to_string())],
    )
}
