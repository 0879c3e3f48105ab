//! Validation of catalog definitions. Pure: every issue names the field and the offending value (never a
//! secret value: specs hold only secret references).

use std::collections::BTreeMap;

use crate::error::{Error, Issue, Result};
use crate::render::extra_properties;
use crate::spec::{CatalogSpec, SecretRef, looks_secret, secret_env_name};

/// `[a-z][a-z0-9_]*`, at most 64 characters: Trino's catalog name rule as the platform enforces it.
pub fn is_catalog_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `us-east-1`, `us-gov-west-1`, `ap-southeast-3`, `cn-north-1`: lowercase words, a final number.
pub fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok()
}

/// S3 bucket naming rules (general purpose buckets).
pub fn check_bucket(bucket: &str) -> std::result::Result<(), &'static str> {
    if !(3..=63).contains(&bucket.len()) {
        return Err("bucket names are 3 to 63 characters long");
    }
    if !bucket
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
    {
        return Err("bucket names use only lowercase letters, digits, '.' and '-'");
    }
    let first_last_ok =
        |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !first_last_ok(bucket.chars().next()) || !first_last_ok(bucket.chars().last()) {
        return Err("bucket names begin and end with a letter or digit");
    }
    if bucket.contains("..")
        || bucket.split('.').count() == 4 && bucket.split('.').all(|p| p.parse::<u8>().is_ok())
    {
        return Err("bucket names have no '..' and are not IP addresses");
    }
    Ok(())
}

/// Splits `s3://bucket/prefix` (also `s3a://`) into bucket and key prefix.
pub fn parse_s3_uri(uri: &str) -> std::result::Result<(String, String), String> {
    let rest = uri
        .strip_prefix("s3://")
        .or_else(|| uri.strip_prefix("s3a://"))
        .ok_or_else(|| format!("{uri:?} is not an s3://bucket/prefix URI"))?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    check_bucket(bucket)
        .map_err(|why| format!("{uri:?} has an invalid bucket {bucket:?}: {why}"))?;
    Ok((bucket.to_owned(), key.to_owned()))
}

/// The parts of a JDBC URL the probes and checks need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JdbcUrl {
    /// `mysql`, `postgresql`, `redshift`.
    pub scheme: String,
    /// Host name or address.
    pub host: String,
    /// Port (the scheme's default when absent).
    pub port: u16,
    /// The database, when the URL names one.
    pub database: Option<String>,
    /// Query parameters.
    pub params: BTreeMap<String, String>,
}

/// Parses `jdbc:<scheme>://host[:port][/database][?k=v&...]` for `scheme` and checks its shape.
pub fn parse_jdbc_url(url: &str, scheme: &str) -> std::result::Result<JdbcUrl, String> {
    let expected = format!("jdbc:{scheme}://");
    let example = match scheme {
        "mysql" => "jdbc:mysql://host:3306",
        "postgresql" => "jdbc:postgresql://host:5432/database",
        _ => "jdbc:redshift://host:5439/database",
    };
    let bad = |why: &str| format!("{url:?} {why}; expected something like {example}");
    let Some(rest) = url.strip_prefix("jdbc:") else {
        return Err(bad("does not start with jdbc:"));
    };
    if !url.starts_with(&expected) {
        return Err(bad(&format!("does not start with {expected}")));
    }
    let parsed = url::Url::parse(rest).map_err(|e| bad(&format!("is not a valid URL ({e})")))?;
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("has no host"))?;
    let default_port = match scheme {
        "mysql" => 3306,
        "postgresql" => 5432,
        _ => 5439,
    };
    let database = parsed.path().trim_start_matches('/');
    if database.contains('/') {
        return Err(bad("has more than one path segment"));
    }
    let database = (!database.is_empty()).then(|| database.to_owned());
    if scheme != "mysql" && database.is_none() {
        return Err(bad("names no database"));
    }
    // Trino's MySqlJdbcConfig: @AssertTrue "Database (catalog) must not be specified in JDBC URL for MySQL
    // connector" -- the catalog would not start. Every MySQL database is a schema of the Trino catalog.
    if let (true, Some(db)) = (scheme == "mysql", &database) {
        return Err(bad(&format!(
            "names database {db:?}, which Trino's MySQL connector refuses at startup (\"Database (catalog) \
             must not be specified in JDBC URL for MySQL connector\"); drop \"/{db}\": each MySQL database is \
             a schema of the catalog"
        )));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("carries credentials; use user and password instead"));
    }
    Ok(JdbcUrl {
        scheme: scheme.to_owned(),
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        port: parsed.port().unwrap_or(default_port),
        database,
        params: parsed
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    })
}

