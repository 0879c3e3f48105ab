//! Connectivity probes, run before a catalog is published: they connect the way Trino will and say exactly
//! what failed (DNS, TCP, TLS, authentication, a missing database, bucket or Glue database).
//!
//! MySQL and PostgreSQL/Redshift are probed with real drivers (`mysql_async`, `tokio-postgres`): resolve,
//! connect, authenticate, `SELECT 1`, read the server version. TLS is used, and the certificate checked,
//! exactly as far as the real JDBC driver would for the URL (see [`TlsMode`]). Iceberg checks the Glue
//! database and the S3 warehouse bucket through the SDK (see [`aws`], the only module here that names SDK
//! types). Google Sheets checks the service-account JSON shape without network.

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

impl std::error::Error for ProbeFailure {}

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
            let (version, transport) = mysql(&url, &j.user, pw, options).await.map_err(fail)?;
            report.checks.push(format!(
                "mysql {addr}: login as {:?} ({transport}), SELECT 1 ok",
                j.user
            ));
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
            let (version, transport) = postgres(&url, &j.user, pw, options).await.map_err(fail)?;
            report.checks.push(format!(
                "postgresql {addr}: login as {:?} ({transport}), SELECT 1 ok",
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
            let (version, transport) = postgres(&url, &r.user, pw, options).await.map_err(fail)?;
            report.checks.push(format!(
                "redshift {addr}: login as {:?} ({transport}), SELECT 1 ok",
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

/// What a JDBC driver does about TLS for a URL; the probe connects the same way.
///
/// Read per driver, from its own rules:
///
/// - pgjdbc (`postgresql`): `sslmode` = `disable`, `allow`/`prefer` (the default), `require`, `verify-ca`,
///   `verify-full`; without `sslmode`, `ssl=true` (or a bare `ssl`) means `verify-full`.
/// - Amazon Redshift JDBC (`redshift`): `sslmode` (alias `AuthMech`) as above; without it, `ssl` defaults to
///   `true`, which means `verify-ca` (`SslMode.of` in the driver); `ssl=false` means `allow`.
/// - MySQL Connector/J (`mysql`): `sslMode` = `DISABLED`, `PREFERRED` (the default), `REQUIRED`,
///   `VERIFY_CA`, `VERIFY_IDENTITY`; without it the legacy `useSSL=false` means `DISABLED`,
///   `verifyServerCertificate=true` `VERIFY_CA`, `requireSSL=true` `REQUIRED`.
///
/// Only the verify modes check the certificate: `require`/`REQUIRED` encrypt and accept any certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plaintext.
    Disable,
    /// TLS when the server offers it, certificate not verified; plaintext otherwise.
    Prefer,
    /// TLS required, any certificate accepted.
    Require,
    /// TLS required, the certificate chain verified; the host name is not checked.
    VerifyCa,
    /// TLS required, the certificate chain and the host name verified.
    VerifyFull,
}

impl TlsMode {
    /// Whether the certificate chain is checked.
    pub fn verifies_certificate(self) -> bool {
        matches!(self, TlsMode::VerifyCa | TlsMode::VerifyFull)
    }

    fn describe(self) -> &'static str {
        match self {
            TlsMode::Disable => "plaintext",
            TlsMode::Prefer => "tls if offered, certificate not verified",
            TlsMode::Require => "tls required, certificate not verified",
            TlsMode::VerifyCa => "tls required, certificate chain verified",
            TlsMode::VerifyFull => "tls required, certificate chain and host name verified",
        }
    }
}

/// The TLS mode the URL's driver uses (see [`TlsMode`]); an error for a mode value the driver rejects.
pub fn tls_mode(url: &JdbcUrl) -> std::result::Result<TlsMode, String> {
    // Parameter names are matched case-insensitively (Redshift's driver does; the others' users often
    // assume it), values as the drivers do (case-insensitively).
    let param = |name: &str| {
        url.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let is_true = |v: &Option<String>| v.as_deref().is_some_and(|v| v == "true" || v == "yes");
    let is_false = |v: &Option<String>| v.as_deref().is_some_and(|v| v == "false" || v == "no");
    let libpq_mode = |mode: &str, key: &str| match mode {
        "disable" => Ok(TlsMode::Disable),
        "allow" | "prefer" => Ok(TlsMode::Prefer),
        "require" => Ok(TlsMode::Require),
        "verify-ca" => Ok(TlsMode::VerifyCa),
        "verify-full" => Ok(TlsMode::VerifyFull),
        other => Err(format!(
            "{key}={other:?} is not one of disable, allow, prefer, require, verify-ca, verify-full"
        )),
    };
    match url.scheme.as_str() {
        "mysql" => match param("sslMode") {
            Some(mode) => match mode.as_str() {
                "disabled" => Ok(TlsMode::Disable),
                "preferred" => Ok(TlsMode::Prefer),
                "required" => Ok(TlsMode::Require),
                "verify_ca" => Ok(TlsMode::VerifyCa),
                "verify_identity" => Ok(TlsMode::VerifyFull),
                other => Err(format!(
                    "sslMode={other:?} is not one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY"
                )),
            },
            None if is_false(&param("useSSL")) => Ok(TlsMode::Disable),
            None if is_true(&param("verifyServerCertificate")) => Ok(TlsMode::VerifyCa),
            None if is_true(&param("requireSSL")) => Ok(TlsMode::Require),
            None => Ok(TlsMode::Prefer),
        },
        "redshift" => match param("sslmode").or_else(|| param("AuthMech")) {
            Some(mode) => libpq_mode(&mode, "sslmode"),
            None => match param("ssl") {
                None => Ok(TlsMode::VerifyCa),
                Some(v) if v.is_empty() || v == "true" => Ok(TlsMode::VerifyCa),
                Some(_) => Ok(TlsMode::Prefer),
            },
        },
        _ => match param("sslmode") {
            Some(mode) => libpq_mode(&mode, "sslmode"),
            None => match param("ssl") {
                Some(v) if v.is_empty() || v == "true" => Ok(TlsMode::VerifyFull),
                _ => Ok(TlsMode::Prefer),
            },
        },
    }
}

/// Trust roots for a verifying mode: the file `sslrootcert` names when it is readable here (pgjdbc and the
/// Redshift driver trust only that file), else the Mozilla roots, close to the JDK's `cacerts` that
/// Connector/J and the Redshift driver fall back to. RDS certificates are signed by the RDS CA, which is NOT
/// a public root: verifying an RDS endpoint needs `sslrootcert` pointing at the RDS bundle. Returns the
/// roots and a phrase naming them for failure messages.
fn trust_roots(
    url: &JdbcUrl,
) -> std::result::Result<(rustls::RootCertStore, String), ProbeFailure> {
    use rustls::pki_types::pem::PemObject as _;
    let root_file = url
        .params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("sslrootcert"))
        .map(|(_, v)| v.clone());
    if let Some(path) = root_file
        && std::path::Path::new(&path).is_file()
    {
        let mut roots = rustls::RootCertStore::empty();
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(&path)
            .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| ProbeFailure::Tls {
                detail: format!("sslrootcert {path:?} is not a PEM certificate file ({e})"),
            })?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(ProbeFailure::Tls {
                detail: format!("sslrootcert {path:?} holds no usable certificate"),
            });
        }
        return Ok((roots, format!("the roots in sslrootcert {path:?}")));
    }
    Ok((
        rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
        "the public (Mozilla) roots; RDS certificates need sslrootcert=<RDS CA bundle>".to_owned(),
    ))
}

