//! Connectivity probes, run before a catalog is published: they connect the way Trino will and say exactly
//! what failed (DNS, TCP, TLS, authentication, a missing database, bucket or Glue database).
//!
//! MySQL and PostgreSQL/Redshift are probed with real drivers (`mysql_async`, `tokio-postgres`): resolve,
//! connect, authenticate, `SELECT 1`, read the server version. Iceberg checks the Glue database and the S3
//! warehouse bucket through the SDK (see [`aws`], the only module here that names SDK types). Google Sheets
//! checks the service-account JSON shape without network.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;

use crate::error::{Error, Result};
use crate::spec::{CatalogSpec, SecretValues};
use crate::validate::{JdbcUrl, parse_jdbc_url};

pub mod aws;

/// What a failed probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProbeFailure {
    /// The host name does not resolve.
    Dns {
        /// The host.
        host: String,
        /// The resolver's message.
        detail: String,
    },
    /// Nothing listens at the address (connection refused).
    TcpRefused {
        /// `host:port` as resolved.
        addr: String,
    },
    /// The TCP connection did not complete in time (firewall, security group, wrong address).
    TcpTimeout {
        /// `host:port` as resolved.
        addr: String,
        /// The timeout.
        after: Duration,
    },
    /// Another TCP failure.
    Tcp {
        /// `host:port`.
        addr: String,
        /// The OS message.
        detail: String,
    },
    /// The TLS handshake failed, or TLS was required and the server does not offer it.
    Tls {
        /// What the driver said.
        detail: String,
    },
    /// The server rejected the user or password.
    Auth {
        /// The user.
        user: String,
        /// What the server said.
        detail: String,
    },
    /// The database named in the URL does not exist.
    UnknownDatabase {
        /// The database.
        database: String,
    },
    /// The Glue database does not exist.
    GlueDatabaseMissing {
        /// The database.
        database: String,
    },
    /// The warehouse bucket does not exist.
    BucketMissing {
        /// The bucket.
        bucket: String,
    },
    /// AWS denied the check.
    AccessDenied {
        /// What was checked.
        what: String,
    },
    /// An AWS endpoint could not be reached.
    Unreachable {
        /// `glue` or `s3`.
        service: &'static str,
        /// The SDK's message.
        detail: String,
    },
    /// A secret the probe needs has no value.
    MissingSecret {
        /// The secret field.
        field: String,
    },
    /// The Google Sheets credentials are not a usable service-account key.
    InvalidCredentials {
        /// What is wrong (never the value).
        reason: String,
    },
    /// The catalog definition cannot be probed as it stands.
    InvalidDefinition {
        /// Why.
        reason: String,
    },
    /// Anything else, with the driver's message.
    Other {
        /// The message.
        detail: String,
    },
}

impl fmt::Display for ProbeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeFailure::Dns { host, detail } => {
                write!(f, "dns: host {host:?} does not resolve ({detail})")
            }
            ProbeFailure::TcpRefused { addr } => write!(f, "tcp: connection to {addr} refused"),
            ProbeFailure::TcpTimeout { addr, after } => {
                write!(
                    f,
                    "tcp: connection to {addr} timed out after {}s",
                    after.as_secs()
                )
            }
            ProbeFailure::Tcp { addr, detail } => {
                write!(f, "tcp: connection to {addr} failed ({detail})")
            }
            ProbeFailure::Tls { detail } => write!(f, "tls: {detail}"),
            ProbeFailure::Auth { user, detail } => {
                write!(f, "auth: user {user:?} was rejected ({detail})")
            }
            ProbeFailure::UnknownDatabase { database } => {
                write!(f, "database {database:?} does not exist")
            }
            ProbeFailure::GlueDatabaseMissing { database } => {
                write!(f, "glue database {database:?} does not exist")
            }
            ProbeFailure::BucketMissing { bucket } => {
                write!(f, "s3 bucket {bucket:?} does not exist")
            }
            ProbeFailure::AccessDenied { what } => write!(f, "access denied: {what}"),
            ProbeFailure::Unreachable { service, detail } => {
                write!(f, "{service} endpoint unreachable ({detail})")
            }
            ProbeFailure::MissingSecret { field } => {
                write!(f, "secret {field} has no value to probe with")
            }
            ProbeFailure::InvalidCredentials { reason } => write!(f, "credentials: {reason}"),
            ProbeFailure::InvalidDefinition { reason } => write!(f, "definition: {reason}"),
            ProbeFailure::Other { detail } => write!(f, "{detail}"),
        }
    }
}

