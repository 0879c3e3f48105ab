//! Query results on stdout: aligned table, Markdown, CSV, TSV and JSON Lines, every format streamed.
//!
//! Memory stays bounded whatever the result size: the aligned formats size their columns from the first
//! [`WINDOW_ROWS`] rows (as the trino CLI pages), print them, and print every later row at once in those
//! widths, cutting longer cells with `…`. Cells of the aligned formats are at most [`MAX_CELL_WIDTH`]
//! columns wide.
//!
//! Data never drives the terminal: in the aligned formats, and in CSV/TSV when stdout is a terminal, control
//! characters (ESC of ANSI sequences included), line breaks and bidirectional overrides are shown as escapes
//! such as `\n` or `\u{1b}`. CSV and TSV written to a file or pipe keep the values exactly (CSV quotes
//! them; TSV escapes tab, line breaks and backslash as the trino CLI does). JSON Lines always write control
//! characters and bidirectional overrides as `\uXXXX` escapes, which read back to the same value.

use std::fmt::Write as _;
use std::io::Write;

use clap::ValueEnum;
use trino_client::{Columns, Row, Value};
use unicode_width::UnicodeWidthChar as _;

/// How rows are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// An aligned table, streamed (columns sized from the first rows).
    Table,
    /// CSV with a header line.
    Csv,
    /// Tab-separated values with a header line; tab, line breaks and `\` escaped.
    Tsv,
    /// JSON Lines: one object per row keyed by column name.
    Json,
    /// A Markdown table, streamed like `table`.
    Markdown,
}

/// Rows the aligned formats read before they fix the column widths.
pub const WINDOW_ROWS: usize = 1000;
/// The widest cell of the aligned formats, in terminal columns.
pub const MAX_CELL_WIDTH: usize = 80;

/// Prints rows as they arrive.
pub struct Printer {
    format: OutputFormat,
    /// Whether stdout is a terminal (CSV and TSV then escape control characters too).
    terminal: bool,
    header_done: bool,
    /// Aligned formats: the first rows, as display cells, until the widths are fixed.
    window: Vec<Vec<String>>,
    /// Aligned formats: the column widths once fixed.
    widths: Option<Vec<usize>>,
    rows: u64,
    /// A reused buffer for one value's text.
    cell: String,
}

impl Printer {
    /// A printer for `format`; `terminal` says whether the output is a terminal.
    pub fn new(format: OutputFormat, terminal: bool) -> Self {
        Printer {
            format,
            terminal,
            header_done: false,
            window: Vec::new(),
            widths: None,
            rows: 0,
            cell: String::new(),
        }
    }

    /// Prints a batch of rows (the aligned formats hold at most [`WINDOW_ROWS`] of them).
    pub fn rows(&mut self, out: &mut impl Write, rows: &[Row]) -> anyhow::Result<()> {
        let Some(first) = rows.first() else {
            return Ok(());
        };
        self.rows += rows.len() as u64;
        match self.format {
            OutputFormat::Table | OutputFormat::Markdown => {
                for row in rows {
                    let cells = self.for_format(row.values().iter().map(display_cell).collect());
                    match &self.widths {
                        Some(widths) => aligned_row(out, self.format, widths, &cells)?,
                        None => self.window.push(cells),
                    }
                    if self.widths.is_none() && self.window.len() >= WINDOW_ROWS {
                        self.flush_window(out, first.columns())?;
                    }
                }
            }
            OutputFormat::Json => {
                for row in rows {
                    serde::Serialize::serialize(
                        &row.json_object(),
                        &mut serde_json::Serializer::with_formatter(&mut *out, SafeJson),
                    )?;
                    out.write_all(b"\n")?;
                }
            }
            OutputFormat::Csv => {
                let mut w = csv::WriterBuilder::new().from_writer(&mut *out);
                if !self.header_done {
                    w.write_record(names(first.columns()).map(|n| self.safe(n)))?;
                    self.header_done = true;
                }
                for row in rows {
                    for v in row.values() {
                        self.value_text(v);
                        if self.terminal {
                            w.write_field(terminal_safe(&self.cell))?;
                        } else {
                            w.write_field(&self.cell)?;
                        }
                    }
                    w.write_record(None::<&[u8]>)?;
                }
                w.flush()?;
            }
            OutputFormat::Tsv => {
                if !self.header_done {
                    self.tsv_header(out, first.columns())?;
                }
                for row in rows {
                    for (i, v) in row.values().iter().enumerate() {
                        if i > 0 {
                            out.write_all(b"\t")?;
                        }
                        self.value_text(v);
                        let text = tsv_escape(&self.cell);
                        let text = if self.terminal {
                            terminal_safe(&text)
                        } else {
                            text
                        };
                        out.write_all(text.as_bytes())?;
                    }
                    out.write_all(b"\n")?;
                }
            }
        }
        Ok(())
    }

