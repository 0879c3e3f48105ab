//! The classification benchmark shared by `cargo bench -p lake-lifecycle --bench classify` and
//! `cargo xtask bench lifecycle`: synthetic inventory rows and server access log lines for the generated lake,
//! then parse + classify, timed.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::classify::{Classifier, PrefixScheme, Thresholds};
use crate::evidence::{InventorySchema, parse_access_log_line, read_inventory_csv};
use crate::trace::{TraceConfig, date_of, generate};

/// The figures of one run.
#[derive(Debug, Clone, Serialize)]
pub struct BenchFigures {
    /// Inventory rows classified.
    pub inventory_rows: u64,
    /// Time to parse + classify them.
    pub inventory_time: Duration,
    /// Access log lines classified.
    pub log_lines: u64,
    /// Time to parse + classify them.
    pub log_time: Duration,
    /// Prefixes found.
    pub prefixes: usize,
    /// Input sizes in bytes (inventory CSV, access log).
    pub input_bytes: (usize, usize),
}

impl BenchFigures {
    /// Inventory rows per second.
    pub fn inventory_rows_per_sec(&self) -> f64 {
        self.inventory_rows as f64 / self.inventory_time.as_secs_f64()
    }

    /// Access log lines per second.
    pub fn log_lines_per_sec(&self) -> f64 {
        self.log_lines as f64 / self.log_time.as_secs_f64()
    }
}

/// Synthetic inventory CSV (`Bucket, Key, Size, LastModifiedDate, StorageClass`) and access log lines whose keys
/// are the generated lake's data and metadata files.
pub fn synthetic_inputs(rows: usize, lines: usize) -> (String, String) {
    let trace = generate(&TraceConfig::small(1));
    let mut csv = String::with_capacity(rows * 120);
    let groups = &trace.groups;
    for i in 0..rows {
        let g = &groups[i % groups.len()];
        let file = i / groups.len();
        let size = g.avg_object_bytes();
        let _ = writeln!(
            csv,
            "\"acme-lake\",\"{}{:05}-{}.parquet\",\"{}\",\"{}T03:00:00.000Z\",\"STANDARD\"",
            g.prefix.replace('=', "%3D"),
            file,
            i,
            size,
            date_of(g.created_day)
        );
    }
    let mut log = String::with_capacity(lines * 400);
    for i in 0..lines {
        let r = &trace.reads[i % trace.reads.len()];
        let g = &groups[r.group as usize];
        let d = date_of(r.day);
        let _ = writeln!(
            log,
            "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be acme-lake [{}:{:02}:{:02}:{:02} +0000] 10.0.{}.{} arn:aws:sts::123456789012:assumed-role/trino-task/{} 3E57427F3E{:06} REST.GET.OBJECT {}{:05}-{}.parquet \"GET /acme-lake/{}x.parquet HTTP/1.1\" 200 - {} {} 70 10 \"-\" \"Trino/480\" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader acme-lake.s3.eu-west-1.amazonaws.com TLSv1.2 - -",
            d.format("%d/%b/%Y"),
            i % 24,
            i % 60,
            (i / 60) % 60,
            i % 250,
            (i / 250) % 250,
            i,
            i % 1_000_000,
            g.prefix.replace('=', "%3D"),
            i % 7,
            i,
            g.prefix,
            1 << 20,
            g.avg_object_bytes()
        );
    }
    (csv, log)
}

/// Runs the benchmark over `rows` inventory rows and `lines` access log lines.
pub fn run(rows: usize, lines: usize) -> crate::Result<BenchFigures> {
    let (csv, log) = synthetic_inputs(rows, lines);
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339("2027-01-01T00:00:00Z")
        .expect("valid")
        .with_timezone(&Utc);
    let mut classifier = Classifier::new(PrefixScheme::default(), Thresholds::default(), now);
    let start = Instant::now();
    let inventory_rows = read_inventory_csv(
        "synthetic inventory",
        &InventorySchema::default_csv(),
        csv.as_bytes(),
        |row| classifier.add_inventory(&row),
    )?;
    let inventory_time = start.elapsed();
    let start = Instant::now();
    let mut log_lines = 0u64;
    for (i, line) in log.lines().enumerate() {
        let record = parse_access_log_line("synthetic access log", i as u64 + 1, line)?;
        classifier.add_access(&record);
        log_lines += 1;
    }
    let prefixes = classifier.finish().len();
    let log_time = start.elapsed();
    Ok(BenchFigures {
        inventory_rows,
        inventory_time,
        log_lines,
        log_time,
        prefixes,
        input_bytes: (csv.len(), log.len()),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_small_run_classifies_every_row_and_line() {
        let figures = super::run(2_000, 2_000).unwrap();
        assert_eq!((figures.inventory_rows, figures.log_lines), (2_000, 2_000));
        assert!(figures.prefixes > 100);
    }
}
