//! `cargo xtask events ...`: usage reports from Trino's query event log.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use chrono::NaiveDate;
use clap::{Args, Subcommand, ValueEnum};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use trino_catalogs::SecretRef;
use trino_ecs_core::config::LakeConfig;
use trino_ecs_core::events::{EventLogReader, TableAccess, TimeWindow, UsageReport};

use crate::common::Global;

/// `events` subcommands.
#[derive(Debug, Subcommand)]
pub enum EventsCmd {
    /// Queries per day, top users and sources, catalog and table usage, failures, latency percentiles,
    /// bytes scanned, the slowest queries, and each data source's share of the queries.
    Report(ReportArgs),
    /// Table-level access (queries, days, first/last access, bytes) as JSON Lines, for `lifecycle analyze`.
    TableAccess(TableAccessArgs),
}

/// Where the event log is and which days to read.
#[derive(Debug, Args)]
pub struct Source {
    /// First day (UTC, inclusive), `YYYY-MM-DD`.
    #[arg(long)]
    pub since: Option<NaiveDate>,
    /// Last day (UTC, inclusive), `YYYY-MM-DD`.
    #[arg(long)]
    pub until: Option<NaiveDate>,
    /// The event-log database, overriding `[event_log] url` of the lake config
    /// (`jdbc:mysql://host:3306/database` or `mysql://host:3306/database`).
    #[arg(long)]
    pub url: Option<String>,
    /// The database user, overriding `[event_log] user`.
    #[arg(long)]
    pub user: Option<String>,
    /// An environment variable holding the password, overriding `[event_log] password`.
    #[arg(long)]
    pub password_env: Option<String>,
}

/// Report output formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Output {
    /// Human-readable tables.
    Table,
    /// One JSON document.
    Json,
}

/// Arguments of `events report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub source: Source,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub output: Output,
    /// How many entries each ranking keeps.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

