//! The client: configuration, authentication, HTTP with retries, statement submission and server info calls.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use rand::Rng as _;
use url::Url;

use crate::error::{Error, Result};
use crate::protocol::{NodeState, ServerInfo};
use crate::session::{Secret, Session};
use crate::stream::{QueryResult, QueryStream};

/// How the client authenticates.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Auth {
    /// HTTP Basic (password authenticator).
    Basic {
        /// The login name.
        user: String,
        /// The password (redacted in `Debug`).
        password: Secret,
    },
    /// A JWT sent as a bearer token.
    Jwt(Secret),
}

/// Opens the identity provider's login page for OAuth2 external authentication (e.g. prints the URL or
/// launches a browser). The client then polls the token server.
pub trait RedirectHandler: Send + Sync + std::fmt::Debug {
    /// Called with the `x_redirect_server` URL.
    fn redirect(&self, url: &str);
}

/// Retry policy for transient failures (502/503/504, 429, empty bodies, broken connections).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in total, including the first.
    pub max_attempts: u32,
    /// First backoff.
    pub initial_backoff: Duration,
    /// Backoff ceiling.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// Exponential backoff with jitter (50-100% of the exponential value).
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.initial_backoff.saturating_mul(1u32 << attempt.min(16));
        let capped = exp.min(self.max_backoff);
        capped.mul_f64(rand::rng().random_range(0.5..=1.0))
    }
}

/// Builds a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    server: String,
    session: Session,
    auth: Option<Auth>,
    allow_insecure_auth: bool,
    ca_pem: Option<Vec<u8>>,
    accept_invalid_certs: bool,
    connect_timeout: Duration,
    request_timeout: Duration,
    query_timeout: Option<Duration>,
    retry: RetryPolicy,
    encodings: Option<Vec<String>>,
    spool_concurrency: usize,
    heartbeat: Duration,
    buffered_chunks: usize,
    segment_lookahead_batches: usize,
    redirect_handler: Option<Arc<dyn RedirectHandler>>,
    oauth_timeout: Duration,
}

