//! `cargo xtask lifecycle ...`: validate, analyze, report, plan and apply S3 lifecycle + Intelligent-Tiering
//! policies. Glue only: the logic lives in the `lake-lifecycle` crate.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use comfy_table::Table;
use lake_lifecycle::classify::{Classifier, PrefixScheme, Thresholds};
use lake_lifecycle::cost::{CostBreakdown, PriceTable};
use lake_lifecycle::evidence::{
    InventorySchema, TableAccess, TableLocation, parse_access_log_line, read_inventory_csv,
};
use lake_lifecycle::glue::GlueTableLocations;
use lake_lifecycle::plan::{apply, plan};
use lake_lifecycle::policy::PolicyDocument;
use lake_lifecycle::recommend::{MIN_EVIDENCE_DAYS, compare, recommend};
use lake_lifecycle::s3::S3PolicyStore;
use lake_lifecycle::store::PolicyStore;
use lake_lifecycle::trace::{TraceBuilder, TraceConfig, generate};

use crate::common::{Global, sdk_config};

/// `lifecycle` subcommands.
#[derive(Debug, Subcommand)]
pub enum LifecycleCmd {
    /// Check a lifecycle/Intelligent-Tiering policy file against AWS's rules; exits non-zero on any violation.
    Validate {
        /// The policy file (AWS JSON shape). Default: the `lake.lifecycle_policy` of the lake config.
        file: Option<PathBuf>,
    },
    /// Classify prefixes hot/warm/cold/archive from S3 Inventory CSV and server access logs (local files).
    Analyze(AnalyzeArgs),
    /// Model the cost of the recommended policy against all-STANDARD, all-Intelligent-Tiering and fixed age rules
    /// on a generated 12-month Iceberg lake trace, and print the table.
    Report(ReportArgs),
    /// Show the diff between the policy file and the bucket's current configuration.
    Plan(TargetArgs),
    /// Write the policy file's configuration to the bucket.
    Apply {
        #[command(flatten)]
        target: TargetArgs,
        /// Allow rules that expire (delete) objects. Without it, apply refuses a plan that adds or changes one.
        #[arg(long)]
        confirm_expiration: bool,
    },
}

/// Which bucket and policy.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The policy file. Default: the `lake.lifecycle_policy` of the lake config.
    #[arg(long)]
    file: Option<PathBuf>,
    /// The bucket. Default: `lake.bucket` of the lake config.
    #[arg(long)]
    bucket: Option<String>,
    /// Leave Intelligent-Tiering configurations alone (e.g. against moto, which does not implement their API).
    #[arg(long)]
    skip_intelligent_tiering: bool,
}

/// Evidence files and grouping.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// S3 Inventory CSV files (uncompressed, no header).
    #[arg(long)]
    inventory: Vec<PathBuf>,
    /// The inventory manifest's `fileSchema`.
    #[arg(
        long,
        default_value = "Bucket, Key, Size, LastModifiedDate, StorageClass"
    )]
    inventory_schema: String,
    /// Server access log files, or directories of them.
    #[arg(long)]
    access_log: Vec<PathBuf>,
    /// Table access from Trino's event log (JSON Lines, as `cargo xtask events table-access --out FILE`
    /// writes): each table of an Iceberg catalog of the lake config is located through Glue, and its
    /// `metadata/` prefix counts the queries that read it.
    #[arg(long)]
    table_access: Vec<PathBuf>,
    /// Judge "now" at this time (RFC 3339). Default: the current time.
    #[arg(long)]
    now: Option<String>,
    /// Path segments per prefix outside Iceberg layouts.
    #[arg(long, default_value_t = 3)]
    depth: usize,
    /// Partition directories per prefix under an Iceberg table's `data/`.
    #[arg(long, default_value_t = 1)]
    partition_depth: usize,
    /// Do not recognise Iceberg `metadata/` and `data/` layouts.
    #[arg(long)]
    no_iceberg: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also learn a policy from this evidence (cheapest valid rule per table, no retrieval fee on hot data, no
    /// archive of data still read) and write it here, in AWS's JSON shape. Needs an inventory schema with
    /// LastModifiedDate and access logs spanning at least 30 days.
    #[arg(long)]
    write_policy: Option<PathBuf>,
}

