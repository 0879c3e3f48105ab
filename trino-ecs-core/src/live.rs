//! Changes to a running cluster through the Trino client: `CREATE CATALOG` for dynamic catalog management
//! (so analysts see a new catalog without a restart), and the active-worker count for `status`.
//!
//! The catalog's secrets stay `${ENV:VAR}` references in the statement (Trino logs statement text); the
//! variables reach the containers through the task definition, so deploy the cluster (which rolls the services
//! with the new secret references) before or together with `CREATE CATALOG`.

use crate::error::{Error, Result};

/// `"name"` with embedded quotes doubled.
fn identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'value'` with embedded quotes doubled.
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// The `CREATE CATALOG` statement for a rendered catalog (its properties, `connector.name` first).
pub fn create_catalog_sql(name: &str, properties: &[(String, String)]) -> Result<String> {
    let connector = properties
        .iter()
        .find(|(k, _)| k == "connector.name")
        .map(|(_, v)| v.clone())
        .ok_or_else(|| Error::InvalidConfig {
            field: format!("catalogs.{name}"),
            reason: "the rendered catalog has no connector.name".into(),
        })?;
    if !connector
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(Error::InvalidConfig {
            field: format!("catalogs.{name}"),
            reason: format!("connector name {connector:?} is not an identifier"),
        });
    }
    let with: Vec<String> = properties
        .iter()
        .filter(|(k, _)| k != "connector.name")
        .map(|(k, v)| format!("{} = {}", identifier(k), literal(v)))
        .collect();
    let mut sql = format!("CREATE CATALOG {} USING {connector}", identifier(name));
    if !with.is_empty() {
        sql.push_str(&format!(" WITH ({})", with.join(", ")));
    }
    Ok(sql)
}

/// Runs `CREATE CATALOG` on the running cluster (needs `catalog.management=dynamic`).
pub async fn create_catalog(
    client: &trino_client::Client,
    name: &str,
    properties: &[(String, String)],
) -> Result<()> {
    let sql = create_catalog_sql(name, properties)?;
    client.fetch_all(&sql).await.map_err(|e| Error::Trino {
        node: "coordinator".into(),
        reason: format!("CREATE CATALOG {name}: {e}"),
    })?;
    Ok(())
}

/// Runs `DROP CATALOG IF EXISTS` on the running cluster: undoes a [`create_catalog`] whose publication failed.
pub async fn drop_catalog(client: &trino_client::Client, name: &str) -> Result<()> {
    let sql = format!("DROP CATALOG IF EXISTS {}", identifier(name));
    client.fetch_all(&sql).await.map_err(|e| Error::Trino {
        node: "coordinator".into(),
        reason: format!("DROP CATALOG {name}: {e}"),
    })?;
    Ok(())
}

/// Makes a plan's catalog changes on the running coordinator: each catalog is dropped (`DROP CATALOG IF
/// EXISTS`) and, when it has a new file, created from it (`CREATE CATALOG`). Trino lets a running query
/// finish with the catalog it started with; a query starting between a changed catalog's DROP and CREATE
/// (milliseconds) does not find it. Every statement is idempotent, so a run that died midway is simply made
/// again. On a failure, every change made so far is undone in reverse (each catalog back to its old file),
/// so the coordinator keeps the catalogs it had, and the error names the catalog and Trino's answer.
pub async fn apply_catalog_changes(
    client: &trino_client::Client,
    changes: &[crate::plan::CatalogChange],
) -> Result<()> {
    for (i, change) in changes.iter().enumerate() {
        let Err(e) = set_catalog(client, &change.name, change.to.as_deref()).await else {
            continue;
        };
        let mut failed = Vec::new();
        for undo in changes[..=i].iter().rev() {
            if let Err(u) = set_catalog(client, &undo.name, undo.from.as_deref()).await {
                failed.push(format!("{}: {u}", undo.name));
            }
        }
        return Err(Error::LiveCatalog {
            catalog: change.name.clone(),
            reason: e.to_string(),
            undone: failed.is_empty(),
            undo: if failed.is_empty() {
                "every change before it was undone: the coordinator has the catalogs it had, and the \
                 service was not touched"
                    .to_owned()
            } else {
                format!(
                    "undoing the changes before it failed too ({}): the service is marked, and the next \
                     deploy sets every catalog of the running coordinator again",
                    failed.join("; ")
                )
            },
        });
    }
    Ok(())
}

