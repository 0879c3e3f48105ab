//! `xtask catalog add --live` as a user runs it: a catalog from the lake config is published to the catalog
//! store (SSM Parameter Store in the emulator) and created on the running cluster, where it answers; a catalog
//! Trino refuses is refused before anything is published.

use std::path::{Path, PathBuf};

use lake_tests::trino::{self, unique_ident};
use trino_catalogs::CatalogSpec;
use trino_catalogs::store::{CatalogStore as _, Layout, SsmCatalogStore};
use trino_ecs_core::config::LakeConfig;

/// The effective lake config plus `[catalogs.<name>]` tables, written to a file of the test's own: `catalog
/// add` takes the catalogs it publishes from the config, and the shared config must stay as it is.
fn config_with(dir: &Path, catalogs: &[(&str, toml::Table)]) -> PathBuf {
    let effective = trino::local_config_path();
    let text = std::fs::read_to_string(&effective).expect("the effective lake config");
    let mut doc: toml::Table = text.parse().expect("the effective lake config is TOML");
    let table = doc
        .entry("catalogs")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .expect("[catalogs] is a table");
    for (name, catalog) in catalogs {
        table.insert((*name).to_owned(), toml::Value::Table(catalog.clone()));
    }
    let path = dir.join("lake.toml");
    std::fs::write(&path, toml::to_string_pretty(&doc).expect("TOML")).expect("writing the config");
    LakeConfig::load(&path).unwrap_or_else(|e| panic!("the test's lake config is invalid: {e}"));
    path
}

/// The catalog store `catalog add` publishes to: the effective config's parameter prefix and cluster name,
/// on the emulator.
async fn store(config: &LakeConfig) -> SsmCatalogStore {
    let layout = Layout::new(&config.parameters.prefix, &config.cluster.name).expect("a layout");
    SsmCatalogStore::from_sdk_config(&lake_tests::aws_config().await, layout)
}

/// `catalog add NAME --live URL` publishes a new PostgreSQL catalog and creates it on the running cluster,
/// where it reads a table written through the lake's own PostgreSQL catalog.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_add_live_publishes_and_creates_a_catalog_that_answers() {
    let config = trino::local_config();
    let crm_url = match &config.catalogs["crm"] {
        CatalogSpec::Postgresql(j) => j.url.clone(),
        other => panic!("catalog crm is not PostgreSQL: {other:?}"),
    };
    let name = unique_ident("added");
    let mut catalog = toml::Table::new();
    catalog.insert("connector".into(), "postgresql".into());
    catalog.insert("url".into(), crm_url.into());
    catalog.insert("user".into(), "postgres".into());
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = config_with(dir.path(), &[(&name, catalog)]);

    let client = trino::client("lake-tests-catalog-add");
    let schema = unique_ident("added");
    trino::run_all(
        &client,
        &[
            format!("CREATE SCHEMA crm.{schema}"),
            format!(
                "CREATE TABLE crm.{schema}.regions AS SELECT * FROM (VALUES (BIGINT '1', 'emea'), (BIGINT '2', 'apac')) AS t(id, region)"
            ),
        ],
    )
    .await;

    let url = trino::trino_url();
    let run = trino::xtask(&path, &["catalog", "add", &name, "--live", &url]).await;
    let catalogs = trino::catalogs(&client).await;
    let read = client
        .fetch_all(&format!(
            "SELECT id, region FROM {name}.{schema}.regions ORDER BY id"
        ))
        .await;
    let store = store(&config).await;
    let stored = store.get(&name).await.expect("reading the catalog store");

    // What the test created goes again whatever the outcome: the cluster and the store are shared.
    trino::run_best_effort(
        &client,
        &[
            format!("DROP TABLE crm.{schema}.regions"),
            format!("DROP SCHEMA crm.{schema}"),
        ],
    )
    .await;
    trino::run_best_effort(&trino::ops_client(), &[format!("DROP CATALOG {name}")]).await;
    store.delete(&name).await.ok();

    let run = run.expect_success();
    assert!(
        run.stdout.contains(&format!("{name}: published version")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "{name}: created on the running cluster (CREATE CATALOG)"
        )),
        "{}",
        run.stdout
    );
    assert!(
        catalogs.contains(&name),
        "SHOW CATALOGS lacks {name}: {catalogs:?}"
    );
    let stored = stored.unwrap_or_else(|| panic!("the store has no {name} after `catalog add`"));
    assert_eq!(stored.spec.connector_name(), "postgresql");
    let read = read.unwrap_or_else(|e| panic!("the added catalog {name} does not answer: {e}"));
    let rows: Vec<(i64, String)> = read
        .rows
        .iter()
        .map(|r| {
            (
                trino::integer(r.get(0).expect("id")),
                r.get(1).expect("region").to_string(),
            )
        })
        .collect();
    assert_eq!(rows, [(1, "emea".to_owned()), (2, "apac".to_owned())]);
}

/// A catalog Trino refuses (a connector property that does not exist) makes `catalog add --live` fail
/// before anything is published: the store has no entry for it and the cluster does not list it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_add_live_refuses_a_catalog_trino_refuses_before_publishing() {
    let config = trino::local_config();
    let name = unique_ident("refused");
    let mut properties = toml::Table::new();
    properties.insert("memory.no-such-property".into(), "1".into());
    let mut catalog = toml::Table::new();
    catalog.insert("connector".into(), "generic".into());
    catalog.insert("connector_name".into(), "memory".into());
    catalog.insert("properties".into(), toml::Value::Table(properties));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = config_with(dir.path(), &[(&name, catalog)]);

    let url = trino::trino_url();
    let run = trino::xtask(&path, &["catalog", "add", &name, "--live", &url]).await;
    let store = store(&config).await;
    let stored = store.get(&name).await.expect("reading the catalog store");
    let catalogs = trino::catalogs(&trino::ops_client()).await;
    // Whatever the command left behind goes, so a failure here does not leak into the shared store.
    if stored.is_some() {
        store.delete(&name).await.ok();
    }
    if catalogs.contains(&name) {
        trino::run_best_effort(&trino::ops_client(), &[format!("DROP CATALOG {name}")]).await;
    }

    assert!(
        !run.success,
        "`{}` accepted a catalog with an unknown property\nstdout:\n{}",
        run.command, run.stdout
    );
    // Trino names the property it did not use; the command passes its answer on.
    assert!(
        run.stderr.contains("memory.no-such-property"),
        "stderr:\n{}",
        run.stderr
    );
    assert!(
        stored.is_none(),
        "`catalog add --live` published {name} although Trino refused it; stdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    assert!(
        !catalogs.contains(&name),
        "SHOW CATALOGS lists the refused {name}: {catalogs:?}"
    );
}
