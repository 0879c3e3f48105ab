//! The classifier: per prefix (configurable depth, Iceberg-aware), last access, access frequency, size and an
//! object-size histogram -> hot / warm / cold / archive, with the reasons.
//!
//! Iceberg-aware grouping: a key under `<table>/metadata/` groups as the table's metadata (always hot: every query
//! plans from it); a key under `<table>/data/` groups by its first `partition_depth` partition directories
//! (`dt=2026-01-01/`), so old partitions can go cold while recent ones stay hot. Objects under 128 KB are counted
//! apart: S3 Lifecycle does not transition them by default and Intelligent-Tiering neither monitors nor moves them
//! (they bill at the Frequent Access rate), so they stay in STANDARD whatever the class of their prefix
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-transition-general-considerations.html>).
//! Pure: no IO.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::evidence::{AccessLogRecord, InventoryRow, TableAccess, TableLocation};

/// 128 KB, the size below which lifecycle transitions and Intelligent-Tiering monitoring do not apply.
pub const SMALL_OBJECT_BYTES: u64 = 128 * 1024;

/// Upper bounds of the object-size histogram buckets (the last bucket is everything larger).
pub const SIZE_BUCKETS: [u64; 5] = [SMALL_OBJECT_BYTES, 1 << 20, 8 << 20, 64 << 20, 512 << 20];

/// How keys are grouped into prefixes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrefixScheme {
    /// Path segments kept for keys outside an Iceberg layout (`a/b/c/file` with depth 2 -> `a/b/`).
    pub depth: usize,
    /// Recognise `<table>/metadata/` and `<table>/data/<partition>/`.
    pub iceberg: bool,
    /// Partition directories kept under `data/`.
    pub partition_depth: usize,
}

impl Default for PrefixScheme {
    fn default() -> Self {
        PrefixScheme {
            depth: 3,
            iceberg: true,
            partition_depth: 1,
        }
    }
}

/// The Iceberg table a key (or a prefix) belongs to: its table root (a slice of `key` ending in `/`) and whether the
/// key is under the table's `metadata/` (else under its `data/`); `None` outside an Iceberg layout.
///
/// The one place that decides the layout, shared by [`PrefixScheme::prefix_of`] and
/// [`crate::trace::TraceBuilder`], so a group and its table root always agree. Metadata is checked first, so a
/// key that could be read both ways is treated as metadata (kept in STANDARD: the safe side), and the *last*
/// `/metadata/` or `/data/` segment is the table's own, so a root that itself contains `data/` or `metadata/`
/// (`x/data/db/t/metadata/v1.metadata.json` -> root `x/data/db/t/`) is kept whole. Partition directories are
/// `name=value` and file names end the key, so neither is ever a bare `data` or `metadata` segment.
pub fn iceberg_table_root(key: &str) -> Option<(&str, bool)> {
    if let Some(at) = key.rfind("/metadata/") {
        return Some((&key[..at + 1], true));
    }
    key.rfind("/data/").map(|at| (&key[..at + 1], false))
}

impl PrefixScheme {
    /// The prefix `key` belongs to (a slice of `key`, ending in `/`), and whether it is Iceberg metadata.
    pub fn prefix_of<'k>(&self, key: &'k str) -> (&'k str, bool) {
        if self.iceberg {
            match iceberg_table_root(key) {
                Some((root, true)) => return (&key[..root.len() + "metadata/".len()], true),
                Some((root, false)) => {
                    let mut end = root.len() + "data/".len();
                    for _ in 0..self.partition_depth {
                        match key[end..].find('/') {
                            Some(slash) if key[end..end + slash].contains('=') => end += slash + 1,
                            _ => break,
                        }
                    }
                    return (&key[..end], false);
                }
                None => {}
            }
        }
        let mut end = 0;
        for _ in 0..self.depth {
            match key[end..].find('/') {
                Some(slash) => end += slash + 1,
                None => break,
            }
        }
        (&key[..end], false)
    }
}

