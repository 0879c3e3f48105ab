//! The databases of the integration tests and local runs: private MariaDB and PostgreSQL instances owned by
//! the harness, or servers the developer names.
//!
//! For each database, in this order:
//! 1. `LAKE_TEST_MYSQL_URL` / `LAKE_TEST_POSTGRES_URL` set: that running server is used as given.
//! 2. Otherwise the harness starts its own instance from the machine's server binaries, with its data under
//!    `target/lake-db/{mariadb,postgres}/` (initialised once, reused by later runs), listening only on
//!    127.0.0.1 at a free port, its unix socket inside its data directory and its log beside it. The system's
//!    own servers and their data (`/var/lib/mysql`, `/var/lib/postgresql`) are never used or touched.
//! 3. Binaries missing: as root with `apt-get`, the harness installs the Debian package; otherwise it fails
//!    with the command that installs it.
//!
//! An instance is stopped when its [`DbInstance`] is dropped, unless [`DbInstance::keep`] was called. A run
//! marks the data directory it uses with an `owner.pid` file; a second run while the first is still going gets
//! a throwaway instance of its own instead of sharing (and later stopping) the first run's server.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::{free_port, is_root, log_tail, on_path, show, target_dir, write_atomic};

/// How long a server may take to accept connections after it was started.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a stopping server may take before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Debian's self-signed certificate for the host name `localhost` (package `ssl-cert`). The PostgreSQL probe
/// tests need a server that offers TLS with a certificate no public root signs.
const SNAKEOIL_CERT: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
const SNAKEOIL_KEY: &str = "/etc/ssl/private/ssl-cert-snakeoil.key";

/// Where server binaries live besides `PATH` (root's `PATH` has the `sbin` directories, others' may not).
const EXTRA_BIN_DIRS: &[&str] = &[
    "/usr/sbin",
    "/usr/bin",
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/local/mysql/bin",
];

/// The longest unix socket path the kernel accepts is 107 bytes; a deeper workspace gets its socket elsewhere.
const MAX_SOCKET_PATH: usize = 100;

/// The two databases of the tests.
pub struct Databases {
    /// MariaDB (the MySQL connector, the event listener's database).
    pub mysql: DbInstance,
    /// PostgreSQL (also stands in for Redshift, which speaks its protocol).
    pub postgres: DbInstance,
}

impl Databases {
    /// Resolves and starts both databases; fails, saying what to install or set, when one cannot be had.
    pub fn start() -> anyhow::Result<Self> {
        let mysql = mysql()?;
        let postgres = postgres()?;
        Ok(Self { mysql, postgres })
    }

    /// The environment a test process needs to reach both databases.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("LAKE_TEST_MYSQL_URL", self.mysql.url().to_owned()),
            ("LAKE_TEST_MYSQL_PORT", self.mysql.port.to_string()),
            ("LAKE_TEST_MYSQL_JDBC_URL", self.mysql.jdbc_url()),
            ("LAKE_TEST_POSTGRES_URL", self.postgres.url().to_owned()),
            ("LAKE_TEST_POSTGRES_PORT", self.postgres.port.to_string()),
            ("LAKE_TEST_POSTGRES_JDBC_URL", self.postgres.jdbc_url()),
        ]
        .into_iter()
        .chain(
            self.postgres
                .ca_file
                .as_ref()
                .map(|ca| ("LAKE_TEST_POSTGRES_CA", ca.display().to_string())),
        )
        .collect()
    }

    /// Leaves both servers running after this process ends; returns a line per database saying where it is and
    /// how to stop it. The next harness run stops a kept server of its own data directory before starting one.
    pub fn keep(self) -> Vec<String> {
        let Self { mysql, postgres } = self;
        vec![mysql.keep(), postgres.keep()]
    }
}

/// Which server an instance runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// MariaDB (or a MySQL-compatible server named by `LAKE_TEST_MYSQL_URL`).
    MariaDb,
    /// PostgreSQL.
    Postgres,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Self::MariaDb => "MariaDB",
            Self::Postgres => "PostgreSQL",
        }
    }

    /// The signal that shuts the server down cleanly without waiting for clients: SIGTERM for MariaDB;
    /// SIGINT ("fast shutdown") for PostgreSQL, whose SIGTERM waits for every client session to end, which a
    /// pool left open by a crashed test would never do.
    fn stop_signal(self) -> &'static str {
        match self {
            Self::MariaDb => "TERM",
            Self::Postgres => "INT",
        }
    }
}