/// What a successful probe saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    /// The catalog.
    pub catalog: String,
    /// The server version, for database connectors.
    pub server_version: Option<String>,
    /// One line per check that passed, e.g. `mysql 127.0.0.1:3306: SELECT 1 ok`.
    pub checks: Vec<String>,
    /// False when the connector has no probe (generic connectors): nothing was checked.
    pub probed: bool,
}

/// Probe settings.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// Time allowed for DNS, TCP connect and login, each.
    pub timeout: Duration,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
        }
    }
}

/// Probes a catalog. `secrets` holds the values of its secret fields (from the environment or Parameter
/// Store, see [`crate::store::resolve_secrets`]); `aws` is needed for Iceberg catalogs only.
pub async fn probe(
    name: &str,
    spec: &CatalogSpec,
    secrets: &SecretValues,
    aws: Option<&aws_config::SdkConfig>,
    options: &ProbeOptions,
) -> Result<ProbeReport> {
    let fail = |failure| Error::Probe {
        catalog: name.to_owned(),
        failure,
    };
    let mut report = ProbeReport {
        catalog: name.to_owned(),
        server_version: None,
        checks: Vec::new(),
        probed: true,
    };
    let password = |field: &str| secrets.get(field).map(|s| s.expose().to_owned());
    match spec {
        CatalogSpec::Mysql(j) => {
            let url = jdbc(&j.url, "mysql").map_err(fail)?;
            let addr = reach(&url, options).await.map_err(fail)?;
            let pw = match &j.password {
                Some(_) => Some(
                    password("password")
                        .ok_or_else(|| missing("password"))
                        .map_err(fail)?,
                ),
                None => None,
            };
            let version = mysql(&url, &j.user, pw, options).await.map_err(fail)?;
            report
                .checks
                .push(format!("mysql {addr}: login as {:?}, SELECT 1 ok", j.user));
            report.server_version = Some(version);
        }
        CatalogSpec::Postgresql(j) => {
            let url = jdbc(&j.url, "postgresql").map_err(fail)?;
            let addr = reach(&url, options).await.map_err(fail)?;
            let pw = match &j.password {
                Some(_) => Some(
                    password("password")
                        .ok_or_else(|| missing("password"))
                        .map_err(fail)?,
                ),
                None => None,
            };
            let version = postgres(&url, &j.user, pw, options).await.map_err(fail)?;
            report.checks.push(format!(
                "postgresql {addr}: login as {:?}, SELECT 1 ok",
                j.user
            ));
            report.server_version = Some(version);
        }
        CatalogSpec::Redshift(r) => {
            let url = jdbc(&r.url, "redshift").map_err(fail)?;
            let addr = reach(&url, options).await.map_err(fail)?;
            let pw = match &r.password {
                Some(_) => Some(
                    password("password")
                        .ok_or_else(|| missing("password"))
                        .map_err(fail)?,
                ),
                None => None,
            };
            let version = postgres(&url, &r.user, pw, options).await.map_err(fail)?;
            report.checks.push(format!(
                "redshift {addr}: login as {:?}, SELECT 1 ok",
                r.user
            ));
            report.server_version = Some(version);
        }
        CatalogSpec::Iceberg(i) => {
            let Some(sdk) = aws else {
                return Err(fail(ProbeFailure::InvalidDefinition {
                    reason: "an iceberg probe needs an AWS SDK config".to_owned(),
                }));
            };
            report
                .checks
                .extend(aws::probe_iceberg(sdk, i).await.map_err(fail)?);
        }
        CatalogSpec::Gsheets(_) => {
            let key = password("credentials_key")
                .ok_or_else(|| missing("credentials_key"))
                .map_err(fail)?;
            let email = check_sheets_credentials(&key).map_err(fail)?;
            report.checks.push(format!(
                "gsheets: service-account key for {email} is well formed"
            ));
        }
        CatalogSpec::Generic(g) => {
            report.probed = false;
            report.checks.push(format!(
                "no probe exists for connector {:?}; nothing was checked",
                g.connector_name
            ));
        }
    }
    Ok(report)
}

