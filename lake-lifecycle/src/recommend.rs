//! The recommender: learn each table's access shape from evidence, pick the cheapest valid policy per table that
//! never puts data classified hot in a class with a retrieval fee and never archives data that is still read, and
//! compare it with "everything in Intelligent-Tiering" and the fixed age rules on a later period.
//!
//! Iceberg-aware: a table's `metadata/` (metadata.json, manifest lists, manifests) is read by every query and is
//! never transitioned; only `data/` partitions are candidates. Pure: no IO.

use serde::Serialize;

use crate::cost::{PriceTable, SimulationReport, Strategy, simulate};
use crate::policy::{Filter, PolicyDocument, Rule, Transition};
use crate::trace::{Group, Trace};
use crate::validate::validate;

/// A partition age is hot when partitions of that age are read on at least this share of days (once a month):
/// regular access, as opposed to the occasional backfill or ad-hoc query.
pub const HOT_READ_FREQUENCY: f64 = 1.0 / 30.0;

/// The shortest evidence window (days from the first to the last read) a policy may be learned from. An age is hot
/// when read on at least [`HOT_READ_FREQUENCY`] of the window's days (once a month), so a window shorter than that
/// period turns a single read into a "regular" one: with 5 days of logs one read of a year-old partition would make
/// every partition younger than a year hot.
pub const MIN_EVIDENCE_DAYS: i64 = 30;

/// What the evidence says about one table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableAccessShape {
    /// Table root prefix.
    pub table: String,
    /// Partitions younger than this many days are read regularly (at least [`HOT_READ_FREQUENCY`]): they are hot.
    pub hot_days: i64,
    /// The oldest partition age read at all (None: data never read).
    pub oldest_read_age: Option<i64>,
    /// Data reads (group-days) in the evidence window.
    pub reads: u64,
}

/// Learns the access shape of every table from the reads in `[from, to)`.
pub fn access_shapes(trace: &Trace, from: i64, to: i64) -> Vec<TableAccessShape> {
    let mut ages: Vec<Vec<i64>> = vec![Vec::new(); trace.tables.len()];
    let lo = trace.reads.partition_point(|r| r.day < from);
    let hi = trace.reads.partition_point(|r| r.day < to);
    for read in &trace.reads[lo..hi] {
        let g = &trace.groups[read.group as usize];
        if !g.metadata {
            ages[g.table as usize].push(read.day - g.created_day);
        }
    }
    trace
        .tables
        .iter()
        .zip(ages)
        .map(|(table, mut ages)| {
            ages.sort_unstable();
            // Reads per age, over the window's days: the chance a partition of that age is read on a given day.
            let days = (to - from).max(1) as f64;
            let mut hot_days = 0;
            let mut i = 0;
            while i < ages.len() {
                let age = ages[i];
                let j = ages[i..].partition_point(|a| *a == age) + i;
                if (j - i) as f64 / days >= HOT_READ_FREQUENCY {
                    hot_days = age + 1;
                }
                i = j;
            }
            TableAccessShape {
                table: table.clone(),
                hot_days,
                oldest_read_age: ages.last().copied(),
                reads: ages.len() as u64,
            }
        })
        .collect()
}

/// The policy chosen for one table and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableChoice {
    /// The table root prefix.
    pub table: String,
    /// The rule for its `data/` prefix (None: stays in STANDARD).
    pub rule: Option<Rule>,
    /// Human-readable reasons.
    pub reasons: Vec<String>,
    /// Modelled cost of the choice over the evidence window.
    pub evidence_cost: f64,
    /// Modelled cost of all-STANDARD over the evidence window.
    pub evidence_standard_cost: f64,
}

fn rule(id: String, prefix: String, steps: &[(i64, &str)]) -> Rule {
    Rule {
        id: Some(id),
        filter: Some(Filter {
            prefix: Some(prefix),
            ..Default::default()
        }),
        status: "Enabled".into(),
        transitions: steps
            .iter()
            .map(|(d, c)| Transition {
                days: Some(*d),
                date: None,
                storage_class: (*c).into(),
            })
            .collect(),
        ..Default::default()
    }
}

