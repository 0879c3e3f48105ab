//! The shared harness of the integration tests.
//!
//! `cargo xtask test` starts the AWS emulator (moto server) and sets, for the test process only:
//! `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `LAKE_PYTHON` (the harness
//! venv's python, with moto and the official `trino` client), and optionally `LAKE_TEST_MYSQL_URL` and
//! `LAKE_TEST_POSTGRES_URL`. Every helper here fails loudly when what it needs is missing: no test is ever
//! skipped silently because a service is absent.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

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

/// The MariaDB/MySQL URL of the tests (`mysql://root@127.0.0.1:3306/test` unless `LAKE_TEST_MYSQL_URL` says otherwise).
/// Panics with how to start the server when nothing listens there.
pub fn mysql_url() -> String {
    let url = std::env::var("LAKE_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    require_tcp(
        "127.0.0.1:3306",
        "MariaDB",
        "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd",
    );
    url
}

/// The PostgreSQL connection string of the tests (`host=127.0.0.1 port=5432 user=postgres dbname=test` unless
/// `LAKE_TEST_POSTGRES_URL` says otherwise). Panics with how to start the server when nothing listens there.
pub fn postgres_url() -> String {
    let url = std::env::var("LAKE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".into());
    require_tcp(
        "127.0.0.1:5432",
        "PostgreSQL",
        "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    );
    url
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

/// Panics, saying how to start it, unless something accepts TCP connections at `addr`.
pub fn require_tcp(addr: &str, what: &str, how_to_start: &str) {
    let socket: SocketAddr = addr.parse().expect("a socket address");
    if TcpStream::connect_timeout(&socket, Duration::from_secs(2)).is_err() {
        panic!(
            "{what} is required at {addr} but nothing answers there; start it with: {how_to_start}"
        );
    }
}
