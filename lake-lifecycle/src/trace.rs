//! Access traces: object groups (an Iceberg partition's data files, or a table's metadata files of one month) and
//! the reads of them per day, plus a generator for a realistic Iceberg lake (hot recent partitions, cold history,
//! occasional backfills, one table of small files, one table only its ETL ever reads).
//!
//! Days are integers relative to the start of the evaluated year (day 0 = 2026-01-01); history before it has
//! negative days. Pure: no IO; the generator is deterministic for a seed.

use std::collections::HashMap;

use chrono::{Days, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::error::{Error, Result};

/// A set of objects created together and read together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// Key prefix, e.g. `warehouse/analytics.db/events/data/dt=2026-01-01/`.
    pub prefix: String,
    /// Index into [`Trace::tables`].
    pub table: u32,
    /// Iceberg metadata (metadata.json, manifest lists, manifests) rather than data files.
    pub metadata: bool,
    /// The day the objects were written.
    pub created_day: i64,
    /// Number of objects.
    pub objects: u64,
    /// Total bytes.
    pub bytes: u64,
}

impl Group {
    /// Average object size in bytes.
    pub fn avg_object_bytes(&self) -> u64 {
        self.bytes / self.objects.max(1)
    }
}

/// The reads of one group on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Read {
    /// The day.
    pub day: i64,
    /// Index into [`Trace::groups`].
    pub group: u32,
    /// GET requests.
    pub gets: u32,
    /// Bytes transferred.
    pub bytes: u64,
}

/// Object groups and reads, sorted by day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Trace {
    /// Table root prefixes, e.g. `warehouse/analytics.db/events/`.
    pub tables: Vec<String>,
    /// Every group.
    pub groups: Vec<Group>,
    /// Every read, sorted by day.
    pub reads: Vec<Read>,
    /// The first day with objects.
    pub first_day: i64,
    /// The first evaluated day (0).
    pub start_day: i64,
    /// One past the last day.
    pub end_day: i64,
}

/// How one table is written and read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableProfile {
    /// `db.table`.
    pub name: String,
    /// GB written per day.
    pub daily_gb: f64,
    /// Data files per daily partition.
    pub files_per_day: u64,
    /// Queries per day.
    pub queries_per_day: u32,
    /// Each query reads the partitions of the last this many days.
    pub recent_days: u32,
    /// Probability that a query also reads one random partition from the whole history.
    pub history_probability: f64,
    /// Backfills per year: a job reading a contiguous range of old partitions.
    pub backfills_per_year: f64,
    /// Partitions one backfill reads.
    pub backfill_days: u32,
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceConfig {
    /// RNG seed.
    pub seed: u64,
    /// Days of history before day 0 (objects exist from `-history_days`).
    pub history_days: i64,
    /// Days evaluated (from day 0).
    pub days: i64,
    /// The tables.
    pub tables: Vec<TableProfile>,
    /// Fraction of a partition's bytes a query reads (column pruning).
    pub scan_fraction: f64,
}

impl TraceConfig {
    /// A realistic lake: two years of history, one evaluated year, six tables with different access shapes.
    pub fn iceberg_lake(seed: u64) -> TraceConfig {
        let t = |name: &str,
                 daily_gb,
                 files_per_day,
                 queries_per_day,
                 recent_days,
                 history_probability,
                 backfills_per_year,
                 backfill_days| TableProfile {
            name: name.into(),
            daily_gb,
            files_per_day,
            queries_per_day,
            recent_days,
            history_probability,
            backfills_per_year,
            backfill_days,
        };
        TraceConfig {
            seed,
            history_days: 730,
            days: 365,
            scan_fraction: 0.3,
            tables: vec![
                // The main fact table: dashboards on the last week, a few backfills of two months a year.
                t("analytics.events", 40.0, 160, 40, 7, 0.0, 3.0, 60),
                // Raw clickstream: only the ETL reads it, within two days.
                t("raw.clickstream", 80.0, 320, 4, 2, 0.0, 0.0, 0),
                // Orders: read across the whole history all the time.
                t("sales.orders", 4.0, 16, 30, 30, 0.6, 0.0, 0),
                // Analysts' sandbox: unpredictable.
                t("sandbox.experiments", 3.0, 12, 2, 60, 0.3, 1.0, 120),
                // Streaming sessions in ~100 KB files: below every 128 KB threshold.
                t(
                    "analytics.sessions_small",
                    2.0,
                    20_000,
                    20,
                    14,
                    0.0,
                    1.0,
                    30,
                ),
                // Finance rollups: last quarter monthly, yearly audit of the whole year.
                t("finance.ledger", 1.0, 4, 5, 90, 0.02, 1.0, 365),
            ],
        }
    }

