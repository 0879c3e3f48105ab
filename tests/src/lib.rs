//! The shared harness of the integration tests.
//!
//! `cargo xtask test` starts the AWS emulator (moto server) and private MariaDB and PostgreSQL instances on
//! free loopback ports, and sets, for the test process only: `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `LAKE_PYTHON` (the harness venv's python, with moto and the official
//! `trino` client), `LAKE_TEST_MYSQL_URL` and `LAKE_TEST_POSTGRES_URL` (the databases; a developer who sets
//! them before running `cargo xtask test` gets their own servers used instead), `JAVA_HOME` and a `PATH`
//! starting with that JDK's `bin`, and `LAKE_TRINO_HOME`, `LAKE_TRINO_CLI_JAR` (the unpacked Trino release).
//! Every helper here fails loudly when what it needs is missing: no test is ever skipped silently because a
//! service is absent.

use std::net::{TcpStream, ToSocketAddrs as _};
use std::path::PathBuf;
use std::time::Duration;

pub mod trino;

/// The emulator endpoint set by `cargo xtask test`.
pub fn endpoint_url() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!(
            "AWS_ENDPOINT_URL is not set: run the integration tests through `cargo xtask test`, which starts the \
             AWS emulator (moto server) and points the tests at it"
        )
    })
}

/// An `SdkConfig` pointing at the emulator, with the harness's fake credentials and region.
pub async fn aws_config() -> aws_config::SdkConfig {
    let endpoint = endpoint_url();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(
            std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
        ))
        .load()
        .await
}

/// A resource name no other test run uses: `prefix` plus a random suffix (lowercase, digits and '-').
pub fn unique_name(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..12])
}

/// The MariaDB/MySQL URL of the tests, `mysql://root@127.0.0.1:<port>/test`, from `LAKE_TEST_MYSQL_URL`.
/// Panics when the variable is unset or nothing answers at its address.
pub fn mysql_url() -> String {
    let url = database_variable("LAKE_TEST_MYSQL_URL", "MariaDB");
    require_tcp(&mysql_addr_of(&url), "MariaDB", HOW_TO_GET_DATABASES);
    url
}

/// `host:port` of the tests' MariaDB (from `LAKE_TEST_MYSQL_URL`), e.g. to build a JDBC URL.
pub fn mysql_addr() -> String {
    mysql_addr_of(&mysql_url())
}

/// The PostgreSQL connection string of the tests, `host=127.0.0.1 port=<port> user=postgres dbname=test`, from
/// `LAKE_TEST_POSTGRES_URL`. Panics when the variable is unset or nothing answers at its address.
pub fn postgres_url() -> String {
    let url = database_variable("LAKE_TEST_POSTGRES_URL", "PostgreSQL");
    require_tcp(&postgres_addr_of(&url), "PostgreSQL", HOW_TO_GET_DATABASES);
    url
}

/// `host:port` of the tests' PostgreSQL (from `LAKE_TEST_POSTGRES_URL`), e.g. to build a JDBC URL.
pub fn postgres_addr() -> String {
    postgres_addr_of(&postgres_url())
}

/// The PEM file that verifies the tests' PostgreSQL certificate (`LAKE_TEST_POSTGRES_CA`; the harness's own
/// server presents Debian's self-signed one), or `None` for a server given without one.
pub fn postgres_ca() -> Option<PathBuf> {
    std::env::var_os("LAKE_TEST_POSTGRES_CA")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

const HOW_TO_GET_DATABASES: &str = "run the tests through `cargo xtask test`, which starts private MariaDB \
     and PostgreSQL instances (or uses the servers that LAKE_TEST_MYSQL_URL / LAKE_TEST_POSTGRES_URL name)";

fn database_variable(variable: &str, what: &str) -> String {
    std::env::var(variable)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| {
            panic!("{variable} is not set, so the tests have no {what}: {HOW_TO_GET_DATABASES}")
        })
}

/// `host:port` of `mysql://user[:password]@host[:port]/...` (3306 when the URL names no port).
fn mysql_addr_of(url: &str) -> String {
    let rest = url
        .strip_prefix("mysql://")
        .unwrap_or_else(|| panic!("LAKE_TEST_MYSQL_URL is not a mysql:// URL"));
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:3306")
    }
}

/// `host:port` of a `key=value` libpq connection string (5432 when it names no port, as libpq does).
fn postgres_addr_of(url: &str) -> String {
    let value = |key: &str| {
        url.split_whitespace()
            .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
    };
    let host = value("host").unwrap_or_else(|| panic!("LAKE_TEST_POSTGRES_URL names no host"));
    format!("{host}:{}", value("port").unwrap_or("5432"))
}

/// The harness venv's python (with `moto[server]` and the official `trino` client installed).
pub fn python() -> PathBuf {
    let path = std::env::var_os("LAKE_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
        panic!("LAKE_PYTHON is not set: run the integration tests through `cargo xtask test`, which creates the venv")
    });
    assert!(
        path.exists(),
        "LAKE_PYTHON points at {}, which does not exist",
        path.display()
    );
    path
}

/// Panics, saying how to start it, unless something accepts TCP connections at `addr` (`host:port`).
pub fn require_tcp(addr: &str, what: &str, how_to_start: &str) {
    let reachable = addr
        .to_socket_addrs()
        .unwrap_or_else(|e| panic!("{what}: cannot resolve {addr}: {e}"))
        .any(|socket| TcpStream::connect_timeout(&socket, Duration::from_secs(2)).is_ok());
    if !reachable {
        panic!(
            "{what} is required at {addr} but nothing answers there; start it with: {how_to_start}"
        );
    }
}
