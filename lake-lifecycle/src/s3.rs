//! The S3 adapter: [`PolicyStore`] over `aws_sdk_s3`. The caller builds the client from its one `SdkConfig`
//! (against the emulator: `aws_sdk_s3::config::Builder::from(&sdk_config).force_path_style(true)`).
//! The only module that names `aws_sdk_s3` types.

use async_trait::async_trait;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{DateTime, DateTimeFormat};
use aws_sdk_s3::types as s3;

use crate::error::{Error, Result};
use crate::policy::{
    AbortIncompleteMultipartUpload, AndOperator, Expiration, Filter,
    IntelligentTieringConfiguration, NoncurrentVersionExpiration, NoncurrentVersionTransition,
    PolicyDocument, Rule, Tag, Tiering, Transition,
};
use crate::store::PolicyStore;

/// A [`PolicyStore`] over S3.
#[derive(Debug, Clone)]
pub struct S3PolicyStore {
    client: aws_sdk_s3::Client,
}

impl S3PolicyStore {
    /// Wraps a client built by the caller.
    pub fn new(client: aws_sdk_s3::Client) -> S3PolicyStore {
        S3PolicyStore { client }
    }
}

fn aws_error<E, R>(operation: &'static str, bucket: &str, error: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = error.code().map(str::to_owned);
    let message = error
        .message()
        .map(str::to_owned)
        .unwrap_or_else(|| error.to_string());
    match code.as_deref() {
        Some("NoSuchBucket") => Error::NotFound {
            what: format!("bucket {bucket}"),
        },
        Some("SlowDown" | "Throttling" | "ThrottlingException" | "RequestLimitExceeded") => {
            Error::Throttled { operation }
        }
        Some(code) => Error::Aws {
            operation,
            message: format!("{code}: {message}"),
            source: Box::new(error),
        },
        None => Error::Aws {
            operation,
            message: format!(
                "{message} (no S3 error code: the endpoint's answer is not a {operation} response; does it implement that API?)"
            ),
            source: Box::new(error),
        },
    }
}

fn int(field: &str, value: Option<i64>) -> Result<Option<i32>> {
    value
        .map(|v| {
            i32::try_from(v).map_err(|_| Error::InvalidInput {
                field: field.into(),
                reason: format!("{v} does not fit S3's 32-bit integer"),
            })
        })
        .transpose()
}

fn date(field: &str, value: &Option<String>) -> Result<Option<DateTime>> {
    value
        .as_ref()
        .map(|d| {
            DateTime::from_str(d, DateTimeFormat::DateTime).map_err(|_| Error::InvalidInput {
                field: field.into(),
                reason: format!("{d:?} is not an ISO 8601 date"),
            })
        })
        .transpose()
}

fn fmt_date(d: Option<&DateTime>) -> Option<String> {
    d.and_then(|d| d.fmt(DateTimeFormat::DateTime).ok())
}

fn tag(t: &Tag) -> Result<s3::Tag> {
    s3::Tag::builder()
        .key(&t.key)
        .value(&t.value)
        .build()
        .map_err(|e| Error::InvalidInput {
            field: "Tag".into(),
            reason: e.to_string(),
        })
}

fn from_tag(t: &s3::Tag) -> Tag {
    Tag {
        key: t.key().to_owned(),
        value: t.value().to_owned(),
    }
}

fn to_filter(f: &Filter) -> Result<s3::LifecycleRuleFilter> {
    let mut b = s3::LifecycleRuleFilter::builder()
        .set_prefix(f.prefix.clone())
        .set_object_size_greater_than(f.object_size_greater_than)
        .set_object_size_less_than(f.object_size_less_than);
    if let Some(t) = &f.tag {
        b = b.tag(tag(t)?);
    }
    if let Some(and) = &f.and {
        let mut a = s3::LifecycleRuleAndOperator::builder()
            .set_prefix(and.prefix.clone())
            .set_object_size_greater_than(and.object_size_greater_than)
            .set_object_size_less_than(and.object_size_less_than);
        for t in &and.tags {
            a = a.tags(tag(t)?);
        }
        b = b.and(a.build());
    }
    Ok(b.build())
}

