//! The client-side validator: AWS's real rules for lifecycle and Intelligent-Tiering configurations.
//!
//! The emulator accepts anything, and S3 itself reports only the first problem with a terse `InvalidArgument`,
//! so every rule AWS documents is checked here and all violations are reported at once, each naming the rule
//! (ID and index), the field, and what to change in AWS's terms. Sources, cited per check below:
//! - [LC] Lifecycle configuration elements: <https://docs.aws.amazon.com/AmazonS3/latest/userguide/intro-lifecycle-rules.html>
//! - [TR] Transitioning objects using Amazon S3 Lifecycle (supported transitions, constraints):
//!   <https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-transition-general-considerations.html>
//! - [API] `LifecycleRule`, `Transition`, `LifecycleExpiration`, `NoncurrentVersionTransition`, `Tiering` in the
//!   S3 API reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_Transition.html>,
//!   <https://docs.aws.amazon.com/AmazonS3/latest/API/API_Tiering.html>
//! - [CF] How Amazon S3 handles conflicts in lifecycle configurations ("Examples of overlapping filters and
//!   conflicting lifecycle actions"): <https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-conflicts.html>
//! - [IT] S3 Intelligent-Tiering archive access tiers: <https://docs.aws.amazon.com/AmazonS3/latest/userguide/intelligent-tiering-managing.html>
//!
//! Pure: no IO.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

use crate::policy::{Filter, PolicyDocument, Rule, StorageClass};

/// The most rules one lifecycle configuration can hold ([LC]: "can contain up to 1,000 rules").
pub const MAX_RULES: usize = 1000;
/// The longest rule ID ([API] `LifecycleRule.ID`: "cannot be longer than 255 characters").
pub const MAX_ID_LEN: usize = 255;
/// The most Intelligent-Tiering configurations per bucket ([IT]).
pub const MAX_IT_CONFIGURATIONS: usize = 1000;

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which rule or configuration: `rule #2 (ID "cold")`, `intelligent-tiering "archive"`, or `document`.
    pub rule: String,
    /// The field, e.g. `Transitions[1].Days`.
    pub field: String,
    /// What is wrong and what to change, in AWS's terms.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.rule, self.field, self.message)
    }
}

struct Sink {
    out: Vec<Violation>,
}

impl Sink {
    fn push(&mut self, rule: &str, field: impl Into<String>, message: impl Into<String>) {
        self.out.push(Violation {
            rule: rule.to_owned(),
            field: field.into(),
            message: message.into(),
        });
    }
}

fn rule_name(index: usize, rule: &Rule) -> String {
    match &rule.id {
        Some(id) => format!("rule #{index} (ID {id:?})"),
        None => format!("rule #{index}"),
    }
}

/// Checks a policy document against AWS's rules; an empty list means S3 would accept it and it does what it
/// says (no action silently ignored, no conflicting overlaps).
pub fn validate(doc: &PolicyDocument) -> Vec<Violation> {
    let mut sink = Sink { out: Vec::new() };
    if doc.rules.is_empty() && doc.intelligent_tiering.is_empty() {
        sink.push(
            "document",
            "Rules",
            "has no lifecycle rules and no IntelligentTieringConfigurationList: a lifecycle configuration needs at least one Rule",
        );
    }
    // [LC] "Each S3 bucket can have one lifecycle configuration assigned to it, which can contain up to 1,000 rules."
    if doc.rules.len() > MAX_RULES {
        sink.push(
            "document",
            "Rules",
            format!("has {} rules; a lifecycle configuration can contain up to {MAX_RULES} rules: merge rules with the same actions", doc.rules.len()),
        );
    }
    // [API] LifecycleConfiguration.TransitionDefaultMinimumObjectSize valid values.
    if let Some(size) = &doc.transition_default_minimum_object_size
        && size != "all_storage_classes_128K"
        && size != "varies_by_storage_class"
    {
        sink.push(
            "document",
            "TransitionDefaultMinimumObjectSize",
            format!("{size:?} is not valid: use \"all_storage_classes_128K\" or \"varies_by_storage_class\""),
        );
    }
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (index, rule) in doc.rules.iter().enumerate() {
        let name = rule_name(index, rule);
        if let Some(id) = &rule.id {
            // [LC] "ID element ... uniquely identifies a rule"; [API] at most 255 characters.
            if id.chars().count() > MAX_ID_LEN {
                sink.push(
                    &name,
                    "ID",
                    format!(
                        "is {} characters; the ID cannot be longer than {MAX_ID_LEN} characters",
                        id.chars().count()
                    ),
                );
            }
            if let Some(first) = ids.insert(id, index) {
                sink.push(
                    &name,
                    "ID",
                    format!("duplicates the ID of rule #{first}: each rule needs a unique ID"),
                );
            }
        }
        check_rule(&mut sink, &name, rule);
    }
    check_overlaps(&mut sink, doc);
    check_intelligent_tiering(&mut sink, doc);
    sink.out
}

fn check_rule(sink: &mut Sink, name: &str, rule: &Rule) {
    // [API] LifecycleRule.Status: "Enabled | Disabled".
    if rule.status != "Enabled" && rule.status != "Disabled" {
        sink.push(
            name,
            "Status",
            format!(
                "{:?} is not valid: use \"Enabled\" or \"Disabled\"",
                rule.status
            ),
        );
    }
    // [API] LifecycleRule.Prefix is deprecated and cannot be combined with Filter; one of them is required.
    match (&rule.filter, &rule.prefix) {
        (Some(_), Some(_)) => sink.push(
            name,
            "Prefix",
            "cannot be used together with Filter: move the prefix into Filter.Prefix",
        ),
        (None, None) => sink.push(
            name,
            "Filter",
            "is missing: a rule needs a Filter (use {} to apply it to every object in the bucket)",
        ),
        _ => {}
    }
    if let Some(filter) = &rule.filter {
        check_filter(sink, name, "Filter", filter, true);
    }
    let has_action = !rule.transitions.is_empty()
        || rule.expiration.is_some()
        || !rule.noncurrent_version_transitions.is_empty()
        || rule.noncurrent_version_expiration.is_some()
        || rule.abort_incomplete_multipart_upload.is_some();
    if !has_action {
        // [LC] "One or more transition or expiration actions".
        sink.push(name, "Rule", "has no action: add Transitions, Expiration, NoncurrentVersionTransitions, NoncurrentVersionExpiration or AbortIncompleteMultipartUpload");
    }
    // [API] every day count of a lifecycle rule is an Integer (32-bit): a larger one passes JSON but S3 and
    // the SDK cannot take it.
    let days = rule
        .transitions
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("Transitions[{i}].Days"), t.days))
        .chain(
            rule.expiration
                .iter()
                .map(|e| ("Expiration.Days".to_owned(), e.days)),
        )
        .chain(
            rule.noncurrent_version_transitions
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    (
                        format!("NoncurrentVersionTransitions[{i}].NoncurrentDays"),
                        t.noncurrent_days,
                    )
                }),
        )
        .chain(rule.noncurrent_version_expiration.iter().map(|e| {
            (
                "NoncurrentVersionExpiration.NoncurrentDays".to_owned(),
                e.noncurrent_days,
            )
        }))
        .chain(rule.abort_incomplete_multipart_upload.iter().map(|a| {
            (
                "AbortIncompleteMultipartUpload.DaysAfterInitiation".to_owned(),
                a.days_after_initiation,
            )
        }));
    for (field, value) in days {
        if let Some(d) = value
            && i32::try_from(d).is_err()
        {
            sink.push(
                name,
                field,
                format!(
                    "{d} does not fit S3's 32-bit day count (at most {})",
                    i32::MAX
                ),
            );
        }
    }
    check_transitions(sink, name, rule);
    check_expiration(sink, name, rule);
    check_noncurrent(sink, name, rule);
    if let Some(abort) = &rule.abort_incomplete_multipart_upload {
        match abort.days_after_initiation {
            Some(d) if d > 0 => {}
            Some(d) => sink.push(
                name,
                "AbortIncompleteMultipartUpload.DaysAfterInitiation",
                format!("{d} is not valid: use a positive number of days"),
            ),
            None => sink.push(
                name,
                "AbortIncompleteMultipartUpload.DaysAfterInitiation",
                "is missing: say after how many days an incomplete upload is aborted",
            ),
        }
        // [LC] "You can't specify an AbortIncompleteMultipartUpload action in a rule that has a filter based on
        // object tags" (multipart uploads have no tags until they complete).
        if rule.has_tag_filter() {
            sink.push(name, "AbortIncompleteMultipartUpload", "cannot be used in a rule whose Filter names object tags: put it in a rule filtered by prefix only");
        }
    }
}

