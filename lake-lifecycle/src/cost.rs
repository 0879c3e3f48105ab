//! The cost model: a per-region price table kept as data (with its source and date), and a day-by-day simulation
//! of a policy over an access trace, reported month by month against all-STANDARD.
//!
//! Billing rules modelled (S3 pricing, <https://aws.amazon.com/s3/pricing/>, and the storage class comparison,
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-class-intro.html#sc-compare>):
//! - storage per GB-month per class; STANDARD_IA, ONEZONE_IA and GLACIER_IR bill at least 128 KB per object;
//!   GLACIER and DEEP_ARCHIVE add 40 KB per object (32 KB at the class rate, 8 KB at the STANDARD rate);
//! - minimum storage durations (30/30/90/90/180 days): leaving a class earlier bills the remaining days;
//! - lifecycle transition requests per 1,000 objects, GET requests per class, retrieval per GB;
//! - GLACIER/DEEP_ARCHIVE objects must be restored before a GET (restore request + retrieval per GB), which a live
//!   query cannot wait for: such reads are counted as `blocked_reads`;
//! - Intelligent-Tiering: monitoring fee per 1,000 objects of at least 128 KB per month (smaller objects are not
//!   monitored and always bill at the Frequent Access rate); Frequent -> Infrequent after 30 days without access,
//!   Archive Instant after 90, optional Archive/Deep Archive Access tiers per the bucket's configurations; an access
//!   moves the object back to Frequent without a retrieval fee;
//! - lifecycle does not transition objects smaller than 128 KB (`TransitionDefaultMinimumObjectSize` =
//!   `all_storage_classes_128K`, the default), except to GLACIER/DEEP_ARCHIVE with `varies_by_storage_class`.
//!
//! Pure: no IO. Date-based transitions are not simulated (only `Days`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::policy::{PolicyDocument, StorageClass};
use crate::trace::{Group, Trace};

/// Days per billing month (365/12).
pub const DAYS_PER_MONTH: f64 = 365.0 / 12.0;
const GB: f64 = 1024.0 * 1024.0 * 1024.0;

/// A region's S3 prices, loaded from data (see `data/prices-us-east-1.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct PriceTable {
    pub region: String,
    pub currency: String,
    /// Where the figures come from.
    pub source: String,
    /// When they were taken.
    pub as_of: String,
    /// Keys: storage classes, plus `IT_FREQUENT`, `IT_INFREQUENT`, `IT_ARCHIVE_INSTANT`, `IT_ARCHIVE`, `IT_DEEP_ARCHIVE`.
    pub storage_per_gb_month: HashMap<String, f64>,
    pub get_per_1000: HashMap<String, f64>,
    pub transition_per_1000: HashMap<String, f64>,
    pub retrieval_per_gb: HashMap<String, f64>,
    pub restore_per_1000: HashMap<String, f64>,
    pub it_monitoring_per_1000_objects_month: f64,
    pub it_min_monitored_object_bytes: u64,
    pub minimum_billable_object_bytes: HashMap<String, u64>,
    pub archive_overhead_bytes: ArchiveOverhead,
    pub minimum_storage_days: HashMap<String, u32>,
    pub it_tiers: ItTiers,
    pub lifecycle_min_transition_object_bytes: u64,
}

/// Per-object overhead of GLACIER/DEEP_ARCHIVE objects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ArchiveOverhead {
    pub at_class_rate: u64,
    pub at_standard_rate: u64,
}

/// Intelligent-Tiering's automatic tiers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ItTiers {
    pub infrequent_after_days: u32,
    pub archive_instant_after_days: u32,
}

impl PriceTable {
    /// The built-in us-east-1 table.
    pub fn us_east_1() -> PriceTable {
        PriceTable::from_json(include_str!("../data/prices-us-east-1.json"))
            .expect("the built-in price table parses")
    }

