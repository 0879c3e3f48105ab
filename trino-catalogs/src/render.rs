//! Catalog -> Trino `.properties` text for one Trino release. Pure: no IO, cannot fail.
//!
//! The property names follow the release the cluster runs ([`TrinoVersion`]): a node refuses to start, or a
//! `CREATE CATALOG` fails, on a property its release does not know. [`render`] and [`properties`] render for
//! [`TrinoVersion::OLDEST_SUPPORTED`], which every supported release also reads (the one rename so far kept the
//! old name as a deprecated alias); deploys render with [`render_for`] and the cluster's own release.

use std::collections::BTreeMap;

use crate::properties::write_properties;
use crate::spec::{CatalogSpec, SecretRef, secret_env_name};
use crate::version::TrinoVersion;

/// The first release that calls the native S3 file system switch `fs.s3.enabled`; older releases know only
/// `fs.native-s3.enabled` and refuse the new name. Source: trinodb/trino#29070 ("Remove \"native\" from file
/// system configs", merged by 2026-04-13, between the 480 and 481 cuts; its follow-up #29089 is dated
/// 2026-04-13), whose `FileSystemConfig` binds `@Config("fs.s3.enabled")` and keeps
/// `@LegacyConfig("fs.native-s3.enabled")`, so 481 still reads the old name, with a deprecation warning.
pub const FS_S3_ENABLED_SINCE: TrinoVersion = TrinoVersion(481);

/// The property that turns on Trino's native S3 file system in `version`.
pub fn s3_file_system_switch(version: TrinoVersion) -> &'static str {
    if version >= FS_S3_ENABLED_SINCE {
        "fs.s3.enabled"
    } else {
        "fs.native-s3.enabled"
    }
}

/// Every name the native S3 switch has had; a free-form property must use none of them, because the typed
/// rendering always sets the one the cluster's release knows.
pub const S3_FILE_SYSTEM_SWITCHES: [&str; 2] = ["fs.native-s3.enabled", "fs.s3.enabled"];

/// A catalog rendered for Trino.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The catalog name (the file is `<name>.properties`).
    pub name: String,
    /// `connector.name` first, then every other property sorted by key; secrets appear only as `${ENV:NAME}`.
    pub properties: Vec<(String, String)>,
    /// The file text, ASCII, escaped for `java.util.Properties.load`.
    pub text: String,
    /// The environment variables the text references, one per secret, in the order of
    /// [`CatalogSpec::secret_fields`].
    pub secrets: Vec<SecretEnv>,
}

/// One secret the container must receive as an environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretEnv {
    /// The secret field, e.g. `password`.
    pub field: String,
    /// The Trino property that references it.
    pub property: String,
    /// The environment variable name, `TRINO_CATALOG_<NAME>_<FIELD>`.
    pub env: String,
    /// Where the value comes from.
    pub source: SecretRef,
}

impl Rendered {
    /// The file name inside `/etc/trino/catalog/`.
    pub fn file_name(&self) -> String {
        format!("{}.properties", self.name)
    }
}

/// The Trino properties of a catalog for [`TrinoVersion::OLDEST_SUPPORTED`] (see [`properties_for`]).
pub fn properties(name: &str, spec: &CatalogSpec) -> BTreeMap<String, String> {
    properties_for(name, spec, TrinoVersion::OLDEST_SUPPORTED)
}

