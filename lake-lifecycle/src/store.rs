//! Where a bucket's policies live: the [`PolicyStore`] seam, an in-memory twin, and the ONE conformance suite
//! both the in-memory store (unit tests) and the S3 adapter (integration tests against the emulator) must pass.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::policy::{Filter, IntelligentTieringConfiguration, PolicyDocument};

/// A bucket's lifecycle configuration and Intelligent-Tiering configurations.
#[async_trait]
pub trait PolicyStore: Send + Sync {
    /// The bucket's lifecycle configuration (no configuration: no rules). [`Error::NotFound`] if no bucket.
    async fn get_lifecycle(&self, bucket: &str) -> Result<PolicyDocument>;
    /// The bucket's Intelligent-Tiering configurations, sorted by `Id`.
    async fn list_intelligent_tiering(
        &self,
        bucket: &str,
    ) -> Result<Vec<IntelligentTieringConfiguration>>;
    /// Both: the bucket's current policies.
    async fn get(&self, bucket: &str) -> Result<PolicyDocument> {
        let mut doc = self.get_lifecycle(bucket).await?;
        doc.intelligent_tiering = self.list_intelligent_tiering(bucket).await?;
        Ok(doc)
    }
    /// Replaces the bucket's lifecycle configuration with `doc`'s rules (S3 has no per-rule update); no rules
    /// deletes the configuration (never data).
    async fn put_lifecycle(&self, bucket: &str, doc: &PolicyDocument) -> Result<()>;
    /// Creates or replaces one Intelligent-Tiering configuration (by `Id`).
    async fn put_intelligent_tiering(
        &self,
        bucket: &str,
        config: &IntelligentTieringConfiguration,
    ) -> Result<()>;
    /// Deletes one Intelligent-Tiering configuration.
    async fn delete_intelligent_tiering(&self, bucket: &str, id: &str) -> Result<()>;
}

/// An in-memory twin of S3's policy API, for tests and dry runs.
#[derive(Debug, Default)]
pub struct MemoryStore {
    buckets: Mutex<HashMap<String, PolicyDocument>>,
}

impl MemoryStore {
    /// A store holding the given (empty) buckets.
    pub fn with_buckets(names: &[&str]) -> MemoryStore {
        let store = MemoryStore::default();
        {
            let mut buckets = store.buckets.lock().expect("not poisoned");
            for name in names {
                buckets.insert((*name).to_owned(), PolicyDocument::default());
            }
        }
        store
    }

    fn with<T>(&self, bucket: &str, f: impl FnOnce(&mut PolicyDocument) -> T) -> Result<T> {
        let mut buckets = self.buckets.lock().expect("not poisoned");
        let doc = buckets.get_mut(bucket).ok_or_else(|| Error::NotFound {
            what: format!("bucket {bucket}"),
        })?;
        Ok(f(doc))
    }
}

#[async_trait]
impl PolicyStore for MemoryStore {
    async fn get_lifecycle(&self, bucket: &str) -> Result<PolicyDocument> {
        self.with(bucket, |doc| PolicyDocument {
            intelligent_tiering: Vec::new(),
            ..doc.clone()
        })
    }

    async fn list_intelligent_tiering(
        &self,
        bucket: &str,
    ) -> Result<Vec<IntelligentTieringConfiguration>> {
        self.with(bucket, |doc| {
            let mut list = doc.intelligent_tiering.clone();
            list.sort_by(|a, b| a.id.cmp(&b.id));
            list
        })
    }

    async fn put_lifecycle(&self, bucket: &str, desired: &PolicyDocument) -> Result<()> {
        self.with(bucket, |doc| {
            doc.rules = desired.rules.clone();
            doc.transition_default_minimum_object_size = if desired.rules.is_empty() {
                None
            } else {
                Some(
                    desired
                        .transition_default_minimum_object_size
                        .clone()
                        .unwrap_or_else(|| "all_storage_classes_128K".into()),
                )
            };
        })
    }

    async fn put_intelligent_tiering(
        &self,
        bucket: &str,
        config: &IntelligentTieringConfiguration,
    ) -> Result<()> {
        self.with(bucket, |doc| {
            doc.intelligent_tiering.retain(|c| c.id != config.id);
            doc.intelligent_tiering.push(config.clone());
        })
    }

    async fn delete_intelligent_tiering(&self, bucket: &str, id: &str) -> Result<()> {
        self.with(bucket, |doc| doc.intelligent_tiering.retain(|c| c.id != id))
    }
}

/// What a backend implements; real S3 and the in-memory twin implement everything. moto server (the emulator)
/// implements neither the Intelligent-Tiering configuration API nor lifecycle object-size filters (it drops
/// `ObjectSizeGreaterThan`/`ObjectSizeLessThan`), and a caller that turns a capability off must say so loudly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Put/list/delete Intelligent-Tiering configurations.
    pub intelligent_tiering: bool,
    /// Lifecycle filters on object size.
    pub size_filters: bool,
}

