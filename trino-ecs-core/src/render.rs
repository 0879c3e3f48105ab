//! Trino server configuration rendered from the lake config for the Trino release the cluster runs:
//! `node.properties`, `config.properties`, `jvm.config`, `log.properties`, access control that permits the
//! graceful-shutdown call and `CREATE CATALOG` for the ops user, and the MySQL event listener. Pure: no IO.
//! Secrets never appear here, only `${ENV:VAR}` references that the container's environment (ECS `secrets`
//! from SSM SecureStrings) resolves.
//!
//! Paths inside the files are relative (`etc/rules.json`): Trino runs in its data directory, where the
//! launcher links `etc` to the configuration directory (`/etc/trino` in the image), so the same files work in
//! the image and in a local install started with `launcher run --etc-dir DIR --data-dir DIR`.
//!
//! Every difference between supported releases is one row of [`VERSION_DIFFERENCES`] (and of
//! `docs/trino-versions.md`); the files of Trino 476 were checked by a real 476 server.

use std::collections::BTreeMap;

use trino_catalogs::TrinoVersion;

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
/// Share of the container memory given to the JVM heap, in percent (Trino's deployment guide: 70 to 85).
pub const HEAP_PERCENT: u32 = 80;
/// Memory every container keeps outside the heap, at least, in MiB: metaspace, code cache, thread stacks,
/// direct buffers and GC structures. Real 476 nodes used 380-470 MiB of it idle (RSS minus committed heap:
/// a coordinator with five catalogs 420 MiB, with three 470 MiB; a worker 380 MiB; metaspace alone 165-195
/// MiB), so a 2048 MiB task at 80 % (1638 MiB of heap) could outgrow its memory limit and be killed once the
/// heap fills; this caps the heap of small tasks below [`HEAP_PERCENT`].
pub const MIN_NON_HEAP_MIB: u32 = 640;

/// The first release that has `mysql-event-listener.terminate-on-initialization-failure`. Trino 476's
/// `MysqlEventListenerConfig` binds only `mysql-event-listener.db.url`, and a 476 server given the flag
/// refuses to start ("Configuration property 'mysql-event-listener.terminate-on-initialization-failure' was
/// not used", seen on a real 476). Source: trinodb/trino#26252, release notes of 477 ("Ignore startup failure
/// if `mysql-event-listener.terminate-on-initialization-failure` is disabled"), and the property index of
/// 477 in nineinchnick/trino-properties-index (absent from its 476 index).
pub const MYSQL_LISTENER_TERMINATE_FLAG_SINCE: TrinoVersion = TrinoVersion(477);

/// One way the rendered files differ between supported Trino releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionDifference {
    /// The file and the property.
    pub property: &'static str,
    /// The first release rendered the new way.
    pub since: TrinoVersion,
    /// What releases before `since` get, and what `since` and later get.
    pub change: &'static str,
    /// Where the difference was verified.
    pub source: &'static str,
    /// What of it ran on a real Trino server; the rest follows the sources only.
    pub proven: &'static str,
}

