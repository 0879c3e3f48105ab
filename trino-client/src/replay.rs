//! A replay coordinator for tests and benchmarks (feature `replay`): an HTTP server on loopback that answers
//! `POST /v1/statement` with scripted sequences of real Trino bodies, rewrites `nextUri` to itself, injects
//! faults (502/503/429/empty bodies/connection resets), records every request, serves spooled segments with
//! acknowledgements, `/v1/info`, `/v1/info/state` and an OAuth2 challenge/token server.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};

/// A fault served instead of a response, once per listed entry, before the real response.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// An HTTP status with a short body (e.g. 502, 503, 504).
    Status(u16),
    /// 429 with a `Retry-After` header in seconds.
    TooManyRequests {
        /// The `Retry-After` value.
        retry_after_secs: f64,
    },
    /// 200 with an empty body.
    EmptyBody,
    /// The connection breaks in the middle of the response body.
    Reset,
}

#[derive(Debug, Clone)]
struct Step {
    faults: Vec<Fault>,
    headers: Vec<(String, String)>,
    /// A JSON object body without `nextUri`.
    body: Bytes,
}

/// A scripted query: the POST response then each `nextUri` page, in order.
#[derive(Debug, Clone, Default)]
pub struct Script {
    steps: Vec<Step>,
}

impl Script {
    /// An empty script.
    pub fn new() -> Self {
        Script::default()
    }

    /// Appends a page (its `nextUri` is replaced by the server's own).
    pub fn page(mut self, mut body: serde_json::Value) -> Self {
        if let Some(obj) = body.as_object_mut() {
            obj.remove("nextUri");
        }
        self.steps.push(Step {
            faults: vec![],
            headers: vec![],
            body: Bytes::from(body.to_string()),
        });
        self
    }

    /// Appends a page given as raw JSON bytes of an object that has no `nextUri` field (for large bodies).
    pub fn raw_page(mut self, body: Bytes) -> Self {
        self.steps.push(Step {
            faults: vec![],
            headers: vec![],
            body,
        });
        self
    }

    /// Adds response headers to the last page.
    pub fn headers(mut self, headers: &[(&str, &str)]) -> Self {
        let step = self
            .steps
            .last_mut()
            .expect("add a page before its headers");
        step.headers
            .extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self
    }

    /// Serves these faults, one per attempt, before the last page.
    pub fn faults(mut self, faults: Vec<Fault>) -> Self {
        self.steps
            .last_mut()
            .expect("add a page before its faults")
            .faults = faults;
        self
    }

    /// The number of pages.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether the script has no pages.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// One request the server received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers (lower-case names) in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
    /// When it arrived, measured from the server's start.
    pub at: std::time::Duration,
}