/// Report options.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Trace generator seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Write the recommended policy (AWS JSON) here.
    #[arg(long)]
    write_policy: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

/// Runs a `lifecycle` subcommand.
pub async fn run(global: &Global, cmd: LifecycleCmd) -> anyhow::Result<()> {
    match cmd {
        LifecycleCmd::Validate { file } => validate(global, file),
        LifecycleCmd::Analyze(args) => {
            let located = locate_table_access(global, &args.table_access).await?;
            analyze(args, &located)
        }
        LifecycleCmd::Report(args) => report(args),
        LifecycleCmd::Plan(target) => plan_or_apply(global, target, None).await,
        LifecycleCmd::Apply {
            target,
            confirm_expiration,
        } => plan_or_apply(global, target, Some(confirm_expiration)).await,
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
        outln!(
            "{}: valid ({} lifecycle rule(s), {} Intelligent-Tiering configuration(s))",
            path.display(),
            doc.rules.len(),
            doc.intelligent_tiering.len()
        );
        return Ok(());
    }
    for v in &violations {
        outln!("{}: {v}", path.display());
    }
    anyhow::bail!(
        "{}: {} violation(s) of AWS's lifecycle rules",
        path.display(),
        violations.len()
    )
}

async fn plan_or_apply(
    global: &Global,
    target: TargetArgs,
    confirm_expiration: Option<bool>,
) -> anyhow::Result<()> {
    let config = global.load()?;
    let path = match target.file {
        Some(file) => file,
        None => config
            .lifecycle_policy_path()
            .context("the lake config has no [lake] lifecycle_policy; pass --file")?,
    };
    let bucket = match target.bucket {
        Some(bucket) => bucket,
        None => config
            .lake
            .as_ref()
            .map(|l| l.bucket.clone())
            .context("the lake config has no [lake] bucket; pass --bucket")?,
    };
    let mut desired = PolicyDocument::load(&path)?;
    let sdk = sdk_config(&config).await?;
    let s3 = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(config.aws.endpoint_url.is_some())
        .build();
    let store = S3PolicyStore::new(aws_sdk_s3::Client::from_conf(s3));
    let current = if target.skip_intelligent_tiering {
        desired.intelligent_tiering.clear();
        store.get_lifecycle(&bucket).await?
    } else {
        store.get(&bucket).await?
    };
    let plan = plan(&bucket, &desired, &current)
        .with_context(|| format!("planning {} for bucket {bucket}", path.display()))?;
    out!("{plan}");
    if let Some(confirm) = confirm_expiration {
        let applied = apply(&store, &plan, confirm).await?;
        outln!("applied {applied} change(s) to bucket {bucket}");
    }
    Ok(())
}

fn files_in(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("reading directory {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            entries.sort();
            out.extend(entries);
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

/// Reads `events table-access` files and locates their tables through Glue (nothing to do without files).
async fn locate_table_access(
    global: &Global,
    files: &[PathBuf],
) -> anyhow::Result<Vec<(TableAccess, TableLocation)>> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let mut accesses = Vec::new();
    for path in files {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            accesses.push(serde_json::from_str::<TableAccess>(line).with_context(|| {
                format!(
                    "{}:{}: not a table-access line (as `cargo xtask events table-access` writes)",
                    path.display(),
                    i + 1
                )
            })?);
        }
    }
    let config = global.load()?;
    let glue_catalogs: std::collections::BTreeSet<String> = config
        .catalogs
        .iter()
        .filter(|(_, spec)| matches!(spec, trino_catalogs::CatalogSpec::Iceberg(_)))
        .map(|(name, _)| name.clone())
        .collect();
    let sdk = sdk_config(&config).await?;
    let glue = GlueTableLocations::new(aws_sdk_glue::Client::new(&sdk));
    let located = glue.locate_all(accesses, &glue_catalogs).await?;
    for (table, why) in &located.skipped {
        eprintln!("table access: {table} left out: {why}");
    }
    Ok(located.located)
}