/// The class of a prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Temperature {
    /// Read recently or often: keep in STANDARD.
    Hot,
    /// Read now and then: STANDARD_IA or INTELLIGENT_TIERING.
    Warm,
    /// Rarely read: GLACIER_IR (millisecond reads, retrieval fee).
    Cold,
    /// Not read for a long time: GLACIER / DEEP_ARCHIVE (restore needed).
    Archive,
}

impl fmt::Display for Temperature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Temperature::Hot => "hot",
            Temperature::Warm => "warm",
            Temperature::Cold => "cold",
            Temperature::Archive => "archive",
        })
    }
}

/// Thresholds in days since the last access.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Thresholds {
    /// Accessed within this many days: hot.
    pub hot_days: i64,
    /// Within this many: warm.
    pub warm_days: i64,
    /// Within this many: cold; beyond: archive.
    pub cold_days: i64,
    /// At least this many reads per day over the window: hot whatever the last access.
    pub hot_reads_per_day: f64,
    /// The evidence window in days (for reads per day): only reads in `[now - window_days, now]` count toward the
    /// rate; the last access uses every read.
    pub window_days: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            hot_days: 30,
            warm_days: 90,
            cold_days: 180,
            hot_reads_per_day: 1.0,
            window_days: 90.0,
        }
    }
}

/// What is known about one prefix.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PrefixStats {
    /// Objects (from inventory).
    pub objects: u64,
    /// Bytes (from inventory).
    pub bytes: u64,
    /// Objects under 128 KB.
    pub small_objects: u64,
    /// Bytes in objects under 128 KB.
    pub small_bytes: u64,
    /// Object counts per size bucket ([`SIZE_BUCKETS`], plus one for larger).
    pub size_histogram: [u64; 6],
    /// Newest last-modified time.
    pub newest: Option<DateTime<Utc>>,
    /// Bytes per storage class.
    pub storage_classes: HashMap<String, u64>,
    /// Successful object reads (access log + table-level queries), whenever they happened.
    pub reads: u64,
    /// Those of them inside the evidence window `[now - window_days, now]` (the read rate counts only these).
    pub window_reads: u64,
    /// Bytes sent by those reads.
    pub read_bytes: u64,
    /// The last read.
    pub last_access: Option<DateTime<Utc>>,
    /// Iceberg metadata.
    pub metadata: bool,
}

/// A classified prefix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrefixClass {
    /// The bucket.
    pub bucket: String,
    /// The prefix.
    pub prefix: String,
    /// The class.
    pub temperature: Temperature,
    /// Why.
    pub reasons: Vec<String>,
    /// The evidence.
    pub stats: PrefixStats,
}

/// Accumulates evidence, then classifies.
#[derive(Debug, Clone)]
pub struct Classifier {
    scheme: PrefixScheme,
    thresholds: Thresholds,
    now: DateTime<Utc>,
    /// bucket -> prefix -> stats (nested so lookups borrow `&str` and the hot path does not allocate).
    prefixes: HashMap<String, HashMap<String, PrefixStats>>,
}

impl Classifier {
    /// A classifier judging "now" at `now`.
    pub fn new(scheme: PrefixScheme, thresholds: Thresholds, now: DateTime<Utc>) -> Classifier {
        Classifier {
            scheme,
            thresholds,
            now,
            prefixes: HashMap::new(),
        }
    }

    /// Whether `time` is inside the evidence window `[now - window_days, now]`.
    fn in_window(&self, time: DateTime<Utc>) -> bool {
        let window =
            chrono::Duration::milliseconds((self.thresholds.window_days * 86_400_000.0) as i64);
        time <= self.now && time >= self.now - window
    }

    fn stats(&mut self, bucket: &str, key: &str) -> &mut PrefixStats {
        let (prefix, metadata) = self.scheme.prefix_of(key);
        if !self.prefixes.contains_key(bucket) {
            self.prefixes.insert(bucket.to_owned(), HashMap::new());
        }
        let prefixes = self.prefixes.get_mut(bucket).expect("inserted above");
        if !prefixes.contains_key(prefix) {
            prefixes.insert(prefix.to_owned(), PrefixStats::default());
        }
        let entry = prefixes.get_mut(prefix).expect("inserted above");
        entry.metadata |= metadata;
        entry
    }

