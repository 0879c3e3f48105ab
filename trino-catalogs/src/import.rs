//! Existing Trino `.properties` files -> typed catalogs. Pure: the caller reads the files.
//!
//! Known connectors (`iceberg` on Glue, `mysql`, `postgresql`, `redshift`, `gsheets` with a credentials key)
//! become typed definitions; everything else, and typed connectors missing a required property, becomes
//! `generic`. Secrets: a value `${ENV:NAME}` becomes `{ env = "NAME" }`; a literal secret value (a password
//! written in the file) becomes `{ env = "TRINO_CATALOG_<NAME>_<FIELD>" }` and its value is returned in
//! [`Imported::secrets`], ready for [`crate::store::CatalogStore::put`]: it never lands in a definition.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::properties::read_properties;
use crate::spec::{
    CatalogSpec, GenericCatalog, IcebergCatalog, JdbcCatalog, RedshiftCatalog, SecretRef,
    SecretValue, SecretValues, SheetsCatalog, looks_secret, secret_env_name,
};
use crate::validate::is_catalog_name;

/// A catalog read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The catalog name (the file stem).
    pub name: String,
    /// The definition.
    pub spec: CatalogSpec,
    /// Literal secret values found in the file, by secret field.
    pub secrets: SecretValues,
}

/// Imports one catalog from its file name (`<name>.properties`) and text.
pub fn import(file_name: &str, text: &str) -> Result<Imported> {
    let fail = |reason: String| Error::Import {
        file: file_name.to_owned(),
        reason,
    };
    let name = file_name
        .strip_suffix(".properties")
        .ok_or_else(|| fail("catalog files are named <catalog>.properties".to_owned()))?;
    let name = name.rsplit('/').next().unwrap_or(name);
    if !is_catalog_name(name) {
        return Err(fail(format!(
            "catalog name {name:?} must match [a-z][a-z0-9_]*"
        )));
    }
    let mut props = read_properties(text).map_err(fail)?;
    let connector = props
        .remove("connector.name")
        .ok_or_else(|| fail("there is no connector.name".to_owned()))?;
    let mut secrets = SecretValues::new();
    let mut secret = |field: &str, value: String| -> SecretRef {
        match value
            .strip_prefix("${ENV:")
            .and_then(|v| v.strip_suffix('}'))
        {
            Some(var) => SecretRef::Env(var.to_owned()),
            None => {
                secrets.insert(field.to_owned(), SecretValue::new(value));
                SecretRef::Env(secret_env_name(name, field))
            }
        }
    };
    let original = props.clone();
    let typed = match connector.as_str() {
        "iceberg" if props.get("iceberg.catalog.type").map(String::as_str) == Some("glue") => {
            match (
                props.remove("hive.metastore.glue.region"),
                props.remove("hive.metastore.glue.default-warehouse-dir"),
            ) {
                (Some(region), Some(warehouse)) => {
                    props.remove("iceberg.catalog.type");
                    let s3_region = props.remove("s3.region");
                    if s3_region.as_ref().is_some_and(|r| *r != region) {
                        props.insert("s3.region".into(), s3_region.unwrap_or_default());
                    }
                    // The typed catalog always renders the S3 switch under the name of the cluster's
                    // release, so either name (before or after Trino 481's rename) is absorbed.
                    for switch in crate::render::S3_FILE_SYSTEM_SWITCHES {
                        if props.get(switch).map(String::as_str) == Some("true") {
                            props.remove(switch);
                        }
                    }
                    let path_style = match props.remove("s3.path-style-access").as_deref() {
                        Some("true") => true,
                        Some("false") | None => false,
                        Some(other) => {
                            props.insert("s3.path-style-access".into(), other.to_owned());
                            false
                        }
                    };
                    let file_format = props
                        .remove("iceberg.file-format")
                        .filter(|f| f != "PARQUET");
                    Some(CatalogSpec::Iceberg(IcebergCatalog {
                        region,
                        warehouse,
                        glue_database: None,
                        glue_endpoint: props.remove("hive.metastore.glue.endpoint-url"),
                        catalog_id: props.remove("hive.metastore.glue.catalogid"),
                        s3_endpoint: props.remove("s3.endpoint"),
                        s3_path_style: path_style,
                        file_format,
                        properties: std::mem::take(&mut props),
                    }))
                }
                _ => None,
            }
        }
        "mysql" | "postgresql" | "redshift" => {
            match (
                props.remove("connection-url"),
                props.remove("connection-user"),
            ) {
                // A URL that carries credentials is not a typed field (it would be stored in clear): the
                // catalog is imported as generic, its URL a secret property.
                (Some(url), Some(user)) if !value_carries_secret(&url) => {
                    let password = props
                        .remove("connection-password")
                        .map(|v| secret("password", v));
                    Some(match connector.as_str() {
                        "redshift" => CatalogSpec::Redshift(RedshiftCatalog {
                            url,
                            user,
                            password,
                            unload_location: props.remove("redshift.unload-location"),
                            unload_iam_role: props.remove("redshift.unload-iam-role"),
                            properties: std::mem::take(&mut props),
                        }),
                        c => {
                            let j = JdbcCatalog {
                                url,
                                user,
                                password,
                                properties: std::mem::take(&mut props),
                            };
                            if c == "mysql" {
                                CatalogSpec::Mysql(j)
                            } else {
                                CatalogSpec::Postgresql(j)
                            }
                        }
                    })
                }
                _ => None,
            }
        }
        "gsheets" => match (
            props.remove("gsheets.credentials-key"),
            props.remove("gsheets.metadata-sheet-id"),
        ) {
            (Some(key), Some(sheet)) => Some(CatalogSpec::Gsheets(SheetsCatalog {
                credentials_key: secret("credentials_key", key),
                metadata_sheet_id: sheet,
                data_cache_ttl: props.remove("gsheets.data-cache-ttl"),
                properties: std::mem::take(&mut props),
            })),
            _ => None,
        },
        _ => None,
    };
    let spec = match typed {
        Some(spec) => spec,
        None => {
            secrets.clear();
            let mut properties = BTreeMap::new();
            let mut secret_properties = BTreeMap::new();
            for (k, v) in original {
                let is_env = v.starts_with("${ENV:") && v.ends_with('}');
                if is_env || looks_secret(&k) || value_carries_secret(&v) {
                    let r = match v.strip_prefix("${ENV:").and_then(|v| v.strip_suffix('}')) {
                        Some(var) => SecretRef::Env(var.to_owned()),
                        None => {
                            secrets.insert(k.clone(), SecretValue::new(v));
                            SecretRef::Env(secret_env_name(name, &k))
                        }
                    };
                    secret_properties.insert(k, r);
                } else {
                    properties.insert(k, v);
                }
            }
            CatalogSpec::Generic(GenericCatalog {
                connector_name: connector,
                properties,
                secret_properties,
            })
        }
    };
    Ok(Imported {
        name: name.to_owned(),
        spec,
        secrets,
    })
}