fn analyze(args: AnalyzeArgs, table_access: &[(TableAccess, TableLocation)]) -> anyhow::Result<()> {
    anyhow::ensure!(
        !args.inventory.is_empty() || !args.access_log.is_empty() || !table_access.is_empty(),
        "give evidence: --inventory FILE, --access-log FILE|DIR and/or --table-access FILE"
    );
    let now = match &args.now {
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .with_context(|| format!("--now {text:?} is not RFC 3339 (e.g. 2026-06-01T00:00:00Z)"))?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    let scheme = PrefixScheme {
        depth: args.depth,
        iceberg: !args.no_iceberg,
        partition_depth: args.partition_depth,
    };
    let schema = InventorySchema::from_file_schema(&args.inventory_schema)?;
    if args.write_policy.is_some() {
        // Checked before reading anything: the learner dates every object by LastModifiedDate, so without the
        // column every inventory row would be left out and the policy learned from nothing.
        anyhow::ensure!(
            schema.has_last_modified(),
            "--write-policy needs the inventory's LastModifiedDate column (a partition's age is its objects' last-modified date), but --inventory-schema {:?} has none: enable the LastModifiedDate field in the S3 Inventory configuration and pass the manifest's fileSchema",
            args.inventory_schema
        );
        anyhow::ensure!(
            !args.inventory.is_empty() && !args.access_log.is_empty(),
            "--write-policy learns from both S3 Inventory (--inventory: what exists, how old) and server access logs (--access-log: what is read); give both"
        );
    }
    let mut classifier = Classifier::new(scheme.clone(), Thresholds::default(), now);
    // The same evidence, as a trace the recommender can learn from (only with --write-policy).
    let mut learner = args
        .write_policy
        .as_ref()
        .map(|_| PolicyLearner::new(scheme));
    for path in files_in(&args.inventory)? {
        let file =
            std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
        read_inventory_csv(
            &path.display().to_string(),
            &schema,
            std::io::BufReader::new(file),
            |row| {
                classifier.add_inventory(&row);
                if let Some(learner) = &mut learner
                    && learner.error.is_none()
                    && let Err(e) = learner.add_inventory(&row)
                {
                    learner.error = Some(e);
                }
            },
        )?;
    }
    for path in files_in(&args.access_log)? {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let origin = path.display().to_string();
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let record = parse_access_log_line(&origin, i as u64 + 1, line)?;
            classifier.add_access(&record);
            if let Some(learner) = &mut learner {
                learner.add_access(&record)?;
            }
        }
    }
    for (access, location) in table_access {
        classifier.add_table_access(access, location);
    }
    let classes = classifier.finish();
    if let (Some(learner), Some(path)) = (learner, &args.write_policy) {
        learner.write(path)?;
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&classes)?);
        return Ok(());
    }
    let mut table = Table::new();
    table.set_header([
        "bucket",
        "prefix",
        "class",
        "objects",
        "GiB",
        "<128KB",
        "reads",
        "last read",
        "why",
    ]);
    for c in &classes {
        table.add_row([
            c.bucket.clone(),
            c.prefix.clone(),
            c.temperature.to_string(),
            c.stats.objects.to_string(),
            format!("{:.2}", c.stats.bytes as f64 / (1u64 << 30) as f64),
            c.stats.small_objects.to_string(),
            c.stats.reads.to_string(),
            c.stats
                .last_access
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_else(|| "-".into()),
            c.reasons.join("; "),
        ]);
    }
    outln!("{table}");
    Ok(())
}

/// Feeds inventory rows and access-log reads of Iceberg tables into a [`TraceBuilder`], so `analyze --write-policy`
/// learns a policy from the bucket's own history with the same recommender `report` uses.
struct PolicyLearner {
    scheme: PrefixScheme,
    builder: TraceBuilder,
    buckets: std::collections::BTreeSet<String>,
    skipped_keys: u64,
    /// The first error of the inventory callback (which cannot return one).
    error: Option<lake_lifecycle::Error>,
}