impl ClientBuilder {
    /// Sets the user (`X-Trino-User`).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.session.user = user.into();
        self
    }
    /// Sets the source (`X-Trino-Source`).
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.session.source = Some(source.into());
        self
    }
    /// Sets the catalog.
    pub fn catalog(mut self, catalog: impl Into<String>) -> Self {
        self.session.catalog = Some(catalog.into());
        self
    }
    /// Sets the schema.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.session.schema = Some(schema.into());
        self
    }
    /// Sets the SQL path.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.session.path = Some(path.into());
        self
    }
    /// Sets the session time zone, e.g. `UTC` or `Europe/Paris`.
    pub fn time_zone(mut self, tz: impl Into<String>) -> Self {
        self.session.time_zone = Some(tz.into());
        self
    }
    /// Adds a session property.
    pub fn session_property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.session.properties.insert(name.into(), value.into());
        self
    }
    /// Sets a role for a catalog (`system` for system roles), e.g. `ROLE{admin}`.
    pub fn role(mut self, catalog: impl Into<String>, role: impl Into<String>) -> Self {
        self.session.roles.insert(catalog.into(), role.into());
        self
    }
    /// Adds a client tag.
    pub fn client_tag(mut self, tag: impl Into<String>) -> Self {
        self.session.client_tags.push(tag.into());
        self
    }
    /// Sets the client info.
    pub fn client_info(mut self, info: impl Into<String>) -> Self {
        self.session.client_info = Some(info.into());
        self
    }
    /// Sets the trace token.
    pub fn trace_token(mut self, token: impl Into<String>) -> Self {
        self.session.trace_token = Some(token.into());
        self
    }
    /// Adds an extra credential.
    pub fn extra_credential(mut self, name: impl Into<String>, value: Secret) -> Self {
        self.session.extra_credentials.insert(name.into(), value);
        self
    }
    /// Sets the client capabilities (e.g. `PARAMETRIC_DATETIME`).
    pub fn client_capabilities(mut self, caps: Vec<String>) -> Self {
        self.session.client_capabilities = caps;
        self
    }
    /// Replaces the whole session.
    pub fn session(mut self, session: Session) -> Self {
        self.session = session;
        self
    }
    /// Authenticates with HTTP Basic.
    pub fn basic_auth(mut self, user: impl Into<String>, password: Secret) -> Self {
        self.auth = Some(Auth::Basic {
            user: user.into(),
            password,
        });
        self
    }
    /// Authenticates with a JWT.
    pub fn jwt(mut self, token: Secret) -> Self {
        self.auth = Some(Auth::Jwt(token));
        self
    }
    /// Allows credentials over plain HTTP (refused by default: they would travel in clear text).
    pub fn allow_insecure_auth(mut self, allow: bool) -> Self {
        self.allow_insecure_auth = allow;
        self
    }
    /// Trusts an extra CA (PEM).
    pub fn ca_certificate_pem(mut self, pem: Vec<u8>) -> Self {
        self.ca_pem = Some(pem);
        self
    }
    /// Accepts any TLS certificate. Only for tests against self-signed servers.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.accept_invalid_certs = accept;
        self
    }
    /// TCP/TLS connect timeout.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }
    /// Per-request timeout.
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.request_timeout = t;
        self
    }
    /// Overall query timeout; on expiry the query is cancelled and [`Error::Timeout`] returned.
    pub fn query_timeout(mut self, t: Duration) -> Self {
        self.query_timeout = Some(t);
        self
    }
    /// Retry policy.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }
    /// Spooling encodings to offer, in preference order; `None` (or empty) uses the direct protocol only.
    /// Default: `json+zstd`, `json+lz4`, `json`. Each must be a token such as `json+zstd` (checked by
    /// [`ClientBuilder::build`]).
    pub fn spooling_encodings(mut self, encodings: Option<Vec<String>>) -> Self {
        self.encodings = encodings.filter(|e| !e.is_empty());
        self
    }
    /// How many spooled segments download at once (also the bound on decoded segments held in memory).
    pub fn spool_concurrency(mut self, n: usize) -> Self {
        self.spool_concurrency = n.max(1);
        self
    }
    /// How long the client may go without contacting the coordinator while the consumer or segment downloads
    /// keep it from polling `nextUri`; after that it sends `HEAD nextUri`. Default 30 s (Trino abandons a query
    /// after about 5 minutes without contact).
    pub fn heartbeat_interval(mut self, t: Duration) -> Self {
        self.heartbeat = t;
        self
    }
    /// How many decoded pages may wait for the consumer (bounds memory on the direct protocol).
    pub fn buffered_pages(mut self, n: usize) -> Self {
        self.buffered_chunks = n.max(1);
        self
    }
    /// How many batches of 4096 decoded rows each downloading segment may hold ahead of the consumer. Higher
    /// values let more segments decode in parallel; memory grows with `spool_concurrency` times this.
    pub fn segment_lookahead_batches(mut self, n: usize) -> Self {
        self.segment_lookahead_batches = n.max(1);
        self
    }
    /// Enables OAuth2 external authentication with this redirect handler.
    pub fn oauth2(mut self, handler: Arc<dyn RedirectHandler>) -> Self {
        self.redirect_handler = Some(handler);
        self
    }
    /// How long to poll the OAuth2 token server.
    pub fn oauth2_timeout(mut self, t: Duration) -> Self {
        self.oauth_timeout = t;
        self
    }

    /// Validates the configuration and builds the client.
    pub fn build(self) -> Result<Client> {
        let base = Url::parse(&self.server).map_err(|e| Error::InvalidConfig {
            field: "server",
            reason: format!("{:?}: {e}", self.server),
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error::InvalidConfig {
                field: "server",
                reason: format!("scheme of {base} must be http or https"),
            });
        }
        if self.session.user.is_empty() {
            return Err(Error::InvalidConfig {
                field: "user",
                reason: "a user is required".into(),
            });
        }
        let wants_auth = self.auth.is_some() || self.redirect_handler.is_some();
        if wants_auth && base.scheme() == "http" && !self.allow_insecure_auth {
            return Err(Error::InvalidConfig {
                field: "auth",
                reason: format!(
                    "credentials would travel in clear text to {base}; use https or allow_insecure_auth"
                ),
            });
        }
        // Validate header values now rather than at the first query.
        self.session.headers()?;
        let encodings = self
            .encodings
            .as_deref()
            .map(encodings_header)
            .transpose()?;
        let mut http = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            .pool_max_idle_per_host(32)
            .danger_accept_invalid_certs(self.accept_invalid_certs);
        if let Some(pem) = &self.ca_pem {
            let certs =
                reqwest::Certificate::from_pem_bundle(pem).map_err(|e| Error::InvalidConfig {
                    field: "ca_certificate_pem",
                    reason: e.to_string(),
                })?;
            if certs.is_empty() {
                return Err(Error::InvalidConfig {
                    field: "ca_certificate_pem",
                    reason: "no certificate in PEM".into(),
                });
            }
            for c in certs {
                http = http.add_root_certificate(c);
            }
        }
        let http = http.build().map_err(|e| Error::InvalidConfig {
            field: "tls",
            reason: e.to_string(),
        })?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                session: Mutex::new(self.session),
                auth: Mutex::new(self.auth.map(|a| match a {
                    Auth::Basic { user, password } => AuthState::Basic { user, password },
                    Auth::Jwt(t) => AuthState::Bearer(t),
                })),
                query_timeout: self.query_timeout,
                retry: self.retry,
                encodings,
                spool_concurrency: self.spool_concurrency,
                heartbeat: self.heartbeat,
                buffered_chunks: self.buffered_chunks,
                segment_lookahead_batches: self.segment_lookahead_batches,
                redirect_handler: self.redirect_handler,
                oauth_timeout: self.oauth_timeout,
            }),
        })
    }
}

