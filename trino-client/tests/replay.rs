//! The client against the replay coordinator serving real Trino bodies.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use serde_json::json;
use trino_client::replay::{
    Fault, ReplayServer, Script, SegmentPlacement, mixed_columns, mixed_rows_json, page_body,
    sample,
};
use trino_client::{Client, Error, RetryPolicy, Secret, Value};

fn client(server: &ReplayServer) -> Client {
    Client::builder(server.url())
        .user("alice")
        .source("lake-tests")
        .retry(RetryPolicy {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(50),
        })
        .build()
        .unwrap()
}

/// A sample page with a different state and without data.
fn finished(mut page: serde_json::Value) -> serde_json::Value {
    page["stats"]["state"] = json!("FINISHED");
    page.as_object_mut().unwrap().remove("data");
    page
}

#[tokio::test]
async fn follows_queued_planning_running_finished_pages() {
    let server = ReplayServer::start().await.unwrap();
    let running = sample("rust-client__models__query_result_running.json");
    server.add_query(
        "SELECT * FROM orders",
        Script::new()
            .page(sample("rust-client__models__query_result_queued.json"))
            .page(sample("rust-client__models__query_result_planning.json"))
            .page(running.clone())
            .page(running.clone())
            .page(finished(running.clone())),
    );
    let c = client(&server);
    let result = c.fetch_all("SELECT * FROM orders").await.unwrap();
    assert_eq!(result.rows.len(), 2);
    assert_eq!(result.columns().len(), 20);
    assert_eq!(result.columns()[4].type_name, "decimal(15,5)");
    assert_eq!(result.status.stats.state, "FINISHED");
    assert_eq!(result.status.id, "20200602_030730_01456_2587f");
    assert_eq!(
        result.rows[0].get_by_name("fee").unwrap().to_string(),
        "1000.00000"
    );
    assert!(matches!(
        result.rows[1].get_by_name("pay_time"),
        Some(Value::Timestamp(_))
    ));
    let reqs = server.requests();
    let methods: Vec<_> = reqs
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.method,
                r.path.split('/').take(3).collect::<Vec<_>>().join("/")
            )
        })
        .collect();
    assert_eq!(
        methods,
        [
            "POST /v1/statement",
            "GET /v1/statement",
            "GET /v1/statement",
            "GET /v1/statement",
            "GET /v1/statement"
        ]
    );
    let post = &reqs[0];
    assert_eq!(post.body, "SELECT * FROM orders");
    assert_eq!(post.header("x-trino-user"), Some("alice"));
    assert_eq!(post.header("x-trino-source"), Some("lake-tests"));
    assert_eq!(
        post.header("x-trino-query-data-encoding"),
        Some("json+zstd,json+lz4,json")
    );
    assert_eq!(
        post.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
}

#[tokio::test]
async fn python_client_samples_including_null_data_pages() {
    let server = ReplayServer::start().await.unwrap();
    let last = finished(sample(
        "python-client__conftest__sample_get_response_data.json",
    ));
    server.add_query(
        "SELECT * FROM system.runtime.nodes",
        Script::new()
            .page(sample(
                "python-client__conftest__sample_post_response_data.json",
            ))
            .page(sample(
                "python-client__conftest__sample_get_response_data_none.json",
            ))
            .page(sample(
                "python-client__conftest__sample_get_response_data.json",
            ))
            .page(sample(
                "python-client__conftest__sample_get_response_data_none.json",
            ))
            .page(last),
    );
    let rows = client(&server)
        .fetch_all("SELECT * FROM system.runtime.nodes")
        .await
        .unwrap()
        .rows;
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2].get(0), Some(&Value::Varchar("UUID-2".into())));
    assert_eq!(rows[0].get(3), Some(&Value::Boolean(false)));
}

#[tokio::test]
async fn failures_carry_trino_name_type_and_location() {
    let server = ReplayServer::start().await.unwrap();
    server.add_query(
        "SELECT * FROM nation",
        Script::new()
            .page(sample(
                "python-client__conftest__sample_post_response_data.json",
            ))
            .page(sample(
                "python-client__conftest__sample_get_error_response_data.json",
            )),
    );
    server.add_query(
        "SELECT bad",
        Script::new().page(sample(
            "python-client__conftest__sample_get_error_response_data.json",
        )),
    );
    for sql in ["SELECT * FROM nation", "SELECT bad"] {
        let err = client(&server).fetch_all(sql).await.unwrap_err();
        match &err {
            Error::QueryFailed {
                error_name,
                error_type,
                location,
                message,
                query_id,
                ..
            } => {
                assert_eq!(error_name, "SYNTAX_ERROR");
                assert_eq!(error_type, "USER_ERROR");
                assert_eq!(
                    location.map(|l| (l.line_number, l.column_number)),
                    Some((1, 15))
                );
                assert!(message.contains("Schema must be specified"));
                assert_eq!(query_id, "20210817_140827_00000_arvdv");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("at line 1, column 15"), "{err}");
    }
}

#[tokio::test]
async fn retries_transient_failures_on_pages() {
    let server = ReplayServer::start().await.unwrap();
    let running = sample("rust-client__models__query_result_running.json");
    server.add_query(
        "SELECT 1",
        Script::new()
            .page(sample("rust-client__models__query_result_queued.json"))
            .faults(vec![Fault::Status(503)])
            .page(running.clone())
            .faults(vec![
                Fault::Status(502),
                Fault::Status(503),
                Fault::Status(504),
                Fault::EmptyBody,
                Fault::Reset,
            ])
            .page(finished(running))
            .faults(vec![Fault::TooManyRequests {
                retry_after_secs: 0.2,
            }]),
    );
    let started = std::time::Instant::now();
    let result = client(&server).fetch_all("SELECT 1").await.unwrap();
    assert_eq!(result.rows.len(), 1);
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "Retry-After was not honoured"
    );
    let reqs = server.requests();
    assert_eq!(
        reqs.iter().filter(|r| r.method == "POST").count(),
        2,
        "503 on POST is safe to retry"
    );
    assert_eq!(reqs.iter().filter(|r| r.path.ends_with("/1")).count(), 6);
    assert_eq!(reqs.iter().filter(|r| r.path.ends_with("/2")).count(), 2);
}

