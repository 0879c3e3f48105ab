//! The test harness: everything `cargo xtask test` and `cargo xtask local` need on this machine before a test or
//! a local job can run.
//!
//! - [`Venv`]: a Python venv under `target/` with `moto[server]` (and the official `trino` client for interop
//!   tests and benchmarks), and [`Emulator`], a moto server on loopback.
//! - [`jdk`]: finds a JDK new enough for Trino and for the `java.util.Properties` round-trip tests.
//! - [`trino`]: downloads one Trino release with Maven and unpacks it in the official image's layout.
//! - [`databases`]: private MariaDB and PostgreSQL instances under `target/lake-db`, owned by the harness.

pub mod databases;
pub mod jdk;
pub mod trino;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::common::workspace_root;

pub use databases::Databases;
pub use jdk::{Jdk, ensure_jdk, find_jdk};
pub use trino::{TrinoInstall, ensure_trino};

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

pub(crate) fn run(command: &mut Command, what: &str) -> anyhow::Result<()> {
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

pub(crate) fn port_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// Whether `program` can be started: an absolute path that exists, or a name found on `PATH`.
pub(crate) fn on_path(program: &str) -> Option<PathBuf> {
    let path = Path::new(program);
    if path.is_absolute() {
        return path.is_file().then(|| path.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    })
}

/// Whether this process runs as root: the database servers and the package installs depend on it.
pub(crate) fn is_root() -> bool {
    // `id -u` keeps the harness free of unsafe code (the workspace forbids it) at the cost of one process.
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.status.success() && out.stdout.trim_ascii() == b"0")
}

/// The workspace's `target/` directory, where everything the harness makes lives.
pub(crate) fn target_dir() -> anyhow::Result<PathBuf> {
    Ok(workspace_root()?.join("target"))
}

/// `path` relative to the workspace root when it lies inside it, for shorter messages.
pub fn show(path: &Path) -> String {
    workspace_root()
        .ok()
        .and_then(|root| path.strip_prefix(root).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

/// The last `lines` lines of a log file, for error messages (empty when it cannot be read).
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Writes `contents` to `path` through a temporary file and a rename, so a reader never sees half a file and
/// a crash leaves the old one; does nothing when the file already holds exactly `contents`.
pub(crate) fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    if std::fs::read(path).is_ok_and(|old| old == contents)
        && std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o777 == mode)
    {
        return Ok(());
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, contents).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
