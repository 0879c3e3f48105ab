//! Connectivity probes against real MariaDB and PostgreSQL on loopback and Glue/S3 in the AWS emulator:
//! each failure class a loopback setup can produce is produced and recognised.

use std::collections::BTreeMap;
use std::time::Duration;

use mysql_async::prelude::Queryable as _;
use trino_catalogs::probe::{ProbeFailure, ProbeOptions, ProbeReport, probe};
use trino_catalogs::spec::{IcebergCatalog, JdbcCatalog};
use trino_catalogs::{CatalogSpec, Error, SecretRef, SecretValue, SecretValues};

fn jdbc(url: &str, user: &str, password: bool) -> JdbcCatalog {
    JdbcCatalog {
        url: url.into(),
        user: user.into(),
        password: password.then(|| SecretRef::Env("PROBE_PW".into())),
        properties: BTreeMap::new(),
    }
}

fn pw(v: &str) -> SecretValues {
    [("password".to_owned(), SecretValue::new(v))].into()
}

async fn run(spec: &CatalogSpec, secrets: &SecretValues) -> Result<ProbeReport, ProbeFailure> {
    let options = ProbeOptions {
        timeout: Duration::from_secs(5),
    };
    match probe("probe_test", spec, secrets, None, &options).await {
        Ok(r) => Ok(r),
        Err(Error::Probe { failure, .. }) => Err(failure),
        Err(other) => panic!("not a probe failure: {other}"),
    }
}