#[tokio::test]
async fn never_resends_a_post_that_may_have_been_accepted() {
    for fault in [Fault::Status(502), Fault::Status(504), Fault::Reset] {
        let server = ReplayServer::start().await.unwrap();
        server.add_query(
            "INSERT INTO t VALUES 1",
            Script::new()
                .page(sample(
                    "rust-client__models__query_result_finished_prepare.json",
                ))
                .faults(vec![fault.clone()]),
        );
        let err = client(&server)
            .fetch_all("INSERT INTO t VALUES 1")
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Http { .. } | Error::Transport { .. }),
            "{fault:?}: {err:?}"
        );
        assert_eq!(
            server
                .requests()
                .iter()
                .filter(|r| r.method == "POST")
                .count(),
            1,
            "{fault:?}"
        );
    }
    // A server that stays unavailable exhausts the retries with a clear HTTP error.
    let server = ReplayServer::start().await.unwrap();
    server.add_query(
        "SELECT 2",
        Script::new()
            .page(sample("TestQueryResults__GOLDEN_VALUE.json"))
            .faults(vec![Fault::Status(503); 10]),
    );
    let err = client(&server).fetch_all("SELECT 2").await.unwrap_err();
    assert!(matches!(err, Error::Http { status: 503, .. }), "{err:?}");
    assert_eq!(server.requests().len(), 6);
}

#[tokio::test]
async fn malformed_or_truncated_pages_are_protocol_errors() {
    let server = ReplayServer::start().await.unwrap();
    let running = sample("rust-client__models__query_result_running.json").to_string();
    let truncated = Bytes::from(running[..running.len() / 2].to_string());
    server.add_query(
        "SELECT trunc",
        Script::new()
            .page(sample("rust-client__models__query_result_queued.json"))
            .raw_page(truncated),
    );
    server.add_query(
        "SELECT garbage",
        Script::new().raw_page(Bytes::from_static(b"<html>proxy error</html>")),
    );
    let mut wrong_type = sample("rust-client__types__integer.json");
    wrong_type["id"] = json!("q1");
    wrong_type["data"] = json!([[1, 2, 3, "x", 5, 6, 7, 8]]);
    server.add_query("SELECT wrong", Script::new().page(wrong_type));
    let c = client(&server);
    for sql in ["SELECT trunc", "SELECT garbage", "SELECT wrong"] {
        let err = c.fetch_all(sql).await.unwrap_err();
        match &err {
            Error::Protocol { position, .. } if sql != "SELECT wrong" => {
                assert!(position.is_some(), "{sql}: {err}")
            }
            // Well-formed JSON whose value does not fit the column type is a decode error.
            Error::Decode {
                position, context, ..
            } if sql == "SELECT wrong" => {
                assert!(position.is_some(), "{sql}: {err}");
                assert!(context.contains("q1"), "{sql}: {err}");
            }
            other => panic!("{sql}: unexpected {other:?}"),
        }
    }
    let err = c.fetch_all("SELECT wrong").await.unwrap_err().to_string();
    assert!(err.contains("\"x\"") && err.contains("bigint"), "{err}");
}