#[derive(Debug)]
enum AuthState {
    Basic { user: String, password: Secret },
    Bearer(Secret),
}

/// A Trino client holding one session. Cheap to clone (clones share the session).
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    base: Url,
    session: Mutex<Session>,
    auth: Mutex<Option<AuthState>>,
    pub(crate) query_timeout: Option<Duration>,
    pub(crate) retry: RetryPolicy,
    encodings: Option<HeaderValue>,
    pub(crate) spool_concurrency: usize,
    pub(crate) heartbeat: Duration,
    pub(crate) buffered_chunks: usize,
    pub(crate) segment_lookahead_batches: usize,
    redirect_handler: Option<Arc<dyn RedirectHandler>>,
    oauth_timeout: Duration,
}

/// Which headers a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind<'a> {
    /// `POST /v1/statement`: session headers + auth.
    Statement,
    /// Coordinator follow-ups (`nextUri`, info, cancel): user + auth.
    Coordinator,
    /// Spooled segment download or ack: only the segment's own headers, never Trino credentials.
    Segment(&'a HeaderMap),
}

/// A successful response.
pub(crate) struct Response {
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

fn truncate(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(&body[..body.len().min(512)]);
    s.into_owned()
}

impl Client {
    /// Starts building a client for a coordinator URL such as `http://localhost:8080`.
    pub fn builder(server: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            server: server.into(),
            session: Session::new(""),
            auth: None,
            allow_insecure_auth: false,
            ca_pem: None,
            accept_invalid_certs: false,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            query_timeout: None,
            retry: RetryPolicy::default(),
            encodings: Some(vec!["json+zstd".into(), "json+lz4".into(), "json".into()]),
            spool_concurrency: 4,
            heartbeat: Duration::from_secs(30),
            buffered_chunks: 4,
            segment_lookahead_batches: 2,
            redirect_handler: None,
            oauth_timeout: Duration::from_secs(300),
        }
    }

