//! TLS against a real TLS server (`openssl s_server -WWW` serving a `/v1/info` file): a custom CA is
//! trusted, an unknown CA is refused, and the insecure opt-in skips verification.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use trino_client::{Client, Error, Secret};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("the TLS test needs the openssl command line tool: {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A CA, a server certificate for 127.0.0.1 signed by it, and `s_server` serving `dir` over TLS.
fn start(dir: &Path) -> (Server, u16) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=lake test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "other.key",
            "-out",
            "other-ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=other CA",
        ],
    );
    std::fs::create_dir_all(dir.join("v1")).unwrap();
    std::fs::write(
        dir.join("v1/info"),
        r#"{"nodeVersion":{"version":"480"},"environment":"tls","coordinator":true,"starting":false,"uptime":"1.00m"}"#,
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("openssl")
        .args([
            "s_server",
            "-quiet",
            "-WWW",
            "-accept",
            &format!("127.0.0.1:{port}"),
            "-cert",
            "server.pem",
            "-key",
            "server.key",
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server");
    let server = Server(child);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (server, port);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("openssl s_server did not listen on {port}");
}

#[tokio::test]
async fn custom_ca_is_trusted_unknown_ca_refused_insecure_opt_in() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, port) = start(dir.path());
    let url = format!("https://127.0.0.1:{port}");
    let ca = std::fs::read(dir.path().join("ca.pem")).unwrap();

    let trusted = Client::builder(&url)
        .user("u")
        .jwt(Secret::new("token-over-https"))
        .ca_certificate_pem(ca)
        .build()
        .unwrap();
    let info = trusted.info().await.unwrap();
    assert_eq!(info.environment, "tls");

    let other = std::fs::read(dir.path().join("other-ca.pem")).unwrap();
    let untrusted = Client::builder(&url)
        .user("u")
        .ca_certificate_pem(other)
        .build()
        .unwrap();
    let err = untrusted.info().await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    let mut chain = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(&err);
    while let Some(e) = source {
        chain.push_str(&format!("{e}; "));
        source = e.source();
    }
    assert!(
        chain.to_lowercase().contains("certificate"),
        "not a certificate rejection: {chain}"
    );

    let insecure = Client::builder(&url)
        .user("u")
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    assert_eq!(insecure.info().await.unwrap().node_version.version, "480");
}
