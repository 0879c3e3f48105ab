//! A real Trino server for local runs and tests, without Docker: one release downloaded with Maven and
//! unpacked once under `target/trino/<version>/` in the official image's layout.
//!
//! ```text
//! target/trino/476/
//!   usr/lib/trino/          the server: bin/ (launcher, run-trino, health-check), lib/, plugin/<name>/
//!   usr/bin/trino           the Java CLI (an executable jar), where the image keeps it
//!   etc-default/            the image's default /etc/trino: config, jvm, node, log, catalog/{jmx,memory,tpcds,tpch}
//!   .lake-trino-ready       written last: the unpacked tree is complete
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, bail};

use super::{run, show, target_dir, write_atomic};

/// The Trino release the harness runs.
///
/// 476 is the newest release on Maven Central: from 477 on, the server tarball and the plugin zips are
/// published only as GitHub release assets (trinodb/trino-packages, `trino-server-custom/README.md`), which this
/// project's machines cannot download. Maven Central is reachable everywhere the project runs, and Maven's own
/// client verifies checksums and keeps its cache (`~/.m2`) across workspaces.
pub const TRINO_VERSION: &str = "476";

/// The oldest JDK that runs [`TRINO_VERSION`] (Trino 476 needs 24; 479 and newer need 25).
pub const TRINO_MIN_JDK: u32 = 24;

/// The full server tarball, every plugin included (~820 MB).
///
/// The harness downloads the whole tarball rather than `trino-server-core` plus the plugin zips it needs
/// because the Maven Central this project's machines reach does not serve the mysql, postgresql, redshift,
/// google-sheets, mysql-event-listener and blackhole plugin zips for 476 (HTTP 404), while it does serve
/// `trino-server:476:tar.gz`, the iceberg, memory and tpch zips, and `trino-cli`.
const SERVER_ARTIFACT: (&str, &str, &str) = ("io.trino", "trino-server", "tar.gz");

/// The Java CLI: an executable jar (`java -jar`, or run it directly: it starts with a shell stub).
const CLI_ARTIFACT: (&str, &str, &str) = ("io.trino", "trino-cli", "jar:executable");

/// The plugins the lake uses (its catalogs, the event listener, the demo catalogs of the image's default
/// configuration) and the server-side plugins its configs may name; the rest of the tarball's ~50 plugins
/// stay packed.
const PLUGINS: &[&str] = &[
    // The PostgreSQL connector maps PostGIS columns to Trino's Geometry type and refuses to load without it
    // ("TypeNotFoundException: Unknown type: Geometry"), so the geospatial plugin is not optional.
    "geospatial",
    "iceberg",
    "mysql",
    "postgresql",
    "redshift",
    "google-sheets",
    "mysql-event-listener",
    "memory",
    "tpch",
    "tpcds",
    "jmx",
    "blackhole",
    "exchange-filesystem",
    "spooling-filesystem",
    "password-authenticators",
    "resource-group-managers",
    "session-property-managers",
];

/// The tarball's top-level entries besides `plugin/`, all copied: `secrets-plugin/` is loaded by the server
/// itself, not named by any config.
const SERVER_ENTRIES: &[&str] = &["bin", "lib", "secrets-plugin", "NOTICE", "README.txt"];

/// The file written last into an unpacked tree; its content says what the tree holds.
const MARKER: &str = ".lake-trino-ready";

/// An unpacked Trino release.
#[derive(Debug, Clone)]
pub struct TrinoInstall {
    /// The server, as the image's `/usr/lib/trino` (holds `bin/launcher`, `bin/run-trino`, `bin/health-check`).
    pub root: PathBuf,
    /// The image's default `/etc/trino`, to copy and adapt; never modify it in place.
    pub default_etc: PathBuf,
    /// The Java CLI's executable jar.
    pub cli_jar: PathBuf,
    /// The Trino version, [`TRINO_VERSION`].
    pub version: String,
}

impl TrinoInstall {
    /// The environment a test process needs to find this install.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("LAKE_TRINO_HOME", self.root.display().to_string()),
            (
                "LAKE_TRINO_DEFAULT_ETC",
                self.default_etc.display().to_string(),
            ),
            ("LAKE_TRINO_CLI_JAR", self.cli_jar.display().to_string()),
            ("LAKE_TRINO_VERSION", self.version.clone()),
        ]
    }
}