    /// A snapshot of the session state.
    pub fn session(&self) -> Session {
        self.inner.session.lock().expect("session lock").clone()
    }

    /// Changes the session state.
    pub fn update_session(&self, f: impl FnOnce(&mut Session)) {
        f(&mut self.inner.session.lock().expect("session lock"));
    }

    /// Submits a statement and returns its row stream. Memory stays bounded whatever the result size.
    pub async fn execute(&self, sql: &str) -> Result<QueryStream> {
        QueryStream::start(self.clone(), sql).await
    }

    /// Runs a statement and collects every row.
    pub async fn fetch_all(&self, sql: &str) -> Result<QueryResult> {
        self.execute(sql).await?.collect_all().await
    }

    /// Runs a statement and deserializes every row into `T` (struct fields matched by column name).
    pub async fn query_as<T: serde::de::DeserializeOwned>(&self, sql: &str) -> Result<Vec<T>> {
        let result = self.fetch_all(sql).await?;
        result.rows.iter().map(|r| r.deserialize()).collect()
    }

    /// `GET /v1/info`.
    pub async fn info(&self) -> Result<ServerInfo> {
        let url = self.inner.base.join("v1/info").expect("static path");
        let resp = self
            .inner
            .send(Method::GET, url.clone(), None, Kind::Coordinator)
            .await?;
        serde_json::from_slice(&resp.body).map_err(|e| Error::protocol(format!("GET {url}"), &e))
    }

    /// `GET /v1/info/state`.
    pub async fn state(&self) -> Result<NodeState> {
        let url = self.inner.base.join("v1/info/state").expect("static path");
        let resp = self
            .inner
            .send(Method::GET, url.clone(), None, Kind::Coordinator)
            .await?;
        serde_json::from_slice(&resp.body).map_err(|e| Error::protocol(format!("GET {url}"), &e))
    }

    /// `PUT /v1/info/state`, e.g. [`NodeState::ShuttingDown`] for a graceful shutdown (needs management
    /// write access on the node).
    pub async fn set_state(&self, state: NodeState) -> Result<()> {
        let url = self.inner.base.join("v1/info/state").expect("static path");
        let body = serde_json::to_string(&state).expect("enum serializes");
        self.inner
            .send(Method::PUT, url, Some(body), Kind::Coordinator)
            .await?;
        Ok(())
    }

    /// `DELETE /v1/query/{id}`: cancels a query by id.
    pub async fn cancel_query(&self, query_id: &str) -> Result<()> {
        let url = self
            .inner
            .base
            .join(&format!(
                "v1/query/{}",
                url::form_urlencoded::byte_serialize(query_id.as_bytes()).collect::<String>()
            ))
            .map_err(|e| Error::InvalidConfig {
                field: "query_id",
                reason: e.to_string(),
            })?;
        self.inner
            .send(Method::DELETE, url, None, Kind::Coordinator)
            .await
            .map(|_| ())
    }
}

impl Inner {
    pub(crate) fn statement_url(&self) -> Url {
        self.base.join("v1/statement").expect("static path")
    }

    /// Resolves a `nextUri` (which may lack a scheme, as some proxies send it). A coordinator reached over
    /// https that sends an `http://` URI is refused: following it would downgrade the session to plaintext.
    pub(crate) fn resolve(&self, uri: &str) -> Result<Url> {
        let url = self.resolve_segment(uri)?;
        if self.base.scheme() == "https" && url.scheme() == "http" {
            return Err(Error::Protocol {
                context: "nextUri".into(),
                message: format!(
                    "{url} downgrades the https session to http; refusing to follow it (is the coordinator \
                     behind a TLS proxy without http-server.process-forwarded=true?)"
                ),
                position: None,
            });
        }
        Ok(url)
    }