#[tokio::test]
async fn response_headers_update_the_session() {
    let server = ReplayServer::start().await.unwrap();
    let done = sample("rust-client__models__query_result_finished_prepare.json");
    server.add_query(
        "USE hive.web",
        Script::new().page(done.clone()).headers(&[
            ("X-Trino-Set-Catalog", "hive"),
            ("X-Trino-Set-Schema", "web"),
        ]),
    );
    server.add_query(
        "SET SESSION query_max_run_time = '2h'",
        Script::new()
            .page(sample("rust-client__models__query_result_queued.json"))
            .page(done.clone())
            .headers(&[
                ("X-Trino-Set-Session", "query_max_run_time=2h"),
                ("X-Trino-Set-Session", "x=a+b%2Cc"),
            ]),
    );
    server.add_query(
        "PREPARE q FROM SELECT 1",
        Script::new()
            .page(done.clone())
            .headers(&[("X-Trino-Added-Prepare", "q=SELECT+1")]),
    );
    server.add_query(
        "START TRANSACTION",
        Script::new()
            .page(done.clone())
            .headers(&[("X-Trino-Started-Transaction-Id", "tx9")]),
    );
    server.add_query(
        "SET ROLE admin IN hive",
        Script::new()
            .page(done.clone())
            .headers(&[("X-Trino-Set-Role", "hive=ROLE%7Badmin%7D")]),
    );
    server.add_query(
        "SET SESSION AUTHORIZATION bob",
        Script::new()
            .page(done.clone())
            .headers(&[("X-Trino-Set-Authorization-User", "bob")]),
    );
    server.add_query(
        "SELECT 1",
        Script::new().page(sample("TestQueryResults__GOLDEN_VALUE.json")),
    );
    server.add_query(
        "COMMIT",
        Script::new().page(done.clone()).headers(&[
            ("X-Trino-Clear-Transaction-Id", "true"),
            ("X-Trino-Deallocated-Prepare", "q"),
            ("X-Trino-Clear-Session", "x"),
            ("X-Trino-Reset-Authorization-User", "true"),
        ]),
    );
    let c = client(&server);
    for sql in [
        "USE hive.web",
        "SET SESSION query_max_run_time = '2h'",
        "PREPARE q FROM SELECT 1",
        "START TRANSACTION",
        "SET ROLE admin IN hive",
        "SET SESSION AUTHORIZATION bob",
        "SELECT 1",
        "COMMIT",
        "SELECT 1",
    ] {
        let r = c.fetch_all(sql).await.unwrap();
        if sql.starts_with("PREPARE") {
            assert_eq!(r.status.update_type.as_deref(), Some("PREPARE"));
        }
    }
    let posts: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    let during = &posts[6];
    assert_eq!(during.header("x-trino-catalog"), Some("hive"));
    assert_eq!(during.header("x-trino-schema"), Some("web"));
    assert_eq!(
        during.header("x-trino-session"),
        Some("query_max_run_time=2h,x=a+b%2Cc")
    );
    assert_eq!(
        during.header("x-trino-prepared-statement"),
        Some("q=SELECT+1")
    );
    assert_eq!(during.header("x-trino-transaction-id"), Some("tx9"));
    assert_eq!(during.header("x-trino-role"), Some("hive=ROLE%7Badmin%7D"));
    assert_eq!(during.header("x-trino-user"), Some("bob"));
    assert_eq!(during.header("x-trino-original-user"), Some("alice"));
    let after = &posts[8];
    assert_eq!(
        after.header("x-trino-session"),
        Some("query_max_run_time=2h")
    );
    assert_eq!(after.header("x-trino-prepared-statement"), None);
    assert_eq!(after.header("x-trino-transaction-id"), Some("NONE"));
    assert_eq!(after.header("x-trino-user"), Some("alice"));
    assert_eq!(c.session().catalog.as_deref(), Some("hive"));
}

#[tokio::test]
async fn every_type_sample_decodes() {
    let server = ReplayServer::start().await.unwrap();
    let names = [
        "boolean",
        "char",
        "decimal",
        "float",
        "integer",
        "ip_address",
        "json",
        "option",
        "row",
        "seq",
        "uuid",
    ];
    for name in names {
        let mut body = sample(&format!("rust-client__types__{name}.json"));
        body["id"] = json!(format!("types_{name}"));
        server.add_query(&format!("SELECT {name}"), Script::new().page(body));
    }
    let c = client(&server);
    for name in names {
        let r = c.fetch_all(&format!("SELECT {name}")).await.unwrap();
        assert!(!r.rows.is_empty(), "{name}");
    }
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct P {
        x: i32,
        y: i32,
    }
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct R {
        a: P,
        b: i32,
    }
    let rows: Vec<R> = c.query_as("SELECT row").await.unwrap();
    assert_eq!(
        rows,
        vec![R {
            a: P { x: 1, y: 1 },
            b: 5
        }]
    );
    let ips: Vec<(std::net::IpAddr, std::net::IpAddr)> =
        c.query_as("SELECT ip_address").await.unwrap();
    assert_eq!(ips[0].1, "2001:db8::1".parse::<std::net::IpAddr>().unwrap());
    let opts: Vec<(String, Option<String>)> = c.query_as("SELECT option").await.unwrap();
    assert_eq!(opts[2], ("c".to_string(), None));
}

fn spooled_script(
    server: &ReplayServer,
    encoding: &str,
    segments: u64,
    rows_per: u64,
    inline_first: bool,
) -> Script {
    let chunks: Vec<Bytes> = (0..segments)
        .map(|s| Bytes::from(mixed_rows_json(s * rows_per, rows_per)))
        .collect();
    let counts = vec![rows_per; segments as usize];
    let half = segments as usize / 2;
    let columns = mixed_columns();
    let place = |i: usize| {
        if inline_first && i == 0 {
            SegmentPlacement::Inline
        } else {
            SegmentPlacement::Spooled
        }
    };
    let first = server.spooled_data(encoding, &chunks[..half], &counts[..half], place);
    let second = server.spooled_data(encoding, &chunks[half..], &counts[half..], |_| {
        SegmentPlacement::Spooled
    });
    // Offsets of the second page continue after the first.
    Script::new()
        .raw_page(page_body("spool", &columns, None, "QUEUED", 0))
        .raw_page(page_body(
            "spool",
            &columns,
            Some(first.to_string().as_bytes()),
            "RUNNING",
            0,
        ))
        .raw_page(page_body(
            "spool",
            &columns,
            Some(second.to_string().as_bytes()),
            "FINISHED",
            segments * rows_per,
        ))
}