    /// The same lake, smaller (for tests in debug builds): fewer history days.
    pub fn small(seed: u64) -> TraceConfig {
        let mut config = TraceConfig::iceberg_lake(seed);
        config.history_days = 400;
        config.days = 365;
        config
    }
}

/// The calendar date of a trace day (day 0 = 2026-01-01).
pub fn date_of(day: i64) -> NaiveDate {
    let epoch = NaiveDate::from_ymd_opt(2026, 1, 1).expect("a valid date");
    if day >= 0 {
        epoch
            .checked_add_days(Days::new(day as u64))
            .expect("in range")
    } else {
        epoch
            .checked_sub_days(Days::new((-day) as u64))
            .expect("in range")
    }
}

/// The prefix of a table's data partition of `day`.
pub fn partition_prefix(table: &str, day: i64) -> String {
    format!("{}data/dt={}/", table_root(table), date_of(day))
}

/// `db.table` -> `warehouse/db.db/table/` (Glue/Iceberg's default layout).
pub fn table_root(name: &str) -> String {
    let (db, table) = name.split_once('.').unwrap_or(("default", name));
    format!("warehouse/{db}.db/{table}/")
}

/// Generates the trace.
pub fn generate(config: &TraceConfig) -> Trace {
    let mut rng = StdRng::seed_from_u64(config.seed);
    let first = -config.history_days;
    let end = config.days;
    let mut trace = Trace {
        first_day: first,
        start_day: 0,
        end_day: end,
        ..Default::default()
    };
    // partition index: (table, day) -> group; metadata: (table, month index) -> group.
    let mut data: HashMap<(usize, i64), u32> = HashMap::new();
    let mut meta: HashMap<(usize, i64), u32> = HashMap::new();
    for (ti, table) in config.tables.iter().enumerate() {
        let root = table_root(&table.name);
        trace.tables.push(root.clone());
        for day in first..end {
            let jitter = rng.random_range(0.8..1.2);
            let bytes = (table.daily_gb * jitter * 1024.0 * 1024.0 * 1024.0) as u64;
            data.insert((ti, day), trace.groups.len() as u32);
            trace.groups.push(Group {
                prefix: partition_prefix(&table.name, day),
                table: ti as u32,
                metadata: false,
                created_day: day,
                objects: table.files_per_day,
                bytes,
            });
            if (day - first) % 30 == 0 {
                // A month of commits: hourly commits, each a metadata.json, a manifest list and a manifest (~40 KB each).
                meta.insert((ti, (day - first) / 30), trace.groups.len() as u32);
                trace.groups.push(Group {
                    prefix: format!("{root}metadata/"),
                    table: ti as u32,
                    metadata: true,
                    created_day: day,
                    objects: 30 * 24 * 3,
                    bytes: 30 * 24 * 3 * 40 * 1024,
                });
            }
        }
    }
    let mut reads: HashMap<(i64, u32), (u32, u64)> = HashMap::new();
    let mut read = |day: i64, group: u32, gets: u32, bytes: u64| {
        let entry = reads.entry((day, group)).or_default();
        entry.0 += gets;
        entry.1 += bytes;
    };
    for (ti, table) in config.tables.iter().enumerate() {
        let partition_read = |day: i64| {
            let group = data[&(ti, day)];
            (group, table.files_per_day as u32 * 2)
        };
        for day in first..end {
            let month = (day - first) / 30;
            let meta_group = meta[&(ti, month)];
            for _ in 0..table.queries_per_day {
                read(day, meta_group, 3, 3 * 40 * 1024);
                for back in 0..i64::from(table.recent_days) {
                    let p = day - back;
                    if p < first {
                        break;
                    }
                    let (g, gets) = partition_read(p);
                    let bytes = (trace.groups[g as usize].bytes as f64 * config.scan_fraction
                        / f64::from(table.recent_days.max(1)).sqrt())
                        as u64;
                    read(day, g, gets, bytes);
                }
                if table.history_probability > 0.0 && rng.random_bool(table.history_probability) {
                    let p = rng.random_range(first..=day);
                    let (g, gets) = partition_read(p);
                    let bytes =
                        (trace.groups[g as usize].bytes as f64 * config.scan_fraction) as u64;
                    read(day, g, gets, bytes);
                }
            }
            if table.backfills_per_year > 0.0
                && rng.random_bool((table.backfills_per_year / 365.0).min(1.0))
            {
                let span = i64::from(table.backfill_days);
                let oldest = (first + span).min(day);
                let stop = rng.random_range(oldest..=day);
                for p in (stop - span).max(first)..stop {
                    let (g, gets) = partition_read(p);
                    let bytes =
                        (trace.groups[g as usize].bytes as f64 * config.scan_fraction) as u64;
                    read(day, g, gets, bytes);
                }
            }
        }
    }
    trace.reads = reads
        .into_iter()
        .map(|((day, group), (gets, bytes))| Read {
            day,
            group,
            gets,
            bytes,
        })
        .collect();
    trace.reads.sort_unstable_by_key(|r| (r.day, r.group));
    trace
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_shaped_like_a_lake() {
        let a = generate(&TraceConfig::small(7));
        let b = generate(&TraceConfig::small(7));
        assert_eq!(a, b);
        assert!(a.reads.windows(2).all(|w| w[0].day <= w[1].day));
        // Most reads of the events table are of partitions less than a week old.
        let events = 0u32;
        let (mut recent, mut old) = (0u64, 0u64);
        for r in &a.reads {
            let g = &a.groups[r.group as usize];
            if g.table == events && !g.metadata {
                if r.day - g.created_day < 7 {
                    recent += 1
                } else {
                    old += 1
                }
            }
        }
        assert!(recent > 10 * old && old > 0, "recent {recent}, old {old}");
        // Clickstream partitions are never read after two days.
        assert!(a.reads.iter().all(|r| {
            let g = &a.groups[r.group as usize];
            g.table != 1 || g.metadata || r.day - g.created_day < 2
        }));
        assert!(
            a.groups
                .iter()
                .any(|g| g.avg_object_bytes() < 128 * 1024 && !g.metadata)
        );
        assert_eq!(
            a.groups[0].prefix,
            "warehouse/analytics.db/events/data/dt=2024-11-27/"
        );
    }
}