impl RecordedRequest {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Shared {
    base: String,
    scripts: HashMap<String, Arc<Script>>,
    post_attempts: HashMap<String, usize>,
    queries: HashMap<u64, Arc<Script>>,
    attempts: HashMap<(u64, usize), usize>,
    next_query: u64,
    requests: Vec<RecordedRequest>,
    record_requests: bool,
    segments: Vec<(Bytes, Vec<Fault>)>,
    segment_attempts: HashMap<usize, usize>,
    acks: Vec<usize>,
    info: Option<serde_json::Value>,
    node_state: String,
    oauth_token: Option<String>,
    oauth_polls: HashMap<String, usize>,
    latency: std::time::Duration,
    segment_latency: std::time::Duration,
    started: Option<std::time::Instant>,
    segments_in_flight: usize,
    max_segments_in_flight: usize,
}

/// The replay coordinator. Dropping it stops the server.
pub struct ReplayServer {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for ReplayServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Drop for ReplayServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How one segment is encoded for [`ReplayServer::spooled_data`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentPlacement {
    /// Carried in the page (base64).
    Inline,
    /// Stored on the server, fetched by URI and acknowledged.
    Spooled,
}

impl ReplayServer {
    /// Starts a server on an ephemeral loopback port.
    pub async fn start() -> std::io::Result<ReplayServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(Shared {
            base: format!("http://{addr}"),
            record_requests: true,
            node_state: "ACTIVE".into(),
            started: Some(std::time::Instant::now()),
            ..Shared::default()
        }));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "replay server stopped");
            }
        });
        Ok(ReplayServer { addr, shared, task })
    }

    /// The server's base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers `POST /v1/statement` whose (trimmed) body equals `sql` with this script.
    pub fn add_query(&self, sql: &str, script: Script) {
        assert!(!script.is_empty(), "a script needs at least one page");
        self.shared
            .lock()
            .expect("lock")
            .scripts
            .insert(sql.trim().to_string(), Arc::new(script));
    }

    /// The most segment downloads that were in progress at once (as seen by the server).
    pub fn max_concurrent_segment_fetches(&self) -> usize {
        self.shared.lock().expect("lock").max_segments_in_flight
    }

    /// Whether to record requests (turn off for benchmarks).
    pub fn record_requests(&self, on: bool) {
        self.shared.lock().expect("lock").record_requests = on;
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().expect("lock").requests.clone()
    }

    /// Forgets recorded requests.
    pub fn clear_requests(&self) {
        self.shared.lock().expect("lock").requests.clear();
    }

    /// Indexes of the segments acknowledged so far.
    pub fn acked_segments(&self) -> Vec<usize> {
        self.shared.lock().expect("lock").acks.clone()
    }

    /// Sets the `/v1/info` body.
    pub fn set_info(&self, info: serde_json::Value) {
        self.shared.lock().expect("lock").info = Some(info);
    }

    /// The state last set through `PUT /v1/info/state`.
    pub fn node_state(&self) -> String {
        self.shared.lock().expect("lock").node_state.clone()
    }

    /// Delays every response by this much (emulates the round trip to a remote coordinator or object store).
    pub fn set_latency(&self, latency: std::time::Duration) {
        self.shared.lock().expect("lock").latency = latency;
    }

    /// Delays segment downloads (not their acknowledgements) by this much more, on top of
    /// [`ReplayServer::set_latency`] (emulates a slow object store).
    pub fn set_segment_latency(&self, latency: std::time::Duration) {
        self.shared.lock().expect("lock").segment_latency = latency;
    }

    /// Requires OAuth2: statement requests without `Authorization: Bearer <token>` get the 401 challenge; the
    /// token server answers "pending" once, then the token.
    pub fn require_oauth2(&self, token: &str) {
        self.shared.lock().expect("lock").oauth_token = Some(token.to_string());
    }

    /// Stores a segment and returns its index and (uri, ackUri).
    pub fn add_segment(&self, bytes: Bytes, faults: Vec<Fault>) -> (usize, String, String) {
        let mut s = self.shared.lock().expect("lock");
        s.segments.push((bytes, faults));
        let i = s.segments.len() - 1;
        (
            i,
            format!("{}/v1/spooled/{i}", s.base),
            format!("{}/v1/spooled/{i}/ack", s.base),
        )
    }

    /// Builds a spooling-protocol `data` object from row chunks (each chunk one segment) encoded with
    /// `encoding` (`json`, `json+zstd` or `json+lz4`); spooled segments are stored on this server and carry a
    /// segment header `x-replay-segment: <index>` the client must send back.
    pub fn spooled_data(
        &self,
        encoding: &str,
        chunks: &[Bytes],
        rows_per_chunk: &[u64],
        placement: impl Fn(usize) -> SegmentPlacement,
    ) -> serde_json::Value {
        let mut offset = 0u64;
        let mut segments = Vec::new();
        for (i, json) in chunks.iter().enumerate() {
            let (bytes, uncompressed) = encode_segment(encoding, json);
            let mut metadata = serde_json::json!({
                "rowOffset": offset,
                "rowsCount": rows_per_chunk[i],
                "segmentSize": bytes.len(),
            });
            if let Some(u) = uncompressed {
                metadata["uncompressedSize"] = serde_json::json!(u);
            }
            offset += rows_per_chunk[i];
            match placement(i) {
                SegmentPlacement::Inline => segments.push(serde_json::json!({
                    "type": "inline",
                    "data": base64::engine::general_purpose::STANDARD.encode(&bytes),
                    "metadata": metadata,
                })),
                SegmentPlacement::Spooled => {
                    let (idx, uri, ack) = self.add_segment(bytes, vec![]);
                    segments.push(serde_json::json!({
                        "type": "spooled",
                        "uri": uri,
                        "ackUri": ack,
                        "metadata": metadata,
                        "headers": {"x-replay-segment": [idx.to_string()]},
                    }));
                }
            }
        }
        serde_json::json!({"encoding": encoding, "segments": segments})
    }
}