/// Arguments of `events table-access`.
#[derive(Debug, Args)]
pub struct TableAccessArgs {
    #[command(flatten)]
    pub source: Source,
    /// Write to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs an `events` subcommand.
pub async fn run(global: &Global, cmd: EventsCmd) -> anyhow::Result<()> {
    match cmd {
        EventsCmd::Report(args) => {
            let (reader, window, connectors) = open(global, &args.source)?;
            let (report, _) = reader.report(window, args.top, connectors).await?;
            reader.close().await;
            warn_skipped(&report);
            match args.output {
                Output::Json => outln!("{}", serde_json::to_string_pretty(&report)?),
                Output::Table => print_report(&report),
            }
            Ok(())
        }
        EventsCmd::TableAccess(args) => {
            let (reader, window, connectors) = open(global, &args.source)?;
            let (report, access) = reader.report(window, 1, connectors).await?;
            reader.close().await;
            warn_skipped(&report);
            write_access(&access, args.out.as_ref())
        }
    }
}

fn open(
    global: &Global,
    source: &Source,
) -> anyhow::Result<(EventLogReader, TimeWindow, BTreeMap<String, String>)> {
    if let (Some(since), Some(until)) = (source.since, source.until)
        && since > until
    {
        bail!("--since {since} is after --until {until}");
    }
    // The config is optional when --url and --user are given.
    let config = if source.url.is_some() && source.user.is_some() && !global.config.exists() {
        None
    } else {
        Some(global.load()?)
    };
    let log = config.as_ref().and_then(|c| c.event_log.as_ref());
    let url = source
        .url
        .clone()
        .or_else(|| log.map(|l| l.url.clone()))
        .with_context(|| {
            format!(
                "no event-log database: set [event_log] in {} or pass --url",
                global.config.display()
            )
        })?;
    let user = source
        .user
        .clone()
        .or_else(|| log.map(|l| l.user.clone()))
        .context("no event-log user: pass --user")?;
    let password = match (&source.password_env, log.and_then(|l| l.password.as_ref())) {
        (Some(var), _) => Some(env_secret(var, "--password-env")?),
        (None, Some(SecretRef::Env(var))) => Some(env_secret(var, "[event_log] password")?),
        (None, Some(SecretRef::Parameter(name))) => bail!(
            "[event_log] password = {{ parameter = {name:?} }}: reading the password from Parameter Store is not \
             supported by `events` yet; export it and pass --password-env VAR"
        ),
        (None, None) => None,
    };
    let reader = EventLogReader::new(&url, &user, password.as_deref())?;
    let window = TimeWindow {
        since: source.since,
        until: source.until,
    };
    Ok((reader, window, connectors(config.as_ref())))
}

/// Says on standard error that rows were left out, so a partial report is never mistaken for a full one.
fn warn_skipped(report: &UsageReport) {
    if report.skipped_rows == 0 {
        return;
    }
    let examples: Vec<&str> = report
        .skipped_examples
        .iter()
        .map(|s| s.query_id.as_str())
        .collect();
    eprintln!(
        "warning: {} event-log rows were skipped because they could not be decoded ({}); e.g. {}",
        report.skipped_rows,
        report
            .skipped_examples
            .first()
            .map_or("", |s| s.reason.as_str()),
        examples.join(", ")
    );
}

fn env_secret(var: &str, what: &str) -> anyhow::Result<String> {
    std::env::var(var).with_context(|| format!("{what}: environment variable {var} is not set"))
}

/// Catalog name -> connector, so shares can be reported per kind of data source.
fn connectors(config: Option<&LakeConfig>) -> BTreeMap<String, String> {
    config
        .map(|c| {
            c.catalogs
                .iter()
                .map(|(name, spec)| (name.clone(), spec.connector_name().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn write_access(access: &[TableAccess], out: Option<&PathBuf>) -> anyhow::Result<()> {
    let mut text = String::new();
    for row in access {
        text.push_str(&serde_json::to_string(row)?);
        text.push('\n');
    }
    match out {
        Some(path) => {
            // Write beside the target and rename, so a failed run never leaves a half-written file.
            let tmp = path.with_extension("partial");
            std::fs::write(&tmp, &text)
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            std::fs::rename(&tmp, path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {} tables to {}", access.len(), path.display());
        }
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    Ok(())
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_header(header.to_vec());
    t
}

fn pct(share: f64) -> String {
    format!("{:.1} %", share * 100.0)
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn print_report(r: &UsageReport) {
    let window = match (r.window.since, r.window.until) {
        (None, None) => "all days".to_owned(),
        (s, u) => format!(
            "{} .. {}",
            s.map_or("start".to_owned(), |d| d.to_string()),
            u.map_or("now".to_owned(), |d| d.to_string())
        ),
    };
    outln!("Trino usage, {window}");
    outln!(
        "{} queries by {} users, {} failed ({}); {} scanned, {} rows; CPU {:.1} h",
        r.total_queries,
        r.distinct_users,
        r.failed_queries,
        pct(r.failure_rate),
        bytes(r.bytes_scanned),
        r.rows_scanned,
        r.cpu_time_millis as f64 / 3_600_000.0
    );
    if r.skipped_rows > 0 {
        outln!(
            "{} rows skipped (undecodable inputs_json) and left out of every figure",
            r.skipped_rows
        );
    }
    let mut t = table(&["latency (ms)", "p50", "p95", "p99", "max"]);
    for (name, p) in [
        ("wall", r.wall_time_millis),
        ("queued", r.queued_time_millis),
    ] {
        t.add_row(vec![
            name.to_owned(),
            p.p50.to_string(),
            p.p95.to_string(),
            p.p99.to_string(),
            p.max.to_string(),
        ]);
    }
    outln!("{t}");

    let mut t = table(&["data source", "queries", "share of queries reading tables"]);
    for s in &r.data_source_share {
        t.add_row(vec![s.name.clone(), s.queries.to_string(), pct(s.share)]);
    }
    outln!("{t}");

    let mut t = table(&["day", "queries", "failed", "users"]);
    for d in &r.per_day {
        t.add_row(vec![
            d.day.to_string(),
            d.queries.to_string(),
            d.failed.to_string(),
            d.users.to_string(),
        ]);
    }
    outln!("{t}");

    for (title, rows) in [("user", &r.top_users), ("source", &r.top_sources)] {
        let mut t = table(&[title, "queries", "failed", "wall (s)", "scanned"]);
        for u in rows {
            t.add_row(vec![
                u.name.clone(),
                u.queries.to_string(),
                u.failed.to_string(),
                format!("{:.1}", u.wall_time_millis as f64 / 1000.0),
                bytes(u.bytes_scanned),
            ]);
        }
        outln!("{t}");
    }

    let mut t = table(&["catalog", "connector", "queries", "share", "scanned"]);
    for c in &r.catalogs {
        t.add_row(vec![
            c.catalog.clone(),
            c.connector.clone().unwrap_or_else(|| "-".to_owned()),
            c.queries.to_string(),
            pct(c.share),
            bytes(c.bytes_scanned),
        ]);
    }
    outln!("{t}");

    let mut t = table(&["table", "queries", "days", "last access (UTC)", "scanned"]);
    for a in &r.top_tables {
        t.add_row(vec![
            format!("{}.{}.{}", a.catalog, a.schema, a.table),
            a.queries.to_string(),
            a.days_accessed.to_string(),
            a.last_access.map_or("-".to_owned(), |t| t.to_string()),
            bytes(a.bytes_scanned),
        ]);
    }
    outln!("{t}");

    let mut t = table(&["failure type", "queries", "share of all"]);
    for c in &r.failures_by_type {
        t.add_row(vec![
            c.name.clone(),
            c.count.to_string(),
            pct(c.share_of_queries),
        ]);
    }
    outln!("{t}");
    let mut t = table(&["error", "queries"]);
    for c in &r.top_error_codes {
        t.add_row(vec![c.name.clone(), c.count.to_string()]);
    }
    outln!("{t}");

    let mut t = table(&["slowest", "user", "state", "wall (s)", "query"]);
    for s in &r.slowest {
        let head: String = s.query_head.chars().take(60).collect();
        t.add_row(vec![
            s.query_id.clone(),
            s.user.clone(),
            s.query_state.clone(),
            format!("{:.1}", s.wall_time_millis as f64 / 1000.0),
            head.replace(['\n', '\r', '\t'], " "),
        ]);
    }
    outln!("{t}");
}