fn from_filter(f: &s3::LifecycleRuleFilter) -> Filter {
    Filter {
        prefix: f.prefix().map(str::to_owned),
        tag: f.tag().map(from_tag),
        object_size_greater_than: f.object_size_greater_than(),
        object_size_less_than: f.object_size_less_than(),
        and: f.and().map(|a| AndOperator {
            prefix: a.prefix().map(str::to_owned),
            tags: a.tags().iter().map(from_tag).collect(),
            object_size_greater_than: a.object_size_greater_than(),
            object_size_less_than: a.object_size_less_than(),
        }),
    }
}

/// Model rule -> SDK rule.
fn to_rule(r: &Rule) -> Result<s3::LifecycleRule> {
    let mut b = s3::LifecycleRule::builder()
        .set_id(r.id.clone())
        .status(s3::ExpirationStatus::from(r.status.as_str()));
    #[allow(deprecated)]
    {
        b = b.set_prefix(r.prefix.clone());
    }
    if let Some(f) = &r.filter {
        b = b.filter(to_filter(f)?);
    }
    for (i, t) in r.transitions.iter().enumerate() {
        b = b.transitions(
            s3::Transition::builder()
                .set_days(int(&format!("Transitions[{i}].Days"), t.days)?)
                .set_date(date(&format!("Transitions[{i}].Date"), &t.date)?)
                .storage_class(s3::TransitionStorageClass::from(t.storage_class.as_str()))
                .build(),
        );
    }
    if let Some(e) = &r.expiration {
        b = b.expiration(
            s3::LifecycleExpiration::builder()
                .set_days(int("Expiration.Days", e.days)?)
                .set_date(date("Expiration.Date", &e.date)?)
                .set_expired_object_delete_marker(e.expired_object_delete_marker)
                .build(),
        );
    }
    for (i, t) in r.noncurrent_version_transitions.iter().enumerate() {
        b = b.noncurrent_version_transitions(
            s3::NoncurrentVersionTransition::builder()
                .set_noncurrent_days(int(
                    &format!("NoncurrentVersionTransitions[{i}].NoncurrentDays"),
                    t.noncurrent_days,
                )?)
                .set_newer_noncurrent_versions(int(
                    "NewerNoncurrentVersions",
                    t.newer_noncurrent_versions,
                )?)
                .storage_class(s3::TransitionStorageClass::from(t.storage_class.as_str()))
                .build(),
        );
    }
    if let Some(e) = &r.noncurrent_version_expiration {
        b = b.noncurrent_version_expiration(
            s3::NoncurrentVersionExpiration::builder()
                .set_noncurrent_days(int(
                    "NoncurrentVersionExpiration.NoncurrentDays",
                    e.noncurrent_days,
                )?)
                .set_newer_noncurrent_versions(int(
                    "NewerNoncurrentVersions",
                    e.newer_noncurrent_versions,
                )?)
                .build(),
        );
    }
    if let Some(a) = &r.abort_incomplete_multipart_upload {
        b = b.abort_incomplete_multipart_upload(
            s3::AbortIncompleteMultipartUpload::builder()
                .set_days_after_initiation(int(
                    "AbortIncompleteMultipartUpload.DaysAfterInitiation",
                    a.days_after_initiation,
                )?)
                .build(),
        );
    }
    b.build().map_err(|e| Error::InvalidInput {
        field: "Rule".into(),
        reason: e.to_string(),
    })
}