/// One database server the tests use: started and owned by the harness, or named by the developer.
pub struct DbInstance {
    /// Which server this is.
    pub engine: Engine,
    /// The address it listens on (127.0.0.1 for the harness's own).
    pub host: String,
    /// The TCP port.
    pub port: u16,
    /// The user the tests log in as (`root`, `postgres`), with no password for the harness's own.
    pub user: String,
    /// The database the tests use (`test`).
    pub database: String,
    /// The server's data directory (the harness's own only).
    pub data_dir: Option<PathBuf>,
    /// The server's log (the harness's own only).
    pub log: Option<PathBuf>,
    /// A PEM file that verifies the server's TLS certificate (the harness's own PostgreSQL only: it presents
    /// Debian's self-signed certificate, which is its own CA).
    pub ca_file: Option<PathBuf>,
    url: String,
    child: Option<Child>,
    slot: Option<Slot>,
    kept: bool,
}

impl DbInstance {
    /// `host:port`.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The URL the tests take: `mysql://root@127.0.0.1:<port>/test` for MariaDB and
    /// `host=127.0.0.1 port=<port> user=postgres dbname=test` for PostgreSQL (or the variable's value as given).
    /// It may hold a password when the developer's variable does: never print it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The JDBC URL of the server as a Trino catalog names it: no database for MySQL (each is a schema), the
    /// test database for PostgreSQL.
    pub fn jdbc_url(&self) -> String {
        match self.engine {
            Engine::MariaDb => format!("jdbc:mysql://{}", self.addr()),
            Engine::Postgres => format!("jdbc:postgresql://{}/{}", self.addr(), self.database),
        }
    }

    /// The server's process id, when the harness started it.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Leaves the server running after this process ends; returns where it is and how to stop it.
    pub fn keep(mut self) -> String {
        self.kept = true;
        match self.pid() {
            Some(pid) => format!(
                "{} left running at {} (pid {pid}, data {}); stop it with: kill -{} {pid}",
                self.engine.name(),
                self.addr(),
                self.data_dir.as_deref().map(show).unwrap_or_default(),
                self.engine.stop_signal()
            ),
            None => format!(
                "{} at {} is the developer's server; the harness did not start it",
                self.engine.name(),
                self.addr()
            ),
        }
    }

    fn external(engine: Engine, url: String, addr: Address) -> Self {
        Self {
            engine,
            host: addr.host,
            port: addr.port,
            user: addr.user,
            database: addr.database,
            data_dir: None,
            log: None,
            ca_file: None,
            url,
            child: None,
            slot: None,
            kept: false,
        }
    }
}

impl Drop for DbInstance {
    fn drop(&mut self) {
        if !self.kept
            && let Some(child) = self.child.as_mut()
        {
            stop_child(child, self.engine.stop_signal());
        }
        if let Some(slot) = self.slot.take() {
            slot.release(self.kept);
        }
    }
}

/// Where a database named by a variable listens, and who logs in.
#[derive(Debug, PartialEq, Eq)]
struct Address {
    host: String,
    port: u16,
    user: String,
    database: String,
}

/// Reads `mysql://user[:password]@host[:port][/database][?...]`; the port is 3306 when the URL names none.
fn parse_mysql_url(url: &str) -> Option<Address> {
    let rest = url.strip_prefix("mysql://")?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hostport) = authority.rsplit_once('@').unwrap_or(("", authority));
    let user = userinfo.split(':').next().unwrap_or_default();
    let (host, port) = split_host_port(hostport, 3306)?;
    let database = path.split('?').next().unwrap_or_default();
    Some(Address {
        host,
        port,
        user: user.to_owned(),
        database: database.to_owned(),
    })
}

/// Reads a libpq connection string, `key=value` pairs (`host=... port=... user=... dbname=...`) or a
/// `postgres[ql]://user@host:port/database` URL; the port is 5432 when it names none, as libpq's default.
fn parse_postgres_url(url: &str) -> Option<Address> {
    if let Some(rest) = url
        .strip_prefix("postgresql://")
        .or_else(|| url.strip_prefix("postgres://"))
    {
        let mut address = parse_mysql_url(&format!("mysql://{rest}"))?;
        if !rest.split('/').next()?.rsplit('@').next()?.contains(':') {
            address.port = 5432;
        }
        return Some(address);
    }
    let mut host = None;
    let mut port = 5432;
    let mut user = String::new();
    let mut database = String::new();
    for pair in url.split_whitespace() {
        let (key, value) = pair.split_once('=')?;
        match key {
            "host" | "hostaddr" => host = Some(value.to_owned()),
            "port" => port = value.parse().ok()?,
            "user" => user = value.to_owned(),
            "dbname" => database = value.to_owned(),
            _ => {}
        }
    }
    Some(Address {
        host: host?,
        port,
        user,
        database,
    })
}

fn split_host_port(hostport: &str, default_port: u16) -> Option<(String, u16)> {
    if hostport.is_empty() {
        return None;
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => Some((host.to_owned(), port.parse().ok()?)),
        Some(_) => None,
        None => Some((hostport.to_owned(), default_port)),
    }
}