/// Makes sure Trino [`TRINO_VERSION`] is unpacked under `target/trino/<version>/`, downloading it with Maven
/// the first time. Later calls only check the marker file and refresh the harness's own small files.
pub fn ensure_trino() -> anyhow::Result<TrinoInstall> {
    let parent = target_dir()?.join("trino");
    let dir = parent.join(TRINO_VERSION);
    let install = TrinoInstall {
        root: dir.join("usr/lib/trino"),
        default_etc: dir.join("etc-default"),
        cli_jar: dir.join("usr/bin/trino"),
        version: TRINO_VERSION.to_owned(),
    };
    if std::fs::read_to_string(dir.join(MARKER)).is_ok_and(|m| m == marker_text()) {
        // The scripts and default files are ours: rewriting them (only when they differ) lets a change to
        // this module reach an existing tree without unpacking 800 MB again.
        write_own_files(&dir)?;
        return Ok(install);
    }
    std::fs::create_dir_all(&parent)?;
    remove_stale_temp_dirs(&parent);

    let repo = maven_local_repo()?;
    let server = fetch(&repo, SERVER_ARTIFACT, "Trino", "~820 MB")?;
    let cli = fetch(&repo, CLI_ARTIFACT, "the Trino CLI", "~18 MB")?;

    // Unpacking goes into a directory of its own and is renamed into place only when complete, so a killed run
    // leaves no half tree behind that a later run could mistake for a good one.
    let tmp = parent.join(format!(".{TRINO_VERSION}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    eprintln!(
        "harness: unpacking {} plugins of {} into {}",
        PLUGINS.len(),
        file_name(&server),
        show(&dir)
    );
    let started = Instant::now();
    unpack(&server, &cli, &tmp)?;
    eprintln!(
        "harness: unpacked in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    if dir.exists() {
        // Another run may have finished the same unpack meanwhile; its tree is as good as ours.
        if std::fs::read_to_string(dir.join(MARKER)).is_ok_and(|m| m == marker_text()) {
            let _ = std::fs::remove_dir_all(&tmp);
            write_own_files(&dir)?;
            return Ok(install);
        }
        // An incomplete or outdated tree (no or another marker): set it aside, then delete it.
        let old = parent.join(format!(".{TRINO_VERSION}.old-{}", std::process::id()));
        std::fs::rename(&dir, &old)
            .with_context(|| format!("cannot move the outdated {} aside", dir.display()))?;
        let _ = std::fs::remove_dir_all(&old);
    }
    std::fs::rename(&tmp, &dir)
        .with_context(|| format!("cannot move the unpacked Trino into {}", dir.display()))?;
    Ok(install)
}

/// What the marker file says: the version and the plugin selection, so a change of either unpacks again.
fn marker_text() -> String {
    format!(
        "trino-server {TRINO_VERSION}\nplugins {}\n",
        PLUGINS.join(",")
    )
}

/// Unpacks the selected members of the server tarball and the CLI into `tmp`, writes the harness's own files,
/// checks the result, and writes the marker last.
fn unpack(server: &Path, cli: &Path, tmp: &Path) -> anyhow::Result<()> {
    let root = tmp.join("usr/lib/trino");
    std::fs::create_dir_all(&root)?;
    let top = format!("trino-server-{TRINO_VERSION}");
    let selected: Vec<String> = SERVER_ENTRIES
        .iter()
        .map(|entry| format!("{top}/{entry}"))
        .chain(
            PLUGINS
                .iter()
                .map(|plugin| format!("{top}/plugin/{plugin}")),
        )
        .collect();
    // The tarball stores each jar once and every further copy as a hard link to the first one, which is often
    // in a plugin the lake does not use (delta-lake, bigquery, ...). tar can only make a link to a file it has
    // extracted, so those first copies are extracted too, and their plugin directories deleted afterwards (the
    // links keep the data).
    let targets = hard_link_targets(server, &selected)?;
    let list = tmp.join("members.txt");
    let mut members = selected.join("\n");
    for target in &targets {
        members.push('\n');
        members.push_str(target);
    }
    members.push('\n');
    std::fs::write(&list, members)?;
    // tar reads the archive once and extracts only the listed members; a member missing from the archive is an
    // error ("Not found in archive"), which catches a plugin renamed by a new release.
    run(
        Command::new("tar")
            .arg("-xzf")
            .arg(server)
            .arg("-C")
            .arg(&root)
            .arg("--strip-components=1")
            .arg("--files-from")
            .arg(&list),
        "unpack the Trino server tarball",
    )?;
    std::fs::remove_file(&list)?;
    for entry in std::fs::read_dir(root.join("plugin"))? {
        let entry = entry?;
        if !PLUGINS.contains(&entry.file_name().to_string_lossy().as_ref()) {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    let bin = tmp.join("usr/bin");
    std::fs::create_dir_all(&bin)?;
    let cli_jar = bin.join("trino");
    std::fs::copy(cli, &cli_jar)
        .with_context(|| format!("cannot copy {} into the install", cli.display()))?;
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&cli_jar, std::fs::Permissions::from_mode(0o755))?;
    }
    write_own_files(tmp)?;

    let plugin_dirs = PLUGINS.iter().map(|plugin| format!("plugin/{plugin}"));
    for required in [
        "bin/launcher".to_owned(),
        format!("bin/{}/launcher", launcher_platform()),
        "lib".to_owned(),
    ]
    .into_iter()
    .chain(plugin_dirs)
    {
        if !root.join(&required).exists() {
            bail!(
                "the Trino {TRINO_VERSION} tarball has no {required}; {} may be damaged: delete it and run again",
                server.display()
            );
        }
    }
    // The Go launcher must at least run here; its help needs neither a JDK nor a configuration.
    let help = Command::new(root.join("bin/launcher"))
        .args(["run", "--help"])
        .stdin(Stdio::null())
        .output()
        .context("cannot run the unpacked Trino launcher")?;
    if !help.status.success() {
        bail!(
            "the unpacked Trino launcher does not run (`launcher run --help` exited with {}): {}",
            help.status,
            String::from_utf8_lossy(&help.stderr).trim()
        );
    }
    std::fs::write(tmp.join(MARKER), marker_text())?;
    Ok(())
}

/// The archive members that hard links under `selected` point at and that lie outside `selected`, from one
/// pass over the tarball's verbose listing (`<mode> ... <name> link to <target>`; names hold no spaces).
fn hard_link_targets(server: &Path, selected: &[String]) -> anyhow::Result<Vec<String>> {
    let out = Command::new("tar")
        .arg("-tvzf")
        .arg(server)
        .stderr(Stdio::inherit())
        .output()
        .context("cannot list the Trino server tarball")?;
    if !out.status.success() {
        bail!(
            "cannot list {} (tar exited with {}); the file may be damaged: delete it and run again",
            server.display(),
            out.status
        );
    }
    let inside = |name: &str| {
        selected
            .iter()
            .any(|member| name == member || name.starts_with(&format!("{member}/")))
    };
    let mut targets: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let (left, target) = line.split_once(" link to ")?;
            let name = left.split_whitespace().last()?;
            (inside(name) && !inside(target)).then(|| target.to_owned())
        })
        .collect();
    targets.sort();
    targets.dedup();
    Ok(targets)
}

