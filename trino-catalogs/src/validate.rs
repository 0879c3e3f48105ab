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
    // Reserved for other kinds of bucket and for access point aliases (S3 general purpose bucket naming rules).
    if ["xn--", "sthree-", "amzn-s3-demo-"]
        .iter()
        .any(|p| bucket.starts_with(p))
    {
        return Err(
            "bucket names must not begin with xn--, sthree- or amzn-s3-demo- (reserved by S3)",
        );
    }
    if ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"]
        .iter()
        .any(|suffix| bucket.ends_with(suffix))
    {
        return Err(
            "bucket names must not end with -s3alias, --ol-s3, .mrap, --x-s3 or --table-s3 (reserved by S3)",
        );
    }
    Ok(())
}

/// Catalog names Trino keeps for itself: `system` is the built-in catalog every cluster has.
pub const RESERVED_CATALOG_NAMES: &[&str] = &["system"];

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
    let shown = redact_url_credentials(url);
    let bad = |why: &str| format!("{shown:?} {why}; expected something like {example}");
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
    if parsed.port() == Some(0) {
        return Err(bad(
            "names port 0, which no server listens on; use the server's port",
        ));
    }
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
    let found = url_credentials(url);
    if !found.is_empty() || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad(&format!(
            "carries credentials ({}): the url is stored in a plain String parameter, rendered into the \
             catalog file and printed by `catalog show`; set the user and password fields instead (the \
             password as a secret reference)",
            if found.is_empty() {
                "user:password@ before the host".to_owned()
            } else {
                found.join(", ")
            }
        )));
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

/// JDBC connection properties that are credentials: Connector/J's (`password1..3` are its multi-factor
/// passwords), pgjdbc's (`sslpassword` unlocks the client key) and the Redshift driver's (`UID`, `PWD`, IAM
/// keys). `user` is one too: the tool renders the user from its own field.
const URL_CREDENTIAL_KEYS: &[&str] = &[
    "user",
    "uid",
    "password",
    "password1",
    "password2",
    "password3",
    "pwd",
    "sslpassword",
    "secretaccesskey",
    "sessiontoken",
];

/// Where `userinfo@` ends in a JDBC URL (the `@` before the host, outside a `(...)` host spec), if any.
fn userinfo_end(url: &str) -> Option<usize> {
    let start = url.find("://").map_or(0, |i| i + 3);
    let mut depth = 0usize;
    let mut at = None;
    for (i, ch) in url[start..].char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            '@' if depth == 0 => at = Some(start + i),
            '/' | '?' if depth == 0 => break,
            _ => {}
        }
    }
    at
}

/// Every `key=value` of a credential key in `url`, as (key, value range): in the query string and in
/// Connector/J's `(key=value,...)` and `address=(key=value)` host syntax. Keys compare case-insensitively.
fn credential_values(url: &str) -> Vec<(String, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut key_start = Some(0);
    for (i, b) in url.bytes().enumerate() {
        if matches!(b, b'?' | b'&' | b',' | b'(' | b';') {
            key_start = Some(i + 1);
        } else if b == b'=' {
            // Only the first `=` after a separator ends a key.
            if let Some(start) = key_start.take() {
                let key = url[start..i].trim().to_ascii_lowercase();
                if URL_CREDENTIAL_KEYS.contains(&key.as_str()) {
                    let end = url[i + 1..]
                        .find(['&', ',', ')', ';'])
                        .map_or(url.len(), |j| i + 1 + j);
                    out.push((key, i + 1..end));
                }
            }
        }
    }
    out
}

/// What credentials a JDBC URL carries, for a message: `user:password@` and credential keys (never values).
pub fn url_credentials(url: &str) -> Vec<String> {
    let mut found = Vec::new();
    if userinfo_end(url).is_some() {
        found.push("user:password@ before the host".to_owned());
    }
    for (key, _) in credential_values(url) {
        let name = format!("`{key}=`");
        if !found.contains(&name) {
            found.push(name);
        }
    }
    found
}