/// Encodes segment JSON: returns the bytes on the wire and, when compressed, the uncompressed size.
pub fn encode_segment(encoding: &str, json: &[u8]) -> (Bytes, Option<usize>) {
    match encoding {
        "json+zstd" => (
            Bytes::from(zstd::bulk::compress(json, 3).expect("zstd compress")),
            Some(json.len()),
        ),
        "json+lz4" => (
            Bytes::from(lz4_flex::block::compress(json)),
            Some(json.len()),
        ),
        _ => (Bytes::copy_from_slice(json), None),
    }
}

fn plain(status: StatusCode, body: impl Into<String>) -> Response {
    let mut r = Response::new(Body::from(body.into()));
    *r.status_mut() = status;
    r
}

fn json(body: Bytes) -> Response {
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn fault_response(f: &Fault) -> Response {
    match f {
        Fault::Status(code) => plain(
            StatusCode::from_u16(*code).unwrap_or(StatusCode::BAD_GATEWAY),
            "injected fault",
        ),
        Fault::TooManyRequests { retry_after_secs } => {
            let mut r = plain(StatusCode::TOO_MANY_REQUESTS, "slow down");
            r.headers_mut().insert(
                http::header::RETRY_AFTER,
                HeaderValue::from_str(&retry_after_secs.to_string()).expect("number"),
            );
            r
        }
        Fault::EmptyBody => json(Bytes::new()),
        Fault::Reset => {
            // Promise a body, then fail the stream: the server aborts the connection mid-response.
            let stream = futures::stream::iter(vec![
                Ok(Bytes::from_static(b"{\"id\":")),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected reset",
                )),
            ]);
            let mut r = Response::new(Body::from_stream(stream));
            r.headers_mut().insert(
                http::header::CONTENT_LENGTH,
                HeaderValue::from_static("1000"),
            );
            r
        }
    }
}

/// The page body with `nextUri` spliced in (bodies are stored without one).
fn with_next(body: &Bytes, next: Option<String>) -> Bytes {
    match next {
        None => body.clone(),
        Some(uri) => {
            let mut out = Vec::with_capacity(body.len() + uri.len() + 16);
            out.extend_from_slice(b"{\"nextUri\":");
            out.extend_from_slice(serde_json::to_string(&uri).expect("string").as_bytes());
            if body.len() > 2 {
                out.push(b',');
            }
            out.extend_from_slice(&body[1..]);
            Bytes::from(out)
        }
    }
}

fn serve_step(s: &Shared, script: &Script, qid: u64, token: usize, attempt: usize) -> Response {
    let step = &script.steps[token];
    if let Some(f) = step.faults.get(attempt) {
        return fault_response(f);
    }
    let next = (token + 1 < script.steps.len())
        .then(|| format!("{}/v1/statement/q{qid}/{}", s.base, token + 1));
    let mut r = json(with_next(&step.body, next));
    for (k, v) in &step.headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            r.headers_mut().append(name, value);
        }
    }
    r
}