    /// Adds one inventory row (latest versions only).
    pub fn add_inventory(&mut self, row: &InventoryRow) {
        if !row.is_latest {
            return;
        }
        let s = self.stats(&row.bucket, &row.key);
        s.objects += 1;
        s.bytes += row.size;
        if row.size < SMALL_OBJECT_BYTES {
            s.small_objects += 1;
            s.small_bytes += row.size;
        }
        let bucket = SIZE_BUCKETS
            .iter()
            .position(|b| row.size < *b)
            .unwrap_or(SIZE_BUCKETS.len());
        s.size_histogram[bucket] += 1;
        if let Some(m) = row.last_modified {
            s.newest = Some(s.newest.map_or(m, |n| n.max(m)));
        }
        if let Some(b) = s.storage_classes.get_mut(row.storage_class.as_str()) {
            *b += row.size;
        } else {
            s.storage_classes
                .insert(row.storage_class.clone(), row.size);
        }
    }

    /// Adds one access log record (reads only; other operations are ignored).
    pub fn add_access(&mut self, record: &AccessLogRecord<'_>) {
        if !record.is_read() {
            return;
        }
        let Some(key) = record.key.as_deref() else {
            return;
        };
        let in_window = self.in_window(record.time);
        let s = self.stats(record.bucket, key);
        s.reads += 1;
        s.window_reads += u64::from(in_window);
        s.read_bytes += record.bytes_sent;
        s.last_access = Some(s.last_access.map_or(record.time, |l| l.max(record.time)));
    }

    /// Adds table-level access from the Trino event log: the table's metadata prefix counts the queries (each
    /// query plans from the metadata); its data prefixes are not touched (the event log does not say which
    /// partitions were read, so per-partition heat comes from the access log).
    pub fn add_table_access(&mut self, access: &TableAccess, location: &TableLocation) {
        let key = format!("{}metadata/", location.prefix);
        let last = access.last_access.map(|t| t.and_utc());
        // The event log's own window is the caller's; its queries count toward the rate when it reaches into ours.
        let in_window = last.is_some_and(|t| self.in_window(t));
        let s = self.stats(&location.bucket, &key);
        s.reads += access.queries;
        if in_window {
            s.window_reads += access.queries;
        }
        if let Some(last) = last {
            s.last_access = Some(s.last_access.map_or(last, |l| l.max(last)));
        }
    }

    /// Classifies every prefix seen, sorted by bucket and prefix.
    pub fn finish(self) -> Vec<PrefixClass> {
        let t = &self.thresholds;
        let now = self.now;
        let mut out: Vec<PrefixClass> = self
            .prefixes
            .into_iter()
            .flat_map(|(bucket, prefixes)| prefixes.into_iter().map(move |(prefix, stats)| (bucket.clone(), prefix, stats)))
            .map(|(bucket, prefix, stats)| {
                let mut reasons = Vec::new();
                // The rate counts only the reads inside the window it divides by.
                let per_day = stats.window_reads as f64 / t.window_days;
                let idle = stats.last_access.map(|l| (now - l).num_days());
                let age = stats.newest.map(|n| (now - n).num_days());
                let temperature = if stats.metadata {
                    reasons.push("Iceberg metadata: every query plans from it, keep in STANDARD".to_owned());
                    Temperature::Hot
                } else if per_day >= t.hot_reads_per_day {
                    reasons.push(format!("{per_day:.1} reads/day over the last {} days", t.window_days));
                    Temperature::Hot
                } else if let Some(idle) = idle {
                    reasons.push(format!("last read {idle} days ago ({} reads, {per_day:.2}/day)", stats.reads));
                    band(idle, t)
                } else if let Some(age) = age {
                    reasons.push(format!("never read in the evidence; newest object is {age} days old"));
                    band(age, t)
                } else {
                    reasons.push("no inventory and no reads for this prefix".to_owned());
                    Temperature::Archive
                };
                if stats.small_objects > 0 {
                    reasons.push(format!(
                        "{} of {} objects are under 128 KB: lifecycle does not transition them by default and Intelligent-Tiering does not monitor them, so they stay at the STANDARD rate",
                        stats.small_objects, stats.objects
                    ));
                }
                PrefixClass { bucket, prefix, temperature, reasons, stats }
            })
            .collect();
        out.sort_by(|a, b| (&a.bucket, &a.prefix).cmp(&(&b.bucket, &b.prefix)));
        out
    }
}

