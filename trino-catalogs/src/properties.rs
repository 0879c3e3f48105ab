//! Java `.properties` text: writing with escapes that `java.util.Properties.load` reads back exactly, and
//! reading existing files.
//!
//! Trino loads catalog files with airlift's `ConfigurationLoader.loadPropertiesFrom`, which calls
//! `Properties.load` on the file: older airlift releases through an `InputStream` (ISO-8859-1), newer ones
//! through a UTF-8 `Reader`. The writer therefore emits pure ASCII: every character outside printable ASCII
//! becomes a `\uXXXX` escape (UTF-16 code units), which both readings decode identically. airlift also
//! `trim()`s every value after loading, which validation reports (see [`mod@crate::validate`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Escapes a key: separators (`=`, `:`), whitespace, comment starters (`#`, `!`), backslashes, line breaks and
/// anything outside printable ASCII.
pub fn escape_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for ch in key.chars() {
        match ch {
            '=' | ':' | '#' | '!' | ' ' => {
                out.push('\\');
                out.push(ch);
            }
            _ => push_common(&mut out, ch),
        }
    }
    out
}

/// Escapes a value: leading whitespace (which `load` would skip), backslashes, line breaks and anything
/// outside printable ASCII. `=`, `:`, `#` and `!` need no escape inside a value and stay readable
/// (`${ENV:NAME}` stays as it is).
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut leading = true;
    for ch in value.chars() {
        if leading && ch == ' ' {
            out.push_str("\\ ");
            continue;
        }
        leading = leading && matches!(ch, '\t' | '\x0c');
        push_common(&mut out, ch);
    }
    out
}

fn push_common(out: &mut String, ch: char) {
    match ch {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0c' => out.push_str("\\f"),
        ' '..='~' => out.push(ch),
        _ => {
            let mut units = [0u16; 2];
            for unit in ch.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04X}");
            }
        }
    }
}

/// Writes `key=value` lines (in the given order) after an optional `#` comment header. The result is ASCII.
pub fn write_properties<'a>(
    header: Option<&str>,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let mut out = String::new();
    if let Some(header) = header {
        for line in header.lines() {
            out.push_str("# ");
            out.push_str(&escape_value(line).replace("\\ ", " "));
            out.push('\n');
        }
    }
    for (k, v) in pairs {
        out.push_str(&escape_key(k));
        out.push('=');
        out.push_str(&escape_value(v));
        out.push('\n');
    }
    out
}

/// Reads `.properties` text the way `Properties.load` does: natural lines ending in `\n`, `\r` or `\r\n`;
/// leading whitespace skipped; `#`/`!` comment lines; an odd number of trailing backslashes continues the
/// line; the key ends at the first unescaped `=`, `:` or whitespace; `\uXXXX` (UTF-16, surrogate pairs
/// joined), `\t`, `\n`, `\r`, `\f` escapes, any other escaped character stands for itself; a later
/// duplicate key wins. (The `java-properties` crate was tried and rejects surrogate-pair escapes.)
///
/// `text` is already decoded; see [`decode_file`] for the bytes of a file.
pub fn read_properties(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (line_no, logical) in logical_lines(text) {
        let chars: Vec<char> = logical.chars().collect();
        let ws = |c: char| c == ' ' || c == '\t' || c == '\x0c';
        let mut key_end = chars.len();
        let mut value_start = chars.len();
        let mut has_sep = false;
        let mut backslash = false;
        for (i, &c) in chars.iter().enumerate() {
            if backslash {
                backslash = false;
                continue;
            }
            if c == '\\' {
                backslash = true;
            } else if c == '=' || c == ':' {
                key_end = i;
                value_start = i + 1;
                has_sep = true;
                break;
            } else if ws(c) {
                key_end = i;
                value_start = i + 1;
                break;
            }
        }
        while value_start < chars.len() {
            let c = chars[value_start];
            if !ws(c) {
                if !has_sep && (c == '=' || c == ':') {
                    has_sep = true;
                } else {
                    break;
                }
            }
            value_start += 1;
        }
        let key = unescape(&chars[..key_end]).map_err(|e| format!("line {line_no}: {e}"))?;
        let value = unescape(&chars[value_start..]).map_err(|e| format!("line {line_no}: {e}"))?;
        out.insert(key, value);
    }
    Ok(out)
}