/// The server named by `variable`, when it is set: checked to answer TCP, never started or stopped.
fn from_variable(
    engine: Engine,
    variable: &str,
    parse: fn(&str) -> Option<Address>,
) -> anyhow::Result<Option<DbInstance>> {
    let Some(url) = std::env::var(variable)
        .ok()
        .filter(|v| !v.trim().is_empty())
    else {
        return Ok(None);
    };
    // The value may hold a password, so messages name the variable and the address, never the value.
    let address = parse(&url).with_context(|| {
        format!(
            "{variable} is set but is not a {} address the harness can read (expected {})",
            engine.name(),
            match engine {
                Engine::MariaDb => "mysql://user@host:port/database",
                Engine::Postgres => "host=H port=P user=U dbname=D",
            }
        )
    })?;
    let target = format!("{}:{}", address.host, address.port);
    let reachable = target
        .to_socket_addrs()
        .ok()
        .into_iter()
        .flatten()
        .any(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(3)).is_ok());
    if !reachable {
        bail!(
            "{variable} names a {} server at {target}, but nothing answers there; start it, or unset \
             {variable} so the harness starts its own",
            engine.name()
        );
    }
    eprintln!("harness: {} from {variable} at {target}", engine.name());
    Ok(Some(DbInstance::external(engine, url, address)))
}

// ---------------------------------------------------------------------------------------------------------
// Binaries and their installation.

/// Finds the first of `names` on `PATH` or in the usual binary directories.
fn find_program(names: &[&str]) -> Option<PathBuf> {
    names.iter().find_map(|name| {
        on_path(name).or_else(|| {
            EXTRA_BIN_DIRS
                .iter()
                .map(|dir| Path::new(dir).join(name))
                .find(|path| path.is_file())
        })
    })
}

/// `apt-get update` runs at most once per harness run, however many packages it installs.
static APT_UPDATED: AtomicBool = AtomicBool::new(false);

/// Installs Debian packages when this process may (root, `apt-get` present); fails with the command otherwise.
fn install_packages(packages: &[&str], why: &str) -> anyhow::Result<()> {
    let command = format!(
        "apt-get install -y --no-install-recommends {}",
        packages.join(" ")
    );
    if !is_root() || on_path("apt-get").is_none() {
        bail!("{why}; install it with `{command}` (as root)");
    }
    eprintln!(
        "harness: installing {} (Debian package) ...",
        packages.join(", ")
    );
    let started = Instant::now();
    // A package's maintainer scripts start its system server through invoke-rc.d unless policy-rc.d forbids
    // it. The harness never uses that server, so it forbids the start for the install's duration, unless the
    // machine already has a policy (a container's usually forbids starts already).
    let policy = Path::new("/usr/sbin/policy-rc.d");
    let own_policy = !policy.exists()
        && write_atomic(
            policy,
            b"#!/bin/sh\n# Written by the lake harness for one apt-get install: no service starts.\nexit 101\n",
            0o755,
        )
        .is_ok();
    let result = (|| {
        if !APT_UPDATED.swap(true, Ordering::SeqCst) {
            super::run(
                Command::new("apt-get")
                    .args(["update", "-q"])
                    .stdout(Stdio::null()),
                "update the Debian package lists (apt-get update)",
            )?;
        }
        super::run(
            Command::new("apt-get")
                .args(["install", "-y", "-q", "--no-install-recommends"])
                .args(packages)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdout(Stdio::null()),
            &format!("install {} (`{command}`)", packages.join(" ")),
        )
    })();
    if own_policy {
        let _ = std::fs::remove_file(policy);
    }
    result?;
    eprintln!(
        "harness: installed {} in {:.0} s",
        packages.join(", "),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

struct MariaDbBinaries {
    server: PathBuf,
    install_db: PathBuf,
}

fn find_mariadb() -> Option<MariaDbBinaries> {
    let server = find_program(&["mariadbd"]).or_else(|| {
        // Oracle's mysqld takes other initialisation flags; only MariaDB's is used under that name.
        find_program(&["mysqld"]).filter(|path| {
            Command::new(path)
                .arg("--version")
                .output()
                .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("MariaDB"))
        })
    })?;
    let install_db = find_program(&["mariadb-install-db", "mysql_install_db"])?;
    Some(MariaDbBinaries { server, install_db })
}

fn mariadb_binaries() -> anyhow::Result<MariaDbBinaries> {
    if let Some(found) = find_mariadb() {
        return Ok(found);
    }
    install_packages(
        &["mariadb-server"],
        "MariaDB (mariadbd and mariadb-install-db) is needed for the MySQL tests and is not installed, and \
         LAKE_TEST_MYSQL_URL names no server",
    )?;
    find_mariadb()
        .context("mariadb-server is installed but mariadbd or mariadb-install-db is still missing")
}

struct PostgresBinaries {
    initdb: PathBuf,
    postgres: PathBuf,
}

fn find_postgres() -> Option<PostgresBinaries> {
    // Debian keeps each major version's server outside PATH; the newest installed one is used.
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("postgres").is_file())
                .then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(PostgresBinaries {
            initdb: bin.join("initdb"),
            postgres: bin.join("postgres"),
        });
    }
    Some(PostgresBinaries {
        initdb: find_program(&["initdb"])?,
        postgres: find_program(&["postgres"])?,
    })
}

