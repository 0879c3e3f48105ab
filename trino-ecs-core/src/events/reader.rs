//! Reads `trino_queries` from the event-log database (MySQL/Aurora/MariaDB) with a real driver, streaming
//! rows so memory stays bounded whatever the table's size.

use std::collections::BTreeMap;

use futures::TryStreamExt as _;
use mysql_async::prelude::Queryable as _;
use mysql_async::{Pool, Row};

use super::model::{QueryEvent, TimeWindow, parse_inputs};
use super::report::{ReportBuilder, SkippedRow, TableAccess, UsageReport};

/// The columns the reader needs; any others (newer Trino versions add some) are ignored.
pub const REQUIRED_COLUMNS: &[&str] = &[
    "query_id",
    "query_state",
    "user",
    "source",
    "catalog",
    "schema",
    "query_type",
    "inputs_json",
    "error_code",
    "error_type",
    "wall_time_millis",
    "queued_time_millis",
    "cpu_time_millis",
    "physical_input_bytes",
    "physical_input_rows",
    "output_rows",
    "peak_memory_bytes",
    "query",
];

/// How many characters of each query's SQL the reader keeps (truncated in SQL, so huge statements never
/// cross the wire).
pub const QUERY_HEAD_CHARS: usize = 240;

/// Why the event log could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventLogError {
    /// The connection URL is not `jdbc:mysql://host[:port]/database` or `mysql://...`.
    #[error("invalid event-log url {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given (it never holds a password: credentials are separate).
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The database could not be reached or refused the credentials.
    #[error("cannot connect to the event-log database at {target}")]
    Connect {
        /// `host:port/database`.
        target: String,
        /// The driver's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// There is no `trino_queries` table: the event listener never ran against this database.
    #[error(
        "table {database}.trino_queries does not exist: is Trino's MySQL event listener enabled and pointed at this database?"
    )]
    MissingTable {
        /// The database.
        database: String,
    },
    /// `trino_queries` lacks columns the reports need.
    #[error("table trino_queries lacks the columns {}", columns.join(", "))]
    MissingColumns {
        /// The missing columns.
        columns: Vec<String>,
    },
    /// A statement failed.
    #[error("event-log query failed")]
    Query {
        /// The driver's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A row could not be decoded.
    #[error("cannot decode event-log row {query_id}: {reason}")]
    BadRow {
        /// The row's query id.
        query_id: String,
        /// What is wrong.
        reason: String,
    },
}

fn query_error(e: mysql_async::Error) -> EventLogError {
    EventLogError::Query {
        source: Box::new(e),
    }
}

/// A reader of one event-log database.
pub struct EventLogReader {
    url: trino_catalogs::validate::JdbcUrl,
    user: String,
    password: Option<String>,
    /// Built on first use, with the TLS settings the first session negotiated.
    pool: tokio::sync::OnceCell<Pool>,
    target: String,
    database: String,
}

/// How long opening the first session may take (DNS, TCP, TLS and login, each).
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

