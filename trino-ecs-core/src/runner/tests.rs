use std::sync::{Arc, Mutex};

use super::process::{ProcessLauncher, hosts_file};
use super::*;

fn service(name: &str, td: &str, count: u32, max: u32) -> ServiceView {
    ServiceView {
        name: name.into(),
        task_definition: td.into(),
        desired_count: count,
        maximum_percent: max,
    }
}

fn task(id: &str, service: &str, td: &str) -> TaskState {
    TaskState {
        id: id.into(),
        service: service.into(),
        task_definition: td.into(),
        family_revision: td.into(),
        address: Ipv4Addr::LOCALHOST,
        handle: TaskHandle {
            id: id.into(),
            pid: 0,
            log: PathBuf::new(),
        },
        stop_timeout: Duration::from_secs(1),
    }
}

fn start(service: &str, td: &str) -> TaskAction {
    TaskAction::Start {
        service: service.into(),
        task_definition: td.into(),
    }
}

fn stop(id: &str, reason: StopReason) -> TaskAction {
    TaskAction::Stop {
        id: id.into(),
        reason,
    }
}

#[test]
fn reconcile_starts_up_to_the_desired_count() {
    let services = [service("c", "c:1", 1, 100), service("w", "w:1", 2, 200)];
    assert_eq!(
        reconcile(&services, &[], &BTreeSet::new()),
        vec![start("c", "c:1"), start("w", "w:1"), start("w", "w:1")]
    );
    let running = [
        task("c-1", "c", "c:1"),
        task("w-2", "w", "w:1"),
        task("w-3", "w", "w:1"),
    ];
    assert_eq!(reconcile(&services, &running, &BTreeSet::new()), vec![]);
}

#[test]
fn scale_in_stops_the_newest_tasks_and_deleted_services_stop() {
    let services = [service("w", "w:1", 1, 200)];
    let running = [
        task("w-2", "w", "w:1"),
        task("w-10", "w", "w:1"),
        task("w-3", "w", "w:1"),
        task("old-1", "gone", "g:1"),
    ];
    assert_eq!(
        reconcile(&services, &running, &BTreeSet::new()),
        vec![
            stop("old-1", StopReason::ServiceDeleted),
            stop("w-10", StopReason::ScaleIn),
            stop("w-3", StopReason::ScaleIn)
        ]
    );
}

/// The coordinator (max 100 %) stops its old task before the new one starts: two coordinators never serve
/// the alias at once.
#[test]
fn without_surge_the_old_task_stops_first() {
    let services = [service("c", "c:2", 1, 100)];
    let running = [task("c-1", "c", "c:1")];
    assert_eq!(
        reconcile(&services, &running, &BTreeSet::new()),
        vec![stop("c-1", StopReason::Replaced), start("c", "c:2")]
    );
}

/// Workers (max 200 %) surge: replacements start first, and old tasks stop only once as many new ones run.
#[test]
fn with_surge_replacements_start_before_old_tasks_stop() {
    let services = [service("w", "w:2", 2, 200)];
    let old = [task("w-1", "w", "w:1"), task("w-2", "w", "w:1")];
    assert_eq!(
        reconcile(&services, &old, &BTreeSet::new()),
        vec![start("w", "w:2"), start("w", "w:2")]
    );
    let mixed = [
        task("w-1", "w", "w:1"),
        task("w-2", "w", "w:1"),
        task("w-3", "w", "w:2"),
        task("w-4", "w", "w:2"),
    ];
    assert_eq!(
        reconcile(&services, &mixed, &BTreeSet::new()),
        vec![
            stop("w-1", StopReason::Replaced),
            stop("w-2", StopReason::Replaced)
        ]
    );
    let half = [
        task("w-1", "w", "w:1"),
        task("w-2", "w", "w:1"),
        task("w-3", "w", "w:2"),
    ];
    assert_eq!(
        reconcile(&services, &half, &BTreeSet::new()),
        vec![start("w", "w:2"), stop("w-1", StopReason::Replaced)]
    );
}

/// As in ECS, protected tasks are stopped neither by a deployment nor by a lower count: both wait.
#[test]
fn protected_tasks_are_neither_replaced_nor_scaled_in() {
    let protected: BTreeSet<String> = ["w-1".to_owned(), "w-3".to_owned()].into();
    let services = [service("w", "w:2", 2, 200)];
    let mixed = [
        task("w-1", "w", "w:1"),
        task("w-2", "w", "w:1"),
        task("w-3", "w", "w:2"),
        task("w-4", "w", "w:2"),
    ];
    assert_eq!(
        reconcile(&services, &mixed, &protected),
        vec![stop("w-2", StopReason::Replaced)],
        "the deployment stops only the unprotected old task; w-1 runs until it exits or loses protection"
    );
    let services = [service("w", "w:2", 1, 200)];
    let current = [
        task("w-3", "w", "w:2"),
        task("w-4", "w", "w:2"),
        task("w-5", "w", "w:2"),
    ];
    assert_eq!(
        reconcile(&services, &current, &protected),
        vec![
            stop("w-5", StopReason::ScaleIn),
            stop("w-4", StopReason::ScaleIn)
        ],
        "scale-in takes unprotected tasks only"
    );
    let all: BTreeSet<String> = ["w-3", "w-4", "w-5"].map(String::from).into();
    assert_eq!(
        reconcile(&services, &current, &all),
        vec![],
        "every task protected: the count waits"
    );
}