/// Splits text into logical lines (comments and blank lines dropped, continuations joined), each with the
/// 1-based number of its first natural line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    // A "\r\n" pair ends one natural line: splitting on both would leave an empty piece between them, which
    // must not count as a line (a continuation would stop on it).
    let mut pieces: Vec<(usize, &str)> = Vec::new();
    let mut line_no = 1;
    for nl in text.split('\n') {
        let parts: Vec<&str> = nl.split('\r').collect();
        let ends_with_cr = parts.len() > 1 && parts.last() == Some(&"");
        for (i, part) in parts.iter().enumerate() {
            let is_crlf_gap = ends_with_cr && i == parts.len() - 1;
            if !is_crlf_gap {
                pieces.push((line_no, part));
            }
            line_no += 1;
        }
        if ends_with_cr {
            line_no -= 1;
        }
    }
    let strip = |s: &str| s.trim_start_matches([' ', '\t', '\x0c']).to_owned();
    let mut out = Vec::new();
    let mut i = 0;
    while i < pieces.len() {
        let (no, first) = pieces[i];
        i += 1;
        let mut line = strip(first);
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        while line.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1 {
            line.pop();
            match pieces.get(i) {
                Some((_, next)) => {
                    line.push_str(&strip(next));
                    i += 1;
                }
                None => break,
            }
        }
        out.push((no, line));
    }
    out
}

fn unescape(chars: &[char]) -> Result<String, String> {
    let mut units: Vec<u16> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '\\' {
            let mut buf = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut buf));
            continue;
        }
        let Some(&e) = chars.get(i) else { break };
        i += 1;
        match e {
            'u' => {
                let hex: String = chars
                    .get(i..i + 4)
                    .map(|h| h.iter().collect())
                    .unwrap_or_default();
                let unit = u16::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4 && hex.chars().all(|h| h.is_ascii_hexdigit()))
                    .ok_or_else(|| format!("malformed \\uxxxx escape \\u{hex}"))?;
                units.push(unit);
                i += 4;
            }
            't' => units.push(0x09),
            'n' => units.push(0x0a),
            'r' => units.push(0x0d),
            'f' => units.push(0x0c),
            other => {
                let mut buf = [0u16; 2];
                units.extend_from_slice(other.encode_utf16(&mut buf));
            }
        }
    }
    String::from_utf16(&units).map_err(|_| "an unpaired \\u surrogate escape".to_owned())
}

/// Decodes a properties file's bytes: UTF-8 when they are valid UTF-8 (what current Trino reads), otherwise
/// ISO-8859-1 (what `Properties.load(InputStream)` reads).
pub fn decode_file(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_load_would_misread() {
        assert_eq!(escape_key("a=b:c d#e!f\\g"), "a\\=b\\:c\\ d\\#e\\!f\\\\g");
        assert_eq!(escape_value("  x y=z:#!"), "\\ \\ x y=z:#!");
        assert_eq!(escape_value("\tpad\n"), "\\tpad\\n");
        assert_eq!(escape_value("é😀"), "\\u00E9\\uD83D\\uDE00");
        assert_eq!(escape_value("${ENV:TRINO_X}"), "${ENV:TRINO_X}");
    }

    #[test]
    fn reads_back_what_it_writes() {
        let pairs = [
            ("#k ey=:", " v\\al=ue \n\r\tend "),
            ("!x", "\u{1F600} é ü"),
            ("empty", ""),
            ("a.b", "c\\"),
        ];
        let text = write_properties(Some("header"), pairs.iter().map(|(k, v)| (*k, *v)));
        assert!(text.is_ascii());
        let back = read_properties(&text).unwrap();
        let want: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(back, want);
    }

    #[test]
    fn reads_continuations_and_separators() {
        let text = "# c\n! c2\n  a = 1\nb:2\nc 3\nd=long \\\n    value\n";
        let m = read_properties(text).unwrap();
        assert_eq!(m["a"], "1");
        assert_eq!(m["b"], "2");
        assert_eq!(m["c"], "3");
        assert_eq!(m["d"], "long value");
        let m = read_properties("a=1\\\r\n  2\r\nb=x\\\\\nc\\\n").unwrap();
        assert_eq!(m["a"], "12");
        assert_eq!(m["b"], "x\\");
        assert_eq!(m["c"], "");
        assert!(read_properties("a=\\u12G4").unwrap_err().contains("line 1"));
    }

    #[test]
    fn decodes_latin1_files() {
        assert_eq!(decode_file(b"k=caf\xe9"), "k=café");
        assert_eq!(decode_file("k=café".as_bytes()), "k=café");
    }
}
