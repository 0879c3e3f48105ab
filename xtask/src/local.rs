//! `cargo xtask local`: the main job for real: a local lake (emulator, databases, deploy, Trino tasks run by
//! the local task runner), demo data, one federated query, and the status of the running cluster.

use std::path::PathBuf;

use clap::Args;

use anyhow::Context as _;

use crate::common::{Global, workspace_root};

/// Arguments of `local`.
#[derive(Debug, Args)]
pub struct LocalArgs {
    /// The lake config to deploy into the emulator.
    #[arg(long, default_value = "examples/local.toml")]
    pub local_config: PathBuf,
    /// Leave the lake (Trino tasks, databases, emulator) running after the job and print how to use and stop it.
    #[arg(long)]
    pub keep: bool,
}

/// Runs `local`: a real local lake, one federated query over it, its status, then (without `--keep`)
/// everything stopped again.
pub async fn run(_global: &Global, args: LocalArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let root = workspace_root()?;
    let path = if args.local_config.is_absolute() {
        args.local_config.clone()
    } else {
        root.join(&args.local_config)
    };
    let lake = crate::lake::up(crate::lake::LakeOptions {
        config: path,
        verbose: true,
    })
    .await?;
    let result = demo(&lake).await;
    if args.keep && result.is_ok() {
        let url = lake.coordinator_url.clone();
        let config = lake.config_path.clone();
        let how_to_stop = lake.keep().await?;
        outln!(
            "\nthe lake is left running ({:.0} s so far):",
            started.elapsed().as_secs_f64()
        );
        outln!("  query it:   cargo xtask query --server {url} \"SHOW CATALOGS\"");
        outln!("  web UI:     {url}/ui/ (any user name; no password on the local lake)");
        outln!("  its config: cargo xtask -c {} status", config.display());
        outln!("  {}", how_to_stop.replace('\n', "\n  "));
        return Ok(());
    }
    lake.down().await?;
    outln!(
        "local lake stopped; whole run {:.0} s",
        started.elapsed().as_secs_f64()
    );
    result
}

/// Seeds the demo tables through Trino, runs the federated query and prints it, then the status.
async fn demo(lake: &crate::lake::LocalLake) -> anyhow::Result<()> {
    use trino_ecs_core::demo;
    let catalogs = demo_catalogs(&lake.config)?;
    let client = lake.client("lake-demo")?;
    outln!("--- seeding demo data through Trino ---");
    for sql in demo::seed_statements(&catalogs) {
        let short: String = sql.chars().take(100).collect();
        outln!("  {short}{}", if sql.len() > 100 { " ..." } else { "" });
        client
            .fetch_all(&sql)
            .await
            .with_context(|| format!("seeding the demo data: {short}"))?;
    }
    let sql = demo::federated_query(&catalogs);
    outln!("--- one federated query over MariaDB, PostgreSQL and Iceberg on S3 ---\n{sql}");
    let result = client
        .fetch_all(&sql)
        .await
        .context("the federated query")?;
    let mut table = Vec::new();
    let mut printer = crate::output::Printer::new(crate::output::OutputFormat::Markdown, false);
    printer.rows(&mut table, &result.rows)?;
    printer.finish(&mut table, result.status.columns.as_deref())?;
    out!("{}", String::from_utf8_lossy(&table));
    outln!("--- status ---");
    outln!("tasks (run by the local task runner):");
    for line in lake.task_lines().await {
        outln!("  {line}");
    }
    let nodes = client
        .fetch_all("SELECT node_id, http_uri, node_version, coordinator, state FROM system.runtime.nodes ORDER BY coordinator DESC, node_id")
        .await
        .context("reading system.runtime.nodes")?;
    outln!("Trino nodes:");
    for row in &nodes.rows {
        let cells: Vec<String> = row.values().iter().map(|v| v.to_string()).collect();
        outln!("  {}", cells.join("  "));
    }
    Ok(())
}

/// The demo's catalogs: the config's MySQL, PostgreSQL and Iceberg catalogs.
fn demo_catalogs(
    config: &trino_ecs_core::config::LakeConfig,
) -> anyhow::Result<trino_ecs_core::demo::DemoCatalogs> {
    use trino_catalogs::spec::CatalogSpec;
    let find = |want: fn(&CatalogSpec) -> bool, what: &str| {
        config
            .catalogs
            .iter()
            .find(|(_, spec)| want(spec))
            .map(|(name, spec)| (name.clone(), spec.clone()))
            .with_context(|| format!("the local lake config declares no {what} catalog"))
    };
    let (mysql, _) = find(|s| matches!(s, CatalogSpec::Mysql(_)), "mysql")?;
    let (postgresql, _) = find(|s| matches!(s, CatalogSpec::Postgresql(_)), "postgresql")?;
    let (iceberg, spec) = find(|s| matches!(s, CatalogSpec::Iceberg(_)), "iceberg")?;
    let CatalogSpec::Iceberg(ice) = spec else {
        unreachable!("found by its connector")
    };
    Ok(trino_ecs_core::demo::DemoCatalogs {
        mysql,
        postgresql,
        iceberg,
        iceberg_location: ice.warehouse.trim_end_matches('/').to_owned(),
        schema: trino_ecs_core::demo::SCHEMA.to_owned(),
    })
}

/// An `SdkConfig` for the emulator only: its endpoint, fake static credentials, and none of the developer's
/// profiles or instance credentials.
pub async fn emulator_sdk_config(
    config: &trino_ecs_core::config::LakeConfig,
    endpoint: &str,
) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(config.aws.region.clone()))
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "lake-emulator",
        ))
        .load()
        .await
}