/// Drops catalog `name` if it exists and creates it from `file` (a rendered `.properties` text) if given.
async fn set_catalog(client: &trino_client::Client, name: &str, file: Option<&str>) -> Result<()> {
    drop_catalog(client, name).await?;
    if let Some(text) = file {
        let properties: Vec<(String, String)> = trino_catalogs::properties::read_properties(text)
            .map_err(|reason| Error::InvalidConfig {
                field: format!("catalogs.{name}"),
                reason: format!("the rendered catalog file does not read: {reason}"),
            })?
            .into_iter()
            .collect();
        create_catalog(client, name, &properties).await?;
    }
    Ok(())
}

/// The statement [`active_workers`] runs.
pub const ACTIVE_WORKERS_SQL: &str =
    "SELECT count(*) FROM system.runtime.nodes WHERE NOT coordinator AND state = 'active'";

/// Active workers as the coordinator sees them (`system.runtime.nodes`).
pub async fn active_workers(client: &trino_client::Client) -> Result<i64> {
    count(client, ACTIVE_WORKERS_SQL, "counting workers").await
}

/// The statement [`queued_queries`] runs.
pub const QUEUED_SQL: &str = "SELECT count(*) FROM system.runtime.queries WHERE state = 'QUEUED'";

/// Queries waiting in the coordinator's queue (`system.runtime.queries`): with [`active_workers`], the
/// queued-queries-per-worker metric the step scaling policy's alarm watches.
pub async fn queued_queries(client: &trino_client::Client) -> Result<i64> {
    count(client, QUEUED_SQL, "counting queued queries").await
}

async fn count(client: &trino_client::Client, sql: &str, what: &str) -> Result<i64> {
    let result = client.fetch_all(sql).await.map_err(|e| Error::Trino {
        node: "coordinator".into(),
        reason: format!("{what}: {e}"),
    })?;
    match result.rows.first().and_then(|r| r.get(0)) {
        Some(trino_client::Value::BigInt(n)) => Ok(*n),
        other => Err(Error::Trino {
            node: "coordinator".into(),
            reason: format!("{what}: unexpected count {other:?}"),
        }),
    }
}

/// The catalogs of the running cluster (`SHOW CATALOGS`).
pub async fn catalogs(client: &trino_client::Client) -> Result<Vec<String>> {
    let result = client
        .fetch_all("SHOW CATALOGS")
        .await
        .map_err(|e| Error::Trino {
            node: "coordinator".into(),
            reason: format!("SHOW CATALOGS: {e}"),
        })?;
    result
        .rows
        .iter()
        .map(|row| match row.get(0) {
            Some(trino_client::Value::Varchar(name)) => Ok(name.clone()),
            other => Err(Error::Trino {
                node: "coordinator".into(),
                reason: format!("unexpected SHOW CATALOGS row {other:?}"),
            }),
        })
        .collect()
}