impl PolicyLearner {
    fn new(scheme: PrefixScheme) -> PolicyLearner {
        PolicyLearner {
            // The learner writes rules for Iceberg tables' `data/` prefixes, so it must recognise their `metadata/`
            // even under --no-iceberg (which only changes how the classifier groups keys): a rule must never cover it.
            scheme: PrefixScheme {
                iceberg: true,
                ..scheme
            },
            builder: TraceBuilder::new(),
            buckets: Default::default(),
            skipped_keys: 0,
            error: None,
        }
    }

    /// The prefix of an Iceberg table key (`<table>/data/...` or `<table>/metadata/...`); other keys are counted
    /// and left out, since the recommender writes rules for a table's `data/` prefix.
    fn prefix<'k>(&mut self, key: &'k str) -> Option<(&'k str, bool)> {
        let (prefix, metadata) = self.scheme.prefix_of(key);
        if metadata || prefix.contains("/data/") {
            Some((prefix, metadata))
        } else {
            self.skipped_keys += 1;
            None
        }
    }

    fn add_inventory(
        &mut self,
        row: &lake_lifecycle::evidence::InventoryRow,
    ) -> lake_lifecycle::Result<()> {
        // `analyze` refuses a schema without LastModifiedDate up front, so only older versions are left out here.
        let Some(modified) = row.last_modified.filter(|_| row.is_latest) else {
            return Ok(());
        };
        self.buckets.insert(row.bucket.clone());
        if let Some((prefix, metadata)) = self.prefix(&row.key) {
            self.builder
                .add_object(prefix, metadata, modified.date_naive(), row.size)?;
        }
        Ok(())
    }

    fn add_access(
        &mut self,
        record: &lake_lifecycle::evidence::AccessLogRecord<'_>,
    ) -> lake_lifecycle::Result<()> {
        let Some(key) = record.key.as_deref().filter(|_| record.is_read()) else {
            return Ok(());
        };
        self.buckets.insert(record.bucket.to_owned());
        if let Some((prefix, metadata)) = self.prefix(key) {
            self.builder.add_read(
                prefix,
                metadata,
                record.time.date_naive(),
                record.bytes_sent,
            )?;
        }
        Ok(())
    }

    fn write(self, path: &Path) -> anyhow::Result<()> {
        if let Some(e) = self.error {
            return Err(e.into());
        }
        anyhow::ensure!(
            self.buckets.len() <= 1,
            "--write-policy learns one bucket's policy, but the evidence covers {} buckets ({}); give one bucket's inventory and logs",
            self.buckets.len(),
            self.buckets.iter().cloned().collect::<Vec<_>>().join(", ")
        );
        let trace = self.builder.build();
        anyhow::ensure!(
            !trace.groups.is_empty() && !trace.reads.is_empty(),
            "--write-policy needs inventory rows and access-log reads of Iceberg tables (<table>/data/ and <table>/metadata/ keys); found {} object group(s) and {} read(s)",
            trace.groups.len(),
            trace.reads.len()
        );
        let window = trace.end_day - trace.start_day;
        anyhow::ensure!(
            window >= MIN_EVIDENCE_DAYS,
            "--write-policy needs access logs spanning at least {MIN_EVIDENCE_DAYS} days to learn from, but the reads span {window} day(s) ({} to {}): in a shorter window a single read makes that partition age look regularly read (hot); give more days of server access logs",
            lake_lifecycle::trace::date_of(trace.start_day),
            lake_lifecycle::trace::date_of(trace.end_day - 1)
        );
        let prices = PriceTable::us_east_1();
        let (doc, choices, _) = recommend(&trace, &prices, trace.start_day, trace.end_day);
        let violations = lake_lifecycle::validate::validate(&doc);
        anyhow::ensure!(
            violations.is_empty(),
            "the learned policy breaks AWS's rules (a bug): {violations:?}"
        );
        eprintln!(
            "learned from {} table(s), {} object group(s), {} group-day read(s) over {} day(s){}:",
            trace.tables.len(),
            trace.groups.len(),
            trace.reads.len(),
            trace.end_day - trace.start_day,
            if self.skipped_keys > 0 {
                format!(
                    "; {} key(s) outside Iceberg layouts left out",
                    self.skipped_keys
                )
            } else {
                String::new()
            }
        );
        for choice in &choices {
            eprintln!("{}", choice.table);
            for reason in &choice.reasons {
                eprintln!("  - {reason}");
            }
        }
        write_policy(path, &doc)
    }
}

