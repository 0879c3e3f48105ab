//! The connectors: the lake's own catalogs answer, and catalogs rendered by trino-catalogs for the connectors
//! the lake cannot run locally (Redshift, Google Sheets) are accepted by `CREATE CATALOG` on the live cluster.

use std::collections::BTreeMap;

use lake_tests::trino::{self, unique_ident};
use trino_catalogs::spec::{RedshiftCatalog, SheetsCatalog};
use trino_catalogs::{CatalogSpec, SecretRef};

/// `SHOW CATALOGS` lists the lake's catalogs, and each of them reaches its own backend: a schema created
/// through Trino in Glue (Iceberg), MariaDB (MySQL) and PostgreSQL is listed back by `SHOW SCHEMAS`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lake_catalogs_are_listed_and_each_reaches_its_backend() {
    let client = trino::client("lake-tests-connectors");
    let catalogs = trino::catalogs(&client).await;
    // The image's demo catalogs (tpch and others) may be there too for now; only what must be there is checked.
    for name in ["lake", "sales", "crm", "system"] {
        assert!(
            catalogs.iter().any(|c| c == name),
            "SHOW CATALOGS lacks {name}: {catalogs:?}"
        );
    }

    let config = trino::local_config();
    let warehouse = match &config.catalogs["lake"] {
        CatalogSpec::Iceberg(i) => i.warehouse.trim_end_matches('/').to_owned(),
        other => panic!("catalog lake is not Iceberg: {other:?}"),
    };
    let schema = unique_ident("conn");
    let create = [
        format!("CREATE SCHEMA lake.{schema} WITH (location = '{warehouse}/{schema}')"),
        format!("CREATE SCHEMA sales.{schema}"),
        format!("CREATE SCHEMA crm.{schema}"),
    ];
    trino::run_all(&client, &create).await;
    let mut listed = BTreeMap::new();
    for catalog in ["lake", "sales", "crm"] {
        let result = trino::run(&client, &format!("SHOW SCHEMAS FROM {catalog}")).await;
        listed.insert(catalog, trino::strings(&result, 0));
    }
    trino::run_best_effort(
        &client,
        &["lake", "sales", "crm"].map(|c| format!("DROP SCHEMA {c}.{schema}")),
    )
    .await;

    for (catalog, schemas) in &listed {
        assert!(
            schemas.contains(&schema),
            "SHOW SCHEMAS FROM {catalog} lacks the schema just created, {schema}: {schemas:?}"
        );
        assert!(
            schemas.iter().any(|s| s == "information_schema"),
            "SHOW SCHEMAS FROM {catalog}: {schemas:?}"
        );
    }
    // Each backend's own schemas prove which server answered: PostgreSQL's `public`, and MariaDB's event-log
    // database, which the MySQL event listener writes into.
    assert!(
        listed["crm"].iter().any(|s| s == "public"),
        "{:?}",
        listed["crm"]
    );
    assert!(
        listed["sales"].iter().any(|s| s == "trino_events"),
        "{:?}",
        listed["sales"]
    );
}

/// The catalog rendered for the Trino release the shared cluster runs (the tag of the config's image), as a
/// deploy renders it.
fn render_for_the_cluster(name: &str, spec: &CatalogSpec) -> trino_catalogs::Rendered {
    let version = trino::local_config()
        .trino_version()
        .unwrap_or_else(|e| panic!("the effective config names no supported Trino release: {e:?}"));
    trino_catalogs::render::render_for(name, spec, version)
}

/// The PostgreSQL database name of the harness (`dbname=` of `LAKE_TEST_POSTGRES_URL`).
fn postgres_database() -> String {
    lake_tests::postgres_url()
        .split_whitespace()
        .find_map(|pair| pair.strip_prefix("dbname="))
        .unwrap_or("postgres")
        .to_owned()
}

/// A Redshift catalog rendered by trino-catalogs for the harness PostgreSQL with `sslmode`: created live
/// on the running cluster, it reads through the Redshift JDBC driver (`SELECT` on a table written through
/// the PostgreSQL catalog) as far as vanilla PostgreSQL lets it.
fn redshift_spec(tls: &str) -> CatalogSpec {
    CatalogSpec::Redshift(RedshiftCatalog {
        url: format!(
            "jdbc:redshift://{}/{}?{tls}",
            lake_tests::postgres_addr(),
            postgres_database()
        ),
        user: "postgres".into(),
        password: None,
        unload_location: None,
        unload_iam_role: None,
        properties: BTreeMap::new(),
    })
}

/// Creates the catalog on the running cluster, reads `table` through it, drops it; returns the read.
async fn read_through_redshift(
    tls: &str,
    table: &str,
) -> Result<trino_client::QueryResult, trino_client::Error> {
    let name = unique_ident("rs");
    let spec = redshift_spec(tls);
    trino_catalogs::check(&name, &spec).expect("the Redshift catalog passes the tool's validation");
    let rendered = render_for_the_cluster(&name, &spec);
    let ops = trino::ops_client();
    trino_ecs_core::live::create_catalog(&ops, &name, &rendered.properties)
        .await
        .unwrap_or_else(|e| panic!("CREATE CATALOG {name} (redshift, {tls}) was refused: {e}"));
    let catalogs = trino::catalogs(&ops).await;
    let read = trino::client("lake-tests-redshift")
        .fetch_all(&format!(
            "SELECT id, region FROM {name}.{table} ORDER BY id"
        ))
        .await;
    trino::run_best_effort(&ops, &[format!("DROP CATALOG {name}")]).await;
    assert!(
        catalogs.contains(&name),
        "SHOW CATALOGS lacks {name}: {catalogs:?}"
    );
    read
}