fn missing(field: &str) -> ProbeFailure {
    ProbeFailure::MissingSecret {
        field: field.to_owned(),
    }
}

fn jdbc(url: &str, scheme: &str) -> std::result::Result<JdbcUrl, ProbeFailure> {
    parse_jdbc_url(url, scheme).map_err(|reason| ProbeFailure::InvalidDefinition { reason })
}

/// Resolves the host and opens (then drops) a TCP connection, so DNS and TCP failures are told apart from
/// what the driver reports later.
async fn reach(
    url: &JdbcUrl,
    options: &ProbeOptions,
) -> std::result::Result<SocketAddr, ProbeFailure> {
    let lookup = tokio::time::timeout(
        options.timeout,
        tokio::net::lookup_host((url.host.as_str(), url.port)),
    )
    .await;
    let addrs: Vec<SocketAddr> = match lookup {
        Err(_) => {
            return Err(ProbeFailure::Dns {
                host: url.host.clone(),
                detail: "lookup timed out".to_owned(),
            });
        }
        Ok(Err(e)) => {
            return Err(ProbeFailure::Dns {
                host: url.host.clone(),
                detail: e.to_string(),
            });
        }
        Ok(Ok(a)) => a.collect(),
    };
    let Some(addr) = addrs.first().copied() else {
        return Err(ProbeFailure::Dns {
            host: url.host.clone(),
            detail: "no addresses".to_owned(),
        });
    };
    match tokio::time::timeout(options.timeout, tokio::net::TcpStream::connect(addr)).await {
        Err(_) => Err(ProbeFailure::TcpTimeout {
            addr: addr.to_string(),
            after: options.timeout,
        }),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(ProbeFailure::TcpRefused {
                addr: addr.to_string(),
            })
        }
        Ok(Err(e)) => Err(ProbeFailure::Tcp {
            addr: addr.to_string(),
            detail: e.to_string(),
        }),
        Ok(Ok(_)) => Ok(addr),
    }
}

/// Whether the JDBC URL asks for TLS (`sslMode=REQUIRED|VERIFY_*`, `useSSL=true`, `ssl=true`,
/// `sslmode=require`...). The Redshift JDBC driver uses TLS unless told otherwise (`ssl=false` or
/// `sslmode=disable`), so a Redshift URL without such a parameter wants TLS too.
fn wants_tls(url: &JdbcUrl) -> bool {
    let param = |name: &str| {
        url.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let explicit = url.params.iter().any(|(k, v)| {
        let (k, v) = (k.to_ascii_lowercase(), v.to_ascii_lowercase());
        (k == "sslmode"
            && !matches!(
                v.as_str(),
                "disable" | "disabled" | "allow" | "prefer" | "preferred"
            ))
            || (matches!(k.as_str(), "usessl" | "ssl" | "requiressl") && v == "true")
    });
    let redshift_default = url.scheme == "redshift"
        && param("ssl").as_deref() != Some("false")
        && param("sslmode").as_deref() != Some("disable");
    explicit || redshift_default
}

async fn mysql(
    url: &JdbcUrl,
    user: &str,
    password: Option<String>,
    options: &ProbeOptions,
) -> std::result::Result<String, ProbeFailure> {
    use mysql_async::prelude::Queryable as _;
    let mut opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(url.host.clone())
        .tcp_port(url.port)
        .user(Some(user))
        .pass(password)
        .db_name(url.database.clone())
        .prefer_socket(false);
    if wants_tls(url) {
        opts = opts.ssl_opts(mysql_async::SslOpts::default());
    }
    let classify = |e: mysql_async::Error| classify_mysql(e, user, url);
    let mut conn = tokio::time::timeout(options.timeout, mysql_async::Conn::new(opts))
        .await
        .map_err(|_| ProbeFailure::Other {
            detail: "mysql login timed out".to_owned(),
        })?
        .map_err(classify)?;
    let one: Option<i64> = conn.query_first("SELECT 1").await.map_err(classify)?;
    if one != Some(1) {
        return Err(ProbeFailure::Other {
            detail: format!("SELECT 1 returned {one:?}"),
        });
    }
    let version: Option<String> = conn
        .query_first("SELECT VERSION()")
        .await
        .map_err(classify)?;
    let _ = conn.disconnect().await;
    Ok(version.unwrap_or_default())
}

fn classify_mysql(e: mysql_async::Error, user: &str, url: &JdbcUrl) -> ProbeFailure {
    match e {
        mysql_async::Error::Server(s) => match s.code {
            // ER_ACCESS_DENIED_ERROR, ER_DBACCESS_DENIED_ERROR, ER_ACCESS_DENIED_NO_PASSWORD_ERROR
            1045 | 1044 | 1698 => ProbeFailure::Auth {
                user: user.to_owned(),
                detail: s.message,
            },
            // ER_BAD_DB_ERROR
            1049 => ProbeFailure::UnknownDatabase {
                database: url.database.clone().unwrap_or_default(),
            },
            _ => ProbeFailure::Other {
                detail: format!("mysql server error {}: {}", s.code, s.message),
            },
        },
        mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer) => {
            ProbeFailure::Tls {
                detail: "the URL requires TLS but the server does not offer it".to_owned(),
            }
        }
        mysql_async::Error::Io(mysql_async::IoError::Tls(t)) => ProbeFailure::Tls {
            detail: t.to_string(),
        },
        mysql_async::Error::Io(io) => ProbeFailure::Tcp {
            addr: format!("{}:{}", url.host, url.port),
            detail: io.to_string(),
        },
        other => ProbeFailure::Other {
            detail: other.to_string(),
        },
    }
}

