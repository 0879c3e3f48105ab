//! Finding a JDK new enough for Trino.
//!
//! The harness never changes the machine's default `java`: it picks a JDK by its home directory and hands it to
//! the processes that need it through `JAVA_HOME` and `PATH` (see [`Jdk::env`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::bail;

use super::trino::{TRINO_MIN_JDK, TRINO_VERSION};

/// Where Debian, Ubuntu and the Temurin packages install JDKs.
const JVM_DIR: &str = "/usr/lib/jvm";

/// The JDK major version preferred when several qualify: the LTS release that Trino 479 and newer require, so
/// the harness runs today's Trino on the JDK the next upgrade needs anyway.
const PREFERRED_MAJOR: u32 = 25;

/// A JDK: its home directory and major version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jdk {
    /// The JDK's home (the directory holding `bin/java` and `release`).
    pub home: PathBuf,
    /// The major version, e.g. 25.
    pub major: u32,
}

impl Jdk {
    /// The JDK's `bin` directory.
    pub fn bin(&self) -> PathBuf {
        self.home.join("bin")
    }

    /// The environment a child process needs to use this JDK: `JAVA_HOME`, and `PATH` with the JDK's `bin`
    /// first so that a bare `java` or `javac` is this JDK's.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut path = self.bin().display().to_string();
        if let Some(rest) = std::env::var_os("PATH").filter(|p| !p.is_empty()) {
            path.push(':');
            path.push_str(&rest.to_string_lossy());
        }
        vec![
            ("JAVA_HOME", self.home.display().to_string()),
            ("PATH", path),
        ]
    }
}

/// Finds a JDK that can run Trino: `JAVA_HOME` when it points at one with major version 24 or newer,
/// otherwise the best one under `/usr/lib/jvm` (JDK 25 if present, else the highest qualifying version).
pub fn find_jdk() -> anyhow::Result<Jdk> {
    if let Some(home) = std::env::var_os("JAVA_HOME").filter(|h| !h.is_empty()) {
        let home = PathBuf::from(home);
        match jdk_at(&home) {
            Some(jdk) if jdk.major >= TRINO_MIN_JDK => return Ok(jdk),
            Some(jdk) => eprintln!(
                "harness: JAVA_HOME={} is JDK {}, too old for Trino {TRINO_VERSION}; looking in {JVM_DIR}",
                home.display(),
                jdk.major
            ),
            None => eprintln!(
                "harness: JAVA_HOME={} is not a JDK (no bin/java or release file); looking in {JVM_DIR}",
                home.display()
            ),
        }
    }
    let candidates: Vec<Jdk> = std::fs::read_dir(JVM_DIR)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| jdk_at(&entry.path()))
        .collect();
    match choose(candidates) {
        Some(jdk) => Ok(jdk),
        None => bail!(
            "Trino {TRINO_VERSION} needs JDK {TRINO_MIN_JDK} or newer; none found in JAVA_HOME or {JVM_DIR}: \
             install Temurin {PREFERRED_MAJOR} or `apt-get install openjdk-{PREFERRED_MAJOR}-jdk-headless`"
        ),
    }
}

/// Picks the JDK to use among `candidates`: the preferred major version if present, else the highest one
/// that Trino accepts. Symlinked duplicates (Debian's `java-1.17.0-openjdk-amd64`) are harmless here.
fn choose(mut candidates: Vec<Jdk>) -> Option<Jdk> {
    candidates.retain(|jdk| jdk.major >= TRINO_MIN_JDK);
    // Sorting by path first makes the choice among equal versions stable from run to run.
    candidates.sort_by(|a, b| a.home.cmp(&b.home));
    candidates
        .iter()
        .find(|jdk| jdk.major == PREFERRED_MAJOR)
        .or_else(|| candidates.iter().max_by_key(|jdk| jdk.major))
        .cloned()
}

/// The JDK whose home is `home`, when it has `bin/java` and a `release` file naming its version.
fn jdk_at(home: &Path) -> Option<Jdk> {
    if !home.join("bin").join("java").is_file() {
        return None;
    }
    let release = std::fs::read_to_string(home.join("release")).ok()?;
    let major = release_major(&release)?;
    Some(Jdk {
        home: home.to_path_buf(),
        major,
    })
}

/// The major version in a JDK `release` file's `JAVA_VERSION="25.0.3"` line (`"1.8.0_402"` is 8).
fn release_major(release: &str) -> Option<u32> {
    let value = release
        .lines()
        .find_map(|line| line.trim().strip_prefix("JAVA_VERSION="))?
        .trim()
        .trim_matches('"');
    let mut parts = value.split(['.', '_', '-', '+']);
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        parts.next()?.parse().ok()
    } else {
        Some(first)
    }
}

/// Checks the JDK has working `java` and `javac`: the catalog tests compile and run a small program that reads
/// rendered files back with `java.util.Properties`.
pub fn ensure_jdk(jdk: &Jdk) -> anyhow::Result<()> {
    for tool in ["java", "javac"] {
        let path = jdk.bin().join(tool);
        let ok = Command::new(&path)
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            bail!(
                "`{}` does not run (the catalog tests check rendered files with java.util.Properties, and need \
                 a full JDK, not a JRE); install Temurin {PREFERRED_MAJOR} or \
                 `apt-get install openjdk-{PREFERRED_MAJOR}-jdk-headless`",
                path.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jdk(home: &str, major: u32) -> Jdk {
        Jdk {
            home: home.into(),
            major,
        }
    }

    #[test]
    fn release_files_give_the_major_version() {
        assert_eq!(
            release_major("IMPLEMENTOR=\"Eclipse Adoptium\"\nJAVA_VERSION=\"25.0.3\"\n"),
            Some(25)
        );
        assert_eq!(release_major("JAVA_VERSION=\"17.0.15\""), Some(17));
        assert_eq!(release_major("JAVA_VERSION=\"1.8.0_402\""), Some(8));
        assert_eq!(release_major("JAVA_VERSION=\"24\""), Some(24));
        assert_eq!(release_major("JAVA_VERSION=\"26-ea\""), Some(26));
        assert_eq!(release_major("IMPLEMENTOR=x"), None);
    }

    #[test]
    fn the_choice_prefers_25_then_the_highest_and_never_an_old_jdk() {
        let found = vec![
            jdk("/usr/lib/jvm/java-17-openjdk-amd64", 17),
            jdk("/usr/lib/jvm/temurin-25-jdk-amd64", 25),
            jdk("/usr/lib/jvm/jdk-26", 26),
        ];
        assert_eq!(choose(found).unwrap().major, 25);
        let found = vec![jdk("/a", 24), jdk("/b", 26), jdk("/c", 17)];
        assert_eq!(choose(found).unwrap().home, PathBuf::from("/b"));
        assert_eq!(choose(vec![jdk("/usr/lib/jvm/openjdk-17", 17)]), None);
    }
}