/// The launcher's platform directory for this machine, as the dispatcher `bin/launcher` picks it.
fn launcher_platform() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "linux-arm64",
        "powerpc64" => "linux-ppc64le",
        _ => "linux-amd64",
    }
}

/// Writes the files of the harness's own authorship into an install tree: the image's two entry scripts and
/// its default configuration.
fn write_own_files(dir: &Path) -> anyhow::Result<()> {
    let bin = dir.join("usr/lib/trino/bin");
    write_atomic(&bin.join("run-trino"), RUN_TRINO.as_bytes(), 0o755)?;
    write_atomic(&bin.join("health-check"), HEALTH_CHECK.as_bytes(), 0o755)?;
    let etc = dir.join("etc-default");
    std::fs::create_dir_all(etc.join("catalog"))?;
    for (name, contents) in DEFAULT_ETC {
        write_atomic(&etc.join(name), contents.as_bytes(), 0o644)?;
    }
    for connector in ["jmx", "memory", "tpcds", "tpch"] {
        write_atomic(
            &etc.join("catalog").join(format!("{connector}.properties")),
            format!("connector.name={connector}\n").as_bytes(),
            0o644,
        )?;
    }
    Ok(())
}

/// The image's entrypoint, rewritten for a tree that may live anywhere and an etc directory chosen at run time.
const RUN_TRINO: &str = r#"#!/bin/bash
# Runs Trino in the foreground, as the official image's entrypoint does, from wherever this tree is unpacked.
#
# Environment (both optional; the harness's local task runner sets them):
#   TRINO_ETC_DIR              the configuration directory; default /etc/trino, the image's.
#   TRINO_LOCAL_LAUNCHER_ARGS  more launcher arguments, split on white space, placed before this script's own
#                              arguments (e.g. "--data-dir /tmp/node1 -Dnode.environment=local").
#
# The image passes -Dnode.id=$HOSTNAME unless node.properties mentions node.id anywhere, even in a comment;
# this script keeps that rule so a config behaves the same here and on ECS.
set -euo pipefail