/// The ID of the rule every recommended policy starts with.
pub const ABORT_RULE_ID: &str = "lake-abort-incomplete-multipart-uploads";

/// 64-bit FNV-1a: a hash that is the same on every platform and Rust release, so rule IDs are stable.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The rule IDs of the tables' `data/` rules, one per table, in order: `lake-` and the table root with `/` and `.`
/// as `-` (readable), unless that text is shared by another table (the mapping is lossy: `a.db/t/` and `a/db/t/`
/// read alike), is reserved, or is longer than AWS's 255 characters ([`crate::validate::MAX_ID_LEN`]); then it is
/// cut to fit and ends in `-` and 16 hex digits of a hash of the full root. Every ID is unique and valid, so no
/// table silently loses its rule to a rejected ID.
pub fn rule_ids(tables: &[String], reserved: &[&str]) -> Vec<String> {
    use std::collections::{HashMap, HashSet};
    let max = crate::validate::MAX_ID_LEN;
    let readable: Vec<String> = tables
        .iter()
        .map(|t| format!("lake-{}", t.trim_end_matches('/').replace(['/', '.'], "-")))
        .collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for r in &readable {
        *counts.entry(r.as_str()).or_default() += 1;
    }
    // The hash is of the full root, so two roots that read alike get different suffixes.
    let hashed = |readable: &str, table: &str, salt: &str| {
        let suffix = format!("-{:016x}{salt}", fnv1a(table));
        let keep: String = readable
            .chars()
            .take(max - suffix.chars().count())
            .collect();
        format!("{keep}{suffix}")
    };
    let mut seen: HashSet<String> = reserved.iter().map(|r| (*r).to_owned()).collect();
    tables
        .iter()
        .zip(&readable)
        .enumerate()
        .map(|(i, (table, r))| {
            let mut id = if counts[r.as_str()] > 1
                || r.chars().count() > max
                || reserved.contains(&r.as_str())
            {
                hashed(r, table, "")
            } else {
                r.clone()
            };
            // A readable ID that happens to equal another table's hashed one (or a 64-bit hash collision).
            if seen.contains(&id) {
                id = hashed(r, table, &format!("-{i}"));
            }
            seen.insert(id.clone());
            id
        })
        .collect()
}

const DAYS: [i64; 15] = [0, 1, 2, 3, 7, 14, 30, 45, 60, 90, 120, 180, 270, 365, 540];

