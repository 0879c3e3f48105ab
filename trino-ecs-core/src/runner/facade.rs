//! The ECS task calls the emulator cannot answer, answered from the local runner's tasks.
//!
//! moto stores services but runs no task, so `ListTasks` is empty and `UpdateTaskProtection` is not
//! implemented. [`Facade`] is an endpoint in front of the emulator: for the runner's cluster it answers
//! `ListTasks`, `DescribeTasks`, `UpdateTaskProtection` and `GetTaskProtection` from the tasks the runner runs
//! (their task definition, their own address, their protection, which the runner honours as ECS does), and it
//! forwards every other request, byte for byte, to the emulator. Pointing an SDK at it (as `endpoint_url`)
//! lets the drain code and `cargo xtask deploy` run unchanged against real Trino tasks.
//!
//! It speaks ECS's JSON 1.1 protocol (`X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Operation>`) and
//! names no SDK type. Task ARNs are `arn:aws:ecs:<region>:<account>:task/<cluster>/<runner task id>`.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{LocalRunner, TaskLauncher, TaskSource};
use crate::error::{Error, Result};

/// The account moto reports.
const ACCOUNT: &str = "123456789012";
const TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113.";

/// One running task as the facade reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRow {
    /// The runner's task id.
    pub id: String,
    /// Its service.
    pub service: String,
    /// The task definition ARN.
    pub task_definition: String,
    /// Its own address.
    pub address: Ipv4Addr,
    /// When its protection lapses, if protected.
    pub protected_until: Option<Instant>,
}

/// What the facade needs from the runner.
#[async_trait]
pub trait TaskTable: Send + Sync {
    /// The running tasks.
    async fn rows(&self) -> Vec<TaskRow>;
    /// Sets or clears protection; false when the task does not run.
    async fn protect(&self, id: &str, until: Option<Instant>) -> bool;
}

#[async_trait]
impl<S, L> TaskTable for tokio::sync::Mutex<LocalRunner<S, L>>
where
    S: TaskSource,
    L: TaskLauncher,
{
    async fn rows(&self) -> Vec<TaskRow> {
        let runner = self.lock().await;
        runner
            .tasks()
            .iter()
            .map(|t| TaskRow {
                id: t.id.clone(),
                service: t.service.clone(),
                task_definition: t.task_definition.clone(),
                address: t.address,
                protected_until: runner.protected_until(&t.id),
            })
            .collect()
    }

    async fn protect(&self, id: &str, until: Option<Instant>) -> bool {
        self.lock().await.set_protection(id, until)
    }
}

struct Shared {
    table: Arc<dyn TaskTable>,
    upstream: String,
    cluster: String,
    region: String,
    http: reqwest::Client,
}

/// A running facade; dropping it stops it.
pub struct Facade {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Facade {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Facade {
    /// Serves on a free loopback port: the task calls of `cluster` from `table`, everything else forwarded
    /// to `upstream` (the emulator's endpoint).
    pub async fn start(
        table: Arc<dyn TaskTable>,
        upstream: &str,
        cluster: &str,
        region: &str,
    ) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| local("listen for the ECS facade", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| local("read the ECS facade's address", e))?;
        let shared = Arc::new(Shared {
            table,
            upstream: upstream.trim_end_matches('/').to_owned(),
            cluster: cluster.to_owned(),
            region: region.to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .map_err(|e| local("build the ECS facade's client", e))?,
        });
        let app = axum::Router::new().fallback(handle).with_state(shared);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            url: format!("http://{addr}"),
            task,
        })
    }

    /// The endpoint URL to give an SDK.
    pub fn url(&self) -> &str {
        &self.url
    }
}