/// The trace day of a date (inverse of [`date_of`]).
pub fn day_of(date: NaiveDate) -> i64 {
    (date - date_of(0)).num_days()
}

/// Builds a [`Trace`] from real evidence (inventory rows and access log reads, already grouped into prefixes by
/// [`crate::classify::PrefixScheme`]), so [`crate::recommend::recommend`] can learn a policy from a bucket's own
/// history. A group's creation day is its newest object's last-modified day. A group's table root comes from
/// [`crate::classify::iceberg_table_root`], the same function that grouped the keys.
#[derive(Debug, Default)]
pub struct TraceBuilder {
    trace: Trace,
    by_prefix: HashMap<String, usize>,
    tables: HashMap<String, u32>,
    reads: HashMap<(i64, u32), (u32, u64)>,
}

/// An index that does not fit the trace's `u32` indices is an error, never a silent wrap.
fn checked_index(what: &str, n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::InvalidInput {
        field: "evidence".into(),
        reason: format!(
            "more than {} {what}: split the evidence (e.g. per table prefix)",
            u32::MAX
        ),
    })
}

impl TraceBuilder {
    /// An empty builder.
    pub fn new() -> TraceBuilder {
        TraceBuilder::default()
    }

    fn group(&mut self, prefix: &str, metadata: bool) -> Result<u32> {
        if let Some(index) = self.by_prefix.get(prefix) {
            return checked_index("object groups", *index);
        }
        // The table root: what precedes the table's `metadata/` or `data/` (metadata checked first, as when the
        // keys were grouped), else the prefix itself.
        let root = crate::classify::iceberg_table_root(prefix)
            .map_or(prefix, |(root, _)| root)
            .to_owned();
        let table = match self.tables.get(&root) {
            Some(table) => *table,
            None => {
                let table = checked_index("tables", self.trace.tables.len())?;
                self.tables.insert(root.clone(), table);
                self.trace.tables.push(root);
                table
            }
        };
        let group = checked_index("object groups", self.trace.groups.len())?;
        self.trace.groups.push(Group {
            prefix: prefix.to_owned(),
            table,
            metadata,
            created_day: i64::MIN,
            objects: 0,
            bytes: 0,
        });
        self.by_prefix.insert(prefix.to_owned(), group as usize);
        Ok(group)
    }