async fn postgres(
    url: &JdbcUrl,
    user: &str,
    password: Option<String>,
    options: &ProbeOptions,
) -> std::result::Result<String, ProbeFailure> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&url.host)
        .port(url.port)
        .user(user)
        .connect_timeout(options.timeout)
        .application_name("trino-catalogs-probe");
    if let Some(db) = &url.database {
        config.dbname(db);
    }
    if let Some(pw) = &password {
        config.password(pw);
    }
    if wants_tls(url) {
        // TLS as the JDBC URL asks for it, verified against the Mozilla root store (Redshift and RDS
        // certificates chain to Amazon's public roots).
        config.ssl_mode(tokio_postgres::config::SslMode::Require);
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ProbeFailure::Tls {
                detail: e.to_string(),
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        pg_session(
            &config,
            tokio_postgres_rustls::MakeRustlsConnect::new(tls),
            user,
            url,
            options,
        )
        .await
    } else {
        pg_session(&config, tokio_postgres::NoTls, user, url, options).await
    }
}

async fn pg_session<T>(
    config: &tokio_postgres::Config,
    tls: T,
    user: &str,
    url: &JdbcUrl,
    options: &ProbeOptions,
) -> std::result::Result<String, ProbeFailure>
where
    T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>,
    T::Stream: Send + 'static,
{
    let classify = |e: tokio_postgres::Error| classify_postgres(&e, user, url);
    let (client, connection) = tokio::time::timeout(options.timeout, config.connect(tls))
        .await
        .map_err(|_| ProbeFailure::Other {
            detail: "postgresql login timed out".to_owned(),
        })?
        .map_err(classify)?;
    let task = tokio::spawn(connection);
    let result = async {
        let row = client.query_one("SELECT 1", &[]).await.map_err(classify)?;
        let one: i32 = row.get(0);
        if one != 1 {
            return Err(ProbeFailure::Other {
                detail: format!("SELECT 1 returned {one}"),
            });
        }
        let row = client
            .query_one("SELECT version()", &[])
            .await
            .map_err(classify)?;
        Ok(row.get::<_, String>(0))
    }
    .await;
    drop(client);
    let _ = task.await;
    result
}

fn classify_postgres(e: &tokio_postgres::Error, user: &str, url: &JdbcUrl) -> ProbeFailure {
    use tokio_postgres::error::SqlState;
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::INVALID_PASSWORD
            || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        {
            return ProbeFailure::Auth {
                user: user.to_owned(),
                detail: db.message().to_owned(),
            };
        }
        if *code == SqlState::INVALID_CATALOG_NAME {
            return ProbeFailure::UnknownDatabase {
                database: url.database.clone().unwrap_or_default(),
            };
        }
        return ProbeFailure::Other {
            detail: format!("postgresql error {}: {}", code.code(), db.message()),
        };
    }
    let text = describe(e);
    if text.contains("TLS") || text.contains("tls") || text.contains("certificate") {
        return ProbeFailure::Tls { detail: text };
    }
    if text.contains("password") {
        // The server asked for a password and none was configured.
        return ProbeFailure::Auth {
            user: user.to_owned(),
            detail: text,
        };
    }
    ProbeFailure::Other { detail: text }
}

