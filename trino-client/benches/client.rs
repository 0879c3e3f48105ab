//! `cargo bench -p trino-client --bench client` (what `cargo xtask bench client` runs).
//!
//! A replay coordinator in a child process (so the measured peak RSS is the client's alone) serves a large
//! mixed-type result on loopback: `BENCH_ROWS` rows (default 1,000,000) in ~1 MB direct-protocol pages, and
//! the same rows as json+zstd spooled segments of 60,000 rows. Prints rows/s and MB/s (of the result's JSON)
//! for our client (direct; spooled in parallel and one at a time), for the official python client (typed and
//! legacy modes, through `LAKE_PYTHON`), the raw `serde_json::Value` parse rate of the same pages, the ratios
//! against the issue's targets, and peak RSS. `BENCH_LATENCY_MS` adds a per-response delay (a remote
//! coordinator and object store) for a second direct-vs-spooled comparison; `BENCH_SKIP_PYTHON=1` skips the
//! python client; `BENCH_REPEAT` (default 3) sets how many runs each of our measurements takes the best of.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use trino_client::Client;
use trino_client::replay::{
    ReplayServer, Script, SegmentPlacement, mixed_columns, mixed_rows_json, page_body,
};

const ROWS_PER_PAGE: u64 = 5_000;
const ROWS_PER_SEGMENT: u64 = 60_000;
const SEGMENTS_PER_PAGE: u64 = 2;

fn total_rows() -> u64 {
    std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// The direct-protocol pages, generated identically in the server and for the raw-parse baseline.
fn direct_page(i: u64, rows: u64) -> Bytes {
    let start = i * ROWS_PER_PAGE;
    let n = ROWS_PER_PAGE.min(rows - start);
    let state = if start + n >= rows {
        "FINISHED"
    } else {
        "RUNNING"
    };
    page_body(
        "bench_direct",
        &mixed_columns(),
        Some(&mixed_rows_json(start, n)),
        state,
        start + n,
    )
}

fn pages(rows: u64) -> u64 {
    rows.div_ceil(ROWS_PER_PAGE)
}

fn serve(rows: u64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = ReplayServer::start().await.unwrap();
        server.record_requests(false);
        let columns = mixed_columns();
        let mut direct = Script::new().raw_page(page_body("bench_direct", &columns, None, "QUEUED", 0));
        let mut direct_bytes = 0u64;
        for i in 0..pages(rows) {
            let page = direct_page(i, rows);
            direct_bytes += page.len() as u64;
            direct = direct.raw_page(page);
        }
        server.add_query("SELECT direct", direct);
        let mut spooled = Script::new().raw_page(page_body("bench_spooled", &columns, None, "QUEUED", 0));
        let (mut json_bytes, mut wire_bytes) = (0u64, 0u64);
        let segments = rows.div_ceil(ROWS_PER_SEGMENT);
        let mut s = 0;
        while s < segments {
            let mut chunks = vec![];
            let mut counts = vec![];
            for k in s..(s + SEGMENTS_PER_PAGE).min(segments) {
                let start = k * ROWS_PER_SEGMENT;
                let n = ROWS_PER_SEGMENT.min(rows - start);
                let json = mixed_rows_json(start, n);
                json_bytes += json.len() as u64;
                chunks.push(Bytes::from(json));
                counts.push(n);
            }
            let data = server.spooled_data("json+zstd", &chunks, &counts, |_| SegmentPlacement::Spooled);
            for seg in data["segments"].as_array().unwrap() {
                wire_bytes += seg["metadata"]["segmentSize"].as_u64().unwrap();
            }
            s += chunks.len() as u64;
            let state = if s >= segments { "FINISHED" } else { "RUNNING" };
            spooled = spooled.raw_page(page_body("bench_spooled", &columns, Some(data.to_string().as_bytes()), state, 0));
        }
        server.add_query("SELECT spooled", spooled);
        println!(
            "{}",
            serde_json::json!({"url": server.url(), "direct_bytes": direct_bytes, "spooled_json_bytes": json_bytes,
                "spooled_wire_bytes": wire_bytes, "pages": pages(rows), "segments": segments})
        );
        std::io::stdout().flush().unwrap();
        // Serve until the parent sends a latency change or closes stdin.
        let mut lines = BufReader::new(std::io::stdin()).lines();
        while let Some(Ok(line)) = tokio::task::block_in_place(|| lines.next()) {
            if let Ok(ms) = line.trim().parse::<u64>() {
                server.set_latency(Duration::from_millis(ms));
                println!("ok");
                std::io::stdout().flush().unwrap();
            }
        }
    });
}

