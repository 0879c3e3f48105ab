//! `cargo xtask test`: every test, with the emulator and databases the integration tests need.
//!
//! Unit tests run first, then the integration tests of the `lake-tests` package. Both runs select the whole
//! workspace, so cargo resolves one feature set and compiles every dependency once.

use std::process::Command;

use anyhow::{Context as _, bail};
use clap::Args;

use crate::harness::{Emulator, Venv, ensure_databases, ensure_jdk};

/// Arguments of `test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Only run tests whose name contains this filter (passed to the test binaries).
    pub filter: Option<String>,
    /// Skip the unit tests (run only the integration tests).
    #[arg(long)]
    pub integration_only: bool,
}

/// Runs `test`.
pub async fn run(args: TestArgs) -> anyhow::Result<()> {
    let root = crate::common::workspace_root()?;
    let filter: Vec<String> = args.filter.into_iter().collect();

    if !args.integration_only {
        eprintln!("==> unit tests");
        cargo(
            &root,
            &["test", "--workspace", "--lib", "--bins"],
            &filter,
            &[],
        )?;
    }

    eprintln!("==> starting the AWS emulator and checking the databases");
    let venv = Venv::ensure()?;
    ensure_databases()?;
    ensure_jdk()?;
    let emulator = Emulator::start(&venv)?;
    eprintln!("harness: moto server at {}", emulator.endpoint);
    let mut env = emulator.env();
    env.push(("LAKE_PYTHON", venv.python().display().to_string()));

    eprintln!("==> integration tests (emulator, MariaDB, PostgreSQL, JDK, python client)");
    // `--test '*'` runs every integration-test target (the `tests/` package and any crate's `tests/`
    // directory) but not the unit tests again; `--workspace` keeps the feature set of the first run.
    cargo(
        &root,
        &["test", "--workspace", "--test", "*"],
        &filter,
        &env,
    )
}

/// Runs `cargo ARGS [-- FILTER...]` in the workspace root with extra environment variables; fails on a non-zero
/// exit.
pub fn cargo(
    root: &std::path::Path,
    args: &[&str],
    filter: &[String],
    env: &[(&str, String)],
) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(&cargo);
    command.current_dir(root).args(args);
    if !filter.is_empty() {
        command.arg("--").args(filter);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let status = command
        .status()
        .with_context(|| format!("cannot run {cargo} {}", args.join(" ")))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}
