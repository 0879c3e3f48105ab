//! `cargo xtask catalog ...`: catalogs in the lake config and in Parameter Store.
//!
//! Definitions come from the lake config (`[catalogs.<name>]`); the store is SSM Parameter Store under
//! `<parameters.prefix>/<cluster.name>/catalogs/`. Secret values are read from the environment variables the
//! definitions name (`{ env = "..." }`) and are never printed: output shows parameter names and `${ENV:...}`
//! references only.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;
use trino_catalogs::probe::{ProbeOptions, probe};
use trino_catalogs::store::{CatalogStore, Layout, resolve_secrets};
use trino_catalogs::{CatalogSpec, SecretValues, check, check_all, render};
use trino_ecs_core::config::LakeConfig;

use crate::common::{Global, sdk_config};

/// `catalog` subcommands.
#[derive(Debug, Subcommand)]
pub enum CatalogCmd {
    /// Validate, probe and publish catalogs from the lake config to Parameter Store.
    Add {
        /// Catalog names from `[catalogs.<name>]`; none: every catalog in the config.
        names: Vec<String>,
        /// Publish without checking connectivity first.
        #[arg(long)]
        no_probe: bool,
        /// After publishing, also run `CREATE CATALOG` on the running cluster at this coordinator URL (needs
        /// `cluster.catalog_management = "dynamic"`), so analysts see the catalog without a restart.
        #[arg(long, value_name = "COORDINATOR_URL")]
        live: Option<String>,
    },
    /// List the catalogs in Parameter Store.
    List,
    /// Show one stored catalog: definition (secrets as parameter names), rendered file, ECS secrets, history.
    Show {
        /// The catalog name.
        name: String,
    },
    /// Remove a catalog and all its parameters from Parameter Store.
    Remove {
        /// The catalog name.
        name: String,
    },
    /// Validate the catalogs of the lake config (no network).
    Validate {
        /// Catalog names; none: all.
        names: Vec<String>,
    },
    /// Write the `.properties` files the containers would get.
    Render {
        /// The directory to write `<name>.properties` into.
        #[arg(long)]
        out: PathBuf,
        /// Render what is in Parameter Store instead of the lake config.
        #[arg(long)]
        from_store: bool,
    },
    /// Import an existing catalog directory (e.g. a copy of `/etc/trino/catalog`) into Parameter Store.
    Import {
        /// The directory holding `<name>.properties` files.
        dir: PathBuf,
        /// Only print what would be published.
        #[arg(long)]
        dry_run: bool,
        /// Publish without checking connectivity first.
        #[arg(long)]
        no_probe: bool,
    },
}

/// Runs a `catalog` subcommand.
pub async fn run(global: &Global, cmd: CatalogCmd) -> anyhow::Result<()> {
    let config = global.load()?;
    // Commands that need no AWS stay offline.
    let needs_aws = !matches!(
        cmd,
        CatalogCmd::Validate { .. }
            | CatalogCmd::Render {
                from_store: false,
                ..
            }
    ) && !matches!(cmd, CatalogCmd::Import { dry_run: true, .. });
    let sdk = if needs_aws {
        Some(sdk_config(&config).await?)
    } else {
        None
    };
    let store: Box<dyn CatalogStore> = match &sdk {
        Some(sdk) => Box::new(crate::cluster::catalog_store(&config, sdk)?),
        None => Box::new(trino_catalogs::store::MemoryCatalogStore::new(layout(
            &config,
        )?)),
    };
    let env = |var: &str| std::env::var(var).ok();
    let out = execute(&config, store.as_ref(), sdk.as_ref(), cmd, &env).await?;
    out!("{out}");
    Ok(())
}

/// The store layout of the config's cluster.
pub fn layout(config: &LakeConfig) -> anyhow::Result<Layout> {
    Ok(Layout::new(
        &config.parameters.prefix,
        &config.cluster.name,
    )?)
}