impl Capabilities {
    /// Everything (real S3, the in-memory twin).
    pub const ALL: Capabilities = Capabilities {
        intelligent_tiering: true,
        size_filters: true,
    };
}

/// The shared conformance suite: every [`PolicyStore`] must pass it. `bucket` must exist and have no policies;
/// `missing` must name a bucket that does not exist.
pub async fn conformance(store: &dyn PolicyStore, bucket: &str, missing: &str, caps: Capabilities) {
    let empty = store
        .get_lifecycle(bucket)
        .await
        .expect("get on a fresh bucket");
    assert!(
        empty.rules.is_empty(),
        "a fresh bucket has no lifecycle rules: {empty:?}"
    );

    let doc =
        PolicyDocument::from_json("conformance", include_str!("../../examples/lifecycle.json"))
            .expect("example parses");
    assert!(crate::validate::validate(&doc).is_empty());
    store
        .put_lifecycle(bucket, &doc)
        .await
        .expect("put lifecycle");
    let back = store.get_lifecycle(bucket).await.expect("get after put");
    assert_eq!(
        back.rules, doc.rules,
        "lifecycle rules round-trip unchanged"
    );

    // Every action kind and filter form round-trips.
    let rich = PolicyDocument::from_json(
        "conformance",
        r#"{"Rules":[
          {"ID":"tags","Filter":{"And":{"Prefix":"a/","Tags":[{"Key":"tier","Value":"cold"}],"ObjectSizeGreaterThan":131072}},"Status":"Enabled",
           "Transitions":[{"Days":30,"StorageClass":"STANDARD_IA"},{"Days":120,"StorageClass":"GLACIER"}],
           "NoncurrentVersionTransitions":[{"NoncurrentDays":30,"StorageClass":"GLACIER_IR","NewerNoncurrentVersions":2}],
           "NoncurrentVersionExpiration":{"NoncurrentDays":365}},
          {"ID":"size","Filter":{"ObjectSizeLessThan":1048576},"Status":"Disabled","Expiration":{"Days":400}},
          {"ID":"markers","Filter":{"Prefix":"b/"},"Status":"Enabled","Expiration":{"ExpiredObjectDeleteMarker":true},
           "AbortIncompleteMultipartUpload":{"DaysAfterInitiation":3}},
          {"ID":"dated","Filter":{"Tag":{"Key":"k","Value":"v"}},"Status":"Enabled","Transitions":[{"Date":"2030-01-01T00:00:00Z","StorageClass":"DEEP_ARCHIVE"}]}
        ]}"#,
    )
    .expect("rich policy parses");
    let mut rich = rich;
    if !caps.size_filters {
        for rule in &mut rich.rules {
            if let Some(filter) = &mut rule.filter {
                filter.object_size_greater_than = None;
                filter.object_size_less_than = None;
                if let Some(and) = &mut filter.and {
                    and.object_size_greater_than = None;
                    and.object_size_less_than = None;
                }
                if *filter == Filter::default() && rule.id.as_deref() == Some("size") {
                    filter.prefix = Some("s/".into());
                }
            }
        }
    }
    assert_eq!(crate::validate::validate(&rich), vec![]);
    store
        .put_lifecycle(bucket, &rich)
        .await
        .expect("put rich lifecycle");
    assert_eq!(
        store.get_lifecycle(bucket).await.expect("get").rules,
        rich.rules,
        "every filter and action round-trips"
    );

    if caps.intelligent_tiering {
        for config in &doc.intelligent_tiering {
            store
                .put_intelligent_tiering(bucket, config)
                .await
                .expect("put intelligent-tiering");
        }
        let mut second = doc.intelligent_tiering[0].clone();
        second.id = "second".into();
        second.tierings = vec![crate::policy::Tiering {
            days: 90,
            access_tier: "ARCHIVE_ACCESS".into(),
        }];
        store
            .put_intelligent_tiering(bucket, &second)
            .await
            .expect("put second");
        let listed = store.list_intelligent_tiering(bucket).await.expect("list");
        assert_eq!(
            listed.len(),
            doc.intelligent_tiering.len() + 1,
            "{listed:?}"
        );
        assert!(listed.contains(&second) && listed.contains(&doc.intelligent_tiering[0]));
        store
            .delete_intelligent_tiering(bucket, "second")
            .await
            .expect("delete");
        assert_eq!(
            store.get(bucket).await.expect("get").intelligent_tiering,
            doc.intelligent_tiering
        );
    }

    store
        .put_lifecycle(bucket, &PolicyDocument::default())
        .await
        .expect("delete lifecycle");
    assert!(
        store
            .get_lifecycle(bucket)
            .await
            .expect("get")
            .rules
            .is_empty(),
        "no rules after deleting the configuration"
    );

    match store.get_lifecycle(missing).await {
        Err(Error::NotFound { .. }) => {}
        other => panic!("a missing bucket must be NotFound, got {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_passes_the_conformance_suite() {
        let store = MemoryStore::with_buckets(&["lake"]);
        conformance(&store, "lake", "nope", Capabilities::ALL).await;
    }
}