fn postgres_binaries() -> anyhow::Result<PostgresBinaries> {
    let found = match find_postgres() {
        Some(found) => found,
        None => {
            install_packages(
                &["postgresql"],
                "PostgreSQL (initdb and postgres) is needed for the PostgreSQL and Redshift tests and is not \
                 installed, and LAKE_TEST_POSTGRES_URL names no server",
            )?;
            find_postgres()
                .context("postgresql is installed but initdb or postgres is still missing")?
        }
    };
    if !Path::new(SNAKEOIL_CERT).is_file() || !Path::new(SNAKEOIL_KEY).is_file() {
        install_packages(
            &["ssl-cert"],
            "the PostgreSQL TLS tests need Debian's self-signed certificate /etc/ssl/certs/ssl-cert-snakeoil.pem",
        )?;
    }
    Ok(found)
}

// ---------------------------------------------------------------------------------------------------------
// Instance directories.

/// An instance directory this run has claimed through its `owner.pid` file.
struct Slot {
    dir: PathBuf,
    /// A per-run directory, deleted when the instance stops.
    throwaway: bool,
}

impl Slot {
    fn owner_file(dir: &Path) -> PathBuf {
        dir.join("owner.pid")
    }

    /// Claims `target/lake-db/<name>`, or a throwaway `target/lake-db/<name>-run<pid>` when another live run
    /// holds it. Throwaway directories of dead runs are cleaned up on the way, their servers stopped.
    fn claim(engine: Engine, name: &str) -> anyhow::Result<Self> {
        let base = target_dir()?.join("lake-db");
        std::fs::create_dir_all(&base)?;
        for entry in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = file_name
                .strip_prefix(&format!("{name}-run"))
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if !owner_alive(pid) {
                stop_orphan(engine, &entry.path());
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let shared = base.join(name);
        if Self::try_own(&shared)? {
            return Ok(Self {
                dir: shared,
                throwaway: false,
            });
        }
        let throwaway = base.join(format!("{name}-run{}", std::process::id()));
        eprintln!(
            "harness: {} is in use by another harness run; starting a throwaway {} in {}",
            show(&shared),
            engine.name(),
            show(&throwaway)
        );
        let _ = std::fs::remove_dir_all(&throwaway);
        if !Self::try_own(&throwaway)? {
            bail!("cannot claim {}", throwaway.display());
        }
        Ok(Self {
            dir: throwaway,
            throwaway: true,
        })
    }

    /// Writes this process's id into `dir/owner.pid` unless a live harness run's id is already there.
    fn try_own(dir: &Path) -> anyhow::Result<bool> {
        std::fs::create_dir_all(dir)?;
        let owner = Self::owner_file(dir);
        let me = std::process::id();
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&owner)
            {
                Ok(mut file) => {
                    file.write_all(format!("{me}\n").as_bytes())?;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&owner)
                        .ok()
                        .and_then(|s| s.trim().parse::<u32>().ok());
                    match holder {
                        Some(pid) if pid != me && owner_alive(pid) => return Ok(false),
                        // A dead run's claim (or a damaged file): take it over.
                        _ => {
                            let _ = std::fs::remove_file(&owner);
                        }
                    }
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot write {}", owner.display()));
                }
            }
        }
        Ok(false)
    }

    fn release(self, kept: bool) {
        let owner = Self::owner_file(&self.dir);
        let ours = std::fs::read_to_string(&owner)
            .is_ok_and(|s| s.trim() == std::process::id().to_string());
        if ours {
            let _ = std::fs::remove_file(&owner);
        }
        if self.throwaway && !kept {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Whether `pid` is a live harness run: the process exists and is an xtask binary (a recycled pid is not).
fn owner_alive(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains("xtask"))
}

/// Stops a server that an earlier, killed run left running on the instance directory `dir`. Its pid file says
/// which process; only a process whose command line names that directory is signalled.
fn stop_orphan(engine: Engine, dir: &Path) {
    let data = dir.join("data");
    let pid_file = match engine {
        Engine::MariaDb => dir.join("mariadbd.pid"),
        Engine::Postgres => data.join("postmaster.pid"),
    };
    let Some(pid) = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|s| s.lines().next()?.trim().parse::<u32>().ok())
    else {
        return;
    };
    let ours = std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&data.display().to_string()));
    if ours {
        eprintln!(
            "harness: stopping the {} an earlier run left running on {} (pid {pid})",
            engine.name(),
            show(&data)
        );
        signal(pid, engine.stop_signal());
        let deadline = Instant::now() + STOP_TIMEOUT;
        while process_running(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        if process_running(pid) {
            signal(pid, "KILL");
        }
    }
    // A pid file whose process is gone (or is not ours) would make PostgreSQL refuse to start when the pid has
    // been reused; the server writes a fresh one.
    if !ours || !process_running(pid) {
        let _ = std::fs::remove_file(&pid_file);
    }
}

