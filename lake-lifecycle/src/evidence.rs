//! Access evidence: S3 server access log lines, S3 Inventory CSV rows, and table-level access from Trino's query
//! event log (mapped to S3 prefixes through Glue table locations, see [`crate::glue`]).
//!
//! Server access log format: <https://docs.aws.amazon.com/AmazonS3/latest/userguide/LogFormat.html> (space separated,
//! `[time]` in brackets, `"..."` quoted fields, `-` for none; the key is URL-encoded). Inventory CSV:
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html> (no header; the column
//! order is the manifest's `fileSchema`; keys are URL-encoded). Pure: parsing only, no IO.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The fields of one server access log record this crate uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogRecord<'a> {
    /// Bucket name.
    pub bucket: &'a str,
    /// When the request was received.
    pub time: DateTime<Utc>,
    /// e.g. `REST.GET.OBJECT`.
    pub operation: &'a str,
    /// The object key (decoded), if any.
    pub key: Option<Cow<'a, str>>,
    /// HTTP status.
    pub http_status: u16,
    /// Bytes sent (0 for `-`).
    pub bytes_sent: u64,
    /// Object size (0 for `-`).
    pub object_size: u64,
}

impl AccessLogRecord<'_> {
    /// Whether the record is a successful read of object data.
    pub fn is_read(&self) -> bool {
        (self.operation == "REST.GET.OBJECT" || self.operation == "REST.COPY.OBJECT_GET")
            && self.http_status < 300
    }
}

/// Splits one log line into its fields: `[...]` and `"..."` are single fields (quotes/brackets removed).
fn fields(line: &str) -> impl Iterator<Item = &str> {
    let mut rest = line.trim_end_matches(['\r', '\n']);
    std::iter::from_fn(move || {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            return None;
        }
        let (field, next) = match rest.as_bytes()[0] {
            b'[' => match rest.find(']') {
                Some(end) => (&rest[1..end], &rest[end + 1..]),
                None => (&rest[1..], ""),
            },
            b'"' => match rest[1..].find('"') {
                Some(end) => (&rest[1..end + 1], &rest[end + 2..]),
                None => (&rest[1..], ""),
            },
            _ => match rest.find(' ') {
                Some(end) => (&rest[..end], &rest[end..]),
                None => (rest, ""),
            },
        };
        rest = next;
        Some(field)
    })
}

fn number(field: &str, name: &str) -> std::result::Result<u64, String> {
    if field == "-" {
        return Ok(0);
    }
    field
        .parse()
        .map_err(|_| format!("{name} {field:?} is not a number"))
}

fn decode(s: &str) -> Cow<'_, str> {
    if s.contains('%') || s.contains('+') {
        let spaced: Cow<'_, str> = if s.contains('+') {
            Cow::Owned(s.replace('+', " "))
        } else {
            Cow::Borrowed(s)
        };
        match percent_encoding::percent_decode_str(&spaced).decode_utf8() {
            Ok(decoded) => Cow::Owned(decoded.into_owned()),
            Err(_) => Cow::Owned(spaced.into_owned()),
        }
    } else {
        Cow::Borrowed(s)
    }
}

/// Parses one server access log line; `line_no` and `origin` name it in errors.
pub fn parse_access_log_line<'a>(
    origin: &str,
    line_no: u64,
    line: &'a str,
) -> Result<AccessLogRecord<'a>> {
    let bad = |reason: String| Error::ParseEvidence {
        origin: origin.to_owned(),
        line: line_no,
        reason,
    };
    let mut f = fields(line);
    let mut next = |name: &str| {
        f.next()
            .ok_or_else(|| bad(format!("the line ends before the {name} field")))
    };
    let _owner = next("bucket owner")?;
    let bucket = next("bucket")?;
    let time_text = next("time")?;
    let time = DateTime::parse_from_str(time_text, "%d/%b/%Y:%H:%M:%S %z")
        .map_err(|_| {
            bad(format!(
                "time [{time_text}] is not like [06/Feb/2019:00:00:38 +0000]"
            ))
        })?
        .with_timezone(&Utc);
    let _ip = next("remote IP")?;
    let _requester = next("requester")?;
    let _request_id = next("request ID")?;
    let operation = next("operation")?;
    let key = next("key")?;
    let _uri = next("request URI")?;
    let status = next("HTTP status")?;
    let http_status = if status == "-" {
        0
    } else {
        status
            .parse()
            .map_err(|_| bad(format!("HTTP status {status:?} is not a number")))?
    };
    let _error = next("error code")?;
    let bytes_sent = number(next("bytes sent")?, "bytes sent").map_err(bad)?;
    let object_size = number(next("object size")?, "object size").map_err(bad)?;
    Ok(AccessLogRecord {
        bucket,
        time,
        operation,
        key: if key == "-" { None } else { Some(decode(key)) },
        http_status,
        bytes_sent,
        object_size,
    })
}