fn money(x: f64) -> String {
    format!("{x:.2}")
}

fn report(args: ReportArgs) -> anyhow::Result<()> {
    let prices = PriceTable::us_east_1();
    let trace = generate(&TraceConfig::iceberg_lake(args.seed));
    let cmp = compare(&trace, &prices, trace.start_day - 365);
    if let Some(path) = &args.write_policy {
        write_policy(path, &cmp.recommended)?;
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&cmp)?);
        return Ok(());
    }
    outln!(
        "Generated Iceberg lake (seed {}): {} tables, {} object groups, {} group-day reads; policies learned on days -365..0, evaluated on days 0..365.",
        args.seed,
        trace.tables.len(),
        trace.groups.len(),
        trace.reads.len()
    );
    outln!(
        "Prices: {} ({}), {}; as of {}\n",
        prices.region,
        prices.currency,
        prices.source,
        prices.as_of
    );
    let base = cmp.rows[0].report.total.total();
    let mut table = Table::new();
    table.set_header([
        "strategy",
        "storage",
        "requests",
        "transitions",
        "retrieval",
        "IT monitoring",
        "early",
        "total",
        "vs STANDARD",
        "hot retrieval GiB",
        "blocked reads",
    ]);
    for (i, row) in cmp.rows.iter().enumerate() {
        let t: &CostBreakdown = &row.report.total;
        let mark = match (i == cmp.best_fixed, i == cmp.best_viable_fixed) {
            (true, true) => " (best fixed)",
            (true, false) => " (cheapest fixed, blocks reads)",
            (false, true) => " (best fixed without blocked reads)",
            _ => "",
        };
        table.add_row([
            format!("{}{mark}", row.name),
            money(t.storage),
            money(t.requests),
            money(t.transitions),
            money(t.retrieval),
            money(t.monitoring),
            money(t.early),
            money(t.total()),
            format!("{:+.1}%", (t.total() / base - 1.0) * 100.0),
            format!(
                "{:.1}",
                row.report.hot_retrieval_bytes as f64 / (1u64 << 30) as f64
            ),
            row.report.blocked_reads.to_string(),
        ]);
    }
    outln!("{table}\n");
    let rec = cmp.rows.last().context("the comparison has rows")?;
    let mut months = Table::new();
    months.set_header([
        "month",
        "all STANDARD",
        "recommended",
        "storage",
        "transitions",
        "retrieval",
        "saving",
    ]);
    for (m, (s, r)) in cmp.rows[0]
        .report
        .months
        .iter()
        .zip(&rec.report.months)
        .enumerate()
    {
        months.add_row([
            (m + 1).to_string(),
            money(s.total()),
            money(r.total()),
            money(r.storage),
            money(r.transitions),
            money(r.retrieval),
            format!("{:.1}%", (1.0 - r.total() / s.total()) * 100.0),
        ]);
    }
    outln!("Recommended policy, month by month:\n{months}\n");
    for choice in &cmp.choices {
        outln!("{}", choice.table);
        for reason in &choice.reasons {
            outln!("  - {reason}");
        }
    }
    let rec_total = rec.report.total.total();
    let it = cmp.rows[1].report.total.total();
    let fixed = cmp.rows[cmp.best_fixed].report.total.total();
    let viable = cmp.rows[cmp.best_viable_fixed].report.total.total();
    outln!(
        "\nrecommended {} vs everything-in-IT {} ({:+.1}%); vs cheapest fixed rule '{}' {} ({:+.1}%, {} blocked reads); vs cheapest fixed rule without blocked reads '{}' {} ({:+.1}%)",
        money(rec_total),
        money(it),
        (rec_total / it - 1.0) * 100.0,
        cmp.rows[cmp.best_fixed].name,
        money(fixed),
        (rec_total / fixed - 1.0) * 100.0,
        cmp.rows[cmp.best_fixed].report.blocked_reads,
        cmp.rows[cmp.best_viable_fixed].name,
        money(viable),
        (rec_total / viable - 1.0) * 100.0,
    );
    outln!(
        "recommended: hot-data retrieval {} bytes, blocked reads {}",
        rec.report.hot_retrieval_bytes,
        rec.report.blocked_reads
    );
    anyhow::ensure!(
        rec_total < it
            && rec_total < fixed
            && rec_total < viable
            && rec.report.hot_retrieval_bytes == 0
            && rec.report.blocked_reads == 0,
        "the recommended policy does not beat every baseline without hot retrieval on this trace"
    );
    Ok(())
}