/// The Trino properties of a catalog for `version` (secrets as `${ENV:NAME}`), without the `connector.name`
/// ordering.
pub fn properties_for(
    name: &str,
    spec: &CatalogSpec,
    version: TrinoVersion,
) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    let mut set = |k: &str, v: &str| {
        p.insert(k.to_owned(), v.to_owned());
    };
    match spec {
        CatalogSpec::Iceberg(i) => {
            set("iceberg.catalog.type", "glue");
            set("hive.metastore.glue.region", &i.region);
            set("hive.metastore.glue.default-warehouse-dir", &i.warehouse);
            if let Some(e) = &i.glue_endpoint {
                set("hive.metastore.glue.endpoint-url", e);
            }
            if let Some(id) = &i.catalog_id {
                set("hive.metastore.glue.catalogid", id);
            }
            set(
                "iceberg.file-format",
                i.file_format.as_deref().unwrap_or("PARQUET"),
            );
            set(s3_file_system_switch(version), "true");
            set("s3.region", &i.region);
            if let Some(e) = &i.s3_endpoint {
                set("s3.endpoint", e);
            }
            if i.s3_path_style {
                set("s3.path-style-access", "true");
            }
        }
        CatalogSpec::Mysql(j) | CatalogSpec::Postgresql(j) => {
            set("connection-url", &j.url);
            set("connection-user", &j.user);
        }
        CatalogSpec::Redshift(r) => {
            set("connection-url", &r.url);
            set("connection-user", &r.user);
            if let Some(l) = &r.unload_location {
                set("redshift.unload-location", l);
            }
            if let Some(role) = &r.unload_iam_role {
                set("redshift.unload-iam-role", role);
            }
        }
        CatalogSpec::Gsheets(s) => {
            set("gsheets.metadata-sheet-id", &s.metadata_sheet_id);
            if let Some(ttl) = &s.data_cache_ttl {
                set("gsheets.data-cache-ttl", ttl);
            }
        }
        CatalogSpec::Generic(_) => {}
    }
    // Typed settings win over the free-form map; validation reports such overlaps as errors.
    for (k, v) in extra_properties(spec) {
        p.entry(k.clone()).or_insert_with(|| v.clone());
    }
    for f in spec.secret_fields() {
        p.insert(
            f.property.clone(),
            format!("${{ENV:{}}}", secret_env_name(name, &f.field)),
        );
    }
    p.remove("connector.name");
    p
}

/// The free-form `properties` map of any connector.
pub fn extra_properties(spec: &CatalogSpec) -> &BTreeMap<String, String> {
    match spec {
        CatalogSpec::Iceberg(i) => &i.properties,
        CatalogSpec::Mysql(j) | CatalogSpec::Postgresql(j) => &j.properties,
        CatalogSpec::Redshift(r) => &r.properties,
        CatalogSpec::Gsheets(s) => &s.properties,
        CatalogSpec::Generic(g) => &g.properties,
    }
}

/// Renders a catalog for [`TrinoVersion::OLDEST_SUPPORTED`] (see [`render_for`]).
pub fn render(name: &str, spec: &CatalogSpec) -> Rendered {
    render_for(name, spec, TrinoVersion::OLDEST_SUPPORTED)
}