impl EventLogReader {
    /// Connects lazily to `url` (`jdbc:mysql://host[:port]/database[?...]` as Trino's listener takes it, or
    /// `mysql://host[:port]/database`) as `user` with `password`, the way the listener's Connector/J does:
    /// its TLS options (`sslMode`, `useSSL`, `requireSSL`, `verifyServerCertificate`) are honoured, so the
    /// reader never reads in plaintext what the listener writes over TLS; options that concern only the
    /// JDBC driver (`createDatabaseIfNotExist`, timeouts, ...) are accepted and not used.
    pub fn new(url: &str, user: &str, password: Option<&str>) -> Result<Self, EventLogError> {
        let invalid = |reason: &str| EventLogError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = url
            .strip_prefix("jdbc:")
            .unwrap_or(url)
            .strip_prefix("mysql://")
            .ok_or_else(|| invalid("it must start with jdbc:mysql:// or mysql://"))?;
        let parsed =
            url::Url::parse(&format!("mysql://{rest}")).map_err(|e| invalid(&e.to_string()))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(invalid(
                "credentials must not be embedded in the url; use the user and password settings",
            ));
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| invalid("it has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = parsed.port().unwrap_or(3306);
        let database = parsed.path().trim_start_matches('/').to_owned();
        if database.is_empty() || database.contains('/') {
            return Err(invalid(
                "it must name the database, e.g. jdbc:mysql://host:3306/trino_events",
            ));
        }
        let url_parts = trino_catalogs::validate::JdbcUrl {
            scheme: "mysql".to_owned(),
            host: host.clone(),
            port,
            database: Some(database.clone()),
            params: parsed
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        };
        trino_catalogs::probe::tls_mode(&url_parts).map_err(|reason| invalid(&reason))?;
        Ok(Self {
            url: url_parts,
            user: user.to_owned(),
            password: password.map(str::to_owned),
            pool: tokio::sync::OnceCell::new(),
            target: format!("{host}:{port}/{database}"),
            database,
        })
    }

    async fn conn(&self) -> Result<mysql_async::Conn, EventLogError> {
        let connect_error =
            |source: Box<dyn std::error::Error + Send + Sync>| EventLogError::Connect {
                target: self.target.clone(),
                source,
            };
        let pool = self
            .pool
            .get_or_try_init(|| async {
                let session = trino_catalogs::probe::connect_mysql(
                    &self.url,
                    &self.user,
                    self.password.clone(),
                    CONNECT_TIMEOUT,
                )
                .await
                .map_err(|e| connect_error(Box::new(e)))?;
                let _ = session.conn.disconnect().await;
                Ok::<_, EventLogError>(Pool::new(session.opts))
            })
            .await?;
        pool.get_conn()
            .await
            .map_err(|e| connect_error(Box::new(e)))
    }

    /// Checks that `trino_queries` exists and has every column in [`REQUIRED_COLUMNS`].
    pub async fn check_schema(&self) -> Result<(), EventLogError> {
        let mut conn = self.conn().await?;
        let present: Vec<String> = conn
            .exec(
                "SELECT LOWER(column_name) FROM information_schema.columns \
                 WHERE table_schema = DATABASE() AND table_name = 'trino_queries'",
                (),
            )
            .await
            .map_err(query_error)?;
        if present.is_empty() {
            return Err(EventLogError::MissingTable {
                database: self.database.clone(),
            });
        }
        let missing: Vec<String> = REQUIRED_COLUMNS
            .iter()
            .filter(|c| !present.iter().any(|p| p == *c))
            .map(|c| (*c).to_owned())
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(EventLogError::MissingColumns { columns: missing })
        }
    }

    /// Streams every completed query in `window` to `each`, in query-id order, and every row it cannot decode
    /// because its `inputs_json` is malformed to `skip` (one bad row does not abort the read; any other decode
    /// failure does, since it means the table is not Trino's). Returns how many rows the database sent, which
    /// is every row in the window: the window is a `query_id` range in the SQL, never a filter in memory.
    pub async fn for_each(
        &self,
        window: TimeWindow,
        mut each: impl FnMut(QueryEvent),
        mut skip: impl FnMut(SkippedRow),
    ) -> Result<u64, EventLogError> {
        self.check_schema().await?;
        let (lower, upper) = window.query_id_bounds();
        let mut sql = format!(
            "SELECT query_id, query_state, user, source, catalog, `schema`, query_type, inputs_json, error_code, \
             error_type, wall_time_millis, queued_time_millis, cpu_time_millis, physical_input_bytes, \
             physical_input_rows, output_rows, peak_memory_bytes, LEFT(query, {QUERY_HEAD_CHARS}) AS query_head \
             FROM trino_queries WHERE 1 = 1"
        );
        let mut params: Vec<mysql_async::Value> = Vec::new();
        if let Some(lower) = lower {
            sql.push_str(" AND query_id >= ?");
            params.push(lower.into());
        }
        if let Some(upper) = upper {
            sql.push_str(" AND query_id < ?");
            params.push(upper.into());
        }
        sql.push_str(" ORDER BY query_id");
        let params = if params.is_empty() {
            mysql_async::Params::Empty
        } else {
            mysql_async::Params::Positional(params)
        };

        let mut conn = self.conn().await?;
        let mut stream = conn
            .exec_stream::<Row, _, _>(sql, params)
            .await
            .map_err(query_error)?;
        let mut count = 0;
        while let Some(row) = stream.try_next().await.map_err(query_error)? {
            match decode(row)? {
                Ok(event) => each(event),
                Err(skipped) => skip(skipped),
            }
            count += 1;
        }
        Ok(count)
    }

