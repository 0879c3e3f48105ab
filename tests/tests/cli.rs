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

/// Issue 16 item 9: a lock left by a deploy on another machine (which this one cannot judge dead) blocks
/// `deploy` until `--force-unlock`, which shows the holder and asks first: "n" leaves the lock and applies
/// nothing; "y" removes it, and the deploy then shows its plan and asks again (answered "n" here).
#[tokio::test]
async fn force_unlock_shows_the_holder_asks_and_removes_only_when_told() {
    use std::io::Write as _;
    use trino_ecs_core::aws::AwsCluster;
    use trino_ecs_core::config::LakeConfig;
    use trino_ecs_core::lease::Holder;

    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/local.toml");
    let name = lake_tests::unique_name("unlock");
    let text = std::fs::read_to_string(example)
        .unwrap()
        .replace("name = \"lake-local\"", &format!("name = \"{name}\""))
        .replace(
            "endpoint_url = \"http://127.0.0.1:4566\"",
            &format!("endpoint_url = \"{}\"", lake_tests::endpoint_url()),
        );
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("lake.toml");
    std::fs::write(&config_path, &text).unwrap();
    let config = LakeConfig::load(&config_path).unwrap();

    let sdk = lake_tests::aws_config().await;
    let aws = AwsCluster::new(&sdk);
    let parameter = format!("/trino/{name}/deploy-lock");
    let elsewhere = Holder {
        owner: "bob pid 77".into(),
        host: "build-box-7 boot 1234".into(),
        pid: 77,
    };
    aws.lock(
        &parameter,
        &config.cluster.name,
        &elsewhere,
        std::time::Duration::from_secs(1800),
    )
    .await
    .unwrap();

    let deploy = |answers: &str| {
        let mut child = Command::new(trino::xtask_bin())
            .arg("--config")
            .arg(&config_path)
            .args(["deploy", "--force-unlock", "--lock-wait", "0"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("xtask runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(answers.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let holder = |aws: &AwsCluster| {
        let aws = aws.clone();
        let parameter = parameter.clone();
        async move { aws.lock_holder(&parameter).await.unwrap().map(|l| l.owner) }
    };

    let (ok, stdout, stderr) = deploy("n\n");
    assert!(!ok, "declining must fail the command\n{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "the deploy lock {parameter} is held by bob pid 77"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("remove it?"), "{stdout}");
    assert!(
        stderr.contains("the lock was left in place; nothing applied"),
        "{stderr}"
    );
    assert_eq!(holder(&aws).await, Some("bob pid 77".to_owned()));

    let (_, stdout, stderr) = deploy("y\nn\n");
    assert!(
        stdout.contains("removed the deploy lock of bob pid 77"),
        "{stdout}{stderr}"
    );
    assert!(stdout.contains("apply these changes?"), "{stdout}");
    assert_eq!(holder(&aws).await, None, "{stdout}{stderr}");
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let services = ecs.list_services().cluster(&name).send().await;
    assert!(
        services.map_or(true, |s| s.service_arns().is_empty()),
        "a declined plan applies nothing"
    );
}