/// The error and its causes on one line.
fn describe(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Checks that `key` is base64 of a Google service-account JSON key; returns its `client_email`.
/// Error messages name fields, never values.
pub fn check_sheets_credentials(key: &str) -> std::result::Result<String, ProbeFailure> {
    let bad = |reason: &str| ProbeFailure::InvalidCredentials {
        reason: reason.to_owned(),
    };
    let compact: String = key.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .map_err(|_| bad("credentials_key is not base64 (Trino's gsheets.credentials-key is the base64 of the JSON key file)"))?;
    let json: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|_| bad("credentials_key does not decode to JSON"))?;
    let obj = json
        .as_object()
        .ok_or_else(|| bad("credentials_key JSON is not an object"))?;
    let text = |field: &str| {
        obj.get(field)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
    };
    if text("type") != Some("service_account") {
        return Err(bad("field \"type\" must be \"service_account\""));
    }
    let missing: Vec<&str> = [
        "project_id",
        "private_key_id",
        "private_key",
        "client_email",
        "token_uri",
    ]
    .into_iter()
    .filter(|f| text(f).is_none())
    .collect();
    if !missing.is_empty() {
        return Err(bad(&format!(
            "fields missing or empty: {}",
            missing.join(", ")
        )));
    }
    let pk = text("private_key").unwrap_or_default();
    if !pk.trim_start().starts_with("-----BEGIN PRIVATE KEY-----")
        || !pk.trim_end().ends_with("-----END PRIVATE KEY-----")
    {
        return Err(bad("field \"private_key\" is not a PEM private key"));
    }
    let email = text("client_email").unwrap_or_default();
    if !email.contains('@') {
        return Err(bad("field \"client_email\" is not an email address"));
    }
    if !text("token_uri")
        .unwrap_or_default()
        .starts_with("https://")
    {
        return Err(bad("field \"token_uri\" is not an https URL"));
    }
    Ok(email.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(v: &serde_json::Value) -> String {
        base64::engine::general_purpose::STANDARD.encode(v.to_string())
    }

    #[test]
    fn sheets_credentials_shape() {
        let good = serde_json::json!({
            "type": "service_account", "project_id": "p", "private_key_id": "k1",
            "private_key": "-----BEGIN PRIVATE KEY-----\nMIIsecretbits\n-----END PRIVATE KEY-----\n",
            "client_email": "svc@p.iam.gserviceaccount.com", "token_uri": "https://oauth2.googleapis.com/token"
        });
        assert_eq!(
            check_sheets_credentials(&b64(&good)).unwrap(),
            "svc@p.iam.gserviceaccount.com"
        );
        let mut no_key = good.clone();
        no_key.as_object_mut().unwrap().remove("private_key");
        no_key["project_id"] = "".into();
        let e = check_sheets_credentials(&b64(&no_key))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "credentials: fields missing or empty: project_id, private_key"
        );
        let mut user = good.clone();
        user["type"] = "authorized_user".into();
        assert!(
            check_sheets_credentials(&b64(&user))
                .unwrap_err()
                .to_string()
                .contains("service_account")
        );
        let e = check_sheets_credentials("not base64 MIIsecretbits!")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not base64") && !e.contains("MIIsecretbits"),
            "{e}"
        );
        let mut bad_pem = good;
        bad_pem["private_key"] = "MIIsecretbits".into();
        let e = check_sheets_credentials(&b64(&bad_pem))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("private_key") && !e.contains("MIIsecretbits"),
            "{e}"
        );
    }

    #[test]
    fn tls_wishes_are_read_from_the_url() {
        let u = |s: &str, scheme| parse_jdbc_url(s, scheme).unwrap();
        assert!(wants_tls(&u(
            "jdbc:mysql://h:3306?sslMode=REQUIRED",
            "mysql"
        )));
        assert!(wants_tls(&u(
            "jdbc:redshift://h:5439/d?ssl=true",
            "redshift"
        )));
        assert!(!wants_tls(&u(
            "jdbc:postgresql://h/d?sslmode=prefer",
            "postgresql"
        )));
        assert!(!wants_tls(&u("jdbc:mysql://h", "mysql")));
    }
}