/// Checks a server certificate the way the TLS mode says; handshake signatures are always checked.
#[derive(Debug)]
struct ModeVerifier {
    mode: TlsMode,
    webpki: std::sync::Arc<rustls::client::WebPkiServerVerifier>,
}

impl rustls::client::danger::ServerCertVerifier for ModeVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::CertificateError::{NotValidForName, NotValidForNameContext};
        if !self.mode.verifies_certificate() {
            return Ok(rustls::client::danger::ServerCertVerified::assertion());
        }
        // webpki checks the chain first, then the name: a name error means the chain is good.
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                NotValidForName | NotValidForNameContext { .. },
            )) if self.mode == TlsMode::VerifyCa => {
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// A rustls client config for `mode`, and the phrase naming its trust roots.
fn rustls_config(
    url: &JdbcUrl,
    mode: TlsMode,
) -> std::result::Result<(rustls::ClientConfig, String), ProbeFailure> {
    let tls_err = |e: &dyn fmt::Display| ProbeFailure::Tls {
        detail: e.to_string(),
    };
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let (roots, roots_named) = if mode.verifies_certificate() {
        trust_roots(url)?
    } else {
        // Unused (nothing is verified), but the verifier needs a non-empty store to be built.
        (
            rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
            "no roots (the certificate is not verified)".to_owned(),
        )
    };
    let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
        std::sync::Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| tls_err(&e))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(&e))?
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(ModeVerifier { mode, webpki }))
        .with_no_client_auth();
    Ok((config, roots_named))
}

/// Logs in over MySQL as Connector/J would; returns the server version and how the session is carried.
async fn mysql(
    url: &JdbcUrl,
    user: &str,
    password: Option<String>,
    options: &ProbeOptions,
) -> std::result::Result<(String, String), ProbeFailure> {
    use mysql_async::prelude::Queryable as _;
    let session = connect_mysql(url, user, password, options.timeout).await?;
    let classify = |e: mysql_async::Error| classify_mysql(e, user, url, session.mode);
    let mut conn = session.conn;
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
    Ok((version.unwrap_or_default(), session.transport.to_owned()))
}