async fn handle(State(shared): State<Arc<Mutex<Shared>>>, req: Request) -> Response {
    let is_segment =
        req.uri().path().starts_with("/v1/spooled/") && !req.uri().path().ends_with("/ack");
    let (latency, at) = {
        let mut s = shared.lock().expect("lock");
        let at = s.started.map(|t| t.elapsed()).unwrap_or_default();
        if is_segment {
            s.segments_in_flight += 1;
            s.max_segments_in_flight = s.max_segments_in_flight.max(s.segments_in_flight);
            (s.latency + s.segment_latency, at)
        } else {
            (s.latency, at)
        }
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let response = respond(&shared, req, at).await;
    if is_segment {
        shared.lock().expect("lock").segments_in_flight -= 1;
    }
    response
}

async fn respond(shared: &Mutex<Shared>, req: Request, at: std::time::Duration) -> Response {
    let method = req.method().clone();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let auth = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match axum::body::to_bytes(req.into_body(), 64 << 20).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => return plain(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let mut s = shared.lock().expect("lock");
    if s.record_requests {
        s.requests.push(RecordedRequest {
            method: method.to_string(),
            path: path.clone(),
            headers,
            body: body.clone(),
            at,
        });
    }
    let parts: Vec<&str> = path
        .split('?')
        .next()
        .unwrap_or_default()
        .trim_matches('/')
        .split('/')
        .collect();
    match (&method, parts.as_slice()) {
        (&Method::POST, ["v1", "statement"]) => {
            if let Some(token) = s.oauth_token.clone()
                && auth.as_deref() != Some(&format!("Bearer {token}"))
            {
                let challenge = format!("c{}", s.oauth_polls.len());
                s.oauth_polls.insert(challenge.clone(), 0);
                let mut r = plain(StatusCode::UNAUTHORIZED, "");
                let v = format!(
                    "Bearer x_redirect_server=\"{b}/oauth2/initiate/{challenge}\", x_token_server=\"{b}/oauth2/token/{challenge}\"",
                    b = s.base
                );
                r.headers_mut().insert(
                    http::header::WWW_AUTHENTICATE,
                    HeaderValue::from_str(&v).expect("ascii"),
                );
                return r;
            }
            let sql = body.trim().to_string();
            let Some(script) = s.scripts.get(&sql).cloned() else {
                return plain(
                    StatusCode::NOT_FOUND,
                    format!("replay server has no script for {sql:?}"),
                );
            };
            let attempt = {
                let a = s.post_attempts.entry(sql).or_insert(0);
                *a += 1;
                *a - 1
            };
            if let Some(f) = script.steps[0].faults.get(attempt) {
                return fault_response(f);
            }
            s.next_query += 1;
            let qid = s.next_query;
            s.queries.insert(qid, script.clone());
            serve_step(&s, &script, qid, 0, usize::MAX)
        }
        (_, ["v1", "statement", q, token]) => {
            let (Some(qid), Ok(token)) = (
                q.strip_prefix('q').and_then(|q| q.parse::<u64>().ok()),
                token.parse::<usize>(),
            ) else {
                return plain(StatusCode::NOT_FOUND, "bad statement path");
            };
            let Some(script) = s.queries.get(&qid).cloned() else {
                return plain(StatusCode::NOT_FOUND, "unknown query");
            };
            if token >= script.steps.len() {
                return plain(StatusCode::NOT_FOUND, "no such page");
            }
            match method {
                Method::DELETE => plain(StatusCode::NO_CONTENT, ""),
                Method::HEAD => plain(StatusCode::OK, ""),
                Method::GET => {
                    let attempt = {
                        let a = s.attempts.entry((qid, token)).or_insert(0);
                        *a += 1;
                        *a - 1
                    };
                    serve_step(&s, &script, qid, token, attempt)
                }
                _ => plain(StatusCode::METHOD_NOT_ALLOWED, ""),
            }
        }
        (&Method::DELETE, ["v1", "query", _]) => plain(StatusCode::NO_CONTENT, ""),
        (&Method::GET, ["v1", "spooled", i]) => {
            let Some(i) = i.parse::<usize>().ok().filter(|i| *i < s.segments.len()) else {
                return plain(StatusCode::NOT_FOUND, "no such segment");
            };
            let attempt = {
                let a = s.segment_attempts.entry(i).or_insert(0);
                *a += 1;
                *a - 1
            };
            let (bytes, faults) = &s.segments[i];
            match faults.get(attempt) {
                Some(f) => fault_response(f),
                None => {
                    let mut r = Response::new(Body::from(bytes.clone()));
                    r.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        HeaderValue::from_static("application/octet-stream"),
                    );
                    r
                }
            }
        }
        (&Method::GET, ["v1", "spooled", i, "ack"]) => match i.parse::<usize>() {
            Ok(i) if i < s.segments.len() => {
                s.acks.push(i);
                plain(StatusCode::OK, "")
            }
            _ => plain(StatusCode::NOT_FOUND, "no such segment"),
        },
        (&Method::GET, ["v1", "info"]) => {
            let info = s.info.clone().unwrap_or_else(|| {
                serde_json::json!({"nodeVersion": {"version": "480"}, "environment": "replay", "coordinator": true,
                    "starting": false, "uptime": "1.00m"})
            });
            json(Bytes::from(info.to_string()))
        }
        (&Method::GET, ["v1", "info", "state"]) => {
            json(Bytes::from(format!("\"{}\"", s.node_state)))
        }
        (&Method::PUT, ["v1", "info", "state"]) => match serde_json::from_str::<String>(&body) {
            Ok(state) => {
                s.node_state = state;
                plain(StatusCode::OK, "")
            }
            Err(e) => plain(StatusCode::BAD_REQUEST, e.to_string()),
        },
        (&Method::GET, ["oauth2", "token", challenge]) => {
            let token = s.oauth_token.clone().unwrap_or_default();
            let base = s.base.clone();
            match s.oauth_polls.get_mut(*challenge) {
                None => plain(StatusCode::NOT_FOUND, "{}"),
                Some(n) => {
                    *n += 1;
                    if *n == 1 {
                        json(Bytes::from(serde_json::json!({"nextUri": format!("{base}/oauth2/token/{challenge}")}).to_string()))
                    } else {
                        json(Bytes::from(serde_json::json!({"token": token}).to_string()))
                    }
                }
            }
        }
        _ => plain(
            StatusCode::NOT_FOUND,
            format!("replay server does not serve {method} {path}"),
        ),
    }
}

/// The real sample bodies (copied into `tests/data/` with their `SOURCES.md`), by file name.
pub fn sample(name: &str) -> serde_json::Value {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read sample {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("sample {path} is not JSON: {e}"))
}

/// The columns of the synthetic mixed-type result used by tests and the benchmark (current signature names).
pub fn mixed_columns() -> serde_json::Value {
    fn sig(raw: &str, args: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"rawType": raw, "arguments": args})
    }
    let long = |n: i64| serde_json::json!({"kind": "LONG", "value": n});
    let ty = |s: serde_json::Value| serde_json::json!({"kind": "TYPE", "value": s});
    let named = |name: &str, s: serde_json::Value| serde_json::json!({"kind": "NAMED_TYPE", "value": {"fieldName": {"name": name}, "typeSignature": s}});
    serde_json::json!([
        {"name": "id", "type": "bigint", "typeSignature": sig("bigint", serde_json::json!([]))},
        {"name": "name", "type": "varchar", "typeSignature": sig("varchar", serde_json::json!([long(2147483647)]))},
        {"name": "score", "type": "double", "typeSignature": sig("double", serde_json::json!([]))},
        {"name": "price", "type": "decimal(12,2)", "typeSignature": sig("decimal", serde_json::json!([long(12), long(2)]))},
        {"name": "created", "type": "timestamp(3)", "typeSignature": sig("timestamp", serde_json::json!([long(3)]))},
        {"name": "day", "type": "date", "typeSignature": sig("date", serde_json::json!([]))},
        {"name": "active", "type": "boolean", "typeSignature": sig("boolean", serde_json::json!([]))},
        {"name": "tags", "type": "array(bigint)", "typeSignature": sig("array", serde_json::json!([ty(sig("bigint", serde_json::json!([])))]))},
        {"name": "attrs", "type": "map(varchar, double)", "typeSignature": sig("map", serde_json::json!([
            ty(sig("varchar", serde_json::json!([long(2147483647)]))), ty(sig("double", serde_json::json!([])))]))},
        {"name": "point", "type": "row(x bigint, label varchar)", "typeSignature": sig("row", serde_json::json!([
            named("x", sig("bigint", serde_json::json!([]))), named("label", sig("varchar", serde_json::json!([long(2147483647)])))]))},
    ])
}

