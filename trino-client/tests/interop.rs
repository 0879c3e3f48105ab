//! Interop: the official python client (`trino` package) and ours against the same replay coordinator,
//! for a shared set of queries (multi-page, queued/planning, every type sample, failures, spooled segments
//! inline and via URI in json, json+zstd and json+lz4). Both must see the same columns, rows and errors.

use std::path::PathBuf;
use std::process::Command;

use bytes::Bytes;
use serde_json::{Value as J, json};
use trino_client::replay::{
    ReplayServer, Script, SegmentPlacement, mixed_columns, mixed_rows_json, page_body, sample,
};
use trino_client::{Client, Error};

/// The harness python (with `trino` installed): `LAKE_PYTHON` (set by `cargo xtask test`); in CI it must be set.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("LAKE_PYTHON") {
        return PathBuf::from(p);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "LAKE_PYTHON is not set: in CI the interop test needs the harness venv's python (run `cargo xtask test`)"
        );
    }
    let dev = PathBuf::from("/tmp/venvtest/bin/python");
    if dev.exists() {
        return dev;
    }
    panic!(
        "no python with the `trino` package: set LAKE_PYTHON to one (run `cargo xtask test`, which sets it) \
         or create /tmp/venvtest with `python3 -m venv /tmp/venvtest && /tmp/venvtest/bin/pip install trino`"
    );
}

const PY: &str = r#"
import json, sys
import trino
from trino.exceptions import TrinoQueryError

host, port, queries = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
out = []
for q in queries:
    conn = trino.dbapi.connect(host=host, port=port, user="alice", http_scheme="http",
                               legacy_primitive_types=True, encoding=q.get("encoding"))
    cur = conn.cursor()
    try:
        cur.execute(q["sql"])
        rows = cur.fetchall()
        # Raw columns: `cur.description` crashes on 2020-era signatures without a timestamp precision.
        cols = [[c["name"], c["type"]] for c in (cur._query.columns or [])]
        out.append({"sql": q["sql"], "columns": cols, "rows": rows})
    except TrinoQueryError as e:
        loc = e.error_location
        out.append({"sql": q["sql"], "error": {"name": e.error_name, "type": e.error_type,
                    "message": e.message, "location": list(loc) if loc else None}})
print(json.dumps(out))
"#;

fn finished(mut page: J) -> J {
    page["stats"]["state"] = json!("FINISHED");
    page.as_object_mut().unwrap().remove("data");
    page
}

fn spooled(server: &ReplayServer, encoding: &str) -> Script {
    let columns = mixed_columns();
    let chunks: Vec<Bytes> = (0..4)
        .map(|s| Bytes::from(mixed_rows_json(s * 250, 250)))
        .collect();
    let data = server.spooled_data(encoding, &chunks, &[250; 4], |i| {
        if i == 0 {
            SegmentPlacement::Inline
        } else {
            SegmentPlacement::Spooled
        }
    });
    Script::new()
        .raw_page(page_body("spool", &columns, None, "QUEUED", 0))
        .raw_page(page_body(
            "spool",
            &columns,
            Some(data.to_string().as_bytes()),
            "FINISHED",
            1000,
        ))
}

