//! The Glue adapter: where a table's files are, from `GetTable` (Iceberg: the `metadata_location` parameter;
//! otherwise `StorageDescriptor.Location`). The only module that names `aws_sdk_glue` types.

use aws_sdk_glue::error::{ProvideErrorMetadata, SdkError};

use crate::error::{Error, Result};
use crate::evidence::{TableAccess, TableLocation, parse_s3_url};

/// Event-log table access matched to the tables' S3 locations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocatedAccess {
    /// Each access with where its table's files are.
    pub located: Vec<(TableAccess, TableLocation)>,
    /// `catalog.schema.table` and why it was left out.
    pub skipped: Vec<(String, String)>,
}

/// Looks up table locations in the Glue Data Catalog.
#[derive(Debug, Clone)]
pub struct GlueTableLocations {
    client: aws_sdk_glue::Client,
}

impl GlueTableLocations {
    /// Wraps a client built by the caller.
    pub fn new(client: aws_sdk_glue::Client) -> GlueTableLocations {
        GlueTableLocations { client }
    }

    /// Locates the tables of `accesses` read through `glue_catalogs` (the Trino catalogs that are Iceberg on
    /// this Glue Data Catalog; their schemas are Glue databases). Tables of other catalogs and tables Glue no
    /// longer has are left out with the reason; any other Glue failure is an error.
    pub async fn locate_all(
        &self,
        accesses: Vec<TableAccess>,
        glue_catalogs: &std::collections::BTreeSet<String>,
    ) -> Result<LocatedAccess> {
        let mut out = LocatedAccess::default();
        for access in accesses {
            let name = format!("{}.{}.{}", access.catalog, access.schema, access.table);
            if !glue_catalogs.contains(&access.catalog) {
                out.skipped.push((
                    name,
                    format!(
                        "catalog {} is not an Iceberg catalog on Glue",
                        access.catalog
                    ),
                ));
                continue;
            }
            match self.location(&access.schema, &access.table).await {
                Ok(location) => out.located.push((access, location)),
                Err(Error::NotFound { what }) => {
                    out.skipped.push((name, format!("{what} not found")))
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The table's bucket and root prefix. [`Error::NotFound`] if Glue has no such table.
    pub async fn location(&self, database: &str, table: &str) -> Result<TableLocation> {
        let out = self
            .client
            .get_table()
            .database_name(database)
            .name(table)
            .send()
            .await
            .map_err(|e| glue_error(database, table, e))?;
        let t = out.table().ok_or_else(|| Error::NotFound {
            what: format!("glue table {database}.{table}"),
        })?;
        let params = t.parameters();
        let metadata_location = params.and_then(|p| p.get("metadata_location"));
        let (url, iceberg) = match metadata_location {
            // s3://bucket/warehouse/db.db/t/metadata/00001-....metadata.json -> the table root.
            Some(m) => (
                m.rsplit_once("/metadata/")
                    .map(|(root, _)| root.to_owned())
                    .unwrap_or_else(|| m.clone()),
                true,
            ),
            None => (
                t.storage_descriptor()
                    .and_then(|s| s.location())
                    .map(str::to_owned)
                    .ok_or_else(|| Error::InvalidInput {
                        field: format!("glue table {database}.{table} StorageDescriptor.Location"),
                        reason: "is missing and there is no metadata_location parameter".into(),
                    })?,
                false,
            ),
        };
        let (bucket, prefix) = parse_s3_url(&url)?;
        Ok(TableLocation {
            database: database.to_owned(),
            table: table.to_owned(),
            bucket,
            prefix,
            iceberg,
        })
    }
}

fn glue_error<E, R>(database: &str, table: &str, error: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match error.code() {
        Some("EntityNotFoundException") => Error::NotFound {
            what: format!("glue table {database}.{table}"),
        },
        Some("ThrottlingException") => Error::Throttled {
            operation: "GetTable",
        },
        code => Error::Aws {
            operation: "GetTable",
            message: format!(
                "{}: {}",
                code.unwrap_or("no error code"),
                error.message().unwrap_or("no message")
            ),
            source: Box::new(error),
        },
    }
}