fn local(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Local {
        what: what.to_owned(),
        reason: e.to_string(),
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .unwrap_or_default()
        .to_owned();
    if matches!(
        operation.as_str(),
        "ListTasks" | "DescribeTasks" | "UpdateTaskProtection" | "GetTaskProtection"
    ) && let Ok(request) = serde_json::from_slice::<Value>(&body)
        && last_segment(request["cluster"].as_str().unwrap_or("default")) == shared.cluster
    {
        let answer = answer(&shared, &operation, &request).await;
        return (
            StatusCode::OK,
            [("content-type", "application/x-amz-json-1.1")],
            answer.to_string(),
        )
            .into_response();
    }
    forward(&shared, method, uri, headers, body).await
}

/// `arn:...:task/cluster/id` -> `id`; `cluster` -> `cluster`.
fn last_segment(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

async fn answer(shared: &Shared, operation: &str, request: &Value) -> Value {
    let rows = shared.table.rows().await;
    let arn = |id: &str| {
        format!(
            "arn:aws:ecs:{}:{ACCOUNT}:task/{}/{id}",
            shared.region, shared.cluster
        )
    };
    let named: Vec<String> = request["tasks"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|v| v.as_str())
                .map(|s| last_segment(s).to_owned())
                .collect()
        })
        .unwrap_or_default();
    let missing = |reason: &str| -> Vec<Value> {
        named
            .iter()
            .filter(|id| !rows.iter().any(|r| &r.id == *id))
            .map(|id| json!({"arn": arn(id), "reason": reason}))
            .collect()
    };
    match operation {
        "ListTasks" => {
            let stopped = request["desiredStatus"].as_str() == Some("STOPPED");
            let service = request["serviceName"].as_str().map(last_segment);
            let family = request["family"].as_str();
            let arns: Vec<String> = rows
                .iter()
                .filter(|_| !stopped)
                .filter(|r| service.is_none_or(|s| s == r.service))
                .filter(|r| {
                    family.is_none_or(|f| {
                        last_segment(&r.task_definition).split(':').next() == Some(f)
                    })
                })
                .map(|r| arn(&r.id))
                .collect();
            json!({ "taskArns": arns })
        }
        "DescribeTasks" => {
            let tasks: Vec<Value> = rows
                .iter()
                .filter(|r| named.contains(&r.id))
                .map(|r| {
                    json!({
                        "taskArn": arn(&r.id),
                        "clusterArn": format!("arn:aws:ecs:{}:{ACCOUNT}:cluster/{}", shared.region, shared.cluster),
                        "taskDefinitionArn": r.task_definition,
                        "group": format!("service:{}", r.service),
                        "lastStatus": "RUNNING",
                        "desiredStatus": "RUNNING",
                        "launchType": "FARGATE",
                        "attachments": [{
                            "id": r.id,
                            "type": "ElasticNetworkInterface",
                            "status": "ATTACHED",
                            "details": [{"name": "privateIPv4Address", "value": r.address.to_string()}],
                        }],
                    })
                })
                .collect();
            json!({ "tasks": tasks, "failures": missing("MISSING") })
        }
        "UpdateTaskProtection" => {
            let enabled = request["protectionEnabled"].as_bool().unwrap_or(false);
            // ECS's default is 2 hours.
            let minutes = request["expiresInMinutes"].as_u64().unwrap_or(120);
            let until = enabled.then(|| Instant::now() + Duration::from_secs(minutes * 60));
            let mut protected = Vec::new();
            for id in &named {
                if shared.table.protect(id, until).await {
                    protected.push(protection_json(&arn(id), until));
                }
            }
            json!({ "protectedTasks": protected, "failures": missing("TASK_NOT_VALID") })
        }
        _ => {
            let protected: Vec<Value> = rows
                .iter()
                .filter(|r| named.is_empty() || named.contains(&r.id))
                .map(|r| protection_json(&arn(&r.id), r.protected_until))
                .collect();
            json!({ "protectedTasks": protected, "failures": missing("MISSING") })
        }
    }
}

fn protection_json(arn: &str, until: Option<Instant>) -> Value {
    match until {
        Some(until) => {
            let at = SystemTime::now() + until.saturating_duration_since(Instant::now());
            let epoch = at
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64();
            json!({"taskArn": arn, "protectionEnabled": true, "expirationDate": epoch})
        }
        None => json!({"taskArn": arn, "protectionEnabled": false}),
    }
}

