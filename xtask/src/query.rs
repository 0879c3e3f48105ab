//! `cargo xtask query`: run SQL against a Trino coordinator.

use std::io::{Read as _, Write};

use anyhow::Context as _;
use clap::Args;
use trino_client::{Client, Secret};

use crate::common::Global;
use crate::output::{OutputFormat, Printer};

/// Arguments of `query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The coordinator URL, e.g. `http://localhost:8080`.
    #[arg(long, env = "TRINO_SERVER")]
    pub server: String,
    /// The Trino user.
    #[arg(long, env = "TRINO_USER", default_value = "lake")]
    pub user: String,
    /// The password (HTTP Basic; https only unless `--insecure-auth`).
    #[arg(long, env = "TRINO_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Allow credentials over plain http (tests only).
    #[arg(long)]
    pub insecure_auth: bool,
    /// The default catalog.
    #[arg(long)]
    pub catalog: Option<String>,
    /// The default schema.
    #[arg(long)]
    pub schema: Option<String>,
    /// A session property `name=value`; repeatable.
    #[arg(long = "session", value_parser = parse_session_property)]
    pub session: Vec<(String, String)>,
    /// The output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Give up (and cancel the query) after this long, e.g. `90s`, `10m`, `2h`; no limit when absent.
    #[arg(long, env = "TRINO_QUERY_TIMEOUT", value_parser = humantime::parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// The SQL text; read from standard input when absent or `-`.
    pub sql: Option<String>,
}

fn parse_session_property(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("session property {s:?} must look like name=value")),
    }
}

/// Trino rejects a trailing semicolon; people type one anyway.
fn clean_sql(sql: &str) -> String {
    sql.trim().trim_end_matches(';').trim_end().to_string()
}

/// Runs `query`.
pub async fn run(_global: &Global, args: QueryArgs) -> anyhow::Result<()> {
    let sql = match args.sql.as_deref() {
        Some(s) if s != "-" => s.to_string(),
        _ => {
            let mut buf = String::new();
            std::io::stdin()
                .read_to_string(&mut buf)
                .context("reading SQL from standard input")?;
            buf
        }
    };
    let sql = clean_sql(&sql);
    anyhow::ensure!(
        !sql.is_empty(),
        "no SQL given (pass it as an argument or on standard input)"
    );
    let mut builder = Client::builder(&args.server)
        .user(&args.user)
        .source("lake-xtask");
    if let Some(c) = &args.catalog {
        builder = builder.catalog(c);
    }
    if let Some(s) = &args.schema {
        builder = builder.schema(s);
    }
    for (k, v) in &args.session {
        builder = builder.session_property(k, v);
    }
    if let Some(p) = &args.password {
        builder = builder
            .basic_auth(&args.user, Secret::new(p.clone()))
            .allow_insecure_auth(args.insecure_auth);
    }
    if let Some(timeout) = args.timeout {
        builder = builder.query_timeout(timeout);
    }
    let client = builder.build()?;
    let mut stream = client.execute(&sql).await?;
    let stdout = std::io::stdout();
    let terminal = std::io::IsTerminal::is_terminal(&stdout);
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut printer = Printer::new(args.output, terminal);
    while let Some(batch) = stream.next_batch().await {
        let batch = batch?;
        printer.rows(&mut out, &batch)?;
    }
    let status = stream.status();
    printer.finish(&mut out, status.columns.as_deref())?;
    out.flush()?;
    if let (Some(kind), None) = (&status.update_type, &status.columns) {
        match status.update_count {
            Some(n) => eprintln!("{kind}: {n} rows"),
            None => eprintln!("{kind}"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_and_session_parsing() {
        assert_eq!(clean_sql("  SELECT 1;\n"), "SELECT 1");
        assert_eq!(
            parse_session_property("a=b=c").unwrap(),
            ("a".into(), "b=c".into())
        );
        assert!(
            parse_session_property("nope")
                .unwrap_err()
                .contains("name=value")
        );
    }
}
