//! The policy model: S3 lifecycle configuration and S3 Intelligent-Tiering configurations, in AWS's own JSON
//! shape.
//!
//! The lifecycle part is exactly what `aws s3api get-bucket-lifecycle-configuration` prints and
//! `put-bucket-lifecycle-configuration --lifecycle-configuration file://x.json` takes
//! (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_LifecycleRule.html>). The Intelligent-Tiering part is the
//! list `aws s3api list-bucket-intelligent-tiering-configurations` prints under
//! `IntelligentTieringConfigurationList` (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_IntelligentTieringConfiguration.html>),
//! so one file can hold the output of both commands. Values are kept as written (numbers as `i64`, dates and
//! storage classes as strings) so the validator can name a bad value instead of serde rejecting it without
//! the rule's ID. Pure: no IO except [`PolicyDocument::load`].

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A policy file: the bucket's lifecycle configuration plus its Intelligent-Tiering configurations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    /// Lifecycle rules (at most 1,000 per bucket).
    #[serde(rename = "Rules", default)]
    pub rules: Vec<Rule>,
    /// `all_storage_classes_128K` (the default since September 2024) or `varies_by_storage_class`.
    #[serde(
        rename = "TransitionDefaultMinimumObjectSize",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transition_default_minimum_object_size: Option<String>,
    /// Intelligent-Tiering archive configurations (at most 1,000 per bucket).
    #[serde(
        rename = "IntelligentTieringConfigurationList",
        alias = "IntelligentTieringConfigurations",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub intelligent_tiering: Vec<IntelligentTieringConfiguration>,
}

/// One lifecycle rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Unique identifier, at most 255 characters.
    #[serde(rename = "ID", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Which objects the rule applies to.
    #[serde(rename = "Filter", default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    /// The deprecated rule-level prefix (V1 rules); use `Filter` instead.
    #[serde(rename = "Prefix", default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// `Enabled` or `Disabled`.
    #[serde(rename = "Status")]
    pub status: String,
    /// Transitions of current versions.
    #[serde(rename = "Transitions", default, skip_serializing_if = "Vec::is_empty")]
    pub transitions: Vec<Transition>,
    /// Expiration of current versions (deletes data).
    #[serde(
        rename = "Expiration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub expiration: Option<Expiration>,
    /// Transitions of noncurrent versions.
    #[serde(
        rename = "NoncurrentVersionTransitions",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub noncurrent_version_transitions: Vec<NoncurrentVersionTransition>,
    /// Expiration of noncurrent versions (deletes data).
    #[serde(
        rename = "NoncurrentVersionExpiration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub noncurrent_version_expiration: Option<NoncurrentVersionExpiration>,
    /// Abort multipart uploads that never completed.
    #[serde(
        rename = "AbortIncompleteMultipartUpload",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub abort_incomplete_multipart_upload: Option<AbortIncompleteMultipartUpload>,
}

impl Rule {
    /// Whether the rule is active.
    pub fn enabled(&self) -> bool {
        self.status == "Enabled"
    }

    /// The key prefix the rule applies to (`""` = the whole bucket), from the filter or the legacy prefix.
    pub fn key_prefix(&self) -> &str {
        if let Some(filter) = &self.filter {
            if let Some(prefix) = &filter.prefix {
                return prefix;
            }
            if let Some(and) = &filter.and {
                return and.prefix.as_deref().unwrap_or("");
            }
            return "";
        }
        self.prefix.as_deref().unwrap_or("")
    }

    /// Whether the filter names object tags (which restricts some actions).
    pub fn has_tag_filter(&self) -> bool {
        self.filter
            .as_ref()
            .is_some_and(|f| f.tag.is_some() || f.and.as_ref().is_some_and(|a| !a.tags.is_empty()))
    }

    /// Whether the rule deletes data (an expiration of current or noncurrent versions).
    pub fn deletes_data(&self) -> bool {
        self.expiration
            .as_ref()
            .is_some_and(|e| e.days.is_some() || e.date.is_some())
            || self.noncurrent_version_expiration.is_some()
    }
}