fn candidates(shape: &TableAccessShape) -> Vec<Vec<(i64, &'static str)>> {
    let mut out: Vec<Vec<(i64, &'static str)>> = vec![vec![(0, "INTELLIGENT_TIERING")]];
    // Restore-only classes (GLACIER, DEEP_ARCHIVE) only well past the oldest read seen: twice its age plus a month,
    // because a live query on archived data fails until a restore completes (hours).
    let never_after = |d: i64| {
        shape
            .oldest_read_age
            .is_none_or(|oldest| 2 * oldest + 30 < d)
    };
    for &d in DAYS.iter().filter(|d| **d >= shape.hot_days) {
        out.push(vec![(d, "STANDARD_IA")]);
        out.push(vec![(d, "GLACIER_IR")]);
        out.push(vec![(d, "INTELLIGENT_TIERING")]);
        // GLACIER_IR's minimum storage duration is 90 days, so the next step comes at least 90 days later.
        let later = DAYS
            .iter()
            .copied()
            .chain([d + 90])
            .filter(|d2| *d2 >= d + 90 && never_after(*d2));
        for d2 in later {
            out.push(vec![(d, "GLACIER_IR"), (d2, "DEEP_ARCHIVE")]);
            out.push(vec![(d, "GLACIER_IR"), (d2, "GLACIER")]);
        }
        if never_after(d) {
            out.push(vec![(d, "DEEP_ARCHIVE")]);
            out.push(vec![(d, "GLACIER")]);
        }
        if d >= 30 {
            for &d2 in DAYS.iter().filter(|d2| **d2 >= d + 30) {
                out.push(vec![(d, "STANDARD_IA"), (d2, "GLACIER_IR")]);
            }
        }
    }
    out
}

/// Picks, per table, the cheapest valid rule over the evidence window `[from, to)` subject to: no retrieval fee on
/// hot data and no read of archived (restore-only) data.
pub fn recommend(
    trace: &Trace,
    prices: &PriceTable,
    from: i64,
    to: i64,
) -> (PolicyDocument, Vec<TableChoice>, Vec<TableAccessShape>) {
    let shapes = access_shapes(trace, from, to);
    let mut doc = PolicyDocument::default();
    let mut choices = Vec::new();
    let ids = rule_ids(&trace.tables, &[ABORT_RULE_ID]);
    // Every metadata group: no recommended rule may cover one (metadata is read by every query and stays in
    // STANDARD), e.g. the rule for `x/data/` when another table's root is `x/data/db/t/`.
    let metadata: Vec<&str> = trace
        .groups
        .iter()
        .filter(|g| g.metadata)
        .map(|g| g.prefix.as_str())
        .collect();
    for (ti, shape) in shapes.iter().enumerate() {
        let include = |g: &Group| g.table as usize == ti && !g.metadata;
        let hot = |_: &Group, age: i64| age < shape.hot_days;
        let standard = simulate(
            trace,
            &Strategy::AllStandard,
            prices,
            from,
            to,
            &include,
            &hot,
        )
        .total
        .total();
        let data_prefix = format!("{}data/", shape.table);
        let id = ids[ti].clone();
        let covered = metadata
            .iter()
            .find(|m| m.starts_with(&data_prefix) || data_prefix.starts_with(**m));
        let mut best: Option<(f64, Rule, SimulationReport)> = None;
        for steps in candidates(shape).into_iter().filter(|_| covered.is_none()) {
            let candidate = rule(id.clone(), data_prefix.clone(), &steps);
            let single = PolicyDocument {
                rules: vec![candidate.clone()],
                ..Default::default()
            };
            if !validate(&single).is_empty() {
                continue;
            }
            let report = simulate(
                trace,
                &Strategy::Policy(single),
                prices,
                from,
                to,
                &include,
                &hot,
            );
            if report.blocked_reads > 0 || report.hot_retrieval_bytes > 0 {
                continue;
            }
            let cost = report.total.total();
            if best.as_ref().is_none_or(|(b, _, _)| cost < *b) {
                best = Some((cost, candidate, report));
            }
        }
        let mut reasons = vec![
            format!(
                "metadata/ stays in STANDARD: every query reads it and its objects are under 128 KB"
            ),
            match shape.oldest_read_age {
                None => "data/ was never read in the evidence window".to_owned(),
                Some(oldest) => format!(
                    "partitions younger than {} days are read at least once a month (hot); {} data reads in the evidence window, the oldest partition read was {} days old",
                    shape.hot_days, shape.reads, oldest
                ),
            },
        ];
        let (rule, cost) = match best {
            Some((cost, rule, report)) if cost < standard * 0.99 => {
                let steps: Vec<String> = rule
                    .transitions
                    .iter()
                    .map(|t| format!("{} at day {}", t.storage_class, t.days.unwrap_or(0)))
                    .collect();
                reasons.push(format!(
                    "data/: {} costs {:.2} vs {:.2} in STANDARD over the evidence window ({:.2} retrieval, no read of archived data)",
                    steps.join(" then "),
                    cost,
                    standard,
                    report.total.retrieval
                ));
                doc.rules.push(rule.clone());
                (Some(rule), cost)
            }
            _ => {
                reasons.push(match covered {
                    Some(meta) => format!("data/ stays in STANDARD: a rule on {data_prefix} would also cover the Iceberg metadata under {meta}, which every query reads"),
                    None => "data/ stays in STANDARD: no transition saves money without retrieval fees on hot data or reads of archived data".into(),
                });
                (None, standard)
            }
        };
        choices.push(TableChoice {
            table: shape.table.clone(),
            rule,
            reasons,
            evidence_cost: cost,
            evidence_standard_cost: standard,
        });
    }
    doc.rules.insert(
        0,
        Rule {
            id: Some(ABORT_RULE_ID.into()),
            filter: Some(Filter::default()),
            status: "Enabled".into(),
            abort_incomplete_multipart_upload: Some(
                crate::policy::AbortIncompleteMultipartUpload {
                    days_after_initiation: Some(7),
                },
            ),
            ..Default::default()
        },
    );
    (doc, choices, shapes)
}

/// One row of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Strategy name.
    pub name: String,
    /// The simulation.
    pub report: SimulationReport,
}