/// Whether `pid` exists and has not exited (a zombie has exited).
fn process_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

/// Sends `SIG<name>` with kill(1): the workspace forbids the unsafe code a direct kill(2) needs.
fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
}

/// Stops a server the harness started: the clean-shutdown signal, then a wait, then SIGKILL.
fn stop_child(child: &mut Child, name: &str) {
    if child.try_wait().ok().flatten().is_some() {
        return;
    }
    signal(child.id(), name);
    let deadline = Instant::now() + STOP_TIMEOUT;
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A unix socket path inside `dir`, or under the temporary directory when `dir` is too deep for one.
fn socket_path(dir: &Path, file: &str) -> PathBuf {
    let path = dir.join(file);
    if path.as_os_str().len() <= MAX_SOCKET_PATH {
        path
    } else {
        std::env::temp_dir().join(format!("lake-{}-{file}", std::process::id()))
    }
}

// ---------------------------------------------------------------------------------------------------------
// MariaDB.

fn mysql() -> anyhow::Result<DbInstance> {
    if let Some(db) = from_variable(Engine::MariaDb, "LAKE_TEST_MYSQL_URL", parse_mysql_url)? {
        return Ok(db);
    }
    let binaries = mariadb_binaries()?;
    let slot = Slot::claim(Engine::MariaDb, "mariadb")?;
    start_mariadb(&binaries, slot)
}

/// SQL run by the server at every start (`--init-file`), one statement a line: the test database, and root
/// logging in over TCP from 127.0.0.1 with no password. With `--skip-name-resolve` a TCP client from 127.0.0.1
/// matches `root@127.0.0.1`, never `root@localhost` (which then only serves the unix socket).
const MARIADB_INIT_SQL: &str = "\
CREATE DATABASE IF NOT EXISTS test;
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
";

fn start_mariadb(binaries: &MariaDbBinaries, slot: Slot) -> anyhow::Result<DbInstance> {
    let dir = slot.dir.clone();
    let data = dir.join("data");
    stop_orphan(Engine::MariaDb, &dir);
    let root = is_root();
    let reused = data.join("mysql").is_dir();
    if !reused {
        let tmp = dir.join("data.init");
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp)?;
        let init_log = dir.join("init.log");
        eprintln!(
            "harness: initialising a MariaDB data directory in {}",
            show(&data)
        );
        let mut command = Command::new(&binaries.install_db);
        command
            .arg("--no-defaults")
            .arg(format!("--datadir={}", tmp.display()))
            .args([
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ]);
        if root {
            command.arg("--user=root");
        }
        run_logged(
            &mut command,
            &init_log,
            "initialise the MariaDB data directory",
        )?;
        // Initialised into a directory of its own and renamed when complete: a killed run leaves no half data
        // directory that a later run would reuse.
        std::fs::rename(&tmp, &data)?;
    }
    let init_sql = dir.join("init.sql");
    write_atomic(&init_sql, MARIADB_INIT_SQL.as_bytes(), 0o644)?;
    let port = free_port()?;
    let log = dir.join("server.log");
    let socket = socket_path(&data, "mysqld.sock");
    let mut command = Command::new(&binaries.server);
    command
        // Only these options apply: no my.cnf of the machine's system server.
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--socket={}", socket.display()))
        .arg(format!("--pid-file={}", dir.join("mariadbd.pid").display()))
        .arg(format!("--init-file={}", init_sql.display()))
        .arg(format!("--port={port}"))
        .args([
            "--bind-address=127.0.0.1",
            "--skip-name-resolve",
            // The tests expect a server without TLS (a URL that requires it must fail as TLS).
            "--skip-ssl",
            "--innodb-buffer-pool-size=64M",
            "--innodb-log-file-size=32M",
            // Trino's event listener and the JDBC connectors each open a pool.
            "--max-connections=200",
            "--skip-log-bin",
        ]);
    if root {
        command.arg("--user=root");
    }
    let child = spawn_logged(&mut command, &log, "MariaDB")?;
    let mut db = DbInstance {
        engine: Engine::MariaDb,
        host: "127.0.0.1".into(),
        port,
        user: "root".into(),
        database: "test".into(),
        data_dir: Some(data),
        log: Some(log),
        ca_file: None,
        url: format!("mysql://root@127.0.0.1:{port}/test"),
        child: Some(child),
        slot: Some(slot),
        kept: false,
    };
    wait_ready(&mut db, mariadb_ready)?;
    eprintln!(
        "harness: MariaDB at {} as {} (data {}, {}; log {})",
        db.addr(),
        db.user,
        db.data_dir.as_deref().map(show).unwrap_or_default(),
        if reused { "reused" } else { "new" },
        db.log.as_deref().map(show).unwrap_or_default()
    );
    Ok(db)
}