fn check_filter(sink: &mut Sink, name: &str, field: &str, filter: &Filter, lifecycle: bool) {
    let set = [
        filter.prefix.is_some(),
        filter.tag.is_some(),
        filter.object_size_greater_than.is_some(),
        filter.object_size_less_than.is_some(),
        filter.and.is_some(),
    ];
    // [API] LifecycleRuleFilter: "exactly one of Prefix, Tag, ObjectSizeGreaterThan, ObjectSizeLessThan, or And".
    if set.iter().filter(|s| **s).count() > 1 {
        sink.push(name, field, "names more than one predicate: use exactly one of Prefix, Tag, ObjectSizeGreaterThan, ObjectSizeLessThan, or combine them under And");
    }
    if !lifecycle
        && (filter.object_size_greater_than.is_some() || filter.object_size_less_than.is_some())
    {
        sink.push(name, field, "an Intelligent-Tiering filter supports only Prefix, Tag and And (Prefix + Tags): remove the object size predicate");
    }
    if let Some(tag) = &filter.tag
        && tag.key.is_empty()
    {
        sink.push(
            name,
            format!("{field}.Tag.Key"),
            "is empty: a tag filter needs a key",
        );
    }
    // [S3] object keys (so prefixes) are at most 1024 bytes; tag keys at most 128 characters, values 256.
    let prefixes = [
        (format!("{field}.Prefix"), filter.prefix.as_ref()),
        (
            format!("{field}.And.Prefix"),
            filter.and.as_ref().and_then(|a| a.prefix.as_ref()),
        ),
    ];
    for (at, prefix) in prefixes {
        if let Some(p) = prefix
            && p.len() > MAX_PREFIX_BYTES
        {
            sink.push(
                name,
                at,
                format!(
                    "is {} bytes; S3 keys, and so prefixes, are at most {MAX_PREFIX_BYTES} bytes",
                    p.len()
                ),
            );
        }
    }
    let tags = filter
        .tag
        .iter()
        .map(|t| (format!("{field}.Tag"), t))
        .chain(filter.and.iter().flat_map(|a| {
            a.tags
                .iter()
                .enumerate()
                .map(move |(i, t)| (format!("{field}.And.Tags[{i}]"), t))
        }));
    for (at, tag) in tags {
        if tag.key.chars().count() > MAX_TAG_KEY_CHARS {
            sink.push(
                name,
                format!("{at}.Key"),
                format!(
                    "is {} characters; S3 tag keys are at most {MAX_TAG_KEY_CHARS}",
                    tag.key.chars().count()
                ),
            );
        }
        if tag.value.chars().count() > MAX_TAG_VALUE_CHARS {
            sink.push(
                name,
                format!("{at}.Value"),
                format!(
                    "is {} characters; S3 tag values are at most {MAX_TAG_VALUE_CHARS}",
                    tag.value.chars().count()
                ),
            );
        }
    }
    check_sizes(
        sink,
        name,
        field,
        filter.object_size_greater_than,
        filter.object_size_less_than,
    );
    if let Some(and) = &filter.and {
        let predicates = usize::from(and.prefix.is_some())
            + and.tags.len()
            + usize::from(and.object_size_greater_than.is_some())
            + usize::from(and.object_size_less_than.is_some());
        // [API] LifecycleRuleAndOperator: "a logical AND to two or more predicates".
        if predicates < 2 {
            sink.push(name, format!("{field}.And"), "combines fewer than two predicates: And needs at least two (e.g. Prefix and Tags); use the predicate directly instead");
        }
        if !lifecycle
            && (and.object_size_greater_than.is_some() || and.object_size_less_than.is_some())
        {
            sink.push(name, format!("{field}.And"), "an Intelligent-Tiering filter supports only Prefix and Tags: remove the object size predicate");
        }
        let mut keys = std::collections::HashSet::new();
        for (i, tag) in and.tags.iter().enumerate() {
            if !keys.insert(tag.key.as_str()) {
                sink.push(name, format!("{field}.And.Tags[{i}]"), format!("repeats tag key {:?}: an object has one value per key, so the rule could never match", tag.key));
            }
        }
        check_sizes(
            sink,
            name,
            &format!("{field}.And"),
            and.object_size_greater_than,
            and.object_size_less_than,
        );
    }
}

/// S3's limit on object keys, which bounds a filter prefix.
const MAX_PREFIX_BYTES: usize = 1024;
/// S3's limits on object tags.
const MAX_TAG_KEY_CHARS: usize = 128;
const MAX_TAG_VALUE_CHARS: usize = 256;

fn check_sizes(sink: &mut Sink, name: &str, field: &str, greater: Option<i64>, less: Option<i64>) {
    if let Some(g) = greater
        && g < 0
    {
        sink.push(
            name,
            format!("{field}.ObjectSizeGreaterThan"),
            format!("{g} is negative: use a size in bytes >= 0"),
        );
    }
    if let Some(l) = less
        && l <= 0
    {
        sink.push(
            name,
            format!("{field}.ObjectSizeLessThan"),
            format!("{l} is not valid: use a positive size in bytes"),
        );
    }
    // [TR] "ObjectSizeGreaterThan must be less than ObjectSizeLessThan" when both are given.
    if let (Some(g), Some(l)) = (greater, less)
        && g >= l
    {
        sink.push(name, field, format!("ObjectSizeGreaterThan ({g}) must be less than ObjectSizeLessThan ({l}), or no object matches"));
    }
}

/// Whether a lifecycle `Date` is ISO 8601 at midnight UTC ([API] Transition.Date: "The time is always midnight UTC").
fn check_date(sink: &mut Sink, name: &str, field: &str, date: &str) {
    match chrono::DateTime::parse_from_rfc3339(date) {
        Ok(parsed) => {
            let utc = parsed.with_timezone(&chrono::Utc);
            if utc.time() != chrono::NaiveTime::MIN {
                sink.push(name, field, format!("{date:?} is not midnight UTC: S3 lifecycle dates are always midnight UTC, e.g. \"{}T00:00:00Z\"", utc.date_naive()));
            }
        }
        Err(_) => sink.push(name, field, format!("{date:?} is not an ISO 8601 date: write it like \"2027-01-01T00:00:00Z\" (midnight UTC)")),
    }
}