/// The comparison of strategies over the evaluation window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The recommended policy (learned on the evidence window).
    pub recommended: PolicyDocument,
    /// Why, per table.
    pub choices: Vec<TableChoice>,
    /// All-STANDARD, all-Intelligent-Tiering, each fixed age rule, and the recommendation.
    pub rows: Vec<Row>,
    /// Index in `rows` of the cheapest fixed age rule, whatever it breaks.
    pub best_fixed: usize,
    /// Index in `rows` of the cheapest fixed age rule that blocks no live read (no read of GLACIER/DEEP_ARCHIVE data).
    pub best_viable_fixed: usize,
}

/// The fixed age rules compared with: bucket-wide transitions at 30/90/180 days.
pub fn fixed_age_rules(prefix: &str) -> Vec<(String, PolicyDocument)> {
    let plans: [&[(i64, &str)]; 9] = [
        &[(30, "STANDARD_IA")],
        &[(90, "STANDARD_IA")],
        &[(180, "STANDARD_IA")],
        &[(30, "GLACIER_IR")],
        &[(90, "GLACIER_IR")],
        &[(180, "GLACIER_IR")],
        &[(30, "STANDARD_IA"), (90, "GLACIER_IR")],
        &[(30, "STANDARD_IA"), (90, "GLACIER_IR"), (180, "GLACIER")],
        &[(30, "STANDARD_IA"), (90, "GLACIER"), (180, "DEEP_ARCHIVE")],
    ];
    plans
        .iter()
        .map(|steps| {
            let name = steps
                .iter()
                .map(|(d, c)| format!("{c}@{d}"))
                .collect::<Vec<_>>()
                .join(" -> ");
            (
                name.clone(),
                PolicyDocument {
                    rules: vec![rule("fixed".into(), prefix.into(), steps)],
                    ..Default::default()
                },
            )
        })
        .collect()
}

