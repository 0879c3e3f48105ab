//! Plan = desired policies (the file) + observed policies (the bucket) -> typed changes; apply executes a plan.
//! Planning is pure; [`apply`] is the only function here that does IO, through a [`PolicyStore`].

use std::fmt;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::policy::{IntelligentTieringConfiguration, PolicyDocument, Rule};
use crate::store::PolicyStore;
use crate::validate::validate;

/// One change.
#[derive(Debug, Clone, PartialEq, Serialize)]
// A plan holds a handful of changes, so boxing the larger variants would only cost readability.
#[allow(missing_docs, clippy::large_enum_variant)]
pub enum Change {
    AddRule(Rule),
    ChangeRule {
        before: Rule,
        after: Rule,
    },
    RemoveRule(Rule),
    SetDefaultMinimumObjectSize {
        before: Option<String>,
        after: Option<String>,
    },
    AddTiering(IntelligentTieringConfiguration),
    ChangeTiering {
        before: IntelligentTieringConfiguration,
        after: IntelligentTieringConfiguration,
    },
    RemoveTiering(IntelligentTieringConfiguration),
}

/// What `apply` would do to one bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The bucket.
    pub bucket: String,
    /// The desired document (validated).
    pub desired: PolicyDocument,
    /// The changes, lifecycle first.
    pub changes: Vec<Change>,
}

fn rule_id(rule: &Rule, index: usize) -> Result<&str> {
    rule.id.as_deref().ok_or_else(|| Error::InvalidInput {
        field: format!("Rules[{index}].ID"),
        reason: "is missing: give every rule an ID so the plan can compare it with the bucket (S3 would invent one)".into(),
    })
}

/// Compares `desired` with `current`; fails with [`Error::InvalidPolicy`] if `desired` breaks AWS's rules.
pub fn plan(bucket: &str, desired: &PolicyDocument, current: &PolicyDocument) -> Result<Plan> {
    let violations = validate(desired);
    if !violations.is_empty() {
        return Err(Error::InvalidPolicy(violations));
    }
    let mut changes = Vec::new();
    for (i, rule) in desired.rules.iter().enumerate() {
        let id = rule_id(rule, i)?;
        match current.rules.iter().find(|r| r.id.as_deref() == Some(id)) {
            None => changes.push(Change::AddRule(rule.clone())),
            Some(before) if before != rule => changes.push(Change::ChangeRule {
                before: before.clone(),
                after: rule.clone(),
            }),
            Some(_) => {}
        }
    }
    for rule in &current.rules {
        if !desired.rules.iter().any(|r| r.id == rule.id) {
            changes.push(Change::RemoveRule(rule.clone()));
        }
    }
    // S3 reports the default (`all_storage_classes_128K`) when it was not set: only a real difference is a change.
    const DEFAULT_MIN_SIZE: &str = "all_storage_classes_128K";
    let want = desired
        .transition_default_minimum_object_size
        .as_deref()
        .unwrap_or(DEFAULT_MIN_SIZE);
    let have = current
        .transition_default_minimum_object_size
        .as_deref()
        .filter(|_| !current.rules.is_empty())
        .unwrap_or(DEFAULT_MIN_SIZE);
    if !desired.rules.is_empty() && want != have {
        changes.push(Change::SetDefaultMinimumObjectSize {
            before: Some(have.to_owned()),
            after: Some(want.to_owned()),
        });
    }
    for config in &desired.intelligent_tiering {
        match current
            .intelligent_tiering
            .iter()
            .find(|c| c.id == config.id)
        {
            None => changes.push(Change::AddTiering(config.clone())),
            Some(before) if before != config => changes.push(Change::ChangeTiering {
                before: before.clone(),
                after: config.clone(),
            }),
            Some(_) => {}
        }
    }
    for config in &current.intelligent_tiering {
        if !desired
            .intelligent_tiering
            .iter()
            .any(|c| c.id == config.id)
        {
            changes.push(Change::RemoveTiering(config.clone()));
        }
    }
    Ok(Plan {
        bucket: bucket.to_owned(),
        desired: desired.clone(),
        changes,
    })
}

