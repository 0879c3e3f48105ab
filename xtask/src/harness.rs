//! The emulator harness: a Python venv under `target/` with `moto[server]` (and the official `trino` client
//! for interop tests and benchmarks), a moto server on loopback, and the checks for the local databases.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::common::workspace_root;

/// What the venv must hold. Versions are floors, so a reused venv stays valid.
const PYTHON_PACKAGES: &[&str] = &["moto[server]>=5.0", "trino>=0.330"];

/// The harness venv.
pub struct Venv {
    /// The venv directory.
    pub dir: PathBuf,
}

impl Venv {
    /// The venv's python interpreter.
    pub fn python(&self) -> PathBuf {
        self.dir.join("bin").join("python")
    }

    /// Creates the venv under `target/lake-venv` (or reuses it) and installs what the harness needs.
    pub fn ensure() -> anyhow::Result<Self> {
        let dir = workspace_root()?.join("target").join("lake-venv");
        let venv = Self { dir };
        let marker = venv.dir.join(".lake-harness-ready");
        if marker.exists() && venv.python().exists() {
            return Ok(venv);
        }
        let python = find_python()?;
        eprintln!("harness: creating python venv at {}", venv.dir.display());
        run(
            Command::new(&python).args(["-m", "venv"]).arg(&venv.dir),
            "create the python venv",
        )?;
        eprintln!(
            "harness: installing {} (one time)",
            PYTHON_PACKAGES.join(", ")
        );
        run(
            Command::new(venv.python())
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(PYTHON_PACKAGES),
            "install the harness's python packages",
        )?;
        std::fs::write(&marker, PYTHON_PACKAGES.join("\n"))?;
        Ok(venv)
    }
}

fn find_python() -> anyhow::Result<PathBuf> {
    for candidate in ["python3", "python"] {
        if Command::new(candidate)
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            return Ok(PathBuf::from(candidate));
        }
    }
    bail!("python3 is required to run the AWS emulator (moto server); install Python 3.9 or newer")
}

fn run(command: &mut Command, what: &str) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot {what}: failed to start {command:?}"))?;
    if !status.success() {
        bail!("cannot {what}: {command:?} exited with {status}");
    }
    Ok(())
}

/// A running moto server, stopped when dropped.
pub struct Emulator {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    log: PathBuf,
}

impl Emulator {
    /// Starts moto server on 127.0.0.1:4566, or on a free port when 4566 is taken, and waits until it answers.
    pub fn start(venv: &Venv) -> anyhow::Result<Self> {
        let port = if port_free(4566) { 4566 } else { free_port()? };
        let log = venv.dir.join(format!("moto-{port}.log"));
        let log_file = std::fs::File::create(&log)?;
        let child = Command::new(venv.dir.join("bin").join("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .stdin(Stdio::null())
            .spawn()
            .context("cannot start moto_server from the harness venv")?;
        let mut emulator = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
        };
        emulator.wait_ready(port)?;
        Ok(emulator)
    }

    fn wait_ready(&mut self, port: u16) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "moto server exited with {status} before answering; see its log {}:\n{}",
                    self.log.display(),
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
                && http_ok(addr)
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        bail!(
            "moto server did not answer on {} within 60 s; see {}",
            self.endpoint,
            self.log.display()
        )
    }

    /// The environment a process needs to talk to this emulator, and only to it.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_SESSION_TOKEN", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            // Keep a developer's real profile and config files out of emulator runs.
            ("AWS_PROFILE", "lake-emulator".into()),
            ("AWS_CONFIG_FILE", "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }
}

impl Emulator {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP GET of moto's dashboard-free health path: any HTTP status line means it is serving.
fn http_ok(addr: SocketAddr) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /moto-api/reset HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    if stream
        .write_all(request.replace("GET", "HEAD").as_bytes())
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 12];
    stream
        .read(&mut buf)
        .is_ok_and(|n| n >= 8 && buf.starts_with(b"HTTP/"))
}

fn port_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// Checks the JDK is installed: the catalog tests read rendered files back with `java.util.Properties`.
pub fn ensure_jdk() -> anyhow::Result<()> {
    for tool in ["java", "javac"] {
        let ok = Command::new(tool)
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            bail!(
                "`{tool}` is required (the catalog tests check rendered files with java.util.Properties); \
                 install a JDK, e.g. `apt-get install openjdk-17-jdk-headless`"
            );
        }
    }
    Ok(())
}

/// A database the integration tests need.
pub struct Database {
    /// What it is.
    pub name: &'static str,
    /// Where it listens.
    pub addr: &'static str,
    /// The command that starts it on this project's machines.
    pub start: &'static str,
}

/// MariaDB and PostgreSQL, as this project's machines run them.
pub const DATABASES: &[Database] = &[
    Database {
        name: "MariaDB",
        addr: "127.0.0.1:3306",
        start: "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd",
    },
    Database {
        name: "PostgreSQL",
        addr: "127.0.0.1:5432",
        start: "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    },
];

/// Checks every database answers; tries to start one that does not (once), then fails saying how to start it.
pub fn ensure_databases() -> anyhow::Result<()> {
    let mut missing = Vec::new();
    for db in DATABASES {
        let addr: SocketAddr = db.addr.parse()?;
        if TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok() {
            continue;
        }
        eprintln!(
            "harness: {} is not answering at {}; trying: {}",
            db.name, db.addr, db.start
        );
        let _ = Command::new("sh").args(["-c", db.start]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut up = false;
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                up = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        if !up {
            missing.push(format!(
                "{} at {} (start it with: {})",
                db.name, db.addr, db.start
            ));
        }
    }
    if !missing.is_empty() {
        bail!(
            "the integration tests need these databases, which are not answering: {}",
            missing.join("; ")
        );
    }
    Ok(())
}