fn check_transitions(sink: &mut Sink, name: &str, rule: &Rule) {
    let mut uses_days = false;
    let mut uses_date = false;
    let mut steps: Vec<(i64, StorageClass, usize)> = Vec::new();
    let mut seen: HashMap<StorageClass, usize> = HashMap::new();
    for (i, t) in rule.transitions.iter().enumerate() {
        let field = format!("Transitions[{i}]");
        let Some(class) = StorageClass::parse(&t.storage_class) else {
            // [API] Transition.StorageClass valid values; S3 cannot transition *to* STANDARD (waterfall, [TR]).
            sink.push(name, format!("{field}.StorageClass"), format!("{:?} is not a lifecycle transition target: use one of STANDARD_IA, INTELLIGENT_TIERING, ONEZONE_IA, GLACIER_IR, GLACIER, DEEP_ARCHIVE", t.storage_class));
            continue;
        };
        if class == StorageClass::Standard {
            sink.push(name, format!("{field}.StorageClass"), "STANDARD is not a transition target: lifecycle never moves objects back to S3 Standard (AWS lists \"any storage class to the S3 Standard storage class\" among the unsupported lifecycle transitions)");
            continue;
        }
        if let Some(first) = seen.insert(class, i) {
            sink.push(name, format!("{field}.StorageClass"), format!("{class} is already the target of Transitions[{first}]: each storage class can appear once per rule"));
        }
        match (t.days, &t.date) {
            (Some(_), Some(_)) => {
                sink.push(name, &field, "has both Days and Date: use exactly one")
            }
            (None, None) => sink.push(
                name,
                &field,
                "has neither Days nor Date: say when the transition happens",
            ),
            (Some(days), None) => {
                uses_days = true;
                if days < 0 {
                    sink.push(
                        name,
                        format!("{field}.Days"),
                        format!("{days} is negative: use 0 or more days"),
                    );
                }
                // [API] Transition.Days: "If the specified storage class is STANDARD_IA or ONEZONE_IA, valid values
                // are positive integers greater than 30"; [TR] "Before you transition objects to S3 Standard-IA or
                // S3 One Zone-IA, you must store them for at least 30 days in Amazon S3."
                if matches!(class, StorageClass::StandardIa | StorageClass::OnezoneIa) && days < 30
                {
                    sink.push(name, format!("{field}.Days"), format!("{days} is too early for {class}: objects must be stored at least 30 days before a transition to STANDARD_IA or ONEZONE_IA; use Days >= 30"));
                }
                steps.push((days, class, i));
            }
            (None, Some(date)) => {
                uses_date = true;
                check_date(sink, name, &format!("{field}.Date"), date);
            }
        }
    }
    if let Some(exp) = &rule.expiration {
        uses_days |= exp.days.is_some();
        uses_date |= exp.date.is_some();
    }
    // S3 rejects a rule that mixes "Date" and "Days" based Expiration and Transition actions ([LC] Days vs Date).
    if uses_days && uses_date {
        sink.push(name, "Transitions/Expiration", "mixes Date and Days: within one rule use only Days or only Date for Transitions and Expiration");
    }
    steps.sort_by_key(|(days, class, _)| (*days, class.waterfall_rank()));
    for pair in steps.windows(2) {
        let (d0, c0, _) = pair[0];
        let (d1, c1, i1) = pair[1];
        if d0 == d1 {
            sink.push(name, format!("Transitions[{i1}].Days"), format!("{c0} and {c1} transitions are both at day {d0}: give each transition a different day"));
            continue;
        }
        // [TR] "Supported lifecycle transitions" / "Unsupported lifecycle transitions": the allowed pairs are AWS's
        // table (StorageClass::unsupported_transition), not "any class further down the waterfall".
        if let Some(why) = c0.unsupported_transition(c1) {
            sink.push(name, format!("Transitions[{i1}].StorageClass"), format!("{c1} at day {d1} comes after {c0} at day {d0}, which is not a supported transition: {why}"));
            continue;
        }
        // [TR] constraints: objects must stay in STANDARD_IA/ONEZONE_IA 30 days before moving on, and S3 answers
        // e.g. "'Days' in the Transition action for StorageClass 'DEEP_ARCHIVE' ... must be 90 days more than
        // ... StorageClass 'GLACIER'": the gap must cover the previous class's minimum storage duration.
        let gap = c0.minimum_storage_days() as i64;
        if d1 - d0 < gap {
            sink.push(name, format!("Transitions[{i1}].Days"), format!("{c1} at day {d1} is only {} days after {c0} at day {d0}: Days for {c1} must be at least {gap} days more than for {c0} (its minimum storage duration); use Days >= {}", d1 - d0, d0 + gap));
        }
    }
}

fn check_expiration(sink: &mut Sink, name: &str, rule: &Rule) {
    let Some(exp) = &rule.expiration else { return };
    let forms = usize::from(exp.days.is_some())
        + usize::from(exp.date.is_some())
        + usize::from(exp.expired_object_delete_marker.is_some());
    // [API] LifecycleExpiration: Days, Date and ExpiredObjectDeleteMarker are alternatives; "ExpiredObjectDeleteMarker
    // ... cannot be specified with Days or Date in a Lifecycle Expiration Policy".
    if forms != 1 {
        sink.push(
            name,
            "Expiration",
            "must have exactly one of Days, Date or ExpiredObjectDeleteMarker",
        );
    }
    if let Some(days) = exp.days {
        // [API] LifecycleExpiration.Days: "The value must be a non-zero positive integer."
        if days <= 0 {
            sink.push(
                name,
                "Expiration.Days",
                format!("{days} is not valid: the value must be a non-zero positive integer"),
            );
        }
        // S3: "'Days' in the Expiration action ... must be greater than 'Days' in the Transition action".
        if let Some(last) = rule.transitions.iter().filter_map(|t| t.days).max()
            && days <= last
        {
            sink.push(name, "Expiration.Days", format!("{days} is not after the last transition (day {last}): Days in the Expiration action must be greater than Days in every Transition action, or the transition is pointless"));
        }
    }
    if let Some(date) = &exp.date {
        check_date(sink, name, "Expiration.Date", date);
    }
    // [LC] "You can't specify ExpiredObjectDeleteMarker in a rule that has a tag-based filter".
    if exp.expired_object_delete_marker.is_some() && rule.has_tag_filter() {
        sink.push(name, "Expiration.ExpiredObjectDeleteMarker", "cannot be used in a rule whose Filter names object tags (delete markers have no tags): use a prefix-only rule");
    }
}

fn check_noncurrent(sink: &mut Sink, name: &str, rule: &Rule) {
    let mut steps: Vec<(i64, StorageClass)> = Vec::new();
    for (i, t) in rule.noncurrent_version_transitions.iter().enumerate() {
        let field = format!("NoncurrentVersionTransitions[{i}]");
        let Some(class) =
            StorageClass::parse(&t.storage_class).filter(|c| *c != StorageClass::Standard)
        else {
            sink.push(name, format!("{field}.StorageClass"), format!("{:?} is not a lifecycle transition target: use one of STANDARD_IA, INTELLIGENT_TIERING, ONEZONE_IA, GLACIER_IR, GLACIER, DEEP_ARCHIVE", t.storage_class));
            continue;
        };
        match t.noncurrent_days {
            None => sink.push(
                name,
                format!("{field}.NoncurrentDays"),
                "is missing: say how many days after becoming noncurrent",
            ),
            Some(d) if d < 0 => sink.push(
                name,
                format!("{field}.NoncurrentDays"),
                format!("{d} is negative"),
            ),
            Some(d) => {
                // [TR] the 30-day minimum before STANDARD_IA/ONEZONE_IA applies to noncurrent versions as well.
                if matches!(class, StorageClass::StandardIa | StorageClass::OnezoneIa) && d < 30 {
                    sink.push(name, format!("{field}.NoncurrentDays"), format!("{d} is too early for {class}: noncurrent versions must be noncurrent at least 30 days before a transition to STANDARD_IA or ONEZONE_IA"));
                }
                steps.push((d, class));
            }
        }
        check_newer_versions(
            sink,
            name,
            &format!("{field}.NewerNoncurrentVersions"),
            t.newer_noncurrent_versions,
        );
    }
    steps.sort_by_key(|(d, c)| (*d, c.waterfall_rank()));
    for pair in steps.windows(2) {
        let ((d0, c0), (d1, c1)) = (pair[0], pair[1]);
        if d0 == d1 {
            sink.push(name, "NoncurrentVersionTransitions", format!("{c0} and {c1} are both at noncurrent day {d0}: give each transition a different day"));
        } else if let Some(why) = c0.unsupported_transition(c1) {
            // [TR] the same supported-transitions table applies to noncurrent versions.
            sink.push(
                name,
                "NoncurrentVersionTransitions",
                format!(
                    "{c0} at day {d0} then {c1} at day {d1} is not a supported transition: {why}"
                ),
            );
        } else if d1 - d0 < c0.minimum_storage_days() as i64 {
            sink.push(name, "NoncurrentVersionTransitions", format!("{c1} at day {d1} must be at least {} days after {c0} at day {d0} (minimum storage duration)", c0.minimum_storage_days()));
        }
    }
    if let Some(exp) = &rule.noncurrent_version_expiration {
        match exp.noncurrent_days {
            Some(d) if d > 0 => {
                if let Some((last, _)) = steps.last()
                    && d <= *last
                {
                    sink.push(name, "NoncurrentVersionExpiration.NoncurrentDays", format!("{d} is not after the last noncurrent transition (day {last}): it must be greater"));
                }
            }
            Some(d) => sink.push(
                name,
                "NoncurrentVersionExpiration.NoncurrentDays",
                format!("{d} is not valid: use a positive number of days"),
            ),
            None => sink.push(
                name,
                "NoncurrentVersionExpiration.NoncurrentDays",
                "is missing: say how many days after becoming noncurrent versions expire",
            ),
        }
        check_newer_versions(
            sink,
            name,
            "NoncurrentVersionExpiration.NewerNoncurrentVersions",
            exp.newer_noncurrent_versions,
        );
    }
}