/// Whether MariaDB at `addr` greets a client with its protocol-10 handshake (an error packet while starting).
fn mariadb_ready(addr: SocketAddr) -> Result<(), String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_millis(500)).map_err(|e| e.to_string())?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut header = [0u8; 4];
    stream.read_exact(&mut header).map_err(|e| e.to_string())?;
    let len = usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
    let mut payload = vec![0u8; len.min(1024)];
    stream.read_exact(&mut payload).map_err(|e| e.to_string())?;
    match payload.first() {
        Some(10) => Ok(()),
        // An error packet: 0xff, a two-byte code, then the message.
        Some(0xff) => {
            Err(String::from_utf8_lossy(payload.get(3..).unwrap_or_default()).into_owned())
        }
        _ => Err("not a MariaDB handshake".into()),
    }
}

// ---------------------------------------------------------------------------------------------------------
// PostgreSQL.

fn postgres() -> anyhow::Result<DbInstance> {
    if let Some(db) = from_variable(
        Engine::Postgres,
        "LAKE_TEST_POSTGRES_URL",
        parse_postgres_url,
    )? {
        return Ok(db);
    }
    let binaries = postgres_binaries()?;
    let slot = Slot::claim(Engine::Postgres, "postgres")?;
    start_postgres(&binaries, slot)
}

/// The unprivileged account PostgreSQL runs as when the harness is root (PostgreSQL refuses to run as root).
struct RunAs {
    name: String,
    uid: u32,
    gid: u32,
}

impl RunAs {
    /// The Debian package's `postgres` account, else `nobody`.
    fn find() -> anyhow::Result<Self> {
        for name in ["postgres", "nobody"] {
            let id = |flag: &str| -> Option<u32> {
                let out = Command::new("id").args([flag, name]).output().ok()?;
                out.status
                    .success()
                    .then(|| String::from_utf8_lossy(&out.stdout).trim().parse().ok())?
            };
            if let (Some(uid), Some(gid)) = (id("-u"), id("-g")) {
                return Ok(Self {
                    name: name.to_owned(),
                    uid,
                    gid,
                });
            }
        }
        bail!(
            "PostgreSQL cannot run as root, and neither a `postgres` nor a `nobody` account exists"
        )
    }

    /// `program` run as this account; setpriv execs it in place, so the child's pid is the server's own.
    fn command(&self, program: &Path) -> Command {
        let mut command = Command::new("setpriv");
        command
            .arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--init-groups")
            .arg("--")
            .arg(program);
        command
    }

    fn chown(&self, path: &Path) -> anyhow::Result<()> {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid))
            .with_context(|| format!("cannot give {} to user {}", path.display(), self.name))
    }
}

/// Client authentication: trust, for TCP from 127.0.0.1 only (the server listens nowhere else; no unix socket
/// line, so nothing else logs in).
const PG_HBA: &str = "\
# Written by the lake harness: trust TCP clients from 127.0.0.1 only.
# TYPE  DATABASE  USER  ADDRESS       METHOD
host    all       all   127.0.0.1/32  trust
";

