//! Trino server configuration rendered from the lake config: `node.properties`, `config.properties`,
//! `jvm.config`, `log.properties`, access control that permits the graceful-shutdown call, and the MySQL
//! event listener. Pure: no IO. Secrets never appear here, only `${ENV:VAR}` references that the container's
//! environment (ECS `secrets` from SSM SecureStrings) resolves.

use std::collections::BTreeMap;

use crate::config::{CatalogManagement, LakeConfig};

/// Trino's HTTP port on every node.
pub const HTTP_PORT: u16 = 8080;
/// The name of the container port mapping; Service Connect refers to it.
pub const PORT_NAME: &str = "trino";
/// The environment variable holding the internal-communication shared secret.
pub const SHARED_SECRET_ENV: &str = "TRINO_SHARED_SECRET";
/// The environment variable holding the event-log database password.
pub const EVENT_LOG_PASSWORD_ENV: &str = "TRINO_EVENT_LOG_PASSWORD";
/// The Trino user the deploy tool acts as when it drains workers (`PUT /v1/info/state`).
pub const OPS_USER: &str = "trino-lake-ops";
/// Where the image reads its configuration.
pub const CONFIG_DIR: &str = "/etc/trino";
/// Where the image reads catalog files.
pub const CATALOG_DIR: &str = "/etc/trino/catalog";
/// Share of the container memory given to the JVM heap, in percent.
pub const HEAP_PERCENT: u32 = 80;

/// Which kind of Trino node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The one coordinator.
    Coordinator,
    /// An autoscaled worker.
    Worker,
}

impl Role {
    /// `coordinator` or `worker`, as used in resource names.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Coordinator => "coordinator",
            Role::Worker => "worker",
        }
    }
}

/// The Service Connect DNS alias of the coordinator, which workers use as `discovery.uri`.
pub fn coordinator_alias(config: &LakeConfig) -> String {
    format!("{}-coordinator", config.cluster.name)
}

/// How a node's container memory is split, in MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryPlan {
    /// `-Xmx`: [`HEAP_PERCENT`] of the container memory.
    pub heap_mib: u32,
    /// `query.max-memory-per-node`: 30 % of the heap.
    pub query_max_memory_per_node_mib: u32,
    /// `memory.heap-headroom-per-node`: 30 % of the heap.
    pub heap_headroom_mib: u32,
    /// `query.max-memory` (cluster-wide): per-node memory times the worker maximum.
    pub query_max_memory_mib: u64,
}

impl MemoryPlan {
    /// The split for a container of `container_mib` in a cluster of at most `max_workers` workers. Query memory
    /// plus headroom stay at 60 % of the heap, so Trino's startup check (they must be below the heap) holds.
    pub fn new(container_mib: u32, max_workers: u32) -> Self {
        let heap_mib =
            container_mib / 100 * HEAP_PERCENT + container_mib % 100 * HEAP_PERCENT / 100;
        let per_node = heap_mib * 3 / 10;
        Self {
            heap_mib,
            query_max_memory_per_node_mib: per_node,
            heap_headroom_mib: per_node,
            query_max_memory_mib: u64::from(per_node) * u64::from(max_workers.max(1)),
        }
    }
}