/// One S3 Inventory row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryRow {
    /// Bucket.
    pub bucket: String,
    /// Key (decoded).
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modified.
    pub last_modified: Option<DateTime<Utc>>,
    /// Storage class, e.g. `STANDARD`.
    pub storage_class: String,
    /// Whether this is the latest version (true when the report has no such column).
    pub is_latest: bool,
}

/// The column positions of an inventory report, from the manifest's `fileSchema`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventorySchema {
    bucket: usize,
    key: usize,
    size: Option<usize>,
    last_modified: Option<usize>,
    storage_class: Option<usize>,
    is_latest: Option<usize>,
}

impl InventorySchema {
    /// Parses a manifest `fileSchema`, e.g. `"Bucket, Key, Size, LastModifiedDate, StorageClass"`.
    pub fn from_file_schema(schema: &str) -> Result<InventorySchema> {
        let cols: Vec<&str> = schema.split(',').map(str::trim).collect();
        let find = |name: &str| cols.iter().position(|c| *c == name);
        let need = |name: &str| {
            find(name).ok_or_else(|| Error::InvalidInput {
                field: "inventory fileSchema".into(),
                reason: format!("{schema:?} has no {name} column"),
            })
        };
        Ok(InventorySchema {
            bucket: need("Bucket")?,
            key: need("Key")?,
            size: find("Size"),
            last_modified: find("LastModifiedDate"),
            storage_class: find("StorageClass"),
            is_latest: find("IsLatest"),
        })
    }

    /// Whether the report has a `LastModifiedDate` column (without it rows carry no age).
    pub fn has_last_modified(&self) -> bool {
        self.last_modified.is_some()
    }

    /// The common schema `Bucket, Key, Size, LastModifiedDate, StorageClass`.
    pub fn default_csv() -> InventorySchema {
        InventorySchema::from_file_schema("Bucket, Key, Size, LastModifiedDate, StorageClass")
            .expect("a valid schema")
    }
}

/// Reads inventory CSV rows (no header) from `reader`, calling `row` for each.
pub fn read_inventory_csv<R: std::io::Read>(
    origin: &str,
    schema: &InventorySchema,
    reader: R,
    mut row: impl FnMut(InventoryRow),
) -> Result<u64> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut record = csv::StringRecord::new();
    let mut n = 0u64;
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(Error::ParseEvidence {
                    origin: origin.into(),
                    line: n + 1,
                    reason: e.to_string(),
                });
            }
        }
        n += 1;
        let bad = |reason: String| Error::ParseEvidence {
            origin: origin.into(),
            line: n,
            reason,
        };
        let get = |i: usize, name: &str| {
            record
                .get(i)
                .ok_or_else(|| bad(format!("has no column {i} ({name})")))
        };
        let size = match schema.size {
            Some(i) => {
                let text = get(i, "Size")?;
                if text.is_empty() {
                    0
                } else {
                    text.parse()
                        .map_err(|_| bad(format!("Size {text:?} is not a number")))?
                }
            }
            None => 0,
        };
        let last_modified = match schema.last_modified {
            Some(i) => {
                let text = get(i, "LastModifiedDate")?;
                Some(
                    DateTime::parse_from_rfc3339(text)
                        .map_err(|_| bad(format!("LastModifiedDate {text:?} is not ISO 8601")))?
                        .with_timezone(&Utc),
                )
            }
            None => None,
        };
        row(InventoryRow {
            bucket: get(schema.bucket, "Bucket")?.to_owned(),
            key: decode(get(schema.key, "Key")?).into_owned(),
            size,
            last_modified,
            storage_class: match schema.storage_class {
                Some(i) => get(i, "StorageClass")?.to_owned(),
                None => "STANDARD".into(),
            },
            is_latest: match schema.is_latest {
                Some(i) => get(i, "IsLatest")? != "false",
                None => true,
            },
        });
    }
    Ok(n)
}

/// A table's access from Trino's query event log (`cargo xtask events table-access` writes one per line as
/// JSON), the evidence [`crate::classify::Classifier::add_table_access`] consumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableAccess {
    /// The Trino catalog.
    pub catalog: String,
    /// The schema (for an Iceberg catalog on Glue: the Glue database).
    pub schema: String,
    /// The table.
    pub table: String,
    /// Queries that read it.
    pub queries: u64,
    /// Distinct UTC days on which it was read.
    pub days_accessed: u64,
    /// The first read in the window (UTC).
    pub first_access: Option<chrono::NaiveDateTime>,
    /// The last read in the window (UTC).
    pub last_access: Option<chrono::NaiveDateTime>,
    /// Bytes read from it.
    pub bytes_scanned: u64,
}