/// SDK rule -> model rule.
fn from_rule(r: &s3::LifecycleRule) -> Rule {
    #[allow(deprecated)]
    let prefix = r.prefix().map(str::to_owned);
    Rule {
        id: r.id().map(str::to_owned),
        filter: r.filter().map(from_filter),
        prefix,
        status: r.status().as_str().to_owned(),
        transitions: r
            .transitions()
            .iter()
            .map(|t| Transition {
                days: t.days().map(i64::from),
                date: fmt_date(t.date()),
                storage_class: t
                    .storage_class()
                    .map(|c| c.as_str().to_owned())
                    .unwrap_or_default(),
            })
            .collect(),
        expiration: r.expiration().map(|e| Expiration {
            days: e.days().map(i64::from),
            date: fmt_date(e.date()),
            expired_object_delete_marker: e.expired_object_delete_marker(),
        }),
        noncurrent_version_transitions: r
            .noncurrent_version_transitions()
            .iter()
            .map(|t| NoncurrentVersionTransition {
                noncurrent_days: t.noncurrent_days().map(i64::from),
                storage_class: t
                    .storage_class()
                    .map(|c| c.as_str().to_owned())
                    .unwrap_or_default(),
                newer_noncurrent_versions: t.newer_noncurrent_versions().map(i64::from),
            })
            .collect(),
        noncurrent_version_expiration: r.noncurrent_version_expiration().map(|e| {
            NoncurrentVersionExpiration {
                noncurrent_days: e.noncurrent_days().map(i64::from),
                newer_noncurrent_versions: e.newer_noncurrent_versions().map(i64::from),
            }
        }),
        abort_incomplete_multipart_upload: r.abort_incomplete_multipart_upload().map(|a| {
            AbortIncompleteMultipartUpload {
                days_after_initiation: a.days_after_initiation().map(i64::from),
            }
        }),
    }
}

fn to_it(c: &IntelligentTieringConfiguration) -> Result<s3::IntelligentTieringConfiguration> {
    let mut b = s3::IntelligentTieringConfiguration::builder()
        .id(&c.id)
        .status(s3::IntelligentTieringStatus::from(c.status.as_str()));
    if let Some(f) = &c.filter {
        let mut fb = s3::IntelligentTieringFilter::builder().set_prefix(f.prefix.clone());
        if let Some(t) = &f.tag {
            fb = fb.tag(tag(t)?);
        }
        if let Some(and) = &f.and {
            let mut a = s3::IntelligentTieringAndOperator::builder().set_prefix(and.prefix.clone());
            for t in &and.tags {
                a = a.tags(tag(t)?);
            }
            fb = fb.and(a.build());
        }
        b = b.filter(fb.build());
    }
    for (i, t) in c.tierings.iter().enumerate() {
        b = b.tierings(
            s3::Tiering::builder()
                .days(int(&format!("Tierings[{i}].Days"), Some(t.days))?.unwrap_or(0))
                .access_tier(s3::IntelligentTieringAccessTier::from(
                    t.access_tier.as_str(),
                ))
                .build()
                .map_err(|e| Error::InvalidInput {
                    field: format!("Tierings[{i}]"),
                    reason: e.to_string(),
                })?,
        );
    }
    b.build().map_err(|e| Error::InvalidInput {
        field: "IntelligentTieringConfiguration".into(),
        reason: e.to_string(),
    })
}

