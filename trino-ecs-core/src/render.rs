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
    /// `query.max-memory-per-node`: 30 % of this node's heap, capped at `query.max-memory`.
    pub query_max_memory_per_node_mib: u32,
    /// `memory.heap-headroom-per-node`: 30 % of this node's heap.
    pub heap_headroom_mib: u32,
    /// `query.max-memory` (cluster-wide): the same on every node, see [`cluster_query_max_memory_mib`].
    pub query_max_memory_mib: u64,
}

/// `-Xmx` for a container of `container_mib`: [`HEAP_PERCENT`] of it, without overflowing.
pub fn heap_mib(container_mib: u32) -> u32 {
    container_mib / 100 * HEAP_PERCENT + container_mib % 100 * HEAP_PERCENT / 100
}

/// The query-memory share of a node's heap: 30 %, used for both `query.max-memory-per-node` and
/// `memory.heap-headroom-per-node`, so the two stay at 60 % of the heap (Trino refuses to start unless their
/// sum is below the heap).
fn per_node_mib(heap_mib: u32) -> u32 {
    heap_mib * 3 / 10
}

/// `query.max-memory`, the cluster-wide user-memory limit of one query: a **worker's**
/// `query.max-memory-per-node` times the worker maximum. Queries run only on workers
/// (`node-scheduler.include-coordinator=false`), so the coordinator's own size plays no part; every node gets
/// this same value, because the limit is a property of the cluster, not of the node that renders it.
pub fn cluster_query_max_memory_mib(worker_container_mib: u32, max_workers: u32) -> u64 {
    u64::from(per_node_mib(heap_mib(worker_container_mib))) * u64::from(max_workers.max(1))
}

impl MemoryPlan {
    /// The split for a node whose container has `container_mib`, in a cluster whose `query.max-memory` is
    /// `cluster_query_max_mib` ([`cluster_query_max_memory_mib`]). Heap, per-node query memory and headroom
    /// come from this node's own container; query memory plus headroom stay at 60 % of its heap.
    pub fn new(container_mib: u32, cluster_query_max_mib: u64) -> Self {
        let heap_mib = heap_mib(container_mib);
        let per_node = per_node_mib(heap_mib);
        // A node never admits more of one query than the whole cluster may hold (this only bites when the
        // coordinator is larger than the workers' total).
        let capped = u32::try_from(cluster_query_max_mib).map_or(per_node, |max| per_node.min(max));
        Self {
            heap_mib,
            query_max_memory_per_node_mib: capped,
            heap_headroom_mib: per_node,
            query_max_memory_mib: cluster_query_max_mib,
        }
    }

    /// The split for `role` in `config`.
    pub fn for_role(config: &LakeConfig, role: Role) -> Self {
        let c = &config.cluster;
        let container_mib = match role {
            Role::Coordinator => c.coordinator.memory,
            Role::Worker => c.workers.memory,
        };
        Self::new(
            container_mib,
            cluster_query_max_memory_mib(c.workers.memory, c.workers.max),
        )
    }
}

/// The files one node needs under [`CONFIG_DIR`], by file name (catalogs are separate).
pub fn render_node(config: &LakeConfig, role: Role) -> BTreeMap<String, String> {
    let c = &config.cluster;
    let coordinator = role == Role::Coordinator;
    let memory = MemoryPlan::for_role(config, role);
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
        files.insert(
            "mysql-event-listener.properties".to_owned(),
            event_listener_properties(log),
        );
    }
    files
}