/// Which objects a rule applies to. AWS wants exactly one of the fields (or none: the whole bucket).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Key prefix.
    #[serde(rename = "Prefix", default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// One tag.
    #[serde(rename = "Tag", default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Tag>,
    /// Minimum object size in bytes (exclusive).
    #[serde(
        rename = "ObjectSizeGreaterThan",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub object_size_greater_than: Option<i64>,
    /// Maximum object size in bytes (exclusive).
    #[serde(
        rename = "ObjectSizeLessThan",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub object_size_less_than: Option<i64>,
    /// A conjunction of two or more predicates.
    #[serde(rename = "And", default, skip_serializing_if = "Option::is_none")]
    pub and: Option<AndOperator>,
}

/// The `And` form of a filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AndOperator {
    /// Key prefix.
    #[serde(rename = "Prefix", default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Tags (all must match).
    #[serde(rename = "Tags", default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// Minimum object size in bytes (exclusive).
    #[serde(
        rename = "ObjectSizeGreaterThan",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub object_size_greater_than: Option<i64>,
    /// Maximum object size in bytes (exclusive).
    #[serde(
        rename = "ObjectSizeLessThan",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub object_size_less_than: Option<i64>,
}

/// An object tag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tag {
    /// Tag key.
    #[serde(rename = "Key")]
    pub key: String,
    /// Tag value.
    #[serde(rename = "Value")]
    pub value: String,
}

/// A transition of current versions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    /// Days after creation.
    #[serde(rename = "Days", default, skip_serializing_if = "Option::is_none")]
    pub days: Option<i64>,
    /// A date (ISO 8601, midnight UTC).
    #[serde(rename = "Date", default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// The target storage class.
    #[serde(rename = "StorageClass")]
    pub storage_class: String,
}

/// Expiration of current versions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expiration {
    /// Days after creation.
    #[serde(rename = "Days", default, skip_serializing_if = "Option::is_none")]
    pub days: Option<i64>,
    /// A date (ISO 8601, midnight UTC).
    #[serde(rename = "Date", default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Remove delete markers that have no noncurrent versions left.
    #[serde(
        rename = "ExpiredObjectDeleteMarker",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub expired_object_delete_marker: Option<bool>,
}

/// A transition of noncurrent versions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoncurrentVersionTransition {
    /// Days after the version became noncurrent.
    #[serde(
        rename = "NoncurrentDays",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub noncurrent_days: Option<i64>,
    /// The target storage class.
    #[serde(rename = "StorageClass")]
    pub storage_class: String,
    /// How many newer noncurrent versions to keep out of this action (1 to 100).
    #[serde(
        rename = "NewerNoncurrentVersions",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub newer_noncurrent_versions: Option<i64>,
}

/// Expiration of noncurrent versions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoncurrentVersionExpiration {
    /// Days after the version became noncurrent.
    #[serde(
        rename = "NoncurrentDays",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub noncurrent_days: Option<i64>,
    /// How many newer noncurrent versions to keep (1 to 100).
    #[serde(
        rename = "NewerNoncurrentVersions",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub newer_noncurrent_versions: Option<i64>,
}

/// Abort incomplete multipart uploads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbortIncompleteMultipartUpload {
    /// Days after the upload started.
    #[serde(
        rename = "DaysAfterInitiation",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub days_after_initiation: Option<i64>,
}

/// One Intelligent-Tiering archive configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntelligentTieringConfiguration {
    /// Identifier (unique per bucket).
    #[serde(rename = "Id")]
    pub id: String,
    /// Which objects it applies to (prefix, tag, or `And`).
    #[serde(rename = "Filter", default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    /// `Enabled` or `Disabled`.
    #[serde(rename = "Status")]
    pub status: String,
    /// The archive tiers and after how many days without access objects move there.
    #[serde(rename = "Tierings", default)]
    pub tierings: Vec<Tiering>,
}