/// `count` rows of the mixed result starting at row `start`, as a JSON array of rows.
pub fn mixed_rows_json(start: u64, count: u64) -> Vec<u8> {
    use std::io::Write as _;
    let mut out = Vec::with_capacity(count as usize * 190);
    out.push(b'[');
    for i in start..start + count {
        if i > start {
            out.push(b',');
        }
        let name = if i % 17 == 0 {
            "null".to_string()
        } else {
            format!("\"customer-{i:08}\"")
        };
        let _ = write!(
            out,
            "[{i},{name},{score},\"{p}.{c:02}\",\"2024-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}.{ms:03}\",\"2024-{m:02}-{d:02}\",{act},[{i},{t2},{t3}],{{\"a\":{score},\"b\":{half}}},[{x},\"p{x}\"]]",
            score = (i % 1000) as f64 / 7.0,
            p = i % 100_000,
            c = i % 100,
            m = i % 12 + 1,
            d = i % 28 + 1,
            h = i % 24,
            mi = i % 60,
            s = (i / 7) % 60,
            ms = i % 1000,
            act = i % 3 == 0,
            t2 = i * 2,
            t3 = i * 3,
            half = (i % 10) as f64 / 2.0,
            x = i % 50,
        );
    }
    out.push(b']');
    out
}