/// Every difference between the supported releases ([`TrinoVersion::OLDEST_SUPPORTED`] to
/// [`TrinoVersion::NEWEST_SUPPORTED`]) in what is rendered, with its source. Anything not listed here is
/// rendered the same for every supported release: each property rendered was checked to exist, not
/// deprecated, in every release from 476 to 479 in nineinchnick/trino-properties-index (an index extracted
/// from the release jars) and against the release notes of 480 to 482 for renames and removals.
pub const VERSION_DIFFERENCES: &[VersionDifference] = &[
    VersionDifference {
        property: "catalog/<iceberg catalog>.properties: the native S3 file system switch",
        since: trino_catalogs::render::FS_S3_ENABLED_SINCE,
        change: "`fs.native-s3.enabled=true` before; `fs.s3.enabled=true` from 481, which still reads the old \
                 name as a deprecated legacy name",
        source: "trinodb/trino#29070 (merged by 2026-04-13, after the 480 cut of 2026-03-24 and before the 481 \
                 cut of 2026-05-11; FileSystemConfig: @Config(\"fs.s3.enabled\") \
                 @LegacyConfig(\"fs.native-s3.enabled\"))",
        proven: "476: loads with fs.native-s3.enabled; 481: sources only",
    },
    VersionDifference {
        property: "mysql-event-listener.properties: mysql-event-listener.terminate-on-initialization-failure",
        since: MYSQL_LISTENER_TERMINATE_FLAG_SINCE,
        change: "absent before (476 refuses the property, and already fails start-up when the database is \
                 unreachable); rendered `=true` from 477",
        source: "trinodb/trino#26252; release notes 477; trino-properties-index 476.csv (absent) and 477.csv",
        proven: "476: refuses the property, and fails start-up without the database; 477+: sources only",
    },
];

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
    /// `-Xmx`: [`heap_mib`] of the container memory.
    pub heap_mib: u32,
    /// `query.max-memory-per-node`: 30 % of this node's heap, capped at `query.max-memory`.
    pub query_max_memory_per_node_mib: u32,
    /// `memory.heap-headroom-per-node`: 30 % of this node's heap.
    pub heap_headroom_mib: u32,
    /// `query.max-memory` (cluster-wide): the same on every node, see [`cluster_query_max_memory_mib`].
    pub query_max_memory_mib: u64,
}