/// An Intelligent-Tiering archive tier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tiering {
    /// Consecutive days without access.
    #[serde(rename = "Days")]
    pub days: i64,
    /// `ARCHIVE_ACCESS` or `DEEP_ARCHIVE_ACCESS`.
    #[serde(rename = "AccessTier")]
    pub access_tier: String,
}

/// The S3 storage classes this crate reasons about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StorageClass {
    /// S3 Standard.
    Standard,
    /// S3 Standard-Infrequent Access.
    StandardIa,
    /// S3 Intelligent-Tiering.
    IntelligentTiering,
    /// S3 One Zone-Infrequent Access.
    OnezoneIa,
    /// S3 Glacier Instant Retrieval.
    GlacierIr,
    /// S3 Glacier Flexible Retrieval (API name `GLACIER`).
    Glacier,
    /// S3 Glacier Deep Archive.
    DeepArchive,
}

impl StorageClass {
    /// Every class, in the order of AWS's transition waterfall.
    pub const ALL: [StorageClass; 7] = [
        StorageClass::Standard,
        StorageClass::StandardIa,
        StorageClass::IntelligentTiering,
        StorageClass::OnezoneIa,
        StorageClass::GlacierIr,
        StorageClass::Glacier,
        StorageClass::DeepArchive,
    ];

