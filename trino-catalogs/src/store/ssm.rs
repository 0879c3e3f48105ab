//! The SSM Parameter Store adapter: the only store code naming `aws_sdk_ssm` types.

use async_trait::async_trait;
use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ssm::types::{ParameterTier, ParameterType};

use super::{Layout, Param, Params, catalog_store_via_engine};
use crate::error::{Error, Result};
use crate::spec::SecretValue;

/// Catalogs in SSM Parameter Store. Secrets are SecureString (with the given KMS key, or the account's
/// `aws/ssm` key), everything else String.
pub struct SsmCatalogStore {
    pub(crate) layout: Layout,
    pub(crate) allow_advanced: bool,
    params: SsmParams,
}

struct SsmParams {
    client: aws_sdk_ssm::Client,
    kms_key_id: Option<String>,
}

impl SsmCatalogStore {
    /// A store over a client the caller built (from the one `SdkConfig` of the process).
    pub fn new(client: aws_sdk_ssm::Client, layout: Layout) -> Self {
        Self {
            layout,
            allow_advanced: true,
            params: SsmParams {
                client,
                kms_key_id: None,
            },
        }
    }

    /// A store with a client built from `sdk`.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, layout: Layout) -> Self {
        Self::new(aws_sdk_ssm::Client::new(sdk), layout)
    }

    /// The KMS key (id, ARN or `alias/...`) SecureString parameters are encrypted with.
    pub fn with_kms_key_id(mut self, key: Option<String>) -> Self {
        self.params.kms_key_id = key;
        self
    }

    /// Whether values over 4 KB may use the (charged) advanced tier; otherwise they fail with `TooLarge`.
    /// Default: allowed.
    pub fn with_advanced_tier(mut self, allow: bool) -> Self {
        self.allow_advanced = allow;
        self
    }

    pub(crate) fn params(&self) -> &dyn Params {
        &self.params
    }
}

catalog_store_via_engine!(SsmCatalogStore);

fn map_err<E>(
    operation: &'static str,
    resource: &str,
    e: SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match e.code() {
        Some("ThrottlingException") => Error::Throttled { operation },
        Some("AccessDeniedException") | Some("AccessDenied") => Error::AccessDenied {
            operation,
            resource: resource.to_owned(),
        },
        _ => Error::Aws {
            operation,
            resource: resource.to_owned(),
            source: Box::new(e),
        },
    }
}

fn to_param(p: &aws_sdk_ssm::types::Parameter) -> Param {
    Param {
        value: SecretValue::new(p.value().unwrap_or_default()),
        secure: p.r#type() == Some(&ParameterType::SecureString),
        version: p.version(),
        modified: p.last_modified_date().map(|d| d.secs()),
        key_id: None,
    }
}

impl SsmParams {
    async fn describe_key(&self, name: &str) -> Result<Option<String>> {
        let filter = aws_sdk_ssm::types::ParameterStringFilter::builder()
            .key("Name")
            .option("Equals")
            .values(name)
            .build()
            .map_err(|e| Error::Aws {
                operation: "ssm:DescribeParameters",
                resource: name.to_owned(),
                source: Box::new(e),
            })?;
        let out = self
            .client
            .describe_parameters()
            .parameter_filters(filter)
            .send()
            .await
            .map_err(|e| map_err("ssm:DescribeParameters", name, e))?;
        Ok(out
            .parameters()
            .iter()
            .find(|p| p.name() == Some(name))
            .and_then(|p| p.key_id())
            .map(str::to_owned))
    }
}

#[async_trait]
impl Params for SsmParams {
    fn key_id(&self) -> Option<&str> {
        self.kms_key_id.as_deref()
    }

    async fn get(&self, name: &str) -> Result<Option<Param>> {
        match self
            .client
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
        {
            Ok(out) => {
                let Some(mut param) = out.parameter().map(to_param) else {
                    return Ok(None);
                };
                if param.secure {
                    // GetParameter does not tell the KMS key; DescribeParameters does.
                    param.key_id = self.describe_key(name).await?;
                }
                Ok(Some(param))
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_parameter_not_found()) =>
            {
                Ok(None)
            }
            Err(e) => Err(map_err("ssm:GetParameter", name, e)),
        }
    }

    async fn put(&self, name: &str, value: &str, secure: bool, advanced: bool) -> Result<i64> {
        let mut req = self
            .client
            .put_parameter()
            .name(name)
            .value(value)
            .overwrite(true);
        req = if secure {
            let req = req.r#type(ParameterType::SecureString);
            match &self.kms_key_id {
                Some(key) => req.key_id(key),
                None => req,
            }
        } else {
            req.r#type(ParameterType::String)
        };
        // Only ask for the advanced tier when the value needs it: omitting the tier keeps an existing
        // parameter's tier and uses the standard tier for new ones. A catalog parameter that once needed
        // Advanced stays Advanced on purpose: SSM downgrades only by deleting the parameter, which would lose
        // the version history `catalog history` and rollback read. (The deploy's rendered files, which have
        // no history to keep, are moved back down.)
        if advanced {
            req = req.tier(ParameterTier::Advanced);
        }
        let out = req
            .send()
            .await
            .map_err(|e| map_err("ssm:PutParameter", name, e))?;
        Ok(out.version())
    }

    async fn delete(&self, names: &[String]) -> Result<()> {
        for chunk in names.chunks(10) {
            self.client
                .delete_parameters()
                .set_names(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| map_err("ssm:DeleteParameters", &chunk.join(","), e))?;
        }
        Ok(())
    }

    async fn list(&self, path: &str) -> Result<Vec<(String, Param)>> {
        let path = path.trim_end_matches('/');
        let mut out = Vec::new();
        let mut pages = self
            .client
            .get_parameters_by_path()
            .path(path)
            .recursive(true)
            .with_decryption(false)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| map_err("ssm:GetParametersByPath", path, e))?;
            for p in page.parameters() {
                if let Some(name) = p.name() {
                    out.push((name.to_owned(), to_param(p)));
                }
            }
        }
        Ok(out)
    }

    async fn history(&self, name: &str) -> Result<Vec<Param>> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .get_parameter_history()
            .name(name)
            .with_decryption(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => out.extend(page.parameters().iter().map(|h| Param {
                    value: SecretValue::new(h.value().unwrap_or_default()),
                    secure: h.r#type() == Some(&ParameterType::SecureString),
                    version: h.version(),
                    modified: h.last_modified_date().map(|d| d.secs()),
                    key_id: h.key_id().map(str::to_owned),
                })),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_parameter_not_found()) =>
                {
                    return Ok(Vec::new());
                }
                Err(e) => return Err(map_err("ssm:GetParameterHistory", name, e)),
            }
        }
        out.sort_by_key(|p| p.version);
        Ok(out)
    }
}