/// Learns on `[trace.first_day + gap, trace.start_day)`-style evidence window `[evidence_from, trace.start_day)` and
/// evaluates every strategy on `[trace.start_day, trace.end_day)`.
pub fn compare(trace: &Trace, prices: &PriceTable, evidence_from: i64) -> Comparison {
    let (recommended, choices, shapes) = recommend(trace, prices, evidence_from, trace.start_day);
    let hot = |g: &Group, age: i64| g.metadata || age < shapes[g.table as usize].hot_days;
    let all = |_: &Group| true;
    let run = |name: String, strategy: Strategy| Row {
        name,
        report: simulate(
            trace,
            &strategy,
            prices,
            trace.start_day,
            trace.end_day,
            &all,
            &hot,
        ),
    };
    let mut rows = vec![run("all STANDARD".into(), Strategy::AllStandard)];
    let it = PolicyDocument {
        rules: vec![rule(
            "all-it".into(),
            "warehouse/".into(),
            &[(0, "INTELLIGENT_TIERING")],
        )],
        ..Default::default()
    };
    rows.push(run(
        "everything in INTELLIGENT_TIERING".into(),
        Strategy::Policy(it),
    ));
    let fixed_start = rows.len();
    for (name, doc) in fixed_age_rules("warehouse/") {
        rows.push(run(format!("fixed {name}"), Strategy::Policy(doc)));
    }
    let best_fixed = (fixed_start..rows.len())
        .min_by(|a, b| {
            rows[*a]
                .report
                .total
                .total()
                .total_cmp(&rows[*b].report.total.total())
        })
        .expect("fixed rules exist");
    let best_viable_fixed = (fixed_start..rows.len())
        .filter(|i| rows[*i].report.blocked_reads == 0)
        .min_by(|a, b| {
            rows[*a]
                .report
                .total
                .total()
                .total_cmp(&rows[*b].report.total.total())
        })
        .unwrap_or(best_fixed);
    rows.push(run(
        "recommended".into(),
        Strategy::Policy(recommended.clone()),
    ));
    Comparison {
        recommended,
        choices,
        rows,
        best_fixed,
        best_viable_fixed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{TraceConfig, generate};

    /// A smaller generated lake (the events and clickstream tables, 200 days of history: fast in debug builds) with
    /// table roots renamed (`from` -> `to`, in tables and group prefixes). Learn on days -180..0.
    fn renamed(renames: &[(&str, &str)]) -> Trace {
        let mut config = TraceConfig::small(42);
        config.history_days = 200;
        config.days = 1;
        config
            .tables
            .retain(|t| t.name == "analytics.events" || t.name == "raw.clickstream");
        let mut trace = generate(&config);
        for (from, to) in renames {
            for t in &mut trace.tables {
                if t == from {
                    *t = (*to).to_owned();
                }
            }
            for g in &mut trace.groups {
                if let Some(rest) = g.prefix.strip_prefix(from) {
                    g.prefix = format!("{to}{rest}");
                }
            }
        }
        trace
    }

    #[test]
    fn rule_ids_are_unique_and_fit_aws_limit() {
        let long_a = format!("warehouse/{}.db/a/", "x".repeat(300));
        let long_b = format!("warehouse/{}.db/b/", "x".repeat(300));
        let tables: Vec<String> = [
            "warehouse/analytics.db/events/",
            // These two read alike once `/` and `.` become `-`.
            "warehouse/a.db/t/",
            "warehouse/a/db/t/",
            // These two differ only past the 255th character.
            &long_a,
            &long_b,
            // The same root without the `warehouse/` the old code trimmed.
            "analytics.db/events/",
        ]
        .iter()
        .map(|t| (*t).to_owned())
        .collect();
        let ids = rule_ids(&tables, &[ABORT_RULE_ID]);
        assert_eq!(ids[0], "lake-warehouse-analytics-db-events");
        assert_eq!(ids[5], "lake-analytics-db-events");
        assert!(
            ids[1].starts_with("lake-warehouse-a-db-t-")
                && ids[1].len() == "lake-warehouse-a-db-t-".len() + 16,
            "{}",
            ids[1]
        );
        assert!(ids[2].starts_with("lake-warehouse-a-db-t-"));
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{ids:?}");
        assert!(
            ids.iter()
                .all(|id| id.chars().count() <= crate::validate::MAX_ID_LEN)
        );
        assert_eq!(ids[3].chars().count(), crate::validate::MAX_ID_LEN);
        // Stable across runs and platforms (FNV-1a, not the std hasher).
        assert_eq!(ids, rule_ids(&tables, &[ABORT_RULE_ID]));
        // A table whose readable ID is reserved gets a hashed one.
        let clash = rule_ids(
            &["abort-incomplete-multipart-uploads/".to_owned()],
            &[ABORT_RULE_ID],
        );
        assert_ne!(clash[0], ABORT_RULE_ID);
    }

    #[test]
    fn a_long_table_root_still_gets_its_rule() {
        // Clickstream is never read after two days, so it always gets a rule; with a 300-character root the old
        // ID was longer than 255 characters, failed validation, and the table silently stayed in STANDARD.
        let long = format!("warehouse/raw.db/{}/", "c".repeat(300));
        let trace = renamed(&[("warehouse/raw.db/clickstream/", &long)]);
        let (doc, choices, _) = recommend(&trace, &PriceTable::us_east_1(), -180, 0);
        assert_eq!(validate(&doc), vec![]);
        let clicks = choices.iter().find(|c| c.table == long).unwrap();
        let rule = clicks.rule.as_ref().expect("a rule for the long table");
        assert!(rule.id.as_ref().unwrap().chars().count() <= crate::validate::MAX_ID_LEN);
        assert_eq!(rule.key_prefix(), format!("{long}data/"));
    }

    #[test]
    fn no_rule_covers_metadata() {
        // Clickstream's root becomes `x/` and the events table lives under `x/data/db/t/`: a rule on `x/data/`
        // would move the events table's metadata.
        let trace = renamed(&[
            ("warehouse/raw.db/clickstream/", "x/"),
            ("warehouse/analytics.db/events/", "x/data/db/t/"),
        ]);
        let (doc, choices, _) = recommend(&trace, &PriceTable::us_east_1(), -180, 0);
        assert_eq!(validate(&doc), vec![]);
        for rule in doc.rules.iter().filter(|r| !r.transitions.is_empty()) {
            let p = rule.key_prefix();
            for g in trace.groups.iter().filter(|g| g.metadata) {
                assert!(
                    !g.prefix.starts_with(p) && !p.starts_with(g.prefix.as_str()),
                    "rule {p} covers metadata {}",
                    g.prefix
                );
            }
        }
        let x = choices.iter().find(|c| c.table == "x/").unwrap();
        assert!(x.rule.is_none(), "{x:?}");
        assert!(
            x.reasons
                .iter()
                .any(|r| r.contains("x/data/db/t/metadata/")),
            "{:?}",
            x.reasons
        );
        // The nested table still gets its own data rule.
        let events = choices.iter().find(|c| c.table == "x/data/db/t/").unwrap();
        assert_eq!(
            events.rule.as_ref().map(|r| r.key_prefix().to_owned()),
            Some("x/data/db/t/data/".to_owned())
        );
    }

    #[test]
    fn recommended_beats_intelligent_tiering_and_the_best_fixed_rule_without_hot_retrieval() {
        let trace = generate(&TraceConfig::small(42));
        let prices = PriceTable::us_east_1();
        let cmp = compare(&trace, &prices, -365);
        assert!(
            validate(&cmp.recommended).is_empty(),
            "{:?}",
            validate(&cmp.recommended)
        );
        let cost = |i: usize| cmp.rows[i].report.total.total();
        let rec = cmp.rows.len() - 1;
        for c in &cmp.choices {
            eprintln!("{} {:?}", c.table, c.reasons);
        }
        for (i, row) in cmp.rows.iter().enumerate() {
            eprintln!(
                "{:<60} {:>12.2} hot-retrieval {} blocked {}",
                row.name,
                cost(i),
                row.report.hot_retrieval_bytes,
                row.report.blocked_reads
            );
        }
        assert!(
            cost(rec) < cost(1),
            "recommended {} vs IT {}",
            cost(rec),
            cost(1)
        );
        assert!(
            cost(rec) < cost(cmp.best_fixed),
            "recommended {} vs best fixed {}",
            cost(rec),
            cost(cmp.best_fixed)
        );
        assert!(cost(rec) < cost(0));
        assert_eq!(cmp.rows[rec].report.hot_retrieval_bytes, 0);
        assert_eq!(cmp.rows[rec].report.blocked_reads, 0);
        // Orders are read across their history: they stay in STANDARD; clickstream is never read after two days.
        let orders = cmp
            .choices
            .iter()
            .find(|c| c.table.contains("orders"))
            .unwrap();
        assert!(
            orders.rule.as_ref().is_none_or(|r| r
                .transitions
                .iter()
                .all(|t| t.storage_class == "INTELLIGENT_TIERING")),
            "{orders:?}"
        );
        let clicks = cmp
            .choices
            .iter()
            .find(|c| c.table.contains("clickstream"))
            .unwrap();
        assert!(
            clicks
                .rule
                .as_ref()
                .unwrap()
                .transitions
                .iter()
                .any(|t| t.storage_class == "DEEP_ARCHIVE" || t.storage_class == "GLACIER"),
            "{clicks:?}"
        );
    }
}