/// `url` with credential values and any `userinfo@` replaced by `***`, so messages never echo a password.
pub fn redact_url_credentials(url: &str) -> String {
    let mut out = url.to_owned();
    for (_, range) in credential_values(url).into_iter().rev() {
        out.replace_range(range, "***");
    }
    if let Some(at) = userinfo_end(&out) {
        let start = out.find("://").map_or(0, |i| i + 3);
        out.replace_range(start..at, "***");
    }
    out
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
    if RESERVED_CATALOG_NAMES.contains(&name) {
        bad(
            "name",
            format!("{name:?} is Trino's own catalog and cannot be defined; choose another name"),
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
                let Some(v) = v else { continue };
                let found = url_credentials(v);
                if !found.is_empty() {
                    bad(
                        field,
                        format!(
                            "{:?} carries credentials ({}): the endpoint is stored in a plain String \
                             parameter and rendered into the catalog file; AWS endpoints take no \
                             credentials in the URL (the task role signs every call)",
                            redact_url_credentials(v),
                            found.join(", ")
                        ),
                    );
                } else if !is_http_url(v) {
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
        } else if crate::import::value_carries_secret(v) {
            bad(
                &field,
                format!(
                    "holds credentials (a URL with a user or password, or a `password=` setting; the value \
                     is not shown): plain properties are written in clear into the catalog file, the String \
                     spec parameter and `show` output; {}",
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
    }
    for (field, v) in given_strings(spec) {
        // Trino resolves `${ENV:VAR}` (and its other secret providers' `${NAME:...}`) in every catalog value
        // at load time: a value given here could pull any container variable, another catalog's password
        // included, into this catalog. Only the references the renderer writes for declared secrets may.
        let refused_as_secret =
            field.starts_with("properties.") && looks_secret(field.trim_end_matches('"'));
        if v.contains("${") && !refused_as_secret {
            bad(
                &field,
                format!(
                    "{} contains \"${{\", which Trino would resolve as a secret reference such as \
                     ${{ENV:VAR}}; declare secrets as secret references ({{ env = \"...\" }} or \
                     {{ parameter = \"...\" }}) instead",
                    shown(&field, &v)
                ),
            );
        }
        // airlift trims every loaded value with Java's String.trim() (code points <= U+0020): such a value
        // would not reach the connector as written.
        if v.trim_matches(|c: char| c <= ' ') != v {
            bad(
                &field,
                format!(
                    "{} has leading or trailing whitespace or control characters, which Trino trims",
                    shown(&field, &v)
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

/// Every string the definition gives (typed fields and plain properties), by its field path as the config
/// names it (`user`, `properties."iceberg.x"`); secret references (variable and parameter names) are left
/// to their own checks.
fn given_strings(spec: &CatalogSpec) -> Vec<(String, String)> {
    fn walk(path: String, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match value {
            serde_json::Value::String(s) => out.push((path, s.clone())),
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(format!("{path}[{i}]"), item, out);
                }
            }
            serde_json::Value::Object(map) => {
                let is_secret_ref = map.len() == 1
                    && map
                        .keys()
                        .next()
                        .is_some_and(|k| k == "env" || k == "parameter");
                if is_secret_ref {
                    return;
                }
                for (k, v) in map {
                    let key = if path == "properties" || k.contains('.') {
                        format!("{k:?}")
                    } else {
                        k.clone()
                    };
                    let child = if path.is_empty() {
                        key
                    } else {
                        format!("{path}.{key}")
                    };
                    walk(child, v, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(value) = serde_json::to_value(spec) {
        walk(String::new(), &value, &mut out);
    }
    out.retain(|(path, _)| path != "connector");
    out
}

/// A value for a message: `***` for a field that holds a secret in clear, the value otherwise.
fn shown(field: &str, value: &str) -> String {
    if looks_secret(field.trim_end_matches('"')) {
        "the value".to_owned()
    } else {
        format!("{value:?}")
    }
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
    let catalogs: Vec<(&str, &CatalogSpec)> = catalogs.into_iter().collect();
    for (name, spec) in &catalogs {
        check(name, spec)?;
    }
    if let Some((catalog, issue)) = env_collisions(catalogs).into_iter().next() {
        return Err(Error::Invalid {
            catalog,
            issues: vec![issue],
        });
    }
    Ok(())
}

/// Every secret whose environment variable ([`secret_env_name`]) another secret of these catalogs already
/// takes, as (catalog, issue at `secrets.<field>`). The task definition would carry two secrets of one name
/// and each container would see only one value: the names must be injective over a cluster's catalogs.
pub fn env_collisions<'a>(
    catalogs: impl IntoIterator<Item = (&'a str, &'a CatalogSpec)>,
) -> Vec<(String, Issue)> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut out = Vec::new();
    for (name, spec) in catalogs {
        for f in spec.secret_fields() {
            let env = secret_env_name(name, &f.field);
            let who = format!("{name}.{}", f.field);
            if let Some(other) = seen.get(&env) {
                out.push((
                    name.to_owned(),
                    Issue {
                        field: format!("secrets.{}", f.field),
                        reason: format!(
                            "environment variable {env} is also used by {other}; rename the catalog or the \
                             field so each secret has its own variable"
                        ),
                    },
                ));
            } else {
                seen.insert(env, who);
            }
        }
    }
    out
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

    /// An endpoint with `user:password@` is refused without echoing the password (issue 16, item 4).
    #[test]
    fn credentials_in_aws_endpoints_are_refused_without_echoing_them() {
        let spec = |glue: &str, s3: &str| {
            CatalogSpec::Iceberg(IcebergCatalog {
                region: "eu-west-1".into(),
                warehouse: "s3://lake/wh".into(),
                glue_database: None,
                glue_endpoint: Some(glue.into()),
                catalog_id: None,
                s3_endpoint: Some(s3.into()),
                s3_path_style: true,
                file_format: None,
                properties: Default::default(),
            })
        };
        let found = validate(
            "lake",
            &spec(
                "https://admin:hunter2@glue.internal:4566",
                "http://s3.internal:4566/?password=hunter2",
            ),
        );
        let fields: Vec<&str> = found.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(fields, ["glue_endpoint", "s3_endpoint"], "{found:?}");
        for issue in &found {
            assert!(!issue.reason.contains("hunter2"), "{issue:?}");
            assert!(issue.reason.contains("carries credentials"), "{issue:?}");
        }
        assert!(
            found[0].reason.contains("https://***@glue.internal:4566"),
            "{:?}",
            found[0]
        );
        let clean = validate(
            "lake",
            &spec("http://127.0.0.1:4566", "http://127.0.0.1:4566"),
        );
        assert!(clean.is_empty(), "{clean:?}");
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
        assert_eq!(issues[0].field, "properties.\"x\"");
        j.properties.clear();
        // Issue 16 item 7: a typed field is blamed by its own name, not the property it renders to.
        for user in ["ro\u{1}", "root "] {
            j.user = user.into();
            let issues = validate("m", &CatalogSpec::Mysql(j.clone()));
            assert_eq!(issues.len(), 1, "{issues:?}");
            assert_eq!(issues[0].field, "user");
            assert!(
                issues[0].reason.contains(&format!("{user:?}")),
                "{issues:?}"
            );
        }
    }

    /// Issue 16 item 2: `${ENV:...}` (or any `${...}` Trino would resolve) in a typed field or a plain
    /// property is refused, so no catalog can pull another one's password out of the container environment.
    #[test]
    fn secret_references_in_given_values_are_refused_everywhere() {
        let env = "${ENV:TRINO_CATALOG_CRM_PASSWORD}";
        let mut j = jdbc("jdbc:mysql://h:3306");
        j.user = env.into();
        let mut url = jdbc(&format!("jdbc:postgresql://h:5432/d?options={env}"));
        url.properties
            .insert("case-insensitive-name-matching".into(), env.into());
        let iceberg = |glue_endpoint: Option<String>, warehouse: &str| {
            CatalogSpec::Iceberg(IcebergCatalog {
                region: "eu-west-1".into(),
                warehouse: warehouse.into(),
                glue_database: None,
                glue_endpoint,
                s3_endpoint: None,
                s3_path_style: false,
                catalog_id: None,
                file_format: None,
                properties: BTreeMap::new(),
            })
        };
        for (spec, fields) in [
            (CatalogSpec::Mysql(j), vec!["user"]),
            (
                CatalogSpec::Postgresql(url),
                vec!["properties.\"case-insensitive-name-matching\"", "url"],
            ),
            (
                iceberg(Some(format!("http://{env}")), "s3://b/w"),
                vec!["glue_endpoint"],
            ),
            (iceberg(None, &format!("s3://b/{env}")), vec!["warehouse"]),
        ] {
            let issues: Vec<Issue> = validate("c", &spec)
                .into_iter()
                .filter(|i| i.reason.contains("secret reference"))
                .collect();
            let mut blamed: Vec<&str> = issues.iter().map(|i| i.field.as_str()).collect();
            blamed.sort();
            assert_eq!(blamed, fields, "{spec:?}: {issues:?}");
        }
    }

    /// Issue 16 item 4: passwords in URLs (`?password=`, `;password=`, `user:pw@host`) and JAAS settings are
    /// refused by validation, whose message never echoes the password.
    #[test]
    fn credentials_in_urls_and_values_are_refused_without_echoing_them() {
        for url in [
            "jdbc:postgresql://h:5432/d?password=hunter2",
            "jdbc:postgresql://h:5432/d?ssl=true&PASSWORD=hunter2",
            "jdbc:postgresql://h:5432/d;password=hunter2",
            "jdbc:postgresql://bob:hunter2@h:5432/d",
        ] {
            let issues = validate("crm", &CatalogSpec::Postgresql(jdbc(url)));
            assert_eq!(issues.len(), 1, "{url}: {issues:?}");
            assert_eq!(issues[0].field, "url", "{url}");
            let text = issues[0].to_string();
            assert!(text.contains("carries credentials"), "{text}");
            assert!(!text.contains("hunter2"), "the password leaked: {text}");
            assert!(text.contains("***"), "{text}");
        }
        for (key, value) in [
            (
                "kafka.sasl.jaas.config",
                "PlainLoginModule required username=\"u\" password=\"hunter2\";",
            ),
            ("elasticsearch.url", "https://bob:hunter2@es.internal:9200"),
        ] {
            let generic = CatalogSpec::Generic(GenericCatalog {
                connector_name: "x".into(),
                properties: [(key.to_owned(), value.to_owned())].into(),
                secret_properties: BTreeMap::new(),
            });
            let issues = validate("g", &generic);
            assert_eq!(issues.len(), 1, "{key}: {issues:?}");
            assert!(issues[0].reason.contains("holds credentials"), "{issues:?}");
            assert!(!issues[0].to_string().contains("hunter2"), "{issues:?}");
        }
        // Keys that merely contain the words are driver options, not credentials.
        assert_eq!(
            validate(
                "crm",
                &CatalogSpec::Postgresql(jdbc(
                    "jdbc:postgresql://h:5432/d?passwordCharacterEncoding=utf8&userVars=x"
                ))
            ),
            Vec::new()
        );
    }

    /// Issue 16 item 8: accepted here before, refused by Trino or AWS.
    #[test]
    fn names_trino_and_aws_reserve_are_refused() {
        let issues = validate("system", &CatalogSpec::Mysql(jdbc("jdbc:mysql://h:3306")));
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert!(
            issues[0].reason.contains("Trino's own catalog"),
            "{issues:?}"
        );
        let issues = validate("m", &CatalogSpec::Mysql(jdbc("jdbc:mysql://h:0")));
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert!(issues[0].reason.contains("port 0"), "{issues:?}");
        for bucket in ["xn--lake", "lake-s3alias", "lake--ol-s3", "sthree-lake"] {
            assert!(
                check_bucket(bucket).unwrap_err().contains("reserved by S3"),
                "{bucket}"
            );
        }
        assert_eq!(check_bucket("lake-warehouse"), Ok(()));
    }
}