fn band(days: i64, t: &Thresholds) -> Temperature {
    if days < t.hot_days {
        Temperature::Hot
    } else if days < t.warm_days {
        Temperature::Warm
    } else if days < t.cold_days {
        Temperature::Cold
    } else {
        Temperature::Archive
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::parse_access_log_line;

    fn row(key: &str, size: u64, modified: &str) -> InventoryRow {
        InventoryRow {
            bucket: "lake".into(),
            key: key.into(),
            size,
            last_modified: Some(
                DateTime::parse_from_rfc3339(modified)
                    .unwrap()
                    .with_timezone(&Utc),
            ),
            storage_class: "STANDARD".into(),
            is_latest: true,
        }
    }

    #[test]
    fn iceberg_prefixes() {
        let s = PrefixScheme::default();
        assert_eq!(
            s.prefix_of("warehouse/a.db/t/metadata/snap-1.avro"),
            ("warehouse/a.db/t/metadata/", true)
        );
        assert_eq!(
            s.prefix_of("warehouse/a.db/t/data/dt=2026-01-01/h=3/f.parquet"),
            ("warehouse/a.db/t/data/dt=2026-01-01/", false)
        );
        assert_eq!(
            s.prefix_of("warehouse/a.db/t/data/f.parquet"),
            ("warehouse/a.db/t/data/", false)
        );
        assert_eq!(s.prefix_of("logs/2026/01/x.gz"), ("logs/2026/01/", false));
        // A table root that itself contains `data/` or `metadata/`: the table's own segment (the last) decides,
        // and metadata is checked first.
        assert_eq!(
            s.prefix_of("x/data/db/t/metadata/v1.metadata.json"),
            ("x/data/db/t/metadata/", true)
        );
        assert_eq!(
            s.prefix_of("x/data/db/t/data/dt=2026-01-01/f.parquet"),
            ("x/data/db/t/data/dt=2026-01-01/", false)
        );
        assert_eq!(
            s.prefix_of("x/metadata/db/t/metadata/snap-1.avro"),
            ("x/metadata/db/t/metadata/", true)
        );
        assert_eq!(
            iceberg_table_root("x/data/db/t/metadata/"),
            Some(("x/data/db/t/", true))
        );
        assert_eq!(
            iceberg_table_root("x/data/db/t/data/dt=2026-01-01/"),
            Some(("x/data/db/t/", false))
        );
        assert_eq!(iceberg_table_root("logs/2026/"), None);
        let flat = PrefixScheme {
            depth: 1,
            iceberg: false,
            partition_depth: 0,
        };
        assert_eq!(
            flat.prefix_of("warehouse/a.db/t/metadata/x"),
            ("warehouse/", false)
        );
    }

    #[test]
    fn read_rate_counts_only_reads_inside_the_window() {
        let now = DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut c = Classifier::new(PrefixScheme::default(), Thresholds::default(), now);
        let burst = "warehouse/a.db/t/data/dt=2025-10-01/f.parquet";
        let steady = "warehouse/a.db/t/data/dt=2026-04-01/f.parquet";
        c.add_inventory(&row(burst, 64 << 20, "2025-10-01T01:00:00Z"));
        c.add_inventory(&row(steady, 64 << 20, "2026-04-01T01:00:00Z"));
        let line = |key: &str, day: &str| {
            format!(
                "o lake [{day}:10:00:00 +0000] 1.2.3.4 r id REST.GET.OBJECT {key} \"GET / HTTP/1.1\" 200 - 1000 67108864 5 5 \"-\" \"trino\" -"
            )
        };
        // 500 reads in a burst 200 days ago (outside the 90-day window), and one read 100 days ago: the old
        // classifier divided all 501 by 90 days and called the partition hot.
        for _ in 0..500 {
            let l = line(burst, "13/Nov/2025");
            c.add_access(&parse_access_log_line("t", 1, &l).unwrap());
        }
        // 100 reads inside the window and 300 after "now" (a log from the future is not evidence of the window).
        for _ in 0..100 {
            let l = line(steady, "20/May/2026");
            c.add_access(&parse_access_log_line("t", 1, &l).unwrap());
        }
        for _ in 0..300 {
            let l = line(steady, "02/Jun/2026");
            c.add_access(&parse_access_log_line("t", 1, &l).unwrap());
        }
        let classes = c.finish();
        let find = |p: &str| classes.iter().find(|c| c.prefix == p).unwrap();
        let b = find("warehouse/a.db/t/data/dt=2025-10-01/");
        assert_eq!((b.stats.reads, b.stats.window_reads), (500, 0));
        // Last access still uses every read: 200 days idle -> archive.
        assert_eq!(b.temperature, Temperature::Archive, "{:?}", b.reasons);
        assert!(
            b.reasons[0].contains("last read 199 days ago"),
            "{:?}",
            b.reasons
        );
        let s = find("warehouse/a.db/t/data/dt=2026-04-01/");
        assert_eq!((s.stats.reads, s.stats.window_reads), (400, 100));
        // 100 reads / 90 days >= 1 read/day: hot, by the in-window rate.
        assert_eq!(s.temperature, Temperature::Hot);
        assert!(s.reasons[0].contains("1.1 reads/day"), "{:?}", s.reasons);
    }

    #[test]
    fn classifies_by_last_access_and_keeps_metadata_hot() {
        let now = DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut c = Classifier::new(PrefixScheme::default(), Thresholds::default(), now);
        let recent = "warehouse/a.db/t/data/dt=2026-05-30/f.parquet";
        let old = "warehouse/a.db/t/data/dt=2025-01-01/f.parquet";
        let warm = "warehouse/a.db/t/data/dt=2026-03-01/f.parquet";
        c.add_inventory(&row(recent, 64 << 20, "2026-05-30T01:00:00Z"));
        c.add_inventory(&row(old, 64 << 20, "2025-01-01T01:00:00Z"));
        c.add_inventory(&row(warm, 64 << 20, "2026-03-01T01:00:00Z"));
        c.add_inventory(&row(
            "warehouse/a.db/t/metadata/v9.metadata.json",
            4096,
            "2025-01-01T01:00:00Z",
        ));
        let line = |key: &str, day: &str| {
            format!(
                "o lake [{day}:10:00:00 +0000] 1.2.3.4 r id REST.GET.OBJECT {key} \"GET / HTTP/1.1\" 200 - 1000 67108864 5 5 \"-\" \"trino\" -"
            )
        };
        for _ in 0..200 {
            let l = line(recent, "31/May/2026");
            c.add_access(&parse_access_log_line("t", 1, &l).unwrap());
        }
        let l = line(warm, "01/Apr/2026");
        c.add_access(&parse_access_log_line("t", 1, &l).unwrap());
        let classes = c.finish();
        let find = |p: &str| classes.iter().find(|c| c.prefix == p).unwrap();
        assert_eq!(
            find("warehouse/a.db/t/data/dt=2026-05-30/").temperature,
            Temperature::Hot
        );
        assert_eq!(
            find("warehouse/a.db/t/data/dt=2026-03-01/").temperature,
            Temperature::Warm
        );
        assert!(
            find("warehouse/a.db/t/data/dt=2026-03-01/").reasons[0]
                .contains("last read 60 days ago")
        );
        assert_eq!(
            find("warehouse/a.db/t/data/dt=2025-01-01/").temperature,
            Temperature::Archive
        );
        let meta = find("warehouse/a.db/t/metadata/");
        assert_eq!(meta.temperature, Temperature::Hot);
        assert!(meta.reasons.iter().any(|r| r.contains("under 128 KB")));
        assert_eq!(meta.stats.size_histogram[0], 1);
    }
}