/// The files one node needs under [`CONFIG_DIR`], by file name (catalogs are separate).
pub fn render_node(config: &LakeConfig, role: Role) -> BTreeMap<String, String> {
    let c = &config.cluster;
    let (container_mib, coordinator) = match role {
        Role::Coordinator => (c.coordinator.memory, true),
        Role::Worker => (c.workers.memory, false),
    };
    let memory = MemoryPlan::new(container_mib, c.workers.max);
    let mut files = BTreeMap::new();

    files.insert(
        "node.properties".to_owned(),
        format!(
            "# Rendered by trino-ecs-core; node.id is left to the image, which uses the task's hostname.\n\
             node.environment={}\nnode.data-dir=/data/trino\n",
            config.environment()
        ),
    );

    let mut props = Vec::new();
    props.push(format!("coordinator={coordinator}"));
    if coordinator {
        props.push("node-scheduler.include-coordinator=false".to_owned());
        props.push(format!("discovery.uri=http://localhost:{HTTP_PORT}"));
    } else {
        props.push(format!(
            "discovery.uri=http://{}:{HTTP_PORT}",
            coordinator_alias(config)
        ));
    }
    props.push(format!("http-server.http.port={HTTP_PORT}"));
    props.push(format!(
        "query.max-memory={}MB",
        memory.query_max_memory_mib
    ));
    props.push(format!(
        "query.max-memory-per-node={}MB",
        memory.query_max_memory_per_node_mib
    ));
    props.push(format!(
        "memory.heap-headroom-per-node={}MB",
        memory.heap_headroom_mib
    ));
    props.push(format!(
        "shutdown.grace-period={}s",
        c.shutdown_grace_period_seconds
    ));
    props.push(format!(
        "internal-communication.shared-secret=${{ENV:{SHARED_SECRET_ENV}}}"
    ));
    if c.catalog_management == CatalogManagement::Dynamic {
        props.push("catalog.management=dynamic".to_owned());
        props.push("catalog.store=file".to_owned());
        props.push(format!("catalog.config-dir={CATALOG_DIR}"));
    }
    if config.event_log.is_some() && coordinator {
        props.push(format!(
            "event-listener.config-files={CONFIG_DIR}/mysql-event-listener.properties"
        ));
    }
    files.insert("config.properties".to_owned(), props.join("\n") + "\n");

    let jvm = [
        "-server".to_owned(),
        format!("-Xmx{}M", memory.heap_mib),
        "-XX:InitialRAMPercentage=80".to_owned(),
        "-XX:MaxRAMPercentage=80".to_owned(),
        "-XX:G1HeapRegionSize=32M".to_owned(),
        "-XX:+ExplicitGCInvokesConcurrent".to_owned(),
        "-XX:+ExitOnOutOfMemoryError".to_owned(),
        "-XX:+HeapDumpOnOutOfMemoryError".to_owned(),
        "-XX:-OmitStackTraceInFastThrow".to_owned(),
        "-XX:ReservedCodeCacheSize=512M".to_owned(),
        "-XX:PerMethodRecompilationCutoff=10000".to_owned(),
        "-XX:PerBytecodeRecompilationCutoff=10000".to_owned(),
        "-Djdk.attach.allowAttachSelf=true".to_owned(),
        "-Djdk.nio.maxCachedBufferSize=2000000".to_owned(),
        "-Dfile.encoding=UTF-8".to_owned(),
        "-XX:+EnableDynamicAgentLoading".to_owned(),
    ];
    files.insert("jvm.config".to_owned(), jvm.join("\n") + "\n");

    files.insert("log.properties".to_owned(), "io.trino=INFO\n".to_owned());

    // The default system access control forbids graceful shutdown; file-based rules allow everything the
    // default allows plus `system_information` writes for the ops user only. Trino's file-based access control
    // (SystemAccessControlFactory) treats absent schema, table, session-property and function sections as
    // allow-all, so only catalogs and system_information need rules here.
    files.insert(
        "access-control.properties".to_owned(),
        format!("access-control.name=file\nsecurity.config-file={CONFIG_DIR}/rules.json\n"),
    );
    files.insert("rules.json".to_owned(), access_rules());

    if let (Some(log), true) = (&config.event_log, coordinator) {
        let url = if log.url.starts_with("jdbc:") {
            log.url.clone()
        } else {
            format!("jdbc:{}", log.url)
        };
        let mut creds = format!("user={}", log.user);
        if log.password.is_some() {
            creds.push_str(&format!("&password=${{ENV:{EVENT_LOG_PASSWORD_ENV}}}"));
        }
        let sep = if url.contains('?') { '&' } else { '?' };
        files.insert(
            "mysql-event-listener.properties".to_owned(),
            format!("event-listener.name=mysql\nmysql-event-listener.db.url={url}{sep}{creds}\n"),
        );
    }
    files
}

fn access_rules() -> String {
    let rules = serde_json::json!({
        "catalogs": [{ "allow": "all" }],
        "system_information": [
            { "user": OPS_USER, "allow": ["read", "write"] },
            { "allow": ["read"] }
        ]
    });
    serde_json::to_string_pretty(&rules).expect("static JSON serialises") + "\n"
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    pub(crate) fn local() -> LakeConfig {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/local.toml");
        LakeConfig::load(&path).expect("examples/local.toml is valid")
    }

    #[test]
    fn memory_stays_below_heap() {
        for mib in [2048, 4096, 8192, 30720, 122880] {
            let m = MemoryPlan::new(mib, 10);
            assert_eq!(m.heap_mib, mib * 8 / 10);
            assert!(
                m.query_max_memory_per_node_mib + m.heap_headroom_mib < m.heap_mib,
                "{mib}: {m:?}"
            );
        }
    }

    #[test]
    fn coordinator_files() {
        let files = render_node(&local(), Role::Coordinator);
        insta::assert_snapshot!("coordinator_config", files["config.properties"]);
        insta::assert_snapshot!("coordinator_jvm", files["jvm.config"]);
        insta::assert_snapshot!("coordinator_node", files["node.properties"]);
        insta::assert_snapshot!("event_listener", files["mysql-event-listener.properties"]);
        insta::assert_snapshot!("rules", files["rules.json"]);
        assert_eq!(
            files["access-control.properties"],
            "access-control.name=file\nsecurity.config-file=/etc/trino/rules.json\n"
        );
        assert_eq!(files["log.properties"], "io.trino=INFO\n");
    }

    #[test]
    fn worker_files_discover_the_coordinator_alias() {
        let files = render_node(&local(), Role::Worker);
        insta::assert_snapshot!("worker_config", files["config.properties"]);
        assert!(
            files["config.properties"]
                .contains("discovery.uri=http://lake-local-coordinator:8080\n")
        );
        assert!(
            !files.contains_key("mysql-event-listener.properties"),
            "only the coordinator logs events"
        );
    }

    #[test]
    fn static_catalogs_and_no_event_log() {
        let mut config = local();
        config.cluster.catalog_management = CatalogManagement::Static;
        config.event_log = None;
        let files = render_node(&config, Role::Coordinator);
        assert!(!files["config.properties"].contains("catalog.management"));
        assert!(!files["config.properties"].contains("event-listener"));
        assert!(!files.contains_key("mysql-event-listener.properties"));
    }

    #[test]
    fn event_log_password_is_an_env_reference() {
        let mut config = local();
        let log = config.event_log.as_mut().unwrap();
        log.url = "mysql://db:3306/events".into();
        log.password = Some(trino_catalogs::SecretRef::Env("EVENTS_PW".into()));
        let files = render_node(&config, Role::Coordinator);
        assert_eq!(
            files["mysql-event-listener.properties"],
            "event-listener.name=mysql\nmysql-event-listener.db.url=jdbc:mysql://db:3306/events?user=root&password=${ENV:TRINO_EVENT_LOG_PASSWORD}\n"
        );
    }
}
