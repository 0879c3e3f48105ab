//! Runs the replay coordinator with the real sample bodies until Ctrl-C, for trying clients by hand:
//!
//! ```text
//! cargo run -p trino-client --features replay --example replay_coordinator
//! cargo xtask query --server http://127.0.0.1:<port> --output json 'SELECT row'
//! ```

use trino_client::replay::{
    ReplayServer, Script, mixed_columns, mixed_rows_json, page_body, sample,
};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let server = ReplayServer::start().await?;
    server.record_requests(false);
    let mut running = sample("rust-client__models__query_result_running.json");
    let queued = sample("rust-client__models__query_result_queued.json");
    server.add_query(
        "SELECT * FROM orders",
        Script::new()
            .page(queued.clone())
            .page(running.clone())
            .page({
                running["stats"]["state"] = "FINISHED".into();
                running
            }),
    );
    server.add_query(
        "SELECT * FROM nation",
        Script::new().page(queued).page(sample(
            "python-client__conftest__sample_get_error_response_data.json",
        )),
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
        body["id"] = format!("types_{name}").into();
        server.add_query(&format!("SELECT {name}"), Script::new().page(body));
    }
    let columns = mixed_columns();
    let mut script = Script::new();
    for p in 0..10 {
        let rows = mixed_rows_json(p * 100, 100);
        script = script.raw_page(page_body(
            "mixed",
            &columns,
            Some(&rows),
            if p == 9 { "FINISHED" } else { "RUNNING" },
            0,
        ));
    }
    server.add_query("SELECT * FROM mixed", script);
    server.add_query(
        "SELECT empty",
        Script::new().raw_page(page_body("empty", &columns, None, "FINISHED", 0)),
    );
    println!("{}", server.url());
    tokio::signal::ctrl_c().await
}
