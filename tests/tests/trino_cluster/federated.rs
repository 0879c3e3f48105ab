//! The demo's federated join over MariaDB, PostgreSQL and Iceberg on S3, checked against the join computed
//! here from the demo's own data.

use std::collections::BTreeMap;

use lake_tests::trino::{self, unique_ident};
use trino_catalogs::CatalogSpec;
use trino_client::{Decimal, Value};
use trino_ecs_core::config::LakeConfig;
use trino_ecs_core::demo::{
    self, CUSTOMERS, DemoCatalogs, ORDERS, PRODUCTS, RevenueRow, federated_query, seed_statements,
};

/// The demo's catalogs in the effective config (the first catalog of each connector, as `cargo xtask local`
/// picks them), with a schema of the test's own so the test never shares tables with `local` or other runs.
fn demo_catalogs(config: &LakeConfig, schema: &str) -> DemoCatalogs {
    let first = |want: fn(&CatalogSpec) -> bool, what: &str| {
        config
            .catalogs
            .iter()
            .find(|(_, spec)| want(spec))
            .map(|(name, spec)| (name.clone(), spec.clone()))
            .unwrap_or_else(|| panic!("the effective lake config has no {what} catalog"))
    };
    let (mysql, _) = first(|s| matches!(s, CatalogSpec::Mysql(_)), "mysql");
    let (postgresql, _) = first(|s| matches!(s, CatalogSpec::Postgresql(_)), "postgresql");
    let (iceberg, spec) = first(|s| matches!(s, CatalogSpec::Iceberg(_)), "iceberg");
    let CatalogSpec::Iceberg(ice) = spec else {
        unreachable!("found by its connector")
    };
    DemoCatalogs {
        mysql,
        postgresql,
        iceberg,
        iceberg_location: ice.warehouse.trim_end_matches('/').to_owned(),
        schema: schema.to_owned(),
    }
}

/// The federated query's answer computed from the demo data: inner joins of orders with customers and
/// products, grouped by country and product, ordered by revenue (descending), country, product.
fn expected_rows() -> Vec<RevenueRow> {
    let mut groups: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for &(_, customer, product, quantity) in ORDERS {
        let Some(&(_, _, country)) = CUSTOMERS.iter().find(|c| c.0 == customer) else {
            continue;
        };
        let Some(&(_, name, cents)) = PRODUCTS.iter().find(|p| p.0 == product) else {
            continue;
        };
        let group = groups
            .entry((country.to_owned(), name.to_owned()))
            .or_default();
        group.0 += quantity;
        group.1 += quantity * cents;
    }
    let mut rows: Vec<RevenueRow> = groups
        .into_iter()
        .map(|((country, product), (units, revenue_cents))| RevenueRow {
            country,
            product,
            units,
            revenue_cents,
        })
        .collect();
    rows.sort_by(|a, b| {
        b.revenue_cents
            .cmp(&a.revenue_cents)
            .then_with(|| a.country.cmp(&b.country))
            .then_with(|| a.product.cmp(&b.product))
    });
    rows
}

/// Seeding the demo through Trino into a schema of the test's own, then the one federated query, gives
/// exactly the rows (and types: `bigint` units, `decimal` revenue as its exact text) computed here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_federated_join_matches_the_join_computed_from_the_demo_data() {
    let config = trino::local_config();
    let catalogs = demo_catalogs(&config, &unique_ident("demo"));
    assert_ne!(catalogs.schema, demo::SCHEMA);
    let client = trino::client("lake-tests-federated");
    trino::run_all(&client, &seed_statements(&catalogs)).await;
    let result = client.fetch_all(&federated_query(&catalogs)).await;
    let s = &catalogs.schema;
    trino::run_best_effort(
        &client,
        &[
            format!("DROP TABLE {}.{s}.orders", catalogs.mysql),
            format!("DROP SCHEMA {}.{s}", catalogs.mysql),
            format!("DROP TABLE {}.{s}.customers", catalogs.postgresql),
            format!("DROP SCHEMA {}.{s}", catalogs.postgresql),
            format!("DROP TABLE {}.{s}.products", catalogs.iceberg),
            format!("DROP SCHEMA {}.{s}", catalogs.iceberg),
        ],
    )
    .await;
    let result = result.unwrap_or_else(|e| panic!("the federated query failed: {e}"));

    let columns: Vec<(&str, &str)> = result
        .columns()
        .iter()
        .map(|c| (c.name.as_str(), c.type_name.as_str()))
        .collect();
    assert_eq!(
        columns.iter().map(|c| c.0).collect::<Vec<_>>(),
        ["country", "product", "units", "revenue"]
    );
    assert_eq!(columns[2].1, "bigint", "{columns:?}");
    assert!(columns[3].1.starts_with("decimal("), "{columns:?}");

    let expected = expected_rows();
    // The join must drop customer 5 (no orders) and order 108 (no such product), so fewer groups than orders.
    assert!(!expected.is_empty() && expected.len() < ORDERS.len());
    let want: Vec<Vec<Value>> = expected
        .iter()
        .map(|r| {
            vec![
                Value::Varchar(r.country.clone()),
                Value::Varchar(r.product.clone()),
                Value::BigInt(r.units),
                Value::Decimal(Decimal(r.revenue())),
            ]
        })
        .collect();
    let got: Vec<Vec<Value>> = result.rows.iter().map(|r| r.values().to_vec()).collect();
    assert_eq!(got, want);
}