fn write_policy(path: &Path, doc: &PolicyDocument) -> anyhow::Result<()> {
    std::fs::write(path, doc.to_json_pretty() + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote the recommended policy to {}", path.display());
    Ok(())
}

/// `cargo xtask bench lifecycle`: classify 1M inventory rows + 1M access-log lines and print rows/s.
pub async fn bench() -> anyhow::Result<()> {
    let figures =
        tokio::task::spawn_blocking(|| lake_lifecycle::bench::run(1_000_000, 1_000_000)).await??;
    outln!(
        "inventory CSV: {} rows ({:.1} MB) in {:.3} s = {:.0} rows/s",
        figures.inventory_rows,
        figures.input_bytes.0 as f64 / 1e6,
        figures.inventory_time.as_secs_f64(),
        figures.inventory_rows_per_sec()
    );
    outln!(
        "access log: {} lines ({:.1} MB) in {:.3} s = {:.0} lines/s",
        figures.log_lines,
        figures.input_bytes.1 as f64 / 1e6,
        figures.log_time.as_secs_f64(),
        figures.log_lines_per_sec()
    );
    outln!("prefixes classified: {}", figures.prefixes);
    if cfg!(debug_assertions) {
        outln!(
            "(debug build: run `cargo bench -p lake-lifecycle --bench classify` for optimized figures)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use chrono::{Duration, NaiveDate};

    use super::*;

    const TABLE: &str = "warehouse/analytics.db/events/";

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!(
                "xtask-lifecycle-{name}-{}-{}",
                std::process::id(),
                chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A small Iceberg table in the documented formats: an S3 Inventory CSV (no header, the manifest's
    /// `fileSchema` order, URL-encoded keys) with 400 daily partitions of one 256 MiB file each plus the table's
    /// metadata files, and server access logs with `log_days` days of queries ending the day before `now`, each
    /// reading the metadata and the partitions of the last 7 days; older partitions are never read.
    fn lake(dir: &Path, now: NaiveDate, log_days: i64) -> (PathBuf, PathBuf) {
        let mut inventory = String::new();
        for back in 1..=400 {
            let day = now - Duration::days(back);
            let _ = writeln!(
                inventory,
                "\"lake\",\"{TABLE}data/dt%3D{day}/00000-0-{back}.parquet\",\"268435456\",\"{day}T03:00:00.000Z\",\"STANDARD\""
            );
        }
        for v in 1..=3 {
            let day = now - Duration::days(v);
            let _ = writeln!(
                inventory,
                "\"lake\",\"{TABLE}metadata/{v:05}-abc.metadata.json\",\"40960\",\"{day}T03:00:00.000Z\",\"STANDARD\""
            );
        }
        let mut log = String::new();
        let mut line = |day: NaiveDate, key: &str, bytes: u64| {
            let _ = writeln!(
                log,
                "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be lake [{}] 192.0.2.3 arn:aws:iam::123456789012:role/trino 3E57427F3EXAMPLE REST.GET.OBJECT {key} \"GET /lake/{key} HTTP/1.1\" 200 - {bytes} {bytes} 70 10 \"-\" \"Trino\" -",
                day.and_hms_opt(10, 0, 0)
                    .unwrap()
                    .format("%d/%b/%Y:%H:%M:%S +0000")
            );
        };
        for back in 1..=log_days {
            let day = now - Duration::days(back);
            line(
                day,
                &format!("{TABLE}metadata/00001-abc.metadata.json"),
                40960,
            );
            for age in 0..7 {
                let partition = day - Duration::days(age);
                let file = (now - partition).num_days();
                line(
                    day,
                    &format!("{TABLE}data/dt%3D{partition}/00000-0-{file}.parquet"),
                    80 << 20,
                );
            }
        }
        let (inv, logs) = (dir.join("inventory.csv"), dir.join("logs"));
        std::fs::write(&inv, inventory).unwrap();
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::write(logs.join("2026-05-31-access.log"), log).unwrap();
        (inv, logs)
    }

    fn args(inventory: PathBuf, logs: PathBuf, now: NaiveDate, out: PathBuf) -> AnalyzeArgs {
        AnalyzeArgs {
            inventory: vec![inventory],
            inventory_schema: "Bucket, Key, Size, LastModifiedDate, StorageClass".into(),
            access_log: vec![logs],
            table_access: Vec::new(),
            now: Some(format!("{now}T00:00:00Z")),
            depth: 3,
            partition_depth: 1,
            no_iceberg: false,
            json: true,
            write_policy: Some(out),
        }
    }

    #[test]
    fn analyze_write_policy_learns_a_valid_data_rule_that_leaves_metadata_alone() {
        let dir = TempDir::new("learn");
        let now = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let (inv, logs) = lake(&dir.0, now, 90);
        let out = dir.0.join("policy.json");
        analyze(args(inv, logs, now, out.clone()), &[]).unwrap();
        let doc = PolicyDocument::load(&out).unwrap();
        assert_eq!(lake_lifecycle::validate::validate(&doc), vec![]);
        let data = format!("{TABLE}data/");
        let rule = doc
            .rules
            .iter()
            .find(|r| r.key_prefix() == data)
            .unwrap_or_else(|| panic!("no rule for {data}: {}", doc.to_json_pretty()));
        assert!(!rule.transitions.is_empty(), "{rule:?}");
        // Partitions younger than a week are read every day: nothing moves them before then.
        assert!(
            rule.transitions.iter().all(|t| t.days.unwrap() >= 7),
            "{rule:?}"
        );
        // No rule that moves or deletes objects covers the table's metadata (the bucket-wide rule only aborts
        // incomplete multipart uploads).
        let metadata = format!("{TABLE}metadata/");
        for r in &doc.rules {
            let acts = !r.transitions.is_empty()
                || r.expiration.is_some()
                || !r.noncurrent_version_transitions.is_empty()
                || r.noncurrent_version_expiration.is_some();
            assert!(
                !acts || !metadata.starts_with(r.key_prefix()),
                "rule {:?} covers {metadata}",
                r.id
            );
        }
    }

    #[test]
    fn analyze_write_policy_refuses_an_inventory_without_last_modified_date() {
        let dir = TempDir::new("schema");
        let now = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let (inv, logs) = lake(&dir.0, now, 90);
        let out = dir.0.join("policy.json");
        let mut a = args(inv, logs, now, out.clone());
        a.inventory_schema = "Bucket, Key, Size, StorageClass".into();
        let err = analyze(a, &[]).unwrap_err().to_string();
        assert!(
            err.contains("LastModifiedDate") && err.contains("--write-policy"),
            "{err}"
        );
        assert!(!out.exists());
    }

    #[test]
    fn analyze_write_policy_needs_a_minimum_evidence_window() {
        let dir = TempDir::new("window");
        let now = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let (inv, logs) = lake(&dir.0, now, 5);
        let out = dir.0.join("policy.json");
        let err = analyze(args(inv, logs, now, out.clone()), &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("at least 30 days") && err.contains("span 5 day(s)"),
            "{err}"
        );
        assert!(!out.exists());
    }
}