/// `-Xmx` for a container of `container_mib`: [`HEAP_PERCENT`] of it (computed without overflowing), but
/// never leaving less than [`MIN_NON_HEAP_MIB`] outside the heap.
pub fn heap_mib(container_mib: u32) -> u32 {
    let share = container_mib / 100 * HEAP_PERCENT + container_mib % 100 * HEAP_PERCENT / 100;
    share.min(container_mib.saturating_sub(MIN_NON_HEAP_MIB))
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

/// The files one node of Trino `version` needs under [`CONFIG_DIR`], by file name (catalogs are separate).
///
/// `node.properties` carries no `node.id`: the container command appends one made from the task's hostname
/// (see `model`), and the text must not even mention it, because the image's `run-trino` greps the file for
/// the pattern `node.id` and adds its own `-Dnode.id=$HOSTNAME` only when it finds nothing.
pub fn render_node(
    config: &LakeConfig,
    role: Role,
    version: TrinoVersion,
) -> BTreeMap<String, String> {
    let c = &config.cluster;
    let coordinator = role == Role::Coordinator;
    let memory = MemoryPlan::for_role(config, role);
    let mut files = BTreeMap::new();

    files.insert(
        "node.properties".to_owned(),
        properties_file(
            Some(&format!(
                "Rendered by trino-ecs-core for Trino {version}; the container command appends this task's \
                 identity."
            )),
            &[
                ("node.environment", config.environment()),
                ("node.data-dir", "/data/trino".to_owned()),
            ],
        ),
    );

    let mut props: Vec<(&str, String)> = Vec::new();
    props.push(("coordinator", coordinator.to_string()));
    if coordinator {
        props.push(("node-scheduler.include-coordinator", "false".to_owned()));
        props.push(("discovery.uri", format!("http://localhost:{HTTP_PORT}")));
    } else {
        props.push((
            "discovery.uri",
            format!("http://{}:{HTTP_PORT}", coordinator_alias(config)),
        ));
    }
    props.push(("http-server.http.port", HTTP_PORT.to_string()));
    props.push((
        "query.max-memory",
        format!("{}MB", memory.query_max_memory_mib),
    ));
    props.push((
        "query.max-memory-per-node",
        format!("{}MB", memory.query_max_memory_per_node_mib),
    ));
    props.push((
        "memory.heap-headroom-per-node",
        format!("{}MB", memory.heap_headroom_mib),
    ));
    props.push((
        "shutdown.grace-period",
        format!("{}s", c.shutdown_grace_period_seconds),
    ));
    props.push((
        "internal-communication.shared-secret",
        format!("${{ENV:{SHARED_SECRET_ENV}}}"),
    ));
    if c.catalog_management == CatalogManagement::Dynamic {
        // Every node needs the dynamic catalog manager: a worker left static fails each task of a catalog
        // made by `CREATE CATALOG` ("Missing catalogs: [CatalogProperties[catalogHandle=...]]" from
        // StaticCatalogManager.ensureCatalogsLoaded, seen on a real 476). The catalog store is the
        // coordinator's alone, and Trino binds its properties on the coordinator only: a worker refuses
        // `catalog.store` and `catalog.config-dir` ("Configuration property ... was not used",
        // trinodb/trino#26443, seen on 476). The coordinator keeps the default `file` store, whose directory
        // defaults to `etc/catalog`, where the container writes the catalog files; since trinodb/trino#23115 a
        // file store is configured in `etc/catalog-store.properties`, so `catalog.config-dir` in
        // config.properties is refused on the coordinator too (seen on 476).
        props.push(("catalog.management", "dynamic".to_owned()));
    }
    if config.event_log.is_some() && coordinator {
        props.push((
            "event-listener.config-files",
            "etc/mysql-event-listener.properties".to_owned(),
        ));
    }
    files.insert(
        "config.properties".to_owned(),
        properties_file(None, &props),
    );

    files.insert("jvm.config".to_owned(), jvm_config(memory.heap_mib));

    files.insert(
        "log.properties".to_owned(),
        properties_file(None, &[("io.trino", "INFO".to_owned())]),
    );

    // The default system access control forbids graceful shutdown; file-based rules allow everything the
    // default allows plus `system_information` writes and catalog ownership (`CREATE CATALOG`, `DROP CATALOG`)
    // for the ops user only (see [`access_rules`]).
    files.insert(
        "access-control.properties".to_owned(),
        properties_file(
            None,
            &[
                ("access-control.name", "file".to_owned()),
                ("security.config-file", "etc/rules.json".to_owned()),
            ],
        ),
    );
    files.insert("rules.json".to_owned(), access_rules());

    if let (Some(log), true) = (&config.event_log, coordinator) {
        files.insert(
            "mysql-event-listener.properties".to_owned(),
            event_listener_properties(log, version),
        );
    }
    files
}

/// `jvm.config` for a heap of `heap_mib`: Trino's recommended options for JDK 24 and 25 (the image of 476
/// ships JDK 24, that of 479 and later JDK 25).
///
/// The heap is given only by `-Xmx`, derived from the task memory: `-XX:MaxRAMPercentage` is ignored once
/// `-Xmx` is set, and `-XX:InitialRAMPercentage` would size the initial heap from the host's memory outside a
/// memory-limited container. The last two options silence the JDK 24+ warnings that Trino's own libraries
/// trigger at every start (JOL's `sun.misc.Unsafe::arrayBaseOffset`, JNA's `System::load`), which JDK 24+
/// prints unless the access is allowed explicitly; both options exist from JDK 23 on.
fn jvm_config(heap_mib: u32) -> String {
    let jvm = [
        "-server".to_owned(),
        format!("-Xmx{heap_mib}M"),
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
        "--enable-native-access=ALL-UNNAMED".to_owned(),
        "--sun-misc-unsafe-memory-access=allow".to_owned(),
    ];
    jvm.join("\n") + "\n"
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
/// A coordinator that cannot reach its event-log database at start-up fails (ECS restarts it; the deployment
/// circuit breaker stops the rollout and rolls back to the previous revision, which reads its own rendered
/// files: they are named by their content, never overwritten) rather than run without recording queries. The event log is the
/// access evidence the lifecycle classifier moves data to colder tiers on; a silent gap makes tables look
/// unused. The listener only creates `trino_queries` at start-up, so after a failed first start that was
/// ignored every event would be lost until the next restart. From 477 on this is said explicitly with
/// `terminate-on-initialization-failure=true` (Trino's default); 476 has no such property, refuses it, and
/// always fails start-up in that case ("Exception in PostConstruct method MysqlEventListener::createTable()",
/// seen on a real 476), see [`MYSQL_LISTENER_TERMINATE_FLAG_SINCE`].
pub fn event_listener_properties(
    log: &crate::config::EventLogConfig,
    version: TrinoVersion,
) -> String {
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
    let mut pairs = vec![
        ("event-listener.name", "mysql".to_owned()),
        ("mysql-event-listener.db.url", format!("{url}{sep}{creds}")),
    ];
    if version >= MYSQL_LISTENER_TERMINATE_FLAG_SINCE {
        pairs.push((
            "mysql-event-listener.terminate-on-initialization-failure",
            "true".to_owned(),
        ));
    }
    properties_file(None, &pairs)
}

/// A `.properties` file through the one escaping path catalogs use ([`trino_catalogs::properties`]): a value
/// holding a line break or a separator stays one value, so no config field can add a property to a file.
fn properties_file(header: Option<&str>, pairs: &[(&str, String)]) -> String {
    trino_catalogs::properties::write_properties(
        header,
        pairs.iter().map(|(k, v)| (*k, v.as_str())),
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

/// `rules.json`. The ops user owns every catalog: `CREATE CATALOG` and `DROP CATALOG` need catalog owner
/// access (FileBasedSystemAccessControl checks AccessMode.OWNER, which `all` does not imply), and
/// `catalog add --live` runs as the ops user. Everyone else may use every catalog but not create or drop one.
///
/// Without `functions` and `procedures` rules Trino lets only `system.builtin` functions run, so JDBC
/// `system.query` pass-through, table functions and Iceberg procedures would be refused to everyone: every
/// user may execute them; only the ops user may grant execution or own (create, drop) functions.
fn access_rules() -> String {
    let rules = serde_json::json!({
        "catalogs": [
            { "user": OPS_USER, "allow": "owner" },
            { "allow": "all" }
        ],
        "functions": [
            { "user": OPS_USER, "privileges": ["EXECUTE", "GRANT_EXECUTE", "OWNERSHIP"] },
            { "privileges": ["EXECUTE"] }
        ],
        "procedures": [
            { "privileges": ["EXECUTE"] }
        ],
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

    /// The files of `role` for the release `config` names.
    fn render(config: &LakeConfig, role: Role) -> BTreeMap<String, String> {
        render_node(
            config,
            role,
            config.trino_version().expect("a supported release"),
        )
    }

    /// Small tasks keep [`MIN_NON_HEAP_MIB`] outside the heap; from 3200 MiB on the heap is 80 %.
    #[test]
    fn heap_of_small_tasks_leaves_room_outside_the_heap() {
        assert_eq!(heap_mib(2048), 1408);
        assert_eq!(heap_mib(3072), 2432);
        assert_eq!(heap_mib(4096), 3276);
        assert_eq!(heap_mib(122880), 98304);
    }

    #[test]
    fn memory_stays_below_heap() {
        for mib in [2048, 4096, 8192, 30720, 122880] {
            for max_workers in [1, 4, 10, 100] {
                let m = MemoryPlan::new(mib, cluster_query_max_memory_mib(mib, max_workers));
                assert_eq!(m.heap_mib, (mib * 8 / 10).min(mib - MIN_NON_HEAP_MIB));
                assert!(mib - m.heap_mib >= MIN_NON_HEAP_MIB, "{mib}: {m:?}");
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
                let files = render(&config, role);
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
        let files = render(&local(), Role::Coordinator);
        insta::assert_snapshot!("coordinator_config", files["config.properties"]);
        insta::assert_snapshot!("coordinator_jvm", files["jvm.config"]);
        insta::assert_snapshot!("coordinator_node", files["node.properties"]);
        insta::assert_snapshot!("event_listener", files["mysql-event-listener.properties"]);
        insta::assert_snapshot!("rules", files["rules.json"]);
        assert_eq!(
            files["access-control.properties"],
            "access-control.name=file\nsecurity.config-file=etc/rules.json\n"
        );
        assert_eq!(files["log.properties"], "io.trino=INFO\n");
    }

    /// The image's `run-trino` runs `grep -s -q 'node.id' node.properties` (a regular expression: `.` is any
    /// character) and adds `-Dnode.id=$HOSTNAME` only when nothing matches; the rendered file must leave that
    /// decision to the container command, which appends a valid id, so it must not match even in a comment.
    #[test]
    fn node_properties_do_not_mention_the_node_id() {
        for role in [Role::Coordinator, Role::Worker] {
            let text = &render(&local(), role)["node.properties"];
            let lower = text.to_ascii_lowercase();
            let matches_grep = lower
                .as_bytes()
                .windows(7)
                .any(|w| &w[..4] == b"node" && &w[5..] == b"id");
            assert!(!matches_grep, "{text}");
        }
    }

    /// airlift refuses a `node.environment` outside `[a-z0-9][_a-z0-9]*` (seen on a real 476 with
    /// `lake-local`): the default made from the cluster name must pass.
    #[test]
    fn default_environment_is_valid_for_airlift() {
        let mut config = local();
        config.cluster.environment = None;
        let text = &render(&config, Role::Worker)["node.properties"];
        assert!(text.contains("\nnode.environment=lake_local\n"), "{text}");
    }

    /// A worker gets `catalog.management=dynamic` (a static worker cannot run a catalog made by `CREATE
    /// CATALOG`) and nothing of the catalog store, which only the coordinator binds; neither role gets
    /// `catalog.config-dir`, which 476 refuses in config.properties on both.
    #[test]
    fn dynamic_catalogs_on_both_roles_and_the_store_on_neither_file() {
        for role in [Role::Coordinator, Role::Worker] {
            let text = &render(&local(), role)["config.properties"];
            assert!(
                text.contains("\ncatalog.management=dynamic\n"),
                "{role:?}: {text}"
            );
            assert!(!text.contains("catalog.store"), "{role:?}: {text}");
            assert!(!text.contains("catalog.config-dir"), "{role:?}: {text}");
        }
    }

    /// Every supported release renders; the event listener's terminate flag appears from 477 on only, and
    /// every other file is the same for all of them.
    #[test]
    fn every_supported_release_renders_and_only_the_listed_differences_differ() {
        let config = local();
        let oldest = render_node(&config, Role::Coordinator, TrinoVersion::OLDEST_SUPPORTED);
        for number in
            TrinoVersion::OLDEST_SUPPORTED.number()..=TrinoVersion::NEWEST_SUPPORTED.number()
        {
            let version = TrinoVersion(number);
            let files = render_node(&config, Role::Coordinator, version);
            let flag = files["mysql-event-listener.properties"]
                .contains("mysql-event-listener.terminate-on-initialization-failure=true\n");
            assert_eq!(
                flag,
                version >= MYSQL_LISTENER_TERMINATE_FLAG_SINCE,
                "{version}"
            );
            for (name, text) in &files {
                if name != "mysql-event-listener.properties" && name != "node.properties" {
                    assert_eq!(text, &oldest[name], "{version}: {name}");
                }
            }
        }
        assert_eq!(VERSION_DIFFERENCES.len(), 2);
        for difference in VERSION_DIFFERENCES {
            assert!(
                difference.since > TrinoVersion::OLDEST_SUPPORTED,
                "{difference:?}"
            );
            assert!(
                difference.since <= TrinoVersion::NEWEST_SUPPORTED,
                "{difference:?}"
            );
        }
    }

    #[test]
    fn worker_files_discover_the_coordinator_alias() {
        let files = render(&local(), Role::Worker);
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
        let files = render(&config, Role::Coordinator);
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
        let files = render(&config, Role::Coordinator);
        assert_eq!(
            files["mysql-event-listener.properties"],
            "event-listener.name=mysql\n\
             mysql-event-listener.db.url=jdbc:mysql://db:3306/events?user=root&password=${ENV:TRINO_EVENT_LOG_PASSWORD}\n"
        );
        let log = config.event_log.as_ref().unwrap();
        assert!(
            event_listener_properties(log, TrinoVersion(477))
                .ends_with("\nmysql-event-listener.terminate-on-initialization-failure=true\n")
        );
    }

    /// A user with URL metacharacters is percent-encoded, and options already in the URL are kept.
    #[test]
    fn event_log_user_is_percent_encoded() {
        let mut config = local();
        let log = config.event_log.as_mut().unwrap();
        log.url = "jdbc:mysql://db:3306/events?useSSL=true".into();
        log.user = "ops&admin#1%+x y=z".into();
        let files = render(&config, Role::Coordinator);
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