#[tokio::test]
async fn spooled_segments_in_every_encoding_arrive_in_order_and_are_acked() {
    for encoding in ["json", "json+zstd", "json+lz4"] {
        let server = ReplayServer::start().await.unwrap();
        server.add_query(
            "SELECT spooled",
            spooled_script(&server, encoding, 8, 500, true),
        );
        let c = Client::builder(server.url())
            .user("alice")
            .basic_auth("alice", Secret::new("pw"))
            .allow_insecure_auth(true)
            .spool_concurrency(3)
            .build()
            .unwrap();
        let mut stream = c.execute("SELECT spooled").await.unwrap();
        let mut n = 0u64;
        while let Some(row) = stream.next().await {
            let row = row.unwrap();
            assert_eq!(
                row.get(0),
                Some(&Value::BigInt(n as i64)),
                "{encoding}: rows out of order"
            );
            n += 1;
        }
        assert_eq!(n, 4000, "{encoding}");
        assert_eq!(stream.status().spooling_encoding.as_deref(), Some(encoding));
        // Acks run after each segment's rows are handed over (off the critical path): give the last a moment.
        let mut acked = vec![];
        for _ in 0..200 {
            acked = server.acked_segments();
            if acked.len() >= 7 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        acked.sort();
        assert_eq!(
            acked,
            (0..7).collect::<Vec<_>>(),
            "{encoding}: every spooled segment acked once"
        );
        for r in server
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/v1/spooled/"))
        {
            let idx = r
                .path
                .trim_start_matches("/v1/spooled/")
                .split('/')
                .next()
                .unwrap();
            assert_eq!(
                r.header("x-replay-segment"),
                Some(idx),
                "segment's own header"
            );
            assert_eq!(
                r.header("authorization"),
                None,
                "no Trino credentials on segment fetches"
            );
            assert_eq!(r.header("x-trino-user"), None);
        }
        let statement = server
            .requests()
            .into_iter()
            .find(|r| r.path.starts_with("/v1/statement/"))
            .unwrap();
        assert!(
            statement
                .header("authorization")
                .unwrap()
                .starts_with("Basic ")
        );
    }
}

#[tokio::test]
async fn spooled_segment_size_mismatch_and_retry() {
    let server = ReplayServer::start().await.unwrap();
    let json = Bytes::from(mixed_rows_json(0, 10));
    let (_, uri, ack) = server.add_segment(json.clone(), vec![Fault::Status(503), Fault::Reset]);
    let data = json!({"encoding": "json", "segments": [
        {"type": "spooled", "uri": uri, "ackUri": ack, "metadata": {"rowOffset": 0, "rowsCount": 10, "segmentSize": json.len()}}]});
    server.add_query(
        "SELECT ok",
        Script::new().raw_page(page_body(
            "s1",
            &mixed_columns(),
            Some(data.to_string().as_bytes()),
            "FINISHED",
            10,
        )),
    );
    let (_, uri, ack) = server.add_segment(json.clone(), vec![]);
    let data = json!({"encoding": "json", "segments": [
        {"type": "spooled", "uri": uri, "ackUri": ack, "metadata": {"rowOffset": "0", "rowsCount": "10", "segmentSize": (json.len() + 1).to_string()}}]});
    server.add_query(
        "SELECT bad",
        Script::new().raw_page(page_body(
            "s2",
            &mixed_columns(),
            Some(data.to_string().as_bytes()),
            "FINISHED",
            10,
        )),
    );
    let c = client(&server);
    assert_eq!(c.fetch_all("SELECT ok").await.unwrap().rows.len(), 10);
    let err = c.fetch_all("SELECT bad").await.unwrap_err();
    assert!(err.to_string().contains("metadata says"), "{err}");
}

#[tokio::test]
async fn direct_protocol_when_spooling_is_off() {
    let server = ReplayServer::start().await.unwrap();
    server.add_query(
        "SELECT 1",
        Script::new().page(sample("TestQueryResults__GOLDEN_VALUE.json")),
    );
    let c = Client::builder(server.url())
        .user("u")
        .spooling_encodings(None)
        .build()
        .unwrap();
    let r = c.fetch_all("SELECT 1").await.unwrap();
    // The golden value declares bigint with a varchar signature; the signature wins and the string stays.
    assert_eq!(r.rows[0].get(0), Some(&Value::Varchar("123".into())));
    assert_eq!(
        server.requests()[0].header("x-trino-query-data-encoding"),
        None
    );
}

fn long_query(server: &ReplayServer, sql: &str, pages: usize) {
    let running = sample("rust-client__models__query_result_running.json");
    let mut script = Script::new().page(sample("rust-client__models__query_result_queued.json"));
    for _ in 0..pages {
        script = script.page(running.clone());
    }
    server.add_query(sql, script.page(finished(running)));
}

async fn wait_for(
    server: &ReplayServer,
    what: &str,
    f: impl Fn(&trino_client::replay::RecordedRequest) -> bool,
) {
    for _ in 0..200 {
        if server.requests().iter().any(&f) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the server never saw {what}: {:#?}",
        server
            .requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect::<Vec<_>>()
    );
}

/// Waits until the query was cancelled (`DELETE nextUri`), then checks that fewer than `max_gets` GETs of paths
/// starting with `gets_under` were made: the client stopped polling.
async fn assert_cancelled(server: &ReplayServer, what: &str, gets_under: &str, max_gets: usize) {
    wait_for(server, what, |r| {
        r.method == "DELETE" && r.path.starts_with("/v1/statement/")
    })
    .await;
    let gets = server
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with(gets_under))
        .count();
    assert!(
        gets < max_gets,
        "{what}: the client kept polling: {gets} GETs"
    );
}

#[tokio::test]
async fn dropping_the_stream_cancels_the_query() {
    let server = ReplayServer::start().await.unwrap();
    long_query(&server, "SELECT big", 50);
    let c = Client::builder(server.url())
        .user("u")
        .buffered_pages(1)
        .build()
        .unwrap();
    let mut stream = c.execute("SELECT big").await.unwrap();
    stream.next().await.unwrap().unwrap();
    drop(stream);
    assert_cancelled(&server, "DELETE nextUri after the drop", "/", 10).await;
}

#[tokio::test]
async fn explicit_cancel_and_query_timeout() {
    let server = ReplayServer::start().await.unwrap();
    long_query(&server, "SELECT big", 50);
    let c = client(&server);
    let mut stream = c.execute("SELECT big").await.unwrap();
    stream.cancel();
    let mut last = None;
    while let Some(r) = stream.next().await {
        if let Err(e) = r {
            last = Some(e);
        }
    }
    assert!(matches!(last, Some(Error::Cancelled)), "{last:?}");
    wait_for(&server, "DELETE", |r| r.method == "DELETE").await;

    let server = ReplayServer::start().await.unwrap();
    let running = sample("rust-client__models__query_result_running.json");
    server.add_query(
        "SELECT slow",
        Script::new()
            .page(sample("rust-client__models__query_result_queued.json"))
            .page(running)
            .faults(vec![Fault::TooManyRequests {
                retry_after_secs: 5.0,
            }]),
    );
    let c = Client::builder(server.url())
        .user("u")
        .query_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let err = c.fetch_all("SELECT slow").await.unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    wait_for(&server, "DELETE after timeout", |r| r.method == "DELETE").await;
}

#[tokio::test]
async fn slow_consumers_get_heartbeats_and_bounded_buffering() {
    let server = ReplayServer::start().await.unwrap();
    long_query(&server, "SELECT big", 20);
    let c = Client::builder(server.url())
        .user("u")
        .buffered_pages(1)
        .heartbeat_interval(Duration::from_millis(40))
        .build()
        .unwrap();
    let mut stream = c.execute("SELECT big").await.unwrap();
    stream.next().await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reqs = server.requests();
    let gets = reqs.iter().filter(|r| r.method == "GET").count();
    assert!(
        gets <= 4,
        "the client read ahead without bound: {gets} pages fetched"
    );
    assert!(
        reqs.iter().any(|r| r.method == "HEAD"),
        "no heartbeat while the consumer was slow"
    );
    let mut n = 1;
    while let Some(r) = stream.next().await {
        r.unwrap();
        n += 1;
    }
    assert_eq!(n, 20);
}

#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<String>>);

impl trino_client::RedirectHandler for Recorder {
    fn redirect(&self, url: &str) {
        self.0.lock().unwrap().push(url.to_string());
    }
}

#[tokio::test]
async fn oauth2_external_authentication() {
    let server = ReplayServer::start().await.unwrap();
    server.require_oauth2("tok-123");
    server.add_query(
        "SELECT 1",
        Script::new().page(sample("TestQueryResults__GOLDEN_VALUE.json")),
    );
    let handler = Arc::new(Recorder::default());
    let c = Client::builder(server.url())
        .user("u")
        .oauth2(handler.clone())
        .allow_insecure_auth(true)
        .build()
        .unwrap();
    assert_eq!(c.fetch_all("SELECT 1").await.unwrap().rows.len(), 1);
    let redirects = handler.0.lock().unwrap().clone();
    assert_eq!(redirects.len(), 1);
    assert!(redirects[0].contains("/oauth2/initiate/"), "{redirects:?}");
    let posts: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[1].header("authorization"), Some("Bearer tok-123"));
    assert_eq!(
        server
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/oauth2/token/"))
            .count(),
        2
    );
    // Without a handler the challenge is a clear authentication error.
    let plain = client(&server);
    assert!(matches!(
        plain.fetch_all("SELECT 1").await.unwrap_err(),
        Error::Unauthorized { status: 401, .. }
    ));
}