#[tokio::test]
async fn mysql_probe_classifies_failures() {
    // The harness's MariaDB listens on a port of its own choosing.
    let mysql = lake_tests::mysql_addr();
    // A user with a password, so that a wrong password is a real authentication failure.
    let user = lake_tests::unique_name("cat").replace('-', "_");
    let mut root = mysql_async::Conn::new(
        mysql_async::OptsBuilder::from_opts(
            mysql_async::Opts::from_url(&lake_tests::mysql_url()).expect("LAKE_TEST_MYSQL_URL"),
        )
        .prefer_socket(false),
    )
    .await
    .expect("root login to MariaDB");
    root.query_drop(format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'right-pw'"))
        .await
        .unwrap();
    root.query_drop(format!(
        "CREATE USER '{user}'@'localhost' IDENTIFIED BY 'right-pw'"
    ))
    .await
    .unwrap();
    root.query_drop(format!(
        "GRANT SELECT ON test.* TO '{user}'@'%', '{user}'@'localhost'"
    ))
    .await
    .unwrap();

    // Trino's MySQL connector takes no database in the URL (each database is a schema of the catalog).
    let ok = run(
        &CatalogSpec::Mysql(jdbc(&format!("jdbc:mysql://{mysql}"), &user, true)),
        &pw("right-pw"),
    )
    .await
    .expect("the right password works");
    assert!(
        ok.server_version.as_deref().unwrap().contains("MariaDB"),
        "{ok:?}"
    );
    assert!(ok.checks[0].contains("SELECT 1 ok"));
    // Connector/J's default sslMode=PREFERRED: this MariaDB offers no TLS, so the session is plaintext.
    assert!(
        ok.checks[0].contains("plaintext (the server offers no tls)"),
        "{ok:?}"
    );

    // A URL naming a database is refused before connecting, as Trino would refuse to start the catalog.
    let named = run(
        &CatalogSpec::Mysql(jdbc(&format!("jdbc:mysql://{mysql}/test"), "root", false)),
        &SecretValues::new(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&named, ProbeFailure::InvalidDefinition { reason }
            if reason.contains("names database \"test\"")
                && reason.contains("Database (catalog) must not be specified")),
        "{named:?}"
    );

    let wrong = run(
        &CatalogSpec::Mysql(jdbc(&format!("jdbc:mysql://{mysql}"), &user, true)),
        &pw("wrong-pw"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&wrong, ProbeFailure::Auth { user: u, .. } if *u == user),
        "{wrong:?}"
    );
    assert!(
        !wrong.to_string().contains("wrong-pw"),
        "the password never appears: {wrong}"
    );

    // (A missing database cannot happen for MySQL: the URL names none. PostgreSQL covers that class.)

    let refused = run(
        &CatalogSpec::Mysql(jdbc("jdbc:mysql://127.0.0.1:1", "root", false)),
        &SecretValues::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        refused,
        ProbeFailure::TcpRefused {
            addr: "127.0.0.1:1".into()
        }
    );

    let dns = run(
        &CatalogSpec::Mysql(jdbc("jdbc:mysql://nonexistent.invalid:3306", "root", false)),
        &SecretValues::new(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&dns, ProbeFailure::Dns { host, .. } if host == "nonexistent.invalid"),
        "{dns:?}"
    );

    // This MariaDB has TLS disabled: a URL that requires TLS (verifying or not) must fail as TLS, not as
    // something vaguer, while sslMode=DISABLED logs in.
    for url in [
        &format!("jdbc:mysql://{mysql}?sslMode=REQUIRED"),
        &format!("jdbc:mysql://{mysql}?useSSL=true&requireSSL=true"),
        &format!("jdbc:mysql://{mysql}?sslMode=VERIFY_CA"),
        &format!("jdbc:mysql://{mysql}?sslMode=VERIFY_IDENTITY"),
    ] {
        let tls = run(
            &CatalogSpec::Mysql(jdbc(url, "root", false)),
            &SecretValues::new(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&tls, ProbeFailure::Tls { detail } if detail.contains("does not offer")),
            "{url}: {tls:?}"
        );
    }
    let plain = run(
        &CatalogSpec::Mysql(jdbc(
            &format!("jdbc:mysql://{mysql}?sslMode=DISABLED"),
            "root",
            false,
        )),
        &SecretValues::new(),
    )
    .await
    .expect("sslMode=DISABLED logs in");
    assert!(plain.checks[0].contains("(plaintext)"), "{plain:?}");

    let no_secret = run(
        &CatalogSpec::Mysql(jdbc(&format!("jdbc:mysql://{mysql}"), &user, true)),
        &SecretValues::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        no_secret,
        ProbeFailure::MissingSecret {
            field: "password".into()
        }
    );

    root.query_drop(format!("DROP USER '{user}'@'%', '{user}'@'localhost'"))
        .await
        .unwrap();
    root.disconnect().await.unwrap();
}

#[tokio::test]
async fn postgres_and_redshift_probes_classify_failures() {
    // The harness's PostgreSQL listens on a port of its own choosing.
    let pg_addr = lake_tests::postgres_addr();
    let pg_port = pg_addr
        .rsplit_once(':')
        .map(|(_, port)| port.to_owned())
        .unwrap();
    let ok = run(
        &CatalogSpec::Postgresql(jdbc(
            &format!("jdbc:postgresql://{pg_addr}/test"),
            "postgres",
            false,
        )),
        &SecretValues::new(),
    )
    .await
    .expect("postgres login");
    assert!(
        ok.server_version
            .as_deref()
            .unwrap()
            .starts_with("PostgreSQL"),
        "{ok:?}"
    );

    // Redshift speaks the PostgreSQL protocol: the redshift probe path works against PostgreSQL.
    let rs = trino_catalogs::spec::RedshiftCatalog {
        url: format!("jdbc:redshift://{pg_addr}/test?ssl=false"),
        user: "postgres".into(),
        password: None,
        unload_location: None,
        unload_iam_role: None,
        properties: BTreeMap::new(),
    };
    let ok = run(&CatalogSpec::Redshift(rs), &SecretValues::new())
        .await
        .expect("redshift path login");
    assert!(
        ok.checks[0].starts_with(&format!("redshift {pg_addr}")),
        "{ok:?}"
    );

    let missing = lake_tests::unique_name("nodb").replace('-', "_");
    let db = run(
        &CatalogSpec::Postgresql(jdbc(
            &format!("jdbc:postgresql://{pg_addr}/{missing}"),
            "postgres",
            false,
        )),
        &SecretValues::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(db, ProbeFailure::UnknownDatabase { database: missing });

    // Trust authentication accepts any password, but not a role that does not exist.
    let role = lake_tests::unique_name("norole").replace('-', "_");
    let auth = run(
        &CatalogSpec::Postgresql(jdbc(
            &format!("jdbc:postgresql://{pg_addr}/test"),
            &role,
            true,
        )),
        &pw("x"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&auth, ProbeFailure::Auth { user, .. } if *user == role),
        "{auth:?}"
    );

    let refused = run(
        &CatalogSpec::Postgresql(jdbc(
            "jdbc:postgresql://127.0.0.1:1/test",
            "postgres",
            false,
        )),
        &SecretValues::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        refused,
        ProbeFailure::TcpRefused {
            addr: "127.0.0.1:1".into()
        }
    );

    // This PostgreSQL serves TLS with the self-signed "snakeoil" certificate for DNS name localhost. The probe
    // checks the certificate exactly as far as the driver would: pgjdbc's sslmode=require (and the default
    // prefer) encrypt without verifying; verify-ca checks the chain; verify-full (and ssl=true) the chain and
    // the host name. Redshift's driver verifies the chain by default.
    const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
    let pg = |url: &str| CatalogSpec::Postgresql(jdbc(url, "postgres", false));
    let redshift = |url: &str| {
        CatalogSpec::Redshift(trino_catalogs::spec::RedshiftCatalog {
            url: url.into(),
            user: "postgres".into(),
            password: None,
            unload_location: None,
            unload_iam_role: None,
            properties: BTreeMap::new(),
        })
    };
    let logs_in = [
        (
            pg(&format!("jdbc:postgresql://{pg_addr}/test?sslmode=require")),
            "tls required, certificate not verified",
        ),
        (
            pg(&format!("jdbc:postgresql://{pg_addr}/test")),
            "tls if offered, certificate not verified",
        ),
        (
            pg(&format!(
                "jdbc:postgresql://{pg_addr}/test?sslmode=verify-ca&sslrootcert={SNAKEOIL}"
            )),
            "tls required, certificate chain verified",
        ),
        (
            pg(&format!(
                "jdbc:postgresql://localhost:{pg_port}/test?sslmode=verify-full&sslrootcert={SNAKEOIL}"
            )),
            "tls required, certificate chain and host name verified",
        ),
        (
            redshift(&format!(
                "jdbc:redshift://{pg_addr}/test?sslrootcert={SNAKEOIL}"
            )),
            "tls required, certificate chain verified",
        ),
        (
            redshift(&format!("jdbc:redshift://{pg_addr}/test?sslmode=require")),
            "tls required, certificate not verified",
        ),
    ];
    for (spec, transport) in logs_in {
        let ok = run(&spec, &SecretValues::new())
            .await
            .unwrap_or_else(|e| panic!("{spec:?}: {e}"));
        assert!(ok.checks[0].contains(&format!("({transport})")), "{ok:?}");
    }
    let refused = [
        // Self-signed: no public root signs it.
        (
            pg(&format!(
                "jdbc:postgresql://{pg_addr}/test?sslmode=verify-ca"
            )),
            "UnknownIssuer",
        ),
        (
            pg(&format!("jdbc:postgresql://{pg_addr}/test?ssl=true")),
            "UnknownIssuer",
        ),
        (
            redshift(&format!("jdbc:redshift://{pg_addr}/test")),
            "UnknownIssuer",
        ),
        // The chain is trusted, but the certificate names localhost, not 127.0.0.1.
        (
            pg(&format!(
                "jdbc:postgresql://{pg_addr}/test?sslmode=verify-full&sslrootcert={SNAKEOIL}"
            )),
            "not valid for name",
        ),
    ];
    for (spec, why) in refused {
        let tls = run(&spec, &SecretValues::new()).await.unwrap_err();
        assert!(
            matches!(&tls, ProbeFailure::Tls { detail } if detail.contains(why)),
            "{spec:?}: {tls:?}"
        );
    }

    let dns = run(
        &CatalogSpec::Postgresql(jdbc(
            "jdbc:postgresql://nonexistent.invalid:5432/test",
            "postgres",
            false,
        )),
        &SecretValues::new(),
    )
    .await
    .unwrap_err();
    assert!(matches!(dns, ProbeFailure::Dns { .. }), "{dns:?}");
}

#[tokio::test]
async fn iceberg_probe_checks_glue_database_and_bucket_in_the_emulator() {
    let sdk = lake_tests::aws_config().await;
    let endpoint = lake_tests::endpoint_url();
    let glue = aws_sdk_glue::Client::new(&sdk);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let database = lake_tests::unique_name("db").replace('-', "_");
    let bucket = lake_tests::unique_name("cat-wh");
    glue.create_database()
        .database_input(
            aws_sdk_glue::types::DatabaseInput::builder()
                .name(&database)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    s3.create_bucket().bucket(&bucket).send().await.unwrap();

    let spec = |db: &str, bucket: &str| {
        CatalogSpec::Iceberg(IcebergCatalog {
            region: "us-east-1".into(),
            warehouse: format!("s3://{bucket}/warehouse"),
            glue_database: Some(db.into()),
            glue_endpoint: Some(endpoint.clone()),
            catalog_id: None,
            s3_endpoint: Some(endpoint.clone()),
            s3_path_style: true,
            file_format: None,
            properties: BTreeMap::new(),
        })
    };
    let options = ProbeOptions::default();
    let ok = probe(
        "lake",
        &spec(&database, &bucket),
        &SecretValues::new(),
        Some(&sdk),
        &options,
    )
    .await
    .unwrap();
    assert_eq!(ok.checks.len(), 2, "{ok:?}");

    let missing_db = lake_tests::unique_name("nodb").replace('-', "_");
    match probe(
        "lake",
        &spec(&missing_db, &bucket),
        &SecretValues::new(),
        Some(&sdk),
        &options,
    )
    .await
    {
        Err(Error::Probe {
            failure: ProbeFailure::GlueDatabaseMissing { database },
            ..
        }) => assert_eq!(database, missing_db),
        other => panic!("expected a missing glue database, got {other:?}"),
    }
    let missing_bucket = lake_tests::unique_name("cat-nobucket");
    match probe(
        "lake",
        &spec(&database, &missing_bucket),
        &SecretValues::new(),
        Some(&sdk),
        &options,
    )
    .await
    {
        Err(Error::Probe {
            failure: ProbeFailure::BucketMissing { bucket },
            ..
        }) => assert_eq!(bucket, missing_bucket),
        other => panic!("expected a missing bucket, got {other:?}"),
    }
    glue.delete_database().name(&database).send().await.unwrap();
    s3.delete_bucket().bucket(&bucket).send().await.unwrap();
}