/// [API] NoncurrentVersionExpiration.NewerNoncurrentVersions: "You can specify up to 100 noncurrent versions to retain."
fn check_newer_versions(sink: &mut Sink, name: &str, field: &str, value: Option<i64>) {
    if let Some(n) = value
        && !(1..=100).contains(&n)
    {
        sink.push(
            name,
            field,
            format!("{n} is out of range: you can retain 1 to 100 newer noncurrent versions"),
        );
    }
}

/// When an action happens: days after creation (or after becoming noncurrent), or a calendar date. Only two
/// values of the same kind compare (a date cannot be ordered against an age without the object's creation time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    Days(i64),
    Date(chrono::NaiveDate),
}

impl When {
    fn of(days: Option<i64>, date: Option<&str>) -> Option<When> {
        match (days, date) {
            (Some(d), None) => Some(When::Days(d)),
            (None, Some(text)) => chrono::DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|t| When::Date(t.with_timezone(&chrono::Utc).date_naive())),
            _ => None,
        }
    }

    /// `Some(self <= other)` when both are of the same kind.
    fn not_after(self, other: When) -> Option<bool> {
        match (self, other) {
            (When::Days(a), When::Days(b)) => Some(a <= b),
            (When::Date(a), When::Date(b)) => Some(a <= b),
            _ => None,
        }
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            When::Days(d) => write!(f, "day {d}"),
            When::Date(d) => write!(f, "{d}"),
        }
    }
}

/// Two enabled rules whose prefixes overlap (one is a prefix of the other), with no tag or size filter to tell
/// them apart, both act on the shared objects. S3 accepts such a configuration and applies the actions in
/// sequence; only actions due on the same objects at the same time conflict, and S3 resolves those silently
/// ([CF] "Examples of overlapping filters and conflicting lifecycle actions": Example 1, a bucket-wide expiration at
/// 365 days with a `logs/` transition to STANDARD_IA at 30 days, is "no conflict"; "permanent deletion takes
/// precedence over transition"; of two expirations "the shorter expiration policy is honored"; of two transitions
/// due together S3 picks the cheaper class). So only a real conflict is reported, an action that can never take
/// effect on the shared prefix:
/// - an expiration on or before a transition of the other rule (the object is deleted first);
/// - a transition of one rule due on the same day as a different class of the other, or due after the other rule
///   already moved the objects to a class from which it is not a supported transition (or to the same class);
/// - the longer of two expirations when its rule applies only to objects the shorter one also covers.
///
/// The same holds for noncurrent versions. Date-based and day-based actions are not compared with each other.
fn check_overlaps(sink: &mut Sink, doc: &PolicyDocument) {
    let plain = |r: &Rule| {
        r.enabled()
            && !r.has_tag_filter()
            && r.filter.as_ref().is_none_or(|f| {
                f.object_size_greater_than.is_none()
                    && f.object_size_less_than.is_none()
                    && f.and.as_ref().is_none_or(|a| {
                        a.object_size_greater_than.is_none() && a.object_size_less_than.is_none()
                    })
            })
    };
    for (i, a) in doc.rules.iter().enumerate() {
        if !plain(a) {
            continue;
        }
        for (j, b) in doc.rules.iter().enumerate().skip(i + 1) {
            if !plain(b) {
                continue;
            }
            let (pa, pb) = (a.key_prefix(), b.key_prefix());
            if !(pa.starts_with(pb) || pb.starts_with(pa)) {
                continue;
            }
            let (na, nb) = (rule_name(i, a), rule_name(j, b));
            let mut conflicts = Vec::new();
            // Current versions.
            let exp = |r: &Rule| {
                r.expiration
                    .as_ref()
                    .and_then(|e| When::of(e.days, e.date.as_deref()))
            };
            let steps = |r: &Rule| {
                r.transitions
                    .iter()
                    .filter_map(|t| {
                        Some((
                            When::of(t.days, t.date.as_deref())?,
                            StorageClass::parse(&t.storage_class)?,
                        ))
                    })
                    .collect::<Vec<_>>()
            };
            let (sa, sb) = (steps(a), steps(b));
            for (e, e_name, s, s_name) in [(exp(a), &na, &sb, &nb), (exp(b), &nb, &sa, &na)] {
                if let Some(e) = e {
                    expiration_vs_transitions(
                        &mut conflicts,
                        "Expiration",
                        e,
                        e_name,
                        "transition",
                        s,
                        s_name,
                    );
                }
            }
            merged_transitions(&mut conflicts, "transition", (&sa, &na), (&sb, &nb));
            expirations(
                &mut conflicts,
                "Expiration",
                (exp(a), pa, &na),
                (exp(b), pb, &nb),
            );
            // Noncurrent versions (only without NewerNoncurrentVersions, which makes the actions apply to different
            // versions).
            let plain_noncurrent = |r: &Rule| {
                r.noncurrent_version_transitions
                    .iter()
                    .all(|t| t.newer_noncurrent_versions.is_none())
                    && r.noncurrent_version_expiration
                        .as_ref()
                        .is_none_or(|e| e.newer_noncurrent_versions.is_none())
            };
            if plain_noncurrent(a) && plain_noncurrent(b) {
                let nexp = |r: &Rule| {
                    r.noncurrent_version_expiration
                        .as_ref()
                        .and_then(|e| e.noncurrent_days)
                        .map(When::Days)
                };
                let nsteps = |r: &Rule| {
                    r.noncurrent_version_transitions
                        .iter()
                        .filter_map(|t| {
                            Some((
                                When::Days(t.noncurrent_days?),
                                StorageClass::parse(&t.storage_class)?,
                            ))
                        })
                        .collect::<Vec<_>>()
                };
                let (sa, sb) = (nsteps(a), nsteps(b));
                for (e, e_name, s, s_name) in [(nexp(a), &na, &sb, &nb), (nexp(b), &nb, &sa, &na)] {
                    if let Some(e) = e {
                        expiration_vs_transitions(
                            &mut conflicts,
                            "NoncurrentVersionExpiration",
                            e,
                            e_name,
                            "noncurrent transition",
                            s,
                            s_name,
                        );
                    }
                }
                merged_transitions(
                    &mut conflicts,
                    "noncurrent transition",
                    (&sa, &na),
                    (&sb, &nb),
                );
                expirations(
                    &mut conflicts,
                    "NoncurrentVersionExpiration",
                    (nexp(a), pa, &na),
                    (nexp(b), pb, &nb),
                );
            }
            for conflict in conflicts {
                sink.push(
                    &nb,
                    "Filter.Prefix",
                    format!("prefix {pb:?} overlaps prefix {pa:?} of {na}: {conflict}; split the prefixes or change the days"),
                );
            }
        }
    }
}

