//! The `xtask` command line as users run it (the binary `cargo xtask test` built and names in
//! `LAKE_XTASK_BIN`).

use std::process::Command;

use lake_tests::trino;

/// Issue 16 item 14: `cargo xtask check | head -1` exited 101 with a panic. Here stdout is a pipe whose reader
/// is already closed, so every write fails with EPIPE (no race with a reader that closes late): the command
/// ends quietly, exit 0, with no panic on stderr.
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/local.toml");
    let run = Command::new(trino::xtask_bin())
        .args(["--config", config, "check"])
        .stdout(writer)
        .output()
        .expect("xtask runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!stderr.contains("panicked"), "stderr:\n{stderr}");
    assert!(
        run.status.success(),
        "exit status {:?}, stderr:\n{stderr}",
        run.status
    );
}
