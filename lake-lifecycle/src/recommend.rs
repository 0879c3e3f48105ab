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
        let id = format!(
            "lake-{}",
            shape
                .table
                .trim_start_matches("warehouse/")
                .trim_end_matches('/')
                .replace(['/', '.'], "-")
        );
        let mut best: Option<(f64, Rule, SimulationReport)> = None;
        for steps in candidates(shape) {
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
                reasons.push("data/ stays in STANDARD: no transition saves money without retrieval fees on hot data or reads of archived data".into());
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
            id: Some("lake-abort-incomplete-multipart-uploads".into()),
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