fn start_postgres(binaries: &PostgresBinaries, slot: Slot) -> anyhow::Result<DbInstance> {
    let dir = slot.dir.clone();
    let data = dir.join("data");
    stop_orphan(Engine::Postgres, &dir);
    let run_as = if is_root() {
        Some(RunAs::find()?)
    } else {
        None
    };
    let command = |program: &Path| match &run_as {
        Some(user) => user.command(program),
        None => Command::new(program),
    };
    if let Some(user) = &run_as {
        user.chown(&dir)?;
        let writable = user
            .command(Path::new("test"))
            .arg("-w")
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !writable {
            bail!(
                "PostgreSQL runs as user `{}`, who cannot reach {}: a directory above it is not searchable by \
                 other users; make it so (chmod o+x), or set LAKE_TEST_POSTGRES_URL to a running server",
                user.name,
                dir.display()
            );
        }
    }
    let reused = data.join("PG_VERSION").is_file();
    if !reused {
        let tmp = dir.join("data.init");
        let _ = std::fs::remove_dir_all(&tmp);
        let init_log = dir.join("init.log");
        eprintln!(
            "harness: initialising a PostgreSQL data directory in {}",
            show(&data)
        );
        run_logged(
            command(&binaries.initdb)
                .arg("-D")
                .arg(&tmp)
                .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"])
                .current_dir(&dir),
            &init_log,
            "initialise the PostgreSQL data directory (initdb)",
        )?;
        // The test database is created in single-user mode, before any server listens: no client is needed.
        let mut single = command(&binaries.postgres);
        single
            .args(["--single", "-D"])
            .arg(&tmp)
            .arg("postgres")
            .current_dir(&dir)
            .stdin(Stdio::piped());
        let log_file = File::options().append(true).open(&init_log)?;
        single.stdout(log_file.try_clone()?).stderr(log_file);
        let mut child = single.spawn().context("cannot start postgres --single")?;
        child
            .stdin
            .take()
            .context("postgres --single has no stdin")?
            .write_all(b"CREATE DATABASE test;\n")?;
        let status = child.wait()?;
        if !status.success() {
            bail!(
                "cannot create the PostgreSQL test database (postgres --single exited with {status}); {}:\n{}",
                init_log.display(),
                log_tail(&init_log, 30)
            );
        }
        std::fs::rename(&tmp, &data)?;
    }
    // Rewritten at every start, so the rules and certificate are the harness's even in an old data directory.
    let hba = data.join("pg_hba.conf");
    write_atomic(&hba, PG_HBA.as_bytes(), 0o600)?;
    let cert = data.join("server.crt");
    let key = data.join("server.key");
    write_atomic(&cert, &std::fs::read(SNAKEOIL_CERT)?, 0o644)?;
    write_atomic(
        &key,
        &std::fs::read(SNAKEOIL_KEY).with_context(|| format!("cannot read {SNAKEOIL_KEY}"))?,
        0o600,
    )?;
    if let Some(user) = &run_as {
        for path in [&hba, &cert, &key] {
            user.chown(path)?;
        }
    }

    let port = free_port()?;
    let log = dir.join("server.log");
    let socket_dir = if socket_path(&data, &format!(".s.PGSQL.{port}")).starts_with(&data) {
        data.display().to_string()
    } else {
        // Too deep for a socket path: TCP only.
        String::new()
    };
    let mut server = command(&binaries.postgres);
    server
        .arg("-D")
        .arg(&data)
        .arg("-p")
        .arg(port.to_string())
        .arg("-c")
        .arg(format!("unix_socket_directories={socket_dir}"))
        .current_dir(&dir);
    for setting in [
        "listen_addresses=127.0.0.1",
        "shared_buffers=64MB",
        "max_connections=100",
        "ssl=on",
        "ssl_cert_file=server.crt",
        "ssl_key_file=server.key",
        "logging_collector=off",
    ] {
        server.args(["-c", setting]);
    }
    let child = spawn_logged(&mut server, &log, "PostgreSQL")?;
    let mut db = DbInstance {
        engine: Engine::Postgres,
        host: "127.0.0.1".into(),
        port,
        user: "postgres".into(),
        database: "test".into(),
        data_dir: Some(data),
        log: Some(log),
        ca_file: Some(PathBuf::from(SNAKEOIL_CERT)),
        url: format!("host=127.0.0.1 port={port} user=postgres dbname=test"),
        child: Some(child),
        slot: Some(slot),
        kept: false,
    };
    wait_ready(&mut db, postgres_ready)?;
    eprintln!(
        "harness: PostgreSQL at {} as {} (data {}, {}; log {})",
        db.addr(),
        db.user,
        db.data_dir.as_deref().map(show).unwrap_or_default(),
        if reused { "reused" } else { "new" },
        db.log.as_deref().map(show).unwrap_or_default()
    );
    Ok(db)
}

