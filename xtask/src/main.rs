//! `cargo xtask`: the one command surface of the lake tools.
//!
//! This binary only composes the libraries: it parses arguments, loads the lake config, builds the AWS SDK
//! config, calls the library, and prints. Errors are printed once, with their chain, and exit non-zero.

/// `println!` for command output: when the reader goes away (`cargo xtask check | head -1`) the output ends
/// quietly, as other Unix tools do, instead of panicking with "failed printing to stdout".
macro_rules! outln {
    () => {
        $crate::common::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::common::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for command output; see [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::common::write_stdout(format_args!($($arg)*))
    };
}

mod bench;
mod catalog;
mod cluster;
mod common;
mod events;
mod harness;
mod lake;
mod lifecycle;
mod local;
mod output;
mod query;
mod testcmd;

use clap::{Parser, Subcommand};

use common::Global;

/// Run Trino on AWS ECS as the data lake: deploy, catalogs, S3 lifecycle, queries, usage reports.
#[derive(Debug, Parser)]
#[command(
    name = "xtask",
    bin_name = "cargo xtask",
    version,
    propagate_version = true
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate the lake config file and summarise what it describes.
    Check,
    /// Show what `deploy` would change, without changing anything.
    Plan(cluster::PlanArgs),
    /// Create or update the cluster described by the lake config.
    Deploy(cluster::DeployArgs),
    /// Move the services back to a retained revision with its own files (undo the last deploy by default).
    Rollback(cluster::RollbackArgs),
    /// Show the services, tasks, autoscaling, retained revisions and the coordinator's state.
    Status(cluster::StatusArgs),
    /// Change the number of workers, draining the ones that go away.
    Scale(cluster::ScaleArgs),
    /// Manage catalogs in Parameter Store.
    #[command(subcommand)]
    Catalog(catalog::CatalogCmd),
    /// Classify S3 access and plan, validate and apply lifecycle policies.
    #[command(subcommand)]
    Lifecycle(lifecycle::LifecycleCmd),
    /// Run SQL against a Trino coordinator.
    Query(query::QueryArgs),
    /// Usage reports from Trino's query event log.
    #[command(subcommand)]
    Events(events::EventsCmd),
    /// Start the local AWS emulator and run the main job (deploy) against it.
    Local(local::LocalArgs),
    /// Run every test: unit tests, then integration tests against the emulator and databases.
    Test(testcmd::TestArgs),
    /// Run a benchmark and print its figures against a baseline measured in the same run.
    #[command(subcommand)]
    Bench(bench::BenchCmd),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LAKE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // The reader of our output went away (`| head`): nothing is wrong, nobody is listening.
        Err(error) if common::is_broken_pipe(&error) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let global = &cli.global;
    match cli.command {
        Command::Check => check(global),
        Command::Plan(args) => cluster::plan(global, args).await,
        Command::Deploy(args) => cluster::deploy(global, args).await,
        Command::Rollback(args) => cluster::rollback(global, args).await,
        Command::Status(args) => cluster::status(global, args).await,
        Command::Scale(args) => cluster::scale(global, args).await,
        Command::Catalog(cmd) => catalog::run(global, cmd).await,
        Command::Lifecycle(cmd) => lifecycle::run(global, cmd).await,
        Command::Query(args) => query::run(global, args).await,
        Command::Events(cmd) => events::run(global, cmd).await,
        Command::Local(args) => local::run(global, args).await,
        Command::Test(args) => testcmd::run(args).await,
        Command::Bench(cmd) => bench::run(cmd).await,
    }
}

fn check(global: &Global) -> anyhow::Result<()> {
    let config = global.load()?;
    let cluster = &config.cluster;
    outln!("{}: valid", global.config.display());
    outln!(
        "  target     {} {}",
        config.aws.region,
        config
            .aws
            .endpoint_url
            .as_deref()
            .map_or("(real AWS)".to_owned(), |e| format!("(emulator at {e})"))
    );
    outln!(
        "  cluster    {} running {} on {:?}",
        cluster.name,
        cluster.image,
        cluster.launch_type
    );
    outln!(
        "  workers    {}..={} (first deploy: {}), {} CPU units / {} MiB each",
        cluster.workers.min,
        cluster.workers.max,
        config.initial_workers(),
        cluster.workers.cpu,
        cluster.workers.memory
    );
    let names: Vec<&str> = config.catalogs.keys().map(String::as_str).collect();
    outln!(
        "  catalogs   {}",
        if names.is_empty() {
            "(none)".to_owned()
        } else {
            names.join(", ")
        }
    );
    if let Some(lake) = &config.lake {
        outln!(
            "  lake       s3://{}/{}",
            lake.bucket,
            lake.warehouse_prefix
        );
    }
    if let Some(log) = &config.event_log {
        outln!("  event log  {}", log.url);
    }
    Ok(())
}