/// Unfinished tasks per worker, keyed by the worker's `http_uri` (e.g. `http://10.0.1.7:8080`), as the coordinator
/// sees them (`system.runtime.tasks` joined with `system.runtime.nodes`). Trino serves a worker's own task list
/// (`GET /v1/task`) only to other nodes (`@ResourceSecurity(INTERNAL_ONLY)`), so this is the way an operator
/// learns how busy each worker is. Only ACTIVE workers appear: Trino reads `system.runtime.tasks` from active
/// nodes only, so a draining worker's tasks are invisible here (drain waits for the worker to exit instead).
pub async fn active_tasks_by_node(
    client: &trino_client::Client,
) -> Result<std::collections::BTreeMap<String, u32>> {
    let result = client
        .fetch_all(ACTIVE_TASKS_SQL)
        .await
        .map_err(|e| Error::Trino {
            node: "coordinator".into(),
            reason: format!("counting tasks per worker: {e}"),
        })?;
    let mut out = std::collections::BTreeMap::new();
    for row in &result.rows {
        match (row.get(0), row.get(1)) {
            (Some(trino_client::Value::Varchar(uri)), Some(trino_client::Value::BigInt(n))) => {
                out.insert(
                    uri.trim_end_matches('/').to_owned(),
                    u32::try_from(*n).unwrap_or(u32::MAX),
                );
            }
            other => {
                return Err(Error::Trino {
                    node: "coordinator".into(),
                    reason: format!("unexpected row from system.runtime.tasks: {other:?}"),
                });
            }
        }
    }
    Ok(out)
}

/// The statement [`active_tasks_by_node`] runs.
pub const ACTIVE_TASKS_SQL: &str = "SELECT n.http_uri, count(t.task_id) FROM system.runtime.nodes n \
LEFT JOIN system.runtime.tasks t ON t.node_id = n.node_id AND t.state IN ('PLANNED', 'RUNNING', 'FLUSHING') \
WHERE NOT n.coordinator GROUP BY n.http_uri";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_catalog_quotes_names_and_values_and_keeps_env_references() {
        let props = vec![
            ("connector.name".to_owned(), "mysql".to_owned()),
            (
                "connection-url".to_owned(),
                "jdbc:mysql://db:3306".to_owned(),
            ),
            (
                "connection-password".to_owned(),
                "${ENV:TRINO_CATALOG_SALES_PASSWORD}".to_owned(),
            ),
            ("odd'key".to_owned(), "it's".to_owned()),
        ];
        assert_eq!(
            create_catalog_sql("sales", &props).unwrap(),
            "CREATE CATALOG \"sales\" USING mysql WITH (\"connection-url\" = 'jdbc:mysql://db:3306', \
             \"connection-password\" = '${ENV:TRINO_CATALOG_SALES_PASSWORD}', \"odd'key\" = 'it''s')"
        );
    }

    #[tokio::test]
    async fn active_workers_and_create_catalog_go_through_the_trino_client() {
        let props = vec![
            ("connector.name".to_owned(), "memory".to_owned()),
            ("memory.max-data-per-node".to_owned(), "128MB".to_owned()),
        ];
        let create = create_catalog_sql("scratch", &props).unwrap();
        let server = crate::testutil::coordinator(&[
            (
                ACTIVE_WORKERS_SQL,
                &[("_col0", "bigint")],
                serde_json::json!([[3]]),
            ),
            (QUEUED_SQL, &[("_col0", "bigint")], serde_json::json!([[7]])),
            (
                &create,
                &[("result", "boolean")],
                serde_json::json!([[true]]),
            ),
        ])
        .await;
        let client = trino_client::Client::builder(server.url().as_str())
            .user(crate::render::OPS_USER)
            .build()
            .unwrap();
        assert_eq!(active_workers(&client).await.unwrap(), 3);
        assert_eq!(queued_queries(&client).await.unwrap(), 7);
        create_catalog(&client, "scratch", &props).await.unwrap();
        let seen = crate::testutil::statements(&server);
        assert_eq!(
            seen,
            [
                (
                    "trino-lake-ops".to_owned(),
                    "SELECT count(*) FROM system.runtime.nodes WHERE NOT coordinator AND state = 'active'".to_owned()
                ),
                (
                    "trino-lake-ops".to_owned(),
                    "SELECT count(*) FROM system.runtime.queries WHERE state = 'QUEUED'".to_owned()
                ),
                (
                    "trino-lake-ops".to_owned(),
                    "CREATE CATALOG \"scratch\" USING memory WITH (\"memory.max-data-per-node\" = '128MB')".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn create_catalog_needs_a_connector() {
        let err = create_catalog_sql("x", &[("a".into(), "b".into())]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid config `catalogs.x`: the rendered catalog has no connector.name"
        );
    }
}

/// A query that has not finished, as `system.runtime.queries` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningQuery {
    /// The query id.
    pub id: String,
    /// Who runs it.
    pub user: String,
    /// Its state (`RUNNING`, `QUEUED`, ...).
    pub state: String,
}

/// The statement [`running_queries`] runs: every unfinished query except the ops user's own (this one, the drain
/// loop's metric and load queries), which the tool runs itself and which end in moments.
pub fn running_queries_sql() -> String {
    format!(
        "SELECT query_id, \"user\", state FROM system.runtime.queries \
         WHERE state NOT IN ('FINISHED', 'FAILED') AND \"user\" <> {} ORDER BY created",
        literal(crate::render::OPS_USER)
    )
}

/// The users' unfinished queries on the coordinator.
pub async fn running_queries(client: &trino_client::Client) -> Result<Vec<RunningQuery>> {
    let result = client
        .fetch_all(&running_queries_sql())
        .await
        .map_err(|e| Error::Trino {
            node: "coordinator".into(),
            reason: format!("listing running queries: {e}"),
        })?;
    let text = |v: Option<&trino_client::Value>| match v {
        Some(trino_client::Value::Varchar(s)) => s.clone(),
        other => format!("{other:?}"),
    };
    Ok(result
        .rows
        .iter()
        .map(|row| RunningQuery {
            id: text(row.get(0)),
            user: text(row.get(1)),
            state: text(row.get(2)),
        })
        .collect())
}

/// How long a restarted coordinator did not serve, as [`watch_restart`] measured it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outage {
    /// From the start of the watch to the first request the old coordinator no longer answered.
    pub down_after: std::time::Duration,
    /// From that request to the first query the new coordinator ran with a worker active.
    pub unavailable: std::time::Duration,
    /// Active workers when it served again.
    pub workers: i64,
}

impl std::fmt::Display for Outage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "coordinator unavailable for {:.1} s (stopped {:.1} s into the rollout; serving again with {} active worker(s))",
            self.unavailable.as_secs_f64(),
            self.down_after.as_secs_f64(),
            self.workers
        )
    }
}