    /// Parses a price table and checks every storage class has its prices.
    pub fn from_json(json: &str) -> Result<PriceTable> {
        let table: PriceTable = serde_json::from_str(json).map_err(|e| Error::InvalidInput {
            field: "price table".into(),
            reason: e.to_string(),
        })?;
        for class in StorageClass::ALL {
            let key = if class == StorageClass::IntelligentTiering {
                "IT_FREQUENT"
            } else {
                class.as_str()
            };
            if !table.storage_per_gb_month.contains_key(key) {
                return Err(Error::InvalidInput {
                    field: format!("price table storage_per_gb_month.{key}"),
                    reason: "missing".into(),
                });
            }
        }
        Ok(table)
    }

    fn storage(&self, key: &str) -> f64 {
        self.storage_per_gb_month.get(key).copied().unwrap_or(0.0)
    }

    fn per(map: &HashMap<String, f64>, class: StorageClass) -> f64 {
        map.get(class.as_str()).copied().unwrap_or(0.0)
    }

    fn min_days(&self, class: StorageClass) -> u32 {
        self.minimum_storage_days
            .get(class.as_str())
            .copied()
            .unwrap_or(0)
    }
}

/// Costs of one month (or a total), in the table's currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[allow(missing_docs)]
pub struct CostBreakdown {
    pub storage: f64,
    pub requests: f64,
    pub transitions: f64,
    pub retrieval: f64,
    pub monitoring: f64,
    /// Remaining minimum storage duration billed when leaving a class early.
    pub early: f64,
}

impl CostBreakdown {
    /// The sum.
    pub fn total(&self) -> f64 {
        self.storage
            + self.requests
            + self.transitions
            + self.retrieval
            + self.monitoring
            + self.early
    }

    fn add(&mut self, other: &CostBreakdown) {
        self.storage += other.storage;
        self.requests += other.requests;
        self.transitions += other.transitions;
        self.retrieval += other.retrieval;
        self.monitoring += other.monitoring;
        self.early += other.early;
    }
}

/// The result of simulating one strategy.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SimulationReport {
    /// Per month.
    pub months: Vec<CostBreakdown>,
    /// Over the whole run.
    pub total: CostBreakdown,
    /// Bytes read from a class with a retrieval fee (or a restore) while the data was classified hot.
    pub hot_retrieval_bytes: u64,
    /// Reads that hit GLACIER/DEEP_ARCHIVE (or IT Archive/Deep Archive Access) and needed a restore: a live query fails.
    pub blocked_reads: u64,
    /// Bytes per storage class at the end (Intelligent-Tiering counted as one class).
    pub end_bytes: HashMap<String, u64>,
}

/// What to simulate.
#[derive(Debug, Clone)]
pub enum Strategy {
    /// Everything stays in S3 Standard (the baseline).
    AllStandard,
    /// A lifecycle + Intelligent-Tiering policy document.
    Policy(PolicyDocument),
}

/// The transitions (age in days -> class) and Intelligent-Tiering archive tiers a policy gives one group.
#[derive(Debug, Clone, Default, PartialEq)]
struct Schedule {
    steps: Vec<(i64, StorageClass)>,
    it_archive: Option<i64>,
    it_deep: Option<i64>,
}