/// What the Redshift driver can show against PostgreSQL, which stands in for Redshift here: Trino accepts
/// the rendered catalog (CREATE CATALOG on the running cluster), and a read gets through the driver's
/// default certificate verification (`sslmode=verify-ca`, the harness's self-signed certificate given as
/// `sslrootcert`, as a team whose Redshift presents a private CA would) to PostgreSQL's login, which then
/// refuses the Redshift-only startup parameter `driver_version` -- vanilla PostgreSQL refuses unknown startup
/// parameters, so no row can be read; real Redshift accepts it. Without `sslrootcert` the same read fails in
/// the TLS handshake (PKIX), which shows the certificate really was verified. A server given without its CA
/// is reached with `ssl=false` and shows the same login answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rendered_redshift_catalog_is_accepted_and_its_driver_reaches_postgresql_over_verified_tls()
 {
    let client = trino::client("lake-tests-redshift");
    let schema = unique_ident("rs");
    trino::run_all(
        &client,
        &[
            format!("CREATE SCHEMA crm.{schema}"),
            format!(
                "CREATE TABLE crm.{schema}.accounts AS SELECT * FROM (VALUES (BIGINT '1', 'north'), (BIGINT '2', 'south')) AS t(id, region)"
            ),
        ],
    )
    .await;
    let table = format!("{schema}.accounts");
    let ca = lake_tests::postgres_ca();
    let tls = match &ca {
        Some(ca) => format!("sslmode=verify-ca&sslrootcert={}", ca.display()),
        None => "ssl=false".to_owned(),
    };
    let verified = read_through_redshift(&tls, &table).await;
    let unverified = match &ca {
        Some(_) => Some(read_through_redshift("sslmode=verify-ca", &table).await),
        None => None,
    };
    trino::run_best_effort(
        &client,
        &[
            format!("DROP TABLE crm.{schema}.accounts"),
            format!("DROP SCHEMA crm.{schema}"),
        ],
    )
    .await;

    let login_refused = |read: &Result<trino_client::QueryResult, trino_client::Error>| match read {
        Err(e) => e.to_string(),
        Ok(rows) => format!("rows {:?}", rows.rows),
    };
    let answer = login_refused(&verified);
    assert!(
        answer.contains("unrecognized configuration parameter \"driver_version\""),
        "the Redshift driver ({tls}) must get through TLS to PostgreSQL's login, which refuses only the \
         Redshift startup parameter; Trino answered: {answer}"
    );
    if let Some(unverified) = unverified {
        let answer = login_refused(&unverified);
        assert!(
            answer.contains("PKIX"),
            "without sslrootcert the driver must refuse the self-signed certificate; Trino answered: {answer}"
        );
    }
}

/// A throwaway RSA key in PKCS#8 PEM, generated now: a syntactically valid service-account key that grants
/// nothing anywhere.
fn throwaway_rsa_key_pem() -> String {
    let output = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run openssl to generate a throwaway RSA key (install openssl): {e}")
        });
    assert!(
        output.status.success(),
        "openssl genpkey failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let pem = String::from_utf8(output.stdout).expect("PEM is ASCII");
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "not PKCS#8");
    pem
}

/// A Google Sheets catalog rendered by trino-catalogs, with a syntactically valid dummy service-account key, is
/// accepted by `CREATE CATALOG` and listed. Nothing is queried: that would need Google.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rendered_google_sheets_catalog_is_created_live() {
    use base64::Engine as _;
    let name = unique_ident("sheets");
    let spec = CatalogSpec::Gsheets(SheetsCatalog {
        credentials_key: SecretRef::Env("LAKE_TESTS_UNUSED_SHEETS_KEY".into()),
        metadata_sheet_id: "1aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789_-abcd".into(),
        data_cache_ttl: Some("5m".into()),
        properties: BTreeMap::new(),
    });
    trino_catalogs::check(&name, &spec).expect("the Sheets catalog passes the tool's validation");
    let rendered = render_for_the_cluster(&name, &spec);
    let key_env = &rendered.secrets[0];
    assert_eq!(key_env.property, "gsheets.credentials-key");

    let service_account = serde_json::json!({
        "type": "service_account",
        "project_id": "lake-tests",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": throwaway_rsa_key_pem(),
        "client_email": "lake-tests@lake-tests.iam.gserviceaccount.com",
        "client_id": "123456789012345678901",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
    });
    let key = base64::engine::general_purpose::STANDARD.encode(service_account.to_string());
    // The rendered file references the key as `${ENV:...}`, which a container gets from a deployment; the
    // shared cluster's processes started long ago, so the throwaway key goes into the statement instead.
    let properties: Vec<(String, String)> = rendered
        .properties
        .iter()
        .map(|(k, v)| {
            if k == &key_env.property {
                assert_eq!(v, &format!("${{ENV:{}}}", key_env.env));
                (k.clone(), key.clone())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    assert!(
        properties
            .iter()
            .any(|(k, v)| k == "gsheets.metadata-sheet-id" && v.starts_with("1aBc")),
        "{properties:?}"
    );

    let ops = trino::ops_client();
    let created = trino_ecs_core::live::create_catalog(&ops, &name, &properties).await;
    let catalogs = trino::catalogs(&ops).await;
    trino::run_best_effort(&ops, &[format!("DROP CATALOG {name}")]).await;
    created.unwrap_or_else(|e| panic!("CREATE CATALOG {name} (gsheets) was refused: {e}"));
    assert!(
        catalogs.contains(&name),
        "SHOW CATALOGS lacks {name}: {catalogs:?}"
    );
}