/// Whether a property value holds a secret whatever its key: a URL with credentials (`?password=`,
/// `;password=`, `user:pw@host`) or a JAAS configuration with `password=`.
pub fn value_carries_secret(value: &str) -> bool {
    let url_like = value.contains("://") || value.starts_with("jdbc:");
    (url_like && !crate::validate::url_credentials(value).is_empty())
        || value.to_ascii_lowercase().contains("password=")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::render;

    #[test]
    fn rendered_catalogs_import_back_to_the_same_file() {
        let specs: Vec<(&str, &str)> = vec![
            (
                "lake",
                r#"{"connector":"iceberg","region":"eu-west-1","warehouse":"s3://lake/wh","glue_endpoint":"http://127.0.0.1:4566","s3_endpoint":"http://127.0.0.1:4566","s3_path_style":true,"file_format":"ORC","properties":{"iceberg.max-partitions-per-writer":"500"}}"#,
            ),
            (
                "orders",
                r#"{"connector":"mysql","url":"jdbc:mysql://db:3306","user":"ro","password":{"env":"TRINO_CATALOG_ORDERS_PASSWORD"}}"#,
            ),
            (
                "crm",
                r#"{"connector":"postgresql","url":"jdbc:postgresql://db:5432/crm","user":"ro user=:#"}"#,
            ),
            (
                "dw",
                r#"{"connector":"redshift","url":"jdbc:redshift://dw:5439/a","user":"ro","password":{"env":"TRINO_CATALOG_DW_PASSWORD"},"unload_location":"s3://u/x","unload_iam_role":"arn:aws:iam::123456789012:role/r"}"#,
            ),
            (
                "sheets",
                r#"{"connector":"gsheets","credentials_key":{"env":"TRINO_CATALOG_SHEETS_CREDENTIALS_KEY"},"metadata_sheet_id":"abc","data_cache_ttl":"5m"}"#,
            ),
            (
                "search",
                r#"{"connector":"generic","connector_name":"elasticsearch","properties":{"elasticsearch.host":"es"},"secret_properties":{"elasticsearch.auth.password":{"env":"TRINO_CATALOG_SEARCH_ELASTICSEARCH_AUTH_PASSWORD"}}}"#,
            ),
        ];
        for (name, json) in specs {
            let spec: CatalogSpec = serde_json::from_str(json).unwrap();
            let rendered = render(name, &spec);
            let imported = import(
                &format!("/etc/trino/catalog/{name}.properties"),
                &rendered.text,
            )
            .unwrap();
            assert_eq!(imported.name, name);
            assert_eq!(imported.spec, spec, "{name}");
            assert!(imported.secrets.is_empty());
            assert_eq!(render(name, &imported.spec).text, rendered.text);
        }
    }

    /// A catalog file rendered for Trino 481 (`fs.s3.enabled`) imports to the same definition as one rendered
    /// for 476 (`fs.native-s3.enabled`).
    #[test]
    fn either_s3_switch_name_imports_to_the_typed_catalog() {
        let json = r#"{"connector":"iceberg","region":"eu-west-1","warehouse":"s3://lake/wh"}"#;
        let spec: CatalogSpec = serde_json::from_str(json).unwrap();
        for version in [476, 481] {
            let text = crate::render::render_for("lake", &spec, crate::TrinoVersion(version)).text;
            assert_eq!(
                import("lake.properties", &text).unwrap().spec,
                spec,
                "{version}"
            );
        }
    }

    #[test]
    fn literal_secrets_are_lifted_out() {
        let text = "connector.name=postgresql\nconnection-url=jdbc:postgresql://h:5432/d\nconnection-user=u\nconnection-password=hunter2\n";
        let imported = import("crm.properties", text).unwrap();
        assert_eq!(imported.secrets["password"].expose(), "hunter2");
        match &imported.spec {
            CatalogSpec::Postgresql(j) => {
                assert_eq!(
                    j.password,
                    Some(SecretRef::Env("TRINO_CATALOG_CRM_PASSWORD".into()))
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(!format!("{:?}", imported.spec).contains("hunter2"));
        assert!(!render("crm", &imported.spec).text.contains("hunter2"));
    }

    #[test]
    fn unknown_and_incomplete_connectors_become_generic() {
        let imported = import(
            "t.properties",
            "connector.name=tpch\ntpch.splits-per-node=4\n",
        )
        .unwrap();
        assert_eq!(
            imported.spec,
            CatalogSpec::Generic(GenericCatalog {
                connector_name: "tpch".into(),
                properties: [("tpch.splits-per-node".to_owned(), "4".to_owned())].into(),
                secret_properties: BTreeMap::new(),
            })
        );
        let imported = import(
            "g.properties",
            "connector.name=gsheets\ngsheets.credentials-path=/x.json\n",
        )
        .unwrap();
        assert!(matches!(imported.spec, CatalogSpec::Generic(_)));
        let e = import("x.properties", "a=b\n").unwrap_err().to_string();
        assert_eq!(e, "cannot import x.properties: there is no connector.name");
        assert!(import("Bad.properties", "connector.name=tpch\n").is_err());
        assert!(import("x.conf", "connector.name=tpch\n").is_err());
    }

    /// Issue 16 item 4: a file whose URL or JAAS setting carries a password imports with that value as a
    /// secret (stored as a SecureString), never in the definition.
    #[test]
    fn credentials_in_values_become_secrets() {
        let i = import(
            "crm.properties",
            "connector.name=postgresql\nconnection-url=jdbc:postgresql://h:5432/d?password=hunter2\n\
             connection-user=bob\n",
        )
        .unwrap();
        let CatalogSpec::Generic(g) = &i.spec else {
            panic!("{:?}", i.spec)
        };
        assert!(g.secret_properties.contains_key("connection-url"), "{g:?}");
        assert!(!format!("{:?}", i.spec).contains("hunter2"));
        assert_eq!(
            i.secrets["connection-url"].expose(),
            "jdbc:postgresql://h:5432/d?password=hunter2"
        );
        let i = import(
            "events.properties",
            "connector.name=kafka\nkafka.sasl.jaas.config=PlainLoginModule required password=\"hunter2\";\n\
             kafka.api-key=abc\nkafka.nodes=k:9092\n",
        )
        .unwrap();
        let CatalogSpec::Generic(g) = &i.spec else {
            panic!("{:?}", i.spec)
        };
        let secret_keys: Vec<&String> = g.secret_properties.keys().collect();
        assert_eq!(secret_keys, ["kafka.api-key", "kafka.sasl.jaas.config"]);
        assert_eq!(g.properties.keys().collect::<Vec<_>>(), ["kafka.nodes"]);
        assert!(!format!("{:?}", i.spec).contains("hunter2"));
        crate::check("events", &i.spec).unwrap();
    }
}