#[test]
fn path_map_maps_whole_path_components_only() {
    let map = PathMap::new([
        ("/etc/trino".to_owned(), PathBuf::from("/t/etc")),
        ("/etc/trino/catalog".to_owned(), PathBuf::from("/t/cat")),
        ("/usr/lib/trino".to_owned(), PathBuf::from("/opt/trino")),
    ]);
    assert_eq!(
        map.apply("mkdir -p /etc/trino/catalog; printf x > /etc/trino/node.properties; exec /usr/lib/trino/bin/run-trino"),
        "mkdir -p /t/cat; printf x > /t/etc/node.properties; exec /opt/trino/bin/run-trino"
    );
    assert_eq!(
        map.apply("security.config-file=/etc/trino/rules.json"),
        "security.config-file=/t/etc/rules.json"
    );
    // Not a path component: left alone.
    assert_eq!(
        map.apply("/etc/trinox /x/etc/trino a/etc/trino"),
        "/etc/trinox /x/etc/trino a/etc/trino"
    );
    assert_eq!(map.apply("/etc/trino"), "/t/etc");
}

#[test]
fn parameter_names_come_from_arns_or_names() {
    assert_eq!(
        ecs::parameter_name("arn:aws:ssm:us-east-1:123456789012:parameter/trino/x/y").unwrap(),
        "/trino/x/y"
    );
    assert_eq!(ecs::parameter_name("/trino/x").unwrap(), "/trino/x");
    let e = ecs::parameter_name("arn:aws:secretsmanager:us-east-1:1:secret:x").unwrap_err();
    assert!(e.to_string().contains("Secrets Manager"), "{e}");
}

fn launch(dir: &Path, id: &str, script: &str, stop_timeout: Duration) -> TaskLaunch {
    TaskLaunch {
        id: id.into(),
        service: "w".into(),
        address: Ipv4Addr::new(127, 0, 77, 9),
        hostname: "ip-127-0-77-9.ec2.internal".into(),
        command: vec!["sh".into(), "-c".into(), script.into()],
        environment: [
            ("PATH".to_owned(), SecretString::new("/usr/bin:/bin")),
            ("GREETING".to_owned(), SecretString::new("hello")),
        ]
        .into(),
        hosts: [("lake-coordinator".to_owned(), Ipv4Addr::new(127, 0, 77, 1))].into(),
        dir: dir.to_owned(),
        stop_timeout,
    }
}