fn is_duration(s: &str) -> bool {
    let num_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(num_end);
    !num.is_empty()
        && num.parse::<f64>().is_ok()
        && ["ns", "us", "ms", "s", "m", "h", "d"].contains(&unit)
}

fn is_http_url(s: &str) -> bool {
    url::Url::parse(s)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

/// Every problem with one catalog (empty when it is valid).
pub fn validate(name: &str, spec: &CatalogSpec) -> Vec<Issue> {
    let mut issues = Vec::new();
    let mut bad = |field: &str, reason: String| {
        issues.push(Issue {
            field: field.to_owned(),
            reason,
        })
    };
    if !is_catalog_name(name) {
        bad(
            "name",
            format!("{name:?} must match [a-z][a-z0-9_]* and be at most 64 characters"),
        );
    }
    let not_blank = |v: &str| !v.trim().is_empty();
    match spec {
        CatalogSpec::Iceberg(i) => {
            if !is_region(&i.region) {
                bad(
                    "region",
                    format!("{:?} is not an AWS region name such as eu-west-1", i.region),
                );
            }
            if let Err(why) = parse_s3_uri(&i.warehouse) {
                bad("warehouse", why);
            }
            if let Some(db) = &i.glue_database
                && (db.is_empty()
                    || db.len() > 255
                    || !db.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'
                    }))
            {
                bad(
                    "glue_database",
                    format!("{db:?} must be 1-255 lowercase letters, digits, '_' or '-'"),
                );
            }
            for (field, v) in [
                ("glue_endpoint", &i.glue_endpoint),
                ("s3_endpoint", &i.s3_endpoint),
            ] {
                if let Some(v) = v
                    && !is_http_url(v)
                {
                    bad(field, format!("{v:?} is not an http(s) URL"));
                }
            }
            if let Some(id) = &i.catalog_id
                && (id.len() != 12 || !id.chars().all(|c| c.is_ascii_digit()))
            {
                bad(
                    "catalog_id",
                    format!("{id:?} is not a 12-digit AWS account id"),
                );
            }
            if let Some(f) = &i.file_format
                && !["PARQUET", "ORC", "AVRO"].contains(&f.as_str())
            {
                bad(
                    "file_format",
                    format!("{f:?} is not one of PARQUET, ORC, AVRO"),
                );
            }
        }
        CatalogSpec::Mysql(j) | CatalogSpec::Postgresql(j) => {
            let scheme = if matches!(spec, CatalogSpec::Mysql(_)) {
                "mysql"
            } else {
                "postgresql"
            };
            if let Err(why) = parse_jdbc_url(&j.url, scheme) {
                bad("url", why);
            }
            if !not_blank(&j.user) {
                bad("user", "must not be empty".to_owned());
            }
        }
        CatalogSpec::Redshift(r) => {
            if let Err(why) = parse_jdbc_url(&r.url, "redshift") {
                bad("url", why);
            }
            if !not_blank(&r.user) {
                bad("user", "must not be empty".to_owned());
            }
            if let Some(l) = &r.unload_location
                && let Err(why) = parse_s3_uri(l)
            {
                bad("unload_location", why);
            }
            if let Some(role) = &r.unload_iam_role {
                let ok = role.starts_with("arn:aws") && {
                    let parts: Vec<&str> = role.splitn(6, ':').collect();
                    parts.len() == 6
                        && parts[2] == "iam"
                        && parts[4].len() == 12
                        && parts[4].chars().all(|c| c.is_ascii_digit())
                        && parts[5].starts_with("role/")
                };
                if !ok {
                    bad(
                        "unload_iam_role",
                        format!(
                            "{role:?} is not an IAM role ARN arn:aws:iam::<account>:role/<name>"
                        ),
                    );
                }
            }
            if r.unload_location.is_some() != r.unload_iam_role.is_some() {
                bad(
                    "unload_location",
                    "unload_location and unload_iam_role go together".to_owned(),
                );
            }
        }
        CatalogSpec::Gsheets(s) => {
            if s.metadata_sheet_id.is_empty()
                || !s
                    .metadata_sheet_id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                bad(
                    "metadata_sheet_id",
                    format!("{:?} is not a Google sheet id", s.metadata_sheet_id),
                );
            }
            if let Some(ttl) = &s.data_cache_ttl
                && !is_duration(ttl)
            {
                bad(
                    "data_cache_ttl",
                    format!("{ttl:?} is not a duration such as 5m or 30s"),
                );
            }
        }
        CatalogSpec::Generic(g) => {
            if g.connector_name.is_empty()
                || !g
                    .connector_name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c))
            {
                bad(
                    "connector_name",
                    format!("{:?} is not a Trino connector name", g.connector_name),
                );
            }
            for k in g.secret_properties.keys() {
                if g.properties.contains_key(k) {
                    bad(
                        &format!("secret_properties.{k:?}"),
                        "is also set in properties".to_owned(),
                    );
                }
            }
        }
    }
    // Free-form properties must not fight the typed fields.
    let typed = {
        let mut without_extra = spec.clone();
        match &mut without_extra {
            CatalogSpec::Iceberg(i) => i.properties.clear(),
            CatalogSpec::Mysql(j) | CatalogSpec::Postgresql(j) => j.properties.clear(),
            CatalogSpec::Redshift(r) => r.properties.clear(),
            CatalogSpec::Gsheets(s) => s.properties.clear(),
            CatalogSpec::Generic(g) => g.properties.clear(),
        }
        crate::render::properties(name, &without_extra)
    };
    for (k, v) in extra_properties(spec) {
        let field = format!("properties.{k:?}");
        if k.is_empty() {
            bad(&field, "property keys must not be empty".to_owned());
        }
        let secret = looks_secret(k);
        if k == "connector.name" {
            bad(
                &field,
                "connector.name comes from the connector; do not set it".to_owned(),
            );
        } else if secret {
            // A plain property is rendered inline, stored as a String parameter and printed by `show`.
            bad(
                &field,
                format!(
                    "looks like a secret, and plain properties are written in clear into the catalog file, \
                     the String spec parameter and `show` output; {}",
                    secret_home(spec, k)
                ),
            );
        } else if typed.contains_key(k) {
            bad(
                &field,
                "is set by a typed field of this connector; use that field".to_owned(),
            );
        } else if matches!(spec, CatalogSpec::Iceberg(_))
            && crate::render::S3_FILE_SYSTEM_SWITCHES.contains(&k.as_str())
        {
            // The typed rendering sets the switch under the name the cluster's release knows; a second one
            // under the other name would make a release refuse the catalog.
            bad(
                &field,
                format!(
                    "is rendered by this connector under the name the cluster's Trino release knows \
                     (`fs.native-s3.enabled` before 481, `fs.s3.enabled` from 481); remove {k:?}"
                ),
            );
        }
        if !secret && v.contains("${ENV:") {
            bad(
                &field,
                "references ${ENV:...}; declare secrets as secret references instead".to_owned(),
            );
        }
    }
    // airlift trims every loaded value with Java's String.trim() (code points <= U+0020): such a value would
    // not reach the connector as written.
    for (k, v) in crate::render::properties(name, spec) {
        if v.trim_matches(|c: char| c <= ' ') != v {
            bad(
                &format!("property {k:?}"),
                format!(
                    "value {v:?} has leading or trailing whitespace or control characters, which Trino trims"
                ),
            );
        }
    }
    for f in spec.secret_fields() {
        let field = format!("secrets.{}", f.field);
        match f.source {
            SecretRef::Env(var) => {
                if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    bad(
                        &field,
                        format!(
                            "environment variable name {var:?} must be letters, digits and '_'"
                        ),
                    );
                }
            }
            SecretRef::Parameter(p) => {
                if !p.starts_with('/') || !p[1..].split('/').all(is_parameter_segment) {
                    bad(
                        &field,
                        format!(
                            "parameter name {p:?} must be /path/segments of letters, digits and _ . -"
                        ),
                    );
                }
            }
        }
        if !is_parameter_segment(&f.field) {
            bad(
                &field,
                "secret property keys must be letters, digits and _ . - (they name a parameter)"
                    .to_owned(),
            );
        }
    }
    issues
}

