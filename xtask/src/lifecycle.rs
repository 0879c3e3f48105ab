//! `cargo xtask lifecycle ...`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use lake_lifecycle::policy::PolicyDocument;

use crate::common::Global;

/// `lifecycle` subcommands.
#[derive(Debug, Subcommand)]
pub enum LifecycleCmd {
    /// Check a lifecycle/Intelligent-Tiering policy file against AWS's rules; exits non-zero on any violation.
    Validate {
        /// The policy file (AWS JSON shape). Default: the `lake.lifecycle_policy` of the lake config.
        file: Option<PathBuf>,
    },
}

/// Runs a `lifecycle` subcommand.
pub async fn run(global: &Global, cmd: LifecycleCmd) -> anyhow::Result<()> {
    match cmd {
        LifecycleCmd::Validate { file } => validate(global, file),
    }
}

fn policy_path(global: &Global, file: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(file) = file {
        return Ok(file);
    }
    let config = global.load()?;
    config.lifecycle_policy_path().with_context(|| {
        format!(
            "{} has no [lake] lifecycle_policy; pass the policy file",
            global.config.display()
        )
    })
}

fn validate(global: &Global, file: Option<PathBuf>) -> anyhow::Result<()> {
    let path = policy_path(global, file)?;
    let doc = PolicyDocument::load(&path)?;
    let violations = lake_lifecycle::validate::validate(&doc);
    if violations.is_empty() {
        println!(
            "{}: valid ({} lifecycle rule(s), {} Intelligent-Tiering configuration(s))",
            path.display(),
            doc.rules.len(),
            doc.intelligent_tiering.len()
        );
        return Ok(());
    }
    for v in &violations {
        println!("{}: {v}", path.display());
    }
    anyhow::bail!(
        "{}: {} violation(s) of AWS's lifecycle rules",
        path.display(),
        violations.len()
    )
}