/// Renders a catalog for Trino `version`: deterministic text (same spec and version, same bytes) and the secret
/// env references it uses.
pub fn render_for(name: &str, spec: &CatalogSpec, version: TrinoVersion) -> Rendered {
    let mut properties = vec![(
        "connector.name".to_owned(),
        spec.connector_name().to_owned(),
    )];
    properties.extend(self::properties_for(name, spec, version));
    let text = write_properties(
        Some(&format!(
            "catalog {name}: rendered by trino-catalogs; edit the catalog definition, not this file"
        )),
        properties.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let secrets = spec
        .secret_fields()
        .into_iter()
        .map(|f| SecretEnv {
            env: secret_env_name(name, &f.field),
            field: f.field,
            property: f.property,
            source: f.source.clone(),
        })
        .collect();
    Rendered {
        name: name.to_owned(),
        properties,
        text,
        secrets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::*;

    fn mysql() -> CatalogSpec {
        CatalogSpec::Mysql(JdbcCatalog {
            url: "jdbc:mysql://orders.example:3306".into(),
            user: "trino_ro".into(),
            password: Some(SecretRef::Env("ORDERS_DB_PASSWORD".into())),
            properties: [(
                "case-insensitive-name-matching".to_owned(),
                "true".to_owned(),
            )]
            .into(),
        })
    }

    #[test]
    fn mysql_renders_password_as_env_reference() {
        let r = render("orders", &mysql());
        assert_eq!(
            r.text,
            "# catalog orders: rendered by trino-catalogs; edit the catalog definition, not this file\n\
             connector.name=mysql\n\
             case-insensitive-name-matching=true\n\
             connection-password=${ENV:TRINO_CATALOG_ORDERS_PASSWORD}\n\
             connection-url=jdbc:mysql://orders.example:3306\n\
             connection-user=trino_ro\n"
        );
        assert_eq!(
            r.secrets,
            vec![SecretEnv {
                field: "password".into(),
                property: "connection-password".into(),
                env: "TRINO_CATALOG_ORDERS_PASSWORD".into(),
                source: SecretRef::Env("ORDERS_DB_PASSWORD".into()),
            }]
        );
        assert_eq!(render("orders", &mysql()), r, "rendering is deterministic");
    }

    #[test]
    fn iceberg_uses_trino_property_names() {
        let spec = CatalogSpec::Iceberg(IcebergCatalog {
            region: "eu-west-1".into(),
            warehouse: "s3://lake/wh".into(),
            glue_database: Some("analytics".into()),
            glue_endpoint: Some("http://127.0.0.1:4566".into()),
            catalog_id: None,
            s3_endpoint: Some("http://127.0.0.1:4566".into()),
            s3_path_style: true,
            file_format: None,
            properties: BTreeMap::new(),
        });
        let r = render("lake", &spec);
        let p: BTreeMap<_, _> = r.properties.iter().cloned().collect();
        assert_eq!(r.properties[0], ("connector.name".into(), "iceberg".into()));
        assert_eq!(p["iceberg.catalog.type"], "glue");
        assert_eq!(p["hive.metastore.glue.region"], "eu-west-1");
        assert_eq!(
            p["hive.metastore.glue.endpoint-url"],
            "http://127.0.0.1:4566"
        );
        assert_eq!(
            p["hive.metastore.glue.default-warehouse-dir"],
            "s3://lake/wh"
        );
        assert_eq!(p["iceberg.file-format"], "PARQUET");
        assert_eq!(p["fs.native-s3.enabled"], "true");
        assert_eq!(p["s3.path-style-access"], "true");
        assert!(r.secrets.is_empty());
    }

    /// Trino 481 renamed the native S3 switch (trinodb/trino#29070); 476..=480 know only the old name.
    #[test]
    fn iceberg_s3_switch_follows_the_release() {
        let spec = CatalogSpec::Iceberg(IcebergCatalog {
            region: "eu-west-1".into(),
            warehouse: "s3://lake/wh".into(),
            glue_database: None,
            glue_endpoint: None,
            catalog_id: None,
            s3_endpoint: None,
            s3_path_style: false,
            file_format: None,
            properties: BTreeMap::new(),
        });
        for (version, on, off) in [
            (476, "fs.native-s3.enabled", "fs.s3.enabled"),
            (480, "fs.native-s3.enabled", "fs.s3.enabled"),
            (481, "fs.s3.enabled", "fs.native-s3.enabled"),
        ] {
            let p = properties_for("lake", &spec, TrinoVersion(version));
            assert_eq!(p[on], "true", "{version}");
            assert!(!p.contains_key(off), "{version}");
        }
        assert_eq!(
            render("lake", &spec),
            render_for("lake", &spec, TrinoVersion(476))
        );
    }

    #[test]
    fn gsheets_credentials_are_never_inline() {
        let spec = CatalogSpec::Gsheets(SheetsCatalog {
            credentials_key: SecretRef::Parameter("/trino/x/gsheets".into()),
            metadata_sheet_id: "abc".into(),
            data_cache_ttl: Some("5m".into()),
            properties: BTreeMap::new(),
        });
        let r = render("sheets", &spec);
        assert!(
            r.text
                .contains("gsheets.credentials-key=${ENV:TRINO_CATALOG_SHEETS_CREDENTIALS_KEY}\n")
        );
        assert!(!r.text.contains("/trino/x/gsheets"));
    }
}