/// Where the secret property `key` of `spec` belongs instead of the plain `properties` map.
fn secret_home(spec: &CatalogSpec, key: &str) -> String {
    match (spec, key) {
        (CatalogSpec::Mysql(_) | CatalogSpec::Postgresql(_) | CatalogSpec::Redshift(_), "connection-password") => {
            "set the typed field password = { env = \"...\" } or { parameter = \"...\" } instead".to_owned()
        }
        (CatalogSpec::Gsheets(_), "gsheets.credentials-key") => {
            "set the typed field credentials_key = { env = \"...\" } or { parameter = \"...\" } instead".to_owned()
        }
        (CatalogSpec::Generic(_), _) => format!(
            "move it to secret_properties.{key:?} = {{ env = \"...\" }} or {{ parameter = \"...\" }}"
        ),
        (CatalogSpec::Iceberg(_), _) => {
            "iceberg catalogs take no secrets: give the task role access to Glue and S3 instead".to_owned()
        }
        _ => format!(
            "this connector has no typed field for it: declare the catalog as connector = \"generic\" \
             with secret_properties.{key:?} = {{ env = \"...\" }}"
        ),
    }
}

/// One SSM parameter path segment: letters, digits, `_`, `.`, `-`.
pub fn is_parameter_segment(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// [`validate`] as a `Result`.
pub fn check(name: &str, spec: &CatalogSpec) -> Result<()> {
    let issues = validate(name, spec);
    if issues.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid {
            catalog: name.to_owned(),
            issues,
        })
    }
}

