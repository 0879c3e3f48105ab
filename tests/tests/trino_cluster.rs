//! Tests judged by a real Trino 476: the shared local lake that `cargo xtask test` brings up (moto server,
//! MariaDB, PostgreSQL, the lake of `examples/local.toml` deployed into the emulator, and a coordinator and
//! two workers run by the local task runner).
//!
//! They live in one test target so they share that one cluster in one process; each module covers one area.
//! The modules sit inside `trino_cluster` so that `cargo xtask test trino_cluster` (a test-name filter)
//! selects exactly these tests. Every test names its own schemas, tables and catalogs, because the tests run
//! in parallel threads against the same cluster.

mod trino_cluster {
    mod access;
    mod catalog_add;
    mod connectors;
    mod events;
    mod federated;
    mod hot_cold;
}