    /// Resolves a spooled segment's URI: any scheme the storage uses (segments never carry Trino's
    /// credentials, see [`Kind::Segment`]).
    pub(crate) fn resolve_segment(&self, uri: &str) -> Result<Url> {
        match Url::parse(uri) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(u),
            _ => Url::parse(&format!("{}://{uri}", self.base.scheme()))
                .or_else(|_| self.base.join(uri))
                .map_err(|e| Error::Protocol {
                    context: "nextUri".into(),
                    message: format!("{uri:?}: {e}"),
                    position: None,
                }),
        }
    }

    pub(crate) fn apply_headers(&self, headers: &HeaderMap) {
        self.session
            .lock()
            .expect("session lock")
            .apply_response_headers(headers);
    }

    /// The headers of a request to `url`. Credentials go only to the coordinator's own origin (scheme, host,
    /// port): a `nextUri` that points elsewhere (a proxy rewriting it, a hostile server) is followed without
    /// them, so a password or token never reaches another host.
    fn request_headers(&self, kind: Kind<'_>, url: &Url) -> Result<HeaderMap> {
        let mut h = match kind {
            Kind::Segment(own) => return Ok(own.clone()),
            Kind::Statement => {
                let mut h = self.session.lock().expect("session lock").headers()?;
                if let Some(enc) = &self.encodings {
                    h.insert("x-trino-query-data-encoding", enc.clone());
                }
                h.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                h
            }
            Kind::Coordinator => {
                let s = self.session.lock().expect("session lock");
                let mut h = HeaderMap::new();
                let user = s.authorization_user.as_deref().unwrap_or(&s.user);
                if let Ok(v) = HeaderValue::from_str(user) {
                    h.insert("x-trino-user", v);
                }
                h
            }
        };
        if url.origin() != self.base.origin() {
            return Ok(h);
        }
        if let Some(auth) = &*self.auth.lock().expect("auth lock") {
            let value = match auth {
                AuthState::Basic { user, password } => {
                    use base64::Engine as _;
                    let raw = format!("{user}:{}", password.expose());
                    format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(raw)
                    )
                }
                AuthState::Bearer(t) => format!("Bearer {}", t.expose()),
            };
            let mut v = HeaderValue::from_str(&value).map_err(|_| Error::InvalidConfig {
                field: "auth",
                reason: "credential is not a valid header".into(),
            })?;
            v.set_sensitive(true);
            h.insert(http::header::AUTHORIZATION, v);
        }
        Ok(h)
    }

    /// Sends a request with the retry rules of the protocol: 502/503/504 and broken connections are retried
    /// with backoff, 429 after `Retry-After`, an empty 200 body is re-requested; a `POST` is re-sent only when
    /// the server cannot have accepted it (connect failure, 503, 429).
    pub(crate) async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<String>,
        kind: Kind<'_>,
    ) -> Result<Response> {
        let is_post = method == Method::POST;
        let mut attempt = 0u32;
        let mut oauth_done = false;
        loop {
            let headers = self.request_headers(kind, &url)?;
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .headers(headers);
            if let Some(b) = &body {
                if kind == Kind::Coordinator {
                    // Coordinator endpoints that take a body (`PUT /v1/info/state`) consume JSON.
                    req = req.header(http::header::CONTENT_TYPE, "application/json");
                }
                req = req.body(b.clone());
            }
            let retry_after: Option<Duration>;
            let failure: Error;
            match req.send().await {
                Err(e) => {
                    let safe = !is_post || e.is_connect();
                    failure = Error::Transport {
                        method: method.to_string(),
                        uri: url.to_string(),
                        source: Box::new(e),
                    };
                    if !safe {
                        return Err(failure);
                    }
                    retry_after = None;
                }
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    match resp.bytes().await {
                        Err(e) => {
                            failure = Error::Transport {
                                method: method.to_string(),
                                uri: url.to_string(),
                                source: Box::new(e),
                            };
                            if is_post {
                                return Err(failure);
                            }
                            retry_after = None;
                        }
                        Ok(bytes) => {
                            if status.is_success() {
                                if bytes.is_empty()
                                    && method == Method::GET
                                    && !matches!(kind, Kind::Segment(_))
                                {
                                    failure = Error::Protocol {
                                        context: format!("GET {url}"),
                                        message: "empty response body".into(),
                                        position: None,
                                    };
                                    retry_after = None;
                                } else if bytes.is_empty() && is_post {
                                    return Err(Error::Protocol {
                                        context: format!("POST {url}"),
                                        message: "empty response body to a statement submission"
                                            .into(),
                                        position: None,
                                    });
                                } else {
                                    return Ok(Response {
                                        headers,
                                        body: bytes,
                                    });
                                }
                            } else if status == StatusCode::UNAUTHORIZED
                                && !oauth_done
                                && self.redirect_handler.is_some()
                                && let Some((redirect, token_server)) =
                                    parse_oauth_challenge(&headers)
                            {
                                self.oauth_flow(redirect.as_deref(), &token_server).await?;
                                oauth_done = true;
                                continue;
                            } else if status == StatusCode::UNAUTHORIZED
                                || status == StatusCode::FORBIDDEN
                            {
                                return Err(Error::Unauthorized {
                                    uri: url.to_string(),
                                    status: status.as_u16(),
                                    body: truncate(&bytes),
                                });
                            } else {
                                let http_err = Error::Http {
                                    method: method.to_string(),
                                    uri: url.to_string(),
                                    status: status.as_u16(),
                                    body: truncate(&bytes),
                                };
                                let retryable = match status.as_u16() {
                                    503 | 429 => true,
                                    502 | 504 => !is_post,
                                    _ => false,
                                };
                                if !retryable {
                                    return Err(http_err);
                                }
                                retry_after = if status == StatusCode::TOO_MANY_REQUESTS {
                                    headers
                                        .get(http::header::RETRY_AFTER)
                                        .and_then(|v| v.to_str().ok())
                                        .and_then(|v| v.trim().parse::<f64>().ok())
                                        .filter(|s| s.is_finite() && *s >= 0.0)
                                        .map(Duration::from_secs_f64)
                                } else {
                                    None
                                };
                                failure = http_err;
                            }
                        }
                    }
                }
            }
            attempt += 1;
            if attempt >= self.retry.max_attempts {
                return Err(failure);
            }
            let delay = retry_after.unwrap_or_else(|| self.retry.backoff(attempt - 1));
            tracing::debug!(%url, attempt, ?delay, error = %failure, "retrying");
            tokio::time::sleep(delay).await;
        }
    }

    async fn oauth_flow(&self, redirect: Option<&str>, token_server: &str) -> Result<()> {
        if let (Some(handler), Some(url)) = (&self.redirect_handler, redirect) {
            handler.redirect(url);
        }
        let deadline = tokio::time::Instant::now() + self.oauth_timeout;
        let mut next = self.resolve(token_server)?;
        loop {
            if tokio::time::Instant::now() > deadline {
                return Err(Error::Timeout(self.oauth_timeout));
            }
            let resp = self
                .http
                .get(next.clone())
                .send()
                .await
                .map_err(|e| Error::Transport {
                    method: "GET".into(),
                    uri: next.to_string(),
                    source: Box::new(e),
                })?;
            let status = resp.status();
            let body = resp.bytes().await.map_err(|e| Error::Transport {
                method: "GET".into(),
                uri: next.to_string(),
                source: Box::new(e),
            })?;
            if !status.is_success() {
                return Err(Error::Unauthorized {
                    uri: next.to_string(),
                    status: status.as_u16(),
                    body: truncate(&body),
                });
            }
            let v: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| Error::protocol(format!("token server {next}"), &e))?;
            if let Some(token) = v.get("token").and_then(|t| t.as_str()) {
                *self.auth.lock().expect("auth lock") = Some(AuthState::Bearer(Secret::new(token)));
                return Ok(());
            }
            if let Some(err) = v.get("error").and_then(|t| t.as_str()) {
                return Err(Error::Unauthorized {
                    uri: next.to_string(),
                    status: 200,
                    body: err.to_string(),
                });
            }
            match v.get("nextUri").and_then(|t| t.as_str()) {
                Some(n) => next = self.resolve(n)?,
                None => {
                    return Err(Error::Protocol {
                        context: format!("token server {next}"),
                        message: "neither token, error nor nextUri".into(),
                        position: None,
                    });
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The `X-Trino-Query-Data-Encoding` value for a list of encodings. Each must be a non-empty token (letters,
/// digits and `+-._`), since the list is comma-separated and sent as a header.
fn encodings_header(encodings: &[String]) -> Result<HeaderValue> {
    for e in encodings {
        let token = !e.is_empty()
            && e.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.' | b'_'));
        if !token {
            return Err(Error::InvalidConfig {
                field: "spooling_encodings",
                reason: format!("{e:?} is not an encoding name such as json+zstd"),
            });
        }
    }
    HeaderValue::from_str(&encodings.join(",")).map_err(|e| Error::InvalidConfig {
        field: "spooling_encodings",
        reason: e.to_string(),
    })
}

/// Parses `WWW-Authenticate: Bearer x_redirect_server="...", x_token_server="..."`.
fn parse_oauth_challenge(headers: &HeaderMap) -> Option<(Option<String>, String)> {
    let mut redirect = None;
    let mut token = None;
    for v in headers.get_all(http::header::WWW_AUTHENTICATE) {
        let v = v.to_str().ok()?;
        for part in v.split(',') {
            let part = part.trim();
            let part = part.strip_prefix("Bearer ").unwrap_or(part).trim();
            if let Some((k, val)) = part.split_once('=') {
                let val = val.trim().trim_matches('"').to_string();
                match k.trim() {
                    "x_redirect_server" => redirect = Some(val),
                    "x_token_server" => token = Some(val),
                    _ => {}
                }
            }
        }
    }
    token.map(|t| (redirect, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 16 item 13: an https session never follows an http `nextUri`; segments may use any scheme.
    #[test]
    fn an_https_session_refuses_an_http_next_uri() {
        let c = Client::builder("https://trino.example:8443")
            .user("u")
            .build()
            .unwrap();
        let err = c
            .inner
            .resolve("http://trino.example:8080/v1/statement/executing/q/1")
            .unwrap_err();
        assert!(
            err.to_string().contains("downgrades the https session"),
            "{err}"
        );
        assert!(
            c.inner
                .resolve("https://trino.example:8443/v1/statement/executing/q/1")
                .is_ok()
        );
        assert!(c.inner.resolve_segment("http://spool.local/s/1").is_ok());
        let plain = Client::builder("http://trino.example:8080")
            .user("u")
            .build()
            .unwrap();
        assert!(plain.inner.resolve("http://other:8080/v1/x").is_ok());
    }

    #[test]
    fn refuses_credentials_over_http() {
        let err = Client::builder("http://trino:8080")
            .user("u")
            .jwt(Secret::new("t"))
            .build()
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidConfig { field: "auth", .. }),
            "{err}"
        );
        Client::builder("http://trino:8080")
            .user("u")
            .jwt(Secret::new("t"))
            .allow_insecure_auth(true)
            .build()
            .unwrap();
        Client::builder("https://trino:8443")
            .user("u")
            .basic_auth("u", Secret::new("p"))
            .build()
            .unwrap();
        let err = Client::builder("ftp://x").user("u").build().unwrap_err();
        assert!(err.to_string().contains("scheme"), "{err}");
        let err = Client::builder("http://x").build().unwrap_err();
        assert!(err.to_string().contains("user"), "{err}");
        let err = Client::builder("https://x")
            .user("u")
            .ca_certificate_pem(b"junk".to_vec())
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("ca_certificate_pem"), "{err}");
    }

    #[derive(Debug)]
    struct NoBrowser;
    impl RedirectHandler for NoBrowser {
        fn redirect(&self, _url: &str) {}
    }

    #[test]
    fn refuses_basic_and_oauth2_over_http_unless_allowed() {
        let basic = || {
            Client::builder("http://trino:8080")
                .user("u")
                .basic_auth("u", Secret::new("p"))
        };
        let oauth = || {
            Client::builder("http://trino:8080")
                .user("u")
                .oauth2(Arc::new(NoBrowser))
        };
        for (what, err) in [
            ("basic", basic().build().unwrap_err()),
            ("oauth2", oauth().build().unwrap_err()),
        ] {
            assert!(
                matches!(&err, Error::InvalidConfig { field: "auth", reason } if reason.contains("clear text")),
                "{what}: {err}"
            );
            assert!(!err.to_string().contains("\"p\""), "{what}: {err}");
        }
        basic().allow_insecure_auth(true).build().unwrap();
        oauth().allow_insecure_auth(true).build().unwrap();
        Client::builder("https://trino:8443")
            .user("u")
            .oauth2(Arc::new(NoBrowser))
            .build()
            .unwrap();
    }

    #[test]
    fn bad_spooling_encodings_are_refused_at_build() {
        for bad in [
            vec!["jsön".to_string()],
            vec!["json\n".to_string()],
            vec!["json".to_string(), String::new()],
            vec!["json,json+zstd".to_string()],
            vec!["json zstd".to_string()],
        ] {
            let err = Client::builder("http://trino:8080")
                .user("u")
                .spooling_encodings(Some(bad.clone()))
                .build()
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::InvalidConfig {
                        field: "spooling_encodings",
                        ..
                    }
                ),
                "{bad:?}: {err}"
            );
        }
        let c = Client::builder("http://trino:8080")
            .user("u")
            .spooling_encodings(Some(vec!["json+zstd".into(), "json".into()]))
            .build()
            .unwrap();
        let h = c
            .inner
            .request_headers(Kind::Statement, &c.inner.statement_url())
            .unwrap();
        assert_eq!(h["x-trino-query-data-encoding"], "json+zstd,json");
    }

    #[test]
    fn secrets_do_not_print() {
        let b = Client::builder("https://trino")
            .user("u")
            .basic_auth("u", Secret::new("hunter2"));
        assert!(!format!("{b:?}").contains("hunter2"));
        let c = b.build().unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn parses_oauth_challenges() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::WWW_AUTHENTICATE,
            r#"Bearer x_redirect_server="https://c/oauth2/initiate/1", x_token_server="https://c/oauth2/token/1""#
                .parse()
                .unwrap(),
        );
        assert_eq!(
            parse_oauth_challenge(&h),
            Some((
                Some("https://c/oauth2/initiate/1".into()),
                "https://c/oauth2/token/1".into()
            ))
        );
        let mut h = HeaderMap::new();
        h.insert(
            http::header::WWW_AUTHENTICATE,
            r#"Bearer realm="Trino", token_type="JWT", Bearer x_redirect_server="r", x_token_server="t""#.parse().unwrap(),
        );
        assert_eq!(
            parse_oauth_challenge(&h),
            Some((Some("r".into()), "t".into()))
        );
    }

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let p = RetryPolicy::default();
        for a in 0..20 {
            let d = p.backoff(a);
            assert!(d <= p.max_backoff, "{d:?}");
            assert!(
                d >= p
                    .initial_backoff
                    .mul_f64(0.5)
                    .min(p.max_backoff.mul_f64(0.5)),
                "{d:?}"
            );
        }
        assert!(p.backoff(10) > p.backoff(0));
    }
}