/// Checks several catalogs that will run in one cluster: each is valid, and no two secrets map to the same
/// environment variable (e.g. catalog `a_b` field `c` and catalog `a` field `b_c`).
pub fn check_all<'a>(catalogs: impl IntoIterator<Item = (&'a str, &'a CatalogSpec)>) -> Result<()> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (name, spec) in catalogs {
        check(name, spec)?;
        for f in spec.secret_fields() {
            let env = secret_env_name(name, &f.field);
            let who = format!("{name}.{}", f.field);
            if let Some(other) = seen.insert(env.clone(), who.clone()) {
                return Err(Error::Invalid {
                    catalog: name.to_owned(),
                    issues: vec![Issue {
                        field: format!("secrets.{}", f.field),
                        reason: format!("environment variable {env} is also used by {other}"),
                    }],
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::*;

    fn jdbc(url: &str) -> JdbcCatalog {
        JdbcCatalog {
            url: url.into(),
            user: "u".into(),
            password: None,
            properties: BTreeMap::new(),
        }
    }

    #[test]
    fn names() {
        assert!(is_catalog_name("sales_2"));
        for bad in ["", "Sales", "2x", "a-b", "a.b"] {
            assert!(!is_catalog_name(bad), "{bad}");
        }
        let issues = validate("Bad-Name", &CatalogSpec::Mysql(jdbc("jdbc:mysql://h:3306")));
        assert_eq!(
            issues[0].to_string(),
            "name: \"Bad-Name\" must match [a-z][a-z0-9_]* and be at most 64 characters"
        );
    }

    #[test]
    fn jdbc_urls() {
        let u = parse_jdbc_url(
            "jdbc:postgresql://db.example:6432/crm?sslmode=require",
            "postgresql",
        )
        .unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.database.as_deref()),
            ("db.example", 6432, Some("crm"))
        );
        assert_eq!(u.params["sslmode"], "require");
        assert_eq!(
            parse_jdbc_url("jdbc:mysql://h", "mysql").unwrap().port,
            3306
        );
        let e = parse_jdbc_url("jdbc:postgresql://h:5432", "postgresql").unwrap_err();
        assert!(e.contains("names no database"), "{e}");
        let e = parse_jdbc_url("mysql://h:3306", "mysql").unwrap_err();
        assert!(
            e.contains("\"mysql://h:3306\" does not start with jdbc:"),
            "{e}"
        );
        assert!(parse_jdbc_url("jdbc:mysql://h:99999", "mysql").is_err());
        assert!(
            parse_jdbc_url("jdbc:mysql://u:p@h:3306", "mysql")
                .unwrap_err()
                .contains("credentials")
        );
        let issues = validate(
            "crm",
            &CatalogSpec::Postgresql(jdbc("jdbc:mysql://h:3306/x")),
        );
        assert_eq!(issues.len(), 1);
        assert!(
            issues[0].to_string().starts_with(
                "url: \"jdbc:mysql://h:3306/x\" does not start with jdbc:postgresql://"
            )
        );
    }

    #[test]
    fn mysql_urls_must_not_name_a_database() {
        // Trino's MySqlJdbcConfig refuses such a URL at startup.
        let err = check(
            "orders",
            &CatalogSpec::Mysql(jdbc("jdbc:mysql://h:3306/test")),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                "catalog \"orders\" is invalid: url: \"jdbc:mysql://h:3306/test\" names database \"test\""
            ),
            "{err}"
        );
        assert!(
            err.contains(
                "Database (catalog) must not be specified in JDBC URL for MySQL connector"
            ),
            "{err}"
        );
        let err = parse_jdbc_url("jdbc:mysql://h/db?useSSL=true", "mysql").unwrap_err();
        assert!(err.contains("names database \"db\""), "{err}");
        for ok in [
            "jdbc:mysql://h:3306",
            "jdbc:mysql://h:3306/",
            "jdbc:mysql://h?sslMode=REQUIRED",
        ] {
            assert_eq!(
                validate("orders", &CatalogSpec::Mysql(jdbc(ok))),
                Vec::new(),
                "{ok}"
            );
            assert_eq!(parse_jdbc_url(ok, "mysql").unwrap().database, None);
        }
        // PostgreSQL and Redshift URLs still need one.
        assert!(parse_jdbc_url("jdbc:postgresql://h:5432/crm", "postgresql").is_ok());
        assert!(parse_jdbc_url("jdbc:redshift://h:5439", "redshift").is_err());
    }

    #[test]
    fn secret_looking_plain_properties_are_refused() {
        let mut j = jdbc("jdbc:mysql://h:3306");
        j.properties
            .insert("connection-password".into(), "hunter2".into());
        let err = check("orders", &CatalogSpec::Mysql(j.clone()))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("catalog \"orders\" is invalid: properties.\"connection-password\": looks like a secret"),
            "{err}"
        );
        assert!(err.contains("typed field password"), "{err}");
        assert!(!err.contains("hunter2"), "the value never appears: {err}");
        // With the typed password set too, one issue, still about the secret.
        j.password = Some(SecretRef::Env("PW".into()));
        let issues = validate("orders", &CatalogSpec::Mysql(j));
        assert_eq!(issues.len(), 1, "{issues:?}");

        let generic = CatalogSpec::Generic(GenericCatalog {
            connector_name: "elasticsearch".into(),
            properties: [
                ("elasticsearch.auth.Password".to_owned(), "x".to_owned()),
                ("elasticsearch.host".to_owned(), "es".to_owned()),
            ]
            .into(),
            secret_properties: BTreeMap::new(),
        });
        let issues = validate("search", &generic);
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(
            issues[0].field,
            "properties.\"elasticsearch.auth.Password\""
        );
        assert!(
            issues[0]
                .reason
                .contains("secret_properties.\"elasticsearch.auth.Password\""),
            "{issues:?}"
        );

        let sheets = CatalogSpec::Gsheets(SheetsCatalog {
            credentials_key: SecretRef::Env("K".into()),
            metadata_sheet_id: "abc".into(),
            data_cache_ttl: None,
            properties: [("gsheets.credentials-key".to_owned(), "e30=".to_owned())].into(),
        });
        let issues = validate("sheets", &sheets);
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert!(
            issues[0].reason.contains("typed field credentials_key"),
            "{issues:?}"
        );

        let mut pg = jdbc("jdbc:postgresql://h:5432/d");
        pg.properties
            .insert("keystore-password".into(), "${ENV:KS}".into());
        let issues = validate("crm", &CatalogSpec::Postgresql(pg));
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert!(
            issues[0].reason.contains("connector = \"generic\""),
            "{issues:?}"
        );
    }

    #[test]
    fn iceberg_fields() {
        let spec = CatalogSpec::Iceberg(IcebergCatalog {
            region: "eu-west".into(),
            warehouse: "s3://Bad_Bucket/x".into(),
            glue_database: Some("Analytics".into()),
            glue_endpoint: Some("localhost:4566".into()),
            catalog_id: Some("123".into()),
            s3_endpoint: None,
            s3_path_style: false,
            file_format: Some("csv".into()),
            properties: [("iceberg.file-format".to_owned(), "ORC".to_owned())].into(),
        });
        let fields: Vec<String> = validate("lake", &spec)
            .into_iter()
            .map(|i| i.field)
            .collect();
        assert_eq!(
            fields,
            [
                "region",
                "warehouse",
                "glue_database",
                "glue_endpoint",
                "catalog_id",
                "file_format",
                "properties.\"iceberg.file-format\""
            ]
        );
        assert!(is_region("us-gov-west-1") && is_region("ap-southeast-3") && !is_region("useast1"));
    }

    /// The S3 switch is typed under both of its names: a free-form copy would give a release a property it
    /// refuses (476 does not know `fs.s3.enabled`) or a second, conflicting switch.
    #[test]
    fn iceberg_s3_switch_is_not_free_form_under_either_name() {
        for key in ["fs.native-s3.enabled", "fs.s3.enabled"] {
            let spec = CatalogSpec::Iceberg(IcebergCatalog {
                region: "eu-west-1".into(),
                warehouse: "s3://lake/wh".into(),
                glue_database: None,
                glue_endpoint: None,
                catalog_id: None,
                s3_endpoint: None,
                s3_path_style: false,
                file_format: None,
                properties: [(key.to_owned(), "true".to_owned())].into(),
            });
            let issues = validate("lake", &spec);
            assert_eq!(issues.len(), 1, "{key}: {issues:?}");
            assert_eq!(issues[0].field, format!("properties.{key:?}"));
        }
    }

    #[test]
    fn env_collisions_across_catalogs_are_caught() {
        let a = CatalogSpec::Generic(GenericCatalog {
            connector_name: "x".into(),
            properties: BTreeMap::new(),
            secret_properties: [("b_c".to_owned(), SecretRef::Env("E1".into()))].into(),
        });
        let b = CatalogSpec::Generic(GenericCatalog {
            connector_name: "x".into(),
            properties: BTreeMap::new(),
            secret_properties: [("c".to_owned(), SecretRef::Env("E2".into()))].into(),
        });
        let err = check_all([("a", &a), ("a_b", &b)]).unwrap_err().to_string();
        assert!(
            err.contains("TRINO_CATALOG_A_B_C is also used by a.b_c"),
            "{err}"
        );
    }

    #[test]
    fn whitespace_values_are_flagged_because_trino_trims() {
        let mut j = jdbc("jdbc:mysql://h:3306");
        j.properties.insert("x".into(), " padded".into());
        let issues = validate("m", &CatalogSpec::Mysql(j.clone()));
        assert!(issues[0].reason.contains("Trino trims"), "{issues:?}");
        assert_eq!(issues[0].field, "property \"x\"");
        j.properties.clear();
        j.user = "ro\u{1}".into();
        let issues = validate("m", &CatalogSpec::Mysql(j));
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].field, "property \"connection-user\"");
    }
}