etc_dir="${TRINO_ETC_DIR:-/etc/trino}"
args=(run --etc-dir "$etc_dir")
if ! grep -q -s 'node.id' "$etc_dir/node.properties"; then
    args+=("-Dnode.id=${HOSTNAME}")
fi
# Word splitting of the extra arguments is wanted; globbing is not.
set -f
# shellcheck disable=SC2206
args+=(${TRINO_LOCAL_LAUNCHER_ARGS:-})
set +f

exec "$(dirname "$0")/launcher" "${args[@]}" "$@"
"#;

/// The image's health check, with the address and etc directory configurable for processes on one host.
const HEALTH_CHECK: &str = r#"#!/bin/bash
# Succeeds only when the Trino server on this host has finished starting: GET /v1/info says "starting":false.
#
# Environment (both optional):
#   TRINO_ETC_DIR          where config.properties is (default /etc/trino); its http-server.http.port is used,
#                          8080 when it sets none.
#   TRINO_HEALTH_ADDRESS   the host to ask (default localhost).
set -euo pipefail

config="${TRINO_ETC_DIR:-/etc/trino}/config.properties"
port=""
if [ -r "$config" ]; then
    port="$(sed -n 's/^[[:space:]]*http-server\.http\.port[[:space:]]*[=:][[:space:]]*\([0-9][0-9]*\).*$/\1/p' "$config" | tail -n 1)"
fi
url="http://${TRINO_HEALTH_ADDRESS:-localhost}:${port:-8080}/v1/info"

if ! info="$(curl --silent --show-error --fail --max-time 5 "$url")"; then
    echo "health-check: no answer from $url" >&2
    exit 1
fi
if ! grep -q -E '"starting"[[:space:]]*:[[:space:]]*false' <<<"$info"; then
    echo "health-check: $url answers, but the server is still starting" >&2
    exit 1
fi
"#;

/// The image's default `/etc/trino` (besides the demo catalogs), in our own words.
const DEFAULT_ETC: &[(&str, &str)] = &[
    (
        "config.properties",
        "# One node that coordinates and also runs the work, as the image starts by default.\n\
         coordinator=true\n\
         node-scheduler.include-coordinator=true\n\
         http-server.http.port=8080\n\
         discovery.uri=http://localhost:8080\n",
    ),
    (
        "jvm.config",
        "# The image's JVM options. Its -agentpath for libjvmkill is left out: that library is built by the\n\
         # image, not shipped in the server tarball; -XX:+ExitOnOutOfMemoryError covers the same failure.\n\
         -server\n\
         -XX:InitialRAMPercentage=80\n\
         -XX:MaxRAMPercentage=80\n\
         -XX:G1HeapRegionSize=32M\n\
         -XX:+ExplicitGCInvokesConcurrent\n\
         -XX:+HeapDumpOnOutOfMemoryError\n\
         -XX:+ExitOnOutOfMemoryError\n\
         -XX:-OmitStackTraceInFastThrow\n\
         -XX:ReservedCodeCacheSize=256M\n\
         -XX:PerMethodRecompilationCutoff=10000\n\
         -XX:PerBytecodeRecompilationCutoff=10000\n\
         -Djdk.attach.allowAttachSelf=true\n\
         -Djdk.nio.maxCachedBufferSize=2000000\n\
         -XX:+EnableDynamicAgentLoading\n\
         -XX:+UnlockDiagnosticVMOptions\n\
         -XX:G1NumCollectionsKeepPinned=10000000\n",
    ),
    (
        "node.properties",
        "node.environment=docker\n\
         node.data-dir=/data/trino\n",
    ),
    (
        "log.properties",
        "# Uncomment for verbose server logs.\n\
         #io.trino=DEBUG\n",
    ),
];

/// Maven's local repository: what `settings.localRepository` evaluates to, else `~/.m2/repository`.
fn maven_local_repo() -> anyhow::Result<PathBuf> {
    if super::on_path("mvn").is_none() {
        bail!(
            "Maven (`mvn`) is needed to download Trino {TRINO_VERSION} from Maven Central; install it with \
             `apt-get install maven`"
        );
    }
    let out = maven()
        .args([
            "help:evaluate",
            "-Dexpression=settings.localRepository",
            "-q",
            "-DforceStdout",
        ])
        .stderr(Stdio::null())
        .output()
        .context("cannot run mvn")?;
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() && printed.starts_with('/') {
        return Ok(PathBuf::from(printed));
    }
    let home =
        std::env::var_os("HOME").context("HOME is not set, so Maven's repository is unknown")?;
    Ok(PathBuf::from(home).join(".m2/repository"))
}

