//! The client against hostile or broken coordinators (issue 16 items 11 and 13): a `nextUri` on another
//! origin gets no credentials, a `nextUri` that never advances ends the query, and an endless query ends at
//! the query timeout.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use trino_client::{Client, Error, Secret};

/// A page of a running query whose `nextUri` is `next`.
fn running(next: &str) -> String {
    serde_json::json!({
        "id": "20261202_000000_00000_hostl",
        "infoUri": "http://127.0.0.1/ui",
        "nextUri": next,
        "stats": {"state": "RUNNING"}
    })
    .to_string()
}

/// Serves `router` on a free loopback port; returns its base URL.
async fn serve(router: Router) -> String {
    serve_at(|_| router).await
}

/// Serves the router `make` builds for its own base URL (for pages whose `nextUri` points back at it).
async fn serve_at(make: impl FnOnce(&str) -> Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = make(&base);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Option<String>>>>);

async fn record(State(seen): State<Seen>, headers: HeaderMap) -> String {
    seen.0.lock().unwrap().push(
        headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned()),
    );
    serde_json::json!({
        "id": "20261202_000000_00000_hostl",
        "infoUri": "http://127.0.0.1/ui",
        "stats": {"state": "FINISHED"}
    })
    .to_string()
}

/// Item 13: Basic credentials go to the coordinator's origin only; the `nextUri` of another origin (here
/// another port) is followed without them.
#[tokio::test]
async fn credentials_never_follow_a_cross_origin_next_uri() {
    let other_seen = Seen::default();
    let other = serve(
        Router::new()
            .route("/v1/statement/executing/q/1", get(record))
            .with_state(other_seen.clone()),
    )
    .await;
    let own_seen = Seen::default();
    let next = format!("{other}/v1/statement/executing/q/1");
    let coordinator = serve(
        Router::new()
            .route(
                "/v1/statement",
                post(move |State(seen): State<Seen>, headers: HeaderMap| {
                    let next = next.clone();
                    async move {
                        let _ = record(State(seen), headers).await;
                        running(&next)
                    }
                }),
            )
            .with_state(own_seen.clone()),
    )
    .await;
    let client = Client::builder(coordinator)
        .user("alice")
        .basic_auth("alice", Secret::new("hunter2"))
        .allow_insecure_auth(true)
        .build()
        .unwrap();
    client.fetch_all("SELECT 1").await.unwrap();
    let own = own_seen.0.lock().unwrap().clone();
    assert_eq!(own.len(), 1);
    assert!(
        own[0].as_deref().is_some_and(|a| a.starts_with("Basic ")),
        "the coordinator itself gets the credentials: {own:?}"
    );
    let other = other_seen.0.lock().unwrap().clone();
    assert_eq!(
        other,
        [None],
        "the other origin was asked without credentials"
    );
}

/// Item 11: a coordinator that answers every poll with the same `nextUri` ends the query with a protocol
/// error instead of being polled forever.
#[tokio::test]
async fn a_next_uri_that_never_advances_ends_the_query() {
    let url = serve_at(|base| {
        let page = running(&format!("{base}/v1/statement/executing/q/7"));
        let again = page.clone();
        Router::new()
            .route("/v1/statement", post(move || async move { page }))
            .route(
                "/v1/statement/executing/q/7",
                get(move || async move { again }),
            )
    })
    .await;
    let client = Client::builder(url).user("alice").build().unwrap();
    let err = tokio::time::timeout(Duration::from_secs(30), client.fetch_all("SELECT 1"))
        .await
        .expect("the client gives up by itself")
        .unwrap_err();
    assert!(
        matches!(&err, Error::Protocol { message, .. } if message.contains("did not advance")),
        "{err}"
    );
}

/// Item 11: a query whose `nextUri` advances forever ends at the client's query timeout.
#[tokio::test]
async fn an_endless_query_ends_at_the_query_timeout() {
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let url = serve_at(|base| {
        let first = running(&format!("{base}/v1/statement/executing/q/0"));
        let base = base.to_owned();
        Router::new()
            .route("/v1/statement", post(move || async move { first }))
            .route(
                "/v1/statement/executing/q/{token}",
                get(move || {
                    let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    let page = running(&format!("{base}/v1/statement/executing/q/{n}"));
                    async move {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        page
                    }
                }),
            )
    })
    .await;
    let client = Client::builder(url)
        .user("alice")
        .query_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let err = tokio::time::timeout(Duration::from_secs(30), client.fetch_all("SELECT 1"))
        .await
        .expect("the client gives up by itself")
        .unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err}");
}