#[tokio::test]
async fn info_and_node_state() {
    let server = ReplayServer::start().await.unwrap();
    let c = client(&server);
    let info = c.info().await.unwrap();
    assert_eq!(info.node_version.version, "480");
    assert!(!info.starting);
    assert_eq!(
        c.state().await.unwrap(),
        trino_client::protocol::NodeState::Active
    );
    c.set_state(trino_client::protocol::NodeState::ShuttingDown)
        .await
        .unwrap();
    assert_eq!(server.node_state(), "SHUTTING_DOWN");
    assert_eq!(
        c.state().await.unwrap(),
        trino_client::protocol::NodeState::ShuttingDown
    );
    let put = server
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT")
        .unwrap();
    assert_eq!(put.body, "\"SHUTTING_DOWN\"");
    assert_eq!(put.header("x-trino-user"), Some("alice"));
    assert_eq!(put.header("content-type"), Some("application/json"));
    c.cancel_query("20200602_030730_01456_2587f").await.unwrap();
}

#[tokio::test]
async fn spooled_downloads_run_concurrently_within_the_configured_bound() {
    let server = ReplayServer::start().await.unwrap();
    let chunks: Vec<Bytes> = (0..12)
        .map(|s| Bytes::from(mixed_rows_json(s * 500, 500)))
        .collect();
    let data = server.spooled_data("json+zstd", &chunks, &[500; 12], |_| {
        SegmentPlacement::Spooled
    });
    server.add_query(
        "SELECT wide",
        Script::new().raw_page(page_body(
            "wide",
            &mixed_columns(),
            Some(data.to_string().as_bytes()),
            "FINISHED",
            6000,
        )),
    );
    server.set_latency(Duration::from_millis(100));
    let c = Client::builder(server.url())
        .user("u")
        .spool_concurrency(3)
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let result = c.fetch_all("SELECT wide").await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(result.rows.len(), 6000);
    assert!(
        result
            .rows
            .iter()
            .enumerate()
            .all(|(i, r)| r.get(0) == Some(&Value::BigInt(i as i64)))
    );
    assert_eq!(
        server.max_concurrent_segment_fetches(),
        3,
        "downloads must overlap, up to the bound"
    );
    // 12 segments x (download + ack) x 100 ms one at a time would take 2.4 s.
    assert!(elapsed < Duration::from_millis(1600), "{elapsed:?}");
}

