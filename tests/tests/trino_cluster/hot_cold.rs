//! The hot/cold loop on real evidence: queries reading an Iceberg table are recorded by the event listener,
//! `xtask events table-access` turns the event log into table access, and `xtask lifecycle analyze
//! --table-access` locates the table through Glue (the emulator) and classifies its S3 prefix.

use std::time::Duration;

use lake_lifecycle::glue::GlueTableLocations;
use lake_tests::trino::{self, unique_ident};
use trino_catalogs::CatalogSpec;
use trino_ecs_core::events::TableAccess;

/// How many queries read the table.
const READS: u64 = 3;

/// Three queries read an Iceberg table the test created; `events table-access` reports exactly those reads for
/// it, and `lifecycle analyze --table-access` finds the table's real location through Glue (the prefix that
/// holds its metadata in S3) and counts the reads on that prefix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_access_from_the_event_log_classifies_the_tables_s3_prefix() {
    let config = trino::local_config();
    let (bucket, warehouse_prefix) = match &config.catalogs["lake"] {
        CatalogSpec::Iceberg(i) => {
            let rest = i
                .warehouse
                .strip_prefix("s3://")
                .expect("an s3:// warehouse");
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            (bucket.to_owned(), prefix.trim_end_matches('/').to_owned())
        }
        other => panic!("catalog lake is not Iceberg: {other:?}"),
    };
    let schema = unique_ident("hotcold");
    let table = format!("lake.{schema}.clicks");
    let client = trino::client(&unique_ident("hotcold_user"));
    trino::run_all(
        &client,
        &[
            format!("CREATE SCHEMA lake.{schema} WITH (location = 's3://{bucket}/{warehouse_prefix}/{schema}')"),
            format!(
                "CREATE TABLE {table} AS SELECT * FROM (VALUES (BIGINT '1', 'home'), (BIGINT '2', 'cart'), (BIGINT '3', 'home')) AS t(id, page)"
            ),
        ],
    )
    .await;
    let queries = [
        format!("SELECT count(*) FROM {table}"),
        format!("SELECT page, count(*) FROM {table} GROUP BY page"),
        format!("SELECT max(id) FROM {table} WHERE page = 'home'"),
    ];
    assert_eq!(queries.len() as u64, READS);
    trino::run_all(&client, &queries).await;

    // The listener writes each query on completion; wait until the library sees all three reads.
    let reader = trino::event_log_reader(&config);
    let window = trino::recent_window();
    let is_ours =
        |a: &TableAccess| a.catalog == "lake" && a.schema == schema && a.table == "clicks";
    {
        let (reader, is_ours) = (&reader, &is_ours);
        trino::eventually(
            "the event log to hold the three reads of the test's table",
            Duration::from_secs(60),
            move || async move {
                let (_, access) = reader
                    .report(window, 1, Default::default())
                    .await
                    .expect("reading the event log");
                access
                    .into_iter()
                    .find(|a| is_ours(a) && a.queries == READS)
            },
        )
        .await;
    }
    reader.close().await;

    let dir = tempfile::tempdir().expect("a temporary directory");
    let access_file = dir.path().join("table-access.jsonl");
    let since = window.since.expect("a first day").to_string();
    let config_path = trino::local_config_path();
    trino::xtask(
        &config_path,
        &[
            "events",
            "table-access",
            "--since",
            &since,
            "--out",
            access_file.to_str().expect("a UTF-8 path"),
        ],
    )
    .await
    .expect_success();
    let written =
        std::fs::read_to_string(&access_file).expect("events table-access wrote its file");
    let ours: Vec<TableAccess> = written
        .lines()
        .map(|l| serde_json::from_str::<TableAccess>(l).expect("a table-access line"))
        .filter(is_ours)
        .collect();
    assert_eq!(ours.len(), 1, "{written}");
    assert_eq!(ours[0].queries, READS, "{:?}", ours[0]);
    assert_eq!(ours[0].days_accessed, 1, "{:?}", ours[0]);
    assert!(ours[0].last_access.is_some(), "{:?}", ours[0]);

    // Where Glue says the table is, and that its metadata is really there in S3.
    let sdk = lake_tests::aws_config().await;
    let location = GlueTableLocations::new(aws_sdk_glue::Client::new(&sdk))
        .location(&schema, "clicks")
        .await
        .expect("Glue knows the table");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let metadata_prefix = format!("{}metadata/", location.prefix);
    let listed = s3
        .list_objects_v2()
        .bucket(&location.bucket)
        .prefix(&metadata_prefix)
        .send()
        .await
        .expect("listing the table's metadata in S3");

    let analyzed = trino::xtask(
        &config_path,
        &[
            "lifecycle",
            "analyze",
            "--table-access",
            access_file.to_str().expect("a UTF-8 path"),
            "--json",
        ],
    )
    .await
    .expect_success();
    trino::run_best_effort(
        &client,
        &[
            format!("DROP TABLE {table}"),
            format!("DROP SCHEMA lake.{schema}"),
        ],
    )
    .await;

    assert!(location.iceberg, "{location:?}");
    assert_eq!(location.bucket, bucket);
    assert!(
        location
            .prefix
            .starts_with(&format!("{warehouse_prefix}/{schema}/clicks")),
        "{location:?}"
    );
    assert!(
        listed
            .contents()
            .iter()
            .any(|o| o.key().is_some_and(|k| k.ends_with(".metadata.json"))),
        "no Iceberg metadata file under s3://{}/{metadata_prefix}",
        location.bucket
    );
    let classes: serde_json::Value = serde_json::from_str(&analyzed.stdout).unwrap_or_else(|e| {
        panic!(
            "`{}` printed no JSON ({e}):\n{}",
            analyzed.command, analyzed.stdout
        )
    });
    let class = classes
        .as_array()
        .expect("a JSON array of prefixes")
        .iter()
        .find(|c| {
            c["bucket"] == location.bucket.as_str() && c["prefix"] == metadata_prefix.as_str()
        })
        .unwrap_or_else(|| {
            panic!(
                "analyze did not classify s3://{}/{metadata_prefix}:\n{}",
                location.bucket, analyzed.stdout
            )
        });
    assert_eq!(class["stats"]["reads"], READS, "{class}");
    assert_eq!(class["stats"]["window_reads"], READS, "{class}");
    assert_eq!(class["stats"]["metadata"], true, "{class}");
    assert_eq!(class["temperature"], "hot", "{class}");
    assert!(class["stats"]["last_access"].is_string(), "{class}");
}