/// Where a table's files are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableLocation {
    /// Glue database.
    pub database: String,
    /// Table.
    pub table: String,
    /// Bucket.
    pub bucket: String,
    /// The table root prefix inside the bucket, ending in `/` (e.g. `warehouse/analytics.db/events/`).
    pub prefix: String,
    /// Whether it is an Iceberg table (has `metadata_location`).
    pub iceberg: bool,
}

/// Splits `s3://bucket/prefix` (also `s3a://`); the prefix gets a trailing `/`.
pub fn parse_s3_url(url: &str) -> Result<(String, String)> {
    let rest = url
        .strip_prefix("s3://")
        .or_else(|| url.strip_prefix("s3a://"))
        .ok_or_else(|| Error::InvalidInput {
            field: "S3 location".into(),
            reason: format!("{url:?} does not start with s3://"),
        })?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(Error::InvalidInput {
            field: "S3 location".into(),
            reason: format!("{url:?} has no bucket"),
        });
    }
    let mut prefix = prefix.to_owned();
    if !prefix.is_empty() && !prefix.ends_with('/') {
        prefix.push('/');
    }
    Ok((bucket.to_owned(), prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example from AWS's "Amazon S3 server access log format" page, with a key that needs decoding.
    const LINE: &str = r#"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE REST.GET.OBJECT warehouse/a.db/t/data/dt%3D2019-02-01/part%200.parquet "GET /amzn-s3-demo-bucket1/photos/2019/08/puppy.jpg?x-foo=bar HTTP/1.1" 200 - 2662992 3462992 70 10 "-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com TLSV1.2 arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP Yes"#;

    #[test]
    fn parses_the_documented_example() {
        let r = parse_access_log_line("log", 1, LINE).unwrap();
        assert_eq!(r.bucket, "amzn-s3-demo-bucket1");
        assert_eq!(r.time.to_rfc3339(), "2019-02-06T00:00:38+00:00");
        assert_eq!(r.operation, "REST.GET.OBJECT");
        assert_eq!(
            r.key.as_deref(),
            Some("warehouse/a.db/t/data/dt=2019-02-01/part 0.parquet")
        );
        assert_eq!(
            (r.http_status, r.bytes_sent, r.object_size),
            (200, 2662992, 3462992)
        );
        assert!(r.is_read());
    }

    #[test]
    fn bad_lines_name_the_field_and_line() {
        let err = parse_access_log_line("access.log", 7, "owner bucket [yesterday] ip")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("access.log line 7") && err.contains("time [yesterday]"),
            "{err}"
        );
        let err = parse_access_log_line("access.log", 8, &LINE.replace(" 200 - ", " OK - "))
            .unwrap_err()
            .to_string();
        assert!(err.contains("HTTP status \"OK\""), "{err}");
    }

    #[test]
    fn reads_inventory_csv_with_the_manifest_schema() {
        let csv = "\"lake\",\"warehouse/a.db/t/data/dt%3D2026-01-01/f.parquet\",\"1048576\",\"2026-01-01T10:00:00.000Z\",\"GLACIER_IR\"\n\
                   \"lake\",\"warehouse/a.db/t/metadata/v1.metadata.json\",\"2048\",\"2026-01-02T10:00:00.000Z\",\"STANDARD\"\n";
        let mut rows = Vec::new();
        let n = read_inventory_csv(
            "inv.csv",
            &InventorySchema::default_csv(),
            csv.as_bytes(),
            |r| rows.push(r),
        )
        .unwrap();
        assert_eq!(n, 2);
        assert_eq!(rows[0].key, "warehouse/a.db/t/data/dt=2026-01-01/f.parquet");
        assert_eq!(rows[0].size, 1048576);
        assert_eq!(rows[0].storage_class, "GLACIER_IR");
        let err = read_inventory_csv(
            "inv.csv",
            &InventorySchema::default_csv(),
            "\"lake\",\"k\",\"big\",\"x\",\"S\"\n".as_bytes(),
            |_| {},
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("inv.csv line 1") && err.contains("Size \"big\""),
            "{err}"
        );
        assert!(InventorySchema::default_csv().has_last_modified());
        assert!(
            !InventorySchema::from_file_schema("Bucket, Key, Size")
                .unwrap()
                .has_last_modified()
        );
        assert!(
            InventorySchema::from_file_schema("Bucket, Size")
                .unwrap_err()
                .to_string()
                .contains("no Key column")
        );
    }

    #[test]
    fn s3_urls() {
        assert_eq!(
            parse_s3_url("s3://b/warehouse/x").unwrap(),
            ("b".into(), "warehouse/x/".into())
        );
        assert_eq!(parse_s3_url("s3://b").unwrap(), ("b".into(), "".into()));
        assert!(parse_s3_url("/tmp/x").is_err());
    }
}