/// An expiration of one rule on or before a transition of the other: [CF] "Permanent deletion takes precedence
/// over transition", so the transition never happens on the shared objects.
fn expiration_vs_transitions(
    out: &mut Vec<String>,
    what: &str,
    expiration: When,
    expiring: &str,
    transition: &str,
    steps: &[(When, StorageClass)],
    transitioning: &str,
) {
    for (when, class) in steps {
        if expiration.not_after(*when) == Some(true) {
            out.push(format!("{what} of {expiring} at {expiration} is not after the {transition} to {class} at {when} of {transitioning}, so that {transition} never happens (deletion wins over transition: \"permanent deletion takes precedence over transition\"); make the expiration later than every overlapping {transition}"));
        }
    }
}

/// Both rules' transitions on the shared objects, merged by time: a step is lost when the other rule has a
/// different class due the same day, or when it comes after the other rule already moved the objects to a class
/// it cannot be reached from.
fn merged_transitions(
    out: &mut Vec<String>,
    transition: &str,
    (a, na): (&[(When, StorageClass)], &str),
    (b, nb): (&[(When, StorageClass)], &str),
) {
    if a.is_empty() || b.is_empty() {
        return;
    }
    // (when, class, owner bit: 1 = a, 2 = b), identical steps of both rules merged.
    let mut steps: Vec<(When, StorageClass, u8)> = Vec::new();
    for (owner, list) in [(1u8, a), (2u8, b)] {
        for (when, class) in list {
            match steps.iter_mut().find(|(w, c, _)| w == when && c == class) {
                Some(step) => step.2 |= owner,
                None => steps.push((*when, *class, owner)),
            }
        }
    }
    // Days and dates cannot be ordered against each other: compare only one kind.
    if steps.iter().any(|(w, _, _)| matches!(w, When::Date(_)))
        && steps.iter().any(|(w, _, _)| matches!(w, When::Days(_)))
    {
        return;
    }
    let key = |w: &When| match w {
        When::Days(d) => (*d, chrono::NaiveDate::MIN),
        When::Date(d) => (0, *d),
    };
    steps.sort_by_key(|(w, c, _)| (key(w), c.waterfall_rank()));
    let name = |owner: u8| if owner == 1 { na } else { nb };
    let mut class = StorageClass::Standard;
    let mut set_by = 0u8;
    let mut at: Option<When> = None;
    let mut i = 0;
    while i < steps.len() {
        let when = steps[i].0;
        let same = steps[i..].iter().take_while(|s| s.0 == when).count();
        let group = &steps[i..i + same];
        i += same;
        if let Some(x) = group.iter().find(|x| x.2 != 3)
            && let Some(y) = group.iter().find(|y| y.2 & x.2 == 0)
        {
            out.push(format!("its {transition} to {} and the {transition} to {} of {} are both due at {when}, so S3 applies only one (it picks the cheaper class)", x.1, y.1, name(y.2)));
        }
        // S3 goes to the coldest class due at this time that it can reach.
        let Some(&(_, target, owner)) = group
            .iter()
            .rev()
            .find(|(_, c, _)| class.can_transition_to(*c))
            .or(group.last())
        else {
            continue;
        };
        match class.unsupported_transition(target) {
            None => {
                class = target;
                set_by = owner;
                at = Some(when);
            }
            // Reported by the rule's own checks when the same rule set the current class.
            Some(why) if set_by != 0 && set_by & owner == 0 => {
                let since = at.map(|w| w.to_string()).unwrap_or_default();
                out.push(format!("the {transition} to {target} at {when} of {} comes after {} moved the objects to {class} at {since}, so it never happens ({class} -> {target}: {why})", name(owner), name(set_by)));
            }
            Some(_) => {}
        }
    }
}

/// Two expirations of the same kind on overlapping prefixes: [CF] "the shorter expiration policy is honored", so
/// the longer one never takes effect when its rule covers only objects the shorter one also covers (its prefix is
/// as long or longer).
fn expirations(
    out: &mut Vec<String>,
    what: &str,
    (a, pa, na): (Option<When>, &str, &str),
    (b, pb, nb): (Option<When>, &str, &str),
) {
    let (Some(a), Some(b)) = (a, b) else { return };
    if a == b {
        return;
    }
    let ((short, ps, ns), (long, pl, nl)) = match a.not_after(b) {
        Some(true) => ((a, pa, na), (b, pb, nb)),
        Some(false) => ((b, pb, nb), (a, pa, na)),
        None => return,
    };
    if pl.starts_with(ps) {
        out.push(format!("the {what} of {nl} at {long} never takes effect: every object it applies to is also expired by {ns} at {short} (\"the shorter expiration policy is honored\")"));
    }
}

