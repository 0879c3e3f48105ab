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

/// Active workers as the coordinator sees them (`system.runtime.nodes`).
pub async fn active_workers(client: &trino_client::Client) -> Result<i64> {
    let result = client
        .fetch_all(
            "SELECT count(*) FROM system.runtime.nodes WHERE NOT coordinator AND state = 'active'",
        )
        .await
        .map_err(|e| Error::Trino {
            node: "coordinator".into(),
            reason: format!("counting workers: {e}"),
        })?;
    match result.rows.first().and_then(|r| r.get(0)) {
        Some(trino_client::Value::BigInt(n)) => Ok(*n),
        other => Err(Error::Trino {
            node: "coordinator".into(),
            reason: format!("unexpected worker count {other:?}"),
        }),
    }
}

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

    /// A fake coordinator on loopback that answers every statement with one finished page and records the SQL
    /// and the user it ran as.
    async fn fake_coordinator(
        data: serde_json::Value,
    ) -> (
        String,
        std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
    ) {
        use axum::extract::State;
        use axum::http::HeaderMap;
        type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;
        let seen: Seen = Default::default();
        async fn statement(
            State((seen, data)): State<(Seen, serde_json::Value)>,
            headers: HeaderMap,
            sql: String,
        ) -> axum::Json<serde_json::Value> {
            let user = headers
                .get("x-trino-user")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            seen.lock().unwrap().push((user, sql));
            axum::Json(serde_json::json!({
                "id": "q1",
                "columns": [{"name": "_col0", "type": "bigint", "typeSignature": {"rawType": "bigint", "arguments": []}}],
                "data": data,
                "stats": {"state": "FINISHED"}
            }))
        }
        let app = axum::Router::new()
            .route("/v1/statement", axum::routing::post(statement))
            .with_state((seen.clone(), data));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, seen)
    }

    #[tokio::test]
    async fn active_workers_and_create_catalog_go_through_the_trino_client() {
        let (url, seen) = fake_coordinator(serde_json::json!([[3]])).await;
        let client = trino_client::Client::builder(url.as_str())
            .user(crate::render::OPS_USER)
            .build()
            .unwrap();
        assert_eq!(active_workers(&client).await.unwrap(), 3);
        let props = vec![
            ("connector.name".to_owned(), "memory".to_owned()),
            ("memory.max-data-per-node".to_owned(), "128MB".to_owned()),
        ];
        create_catalog(&client, "scratch", &props).await.unwrap();
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            [
                (
                    "trino-lake-ops".to_owned(),
                    "SELECT count(*) FROM system.runtime.nodes WHERE NOT coordinator AND state = 'active'".to_owned()
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