/// JSON equality where numbers compare by value (python prints `-3.0` where Rust prints `-3`).
fn json_eq(a: &J, b: &J) -> bool {
    match (a, b) {
        (J::Number(x), J::Number(y)) => x.as_f64() == y.as_f64(),
        (J::Array(x), J::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_and_ours_see_the_same_results() {
    let server = ReplayServer::start().await.unwrap();
    let running = sample("rust-client__models__query_result_running.json");
    let mut queries: Vec<(String, Option<&str>)> = vec![];
    let mut add = |sql: &str, script: Script, encoding: Option<&'static str>| {
        server.add_query(sql, script);
        queries.push((sql.to_string(), encoding));
    };
    add(
        "SELECT * FROM orders",
        Script::new()
            .page(sample("rust-client__models__query_result_queued.json"))
            .page(sample("rust-client__models__query_result_planning.json"))
            .page(running.clone())
            .page(running.clone())
            .page(finished(running.clone())),
        None,
    );
    add(
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
            .page(finished(sample(
                "python-client__conftest__sample_get_response_data.json",
            ))),
        None,
    );
    add(
        "SELECT abc",
        Script::new().page(sample("rust-client__models__query_result_finished.json")),
        None,
    );
    add(
        "SELECT none",
        Script::new().page(sample("rust-client__models__query_result_empty.json")),
        None,
    );
    for name in [
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
    ] {
        let mut body = sample(&format!("rust-client__types__{name}.json"));
        body["id"] = json!(format!("types_{name}"));
        // The type samples are fragments (columns + data); a real page always has stats, which python needs.
        body["stats"] = json!({"state": "FINISHED"});
        body["infoUri"] = json!(format!("http://replay/ui/query.html?types_{name}"));
        add(&format!("SELECT {name}"), Script::new().page(body), None);
    }
    add(
        "SELECT * FROM nation",
        Script::new()
            .page(sample(
                "python-client__conftest__sample_post_response_data.json",
            ))
            .page(sample(
                "python-client__conftest__sample_get_error_response_data.json",
            )),
        None,
    );
    for enc in ["json", "json+zstd", "json+lz4"] {
        let script = spooled(&server, enc);
        add(&format!("SELECT spooled {enc}"), script, Some(enc));
    }

    // The python client.
    let spec: Vec<J> = queries
        .iter()
        .map(|(sql, enc)| json!({"sql": sql, "encoding": enc}))
        .collect();
    let url = url::Url::parse(&server.url()).unwrap();
    let py = python();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&py)
            .args([
                "-c",
                PY,
                url.host_str().unwrap(),
                &url.port().unwrap().to_string(),
                &J::Array(spec).to_string(),
            ])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", py.display()))
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "python client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs: Vec<J> = serde_json::from_slice(&output.stdout).expect("python printed JSON");
    let python_requests = server.requests();
    server.clear_requests();

    // Ours.
    let mut ours = Vec::new();
    for (sql, enc) in &queries {
        let c = Client::builder(server.url())
            .user("alice")
            .spooling_encodings(enc.map(|e| vec![e.to_string()]))
            .build()
            .unwrap();
        match c.fetch_all(sql).await {
            Ok(r) => ours.push(json!({
                "sql": sql,
                "columns": r.columns().iter().map(|c| json!([c.name, c.type_name])).collect::<Vec<_>>(),
                "rows": r.rows.iter().map(|row| J::Array(row.values().iter().map(|v| v.to_json(false)).collect())).collect::<Vec<_>>(),
            })),
            Err(Error::QueryFailed { error_name, error_type, message, location, .. }) => ours.push(json!({
                "sql": sql,
                "error": {"name": error_name, "type": error_type, "message": message,
                          "location": location.map(|l| vec![l.line_number, l.column_number])},
            })),
            Err(e) => panic!("{sql}: {e}"),
        }
    }

    assert_eq!(ours.len(), theirs.len());
    let mut rows_compared = 0;
    for (o, t) in ours.iter().zip(&theirs) {
        assert!(
            json_eq(o, t),
            "results differ for {}:\n ours:   {o}\n python: {t}",
            o["sql"]
        );
        rows_compared += o["rows"].as_array().map_or(0, Vec::len);
    }
    assert!(rows_compared > 3000, "{rows_compared}");
    // Same conversation with the server: statement submissions, page fetches, segment fetches and acks.
    let shape = |reqs: &[trino_client::replay::RecordedRequest]| {
        let mut v: Vec<String> = reqs
            .iter()
            .map(|r| {
                let kind = if r.path.starts_with("/v1/statement/") {
                    "page"
                } else if r.path.ends_with("/ack") {
                    "ack"
                } else if r.path.starts_with("/v1/spooled/") {
                    "segment"
                } else {
                    "statement"
                };
                format!("{} {kind}", r.method)
            })
            .collect();
        v.sort();
        v
    };
    // Segment acks run off the critical path, so the last one may still be in flight: wait briefly.
    let mut ours_shape = shape(&server.requests());
    for _ in 0..200 {
        if ours_shape == shape(&python_requests) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        ours_shape = shape(&server.requests());
    }
    assert_eq!(ours_shape, shape(&python_requests));
}