    /// The API name, e.g. `STANDARD_IA`.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageClass::Standard => "STANDARD",
            StorageClass::StandardIa => "STANDARD_IA",
            StorageClass::IntelligentTiering => "INTELLIGENT_TIERING",
            StorageClass::OnezoneIa => "ONEZONE_IA",
            StorageClass::GlacierIr => "GLACIER_IR",
            StorageClass::Glacier => "GLACIER",
            StorageClass::DeepArchive => "DEEP_ARCHIVE",
        }
    }

    /// Parses an API name.
    pub fn parse(name: &str) -> Option<StorageClass> {
        StorageClass::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The position in AWS's transition waterfall diagram, from warmest to coldest. Every supported transition goes
    /// to a higher rank, but not every higher rank is reachable (ONEZONE_IA -> GLACIER_IR is not): use
    /// [`StorageClass::can_transition_to`] to decide whether a transition is allowed; the rank only orders classes.
    pub fn waterfall_rank(self) -> u8 {
        self as u8
    }

    /// Whether an S3 Lifecycle rule can move objects from `self` to `to`: exactly the pairs AWS lists under
    /// "Supported lifecycle transitions" (see [`StorageClass::unsupported_transition`]).
    pub fn can_transition_to(self, to: StorageClass) -> bool {
        self.unsupported_transition(to).is_none()
    }

    /// `None` when S3 Lifecycle supports moving objects from `self` to `to`; otherwise why not, in AWS's words.
    ///
    /// The table is AWS's own, from "Transitioning objects using Amazon S3 Lifecycle"
    /// (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-transition-general-considerations.html>),
    /// section "Supported lifecycle transitions". You can transition from:
    /// - the S3 Standard storage class to any other storage class;
    /// - S3 Standard-IA to S3 Intelligent-Tiering, S3 One Zone-IA, S3 Glacier Instant Retrieval, S3 Glacier
    ///   Flexible Retrieval, or S3 Glacier Deep Archive;
    /// - S3 Intelligent-Tiering to S3 One Zone-IA, S3 Glacier Instant Retrieval, S3 Glacier Flexible Retrieval, or
    ///   S3 Glacier Deep Archive;
    /// - S3 One Zone-IA to S3 Glacier Flexible Retrieval or S3 Glacier Deep Archive;
    /// - S3 Glacier Instant Retrieval to S3 Glacier Flexible Retrieval or S3 Glacier Deep Archive;
    /// - S3 Glacier Flexible Retrieval to S3 Glacier Deep Archive;
    /// - any storage class to S3 Glacier Deep Archive.
    ///
    /// Section "Unsupported lifecycle transitions" names: any storage class to S3 Standard; any storage class to
    /// Reduced Redundancy (not modelled here); S3 Intelligent-Tiering to S3 Standard-IA; S3 One Zone-IA to S3
    /// Intelligent-Tiering, S3 Standard-IA, or S3 Glacier Instant Retrieval. Every other pair not in the supported
    /// list (e.g. from a Glacier class back to an instant-access class) is unsupported as well.
    pub fn unsupported_transition(self, to: StorageClass) -> Option<&'static str> {
        use StorageClass::*;
        match (self, to) {
            (_, Standard) => Some(
                "AWS lists \"any storage class to the S3 Standard storage class\" among the unsupported lifecycle transitions",
            ),
            (from, to) if from == to => {
                Some("a transition to the class the objects are already in does nothing")
            }
            // "Any storage class to the S3 Glacier Deep Archive storage class."
            (_, DeepArchive) => None,
            // "The S3 Standard storage class to any other storage class."
            (Standard, _) => None,
            (StandardIa, IntelligentTiering | OnezoneIa | GlacierIr | Glacier)
            | (IntelligentTiering, OnezoneIa | GlacierIr | Glacier)
            | (OnezoneIa, Glacier)
            | (GlacierIr, Glacier) => None,
            (IntelligentTiering, StandardIa) => Some(
                "AWS lists \"the S3 Intelligent-Tiering storage class to the S3 Standard-IA storage class\" among the unsupported lifecycle transitions",
            ),
            (OnezoneIa, IntelligentTiering | StandardIa | GlacierIr) => Some(
                "AWS lists \"the S3 One Zone-IA storage class to the S3 Intelligent-Tiering, S3 Standard-IA, or S3 Glacier Instant Retrieval storage classes\" among the unsupported lifecycle transitions",
            ),
            _ => Some(
                "it is not among AWS's supported lifecycle transitions (objects only move toward colder classes: from GLACIER_IR only to GLACIER or DEEP_ARCHIVE, from GLACIER only to DEEP_ARCHIVE, from DEEP_ARCHIVE nowhere)",
            ),
        }
    }

    /// Minimum storage duration in days (objects removed or transitioned earlier are billed for the rest),
    /// from the storage class comparison table (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-class-intro.html#sc-compare>).
    pub fn minimum_storage_days(self) -> u32 {
        match self {
            StorageClass::Standard | StorageClass::IntelligentTiering => 0,
            StorageClass::StandardIa | StorageClass::OnezoneIa => 30,
            StorageClass::GlacierIr | StorageClass::Glacier => 90,
            StorageClass::DeepArchive => 180,
        }
    }

    /// Whether a GET needs a restore first (the asynchronous archive classes).
    pub fn needs_restore(self) -> bool {
        matches!(self, StorageClass::Glacier | StorageClass::DeepArchive)
    }
}

impl fmt::Display for StorageClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PolicyDocument {
    /// Parses a policy document from JSON; `origin` names the input in errors.
    pub fn from_json(origin: &str, json: &str) -> Result<PolicyDocument> {
        serde_json::from_str(json).map_err(|e| Error::ParsePolicy {
            origin: origin.to_owned(),
            reason: e.to_string(),
        })
    }

