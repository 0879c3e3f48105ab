//! [`NodeStateApi`] over HTTP: a node's `/v1/info` and `/v1/info/state`, and the worker load from the coordinator.

use std::time::Duration;

use async_trait::async_trait;

use super::{NodeInfo, NodeState, NodeStateApi};
use crate::error::{Error, Result};
use crate::render::OPS_USER;

/// [`NodeStateApi`] over HTTP, acting as the ops user the access-control rules allow to shut nodes down.
#[derive(Debug, Clone)]
pub struct HttpNodeApi {
    http: reqwest::Client,
    coordinator: Option<trino_client::Client>,
}

impl Default for HttpNodeApi {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpNodeApi {
    /// A client with short timeouts (nodes are on the same network). Connections are not pooled: a node that
    /// exited must show as unreachable on the next poll, not as an error on a stale connection.
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(0)
            .build()
            .expect("a reqwest client builds");
        Self {
            http,
            coordinator: None,
        }
    }

    /// Asks this coordinator (through trino-client, as the ops user) how busy each worker is, so the least busy
    /// workers are drained.
    pub fn with_coordinator(mut self, coordinator: trino_client::Client) -> Self {
        self.coordinator = Some(coordinator);
        self
    }

    /// `GET /v1/info`.
    pub async fn info(&self, node: &str) -> Result<NodeInfo> {
        let response = self.get(node, "/v1/info").await?;
        response
            .json()
            .await
            .map_err(|e| trino(node, format!("unreadable /v1/info: {e}")))
    }

    async fn get(&self, node: &str, path: &str) -> Result<reqwest::Response> {
        let response = self
            .http
            .get(format!("{}{path}", node.trim_end_matches('/')))
            .header("X-Trino-User", OPS_USER)
            .send()
            .await
            .map_err(|e| trino(node, format!("GET {path}: {e}")))?;
        if !response.status().is_success() {
            return Err(trino(
                node,
                format!("GET {path}: HTTP {}", response.status()),
            ));
        }
        Ok(response)
    }
}

fn trino(node: &str, reason: String) -> Error {
    Error::Trino {
        node: node.to_owned(),
        reason,
    }
}

/// Nothing listens at the node's address (refused): the process has exited, or has not started listening yet. A
/// request that timed out is not gone: a busy or paused JVM still accepts connections, and calling it gone
/// would let its protection go while it runs queries.
fn gone(e: &reqwest::Error) -> bool {
    e.is_connect() && !e.is_timeout()
}

#[async_trait]
impl NodeStateApi for HttpNodeApi {
    async fn state(&self, node: &str) -> Result<NodeState> {
        let url = format!("{}/v1/info/state", node.trim_end_matches('/'));
        let response = match self
            .http
            .get(&url)
            .header("X-Trino-User", OPS_USER)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) if gone(&e) => return Ok(NodeState::Gone),
            Err(e) => return Err(trino(node, format!("GET /v1/info/state: {e}"))),
        };
        if !response.status().is_success() {
            return Err(trino(
                node,
                format!("GET /v1/info/state: HTTP {}", response.status()),
            ));
        }
        let state: String = response
            .json()
            .await
            .map_err(|e| trino(node, format!("unreadable state: {e}")))?;
        Ok(match state.as_str() {
            "ACTIVE" => NodeState::Active,
            "SHUTTING_DOWN" => NodeState::ShuttingDown,
            "INACTIVE" => NodeState::Inactive,
            _ => NodeState::Other(state),
        })
    }

    async fn shut_down(&self, node: &str) -> Result<()> {
        let response = self
            .http
            .put(format!("{}/v1/info/state", node.trim_end_matches('/')))
            .header("X-Trino-User", OPS_USER)
            .header("Content-Type", "application/json")
            .body("\"SHUTTING_DOWN\"")
            .send()
            .await
            .map_err(|e| trino(node, format!("PUT /v1/info/state: {e}")))?;
        match response.status().as_u16() {
            200..=299 => Ok(()),
            403 => Err(Error::AccessDenied {
                operation: "trino:PUT /v1/info/state",
                message: format!(
                    "the access-control rules do not let {OPS_USER} shut nodes down (HTTP 403 from {node})"
                ),
            }),
            code => Err(trino(node, format!("PUT /v1/info/state: HTTP {code}"))),
        }
    }

    async fn load(&self) -> Result<std::collections::BTreeMap<String, u32>> {
        match &self.coordinator {
            Some(client) => crate::live::active_tasks_by_node(client).await,
            None => Ok(Default::default()),
        }
    }
}