fn from_it(c: &s3::IntelligentTieringConfiguration) -> IntelligentTieringConfiguration {
    IntelligentTieringConfiguration {
        id: c.id().to_owned(),
        filter: c.filter().map(|f| Filter {
            prefix: f.prefix().map(str::to_owned),
            tag: f.tag().map(from_tag),
            and: f.and().map(|a| AndOperator {
                prefix: a.prefix().map(str::to_owned),
                tags: a.tags().iter().map(from_tag).collect(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        status: c.status().as_str().to_owned(),
        tierings: c
            .tierings()
            .iter()
            .map(|t| Tiering {
                days: i64::from(t.days()),
                access_tier: t.access_tier().as_str().to_owned(),
            })
            .collect(),
    }
}

#[async_trait]
impl PolicyStore for S3PolicyStore {
    async fn get_lifecycle(&self, bucket: &str) -> Result<PolicyDocument> {
        let mut doc = PolicyDocument::default();
        match self
            .client
            .get_bucket_lifecycle_configuration()
            .bucket(bucket)
            .send()
            .await
        {
            Ok(out) => {
                doc.rules = out.rules().iter().map(from_rule).collect();
                doc.transition_default_minimum_object_size = out
                    .transition_default_minimum_object_size()
                    .map(|s| s.as_str().to_owned());
            }
            Err(e) if e.code() == Some("NoSuchLifecycleConfiguration") => {}
            Err(e) => return Err(aws_error("GetBucketLifecycleConfiguration", bucket, e)),
        }
        Ok(doc)
    }

    async fn list_intelligent_tiering(
        &self,
        bucket: &str,
    ) -> Result<Vec<IntelligentTieringConfiguration>> {
        let mut list = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .list_bucket_intelligent_tiering_configurations()
                .bucket(bucket)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| aws_error("ListBucketIntelligentTieringConfigurations", bucket, e))?;
            list.extend(
                out.intelligent_tiering_configuration_list()
                    .iter()
                    .map(from_it),
            );
            match out.next_continuation_token() {
                Some(next) if out.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => break,
            }
        }
        list.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(list)
    }

    async fn put_lifecycle(&self, bucket: &str, doc: &PolicyDocument) -> Result<()> {
        if doc.rules.is_empty() {
            return self
                .client
                .delete_bucket_lifecycle()
                .bucket(bucket)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_error("DeleteBucketLifecycle", bucket, e));
        }
        let rules = doc.rules.iter().map(to_rule).collect::<Result<Vec<_>>>()?;
        let config = s3::BucketLifecycleConfiguration::builder()
            .set_rules(Some(rules))
            .build()
            .map_err(|e| Error::InvalidInput {
                field: "Rules".into(),
                reason: e.to_string(),
            })?;
        self.client
            .put_bucket_lifecycle_configuration()
            .bucket(bucket)
            .lifecycle_configuration(config)
            .set_transition_default_minimum_object_size(
                doc.transition_default_minimum_object_size
                    .as_deref()
                    .map(s3::TransitionDefaultMinimumObjectSize::from),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_error("PutBucketLifecycleConfiguration", bucket, e))
    }

    async fn put_intelligent_tiering(
        &self,
        bucket: &str,
        config: &IntelligentTieringConfiguration,
    ) -> Result<()> {
        self.client
            .put_bucket_intelligent_tiering_configuration()
            .bucket(bucket)
            .id(&config.id)
            .intelligent_tiering_configuration(to_it(config)?)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_error("PutBucketIntelligentTieringConfiguration", bucket, e))
    }

    async fn delete_intelligent_tiering(&self, bucket: &str, id: &str) -> Result<()> {
        self.client
            .delete_bucket_intelligent_tiering_configuration()
            .bucket(bucket)
            .id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_error("DeleteBucketIntelligentTieringConfiguration", bucket, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_convert_both_ways_without_loss() {
        let doc = PolicyDocument::from_json(
            "t",
            r#"{"Rules":[{"ID":"a","Filter":{"And":{"Prefix":"p/","Tags":[{"Key":"k","Value":"v"}],"ObjectSizeGreaterThan":1}},"Status":"Enabled",
              "Transitions":[{"Days":30,"StorageClass":"STANDARD_IA"}],"Expiration":{"Date":"2030-01-01T00:00:00Z"},
              "NoncurrentVersionTransitions":[{"NoncurrentDays":40,"StorageClass":"GLACIER","NewerNoncurrentVersions":3}],
              "NoncurrentVersionExpiration":{"NoncurrentDays":400},"AbortIncompleteMultipartUpload":{"DaysAfterInitiation":2}}],
              "IntelligentTieringConfigurationList":[{"Id":"i","Filter":{"And":{"Prefix":"x/","Tags":[{"Key":"a","Value":"b"}]}},"Status":"Enabled",
              "Tierings":[{"Days":90,"AccessTier":"ARCHIVE_ACCESS"}]}]}"#,
        )
        .unwrap();
        for rule in &doc.rules {
            assert_eq!(&from_rule(&to_rule(rule).unwrap()), rule);
        }
        for c in &doc.intelligent_tiering {
            assert_eq!(&from_it(&to_it(c).unwrap()), c);
        }
        let mut big = doc.rules[0].clone();
        big.transitions[0].days = Some(1 << 40);
        assert!(
            to_rule(&big)
                .unwrap_err()
                .to_string()
                .contains("Transitions[0].Days")
        );
    }
}