/// `mvn -B` run outside any project, so that a `pom.xml` above the workspace cannot change what it does.
fn maven() -> Command {
    let mut command = Command::new("mvn");
    command
        .args(["-B", "-Dstyle.color=never"])
        .current_dir(std::env::temp_dir());
    command
}

/// The path of `group:artifact:TRINO_VERSION:kind` in Maven's local repository, downloading it first when it
/// is not there yet.
fn fetch(
    repo: &Path,
    (group, artifact, kind): (&str, &str, &str),
    what: &str,
    size: &str,
) -> anyhow::Result<PathBuf> {
    let (extension, classifier) = kind.split_once(':').unwrap_or((kind, ""));
    let file = if classifier.is_empty() {
        format!("{artifact}-{TRINO_VERSION}.{extension}")
    } else {
        format!("{artifact}-{TRINO_VERSION}-{classifier}.{extension}")
    };
    let path = repo
        .join(group.replace('.', "/"))
        .join(artifact)
        .join(TRINO_VERSION)
        .join(file);
    // Maven writes a download to a `.part` file and renames it only after the checksum matched, so an existing
    // file is a complete, verified one.
    if path.is_file() {
        return Ok(path);
    }
    eprintln!("harness: downloading {what} {TRINO_VERSION} with Maven (one time, {size})");
    let started = Instant::now();
    run(
        maven().args([
            "-q",
            "dependency:get",
            "-Dtransitive=false",
            &format!("-Dartifact={group}:{artifact}:{TRINO_VERSION}:{kind}"),
        ]),
        &format!("download {what} {TRINO_VERSION} from Maven Central"),
    )?;
    if !path.is_file() {
        bail!(
            "Maven reported success but {} is not there; is the local repository elsewhere?",
            path.display()
        );
    }
    eprintln!(
        "harness: downloaded {} in {:.0} s",
        file_name(&path),
        started.elapsed().as_secs_f64()
    );
    Ok(path)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Deletes the temporary trees of earlier unpacks whose process is gone (a killed run); a live process's tree
/// is left alone, since two runs may unpack at once.
fn remove_stale_temp_dirs(parent: &Path) {
    let prefixes = [
        format!(".{TRINO_VERSION}.tmp-"),
        format!(".{TRINO_VERSION}.old-"),
    ];
    for entry in std::fs::read_dir(parent).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = prefixes
            .iter()
            .find_map(|prefix| name.strip_prefix(prefix.as_str()))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_names_the_version_and_every_plugin() {
        let marker = marker_text();
        assert!(marker.starts_with("trino-server 476\n"));
        for plugin in PLUGINS {
            assert!(marker.contains(plugin), "{plugin}");
        }
    }

    #[test]
    fn run_trino_adds_a_node_id_only_when_node_properties_never_mentions_it() {
        let dir = tempdir();
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("run-trino"), RUN_TRINO).unwrap();
        // A fake launcher that prints its arguments, one a line.
        std::fs::write(bin.join("launcher"), "#!/bin/sh\nprintf '%s\\n' \"$@\"\n").unwrap();
        {
            use std::os::unix::fs::PermissionsExt as _;
            for script in ["run-trino", "launcher"] {
                std::fs::set_permissions(bin.join(script), std::fs::Permissions::from_mode(0o755))
                    .unwrap();
            }
        }
        let etc = dir.join("etc");
        std::fs::create_dir_all(&etc).unwrap();
        let args = |node_properties: &str| {
            std::fs::write(etc.join("node.properties"), node_properties).unwrap();
            let out = Command::new(bin.join("run-trino"))
                .arg("--verbose")
                .env("TRINO_ETC_DIR", &etc)
                .env("TRINO_LOCAL_LAUNCHER_ARGS", "--data-dir /d/x -Dk=v*")
                .env("HOSTNAME", "host-1")
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            String::from_utf8(out.stdout).unwrap()
        };
        let etc_arg = etc.display().to_string();
        assert_eq!(
            args("node.environment=test\n"),
            format!(
                "run\n--etc-dir\n{etc_arg}\n-Dnode.id=host-1\n--data-dir\n/d/x\n-Dk=v*\n--verbose\n"
            )
        );
        assert_eq!(
            args("# node.id comes from the task\n"),
            format!("run\n--etc-dir\n{etc_arg}\n--data-dir\n/d/x\n-Dk=v*\n--verbose\n")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "xtask-trino-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