/// Watches a coordinator that is being replaced, probing `client` (which must reach whichever coordinator
/// serves, e.g. the analysts' endpoint or the Service Connect alias) every `poll`: the old one answering, then
/// nothing answering, then the new one running a query with at least one active worker. Fails after `timeout`.
pub async fn watch_restart(
    client: &trino_client::Client,
    poll: std::time::Duration,
    timeout: std::time::Duration,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Outage> {
    let started = std::time::Instant::now();
    let mut down: Option<std::time::Instant> = None;
    // One failed probe may be a slow answer; two in a row mean the old coordinator is gone (the outage is counted
    // from the first of them).
    let mut failed: Option<std::time::Instant> = None;
    loop {
        let probe = active_workers(client).await;
        match (&probe, down) {
            (Err(_), None) => match failed {
                Some(first) => {
                    down = Some(first);
                    progress("the old coordinator stopped answering");
                }
                None => failed = Some(std::time::Instant::now()),
            },
            (Ok(_), None) => failed = None,
            (Ok(workers), Some(at)) if *workers > 0 => {
                return Ok(Outage {
                    down_after: at - started,
                    unavailable: at.elapsed(),
                    workers: *workers,
                });
            }
            _ => {}
        }
        if started.elapsed() >= timeout {
            return Err(Error::Timeout {
                what: if down.is_none() {
                    "the old coordinator to stop (ECS replaces it once the deployment starts)"
                        .to_owned()
                } else {
                    "the new coordinator to serve with an active worker".to_owned()
                },
                seconds: timeout.as_secs(),
            });
        }
        tokio::time::sleep(poll).await;
    }
}