/// A finished-state page body (without `nextUri`) carrying raw `data` (rows array or spooled object).
pub fn page_body(
    id: &str,
    columns: &serde_json::Value,
    data: Option<&[u8]>,
    state: &str,
    processed_rows: u64,
) -> Bytes {
    let mut out = Vec::with_capacity(data.map_or(0, <[u8]>::len) + 4096);
    out.extend_from_slice(b"{\"id\":");
    out.extend_from_slice(serde_json::to_string(id).expect("string").as_bytes());
    out.extend_from_slice(
        format!(",\"infoUri\":\"http://replay/ui/query.html?{id}\",\"columns\":").as_bytes(),
    );
    out.extend_from_slice(columns.to_string().as_bytes());
    if let Some(d) = data {
        out.extend_from_slice(b",\"data\":");
        out.extend_from_slice(d);
    }
    out.extend_from_slice(
        format!(
            ",\"stats\":{{\"state\":\"{state}\",\"queued\":false,\"scheduled\":true,\"nodes\":1,\"totalSplits\":1,\"queuedSplits\":0,\"runningSplits\":0,\"completedSplits\":1,\"cpuTimeMillis\":1,\"wallTimeMillis\":1,\"queuedTimeMillis\":0,\"elapsedTimeMillis\":1,\"processedRows\":{processed_rows},\"processedBytes\":0,\"peakMemoryBytes\":0,\"spilledBytes\":0}},\"warnings\":[]}}"
        )
        .as_bytes(),
    );
    Bytes::from(out)
}