/// A MySQL session opened the way Connector/J opens one for a JDBC URL: see [`connect_mysql`].
pub struct MysqlSession {
    /// The open connection.
    pub conn: mysql_async::Conn,
    /// Options that open more sessions like this one (for a pool): the TLS settings that worked.
    pub opts: mysql_async::OptsBuilder,
    /// The URL's TLS mode.
    pub mode: TlsMode,
    /// How the session is carried, e.g. "plaintext (the server offers no tls)".
    pub transport: &'static str,
}

/// Opens a MySQL session for `url` as Connector/J would (its `sslMode`, `useSSL`, `requireSSL` and
/// `verifyServerCertificate`, see [`tls_mode`]): PREFERRED takes TLS when the server offers it, VERIFY_CA
/// checks the chain but not the name, VERIFY_IDENTITY both. Certificates are verified against the Mozilla
/// roots built into mysql_async (close to the JDK cacerts Connector/J falls back to). Other Connector/J
/// options (`createDatabaseIfNotExist`, timeouts, ...) concern the JDBC driver only and are not used here.
/// Each step is bounded by `timeout`.
pub async fn connect_mysql(
    url: &JdbcUrl,
    user: &str,
    password: Option<String>,
    timeout: Duration,
) -> std::result::Result<MysqlSession, ProbeFailure> {
    let mode = tls_mode(url).map_err(|reason| ProbeFailure::InvalidDefinition { reason })?;
    let base = mysql_async::OptsBuilder::default()
        .ip_or_hostname(url.host.clone())
        .tcp_port(url.port)
        .user(Some(user))
        .pass(password)
        .db_name(url.database.clone())
        .prefer_socket(false);
    let tls = |accept_any_certificate: bool| {
        base.clone().ssl_opts(
            mysql_async::SslOpts::default()
                .with_danger_accept_invalid_certs(accept_any_certificate)
                .with_danger_skip_domain_validation(mode == TlsMode::VerifyCa),
        )
    };
    let connect = |opts: mysql_async::OptsBuilder| async move {
        match tokio::time::timeout(timeout, mysql_async::Conn::new(opts.clone())).await {
            Ok(conn) => Ok(conn.map(|c| (c, opts))),
            Err(_) => Err(ProbeFailure::Other {
                detail: "mysql login timed out".to_owned(),
            }),
        }
    };
    let classify = |e: mysql_async::Error| classify_mysql(e, user, url, mode);
    let (opened, transport) = match mode {
        TlsMode::Disable => (connect(base.clone()).await?, mode.describe()),
        TlsMode::Require | TlsMode::VerifyFull => (
            connect(tls(mode == TlsMode::Require)).await?,
            mode.describe(),
        ),
        // PREFERRED: TLS when the server offers it, else plaintext.
        TlsMode::Prefer => match connect(tls(true)).await? {
            Err(mysql_async::Error::Driver(
                mysql_async::DriverError::NoClientSslFlagFromServer,
            )) => (
                connect(base.clone()).await?,
                "plaintext (the server offers no tls)",
            ),
            other => (other, "tls, certificate not verified"),
        },
        // mysql_async's skip_domain_validation does not recognise rustls 0.23's name error. webpki verifies
        // the chain before the name, so a name error means the chain passed: all VERIFY_CA checks.
        TlsMode::VerifyCa => match connect(tls(false)).await? {
            Err(mysql_async::Error::Io(mysql_async::IoError::Tls(t)))
                if is_name_mismatch(&t.to_string()) =>
            {
                (connect(tls(true)).await?, mode.describe())
            }
            other => (other, mode.describe()),
        },
    };
    let (conn, opts) = opened.map_err(classify)?;
    Ok(MysqlSession {
        conn,
        opts,
        mode,
        transport,
    })
}

/// Whether a TLS error says the certificate does not name the host (its chain was fine).
fn is_name_mismatch(text: &str) -> bool {
    text.contains("not valid for name") || text.contains("NotValidForName")
}