/// Whether PostgreSQL at `addr` lets `postgres` into database `test`: a startup message answered by an
/// authentication request (trust answers "ok" at once) rather than an error such as "starting up".
fn postgres_ready(addr: SocketAddr) -> Result<(), String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_millis(500)).map_err(|e| e.to_string())?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut body = Vec::new();
    body.extend_from_slice(&196_608u32.to_be_bytes()); // Protocol 3.0.
    for part in ["user", "postgres", "database", "test", ""] {
        body.extend_from_slice(part.as_bytes());
        body.push(0);
    }
    let len = u32::try_from(body.len() + 4).unwrap_or(u32::MAX);
    let mut message = len.to_be_bytes().to_vec();
    message.extend_from_slice(&body);
    stream.write_all(&message).map_err(|e| e.to_string())?;
    let mut kind = [0u8; 5];
    stream.read_exact(&mut kind).map_err(|e| e.to_string())?;
    match kind[0] {
        b'R' => {
            // Terminate, so the server logs no "unexpected EOF".
            let _ = stream.write_all(&[b'X', 0, 0, 0, 4]);
            Ok(())
        }
        b'E' => {
            let len = u32::from_be_bytes([kind[1], kind[2], kind[3], kind[4]]) as usize;
            let mut fields = vec![0u8; len.saturating_sub(4).min(4096)];
            let _ = stream.read_exact(&mut fields);
            // The human-readable message is the field tagged 'M'.
            let message = fields
                .split(|b| *b == 0)
                .find_map(|field| field.strip_prefix(b"M"))
                .map(|m| String::from_utf8_lossy(m).into_owned());
            Err(message.unwrap_or_else(|| "an error".into()))
        }
        other => Err(format!("unexpected reply {other:#x}")),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Processes.

/// Runs `command` to completion with its output appended to `log`; on failure, the error shows the log's end.
fn run_logged(command: &mut Command, log: &Path, what: &str) -> anyhow::Result<()> {
    let file = File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    let status = command
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .status()
        .with_context(|| format!("cannot {what}: failed to start {command:?}"))?;
    if !status.success() {
        bail!(
            "cannot {what}: {} exited with {status}; {}:\n{}",
            command.get_program().to_string_lossy(),
            log.display(),
            log_tail(log, 30)
        );
    }
    Ok(())
}

/// Starts a server with its output in `log` (truncated, so the log is this run's).
fn spawn_logged(command: &mut Command, log: &Path, what: &str) -> anyhow::Result<Child> {
    let file = File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    command
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .with_context(|| format!("cannot start {what}: {command:?}"))
}

/// Polls `ready` until the server accepts a client, fails when the process exits or the timeout passes.
fn wait_ready(
    db: &mut DbInstance,
    ready: fn(SocketAddr) -> Result<(), String>,
) -> anyhow::Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], db.port));
    let log = db.log.clone().unwrap_or_default();
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut last = String::from("no answer");
    while Instant::now() < deadline {
        if let Some(status) = db.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
            bail!(
                "{} exited with {status} before accepting connections; {}:\n{}",
                db.engine.name(),
                log.display(),
                log_tail(&log, 40)
            );
        }
        match ready(addr) {
            Ok(()) => return Ok(()),
            Err(why) => last = why,
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!(
        "{} did not accept connections at {addr} within {} s (last: {last}); {}:\n{}",
        db.engine.name(),
        READY_TIMEOUT.as_secs(),
        log.display(),
        log_tail(&log, 40)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(host: &str, port: u16, user: &str, database: &str) -> Address {
        Address {
            host: host.into(),
            port,
            user: user.into(),
            database: database.into(),
        }
    }

    #[test]
    fn mysql_urls_give_their_address() {
        assert_eq!(
            parse_mysql_url("mysql://root@127.0.0.1:33061/test"),
            Some(address("127.0.0.1", 33061, "root", "test"))
        );
        assert_eq!(
            parse_mysql_url("mysql://app:p%40ss@db.example/events?ssl-mode=REQUIRED"),
            Some(address("db.example", 3306, "app", "events"))
        );
        assert_eq!(parse_mysql_url("jdbc:mysql://h:1"), None);
        assert_eq!(parse_mysql_url("mysql://root@:12/x"), None);
    }

    #[test]
    fn postgres_strings_give_their_address() {
        assert_eq!(
            parse_postgres_url("host=127.0.0.1 port=54321 user=postgres dbname=test"),
            Some(address("127.0.0.1", 54321, "postgres", "test"))
        );
        assert_eq!(
            parse_postgres_url("host=db user=u"),
            Some(address("db", 5432, "u", ""))
        );
        assert_eq!(
            parse_postgres_url("postgresql://u:pw@db:6543/lake"),
            Some(address("db", 6543, "u", "lake"))
        );
        assert_eq!(
            parse_postgres_url("postgres://u@db/lake"),
            Some(address("db", 5432, "u", "lake"))
        );
        assert_eq!(parse_postgres_url("port=5432"), None);
    }

    #[test]
    fn a_deep_directory_gets_its_socket_elsewhere() {
        assert_eq!(
            socket_path(Path::new("/w/target/lake-db/mariadb/data"), "mysqld.sock"),
            PathBuf::from("/w/target/lake-db/mariadb/data/mysqld.sock")
        );
        let deep = PathBuf::from(format!("/{}", "d".repeat(120)));
        assert!(!socket_path(&deep, "mysqld.sock").starts_with(&deep));
    }
}
