//! Test support shared by the unit tests that talk to a coordinator: trino-client's replay coordinator (a real
//! HTTP server on loopback) scripted with one finished page per statement.

use trino_client::replay::{ReplayServer, Script};

/// A statement the coordinator answers: its SQL, the result's `(name, type)` columns, and the rows.
pub type Answer<'a> = (&'a str, &'a [(&'a str, &'a str)], serde_json::Value);

/// A replay coordinator answering each statement with one finished page.
pub async fn coordinator(statements: &[Answer<'_>]) -> ReplayServer {
    let server = ReplayServer::start()
        .await
        .expect("start the replay coordinator");
    for (sql, columns, data) in statements {
        let columns: Vec<serde_json::Value> = columns
            .iter()
            .map(|(name, ty)| {
                serde_json::json!({
                    "name": name,
                    "type": ty,
                    "typeSignature": {"rawType": ty, "arguments": []}
                })
            })
            .collect();
        server.add_query(
            sql,
            Script::new().page(serde_json::json!({
                "id": "20261126_000000_00000_lake0",
                "columns": columns,
                "data": data,
                "stats": {"state": "FINISHED"}
            })),
        );
    }
    server
}

/// The statements the coordinator received, as (user, SQL) in arrival order.
pub fn statements(server: &ReplayServer) -> Vec<(String, String)> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.starts_with("/v1/statement"))
        .map(|r| (r.header("x-trino-user").unwrap_or("").to_owned(), r.body))
        .collect()
}