fn classify_mysql(e: mysql_async::Error, user: &str, url: &JdbcUrl, mode: TlsMode) -> ProbeFailure {
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
            detail: format!(
                "{t} (sslMode {mode:?}: {}; verified against the public (Mozilla) roots)",
                mode.describe()
            ),
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

/// Logs in over the PostgreSQL protocol as pgjdbc or the Redshift driver would; returns the server version
/// and how the session is carried.
async fn postgres(
    url: &JdbcUrl,
    user: &str,
    password: Option<String>,
    options: &ProbeOptions,
) -> std::result::Result<(String, String), ProbeFailure> {
    let mode = tls_mode(url).map_err(|reason| ProbeFailure::InvalidDefinition { reason })?;
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
    let version = if mode == TlsMode::Disable {
        pg_session(&config, tokio_postgres::NoTls, user, url, options).await?
    } else {
        config.ssl_mode(if mode == TlsMode::Prefer {
            tokio_postgres::config::SslMode::Prefer
        } else {
            tokio_postgres::config::SslMode::Require
        });
        let (tls, roots) = rustls_config(url, mode)?;
        pg_session(
            &config,
            tokio_postgres_rustls::MakeRustlsConnect::new(tls),
            user,
            url,
            options,
        )
        .await
        .map_err(|failure| match failure {
            ProbeFailure::Tls { detail } => ProbeFailure::Tls {
                detail: format!(
                    "{detail} (sslmode {mode:?}: {}; verified against {roots})",
                    mode.describe()
                ),
            },
            other => other,
        })?
    };
    Ok((version, mode.describe().to_owned()))
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
    fn tls_modes_mirror_each_driver() {
        use TlsMode::*;
        let mode = |url: &str| {
            let scheme = url["jdbc:".len()..].split(':').next().unwrap();
            tls_mode(&parse_jdbc_url(url, scheme).unwrap())
        };
        let cases = [
            // pgjdbc: prefer by default; require encrypts without verifying; ssl=true means verify-full.
            ("jdbc:postgresql://h/d", Prefer),
            ("jdbc:postgresql://h/d?sslmode=disable", Disable),
            ("jdbc:postgresql://h/d?sslmode=allow", Prefer),
            ("jdbc:postgresql://h/d?sslmode=prefer", Prefer),
            ("jdbc:postgresql://h/d?sslmode=require", Require),
            ("jdbc:postgresql://h/d?sslmode=verify-ca", VerifyCa),
            ("jdbc:postgresql://h/d?sslmode=VERIFY-FULL", VerifyFull),
            ("jdbc:postgresql://h/d?ssl=true", VerifyFull),
            ("jdbc:postgresql://h/d?ssl", VerifyFull),
            ("jdbc:postgresql://h/d?ssl=false", Prefer),
            ("jdbc:postgresql://h/d?ssl=true&sslmode=require", Require),
            // Redshift: ssl defaults to true, which is verify-ca; AuthMech is an alias of sslmode.
            ("jdbc:redshift://h:5439/d", VerifyCa),
            ("jdbc:redshift://h:5439/d?ssl=true", VerifyCa),
            ("jdbc:redshift://h:5439/d?ssl=false", Prefer),
            ("jdbc:redshift://h:5439/d?sslmode=require", Require),
            ("jdbc:redshift://h:5439/d?AuthMech=verify-full", VerifyFull),
            ("jdbc:redshift://h:5439/d?sslmode=disable", Disable),
            // Connector/J: PREFERRED by default; REQUIRED does not verify; legacy flags.
            ("jdbc:mysql://h", Prefer),
            ("jdbc:mysql://h?sslMode=DISABLED", Disable),
            ("jdbc:mysql://h?sslMode=REQUIRED", Require),
            ("jdbc:mysql://h?sslMode=VERIFY_CA", VerifyCa),
            ("jdbc:mysql://h?sslMode=VERIFY_IDENTITY", VerifyFull),
            ("jdbc:mysql://h?useSSL=false", Disable),
            ("jdbc:mysql://h?useSSL=true", Prefer),
            ("jdbc:mysql://h?useSSL=true&requireSSL=true", Require),
            (
                "jdbc:mysql://h?useSSL=true&verifyServerCertificate=true",
                VerifyCa,
            ),
            ("jdbc:mysql://h?useSSL=false&requireSSL=true", Disable),
        ];
        for (url, want) in cases {
            assert_eq!(mode(url), Ok(want), "{url}");
        }
        for (url, verifies) in [
            ("jdbc:postgresql://h/d?sslmode=require", false),
            ("jdbc:mysql://h?sslMode=REQUIRED", false),
            ("jdbc:redshift://h:5439/d", true),
            ("jdbc:postgresql://h/d?sslmode=verify-ca", true),
        ] {
            assert_eq!(mode(url).unwrap().verifies_certificate(), verifies, "{url}");
        }
        let e = mode("jdbc:postgresql://h/d?sslmode=verify").unwrap_err();
        assert!(e.contains("sslmode=\"verify\" is not one of"), "{e}");
        assert!(mode("jdbc:mysql://h?sslMode=TRUE").is_err());
    }

    #[test]
    fn verify_ca_ignores_only_the_host_name() {
        assert!(is_name_mismatch(
            &rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName)
                .to_string()
        ));
        assert!(!is_name_mismatch(
            &rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer).to_string()
        ));
    }
}