impl Plan {
    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// IDs of rules the plan adds or changes so that they delete data (new or changed expiration).
    pub fn new_expirations(&self) -> Vec<String> {
        self.changes
            .iter()
            .filter_map(|c| match c {
                Change::AddRule(r) if r.deletes_data() => r.id.clone(),
                Change::ChangeRule { before, after }
                    if after.deletes_data()
                        && (before.expiration != after.expiration
                            || before.noncurrent_version_expiration
                                != after.noncurrent_version_expiration
                            || before.key_prefix() != after.key_prefix()
                            || before.filter != after.filter
                            || !before.enabled()) =>
                {
                    after.id.clone()
                }
                _ => None,
            })
            .collect()
    }

    fn lifecycle_changes(&self) -> bool {
        self.changes.iter().any(|c| {
            matches!(
                c,
                Change::AddRule(_)
                    | Change::ChangeRule { .. }
                    | Change::RemoveRule(_)
                    | Change::SetDefaultMinimumObjectSize { .. }
            )
        })
    }
}

fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("serializes")
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.changes.is_empty() {
            return writeln!(f, "bucket {}: up to date", self.bucket);
        }
        writeln!(
            f,
            "bucket {}: {} change(s)",
            self.bucket,
            self.changes.len()
        )?;
        for change in &self.changes {
            match change {
                Change::AddRule(r) => writeln!(f, "  + rule {}", json(r))?,
                Change::ChangeRule { before, after } => writeln!(
                    f,
                    "  ~ rule {}\n      - {}\n      + {}",
                    after.id.as_deref().unwrap_or("?"),
                    json(before),
                    json(after)
                )?,
                Change::RemoveRule(r) => writeln!(
                    f,
                    "  - rule {} (removes the rule; no object is deleted)",
                    json(r)
                )?,
                Change::SetDefaultMinimumObjectSize { before, after } => writeln!(
                    f,
                    "  ~ TransitionDefaultMinimumObjectSize {before:?} -> {after:?}"
                )?,
                Change::AddTiering(c) => writeln!(f, "  + intelligent-tiering {}", json(c))?,
                Change::ChangeTiering { before, after } => writeln!(
                    f,
                    "  ~ intelligent-tiering {}\n      - {}\n      + {}",
                    after.id,
                    json(before),
                    json(after)
                )?,
                Change::RemoveTiering(c) => writeln!(f, "  - intelligent-tiering {}", json(c))?,
            }
        }
        let expirations = self.new_expirations();
        if !expirations.is_empty() {
            writeln!(
                f,
                "  ! rule(s) {} expire objects: S3 will DELETE data; apply needs explicit confirmation",
                expirations.join(", ")
            )?;
        }
        Ok(())
    }
}