    /// Reads `window` once and builds the usage report and the table-level access of every table read.
    pub async fn report(
        &self,
        window: TimeWindow,
        top: usize,
        connectors: BTreeMap<String, String>,
    ) -> Result<(UsageReport, Vec<TableAccess>), EventLogError> {
        let builder = std::cell::RefCell::new(ReportBuilder::new(window, top, connectors));
        self.for_each(
            window,
            |event| builder.borrow_mut().add(&event),
            |skipped| builder.borrow_mut().skip(skipped),
        )
        .await?;
        let builder = builder.into_inner();
        let access = builder.table_access();
        Ok((builder.finish(), access))
    }

    /// Closes the connection pool.
    pub async fn close(self) {
        if let Some(pool) = self.pool.into_inner() {
            let _ = pool.disconnect().await;
        }
    }
}

/// Decodes one row: `Ok(Err(_))` for a row to skip (malformed `inputs_json`), `Err` for a row that shows the
/// table is not what the reader expects.
fn decode(mut row: Row) -> Result<Result<QueryEvent, SkippedRow>, EventLogError> {
    let query_id: String = take(&mut row, 0, "")?;
    let bad = |reason: String| EventLogError::BadRow {
        query_id: query_id.clone(),
        reason,
    };
    let number = |row: &mut Row, index: usize| -> Result<u64, EventLogError> {
        let value: Option<i64> = row
            .take_opt(index)
            .transpose()
            .map_err(|e| bad(e.to_string()))?
            .flatten();
        Ok(value.unwrap_or(0).max(0) as u64)
    };
    let text = |row: &mut Row, index: usize| -> Result<Option<String>, EventLogError> {
        row.take_opt::<Option<String>, _>(index)
            .transpose()
            .map(Option::flatten)
            .map_err(|e| bad(e.to_string()))
    };
    let inputs_json = text(&mut row, 7)?.unwrap_or_else(|| "[]".to_owned());
    let Some(inputs) = parse_inputs(&inputs_json) else {
        return Ok(Err(SkippedRow {
            query_id,
            reason: "inputs_json is not a JSON array of input tables".to_owned(),
        }));
    };
    Ok(Ok(QueryEvent {
        query_state: text(&mut row, 1)?.unwrap_or_default(),
        user: text(&mut row, 2)?.unwrap_or_default(),
        source: text(&mut row, 3)?,
        catalog: text(&mut row, 4)?,
        schema: text(&mut row, 5)?,
        query_type: text(&mut row, 6)?,
        inputs,
        error_code: text(&mut row, 8)?,
        error_type: text(&mut row, 9)?,
        wall_time_millis: number(&mut row, 10)?,
        queued_time_millis: number(&mut row, 11)?,
        cpu_time_millis: number(&mut row, 12)?,
        physical_input_bytes: number(&mut row, 13)?,
        physical_input_rows: number(&mut row, 14)?,
        output_rows: number(&mut row, 15)?,
        peak_memory_bytes: number(&mut row, 16)?,
        query_head: text(&mut row, 17)?.unwrap_or_default(),
        query_id,
    }))
}

fn take(row: &mut Row, index: usize, id: &str) -> Result<String, EventLogError> {
    row.take_opt::<String, _>(index)
        .transpose()
        .map_err(|e| EventLogError::BadRow {
            query_id: id.to_owned(),
            reason: e.to_string(),
        })?
        .ok_or_else(|| EventLogError::BadRow {
            query_id: id.to_owned(),
            reason: "query_id is missing".to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_never_carry_credentials() {
        assert!(EventLogReader::new("jdbc:mysql://127.0.0.1:3306/trino_events", "u", None).is_ok());
        assert!(EventLogReader::new("mysql://db.internal/trino_events", "u", Some("p")).is_ok());
        // Options only Connector/J uses are accepted (the local lake's URL has one).
        assert!(
            EventLogReader::new(
                "jdbc:mysql://127.0.0.1:3306/trino_events?createDatabaseIfNotExist=true&sslMode=REQUIRED",
                "u",
                None
            )
            .is_ok()
        );
        for (url, needle) in [
            ("postgres://h/db", "must start with"),
            ("jdbc:mysql://127.0.0.1:3306", "must name the database"),
            (
                "mysql://root:secret@127.0.0.1/db",
                "credentials must not be embedded",
            ),
            (
                "jdbc:mysql://h/db?sslMode=SOMETIMES",
                "sslMode=\"sometimes\"",
            ),
        ] {
            let error = EventLogReader::new(url, "u", None)
                .err()
                .unwrap()
                .to_string();
            assert!(error.contains(needle), "{url}: {error}");
        }
    }
}