/// `mysql-event-listener.properties`.
///
/// Trino 480's MySQL event listener (`MysqlEventListenerConfig`) takes only `mysql-event-listener.db.url` and
/// `mysql-event-listener.terminate-on-initialization-failure`: there are no separate user and password
/// properties in any release up to 480 (trinodb/trino#25941 asks for them), so the credentials have to travel
/// in the JDBC URL's query string, which Connector/J percent-decodes. The user is percent-encoded here. The
/// password is a `${ENV:TRINO_EVENT_LOG_PASSWORD}` reference that Trino substitutes verbatim at start-up, so
/// the *value* ECS injects must already be percent-encoded: whoever writes the SecureString must store
/// [`encode_jdbc_query_value`] of the password (see `EventLogConfig::password`).
///
/// `terminate-on-initialization-failure` is rendered explicitly as Trino's default, `true`: a coordinator that
/// cannot reach its event-log database at start-up fails (ECS restarts it, the deployment circuit breaker
/// rolls back a bad change) rather than run without recording queries. The event log is the access evidence
/// the lifecycle classifier moves data to colder tiers on; a silent gap makes tables look unused. The
/// listener only creates `trino_queries` at start-up, so after a failed first start with `false` every event
/// would be lost until the next restart.
pub fn event_listener_properties(log: &crate::config::EventLogConfig) -> String {
    let url = if log.url.starts_with("jdbc:") {
        log.url.clone()
    } else {
        format!("jdbc:{}", log.url)
    };
    let mut creds = format!("user={}", encode_jdbc_query_value(&log.user));
    if log.password.is_some() {
        creds.push_str(&format!("&password=${{ENV:{EVENT_LOG_PASSWORD_ENV}}}"));
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!(
        "event-listener.name=mysql\n\
         mysql-event-listener.db.url={url}{sep}{creds}\n\
         mysql-event-listener.terminate-on-initialization-failure=true\n"
    )
}

/// Percent-encodes `value` for a JDBC URL query string: every byte but RFC 3986's unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`) becomes `%XX`. Connector/J URL-decodes query values, so `&`, `#`, `%`, `+`, `=`
/// and spaces round-trip; the result also needs no escaping in a `.properties` file.
pub fn encode_jdbc_query_value(value: &str) -> String {
    const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(value, UNRESERVED).to_string()
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
            for max_workers in [1, 4, 10, 100] {
                let m = MemoryPlan::new(mib, cluster_query_max_memory_mib(mib, max_workers));
                assert_eq!(m.heap_mib, mib * 8 / 10);
                assert!(
                    m.query_max_memory_per_node_mib + m.heap_headroom_mib < m.heap_mib,
                    "{mib}: {m:?}"
                );
                assert!(u64::from(m.query_max_memory_per_node_mib) <= m.query_max_memory_mib);
            }
        }
    }

    /// `query.max-memory` is one cluster-wide value from the workers' per-node limit; heap, per-node limit
    /// and headroom follow each role's own container.
    #[test]
    fn query_limits_are_consistent_across_roles() {
        let mut config = local();
        for (coordinator_mib, worker_mib, max) in [
            (4096, 8192, 4),
            (16384, 4096, 10),
            (30720, 2048, 1),
            (2048, 122880, 50),
        ] {
            config.cluster.coordinator.memory = coordinator_mib;
            config.cluster.workers.memory = worker_mib;
            config.cluster.workers.max = max;
            let coordinator = MemoryPlan::for_role(&config, Role::Coordinator);
            let worker = MemoryPlan::for_role(&config, Role::Worker);
            let expected = u64::from(worker.query_max_memory_per_node_mib) * u64::from(max);
            assert_eq!(worker.query_max_memory_mib, expected, "{worker:?}");
            assert_eq!(
                coordinator.query_max_memory_mib, expected,
                "{coordinator:?}"
            );
            assert_eq!(
                worker.query_max_memory_per_node_mib,
                worker.heap_mib * 3 / 10
            );
            assert_eq!(coordinator.heap_mib, heap_mib(coordinator_mib));
            assert_eq!(worker.heap_mib, heap_mib(worker_mib));
            for (role, m) in [("coordinator", coordinator), ("worker", worker)] {
                assert!(
                    m.query_max_memory_per_node_mib + m.heap_headroom_mib < m.heap_mib,
                    "{role}: {m:?}"
                );
                assert!(
                    u64::from(m.query_max_memory_per_node_mib) <= m.query_max_memory_mib,
                    "{role}: {m:?}"
                );
            }
            // The rendered files say the same on both roles.
            let line = format!("query.max-memory={expected}MB\n");
            for role in [Role::Coordinator, Role::Worker] {
                let files = render_node(&config, role);
                assert!(files["config.properties"].contains(&line), "{role:?}");
                let m = MemoryPlan::for_role(&config, role);
                assert!(files["jvm.config"].contains(&format!("-Xmx{}M\n", m.heap_mib)));
                assert!(files["config.properties"].contains(&format!(
                    "query.max-memory-per-node={}MB\nmemory.heap-headroom-per-node={}MB\n",
                    m.query_max_memory_per_node_mib, m.heap_headroom_mib
                )));
            }
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
            "event-listener.name=mysql\n\
             mysql-event-listener.db.url=jdbc:mysql://db:3306/events?user=root&password=${ENV:TRINO_EVENT_LOG_PASSWORD}\n\
             mysql-event-listener.terminate-on-initialization-failure=true\n"
        );
    }

    /// A user with URL metacharacters is percent-encoded, and options already in the URL are kept.
    #[test]
    fn event_log_user_is_percent_encoded() {
        let mut config = local();
        let log = config.event_log.as_mut().unwrap();
        log.url = "jdbc:mysql://db:3306/events?useSSL=true".into();
        log.user = "ops&admin#1%+x y=z".into();
        let files = render_node(&config, Role::Coordinator);
        let text = &files["mysql-event-listener.properties"];
        assert!(
            text.contains(
                "mysql-event-listener.db.url=jdbc:mysql://db:3306/events?useSSL=true&user=ops%26admin%231%25%2Bx%20y%3Dz\n"
            ),
            "{text}"
        );
        assert!(!text.contains("password"), "{text}");
    }

    #[test]
    fn jdbc_query_values_round_trip() {
        assert_eq!(
            encode_jdbc_query_value("plain-user_1.x~"),
            "plain-user_1.x~"
        );
        assert_eq!(encode_jdbc_query_value("p&w#d%+"), "p%26w%23d%25%2B");
        assert_eq!(encode_jdbc_query_value("é ü"), "%C3%A9%20%C3%BC");
        // What Connector/J does with a query value (URL decoding, '+' kept as a plus sign) gives the original.
        for value in ["p&w#d%+=?/\\:@!*'()[]", "white space", "ünïcödé€", ""] {
            let encoded = encode_jdbc_query_value(value);
            assert!(
                encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b))
            );
            let decoded = url::form_urlencoded::parse(format!("v={encoded}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            assert_eq!(decoded, value);
        }
    }
}