/// Executes `plan`. Refuses ([`Error::ExpirationNotConfirmed`]) when it adds or changes an expiration and
/// `confirm_expiration` is false: that is the only way this crate can cause data to be deleted.
pub async fn apply(
    store: &dyn PolicyStore,
    plan: &Plan,
    confirm_expiration: bool,
) -> Result<usize> {
    let expirations = plan.new_expirations();
    if !expirations.is_empty() && !confirm_expiration {
        return Err(Error::ExpirationNotConfirmed {
            rules: expirations.join(", "),
        });
    }
    if plan.lifecycle_changes() {
        store.put_lifecycle(&plan.bucket, &plan.desired).await?;
    }
    for change in &plan.changes {
        match change {
            Change::AddTiering(c) | Change::ChangeTiering { after: c, .. } => {
                store.put_intelligent_tiering(&plan.bucket, c).await?
            }
            Change::RemoveTiering(c) => {
                store
                    .delete_intelligent_tiering(&plan.bucket, &c.id)
                    .await?
            }
            _ => {}
        }
    }
    Ok(plan.changes.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn example() -> PolicyDocument {
        PolicyDocument::from_json("example", include_str!("../../examples/lifecycle.json")).unwrap()
    }

    #[tokio::test]
    async fn plan_apply_then_nothing_to_do() {
        let store = MemoryStore::with_buckets(&["lake"]);
        let desired = example();
        let first = plan("lake", &desired, &store.get("lake").await.unwrap()).unwrap();
        assert_eq!(
            first
                .changes
                .iter()
                .filter(|c| matches!(c, Change::AddRule(_)))
                .count(),
            3
        );
        assert_eq!(
            first
                .changes
                .iter()
                .filter(|c| matches!(c, Change::AddTiering(_)))
                .count(),
            1
        );
        apply(&store, &first, false).await.unwrap();
        let second = plan("lake", &desired, &store.get("lake").await.unwrap()).unwrap();
        assert!(second.is_empty(), "{second}");
        assert!(second.to_string().contains("up to date"));
    }

    #[tokio::test]
    async fn changes_and_removals_are_shown() {
        let store = MemoryStore::with_buckets(&["lake"]);
        let mut desired = example();
        apply(
            &store,
            &plan("lake", &desired, &PolicyDocument::default()).unwrap(),
            false,
        )
        .await
        .unwrap();
        desired.rules[1].transitions[0].days = Some(90);
        desired.rules.remove(2);
        desired.intelligent_tiering.clear();
        let p = plan("lake", &desired, &store.get("lake").await.unwrap()).unwrap();
        let text = p.to_string();
        assert!(
            text.contains("~ rule warehouse-events-data-cold-history"),
            "{text}"
        );
        assert!(
            text.contains("- rule") && text.contains("no object is deleted"),
            "{text}"
        );
        assert!(text.contains("- intelligent-tiering"), "{text}");
        apply(&store, &p, false).await.unwrap();
        assert_eq!(store.get("lake").await.unwrap().rules, desired.rules);
        assert!(
            store
                .get("lake")
                .await
                .unwrap()
                .intelligent_tiering
                .is_empty()
        );
    }

    #[tokio::test]
    async fn expiration_needs_confirmation() {
        let store = MemoryStore::with_buckets(&["lake"]);
        let desired = PolicyDocument::from_json(
            "t",
            r#"{"Rules":[{"ID":"tmp","Filter":{"Prefix":"tmp/"},"Status":"Enabled","Expiration":{"Days":7}}]}"#,
        )
        .unwrap();
        let p = plan("lake", &desired, &PolicyDocument::default()).unwrap();
        assert!(p.to_string().contains("S3 will DELETE data"));
        let err = apply(&store, &p, false).await.unwrap_err();
        assert!(
            matches!(err, Error::ExpirationNotConfirmed { ref rules } if rules == "tmp"),
            "{err}"
        );
        assert!(
            store.get("lake").await.unwrap().rules.is_empty(),
            "nothing was written"
        );
        apply(&store, &p, true).await.unwrap();
        assert_eq!(store.get("lake").await.unwrap().rules, desired.rules);
    }

    #[test]
    fn invalid_or_unnamed_rules_are_refused() {
        let bad = PolicyDocument::from_json("t", r#"{"Rules":[{"ID":"x","Filter":{},"Status":"Enabled","Transitions":[{"Days":1,"StorageClass":"STANDARD_IA"}]}]}"#).unwrap();
        assert!(
            matches!(plan("b", &bad, &PolicyDocument::default()), Err(Error::InvalidPolicy(v)) if v.len() == 1)
        );
        let unnamed = PolicyDocument::from_json(
            "t",
            r#"{"Rules":[{"Filter":{},"Status":"Enabled","Expiration":{"Days":1}}]}"#,
        )
        .unwrap();
        let err = plan("b", &unnamed, &PolicyDocument::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("Rules[0].ID"), "{err}");
    }
}
