//! The AWS side of the probes: Glue database and S3 bucket existence. The only probe code naming SDK types.

use aws_sdk_glue::error::ProvideErrorMetadata as _;

use super::ProbeFailure;
use crate::spec::IcebergCatalog;
use crate::validate::parse_s3_uri;

/// Checks the Iceberg catalog's Glue database (when named) and its warehouse bucket, with the catalog's own
/// region and endpoint overrides applied on top of `sdk`.
pub async fn probe_iceberg(
    sdk: &aws_config::SdkConfig,
    spec: &IcebergCatalog,
) -> Result<Vec<String>, ProbeFailure> {
    let mut checks = Vec::new();
    let region = aws_config::Region::new(spec.region.clone());
    if let Some(database) = &spec.glue_database {
        let mut conf = aws_sdk_glue::config::Builder::from(sdk).region(region.clone());
        if let Some(endpoint) = &spec.glue_endpoint {
            conf = conf.endpoint_url(endpoint);
        }
        let glue = aws_sdk_glue::Client::from_conf(conf.build());
        let mut req = glue.get_database().name(database);
        if let Some(id) = &spec.catalog_id {
            req = req.catalog_id(id);
        }
        match req.send().await {
            Ok(_) => checks.push(format!("glue database {database:?} exists")),
            Err(e) => {
                return Err(match e.code() {
                    Some("EntityNotFoundException") => ProbeFailure::GlueDatabaseMissing {
                        database: database.clone(),
                    },
                    Some("AccessDeniedException") => ProbeFailure::AccessDenied {
                        what: format!("glue:GetDatabase on {database:?}"),
                    },
                    _ => ProbeFailure::Unreachable {
                        service: "glue",
                        detail: describe(&e),
                    },
                });
            }
        }
    }
    let (bucket, _) = parse_s3_uri(&spec.warehouse)
        .map_err(|reason| ProbeFailure::InvalidDefinition { reason })?;
    let mut conf = aws_sdk_s3::config::Builder::from(sdk)
        .region(region)
        .force_path_style(spec.s3_path_style);
    if let Some(endpoint) = &spec.s3_endpoint {
        conf = conf.endpoint_url(endpoint);
    }
    let s3 = aws_sdk_s3::Client::from_conf(conf.build());
    match s3.head_bucket().bucket(&bucket).send().await {
        Ok(_) => checks.push(format!("s3 bucket {bucket:?} exists")),
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            return Err(
                match (e.as_service_error().map(|s| s.is_not_found()), status) {
                    (Some(true), _) | (_, Some(404)) => ProbeFailure::BucketMissing { bucket },
                    (_, Some(403)) => ProbeFailure::AccessDenied {
                        what: format!("s3:ListBucket on {bucket:?}"),
                    },
                    _ => ProbeFailure::Unreachable {
                        service: "s3",
                        detail: describe(&e),
                    },
                },
            );
        }
    }
    Ok(checks)
}

/// The error and its causes on one line (SDK errors keep the useful part in their sources).
fn describe(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