#[tokio::test]
async fn jwt_goes_to_the_coordinator_on_every_request() {
    let server = ReplayServer::start().await.unwrap();
    long_query(&server, "SELECT big", 3);
    let c = Client::builder(server.url())
        .user("svc")
        .jwt(Secret::new("eyJhbGciOi.fake.jwt"))
        .allow_insecure_auth(true)
        .client_tag("etl")
        .client_capabilities(vec!["PARAMETRIC_DATETIME".into()])
        .time_zone("UTC")
        .build()
        .unwrap();
    assert_eq!(c.fetch_all("SELECT big").await.unwrap().rows.len(), 3);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 5);
    for r in &reqs {
        assert_eq!(
            r.header("authorization"),
            Some("Bearer eyJhbGciOi.fake.jwt"),
            "{} {}",
            r.method,
            r.path
        );
        assert_eq!(r.header("x-trino-user"), Some("svc"));
    }
    assert_eq!(reqs[0].header("x-trino-client-tags"), Some("etl"));
    assert_eq!(
        reqs[0].header("x-trino-client-capabilities"),
        Some("PARAMETRIC_DATETIME")
    );
    assert_eq!(reqs[0].header("x-trino-time-zone"), Some("UTC"));
}

/// A spooled page whose segments each download in less than a heartbeat interval but together take many
/// intervals: the heartbeat cadence must hold across the separate waits for download slots.
#[tokio::test]
async fn heartbeats_keep_their_cadence_across_many_short_waits() {
    let server = ReplayServer::start().await.unwrap();
    let segments = 16u64;
    let rows_per = 50u64;
    let chunks: Vec<Bytes> = (0..segments)
        .map(|s| Bytes::from(mixed_rows_json(s * rows_per, rows_per)))
        .collect();
    let data = server.spooled_data("json", &chunks, &vec![rows_per; segments as usize], |_| {
        SegmentPlacement::Spooled
    });
    let columns = mixed_columns();
    server.add_query(
        "SELECT slow_segments",
        Script::new()
            .raw_page(page_body("hb", &columns, None, "QUEUED", 0))
            .raw_page(page_body(
                "hb",
                &columns,
                Some(data.to_string().as_bytes()),
                "RUNNING",
                0,
            ))
            .raw_page(page_body(
                "hb",
                &columns,
                None,
                "FINISHED",
                segments * rows_per,
            )),
    );
    // Each segment takes 30 ms, half the heartbeat interval; one download at a time makes ~0.5 s in all.
    server.set_segment_latency(Duration::from_millis(30));
    let interval = Duration::from_millis(60);
    let c = Client::builder(server.url())
        .user("u")
        .spool_concurrency(1)
        .heartbeat_interval(interval)
        .build()
        .unwrap();
    let result = c.fetch_all("SELECT slow_segments").await.unwrap();
    assert_eq!(result.rows.len() as u64, segments * rows_per);
    let reqs = server.requests();
    let heads: Vec<_> = reqs.iter().filter(|r| r.method == "HEAD").collect();
    assert!(
        heads.len() >= 3,
        "expected a HEAD about every {interval:?} during ~0.5 s of downloads, got {}",
        heads.len()
    );
    for h in &heads {
        assert_eq!(
            h.path, "/v1/statement/q1/2",
            "HEAD goes to the current nextUri"
        );
    }
    // The coordinator never goes long without hearing from the client (POST, GET nextUri or HEAD).
    let contacts: Vec<Duration> = reqs
        .iter()
        .filter(|r| r.path.starts_with("/v1/statement"))
        .map(|r| r.at)
        .collect();
    let max_gap = contacts
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]))
        .max()
        .unwrap();
    assert!(
        max_gap <= interval * 3,
        "{max_gap:?} without coordinator contact (heartbeat interval {interval:?})"
    );
}

/// A page whose rows do not decode, followed by many pages served slowly (the query is still running).
fn query_with_bad_rows(server: &ReplayServer, sql: &str, more_pages: usize) {
    let mut bad = sample("rust-client__types__integer.json");
    bad["id"] = json!("bad_rows");
    bad["data"] = json!([
        [1, 2, 3, 4, 5, 6, 7, 8],
        [1, 2, 3000000000i64, 4, 5, 6, 7, 8]
    ]);
    let mut script = Script::new()
        .page(sample("rust-client__models__query_result_queued.json"))
        .page(bad);
    for _ in 0..more_pages {
        script = script.page(sample("rust-client__models__query_result_queued.json"));
    }
    server.add_query(
        sql,
        script.page(finished(sample(
            "rust-client__models__query_result_queued.json",
        ))),
    );
}