/// A task that exits on SIGTERM stops at once; one that ignores it is killed after its stop timeout, with
/// every process of its group.
#[tokio::test]
async fn processes_stop_like_ecs_containers() {
    let tmp = tempfile::tempdir().unwrap();
    let launcher = ProcessLauncher::new();

    let polite = launch(
        tmp.path(),
        "polite",
        "trap 'echo got TERM; exit 0' TERM; echo \"$GREETING $HOME\"; while :; do sleep 0.1; done",
        Duration::from_secs(20),
    );
    let handle = launcher.start(&polite).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(launcher.exited(&handle), None);
    let started = std::time::Instant::now();
    let outcome = launcher
        .stop(&handle, Duration::from_secs(20))
        .await
        .unwrap();
    assert!(!outcome.killed, "{outcome:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let log = std::fs::read_to_string(&handle.log).unwrap();
    // The environment is only what the task gets: no HOME leaks in from the runner.
    assert!(log.contains("hello \n"), "{log}");
    assert!(log.contains("got TERM"), "{log}");
    let hosts = std::fs::read_to_string(tmp.path().join("hosts")).unwrap();
    assert!(hosts.contains("127.0.77.9 localhost ip-127-0-77-9.ec2.internal ip-127-0-77-9\n"));
    assert!(hosts.contains("127.0.77.1 lake-coordinator\n"));
    assert_eq!(hosts, hosts_file(&polite));

    let stubborn_dir = tmp.path().join("stubborn");
    std::fs::create_dir_all(&stubborn_dir).unwrap();
    let stubborn = launch(
        &stubborn_dir,
        "stubborn",
        "trap '' TERM; sleep 600 & while :; do sleep 0.1; done",
        Duration::from_millis(500),
    );
    let handle = launcher.start(&stubborn).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let outcome = launcher
        .stop(&handle, Duration::from_millis(500))
        .await
        .unwrap();
    assert!(outcome.killed, "{outcome:?}");
    // The background `sleep 600` of the group is gone too.
    // (Zombies do not count: in a container nobody may reap the killed group's orphans.)
    tokio::time::sleep(Duration::from_millis(200)).await;
    let group_alive = std::process::Command::new("sh")
        .args([
            "-c",
            &format!(
                "ps -eo pgid=,stat= | awk '$1 == {} && $2 !~ /^Z/' | grep -q .",
                handle.pid
            ),
        ])
        .status()
        .unwrap()
        .success();
    assert!(!group_alive, "processes of group {} survived", handle.pid);

    let quitter_dir = tmp.path().join("quitter");
    std::fs::create_dir_all(&quitter_dir).unwrap();
    let quitter = launch(&quitter_dir, "quitter", "exit 3", Duration::from_secs(1));
    let handle = launcher.start(&quitter).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(launcher.exited(&handle).as_deref(), Some("exit status: 3"));
}

/// A source of services and task definitions held in memory, changed by the test between passes.
#[derive(Clone, Default)]
struct Fleet {
    services: Arc<Mutex<Vec<ServiceView>>>,
}

#[async_trait]
impl TaskSource for Fleet {
    async fn services(&self) -> Result<Vec<ServiceView>> {
        Ok(self.services.lock().unwrap().clone())
    }
    async fn task_definition(&self, arn: &str) -> Result<TaskDefView> {
        Ok(TaskDefView {
            arn: arn.into(),
            family_revision: arn.into(),
            command: vec![
                "sh".into(),
                "-c".into(),
                "echo \"$SECRET_FILE\" > /etc/trino/x.properties; exec sleep 600".into(),
            ],
            environment: BTreeMap::new(),
            secrets: [("SECRET_FILE".to_owned(), "/p/x".to_owned())].into(),
            stop_timeout: Duration::from_secs(2),
            port: 8080,
        })
    }
    async fn resolve_secrets(
        &self,
        secrets: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, SecretString>> {
        Ok(secrets
            .keys()
            .map(|k| (k.clone(), SecretString::new("dir=/data/trino/x")))
            .collect())
    }
}

/// The runner maps image paths in the command and in secret values, seeds per-task directories, gives the
/// alias-serving service its fixed address, replaces a changed revision and follows the desired count.
#[tokio::test]
async fn runner_follows_the_services() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = tmp.path().join("image-etc");
    std::fs::create_dir_all(seed.join("catalog")).unwrap();
    std::fs::write(
        seed.join("catalog/tpch.properties"),
        "connector.name=tpch\n",
    )
    .unwrap();
    let fleet = Fleet::default();
    *fleet.services.lock().unwrap() =
        vec![service("c", "c:1", 1, 100), service("w", "w:1", 1, 200)];
    let config = RunnerConfig {
        shared_paths: [("/usr/lib/trino".to_owned(), tmp.path().join("install"))].into(),
        task_paths: [
            ("/etc/trino".to_owned(), Some(seed.clone())),
            ("/data/trino".to_owned(), None),
        ]
        .into(),
        work_dir: tmp.path().join("tasks"),
        image_environment: [("PATH".to_owned(), "/usr/bin:/bin".to_owned())].into(),
        task_role_environment: BTreeMap::new(),
        service_aliases: [("c".to_owned(), "lake-coordinator".to_owned())].into(),
        hostname_domain: "ec2.internal".into(),
        address_octet: 77,
    };
    let mut runner = LocalRunner::new(fleet.clone(), ProcessLauncher::new(), config);
    let events = runner.reconcile_once().await.unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(runner.address_of("c"), Some(Ipv4Addr::new(127, 0, 77, 1)));
    assert_eq!(runner.address_of("w"), Some(Ipv4Addr::new(127, 0, 77, 2)));
    let text = events[0].to_string();
    assert!(
        text.contains("local substitution: /etc/trino -> "),
        "{text}"
    );
    assert!(
        text.contains("Service Connect alias lake-coordinator -> 127.0.77.1"),
        "{text}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let worker_dir = tmp.path().join("tasks/w-2");
    assert_eq!(
        std::fs::read_to_string(worker_dir.join("etc-trino/x.properties")).unwrap(),
        format!("dir={}/x\n", worker_dir.join("data-trino").display())
    );
    assert!(
        worker_dir
            .join("etc-trino/catalog/tpch.properties")
            .exists()
    );

    // A new coordinator revision: the old coordinator stops first, the new one gets the alias's address.
    fleet.services.lock().unwrap()[0].task_definition = "c:2".into();
    fleet.services.lock().unwrap()[1].desired_count = 2;
    let events = runner.reconcile_once().await.unwrap();
    let text: Vec<String> = events.iter().map(ToString::to_string).collect();
    assert!(
        text[0].starts_with("task c-1 stopped (task definition replaced)"),
        "{text:?}"
    );
    assert!(
        text[1].starts_with("task c-3 (c:2) started at 127.0.77.1:8080"),
        "{text:?}"
    );
    assert!(
        text[2].starts_with("task w-4 (w:1) started at 127.0.77.3:8080"),
        "{text:?}"
    );
    assert_eq!(runner.tasks().len(), 3);

    fleet.services.lock().unwrap().clear();
    let events = runner.reconcile_once().await.unwrap();
    assert_eq!(events.len(), 3);
    assert!(runner.tasks().is_empty());
}