async fn forward(
    shared: &Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = shared
        .http
        .request(method, format!("{}{path}", shared.upstream))
        .body(body);
    for (name, value) in &headers {
        if !matches!(
            name.as_str(),
            "host" | "content-length" | "transfer-encoding" | "connection"
        ) {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(upstream) => {
            let status = upstream.status();
            let mut out = HeaderMap::new();
            for (name, value) in upstream.headers() {
                if !matches!(
                    name.as_str(),
                    "content-length" | "transfer-encoding" | "connection"
                ) {
                    out.append(name, value.clone());
                }
            }
            let bytes = upstream.bytes().await.unwrap_or_default();
            (status, out, bytes).into_response()
        }
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            format!(
                "ECS facade: the emulator at {} did not answer: {e}",
                shared.upstream
            ),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Two tasks of the worker service; protection recorded.
    struct Table(Mutex<Vec<TaskRow>>);

    #[async_trait]
    impl TaskTable for Table {
        async fn rows(&self) -> Vec<TaskRow> {
            self.0.lock().unwrap().clone()
        }
        async fn protect(&self, id: &str, until: Option<Instant>) -> bool {
            let mut rows = self.0.lock().unwrap();
            match rows.iter_mut().find(|r| r.id == id) {
                Some(r) => {
                    r.protected_until = until;
                    true
                }
                None => false,
            }
        }
    }

    fn row(id: &str, td: &str, n: u8) -> TaskRow {
        TaskRow {
            id: id.into(),
            service: "lake-worker".into(),
            task_definition: format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/{td}"),
            address: Ipv4Addr::new(127, 0, 77, n),
            protected_until: None,
        }
    }

    /// The SDK's own ECS client and the drain code's fleet against the facade: tasks listed and described
    /// from the table, protection set and cleared through it, and an operation it does not serve forwarded
    /// to the upstream (here a stand-in that answers every request with one recognisable body).
    #[tokio::test]
    async fn the_sdk_and_the_worker_fleet_read_tasks_and_set_protection_through_it() {
        use crate::drain::{Protection, WorkerFleet as _};
        let upstream = axum::Router::new().fallback(|headers: HeaderMap| async move {
            let target = headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            (
                [("content-type", "application/x-amz-json-1.1")],
                json!({"services": [{"serviceName": "lake-worker", "desiredCount": 2, "taskDefinition": target}]})
                    .to_string(),
            )
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream_url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, upstream).await });

        let table = Arc::new(Table(Mutex::new(vec![
            row("lake-worker-2", "lake-worker:1", 2),
            row("lake-worker-3", "lake-worker:2", 3),
        ])));
        let facade = Facade::start(table.clone(), &upstream_url, "lake", "us-east-1")
            .await
            .unwrap();
        let sdk = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(facade.url())
            .credentials_provider(aws_sdk_ecs::config::SharedCredentialsProvider::new(
                aws_sdk_ecs::config::Credentials::for_tests(),
            ))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let fleet = crate::drain::EcsWorkerFleet::new(&sdk, "lake", "lake-worker");

        let tasks = fleet.tasks().await.unwrap();
        assert_eq!(
            tasks,
            [
                crate::drain::WorkerTask {
                    arn: format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task/lake/lake-worker-2"),
                    node: Some("http://127.0.77.2:8080".into()),
                    task_definition: format!(
                        "arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/lake-worker:1"
                    ),
                    deployment: None,
                },
                crate::drain::WorkerTask {
                    arn: format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task/lake/lake-worker-3"),
                    node: Some("http://127.0.77.3:8080".into()),
                    task_definition: format!(
                        "arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/lake-worker:2"
                    ),
                    deployment: None,
                }
            ]
        );
        fleet
            .protect(&[tasks[0].arn.clone()], Protection::For { minutes: 10 })
            .await
            .unwrap();
        let until = table.0.lock().unwrap()[0]
            .protected_until
            .expect("protected");
        let left = until.saturating_duration_since(Instant::now());
        assert!(
            left > Duration::from_secs(590) && left <= Duration::from_secs(600),
            "{left:?}"
        );

        let ecs = aws_sdk_ecs::Client::new(&sdk);
        let got = ecs
            .get_task_protection()
            .cluster("lake")
            .tasks(&tasks[0].arn)
            .send()
            .await
            .unwrap();
        assert!(got.protected_tasks()[0].protection_enabled());
        assert!(got.protected_tasks()[0].expiration_date().is_some());

        fleet
            .protect(&[tasks[0].arn.clone()], Protection::Off)
            .await
            .unwrap();
        assert_eq!(table.0.lock().unwrap()[0].protected_until, None);

        // A task that does not run is a failure ECS would report.
        let out = ecs
            .update_task_protection()
            .cluster("lake")
            .tasks("lake-worker-9")
            .protection_enabled(true)
            .send()
            .await
            .unwrap();
        assert_eq!(out.failures()[0].reason(), Some("TASK_NOT_VALID"));

        // Another cluster's tasks and any other operation go to the emulator.
        let service = fleet.service().await.unwrap();
        assert_eq!(
            service.task_definition,
            "AmazonEC2ContainerServiceV20141113.DescribeServices"
        );
        let other = ecs.list_tasks().cluster("other").send().await.unwrap();
        assert!(
            other.task_arns().is_empty(),
            "forwarded and answered by the upstream, not from the table: {other:?}"
        );
    }
}