fn check_intelligent_tiering(sink: &mut Sink, doc: &PolicyDocument) {
    if doc.intelligent_tiering.len() > MAX_IT_CONFIGURATIONS {
        sink.push(
            "document",
            "IntelligentTieringConfigurationList",
            format!(
                "has {} configurations; a bucket can have up to {MAX_IT_CONFIGURATIONS}",
                doc.intelligent_tiering.len()
            ),
        );
    }
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (index, config) in doc.intelligent_tiering.iter().enumerate() {
        let name = format!("intelligent-tiering #{index} (Id {:?})", config.id);
        // [API] IntelligentTieringConfiguration.Id: "The ID used to identify the S3 Intelligent-Tiering configuration", required.
        if config.id.is_empty() {
            sink.push(
                &name,
                "Id",
                "is empty: every Intelligent-Tiering configuration needs an Id",
            );
        }
        if config.id.chars().count() > 64 {
            sink.push(&name, "Id", "is longer than 64 characters: use a shorter Id (S3 configuration IDs are at most 64 characters)");
        }
        if let Some(first) = ids.insert(&config.id, index) {
            sink.push(&name, "Id", format!("duplicates the Id of configuration #{first}: the Id names the configuration, a second PUT replaces the first"));
        }
        if config.status != "Enabled" && config.status != "Disabled" {
            sink.push(
                &name,
                "Status",
                format!(
                    "{:?} is not valid: use \"Enabled\" or \"Disabled\"",
                    config.status
                ),
            );
        }
        if let Some(filter) = &config.filter {
            check_filter(sink, &name, "Filter", filter, false);
        }
        if config.tierings.is_empty() {
            sink.push(&name, "Tierings", "is empty: add ARCHIVE_ACCESS (90-730 days) and/or DEEP_ARCHIVE_ACCESS (180-730 days)");
        }
        let mut archive = None;
        let mut deep = None;
        for (i, tier) in config.tierings.iter().enumerate() {
            let field = format!("Tierings[{i}]");
            // [API] Tiering.Days: "The minimum number of days specified for Archive Access tier must be at least 90
            // days and Deep Archive Access tier must be at least 180 days. The maximum can be up to 2 years (730 days)."
            let (min, slot) = match tier.access_tier.as_str() {
                "ARCHIVE_ACCESS" => (90, &mut archive),
                "DEEP_ARCHIVE_ACCESS" => (180, &mut deep),
                other => {
                    sink.push(&name, format!("{field}.AccessTier"), format!("{other:?} is not valid: use ARCHIVE_ACCESS or DEEP_ARCHIVE_ACCESS (the Frequent, Infrequent and Archive Instant tiers are automatic)"));
                    continue;
                }
            };
            if slot.replace(tier.days).is_some() {
                sink.push(
                    &name,
                    format!("{field}.AccessTier"),
                    format!(
                        "{} appears twice: configure each access tier once",
                        tier.access_tier
                    ),
                );
            }
            if !(min..=730).contains(&tier.days) {
                sink.push(&name, format!("{field}.Days"), format!("{} days is out of range for {}: it must be at least {min} days and at most 730 days (2 years)", tier.days, tier.access_tier));
            }
        }
        // [IT] objects move to Deep Archive Access only after Archive Access, so its day count must be larger.
        if let (Some(a), Some(d)) = (archive, deep)
            && d <= a
        {
            sink.push(&name, "Tierings", format!("DEEP_ARCHIVE_ACCESS after {d} days is not later than ARCHIVE_ACCESS after {a} days: the Deep Archive Access day count must be greater"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violations(json: &str) -> Vec<Violation> {
        validate(&PolicyDocument::from_json("test", json).unwrap())
    }

    fn one(json: &str, field: &str, words: &str) {
        let found = violations(json);
        assert!(
            found
                .iter()
                .any(|v| v.field == field && v.message.contains(words)),
            "expected {field} / {words:?} in {found:#?}"
        );
    }

    fn rule(body: &str) -> String {
        format!(
            r#"{{"Rules":[{{"ID":"r","Filter":{{"Prefix":"a/"}},"Status":"Enabled",{body}}}]}}"#
        )
    }

    #[test]
    fn the_example_policy_is_valid() {
        let doc =
            PolicyDocument::from_json("example", include_str!("../../examples/lifecycle.json"))
                .unwrap();
        assert_eq!(validate(&doc), vec![]);
    }

    #[test]
    fn standard_ia_needs_30_days() {
        one(
            &rule(r#""Transitions":[{"Days":7,"StorageClass":"STANDARD_IA"}]"#),
            "Transitions[0].Days",
            "at least 30 days",
        );
        one(
            &rule(r#""Transitions":[{"Days":29,"StorageClass":"ONEZONE_IA"}]"#),
            "Transitions[0].Days",
            "use Days >= 30",
        );
        assert!(
            violations(&rule(
                r#""Transitions":[{"Days":30,"StorageClass":"STANDARD_IA"}]"#
            ))
            .is_empty()
        );
        assert!(
            violations(&rule(
                r#""Transitions":[{"Days":0,"StorageClass":"GLACIER_IR"}]"#
            ))
            .is_empty()
        );
    }

    #[test]
    fn waterfall_order_is_enforced() {
        one(
            &rule(
                r#""Transitions":[{"Days":90,"StorageClass":"GLACIER"},{"Days":200,"StorageClass":"STANDARD_IA"}]"#,
            ),
            "Transitions[1].StorageClass",
            "not a supported transition",
        );
        one(
            &rule(r#""Transitions":[{"Days":90,"StorageClass":"STANDARD"}]"#),
            "Transitions[0].StorageClass",
            "never moves objects back",
        );
        one(
            &rule(r#""Transitions":[{"Days":90,"StorageClass":"REDUCED_REDUNDANCY"}]"#),
            "Transitions[0].StorageClass",
            "not a lifecycle transition target",
        );
    }

    #[test]
    fn unsupported_pairs_are_rejected_with_aws_wording() {
        let one_zone = "S3 One Zone-IA storage class to the S3 Intelligent-Tiering, S3 Standard-IA, or S3 Glacier Instant Retrieval";
        // The audit's case: ONEZONE_IA ranks above GLACIER_IR in the diagram, but AWS does not support the move.
        one(
            &rule(
                r#""Transitions":[{"Days":30,"StorageClass":"ONEZONE_IA"},{"Days":90,"StorageClass":"GLACIER_IR"}]"#,
            ),
            "Transitions[1].StorageClass",
            one_zone,
        );
        one(
            &rule(
                r#""Transitions":[{"Days":30,"StorageClass":"ONEZONE_IA"},{"Days":90,"StorageClass":"INTELLIGENT_TIERING"}]"#,
            ),
            "Transitions[1].StorageClass",
            one_zone,
        );
        one(
            &rule(
                r#""Transitions":[{"Days":30,"StorageClass":"ONEZONE_IA"},{"Days":90,"StorageClass":"STANDARD_IA"}]"#,
            ),
            "Transitions[1].StorageClass",
            one_zone,
        );
        one(
            &rule(
                r#""Transitions":[{"Days":0,"StorageClass":"INTELLIGENT_TIERING"},{"Days":90,"StorageClass":"STANDARD_IA"}]"#,
            ),
            "Transitions[1].StorageClass",
            "S3 Intelligent-Tiering storage class to the S3 Standard-IA storage class",
        );
        one(
            &rule(r#""Transitions":[{"Days":90,"StorageClass":"STANDARD"}]"#),
            "Transitions[0].StorageClass",
            "any storage class to the S3 Standard storage class",
        );
        // Noncurrent versions use the same table.
        one(
            &rule(
                r#""NoncurrentVersionTransitions":[{"NoncurrentDays":30,"StorageClass":"ONEZONE_IA"},{"NoncurrentDays":90,"StorageClass":"GLACIER_IR"}]"#,
            ),
            "NoncurrentVersionTransitions",
            one_zone,
        );
        // The supported continuations of ONEZONE_IA and INTELLIGENT_TIERING stay valid.
        for ok in [
            r#""Transitions":[{"Days":30,"StorageClass":"ONEZONE_IA"},{"Days":90,"StorageClass":"GLACIER"}]"#,
            r#""Transitions":[{"Days":30,"StorageClass":"ONEZONE_IA"},{"Days":90,"StorageClass":"DEEP_ARCHIVE"}]"#,
            r#""Transitions":[{"Days":0,"StorageClass":"INTELLIGENT_TIERING"},{"Days":30,"StorageClass":"ONEZONE_IA"}]"#,
            r#""Transitions":[{"Days":30,"StorageClass":"STANDARD_IA"},{"Days":60,"StorageClass":"INTELLIGENT_TIERING"}]"#,
            r#""Transitions":[{"Days":30,"StorageClass":"STANDARD_IA"},{"Days":60,"StorageClass":"GLACIER_IR"},{"Days":150,"StorageClass":"GLACIER"},{"Days":240,"StorageClass":"DEEP_ARCHIVE"}]"#,
        ] {
            assert_eq!(violations(&rule(ok)), vec![], "{ok}");
        }
    }

    #[test]
    fn gaps_cover_the_minimum_storage_duration() {
        one(
            &rule(
                r#""Transitions":[{"Days":30,"StorageClass":"STANDARD_IA"},{"Days":45,"StorageClass":"GLACIER"}]"#,
            ),
            "Transitions[1].Days",
            "at least 30 days more than for STANDARD_IA",
        );
        one(
            &rule(
                r#""Transitions":[{"Days":90,"StorageClass":"GLACIER"},{"Days":120,"StorageClass":"DEEP_ARCHIVE"}]"#,
            ),
            "Transitions[1].Days",
            "at least 90 days more than for GLACIER",
        );
        one(
            &rule(
                r#""Transitions":[{"Days":60,"StorageClass":"GLACIER_IR"},{"Days":60,"StorageClass":"GLACIER"}]"#,
            ),
            "Transitions[1].Days",
            "different day",
        );
        one(
            &rule(
                r#""Transitions":[{"Days":60,"StorageClass":"GLACIER_IR"},{"Days":400,"StorageClass":"GLACIER_IR"}]"#,
            ),
            "Transitions[1].StorageClass",
            "can appear once per rule",
        );
    }

    #[test]
    fn expiration_must_follow_transitions() {
        one(
            &rule(
                r#""Transitions":[{"Days":90,"StorageClass":"GLACIER_IR"}],"Expiration":{"Days":60}"#,
            ),
            "Expiration.Days",
            "must be greater than Days in every Transition",
        );
        one(
            &rule(r#""Expiration":{"Days":0}"#),
            "Expiration.Days",
            "non-zero positive integer",
        );
        one(
            &rule(r#""Expiration":{"Days":10,"ExpiredObjectDeleteMarker":true}"#),
            "Expiration",
            "exactly one of Days, Date or ExpiredObjectDeleteMarker",
        );
    }

    #[test]
    fn dates_and_days_do_not_mix_and_dates_are_midnight() {
        one(
            &rule(
                r#""Transitions":[{"Date":"2027-01-01T00:00:00Z","StorageClass":"GLACIER"}],"Expiration":{"Days":400}"#,
            ),
            "Transitions/Expiration",
            "mixes Date and Days",
        );
        one(
            &rule(r#""Transitions":[{"Date":"2027-01-01T10:00:00Z","StorageClass":"GLACIER"}]"#),
            "Transitions[0].Date",
            "midnight UTC",
        );
        one(
            &rule(r#""Expiration":{"Date":"01/01/2027"}"#),
            "Expiration.Date",
            "ISO 8601",
        );
        one(
            &rule(
                r#""Transitions":[{"Days":1,"Date":"2027-01-01T00:00:00Z","StorageClass":"GLACIER"}]"#,
            ),
            "Transitions[0]",
            "both Days and Date",
        );
    }

    #[test]
    fn filters_have_exactly_one_form() {
        one(
            r#"{"Rules":[{"ID":"r","Filter":{"Prefix":"a/","Tag":{"Key":"k","Value":"v"}},"Status":"Enabled","Expiration":{"Days":9}}]}"#,
            "Filter",
            "exactly one of Prefix",
        );
        one(
            r#"{"Rules":[{"ID":"r","Filter":{"And":{"Prefix":"a/"}},"Status":"Enabled","Expiration":{"Days":9}}]}"#,
            "Filter.And",
            "at least two",
        );
        one(
            r#"{"Rules":[{"ID":"r","Filter":{"And":{"Prefix":"a/","ObjectSizeGreaterThan":500,"ObjectSizeLessThan":100}},"Status":"Enabled","Expiration":{"Days":9}}]}"#,
            "Filter.And",
            "must be less than ObjectSizeLessThan",
        );
        one(
            r#"{"Rules":[{"ID":"r","Status":"Enabled","Expiration":{"Days":9}}]}"#,
            "Filter",
            "is missing",
        );
        one(
            r#"{"Rules":[{"ID":"r","Prefix":"a","Filter":{},"Status":"Enabled","Expiration":{"Days":9}}]}"#,
            "Prefix",
            "cannot be used together with Filter",
        );
    }

    #[test]
    fn tag_filters_forbid_abort_and_delete_marker_actions() {
        let tagged = |body: &str| {
            format!(
                r#"{{"Rules":[{{"ID":"r","Filter":{{"Tag":{{"Key":"k","Value":"v"}}}},"Status":"Enabled",{body}}}]}}"#
            )
        };
        one(
            &tagged(r#""AbortIncompleteMultipartUpload":{"DaysAfterInitiation":7}"#),
            "AbortIncompleteMultipartUpload",
            "names object tags",
        );
        one(
            &tagged(r#""Expiration":{"ExpiredObjectDeleteMarker":true}"#),
            "Expiration.ExpiredObjectDeleteMarker",
            "names object tags",
        );
    }

    #[test]
    fn ids_are_unique_and_short_status_is_known_and_rules_act() {
        let long = "x".repeat(256);
        one(
            &rule(r#""Expiration":{"Days":9}"#)
                .replace(r#""ID":"r""#, &format!(r#""ID":"{long}""#)),
            "ID",
            "cannot be longer than 255",
        );
        one(
            r#"{"Rules":[{"ID":"r","Filter":{"Prefix":"a/"},"Status":"Enabled","Expiration":{"Days":9}},{"ID":"r","Filter":{"Prefix":"b/"},"Status":"Enabled","Expiration":{"Days":9}}]}"#,
            "ID",
            "duplicates the ID of rule #0",
        );
        one(
            &rule(r#""Expiration":{"Days":9}"#).replace("Enabled", "enabled"),
            "Status",
            "use \"Enabled\" or \"Disabled\"",
        );
        one(&rule(r#""Transitions":[]"#), "Rule", "has no action");
        one(r#"{"Rules":[]}"#, "Rules", "at least one Rule");
        let many: Vec<String> = (0..1001)
            .map(|i| format!(r#"{{"ID":"r{i}","Filter":{{"Prefix":"p{i}/"}},"Status":"Enabled","Expiration":{{"Days":9}}}}"#))
            .collect();
        one(
            &format!(r#"{{"Rules":[{}]}}"#, many.join(",")),
            "Rules",
            "up to 1000 rules",
        );
    }

    #[test]
    fn noncurrent_versions_follow_the_same_rules() {
        one(
            &rule(
                r#""NoncurrentVersionTransitions":[{"NoncurrentDays":10,"StorageClass":"STANDARD_IA"}]"#,
            ),
            "NoncurrentVersionTransitions[0].NoncurrentDays",
            "at least 30 days",
        );
        one(
            &rule(
                r#""NoncurrentVersionTransitions":[{"NoncurrentDays":30,"StorageClass":"GLACIER_IR"}],"NoncurrentVersionExpiration":{"NoncurrentDays":20}"#,
            ),
            "NoncurrentVersionExpiration.NoncurrentDays",
            "must be greater",
        );
        one(
            &rule(
                r#""NoncurrentVersionExpiration":{"NoncurrentDays":20,"NewerNoncurrentVersions":101}"#,
            ),
            "NoncurrentVersionExpiration.NewerNoncurrentVersions",
            "1 to 100",
        );
    }

    #[test]
    fn overlapping_prefixes_with_conflicting_actions() {
        let json = r#"{"Rules":[
            {"ID":"all","Filter":{"Prefix":"warehouse/"},"Status":"Enabled","Transitions":[{"Days":30,"StorageClass":"STANDARD_IA"}]},
            {"ID":"logs","Filter":{"Prefix":"warehouse/logs/"},"Status":"Enabled","Expiration":{"Days":14}}]}"#;
        one(json, "Filter.Prefix", "deletion wins over transition");
        // Different prefixes are fine.
        let ok = json.replace("warehouse/logs/", "logs/");
        assert!(violations(&ok).is_empty());
        // AWS's Example 2: the same prefix, expiration and transition on the same day: deletion wins.
        one(
            r#"{"Rules":[
            {"ID":"exp","Filter":{"Prefix":"logs/"},"Status":"Enabled","Expiration":{"Days":365}},
            {"ID":"tr","Filter":{"Prefix":"logs/"},"Status":"Enabled","Transitions":[{"Days":365,"StorageClass":"STANDARD_IA"}]}]}"#,
            "Filter.Prefix",
            "permanent deletion takes precedence over transition",
        );
        // A bucket-wide expiration before a nested transition: the transition never happens.
        one(
            r#"{"Rules":[
            {"ID":"all","Filter":{},"Status":"Enabled","Expiration":{"Days":30}},
            {"ID":"logs","Filter":{"Prefix":"logs/"},"Status":"Enabled","Transitions":[{"Days":90,"StorageClass":"GLACIER"}]}]}"#,
            "Filter.Prefix",
            "is not after the transition to GLACIER at day 90",
        );
    }

    #[test]
    fn overlapping_actions_applied_in_sequence_are_valid() {
        // The audit's case: a transition at 30 days and an expiration at 400 days on overlapping prefixes.
        let seq = r#"{"Rules":[
            {"ID":"data","Filter":{"Prefix":"warehouse/a.db/t/data/"},"Status":"Enabled","Transitions":[{"Days":30,"StorageClass":"STANDARD_IA"}]},
            {"ID":"retention","Filter":{"Prefix":"warehouse/"},"Status":"Enabled","Expiration":{"Days":400}}]}"#;
        assert_eq!(violations(seq), vec![]);
        // AWS's Example 1 ("no conflict"): every object expires after a year, logs/ go to STANDARD_IA after 30 days.
        let example1 = r#"{"Rules":[
            {"ID":"Rule 1","Filter":{},"Status":"Enabled","Expiration":{"Days":365}},
            {"ID":"Rule 2","Filter":{"Prefix":"logs/"},"Status":"Enabled","Transitions":[{"StorageClass":"STANDARD_IA","Days":30}]}]}"#;
        assert_eq!(violations(example1), vec![]);
        // Transitions of two rules that chain down supported pairs, and a nested shorter expiration.
        let chain = r#"{"Rules":[
            {"ID":"all","Filter":{"Prefix":"warehouse/"},"Status":"Enabled","Transitions":[{"Days":30,"StorageClass":"STANDARD_IA"}],"Expiration":{"Days":3650}},
            {"ID":"old","Filter":{"Prefix":"warehouse/raw/"},"Status":"Enabled","Transitions":[{"Days":90,"StorageClass":"GLACIER"}],"Expiration":{"Days":730}}]}"#;
        assert_eq!(violations(chain), vec![]);
        // Identical transitions in both rules do not conflict.
        let same = r#"{"Rules":[
            {"ID":"a","Filter":{"Prefix":"w/"},"Status":"Enabled","Transitions":[{"Days":30,"StorageClass":"STANDARD_IA"}]},
            {"ID":"b","Filter":{"Prefix":"w/x/"},"Status":"Enabled","Transitions":[{"Days":30,"StorageClass":"STANDARD_IA"},{"Days":120,"StorageClass":"GLACIER"}]}]}"#;
        assert_eq!(violations(same), vec![]);
    }

    #[test]
    fn overlapping_transitions_and_expirations_that_never_take_effect() {
        // Two classes due the same day: S3 applies only one.
        one(
            r#"{"Rules":[
            {"ID":"a","Filter":{"Prefix":"w/"},"Status":"Enabled","Transitions":[{"Days":30,"StorageClass":"STANDARD_IA"}]},
            {"ID":"b","Filter":{"Prefix":"w/x/"},"Status":"Enabled","Transitions":[{"Days":30,"StorageClass":"GLACIER_IR"}]}]}"#,
            "Filter.Prefix",
            "are both due at day 30",
        );
        // A later transition to a class the objects cannot reach from where the other rule put them.
        one(
            r#"{"Rules":[
            {"ID":"a","Filter":{"Prefix":"w/"},"Status":"Enabled","Transitions":[{"Days":30,"StorageClass":"GLACIER_IR"}]},
            {"ID":"b","Filter":{"Prefix":"w/x/"},"Status":"Enabled","Transitions":[{"Days":60,"StorageClass":"STANDARD_IA"}]}]}"#,
            "Filter.Prefix",
            "never happens",
        );
        one(
            r#"{"Rules":[
            {"ID":"a","Filter":{"Prefix":"w/"},"Status":"Enabled","Transitions":[{"Days":30,"StorageClass":"ONEZONE_IA"}]},
            {"ID":"b","Filter":{"Prefix":"w/x/"},"Status":"Enabled","Transitions":[{"Days":90,"StorageClass":"GLACIER_IR"}]}]}"#,
            "Filter.Prefix",
            "S3 One Zone-IA storage class to the S3 Intelligent-Tiering, S3 Standard-IA, or S3 Glacier Instant Retrieval",
        );
        // A nested longer expiration is dead; a nested shorter one is honoured.
        one(
            r#"{"Rules":[
            {"ID":"all","Filter":{"Prefix":"w/"},"Status":"Enabled","Expiration":{"Days":30}},
            {"ID":"keep","Filter":{"Prefix":"w/x/"},"Status":"Enabled","Expiration":{"Days":365}}]}"#,
            "Filter.Prefix",
            "the shorter expiration policy is honored",
        );
        assert_eq!(
            violations(
                r#"{"Rules":[
            {"ID":"all","Filter":{"Prefix":"w/"},"Status":"Enabled","Expiration":{"Days":365}},
            {"ID":"tmp","Filter":{"Prefix":"w/tmp/"},"Status":"Enabled","Expiration":{"Days":30}}]}"#
            ),
            vec![]
        );
        // Noncurrent versions: an expiration before the other rule's noncurrent transition.
        one(
            r#"{"Rules":[
            {"ID":"a","Filter":{"Prefix":"w/"},"Status":"Enabled","NoncurrentVersionExpiration":{"NoncurrentDays":20}},
            {"ID":"b","Filter":{"Prefix":"w/x/"},"Status":"Enabled","NoncurrentVersionTransitions":[{"NoncurrentDays":30,"StorageClass":"GLACIER_IR"}]}]}"#,
            "Filter.Prefix",
            "NoncurrentVersionExpiration",
        );
        // Dates compare with dates.
        one(
            r#"{"Rules":[
            {"ID":"a","Filter":{"Prefix":"w/"},"Status":"Enabled","Expiration":{"Date":"2027-01-01T00:00:00Z"}},
            {"ID":"b","Filter":{"Prefix":"w/x/"},"Status":"Enabled","Transitions":[{"Date":"2027-06-01T00:00:00Z","StorageClass":"GLACIER"}]}]}"#,
            "Filter.Prefix",
            "deletion wins over transition",
        );
    }

    #[test]
    fn intelligent_tiering_day_ranges() {
        let it = |tiers: &str| {
            format!(
                r#"{{"IntelligentTieringConfigurationList":[{{"Id":"a","Status":"Enabled","Tierings":[{tiers}]}}]}}"#
            )
        };
        one(
            &it(r#"{"Days":30,"AccessTier":"ARCHIVE_ACCESS"}"#),
            "Tierings[0].Days",
            "at least 90 days and at most 730",
        );
        one(
            &it(r#"{"Days":800,"AccessTier":"DEEP_ARCHIVE_ACCESS"}"#),
            "Tierings[0].Days",
            "at least 180 days and at most 730",
        );
        one(
            &it(
                r#"{"Days":200,"AccessTier":"ARCHIVE_ACCESS"},{"Days":190,"AccessTier":"DEEP_ARCHIVE_ACCESS"}"#,
            ),
            "Tierings",
            "must be greater",
        );
        one(
            &it(r#"{"Days":200,"AccessTier":"FREQUENT_ACCESS"}"#),
            "Tierings[0].AccessTier",
            "use ARCHIVE_ACCESS or DEEP_ARCHIVE_ACCESS",
        );
        one(&it(""), "Tierings", "is empty");
        assert!(violations(&it(r#"{"Days":90,"AccessTier":"ARCHIVE_ACCESS"},{"Days":180,"AccessTier":"DEEP_ARCHIVE_ACCESS"}"#)).is_empty());
    }

    /// Issue 16 item 8: what `validate` passed but `plan` (the 32-bit API) or S3 refused.
    #[test]
    fn limits_of_the_s3_api_are_checked() {
        one(
            &rule(r#""Expiration":{"Days":4294967296}"#),
            "Expiration.Days",
            "32-bit",
        );
        one(
            &rule(r#""AbortIncompleteMultipartUpload":{"DaysAfterInitiation":3000000000}"#),
            "AbortIncompleteMultipartUpload.DaysAfterInitiation",
            "32-bit",
        );
        let long = "k".repeat(129);
        one(
            &format!(
                r#"{{"Rules":[{{"ID":"r","Filter":{{"Tag":{{"Key":"{long}","Value":"v"}}}},"Status":"Enabled","Expiration":{{"Days":30}}}}]}}"#
            ),
            "Filter.Tag.Key",
            "at most 128",
        );
        let prefix = "p".repeat(1025);
        one(
            &format!(
                r#"{{"Rules":[{{"ID":"r","Filter":{{"Prefix":"{prefix}"}},"Status":"Enabled","Expiration":{{"Days":30}}}}]}}"#
            ),
            "Filter.Prefix",
            "at most 1024 bytes",
        );
        let ok = "p".repeat(1024);
        assert_eq!(
            violations(&format!(
                r#"{{"Rules":[{{"ID":"r","Filter":{{"Prefix":"{ok}"}},"Status":"Enabled","Expiration":{{"Days":2147483647}}}}]}}"#
            )),
            vec![]
        );
    }
}