/// Runs a command against `store` and returns what to print. `env` looks up secret environment variables.
pub async fn execute(
    config: &LakeConfig,
    store: &dyn CatalogStore,
    sdk: Option<&aws_config::SdkConfig>,
    cmd: CatalogCmd,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<String> {
    let mut out = String::new();
    match cmd {
        CatalogCmd::Validate { names } => {
            let chosen = choose(config, &names)?;
            check_all(chosen.iter().map(|(n, s)| (*n, *s)))?;
            for (name, spec) in chosen {
                writeln!(out, "ok  {name} ({})", spec.connector_name())?;
            }
        }
        CatalogCmd::Render {
            out: dir,
            from_store,
        } => {
            let catalogs: Vec<(String, CatalogSpec)> = if from_store {
                store
                    .list()
                    .await?
                    .into_iter()
                    .map(|c| (c.name, c.spec))
                    .collect()
            } else {
                let chosen = choose(config, &[])?;
                check_all(chosen.iter().map(|(n, s)| (*n, *s)))?;
                chosen
                    .into_iter()
                    .map(|(n, s)| (n.to_owned(), s.clone()))
                    .collect()
            };
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            for (name, spec) in &catalogs {
                let r = render(name, spec);
                let path = dir.join(r.file_name());
                std::fs::write(&path, &r.text)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                writeln!(out, "wrote {}", path.display())?;
                for s in store.layout().ecs_secrets(name, spec) {
                    writeln!(out, "  secret env {} <- ssm {}", s.env, s.parameter)?;
                }
            }
        }
        CatalogCmd::Add {
            names,
            no_probe,
            live,
        } => {
            let chosen = choose(config, &names)?;
            check_all(chosen.iter().map(|(n, s)| (*n, *s)))?;
            // Checked before anything is published, so a refused --live leaves the store untouched.
            let live = match live {
                Some(url) => Some(live_client(config, &url)?),
                None => None,
            };
            let mut batch = Vec::new();
            for (name, spec) in chosen {
                let secrets = trino_catalogs::spec::secrets_from(name, spec, env)?;
                batch.push((name.to_owned(), spec.clone(), secrets));
            }
            probe_all(&mut out, store, sdk, &batch, no_probe).await?;
            // Trino judges the catalog before the store holds it: a catalog the cluster refuses is never
            // published, and one whose publication fails is dropped from the cluster again.
            let mut created = Vec::new();
            if let Some(client) = &live {
                let version = config
                    .trino_version()
                    .map_err(|(key, why)| anyhow::anyhow!("`{key}`: {why}"))?;
                let live_batch: Vec<(String, CatalogSpec)> = batch
                    .iter()
                    .map(|(n, s, _)| (n.clone(), s.clone()))
                    .collect();
                created = create_live(&mut out, client, &live_batch, version).await?;
            }
            if let Err(e) = write_all(&mut out, store, batch).await {
                let client = live.as_ref().filter(|_| !created.is_empty());
                if let Some(client) = client {
                    let undone = drop_live(client, &created).await;
                    return Err(
                        e.context(format!("publishing failed after CREATE CATALOG; {undone}"))
                    );
                }
                return Err(e);
            }
        }
        CatalogCmd::Import {
            dir,
            dry_run,
            no_probe,
        } => {
            let files =
                properties_files(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
            anyhow::ensure!(
                !files.is_empty(),
                "{} holds no .properties files",
                dir.display()
            );
            let mut imported = Vec::new();
            for path in &files {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let text = trino_catalogs::properties::decode_file(&bytes);
                let file = path
                    .file_name()
                    .and_then(|f| f.to_str())
                    .unwrap_or_default();
                let i = trino_catalogs::import::import(file, &text)?;
                check(&i.name, &i.spec)
                    .with_context(|| format!("{} imports as an invalid catalog", path.display()))?;
                imported.push(i);
            }
            let mut batch = Vec::new();
            for i in imported {
                if dry_run {
                    writeln!(out, "{}: {}", i.name, serde_json::to_string(&i.spec)?)?;
                    for field in i.secrets.keys() {
                        writeln!(
                            out,
                            "  secret {field}: value found in the file, would be stored as SecureString"
                        )?;
                    }
                    continue;
                }
                // Secrets the file referenced as ${ENV:X} come from this process's environment; literal ones
                // from the file.
                let mut secrets = trino_catalogs::spec::secrets_from(&i.name, &i.spec, |var| {
                    env(var).or_else(|| {
                        i.spec
                            .secret_fields()
                            .iter()
                            .find(|f| matches!(f.source, trino_catalogs::SecretRef::Env(v) if v == var))
                            .and_then(|f| i.secrets.get(&f.field))
                            .map(|v| v.expose().to_owned())
                    })
                })?;
                secrets.extend(i.secrets.clone());
                batch.push((i.name, i.spec, secrets));
            }
            if !dry_run {
                publish(&mut out, store, sdk, batch, no_probe).await?;
            }
        }
        CatalogCmd::List => {
            let catalogs = store.list().await?;
            if catalogs.is_empty() {
                writeln!(out, "no catalogs under {}", store.layout().root())?;
            }
            for c in catalogs {
                writeln!(
                    out,
                    "{:<24} {:<14} v{:<4} {}",
                    c.name,
                    c.spec.connector_name(),
                    c.version,
                    c.modified_epoch_seconds.map(epoch).unwrap_or_default()
                )?;
            }
        }
        CatalogCmd::Show { name } => {
            let c = store
                .get(&name)
                .await?
                .ok_or_else(|| trino_catalogs::Error::NotFound {
                    catalog: name.clone(),
                })?;
            writeln!(
                out,
                "catalog {} (version {}, {})",
                c.name,
                c.version,
                store.layout().spec_parameter(&c.name)
            )?;
            // The stored definition holds secret *references* (parameter names), never values.
            writeln!(
                out,
                "definition: {}",
                serde_json::to_string_pretty(&c.spec)?
            )?;
            let r = render(&c.name, &c.spec);
            writeln!(out, "rendered {}:", r.file_name())?;
            out.push_str(&r.text);
            for s in store.layout().ecs_secrets(&c.name, &c.spec) {
                writeln!(
                    out,
                    "secret env {} <- ssm {} (value redacted)",
                    s.env, s.parameter
                )?;
            }
            writeln!(out, "history:")?;
            for v in store.history(&name).await? {
                writeln!(
                    out,
                    "  v{} {}",
                    v.version,
                    v.modified_epoch_seconds.map(epoch).unwrap_or_default()
                )?;
            }
        }
        CatalogCmd::Remove { name } => {
            if store.delete(&name).await? {
                writeln!(
                    out,
                    "removed {name} and every parameter under {}",
                    store.layout().catalog_path(&name)
                )?;
            } else {
                anyhow::bail!("catalog {name:?} not found under {}", store.layout().root());
            }
        }
    }
    Ok(out)
}

/// A client of the running coordinator for `add --live`, acting as the ops user; refuses a cluster with static
/// catalogs, where `CREATE CATALOG` does not exist.
fn live_client(config: &LakeConfig, url: &str) -> anyhow::Result<trino_client::Client> {
    anyhow::ensure!(
        config.cluster.catalog_management == trino_ecs_core::config::CatalogManagement::Dynamic,
        "--live needs `cluster.catalog_management = \"dynamic\"` in {} (Trino's catalog.management=dynamic); with static catalogs, `cargo xtask deploy` rolls the new catalog out",
        config.source.display()
    );
    Ok(trino_client::Client::builder(url)
        .user(trino_ecs_core::render::OPS_USER)
        .build()?)
}

/// `CREATE CATALOG` on the running cluster for each catalog of the batch it does not have yet, before
/// anything is published; returns the names it created. Trino has no `ALTER CATALOG`: a catalog it already
/// has changes through a deploy, which rolls the services. When Trino refuses one, the ones created before
/// it are dropped again, so the cluster and the store stay as they were.
async fn create_live(
    out: &mut String,
    client: &trino_client::Client,
    batch: &[(String, CatalogSpec)],
    version: trino_catalogs::TrinoVersion,
) -> anyhow::Result<Vec<String>> {
    let existing = trino_ecs_core::live::catalogs(client).await.context(
        "nothing was published: the running cluster could not be asked for its catalogs",
    )?;
    let mut created = Vec::new();
    for (name, spec) in batch {
        if existing.iter().any(|c| c == name) {
            writeln!(
                out,
                "{name}: already on the running cluster; Trino has no ALTER CATALOG, so `cargo xtask deploy` rolls the change out"
            )?;
            continue;
        }
        let properties = trino_catalogs::render_for(name, spec, version).properties;
        if let Err(e) = trino_ecs_core::live::create_catalog(client, name, &properties).await {
            let undone = drop_live(client, &created).await;
            return Err(anyhow::Error::new(e).context(format!(
                "nothing was published: the running cluster refused {name} (CREATE CATALOG); {undone}. A catalog with new secrets needs `cargo xtask deploy` first (the containers get secret variables only through a deployment)"
            )));
        }
        writeln!(
            out,
            "{name}: created on the running cluster (CREATE CATALOG)"
        )?;
        created.push(name.clone());
    }
    Ok(created)
}

/// Drops the catalogs `add --live` created in this run; says what it undid, for the error it is part of.
async fn drop_live(client: &trino_client::Client, created: &[String]) -> String {
    if created.is_empty() {
        return "the cluster is unchanged".to_owned();
    }
    let mut failed = Vec::new();
    for name in created {
        if let Err(e) = trino_ecs_core::live::drop_catalog(client, name).await {
            failed.push(format!("{name} ({e})"));
        }
    }
    if failed.is_empty() {
        format!("dropped {} from the cluster again", created.join(", "))
    } else {
        format!(
            "could not drop {} from the cluster again: DROP CATALOG them by hand",
            failed.join(", ")
        )
    }
}

/// Probes every catalog of the batch (unless `no_probe`), and only when all pass writes them: one unreachable
/// catalog publishes nothing.
async fn publish(
    out: &mut String,
    store: &dyn CatalogStore,
    sdk: Option<&aws_config::SdkConfig>,
    batch: Vec<(String, CatalogSpec, SecretValues)>,
    no_probe: bool,
) -> anyhow::Result<()> {
    probe_all(out, store, sdk, &batch, no_probe).await?;
    write_all(out, store, batch).await
}

/// Probes every catalog of the batch (unless `no_probe`); the first failure ends it before anything is written.
async fn probe_all(
    out: &mut String,
    store: &dyn CatalogStore,
    sdk: Option<&aws_config::SdkConfig>,
    batch: &[(String, CatalogSpec, SecretValues)],
    no_probe: bool,
) -> anyhow::Result<()> {
    for (name, spec, env_secrets) in batch {
        if no_probe {
            writeln!(out, "{name}: probe skipped (--no-probe)")?;
            continue;
        }
        let secrets = resolve_secrets(name, spec, env_secrets, store).await?;
        let report = probe(name, spec, &secrets, sdk, &ProbeOptions::default())
            .await
            .with_context(|| {
                format!("nothing was published: {name} failed its probe (use --no-probe to publish anyway)")
            })?;
        for check in &report.checks {
            writeln!(out, "{name}: {check}")?;
        }
        if let Some(v) = &report.server_version {
            writeln!(out, "{name}: server version {v}")?;
        }
    }
    Ok(())
}

/// Writes every catalog of the batch to the store.
async fn write_all(
    out: &mut String,
    store: &dyn CatalogStore,
    batch: Vec<(String, CatalogSpec, SecretValues)>,
) -> anyhow::Result<()> {
    for (name, spec, env_secrets) in &batch {
        let report = store.put(name, spec, env_secrets).await?;
        writeln!(
            out,
            "{name}: published version {} ({} written, {} unchanged, {} removed)",
            report.version,
            report.written.len(),
            report.unchanged.len(),
            report.removed.len()
        )?;
        for p in report.written {
            writeln!(out, "  wrote {p}")?;
        }
    }
    Ok(())
}

fn epoch(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn choose<'a>(
    config: &'a LakeConfig,
    names: &[String],
) -> anyhow::Result<Vec<(&'a str, &'a CatalogSpec)>> {
    if names.is_empty() {
        return Ok(config
            .catalogs
            .iter()
            .map(|(n, s)| (n.as_str(), s))
            .collect());
    }
    names
        .iter()
        .map(|n| {
            config
                .catalogs
                .get_key_value(n)
                .map(|(k, s)| (k.as_str(), s))
                .ok_or_else(|| anyhow::anyhow!("no [catalogs.{n}] in {}", config.source.display()))
        })
        .collect()
}

/// The `.properties` files of a directory, for tests and callers that want the same listing as `import`.
pub fn properties_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "properties"))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use trino_catalogs::store::MemoryCatalogStore;

    const SECRET: &str = "s3cr3t-value-that-must-never-print";

    fn config(dir: &Path) -> LakeConfig {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/lake.toml"),
        )
        .unwrap();
        LakeConfig::parse(&dir.join("lake.toml"), &text).unwrap()
    }

    /// Base64 of a JSON text, as Trino's `gsheets.credentials-key` wants it.
    fn base64_json(json: &str) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-catalog-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A finished query page with `data` under one varchar column (the shape of `SHOW CATALOGS`).
    fn finished_page(data: serde_json::Value) -> trino_client::replay::Script {
        trino_client::replay::Script::new().page(serde_json::json!({
            "id": "20261126_000000_00000_live0", "data": data,
            "columns": [{"name": "Catalog", "type": "varchar(6)",
                "typeSignature": {"rawType": "varchar", "arguments": []}}],
            "stats": {"state": "FINISHED"}
        }))
    }

    /// `catalog add NAMES --live URL --no-probe`.
    async fn add_live(
        config: &LakeConfig,
        store: &MemoryCatalogStore,
        names: &[&str],
        url: String,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<String> {
        execute(
            config,
            store,
            None,
            CatalogCmd::Add {
                names: names.iter().map(|n| (*n).to_owned()).collect(),
                no_probe: true,
                live: Some(url),
            },
            env,
        )
        .await
    }

    /// `add --live` publishes, then creates on the running cluster only the catalogs it does not have yet, with
    /// secrets as `${ENV:...}` references in the statement; with static catalogs it refuses before publishing.
    #[tokio::test]
    async fn add_live_creates_missing_catalogs_on_the_running_cluster() {
        use trino_client::replay::ReplayServer;
        let dir = scratch("live");
        let mut config = config(&dir);
        let store = MemoryCatalogStore::new(layout(&config).unwrap());
        let env = |var: &str| var.ends_with("PASSWORD").then(|| SECRET.to_owned());
        let lake = &config.catalogs["lake"];
        let create =
            trino_ecs_core::live::create_catalog_sql("lake", &render("lake", lake).properties)
                .unwrap();
        let server = ReplayServer::start().await.unwrap();
        server.add_query(
            "SHOW CATALOGS",
            finished_page(serde_json::json!([["crm"], ["system"]])),
        );
        server.add_query(&create, finished_page(serde_json::Value::Null));

        let out = add_live(&config, &store, &["lake", "crm"], server.url(), &env)
            .await
            .unwrap();
        assert!(
            out.contains("lake: created on the running cluster (CREATE CATALOG)"),
            "{out}"
        );
        assert!(out.contains("crm: already on the running cluster"), "{out}");
        assert!(!out.contains(SECRET), "{out}");
        let statements: Vec<String> = server
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST")
            .map(|r| {
                assert_eq!(
                    r.header("x-trino-user"),
                    Some(trino_ecs_core::render::OPS_USER)
                );
                r.body
            })
            .collect();
        assert_eq!(statements, ["SHOW CATALOGS".to_owned(), create.clone()]);
        assert!(
            create.starts_with("CREATE CATALOG \"lake\" USING iceberg WITH ("),
            "{create}"
        );
        assert_eq!(store.list().await.unwrap().len(), 2, "both were published");

        // Static catalogs: refused before anything is published.
        config.cluster.catalog_management = trino_ecs_core::config::CatalogManagement::Static;
        let empty = MemoryCatalogStore::new(layout(&config).unwrap());
        let err = add_live(&config, &empty, &["lake"], server.url(), &env)
            .await
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("catalog_management = \"dynamic\""),
            "{err:#}"
        );
        assert!(empty.list().await.unwrap().is_empty(), "nothing published");
    }

    /// When Trino refuses the second catalog of a batch, `add --live` drops the first one it created again
    /// and publishes nothing: the store and the cluster stay as they were.
    #[tokio::test]
    async fn add_live_refused_by_trino_publishes_nothing_and_undoes_what_it_created() {
        use trino_client::replay::{ReplayServer, Script};
        let dir = scratch("live-refused");
        let config = config(&dir);
        let store = MemoryCatalogStore::new(layout(&config).unwrap());
        let env = |var: &str| var.ends_with("PASSWORD").then(|| SECRET.to_owned());
        let version = config.trino_version().unwrap();
        let sql = |name: &str| {
            let spec = &config.catalogs[name];
            trino_ecs_core::live::create_catalog_sql(
                name,
                &trino_catalogs::render_for(name, spec, version).properties,
            )
            .unwrap()
        };
        let server = ReplayServer::start().await.unwrap();
        server.add_query(
            "SHOW CATALOGS",
            finished_page(serde_json::json!([["system"]])),
        );
        server.add_query(&sql("lake"), finished_page(serde_json::Value::Null));
        server.add_query(
            &sql("crm"),
            Script::new().page(serde_json::json!({
                "id": "20261202_000000_00000_live2",
                "stats": {"state": "FAILED"},
                "error": {"message": "Configuration property 'postgresql.bogus' was not used",
                    "errorCode": 65536, "errorName": "GENERIC_INTERNAL_ERROR",
                    "errorType": "INTERNAL_ERROR"}
            })),
        );
        server.add_query(
            "DROP CATALOG IF EXISTS \"lake\"",
            finished_page(serde_json::Value::Null),
        );

        let err = add_live(&config, &store, &["lake", "crm"], server.url(), &env)
            .await
            .unwrap_err();
        let err = format!("{err:#}");
        assert!(err.contains("nothing was published"), "{err}");
        assert!(err.contains("refused crm"), "{err}");
        assert!(err.contains("postgresql.bogus"), "{err}");
        assert!(err.contains("dropped lake from the cluster again"), "{err}");
        assert!(!err.contains(SECRET), "{err}");
        let statements: Vec<String> = server
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST")
            .map(|r| r.body)
            .collect();
        assert_eq!(
            statements,
            [
                "SHOW CATALOGS".to_owned(),
                sql("lake"),
                sql("crm"),
                "DROP CATALOG IF EXISTS \"lake\"".to_owned()
            ]
        );
        assert!(store.list().await.unwrap().is_empty(), "nothing published");
    }

    /// Every command's output and every rendered file is free of the secret values.
    #[tokio::test]
    async fn no_secret_value_is_ever_printed_or_rendered() {
        let dir = scratch("nosecret");
        let config = config(&dir);
        let store = MemoryCatalogStore::new(layout(&config).unwrap());
        // The referenced Redshift password lives in SSM already, as the example config says.
        store.put_raw("/trino/lake/secrets/redshift", SECRET, true);
        let env = |var: &str| {
            var.ends_with("PASSWORD")
                .then(|| SECRET.to_owned())
                .or_else(|| (var == "GSHEETS_CREDENTIALS_KEY").then(|| SECRET.to_owned()))
        };
        let mut all = String::new();
        let cmds = vec![
            CatalogCmd::Validate { names: vec![] },
            CatalogCmd::Add {
                names: vec![],
                no_probe: true,
                live: None,
            },
            CatalogCmd::Add {
                names: vec![],
                no_probe: true,
                live: None,
            },
            CatalogCmd::List,
            CatalogCmd::Show {
                name: "orders".into(),
            },
            CatalogCmd::Show {
                name: "sheets".into(),
            },
            CatalogCmd::Show {
                name: "warehouse".into(),
            },
            CatalogCmd::Render {
                out: dir.join("from-config"),
                from_store: false,
            },
            CatalogCmd::Render {
                out: dir.join("from-store"),
                from_store: true,
            },
            CatalogCmd::Import {
                dir: dir.join("from-store"),
                dry_run: true,
                no_probe: true,
            },
        ];
        for cmd in cmds {
            all.push_str(&execute(&config, &store, None, cmd, &env).await.unwrap());
        }
        assert!(!all.contains(SECRET), "a secret value was printed:\n{all}");
        assert!(
            all.contains("orders: published version 1 (2 written"),
            "{all}"
        );
        assert!(
            all.contains("orders: published version 1 (0 written, 2 unchanged"),
            "second add is a no-op:\n{all}"
        );
        assert!(all.contains("secret env TRINO_CATALOG_ORDERS_PASSWORD <- ssm /trino/lake/catalogs/orders/secrets/password"));
        for sub in ["from-config", "from-store"] {
            let files = properties_files(&dir.join(sub)).unwrap();
            assert_eq!(files.len(), 5, "{sub}: {files:?}");
            for f in files {
                let text = std::fs::read_to_string(&f).unwrap();
                assert!(!text.contains(SECRET), "{} holds a secret", f.display());
            }
        }
        // The secret is in the store, where it belongs.
        let stored = store
            .read_secret("/trino/lake/catalogs/orders/secrets/password")
            .await
            .unwrap();
        assert_eq!(stored.expose(), SECRET);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn import_lifts_literal_passwords_into_the_store() {
        let dir = scratch("import");
        let config = config(&dir);
        let store = MemoryCatalogStore::new(layout(&config).unwrap());
        let catalogs = dir.join("catalog");
        std::fs::create_dir_all(&catalogs).unwrap();
        std::fs::write(
            catalogs.join("legacy.properties"),
            format!("connector.name=mysql\nconnection-url=jdbc:mysql://db:3306\nconnection-user=ro\nconnection-password={SECRET}\n"),
        )
        .unwrap();
        let env = |_: &str| None;
        let dry = execute(
            &config,
            &store,
            None,
            CatalogCmd::Import {
                dir: catalogs.clone(),
                dry_run: true,
                no_probe: true,
            },
            &env,
        )
        .await
        .unwrap();
        assert!(
            !dry.contains(SECRET) && dry.contains("secret password: value found in the file"),
            "{dry}"
        );
        assert!(
            store.list().await.unwrap().is_empty(),
            "a dry run writes nothing"
        );
        let out = execute(
            &config,
            &store,
            None,
            CatalogCmd::Import {
                dir: catalogs,
                dry_run: false,
                no_probe: true,
            },
            &env,
        )
        .await
        .unwrap();
        assert!(!out.contains(SECRET), "{out}");
        let show = execute(
            &config,
            &store,
            None,
            CatalogCmd::Show {
                name: "legacy".into(),
            },
            &env,
        )
        .await
        .unwrap();
        assert!(
            !show.contains(SECRET)
                && show.contains("connection-password=${ENV:TRINO_CATALOG_LEGACY_PASSWORD}"),
            "{show}"
        );
        assert_eq!(
            store
                .read_secret("/trino/lake/catalogs/legacy/secrets/password")
                .await
                .unwrap()
                .expose(),
            SECRET
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn add_probes_first_and_publishes_nothing_when_the_probe_fails() {
        let dir = scratch("probe");
        let mut config = config(&dir);
        // A MySQL catalog at a port where nothing listens.
        config.catalogs.insert(
            "dead".into(),
            serde_json::from_str(
                r#"{"connector":"mysql","url":"jdbc:mysql://127.0.0.1:1","user":"ro"}"#,
            )
            .unwrap(),
        );
        let store = MemoryCatalogStore::new(layout(&config).unwrap());
        // `sheets` (first in the batch) probes fine offline with a well-formed service-account key.
        let key = base64_json(
            r#"{"type":"service_account","project_id":"p","private_key_id":"k",
            "private_key":"-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----\n",
            "client_email":"svc@p.iam.gserviceaccount.com","token_uri":"https://oauth2.googleapis.com/token"}"#,
        );
        let env = move |var: &str| (var == "GSHEETS_CREDENTIALS_KEY").then(|| key.clone());
        let ok = execute(
            &config,
            &store,
            None,
            CatalogCmd::Add {
                names: vec!["sheets".into()],
                no_probe: false,
                live: None,
            },
            &env,
        )
        .await
        .unwrap();
        assert!(ok.contains("sheets: gsheets: service-account key for svc@p.iam.gserviceaccount.com is well formed"), "{ok}");
        store.delete("sheets").await.unwrap();
        let err = execute(
            &config,
            &store,
            None,
            CatalogCmd::Add {
                names: vec!["sheets".into(), "dead".into()],
                no_probe: false,
                live: None,
            },
            &env,
        )
        .await
        .unwrap_err();
        assert!(
            store.get("sheets").await.unwrap().is_none(),
            "one failed probe publishes nothing"
        );
        let chain = format!("{err:#}");
        assert!(
            chain.contains("tcp: connection to 127.0.0.1:1 refused")
                && chain.contains("nothing was published"),
            "{chain}"
        );
        assert!(store.get("dead").await.unwrap().is_none());
        let removed = execute(
            &config,
            &store,
            None,
            CatalogCmd::Remove {
                name: "dead".into(),
            },
            &env,
        )
        .await;
        assert!(removed.is_err(), "removing a missing catalog is an error");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