fn python() -> Option<PathBuf> {
    if std::env::var_os("BENCH_SKIP_PYTHON").is_some() {
        return None;
    }
    if let Some(p) = std::env::var_os("LAKE_PYTHON") {
        return Some(PathBuf::from(p));
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "LAKE_PYTHON is not set: the benchmark compares against the harness venv's python client (run `cargo xtask bench client`)"
        );
    }
    let dev = PathBuf::from("/tmp/venvtest/bin/python");
    dev.exists().then_some(dev)
}

const PY: &str = r#"
import json, sys, time
import trino
host, port, legacy, sql = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
t = time.perf_counter()
cur = trino.dbapi.connect(host=host, port=port, user="bench", http_scheme="http", legacy_primitive_types=legacy).cursor()
cur.execute(sql)
n = 0
while True:
    rows = cur.fetchmany(10000)
    if not rows:
        break
    n += len(rows)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
print(json.dumps({"rows": n, "secs": time.perf_counter() - t, "peak_rss_mb": int(hwm) / 1024}))
"#;

/// Resets the peak-RSS counter (`VmHWM`) so each phase reports its own peak (Linux >= 4.0).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

struct Measure {
    name: String,
    rows: u64,
    secs: f64,
    json_bytes: u64,
}

impl Measure {
    fn rows_per_sec(&self) -> f64 {
        self.rows as f64 / self.secs
    }
    fn mb_per_sec(&self) -> f64 {
        self.json_bytes as f64 / 1e6 / self.secs
    }
}