    /// Adds one object of `prefix`.
    pub fn add_object(
        &mut self,
        prefix: &str,
        metadata: bool,
        modified: NaiveDate,
        size: u64,
    ) -> Result<()> {
        let index = self.group(prefix, metadata)? as usize;
        let g = &mut self.trace.groups[index];
        g.objects += 1;
        g.bytes += size;
        g.created_day = g.created_day.max(day_of(modified));
        Ok(())
    }

    /// Adds one read of `prefix` on `day`.
    pub fn add_read(
        &mut self,
        prefix: &str,
        metadata: bool,
        day: NaiveDate,
        bytes: u64,
    ) -> Result<()> {
        let index = self.group(prefix, metadata)?;
        let entry = self.reads.entry((day_of(day), index)).or_default();
        entry.0 = entry.0.saturating_add(1);
        entry.1 = entry.1.saturating_add(bytes);
        Ok(())
    }

    /// The trace; groups only seen in reads (not in the inventory) are dropped, and so are tables left without a
    /// group (no phantom tables); the evaluated window is the span of the reads.
    pub fn build(mut self) -> Trace {
        let keep: Vec<bool> = self.trace.groups.iter().map(|g| g.objects > 0).collect();
        let old_tables = std::mem::take(&mut self.trace.tables);
        let mut table_renumber: Vec<Option<u32>> = vec![None; old_tables.len()];
        let mut renumber = vec![u32::MAX; keep.len()];
        let mut groups = Vec::new();
        for (i, mut g) in std::mem::take(&mut self.trace.groups)
            .into_iter()
            .enumerate()
        {
            if keep[i] {
                // Both fit: there are no more kept groups or tables than the u32 indices `group` handed out.
                renumber[i] = groups.len() as u32;
                let t = g.table as usize;
                g.table = *table_renumber[t].get_or_insert_with(|| {
                    self.trace.tables.push(old_tables[t].clone());
                    (self.trace.tables.len() - 1) as u32
                });
                groups.push(g);
            }
        }
        self.trace.groups = groups;
        self.trace.reads = self
            .reads
            .into_iter()
            .filter(|((_, g), _)| keep[*g as usize])
            .map(|((day, group), (gets, bytes))| Read {
                day,
                group: renumber[group as usize],
                gets,
                bytes,
            })
            .collect();
        self.trace.reads.sort_unstable_by_key(|r| (r.day, r.group));
        self.trace.first_day = self
            .trace
            .groups
            .iter()
            .map(|g| g.created_day)
            .min()
            .unwrap_or(0);
        self.trace.start_day = self.trace.reads.first().map_or(0, |r| r.day);
        self.trace.end_day = self.trace.reads.last().map_or(0, |r| r.day + 1);
        self.trace
    }
}