#[tokio::test]
async fn an_errored_stream_cancels_the_query() {
    // Direct protocol: the decode error arrives through a page decoded off the driver task.
    let server = ReplayServer::start().await.unwrap();
    query_with_bad_rows(&server, "SELECT bad_rows", 60);
    server.set_latency(Duration::from_millis(20));
    let c = Client::builder(server.url()).user("u").build().unwrap();
    let mut stream = c.execute("SELECT bad_rows").await.unwrap();
    let err = loop {
        match stream.next().await {
            Some(Ok(_)) => {}
            Some(Err(e)) => break e,
            None => panic!("the stream ended without the decode error"),
        }
    };
    match &err {
        Error::Decode {
            trino_type,
            value,
            context,
            position,
            ..
        } => {
            assert_eq!(trino_type, "integer");
            assert_eq!(value, "3000000000");
            assert!(context.contains("bad_rows"), "{context}");
            assert!(position.is_some(), "{err}");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert!(stream.next().await.is_none(), "nothing after the error");
    // The stream is still alive: the error alone must cancel the query.
    assert_cancelled(&server, "DELETE nextUri after the error", "/", 40).await;
    drop(stream);

    // Spooling protocol: the error arrives through a segment's batches.
    let server = ReplayServer::start().await.unwrap();
    let json_rows = Bytes::from(mixed_rows_json(0, 10));
    let (_, uri, ack) = server.add_segment(json_rows.clone(), vec![]);
    let data = json!({"encoding": "json", "segments": [
        {"type": "spooled", "uri": uri, "ackUri": ack,
         "metadata": {"rowOffset": 0, "rowsCount": 10, "segmentSize": json_rows.len() + 5}}]});
    let columns = mixed_columns();
    let mut script = Script::new()
        .raw_page(page_body("bad_segment", &columns, None, "QUEUED", 0))
        .raw_page(page_body(
            "bad_segment",
            &columns,
            Some(data.to_string().as_bytes()),
            "RUNNING",
            0,
        ));
    for _ in 0..60 {
        script = script.raw_page(page_body("bad_segment", &columns, None, "RUNNING", 0));
    }
    server.add_query(
        "SELECT bad_segment",
        script.raw_page(page_body("bad_segment", &columns, None, "FINISHED", 10)),
    );
    server.set_latency(Duration::from_millis(20));
    let c = Client::builder(server.url()).user("u").build().unwrap();
    let mut stream = c.execute("SELECT bad_segment").await.unwrap();
    let err = stream.next().await.unwrap().unwrap_err();
    assert!(err.to_string().contains("metadata says"), "{err}");
    assert_cancelled(
        &server,
        "DELETE nextUri after the segment error",
        "/v1/statement/",
        40,
    )
    .await;
}

#[tokio::test]
async fn absurd_uncompressed_sizes_are_protocol_errors() {
    let server = ReplayServer::start().await.unwrap();
    let json_rows = mixed_rows_json(0, 10);
    let columns = mixed_columns();
    // Inline json+zstd claiming u64::MAX bytes once decompressed (sent as a string, as Trino may), in a frame
    // without a content size so that the decompressor has only the metadata to go by.
    let mut compressor = zstd::bulk::Compressor::new(3).unwrap();
    compressor.include_contentsize(false).unwrap();
    let zstd = compressor.compress(&json_rows).unwrap();
    use base64::Engine as _;
    let inline = json!({"encoding": "json+zstd", "segments": [
        {"type": "inline", "data": base64::engine::general_purpose::STANDARD.encode(&zstd),
         "metadata": {"rowOffset": 0, "rowsCount": 10, "segmentSize": zstd.len(),
                      "uncompressedSize": u64::MAX.to_string()}}]});
    server.add_query(
        "SELECT huge_inline",
        Script::new().raw_page(page_body(
            "huge1",
            &columns,
            Some(inline.to_string().as_bytes()),
            "FINISHED",
            10,
        )),
    );
    // Spooled json+lz4 claiming 2 GiB.
    let (lz4, _) = trino_client::replay::encode_segment("json+lz4", &json_rows);
    let (_, uri, ack) = server.add_segment(lz4.clone(), vec![]);
    let spooled = json!({"encoding": "json+lz4", "segments": [
        {"type": "spooled", "uri": uri, "ackUri": ack,
         "metadata": {"rowOffset": 0, "rowsCount": 10, "segmentSize": lz4.len(),
                      "uncompressedSize": 2u64 << 30}}]});
    server.add_query(
        "SELECT huge_spooled",
        Script::new().raw_page(page_body(
            "huge2",
            &columns,
            Some(spooled.to_string().as_bytes()),
            "FINISHED",
            10,
        )),
    );
    let c = client(&server);
    for sql in ["SELECT huge_inline", "SELECT huge_spooled"] {
        let err = c.fetch_all(sql).await.unwrap_err();
        assert!(
            matches!(&err, Error::Protocol { message, .. } if message.contains("uncompressedSize")),
            "{sql}: {err:?}"
        );
    }
    // A truthful size still decodes.
    let (_, uri, ack) = server.add_segment(lz4.clone(), vec![]);
    let fine = json!({"encoding": "json+lz4", "segments": [
        {"type": "spooled", "uri": uri, "ackUri": ack,
         "metadata": {"rowOffset": 0, "rowsCount": 10, "segmentSize": lz4.len(),
                      "uncompressedSize": json_rows.len()}}]});
    server.add_query(
        "SELECT fine",
        Script::new().raw_page(page_body(
            "fine",
            &columns,
            Some(fine.to_string().as_bytes()),
            "FINISHED",
            10,
        )),
    );
    assert_eq!(c.fetch_all("SELECT fine").await.unwrap().rows.len(), 10);
}

#[tokio::test]
async fn a_429_on_the_post_is_retried_after_retry_after() {
    let server = ReplayServer::start().await.unwrap();
    server.add_query(
        "SELECT 1",
        Script::new()
            .page(sample("TestQueryResults__GOLDEN_VALUE.json"))
            .faults(vec![Fault::TooManyRequests {
                retry_after_secs: 0.3,
            }]),
    );
    let result = client(&server).fetch_all("SELECT 1").await.unwrap();
    assert_eq!(result.rows.len(), 1);
    let posts: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 2, "a 429 means the statement was not accepted");
    assert_eq!(posts[1].body, "SELECT 1");
    let waited = posts[1].at - posts[0].at;
    // The policy's own backoff is at most 50 ms: only Retry-After explains a 300 ms wait.
    assert!(
        waited >= Duration::from_millis(290),
        "resent after {waited:?}, before Retry-After"
    );
}

#[tokio::test]
async fn warnings_update_count_and_info_uri_are_exposed() {
    let server = ReplayServer::start().await.unwrap();
    let mut done = sample("rust-client__models__query_result_finished_prepare.json");
    done["updateType"] = json!("INSERT");
    done["updateCount"] = json!(42);
    done["warnings"] = json!([
        {"warningCode": {"code": 7, "name": "DEPRECATED_FUNCTION"}, "message": "f is deprecated"},
        {"message": "no code"}
    ]);
    let mut queued = sample("rust-client__models__query_result_queued.json");
    queued["id"] = done["id"].clone();
    queued["infoUri"] = done["infoUri"].clone();
    server.add_query(
        "INSERT INTO t SELECT 1",
        Script::new().page(queued).page(done),
    );
    let c = client(&server);
    let stream = c.execute("INSERT INTO t SELECT 1").await.unwrap();
    assert_eq!(
        stream.status().info_uri.as_deref(),
        Some("http://localhost:18080/ui/query.html?20250921_003348_00009_chu96"),
        "known from the first response"
    );
    let result = stream.collect_all().await.unwrap();
    let s = &result.status;
    assert_eq!(s.id, "20250921_003348_00009_chu96");
    assert_eq!(
        s.info_uri.as_deref(),
        Some("http://localhost:18080/ui/query.html?20250921_003348_00009_chu96")
    );
    assert_eq!(s.update_type.as_deref(), Some("INSERT"));
    assert_eq!(s.update_count, Some(42));
    assert_eq!(s.warnings.len(), 2);
    assert_eq!(s.warnings[0].message, "f is deprecated");
    let code = s.warnings[0].warning_code.as_ref().unwrap();
    assert_eq!((code.code, code.name.as_str()), (7, "DEPRECATED_FUNCTION"));
    assert!(s.warnings[1].warning_code.is_none());
    assert_eq!(s.stats.state, "FINISHED");
    assert!(result.rows.is_empty() && result.columns().is_empty());
}

#[tokio::test]
async fn session_request_headers_go_on_the_wire() {
    let server = ReplayServer::start().await.unwrap();
    long_query(&server, "SELECT big", 1);
    let c = Client::builder(server.url())
        .user("alice")
        .path("hive.web,system.builtin")
        .trace_token("trace-7f3a")
        .client_info("nightly etl")
        .extra_credential("aws_token", Secret::new("a=b&c"))
        .extra_credential("other", Secret::new("x"))
        .build()
        .unwrap();
    c.update_session(|s| {
        s.resource_estimates
            .insert("EXECUTION_TIME".into(), "1h".into());
        s.resource_estimates
            .insert("PEAK_MEMORY".into(), "2GB".into());
    });
    c.fetch_all("SELECT big").await.unwrap();
    let reqs = server.requests();
    let post = &reqs[0];
    assert_eq!(post.method, "POST");
    assert_eq!(post.header("x-trino-path"), Some("hive.web,system.builtin"));
    assert_eq!(post.header("x-trino-trace-token"), Some("trace-7f3a"));
    assert_eq!(post.header("x-trino-client-info"), Some("nightly etl"));
    assert_eq!(
        post.header("x-trino-extra-credential"),
        Some("aws_token=a%3Db%26c,other=x")
    );
    assert_eq!(
        post.header("x-trino-resource-estimate"),
        Some("EXECUTION_TIME=1h,PEAK_MEMORY=2GB")
    );
    // Follow-up requests to the coordinator carry the user, never the session's extra credentials.
    for r in &reqs[1..] {
        assert_eq!(
            r.header("x-trino-user"),
            Some("alice"),
            "{} {}",
            r.method,
            r.path
        );
        assert_eq!(
            r.header("x-trino-extra-credential"),
            None,
            "{} {}",
            r.method,
            r.path
        );
    }
}