fn schedule_for(doc: &PolicyDocument, group: &Group, prices: &PriceTable) -> Schedule {
    let avg = group.avg_object_bytes();
    let varies =
        doc.transition_default_minimum_object_size.as_deref() == Some("varies_by_storage_class");
    let mut steps = Vec::new();
    for rule in doc
        .rules
        .iter()
        .filter(|r| r.enabled() && group.prefix.starts_with(r.key_prefix()))
    {
        if rule.has_tag_filter() {
            continue; // the trace has no tags
        }
        let (gt, lt) = rule
            .filter
            .as_ref()
            .map(|f| {
                let and = f.and.as_ref();
                (
                    f.object_size_greater_than
                        .or(and.and_then(|a| a.object_size_greater_than)),
                    f.object_size_less_than
                        .or(and.and_then(|a| a.object_size_less_than)),
                )
            })
            .unwrap_or((None, None));
        if gt.is_some_and(|g| avg <= g as u64) || lt.is_some_and(|l| avg >= l as u64) {
            continue;
        }
        for t in &rule.transitions {
            let (Some(days), Some(class)) = (t.days, StorageClass::parse(&t.storage_class)) else {
                continue;
            };
            // A custom size filter takes precedence over the 128 KB default.
            let small_ok = gt.is_some()
                || (varies && matches!(class, StorageClass::Glacier | StorageClass::DeepArchive));
            if avg < prices.lifecycle_min_transition_object_bytes && !small_ok {
                continue;
            }
            steps.push((days, class));
        }
    }
    steps.sort_by_key(|(d, c)| (*d, c.waterfall_rank()));
    let mut it_archive = None;
    let mut it_deep = None;
    for config in doc
        .intelligent_tiering
        .iter()
        .filter(|c| c.status == "Enabled")
    {
        let prefix = config
            .filter
            .as_ref()
            .map(|f| {
                f.prefix
                    .clone()
                    .or(f.and.as_ref().and_then(|a| a.prefix.clone()))
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        if !group.prefix.starts_with(&prefix) {
            continue;
        }
        for tier in &config.tierings {
            match tier.access_tier.as_str() {
                "ARCHIVE_ACCESS" => it_archive = Some(tier.days),
                "DEEP_ARCHIVE_ACCESS" => it_deep = Some(tier.days),
                _ => {}
            }
        }
    }
    Schedule {
        steps,
        it_archive,
        it_deep,
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ItTier {
    Frequent,
    Infrequent,
    ArchiveInstant,
    Archive,
    Deep,
}

impl ItTier {
    fn key(self) -> &'static str {
        match self {
            ItTier::Frequent => "IT_FREQUENT",
            ItTier::Infrequent => "IT_INFREQUENT",
            ItTier::ArchiveInstant => "IT_ARCHIVE_INSTANT",
            ItTier::Archive => "IT_ARCHIVE",
            ItTier::Deep => "IT_DEEP_ARCHIVE",
        }
    }
}

struct State {
    class: StorageClass,
    since: i64,
    last_access: i64,
}

/// Simulates `strategy` over the days `[from, to)` of `trace`, for the groups `include` selects. Every object that
/// exists at `from` starts in STANDARD (the policy is adopted on `from`). `hot(group, age)` says whether the
/// classifier calls the data hot at that age; retrieval of hot data is reported separately.
pub fn simulate(
    trace: &Trace,
    strategy: &Strategy,
    prices: &PriceTable,
    from: i64,
    to: i64,
    include: &dyn Fn(&Group) -> bool,
    hot: &dyn Fn(&Group, i64) -> bool,
) -> SimulationReport {
    let months = (((to - from) as f64) / DAYS_PER_MONTH).ceil().max(1.0) as usize;
    let mut report = SimulationReport {
        months: vec![CostBreakdown::default(); months],
        ..Default::default()
    };
    let schedules: Vec<Option<Schedule>> = trace
        .groups
        .iter()
        .map(|g| {
            if !include(g) {
                return None;
            }
            Some(match strategy {
                Strategy::AllStandard => Schedule::default(),
                Strategy::Policy(doc) => schedule_for(doc, g, prices),
            })
        })
        .collect();
    let mut states: Vec<State> = trace
        .groups
        .iter()
        .map(|g| State {
            class: StorageClass::Standard,
            since: g.created_day.max(from),
            last_access: g.created_day,
        })
        .collect();
    let active: Vec<usize> = (0..trace.groups.len())
        .filter(|i| schedules[*i].is_some())
        .collect();
    let mut reads = trace.reads.partition_point(|r| r.day < from);
    let standard = prices.storage("STANDARD");
    for day in from..to {
        let month = ((((day - from) as f64) / DAYS_PER_MONTH) as usize).min(months - 1);
        let cost = &mut report.months[month];
        // Transitions and storage.
        for &index in &active {
            let group = &trace.groups[index];
            let Some(schedule) = &schedules[index] else {
                continue;
            };
            if group.created_day > day {
                continue;
            }
            let state = &mut states[index];
            let age = day - group.created_day;
            let target = schedule
                .steps
                .iter()
                .filter(|(d, _)| *d <= age)
                .map(|(_, c)| *c)
                .max_by_key(|c| c.waterfall_rank());
            if let Some(target) = target
                && target.waterfall_rank() > state.class.waterfall_rank()
            {
                let held = (day - state.since) as u32;
                let min = prices.min_days(state.class);
                if held < min {
                    cost.early += billable_gb(group, state.class, prices)
                        * storage_rate(prices, state.class, ItTier::Frequent)
                        * f64::from(min - held)
                        / DAYS_PER_MONTH;
                }
                cost.transitions += group.objects as f64 / 1000.0
                    * PriceTable::per(&prices.transition_per_1000, target);
                state.class = target;
                state.since = day;
                state.last_access = day;
            }
            let it_tier = it_tier(state, schedule, group, prices, day);
            let gb = billable_gb(group, state.class, prices);
            cost.storage += gb * storage_rate(prices, state.class, it_tier) / DAYS_PER_MONTH;
            if matches!(
                state.class,
                StorageClass::Glacier | StorageClass::DeepArchive
            ) {
                cost.storage += group.objects as f64
                    * prices.archive_overhead_bytes.at_standard_rate as f64
                    / GB
                    * standard
                    / DAYS_PER_MONTH;
            }
            if state.class == StorageClass::IntelligentTiering
                && group.avg_object_bytes() >= prices.it_min_monitored_object_bytes
            {
                cost.monitoring += group.objects as f64 / 1000.0
                    * prices.it_monitoring_per_1000_objects_month
                    / DAYS_PER_MONTH;
            }
        }
        // Reads of the day.
        while reads < trace.reads.len() && trace.reads[reads].day == day {
            let read = &trace.reads[reads];
            reads += 1;
            let index = read.group as usize;
            let Some(schedule) = &schedules[index] else {
                continue;
            };
            let group = &trace.groups[index];
            let state = &mut states[index];
            let tier = it_tier(state, schedule, group, prices, day);
            let is_hot = hot(group, day - group.created_day);
            let gb = read.bytes as f64 / GB;
            cost.requests +=
                f64::from(read.gets) / 1000.0 * PriceTable::per(&prices.get_per_1000, state.class);
            let mut fee = gb * PriceTable::per(&prices.retrieval_per_gb, state.class);
            let restore = state.class.needs_restore()
                || (state.class == StorageClass::IntelligentTiering
                    && matches!(tier, ItTier::Archive | ItTier::Deep));
            if restore {
                report.blocked_reads += 1;
                if state.class.needs_restore() {
                    fee += f64::from(read.gets) / 1000.0
                        * PriceTable::per(&prices.restore_per_1000, state.class);
                }
            }
            if fee > 0.0 || restore {
                cost.retrieval += fee;
                if is_hot {
                    report.hot_retrieval_bytes += read.bytes;
                }
            }
            state.last_access = day;
        }
    }
    for month in &report.months {
        report.total.add(month);
    }
    for (index, group) in trace.groups.iter().enumerate() {
        if schedules[index].is_some() && group.created_day < to {
            *report
                .end_bytes
                .entry(states[index].class.as_str().to_owned())
                .or_default() += group.bytes;
        }
    }
    report
}

fn it_tier(
    state: &State,
    schedule: &Schedule,
    group: &Group,
    prices: &PriceTable,
    day: i64,
) -> ItTier {
    if state.class != StorageClass::IntelligentTiering
        || group.avg_object_bytes() < prices.it_min_monitored_object_bytes
    {
        return ItTier::Frequent;
    }
    let idle = day - state.last_access.max(state.since);
    if schedule.it_deep.is_some_and(|d| idle >= d) {
        ItTier::Deep
    } else if schedule.it_archive.is_some_and(|d| idle >= d) {
        ItTier::Archive
    } else if idle >= i64::from(prices.it_tiers.archive_instant_after_days) {
        ItTier::ArchiveInstant
    } else if idle >= i64::from(prices.it_tiers.infrequent_after_days) {
        ItTier::Infrequent
    } else {
        ItTier::Frequent
    }
}

fn storage_rate(prices: &PriceTable, class: StorageClass, tier: ItTier) -> f64 {
    match class {
        StorageClass::IntelligentTiering => prices.storage(tier.key()),
        other => prices.storage(other.as_str()),
    }
}

fn billable_gb(group: &Group, class: StorageClass, prices: &PriceTable) -> f64 {
    let min = prices
        .minimum_billable_object_bytes
        .get(class.as_str())
        .copied()
        .unwrap_or(0);
    let mut bytes = if group.avg_object_bytes() < min {
        group.objects * min
    } else {
        group.bytes
    };
    if matches!(class, StorageClass::Glacier | StorageClass::DeepArchive) {
        bytes += group.objects * prices.archive_overhead_bytes.at_class_rate;
    }
    bytes as f64 / GB
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Read;

    fn one_group(bytes: u64, objects: u64) -> Trace {
        Trace {
            tables: vec!["warehouse/t/".into()],
            groups: vec![Group {
                prefix: "warehouse/t/data/p=1/".into(),
                table: 0,
                metadata: false,
                created_day: 0,
                objects,
                bytes,
            }],
            reads: vec![],
            start_day: 0,
            end_day: 365,
            first_day: 0,
        }
    }

    fn policy(json: &str) -> Strategy {
        Strategy::Policy(PolicyDocument::from_json("t", json).unwrap())
    }

    #[test]
    fn standard_storage_of_one_terabyte_for_a_year() {
        let trace = one_group(1024 * 1024 * 1024 * 1024, 4096);
        let report = simulate(
            &trace,
            &Strategy::AllStandard,
            &PriceTable::us_east_1(),
            0,
            365,
            &|_| true,
            &|_, _| false,
        );
        // 1024 GB x $0.023 x 12 months.
        assert!(
            (report.total.storage - 1024.0 * 0.023 * 12.0).abs() < 0.01,
            "{}",
            report.total.storage
        );
        assert_eq!(report.months.len(), 12);
    }

    #[test]
    fn transitions_cost_requests_and_cut_storage() {
        let trace = one_group(1024 * 1024 * 1024 * 1024, 4096);
        let prices = PriceTable::us_east_1();
        let base = simulate(
            &trace,
            &Strategy::AllStandard,
            &prices,
            0,
            365,
            &|_| true,
            &|_, _| false,
        );
        let gir = simulate(
            &trace,
            &policy(
                r#"{"Rules":[{"ID":"g","Filter":{},"Status":"Enabled","Transitions":[{"Days":30,"StorageClass":"GLACIER_IR"}]}]}"#,
            ),
            &prices,
            0,
            365,
            &|_| true,
            &|_, _| false,
        );
        assert!((gir.total.transitions - 4096.0 / 1000.0 * 0.02).abs() < 1e-9);
        let expected = 1024.0 * (0.023 * 30.0 + 0.004 * 335.0) / DAYS_PER_MONTH;
        assert!(
            (gir.total.storage - expected).abs() < 0.01,
            "{} vs {expected}",
            gir.total.storage
        );
        assert!(gir.total.total() < base.total.total());
        assert_eq!(
            gir.end_bytes.get("GLACIER_IR"),
            Some(&(1024 * 1024 * 1024 * 1024))
        );
    }

    #[test]
    fn small_objects_are_not_transitioned_by_default() {
        let trace = one_group(100 * 1000 * 1024, 1000); // 100 KB objects
        let prices = PriceTable::us_east_1();
        let doc = r#"{"Rules":[{"ID":"g","Filter":{},"Status":"Enabled","Transitions":[{"Days":30,"StorageClass":"GLACIER"}]}]}"#;
        let report = simulate(&trace, &policy(doc), &prices, 0, 365, &|_| true, &|_, _| {
            false
        });
        assert_eq!(report.total.transitions, 0.0);
        let varies = doc.replace(
            r#""Rules""#,
            r#""TransitionDefaultMinimumObjectSize":"varies_by_storage_class","Rules""#,
        );
        let report = simulate(
            &trace,
            &policy(&varies),
            &prices,
            0,
            365,
            &|_| true,
            &|_, _| false,
        );
        assert!(report.total.transitions > 0.0);
    }

    #[test]
    fn reads_from_glacier_are_blocked_and_ia_reads_pay_retrieval() {
        let mut trace = one_group(1024 * 1024 * 1024, 8);
        trace.reads = vec![Read {
            day: 200,
            group: 0,
            gets: 8,
            bytes: 1024 * 1024 * 1024,
        }];
        let prices = PriceTable::us_east_1();
        let glacier = r#"{"Rules":[{"ID":"g","Filter":{},"Status":"Enabled","Transitions":[{"Days":100,"StorageClass":"GLACIER"}]}]}"#;
        let report = simulate(
            &trace,
            &policy(glacier),
            &prices,
            0,
            365,
            &|_| true,
            &|_, age| age < 365,
        );
        assert_eq!(report.blocked_reads, 1);
        assert_eq!(report.hot_retrieval_bytes, 1024 * 1024 * 1024);
        let ia = glacier.replace("GLACIER", "STANDARD_IA");
        let report = simulate(&trace, &policy(&ia), &prices, 0, 365, &|_| true, &|_, _| {
            false
        });
        assert_eq!(report.blocked_reads, 0);
        assert!((report.total.retrieval - 0.01).abs() < 1e-9);
    }

    #[test]
    fn intelligent_tiering_moves_idle_data_down_and_charges_monitoring() {
        let trace = one_group(1024 * 1024 * 1024 * 1024, 1000);
        let prices = PriceTable::us_east_1();
        let it = r#"{"Rules":[{"ID":"it","Filter":{},"Status":"Enabled","Transitions":[{"Days":0,"StorageClass":"INTELLIGENT_TIERING"}]}]}"#;
        let report = simulate(&trace, &policy(it), &prices, 0, 365, &|_| true, &|_, _| {
            false
        });
        let expected = 1024.0 * (0.023 * 30.0 + 0.0125 * 60.0 + 0.004 * 275.0) / DAYS_PER_MONTH;
        assert!(
            (report.total.storage - expected).abs() < 0.01,
            "{} vs {expected}",
            report.total.storage
        );
        assert!((report.total.monitoring - 1000.0 / 1000.0 * 0.0025 * 12.0).abs() < 1e-6);
    }

    #[test]
    fn early_transition_bills_the_rest_of_the_minimum_duration() {
        let trace = one_group(1024 * 1024 * 1024 * 1024, 1000);
        let prices = PriceTable::us_east_1();
        let doc = r#"{"Rules":[{"ID":"g","Filter":{},"Status":"Enabled","Transitions":[{"Days":30,"StorageClass":"STANDARD_IA"},{"Days":40,"StorageClass":"GLACIER"}]}]}"#;
        let report = simulate(&trace, &policy(doc), &prices, 0, 365, &|_| true, &|_, _| {
            false
        });
        let expected = 1024.0 * 0.0125 * 20.0 / DAYS_PER_MONTH;
        assert!(
            (report.total.early - expected).abs() < 0.01,
            "{}",
            report.total.early
        );
    }
}