#[cfg(test)]
mod builder_tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn builds_groups_tables_and_reads_from_evidence() {
        let mut b = TraceBuilder::new();
        b.add_object(
            "warehouse/a.db/t/data/dt=2026-01-01/",
            false,
            d("2026-01-01"),
            10,
        )
        .unwrap();
        b.add_object(
            "warehouse/a.db/t/data/dt=2026-01-01/",
            false,
            d("2026-01-02"),
            20,
        )
        .unwrap();
        b.add_object("warehouse/a.db/t/metadata/", true, d("2026-01-03"), 5)
            .unwrap();
        b.add_read(
            "warehouse/a.db/t/data/dt=2026-01-01/",
            false,
            d("2026-02-01"),
            7,
        )
        .unwrap();
        b.add_read(
            "warehouse/a.db/t/data/dt=2026-01-01/",
            false,
            d("2026-02-01"),
            7,
        )
        .unwrap();
        // Read but not in the inventory: the group is dropped, and so is its table (no phantom table).
        b.add_read("warehouse/gone.db/t/data/", false, d("2026-02-02"), 7)
            .unwrap();
        let t = b.build();
        assert_eq!(t.tables, vec!["warehouse/a.db/t/".to_owned()]);
        assert_eq!(t.groups.len(), 2);
        assert!(t.groups.iter().all(|g| g.table == 0));
        assert_eq!(
            (
                t.groups[0].objects,
                t.groups[0].bytes,
                t.groups[0].created_day
            ),
            (2, 30, 1)
        );
        assert_eq!(
            t.reads,
            vec![Read {
                day: 31,
                group: 0,
                gets: 2,
                bytes: 14
            }]
        );
        assert_eq!((t.start_day, t.end_day), (31, 32));
    }

    #[test]
    fn dropped_tables_renumber_the_kept_ones() {
        let mut b = TraceBuilder::new();
        b.add_read(
            "warehouse/gone.db/t/data/dt=2026-01-01/",
            false,
            d("2026-02-01"),
            1,
        )
        .unwrap();
        b.add_object(
            "warehouse/a.db/t/data/dt=2026-01-01/",
            false,
            d("2026-01-01"),
            1,
        )
        .unwrap();
        b.add_object("warehouse/b.db/u/metadata/", true, d("2026-01-01"), 1)
            .unwrap();
        let t = b.build();
        assert_eq!(
            t.tables,
            vec![
                "warehouse/a.db/t/".to_owned(),
                "warehouse/b.db/u/".to_owned()
            ]
        );
        assert_eq!(
            t.groups.iter().map(|g| g.table).collect::<Vec<_>>(),
            vec![0, 1]
        );
        assert!(t.reads.is_empty());
    }

    #[test]
    fn table_roots_agree_with_the_classifier_grouping() {
        use crate::classify::PrefixScheme;
        let scheme = PrefixScheme::default();
        let mut b = TraceBuilder::new();
        // A table whose root contains `data/`, next to a table rooted at `x/`.
        for key in [
            "x/data/db/t/metadata/v1.metadata.json",
            "x/data/db/t/data/dt=2026-01-01/f.parquet",
            "x/data/f.parquet",
        ] {
            let (prefix, metadata) = scheme.prefix_of(key);
            b.add_object(prefix, metadata, d("2026-01-01"), 1).unwrap();
        }
        let t = b.build();
        assert_eq!(t.tables, vec!["x/data/db/t/".to_owned(), "x/".to_owned()]);
        let tables: Vec<(&str, &str, bool)> = t
            .groups
            .iter()
            .map(|g| {
                (
                    t.tables[g.table as usize].as_str(),
                    g.prefix.as_str(),
                    g.metadata,
                )
            })
            .collect();
        assert_eq!(
            tables,
            vec![
                ("x/data/db/t/", "x/data/db/t/metadata/", true),
                ("x/data/db/t/", "x/data/db/t/data/dt=2026-01-01/", false),
                ("x/", "x/data/", false),
            ]
        );
    }

    #[test]
    fn indices_beyond_u32_are_an_error_not_a_wrap() {
        assert_eq!(
            checked_index("tables", u32::MAX as usize).unwrap(),
            u32::MAX
        );
        let err = checked_index("tables", u32::MAX as usize + 1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("more than 4294967295 tables"), "{err}");
    }
}
