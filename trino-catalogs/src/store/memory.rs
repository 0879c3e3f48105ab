//! The in-memory twin of Parameter Store: versions, history, String/SecureString types, tiers, paths.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use super::{Layout, Param, Params, catalog_store_via_engine};
use crate::error::Result;
use crate::spec::SecretValue;

/// A catalog store in memory, behaving like [`super::SsmCatalogStore`] (it passes the same test suite).
pub struct MemoryCatalogStore {
    pub(crate) layout: Layout,
    pub(crate) allow_advanced: bool,
    params: MemoryParams,
}

/// Every retained version per parameter name, oldest first, each with whether it is advanced-tier.
type ParamMap = BTreeMap<String, Vec<(Param, bool)>>;

#[derive(Default)]
struct MemoryParams {
    kms_key_id: Option<String>,
    // Every retained version per parameter, oldest first, and whether it is advanced-tier.
    map: Arc<Mutex<ParamMap>>,
}

impl MemoryCatalogStore {
    /// An empty store; the advanced tier is allowed, as with [`super::SsmCatalogStore`].
    pub fn new(layout: Layout) -> Self {
        Self {
            layout,
            allow_advanced: true,
            params: MemoryParams::default(),
        }
    }

    /// The KMS key SecureString values are recorded as encrypted with.
    pub fn with_kms_key_id(mut self, key: Option<String>) -> Self {
        self.params.kms_key_id = key;
        self
    }

    /// A second store over the same parameters (like a second process on the same SSM), writing SecureStrings
    /// with `key`.
    pub fn sharing_with_kms_key_id(&self, key: Option<String>) -> Self {
        Self {
            layout: self.layout.clone(),
            allow_advanced: self.allow_advanced,
            params: MemoryParams {
                kms_key_id: key,
                map: Arc::clone(&self.params.map),
            },
        }
    }

    /// Whether values over 4 KB may use the advanced tier (otherwise they fail with `TooLarge`).
    pub fn with_advanced_tier(mut self, allow: bool) -> Self {
        self.allow_advanced = allow;
        self
    }

    pub(crate) fn params(&self) -> &dyn Params {
        &self.params
    }

    /// Writes a raw parameter outside the catalog protocol (tests use it to plant incomplete catalogs and
    /// referenced secrets, as another tool could in SSM).
    pub fn put_raw(&self, name: &str, value: &str, secure: bool) {
        let mut map = self.params.map.lock().expect("memory store lock");
        let versions = map.entry(name.to_owned()).or_default();
        let version = versions.last().map_or(1, |(p, _)| p.version + 1);
        versions.push((
            Param {
                value: SecretValue::new(value),
                secure,
                version,
                modified: Some(now()),
                key_id: secure.then(|| super::DEFAULT_KEY.to_owned()),
            },
            false,
        ));
    }

    /// Whether the parameter exists and uses the advanced tier.
    pub fn is_advanced(&self, name: &str) -> Option<bool> {
        self.params
            .map
            .lock()
            .expect("memory store lock")
            .get(name)
            .and_then(|v| v.last())
            .map(|(_, a)| *a)
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

catalog_store_via_engine!(MemoryCatalogStore);

#[async_trait]
impl Params for MemoryParams {
    async fn get(&self, name: &str) -> Result<Option<Param>> {
        Ok(self
            .map
            .lock()
            .expect("memory store lock")
            .get(name)
            .and_then(|v| v.last())
            .map(|(p, _)| p.clone()))
    }

    fn key_id(&self) -> Option<&str> {
        self.kms_key_id.as_deref()
    }

    async fn put(&self, name: &str, value: &str, secure: bool, advanced: bool) -> Result<i64> {
        let key_id = secure.then(|| {
            self.kms_key_id
                .clone()
                .unwrap_or_else(|| super::DEFAULT_KEY.to_owned())
        });
        let mut map = self.map.lock().expect("memory store lock");
        let versions = map.entry(name.to_owned()).or_default();
        let version = versions.last().map_or(1, |(p, _)| p.version + 1);
        // Like SSM: a parameter never goes back from the advanced tier; 100 versions are retained.
        let advanced = advanced || versions.last().is_some_and(|(_, a)| *a);
        versions.push((
            Param {
                value: SecretValue::new(value),
                secure,
                version,
                modified: Some(now()),
                key_id,
            },
            advanced,
        ));
        if versions.len() > 100 {
            versions.remove(0);
        }
        Ok(version)
    }

    async fn delete(&self, names: &[String]) -> Result<()> {
        let mut map = self.map.lock().expect("memory store lock");
        for n in names {
            map.remove(n);
        }
        Ok(())
    }

    async fn list(&self, path: &str) -> Result<Vec<(String, Param)>> {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        Ok(self
            .map
            .lock()
            .expect("memory store lock")
            .iter()
            .filter(|(n, _)| n.starts_with(&prefix))
            .filter_map(|(n, v)| v.last().map(|(p, _)| (n.clone(), p.clone())))
            .collect())
    }

    async fn history(&self, name: &str) -> Result<Vec<Param>> {
        Ok(self
            .map
            .lock()
            .expect("memory store lock")
            .get(name)
            .map(|v| v.iter().map(|(p, _)| p.clone()).collect())
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::CatalogStore;

    #[tokio::test]
    async fn memory_store_passes_the_shared_suite() {
        let store = MemoryCatalogStore::new(Layout::new("/trino", "suite").unwrap());
        crate::store::testsuite::run(&store).await;
    }

    #[tokio::test]
    async fn memory_store_rolls_back_writes_failing_mid_way() {
        let store = MemoryCatalogStore::new(Layout::new("/trino", "faults").unwrap());
        crate::store::testsuite::mid_write_failures_roll_back(&store, |n| {
            crate::store::testsuite::FailingStore::over_memory(&store, n)
        })
        .await;
    }

    #[tokio::test]
    async fn a_new_kms_key_rewrites_secrets() {
        let before = MemoryCatalogStore::new(Layout::new("/trino", "kms").unwrap());
        let after = before.sharing_with_kms_key_id(Some("alias/rotated".into()));
        crate::store::testsuite::kms_key_change_rewrites_secrets(&before, &after).await;
    }

    #[tokio::test]
    async fn incomplete_catalogs_are_invisible_and_deleted_with_the_catalog() {
        let store = MemoryCatalogStore::new(Layout::new("/trino", "partial").unwrap());
        let secret = store.layout().secret_parameter("half", "password");
        store.put_raw(&secret, "orphan", true);
        assert!(store.list().await.unwrap().is_empty());
        assert!(store.get("half").await.unwrap().is_none());
        assert!(
            store.delete("half").await.unwrap(),
            "leftovers of a crashed write are cleaned up"
        );
        assert!(store.read_secret(&secret).await.is_err());
    }

    #[tokio::test]
    async fn big_values_go_advanced_or_fail_clearly() {
        let store = MemoryCatalogStore::new(Layout::new("/trino", "tiers").unwrap());
        crate::store::testsuite::big_catalog_uses_advanced_tier(&store).await;
        crate::store::testsuite::put_big(&store, 6000)
            .await
            .unwrap();
        assert_eq!(
            store.is_advanced(&store.layout().spec_parameter("big")),
            Some(true)
        );
        let strict = MemoryCatalogStore::new(Layout::new("/trino", "tiers").unwrap())
            .with_advanced_tier(false);
        let err = crate::store::testsuite::put_big(&strict, 6000)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("over the 4096-byte limit of the standard tier"),
            "{err}"
        );
    }
}