    /// Prints what only the end allows: the rows of a short result in the aligned formats, the header of an
    /// empty result, the row count of the aligned formats.
    pub fn finish(
        &mut self,
        out: &mut impl Write,
        columns: Option<&Columns>,
    ) -> anyhow::Result<()> {
        let Some(columns) = columns else {
            return Ok(());
        };
        match self.format {
            OutputFormat::Table | OutputFormat::Markdown => {
                if self.widths.is_none() {
                    self.flush_window(out, columns)?;
                }
                if self.format == OutputFormat::Table {
                    let n = self.rows;
                    writeln!(out, "({n} row{})", if n == 1 { "" } else { "s" })?;
                }
            }
            OutputFormat::Csv if !self.header_done => {
                let mut w = csv::WriterBuilder::new().from_writer(&mut *out);
                w.write_record(names(columns).map(|n| self.safe(n)))?;
                w.flush()?;
            }
            OutputFormat::Tsv if !self.header_done => self.tsv_header(out, columns)?,
            _ => {}
        }
        Ok(())
    }

    /// Fixes the widths from the header and the window, prints both.
    fn flush_window(&mut self, out: &mut impl Write, columns: &Columns) -> anyhow::Result<()> {
        let header = self.for_format(names(columns).map(|n| cut(&terminal_safe(n))).collect());
        // A Markdown rule needs three dashes.
        let least = if self.format == OutputFormat::Markdown {
            3
        } else {
            1
        };
        let mut widths: Vec<usize> = header.iter().map(|h| width(h).max(least)).collect();
        for row in &self.window {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(cell));
            }
        }
        match self.format {
            OutputFormat::Markdown => {
                aligned_row(out, self.format, &widths, &header)?;
                let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
                aligned_row(out, self.format, &widths, &rule)?;
            }
            _ => {
                aligned_row(out, self.format, &widths, &header)?;
                let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
                writeln!(out, "{}", rule.join("+"))?;
            }
        }
        for row in std::mem::take(&mut self.window) {
            aligned_row(out, self.format, &widths, &row)?;
        }
        self.widths = Some(widths);
        Ok(())
    }

    /// Aligned cells as the format writes them: Markdown escapes `|`, which would end its cell.
    fn for_format(&self, mut cells: Vec<String>) -> Vec<String> {
        if self.format == OutputFormat::Markdown {
            for cell in &mut cells {
                *cell = cell.replace('|', "\\|");
            }
        }
        cells
    }

    fn tsv_header(&mut self, out: &mut impl Write, columns: &Columns) -> anyhow::Result<()> {
        let header: Vec<String> = names(columns).map(|n| self.safe(&tsv_escape(n))).collect();
        writeln!(out, "{}", header.join("\t"))?;
        self.header_done = true;
        Ok(())
    }

    /// The value's text into the reused buffer (empty for NULL, as CSV and TSV show it).
    fn value_text(&mut self, v: &Value) {
        self.cell.clear();
        if !v.is_null() {
            let _ = write!(self.cell, "{v}");
        }
    }

    /// `text`, escaped when the output is a terminal.
    fn safe(&self, text: &str) -> String {
        if self.terminal {
            terminal_safe(text)
        } else {
            text.to_owned()
        }
    }
}

fn names(columns: &Columns) -> impl Iterator<Item = &str> {
    columns.columns().iter().map(|c| c.name.as_str())
}

/// A value as an aligned cell: `NULL` for null, escaped for the terminal, cut at [`MAX_CELL_WIDTH`].
fn display_cell(v: &Value) -> String {
    if v.is_null() {
        return "NULL".to_owned();
    }
    let mut text = String::new();
    let _ = write!(text, "{v}");
    cut(&terminal_safe(&text))
}

/// One row of an aligned format, each cell padded (or cut) to its column's width.
fn aligned_row(
    out: &mut impl Write,
    format: OutputFormat,
    widths: &[usize],
    cells: &[String],
) -> std::io::Result<()> {
    let mut line = String::new();
    if format == OutputFormat::Markdown {
        line.push('|');
    }
    for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
        let cell = fit(cell, *w);
        let pad = w.saturating_sub(width(&cell));
        match format {
            OutputFormat::Markdown => {
                let _ = write!(line, " {cell}{} |", " ".repeat(pad));
            }
            _ => {
                if i > 0 {
                    line.push('|');
                }
                let _ = write!(line, " {cell}{} ", " ".repeat(pad));
            }
        }
    }
    writeln!(out, "{}", line.trim_end())
}