    /// Reads and parses a policy file (not validated: call [`crate::validate::validate`]).
    pub fn load(path: &Path) -> Result<PolicyDocument> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadPolicy {
            path: path.to_owned(),
            source,
        })?;
        PolicyDocument::from_json(&path.display().to_string(), &text)
    }

    /// The lifecycle part as AWS's JSON (what `put-bucket-lifecycle-configuration` takes).
    pub fn lifecycle_json(&self) -> serde_json::Value {
        let mut value = serde_json::json!({ "Rules": self.rules });
        if let Some(size) = &self.transition_default_minimum_object_size {
            value["TransitionDefaultMinimumObjectSize"] = serde_json::Value::String(size.clone());
        }
        value
    }

    /// Pretty JSON of the whole document.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("a policy document always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_aws_cli_shape_and_round_trips() {
        let json = r#"{"Rules":[{"ID":"a","Filter":{"And":{"Prefix":"x/","Tags":[{"Key":"k","Value":"v"}]}},
            "Status":"Enabled","Transitions":[{"Days":30,"StorageClass":"STANDARD_IA"}],
            "NoncurrentVersionExpiration":{"NoncurrentDays":7},"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":7}}],
            "IntelligentTieringConfigurationList":[{"Id":"it","Status":"Enabled","Tierings":[{"Days":90,"AccessTier":"ARCHIVE_ACCESS"}]}]}"#;
        let doc = PolicyDocument::from_json("t", json).unwrap();
        assert_eq!(doc.rules[0].key_prefix(), "x/");
        assert!(doc.rules[0].has_tag_filter());
        assert!(doc.rules[0].deletes_data());
        let again = PolicyDocument::from_json("t", &doc.to_json_pretty()).unwrap();
        assert_eq!(doc, again);
    }

    #[test]
    fn unknown_fields_are_named_with_their_position() {
        let err = PolicyDocument::from_json(
            "p.json",
            r#"{"Rules":[{"Status":"Enabled","Transitons":[]}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("p.json") && err.contains("Transitons") && err.contains("column"),
            "{err}"
        );
    }

    #[test]
    fn transitions_follow_the_documented_table_not_the_rank() {
        use StorageClass::*;
        let supported = [
            (Standard, StandardIa),
            (Standard, IntelligentTiering),
            (Standard, OnezoneIa),
            (Standard, GlacierIr),
            (Standard, Glacier),
            (Standard, DeepArchive),
            (StandardIa, IntelligentTiering),
            (StandardIa, OnezoneIa),
            (StandardIa, GlacierIr),
            (StandardIa, Glacier),
            (StandardIa, DeepArchive),
            (IntelligentTiering, OnezoneIa),
            (IntelligentTiering, GlacierIr),
            (IntelligentTiering, Glacier),
            (IntelligentTiering, DeepArchive),
            (OnezoneIa, Glacier),
            (OnezoneIa, DeepArchive),
            (GlacierIr, Glacier),
            (GlacierIr, DeepArchive),
            (Glacier, DeepArchive),
        ];
        for from in StorageClass::ALL {
            for to in StorageClass::ALL {
                assert_eq!(
                    from.can_transition_to(to),
                    supported.contains(&(from, to)),
                    "{from} -> {to}"
                );
                // Every supported transition goes down the waterfall, so the rank still orders a valid chain.
                if from.can_transition_to(to) {
                    assert!(to.waterfall_rank() > from.waterfall_rank());
                }
            }
        }
        // The audit's case: ONEZONE_IA ranks above GLACIER_IR in the diagram, yet the pair is unsupported.
        assert!(OnezoneIa.waterfall_rank() < GlacierIr.waterfall_rank());
        let reason = OnezoneIa.unsupported_transition(GlacierIr).unwrap();
        assert!(reason.contains("S3 One Zone-IA storage class to the S3 Intelligent-Tiering, S3 Standard-IA, or S3 Glacier Instant Retrieval"), "{reason}");
        for to in [IntelligentTiering, StandardIa] {
            assert_eq!(OnezoneIa.unsupported_transition(to), Some(reason));
        }
        assert!(
            IntelligentTiering
                .unsupported_transition(StandardIa)
                .unwrap()
                .contains(
                    "S3 Intelligent-Tiering storage class to the S3 Standard-IA storage class"
                )
        );
        for from in StorageClass::ALL {
            assert!(
                from.unsupported_transition(Standard)
                    .unwrap()
                    .contains("any storage class to the S3 Standard storage class")
            );
        }
    }

    #[test]
    fn storage_class_names_round_trip() {
        for class in StorageClass::ALL {
            assert_eq!(StorageClass::parse(class.as_str()), Some(class));
        }
        assert_eq!(StorageClass::parse("REDUCED_REDUNDANCY"), None);
    }
}
