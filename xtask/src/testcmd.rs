//! `cargo xtask test`: every test, with the services the integration tests need.
//!
//! Unit tests run first, then the integration tests of the `lake-tests` package. Both runs select the whole
//! workspace, so cargo resolves one feature set and compiles every dependency once. Between the two, the
//! harness brings up one shared local lake ([`crate::lake`]: the emulator, MariaDB, PostgreSQL and a real
//! Trino cluster run by the local task runner); a service that cannot be had fails the run, saying why: no
//! test is skipped.

use std::process::Command;

use anyhow::{Context as _, bail};
use clap::Args;

use crate::harness::{Venv, ensure_jdk, find_jdk, show};

/// Arguments of `test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Only run tests whose name contains one of these filters (passed to the test binaries).
    pub filter: Vec<String>,
    /// Skip the unit tests (run only the integration tests).
    #[arg(long)]
    pub integration_only: bool,
    /// Leave the shared lake (Trino tasks, MariaDB, PostgreSQL, emulator) running after the tests and print how
    /// to stop it; the next run stops the databases before starting its own.
    #[arg(long)]
    pub keep: bool,
}

/// Runs `test`.
pub async fn run(args: TestArgs) -> anyhow::Result<()> {
    let root = crate::common::workspace_root()?;
    let filter = args.filter;

    if !args.integration_only {
        eprintln!("==> unit tests");
        cargo(
            &root,
            &["test", "--workspace", "--lib", "--bins"],
            &filter,
            &[],
        )?;
    }

    // The test binaries are built before Trino starts, so the compiler does not compete with three JVMs for
    // the machine's memory and cores.
    eprintln!("==> building the integration tests");
    cargo(
        &root,
        &["test", "--workspace", "--test", "*", "--no-run"],
        &[],
        &[],
    )?;

    eprintln!(
        "==> services: JDK, Trino, AWS emulator, MariaDB, PostgreSQL, and the shared local lake"
    );
    let jdk = find_jdk()?;
    ensure_jdk(&jdk)?;
    let lake = crate::lake::up(crate::lake::LakeOptions {
        config: root.join("examples").join("local.toml"),
        verbose: false,
    })
    .await?;
    let venv = Venv::ensure()?;
    let mut env = lake.env();
    env.push(("LAKE_PYTHON", venv.python().display().to_string()));
    env.push((
        "LAKE_XTASK_BIN",
        std::env::current_exe()
            .context("cannot find the xtask binary")?
            .display()
            .to_string(),
    ));

    eprintln!(
        "==> integration tests (emulator, MariaDB, PostgreSQL, JDK, python client, and real Trino {} at {})",
        lake.trino.version, lake.coordinator_url
    );
    // `--test '*'` runs every integration-test target (the `tests/` package and any crate's `tests/`
    // directory) but not the unit tests again; `--workspace` keeps the feature set of the first run. Cargo
    // runs on a blocking thread so the runner keeps reconciling the tasks meanwhile.
    let result = {
        let root = root.clone();
        tokio::task::spawn_blocking(move || {
            cargo(
                &root,
                &["test", "--workspace", "--test", "*"],
                &filter,
                &env,
            )
        })
        .await?
    };
    eprintln!(
        "==> stopping the shared lake (Trino task logs stay in {})",
        show(&lake.runner_log)
    );
    // The servers stop here, after the tests, whatever their outcome, unless asked to stay.
    if args.keep {
        eprintln!("harness: {}", lake.keep().await?);
    } else {
        lake.down().await?;
    }
    result
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
