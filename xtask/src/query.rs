//! `cargo xtask query`: run SQL against a Trino coordinator.

use std::io::{Read as _, Write};

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use trino_client::{Client, Columns, Row, Secret};

use crate::common::Global;

/// How rows are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// An aligned table (collects all rows first).
    Table,
    /// CSV with a header line, streamed.
    Csv,
    /// JSON Lines: one object per row keyed by column name, streamed.
    Json,
}

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
    let client = builder.build()?;
    let mut stream = client.execute(&sql).await?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut printer = Printer::new(args.output);
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

/// Prints rows as they arrive (CSV, JSON Lines) or at the end (table).
pub struct Printer {
    format: OutputFormat,
    header_done: bool,
    table_rows: Vec<Row>,
}

impl Printer {
    /// A printer for a format.
    pub fn new(format: OutputFormat) -> Self {
        Printer {
            format,
            header_done: false,
            table_rows: Vec::new(),
        }
    }

    /// Prints (or keeps, for tables) a batch of rows.
    pub fn rows(&mut self, out: &mut impl Write, rows: &[Row]) -> anyhow::Result<()> {
        match self.format {
            OutputFormat::Table => self.table_rows.extend_from_slice(rows),
            OutputFormat::Json => {
                for row in rows {
                    serde_json::to_writer(&mut *out, &row.json_object())?;
                    out.write_all(b"\n")?;
                }
            }
            OutputFormat::Csv => {
                let mut w = csv::WriterBuilder::new().from_writer(&mut *out);
                if !self.header_done
                    && let Some(first) = rows.first()
                {
                    w.write_record(first.columns().columns().iter().map(|c| c.name.as_str()))?;
                    self.header_done = true;
                }
                for row in rows {
                    w.write_record(row.values().iter().map(|v| {
                        if v.is_null() {
                            String::new()
                        } else {
                            v.to_string()
                        }
                    }))?;
                }
                w.flush()?;
            }
        }
        Ok(())
    }

    /// Prints what only the end allows: the table, or a CSV header for an empty result.
    pub fn finish(
        &mut self,
        out: &mut impl Write,
        columns: Option<&Columns>,
    ) -> anyhow::Result<()> {
        match self.format {
            OutputFormat::Table => {
                let Some(columns) = columns else {
                    return Ok(());
                };
                let mut table = comfy_table::Table::new();
                table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
                table.set_header(columns.columns().iter().map(|c| c.name.clone()));
                for row in &self.table_rows {
                    table.add_row(row.values().iter().map(|v| v.to_string()));
                }
                writeln!(out, "{table}")?;
                writeln!(
                    out,
                    "({} row{})",
                    self.table_rows.len(),
                    if self.table_rows.len() == 1 { "" } else { "s" }
                )?;
            }
            OutputFormat::Csv if !self.header_done => {
                if let Some(columns) = columns {
                    let mut w = csv::WriterBuilder::new().from_writer(&mut *out);
                    w.write_record(columns.columns().iter().map(|c| c.name.as_str()))?;
                    w.flush()?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use trino_client::protocol::Column;

    fn rows() -> (Arc<Columns>, Vec<Row>) {
        let columns: Vec<Column> = serde_json::from_value(serde_json::json!([
            {"name": "id", "type": "bigint", "typeSignature": {"rawType": "bigint", "arguments": []}},
            {"name": "name", "type": "varchar", "typeSignature": {"rawType": "varchar", "arguments": []}},
            {"name": "p", "type": "row(x integer,y varchar)", "typeSignature": {"rawType": "row", "arguments": [
                {"kind": "NAMED_TYPE", "value": {"fieldName": {"name": "x"}, "typeSignature": {"rawType": "integer", "arguments": []}}},
                {"kind": "NAMED_TYPE", "value": {"fieldName": {"name": "y"}, "typeSignature": {"rawType": "varchar", "arguments": []}}}]}},
            {"name": "d", "type": "decimal(5,2)", "typeSignature": {"rawType": "decimal", "arguments": [{"kind": "LONG", "value": 5}, {"kind": "LONG", "value": 2}]}}
        ]))
        .unwrap();
        let columns = Arc::new(Columns::new(columns));
        let mut out = vec![];
        trino_client::value::decode_rows(
            br#"[[1,"a,b",[1,"q"],"1.50"],[2,null,null,null]]"#,
            &columns,
            &mut out,
            "test",
        )
        .unwrap();
        (columns, out)
    }

    fn render(format: OutputFormat) -> String {
        let (columns, rows) = rows();
        let mut out = Vec::new();
        let mut p = Printer::new(format);
        p.rows(&mut out, &rows[..1]).unwrap();
        p.rows(&mut out, &rows[1..]).unwrap();
        p.finish(&mut out, Some(&columns)).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_lines_key_rows_and_row_fields_by_name() {
        assert_eq!(
            render(OutputFormat::Json),
            "{\"id\":1,\"name\":\"a,b\",\"p\":{\"x\":1,\"y\":\"q\"},\"d\":\"1.50\"}\n{\"id\":2,\"name\":null,\"p\":null,\"d\":null}\n"
        );
    }

    #[test]
    fn csv_quotes_and_prints_header_once() {
        assert_eq!(
            render(OutputFormat::Csv),
            "id,name,p,d\n1,\"a,b\",\"[1,\"\"q\"\"]\",1.50\n2,,,\n"
        );
    }

    #[test]
    fn table_shows_nulls_and_count() {
        let t = render(OutputFormat::Table);
        assert!(
            t.contains("NULL") && t.contains("a,b") && t.contains("(2 rows)"),
            "{t}"
        );
    }

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