/// Best of `BENCH_REPEAT` runs (default 3): the machine is shared, so the minimum is the least disturbed.
fn repeats() -> usize {
    std::env::var("BENCH_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

async fn ours(
    url: &str,
    sql: &str,
    concurrency: usize,
    expect: u64,
    json_bytes: u64,
    name: &str,
) -> Measure {
    let runs = if name == "warm-up" {
        1
    } else {
        repeats().max(1)
    };
    let mut best: Option<Measure> = None;
    for _ in 0..runs {
        let m = ours_once(url, sql, concurrency, expect, json_bytes, name).await;
        if best.as_ref().is_none_or(|b| m.secs < b.secs) {
            best = Some(m);
        }
    }
    best.expect("at least one run")
}

async fn ours_once(
    url: &str,
    sql: &str,
    concurrency: usize,
    expect: u64,
    json_bytes: u64,
    name: &str,
) -> Measure {
    let client = Client::builder(url)
        .user("bench")
        .spool_concurrency(concurrency)
        .build()
        .unwrap();
    let started = Instant::now();
    let mut stream = client.execute(sql).await.unwrap();
    let mut n = 0u64;
    let mut checksum = 0i64;
    while let Some(batch) = stream.next_batch().await {
        let batch = batch.unwrap();
        // Touch the decoded values so nothing is optimised away.
        if let Some(trino_client::Value::BigInt(id)) = batch.last().and_then(|r| r.get(0)) {
            checksum = checksum.wrapping_add(*id);
        }
        n += batch.len() as u64;
    }
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(n, expect, "{name}: wrong row count");
    assert!(checksum > 0);
    Measure {
        name: name.into(),
        rows: n,
        secs,
        json_bytes,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve") {
        serve(args[2].parse().unwrap());
        return;
    }
    let rows = total_rows();
    eprintln!("generating {rows} rows in a replay coordinator child process...");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--serve", &rows.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child_out = BufReader::new(child.stdout.take().unwrap());
    let mut child_in = child.stdin.take().unwrap();
    let mut line = String::new();
    child_out.read_line(&mut line).unwrap();
    let info: serde_json::Value = serde_json::from_str(&line).expect("server info");
    let url = info["url"].as_str().unwrap().to_string();
    let direct_bytes = info["direct_bytes"].as_u64().unwrap();
    let spooled_json = info["spooled_json_bytes"].as_u64().unwrap();
    let spooled_wire = info["spooled_wire_bytes"].as_u64().unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut results = vec![];
    let mut peaks = vec![];
    rt.block_on(async {
        // Warm up connections and allocator.
        ours(&url, "SELECT direct", 4, rows, direct_bytes, "warm-up").await;
        reset_peak_rss();
        results.push(
            ours(
                &url,
                "SELECT direct",
                4,
                rows,
                direct_bytes,
                "ours, direct protocol",
            )
            .await,
        );
        peaks.push(("direct protocol", peak_rss_mb()));
        reset_peak_rss();
        results.push(
            ours(
                &url,
                "SELECT spooled",
                4,
                rows,
                spooled_json,
                "ours, spooled json+zstd, 4 parallel",
            )
            .await,
        );
        peaks.push(("spooled json+zstd, 4 parallel", peak_rss_mb()));
        reset_peak_rss();
        results.push(
            ours(
                &url,
                "SELECT spooled",
                1,
                rows,
                spooled_json,
                "ours, spooled json+zstd, 1 at a time",
            )
            .await,
        );
        peaks.push(("spooled json+zstd, 1 at a time", peak_rss_mb()));
    });

    let url_parsed = url::Url::parse(&url).unwrap();
    let mut python_peak = None;
    match python() {
        Some(py) => {
            for (legacy, name) in [
                ("0", "python client (typed values)"),
                ("1", "python client (legacy raw values)"),
            ] {
                eprintln!("running {name} on {rows} rows...");
                let out = Command::new(&py)
                    .args([
                        "-c",
                        PY,
                        url_parsed.host_str().unwrap(),
                        &url_parsed.port().unwrap().to_string(),
                        legacy,
                        "SELECT direct",
                    ])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "python failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                assert_eq!(r["rows"].as_u64(), Some(rows));
                python_peak = Some(r["peak_rss_mb"].as_f64().unwrap());
                results.push(Measure {
                    name: name.into(),
                    rows,
                    secs: r["secs"].as_f64().unwrap(),
                    json_bytes: direct_bytes,
                });
            }
        }
        None => eprintln!("no python client (set LAKE_PYTHON): skipping the python comparison"),
    }

    // Raw serde_json parse of the same pages, and our page parse + typed decode without HTTP (to show where
    // the time goes). Pages are generated once up front; only parsing is timed (best of the runs).
    let all_pages: Vec<Bytes> = (0..pages(rows)).map(|i| direct_page(i, rows)).collect();
    let mut parse_secs = f64::MAX;
    let mut decode_secs = f64::MAX;
    let columns = std::sync::Arc::new(trino_client::Columns::new(
        serde_json::from_value(mixed_columns()).unwrap(),
    ));
    for _ in 0..repeats().max(1) {
        let t = Instant::now();
        for page in &all_pages {
            let v: serde_json::Value = serde_json::from_slice(page).unwrap();
            assert!(v["data"].is_array());
        }
        parse_secs = parse_secs.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for page in &all_pages {
            let parsed: trino_client::protocol::QueryResults =
                serde_json::from_slice(page).unwrap();
            let mut out = Vec::new();
            trino_client::value::decode_rows(
                parsed.data.as_ref().unwrap().get().as_bytes(),
                &columns,
                &mut out,
                "bench",
            )
            .unwrap();
        }
        decode_secs = decode_secs.min(t.elapsed().as_secs_f64());
    }
    drop(all_pages);
    results.push(Measure {
        name: "raw serde_json::Value parse of the pages".into(),
        rows,
        secs: parse_secs,
        json_bytes: direct_bytes,
    });
    results.push(Measure {
        name: "ours, page parse + typed decode only (no HTTP)".into(),
        rows,
        secs: decode_secs,
        json_bytes: direct_bytes,
    });

    // The same over an emulated remote link.
    let latency_ms: u64 = std::env::var("BENCH_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let mut remote = vec![];
    if latency_ms > 0 {
        writeln!(child_in, "{latency_ms}").unwrap();
        line.clear();
        child_out.read_line(&mut line).unwrap();
        rt.block_on(async {
            remote.push(
                ours(
                    &url,
                    "SELECT direct",
                    4,
                    rows,
                    direct_bytes,
                    &format!("ours, direct, {latency_ms} ms/response"),
                )
                .await,
            );
            remote.push(
                ours(
                    &url,
                    "SELECT spooled",
                    4,
                    rows,
                    spooled_json,
                    &format!("ours, spooled json+zstd x4, {latency_ms} ms/response"),
                )
                .await,
            );
        });
    }
    drop(child_in);
    let _ = child.wait();

    println!();
    println!(
        "trino-client benchmark: {rows} rows x 10 mixed columns (bigint, varchar, double, decimal, timestamp, date,"
    );
    println!(
        "boolean, array, map, row); direct: {} pages, {:.1} MB JSON; spooled: {} json+zstd segments, {:.1} MB JSON, {:.1} MB on the wire",
        info["pages"],
        direct_bytes as f64 / 1e6,
        info["segments"],
        spooled_json as f64 / 1e6,
        spooled_wire as f64 / 1e6
    );
    println!();
    println!(
        "{:<48} {:>12} {:>10} {:>9}",
        "client", "rows/s", "MB/s", "secs"
    );
    for m in results.iter().chain(&remote) {
        println!(
            "{:<48} {:>12.0} {:>10.1} {:>9.3}",
            m.name,
            m.rows_per_sec(),
            m.mb_per_sec(),
            m.secs
        );
    }
    let find = |prefix: &str| {
        results
            .iter()
            .chain(&remote)
            .find(|m| m.name.starts_with(prefix))
    };
    let direct = find("ours, direct protocol").unwrap();
    let spooled = find("ours, spooled json+zstd, 4").unwrap();
    let raw = find("raw serde_json").unwrap();
    println!();
    println!("ratios (target in brackets):");
    if let Some(py) = find("python client (typed") {
        println!(
            "  ours direct / python typed:          {:>6.1}x  [>= 10x]",
            py.secs / direct.secs
        );
    }
    if let Some(py) = find("python client (legacy") {
        println!(
            "  ours direct / python legacy:         {:>6.1}x",
            py.secs / direct.secs
        );
    }
    println!(
        "  ours direct / raw serde_json parse:  {:>6.0}%  [>= 50%]",
        100.0 * direct.mb_per_sec() / raw.mb_per_sec()
    );
    println!(
        "  spooled x4 / direct (loopback):      {:>6.2}x  [>= 3x]",
        direct.secs / spooled.secs
    );
    if let [d, s] = &remote[..] {
        println!(
            "  spooled x4 / direct ({latency_ms} ms/response): {:>6.2}x  [>= 3x]",
            d.secs / s.secs
        );
    }
    println!();
    for (phase, mb) in &peaks {
        println!("peak RSS of our client process, {phase}: {mb:.0} MB");
    }
    if let Some(p) = python_peak {
        println!("peak RSS of the python client process:          {p:.0} MB");
    }
    println!(
        "machine: {} CPUs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
}