/// Terminal columns `text` takes.
fn width(text: &str) -> usize {
    text.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// `text` cut to at most `max` terminal columns, the last one `…` when something was cut.
fn fit(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > max {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// `text` cut to [`MAX_CELL_WIDTH`] columns.
fn cut(text: &str) -> String {
    fit(text, MAX_CELL_WIDTH)
}

/// `text` with every character that could move the cursor, change colours or reorder text shown as an
/// escape: C0 and C1 controls (ESC of ANSI sequences included) and DEL as `\u{..}` (tab, line feed and
/// carriage return as `\t`, `\n`, `\r`), and the bidirectional overrides and isolates (U+202A-U+202E,
/// U+2066-U+2069).
pub fn terminal_safe(text: &str) -> String {
    if !text.chars().any(drives_terminal) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if drives_terminal(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// serde_json's compact JSON, except that DEL, the C1 controls (U+009B is a one-character CSI) and the
/// bidirectional overrides and isolates are written as `\uXXXX` escapes: the same JSON value, and nothing a
/// terminal acts on (serde_json already escapes the C0 controls, ESC included).
struct SafeJson;

impl serde_json::ser::Formatter for SafeJson {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if drives_terminal(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                write!(writer, "\\u{:04x}", u32::from(c))?;
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// Whether a terminal acts on `c` instead of showing it: C0 and C1 controls and DEL, and the bidirectional
/// overrides and isolates (U+202A-U+202E, U+2066-U+2069).
fn drives_terminal(c: char) -> bool {
    c.is_control()
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// A TSV field as the trino CLI writes it: `\` as `\\`, tab as `\t`, line feed as `\n`, carriage return as
/// `\r`.
fn tsv_escape(text: &str) -> String {
    if !text.contains(['\\', '\t', '\n', '\r']) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use trino_client::protocol::Column;

    fn columns() -> Arc<Columns> {
        let columns: Vec<Column> = serde_json::from_value(serde_json::json!([
            {"name": "id", "type": "bigint", "typeSignature": {"rawType": "bigint", "arguments": []}},
            {"name": "name", "type": "varchar", "typeSignature": {"rawType": "varchar", "arguments": []}},
            {"name": "p", "type": "row(x integer,y varchar)", "typeSignature": {"rawType": "row", "arguments": [
                {"kind": "NAMED_TYPE", "value": {"fieldName": {"name": "x"}, "typeSignature": {"rawType": "integer", "arguments": []}}},
                {"kind": "NAMED_TYPE", "value": {"fieldName": {"name": "y"}, "typeSignature": {"rawType": "varchar", "arguments": []}}}]}},
            {"name": "d", "type": "decimal(5,2)", "typeSignature": {"rawType": "decimal", "arguments": [{"kind": "LONG", "value": 5}, {"kind": "LONG", "value": 2}]}}
        ]))
        .unwrap();
        Arc::new(Columns::new(columns))
    }

    fn decode(json: &str) -> Vec<Row> {
        let mut out = vec![];
        trino_client::value::decode_rows(json.as_bytes(), &columns(), &mut out, "test").unwrap();
        out
    }

    fn rows() -> Vec<Row> {
        decode(r#"[[1,"a,b",[1,"q"],"1.50"],[2,null,null,null]]"#)
    }

    fn render_rows(format: OutputFormat, terminal: bool, rows: &[Row]) -> String {
        let mut out = Vec::new();
        let mut p = Printer::new(format, terminal);
        let (a, b) = rows.split_at(rows.len().min(1));
        p.rows(&mut out, a).unwrap();
        p.rows(&mut out, b).unwrap();
        p.finish(&mut out, Some(&columns())).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn render(format: OutputFormat) -> String {
        render_rows(format, false, &rows())
    }

    #[test]
    fn json_lines_key_rows_and_row_fields_by_name() {
        assert_eq!(
            render(OutputFormat::Json),
            "{\"id\":1,\"name\":\"a,b\",\"p\":{\"x\":1,\"y\":\"q\"},\"d\":\"1.50\"}\n{\"id\":2,\"name\":null,\"p\":null,\"d\":null}\n"
        );
    }

    /// JSON lines carry no C1 control or bidi override raw (serde_json leaves them as they are), and read
    /// back to the same value.
    #[test]
    fn json_lines_escape_what_a_terminal_would_act_on() {
        let rows = decode("[[1,\"a\\u009b31mred\\u202eb\\u007f\\u001b[0m\",null,\"1.50\"]]");
        let text = render_rows(OutputFormat::Json, false, &rows);
        assert!(
            !text.contains(['\u{9b}', '\u{202e}', '\u{7f}', '\u{1b}']),
            "{text:?}"
        );
        assert!(
            text.contains("\\u009b31mred\\u202eb\\u007f\\u001b[0m"),
            "{text}"
        );
        let back: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(back["name"], "a\u{9b}31mred\u{202e}b\u{7f}\u{1b}[0m");
    }

    #[test]
    fn csv_quotes_and_prints_header_once() {
        assert_eq!(
            render(OutputFormat::Csv),
            "id,name,p,d\n1,\"a,b\",\"[1,\"\"q\"\"]\",1.50\n2,,,\n"
        );
    }

    #[test]
    fn tsv_escapes_like_the_trino_cli() {
        let rows = decode(r#"[[1,"a\tb\\c\nd",null,"1.50"]]"#);
        assert_eq!(
            render_rows(OutputFormat::Tsv, false, &rows),
            "id\tname\tp\td\n1\ta\\tb\\\\c\\nd\t\t1.50\n"
        );
    }

    #[test]
    fn table_shows_nulls_and_count() {
        assert_eq!(
            render(OutputFormat::Table),
            " id | name | p       | d\n----+------+---------+------\n 1  | a,b  | [1,\"q\"] | 1.50\n 2  | NULL | NULL    | NULL\n(2 rows)\n"
        );
    }

    #[test]
    fn markdown_is_an_aligned_table_with_pipes_escaped() {
        let rows = decode(r#"[[1,"a|b",null,"1.50"]]"#);
        assert_eq!(
            render_rows(OutputFormat::Markdown, false, &rows),
            "| id  | name | p    | d    |\n| --- | ---- | ---- | ---- |\n| 1   | a\\|b | NULL | 1.50 |\n"
        );
    }

    #[test]
    fn empty_results_print_the_header() {
        assert_eq!(render_rows(OutputFormat::Csv, false, &[]), "id,name,p,d\n");
        assert_eq!(
            render_rows(OutputFormat::Tsv, false, &[]),
            "id\tname\tp\td\n"
        );
        assert!(render_rows(OutputFormat::Table, false, &[]).ends_with("(0 rows)\n"));
    }

    /// Issue 16 item 12: data never reaches the terminal as control sequences.
    #[test]
    fn control_characters_and_ansi_sequences_are_escaped() {
        let rows = decode(r#"[[1,"\u001b[31mred\u001b[0m\u0007 \u202eevil\r\nnext",null,"1.50"]]"#);
        for (format, terminal) in [
            (OutputFormat::Table, false),
            (OutputFormat::Markdown, false),
            (OutputFormat::Csv, true),
            (OutputFormat::Tsv, true),
        ] {
            let text = render_rows(format, terminal, &rows);
            assert!(
                !text.contains(['\u{1b}', '\u{7}', '\u{202e}', '\r']),
                "{format:?}: {text:?}"
            );
            assert!(text.contains("\\u{1b}[31mred"), "{format:?}: {text}");
        }
        // To a file, CSV keeps the value exactly.
        let text = render_rows(OutputFormat::Csv, false, &rows);
        assert!(text.contains("\u{1b}[31mred"), "{text:?}");
    }

    /// Issue 16 item 12: a 10 MB value is cut to the cell width, and the aligned formats keep only a window
    /// of rows however many arrive.
    #[test]
    fn huge_cells_are_cut_and_rows_stream() {
        let big = "x".repeat(10 * 1024 * 1024);
        let rows = decode(&format!(r#"[[1,"{big}",null,"1.50"]]"#));
        let text = render_rows(OutputFormat::Table, false, &rows);
        assert!(text.len() < 400, "{} bytes", text.len());
        assert!(text.contains('…'));

        let many: Vec<Row> = (0..WINDOW_ROWS * 3)
            .flat_map(|i| decode(&format!(r#"[[{i},"n{i}",null,"1.00"]]"#)))
            .collect();
        let mut out = Vec::new();
        let mut p = Printer::new(OutputFormat::Table, false);
        for chunk in many.chunks(100) {
            p.rows(&mut out, chunk).unwrap();
            assert!(p.window.len() <= WINDOW_ROWS);
        }
        p.finish(&mut out, Some(&columns())).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), WINDOW_ROWS * 3 + 3);
        assert!(text.ends_with(&format!("({} rows)\n", WINDOW_ROWS * 3)));
    }
}
