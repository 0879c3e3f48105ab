//! Session state: what the client sends as `X-Trino-*` request headers and how response headers update it,
//! so that one [`crate::Client`] behaves like one Trino session.

use std::collections::BTreeMap;
use std::fmt;

use http::{HeaderMap, HeaderName, HeaderValue};

/// A secret string: never printed by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret text; only for sending it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Session state sent with every statement.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Session {
    /// `X-Trino-User`.
    pub user: String,
    /// `X-Trino-Original-User`.
    pub original_user: Option<String>,
    /// Set by `SET SESSION AUTHORIZATION` (sent as `X-Trino-User`, the login user as `X-Trino-Original-User`).
    pub authorization_user: Option<String>,
    /// `X-Trino-Source`.
    pub source: Option<String>,
    /// `X-Trino-Catalog`.
    pub catalog: Option<String>,
    /// `X-Trino-Schema`.
    pub schema: Option<String>,
    /// `X-Trino-Path`.
    pub path: Option<String>,
    /// `X-Trino-Time-Zone`.
    pub time_zone: Option<String>,
    /// `X-Trino-Language`.
    pub language: Option<String>,
    /// `X-Trino-Trace-Token`.
    pub trace_token: Option<String>,
    /// `X-Trino-Session` entries.
    pub properties: BTreeMap<String, String>,
    /// `X-Trino-Role` entries: catalog (or `system`) to role spec such as `ROLE{admin}`, `ALL`, `NONE`.
    pub roles: BTreeMap<String, String>,
    /// `X-Trino-Client-Tags`.
    pub client_tags: Vec<String>,
    /// `X-Trino-Client-Info`.
    pub client_info: Option<String>,
    /// `X-Trino-Extra-Credential` entries (values redacted in `Debug`).
    pub extra_credentials: BTreeMap<String, Secret>,
    /// `X-Trino-Prepared-Statement` entries: name to SQL.
    pub prepared_statements: BTreeMap<String, String>,
    /// `X-Trino-Transaction-Id`; `None` sends `NONE`.
    pub transaction_id: Option<String>,
    /// `X-Trino-Client-Capabilities`, e.g. `PARAMETRIC_DATETIME`.
    pub client_capabilities: Vec<String>,
    /// `X-Trino-Resource-Estimate` entries.
    pub resource_estimates: BTreeMap<String, String>,
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn dec(s: &str) -> String {
    // Trino encodes with Java's URLEncoder, whose inverse is form decoding (`+` is a space).
    url::form_urlencoded::parse(format!("v={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn kv_list<'a>(items: impl Iterator<Item = (&'a String, &'a str)>) -> String {
    items
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join(",")
}

impl Session {
    /// A session for a user.
    pub fn new(user: impl Into<String>) -> Self {
        Session {
            user: user.into(),
            ..Session::default()
        }
    }

    /// The request headers for a statement submission.
    pub fn headers(&self) -> Result<HeaderMap, crate::Error> {
        let mut h = HeaderMap::new();
        let mut put = |name: &'static str, value: String| -> Result<(), crate::Error> {
            let v = HeaderValue::from_str(&value).map_err(|_| crate::Error::InvalidConfig {
                field: name,
                reason: "value contains characters not allowed in an HTTP header".into(),
            })?;
            h.append(HeaderName::from_static(name), v);
            Ok(())
        };
        match &self.authorization_user {
            Some(auth_user) => {
                put("x-trino-user", auth_user.clone())?;
                put(
                    "x-trino-original-user",
                    self.original_user
                        .clone()
                        .unwrap_or_else(|| self.user.clone()),
                )?;
            }
            None => {
                put("x-trino-user", self.user.clone())?;
                if let Some(v) = &self.original_user {
                    put("x-trino-original-user", v.clone())?;
                }
            }
        }
        let optional = [
            ("x-trino-source", &self.source),
            ("x-trino-catalog", &self.catalog),
            ("x-trino-schema", &self.schema),
            ("x-trino-path", &self.path),
            ("x-trino-time-zone", &self.time_zone),
            ("x-trino-language", &self.language),
            ("x-trino-trace-token", &self.trace_token),
            ("x-trino-client-info", &self.client_info),
        ];
        for (name, value) in optional {
            if let Some(v) = value {
                put(name, v.clone())?;
            }
        }
        if !self.properties.is_empty() {
            put(
                "x-trino-session",
                kv_list(self.properties.iter().map(|(k, v)| (k, v.as_str()))),
            )?;
        }
        if !self.roles.is_empty() {
            put(
                "x-trino-role",
                kv_list(self.roles.iter().map(|(k, v)| (k, v.as_str()))),
            )?;
        }
        if !self.client_tags.is_empty() {
            put("x-trino-client-tags", self.client_tags.join(","))?;
        }
        if !self.extra_credentials.is_empty() {
            put(
                "x-trino-extra-credential",
                kv_list(self.extra_credentials.iter().map(|(k, v)| (k, v.expose()))),
            )?;
        }
        for (name, sql) in &self.prepared_statements {
            put(
                "x-trino-prepared-statement",
                format!("{}={}", enc(name), enc(sql)),
            )?;
        }
        put(
            "x-trino-transaction-id",
            self.transaction_id.clone().unwrap_or_else(|| "NONE".into()),
        )?;
        if !self.client_capabilities.is_empty() {
            put(
                "x-trino-client-capabilities",
                self.client_capabilities.join(","),
            )?;
        }
        if !self.resource_estimates.is_empty() {
            put(
                "x-trino-resource-estimate",
                kv_list(self.resource_estimates.iter().map(|(k, v)| (k, v.as_str()))),
            )?;
        }
        Ok(h)
    }

    /// Applies the state-changing response headers of any statement response.
    pub fn apply_response_headers(&mut self, headers: &HeaderMap) {
        let values = |name: &str| -> Vec<String> {
            headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect()
        };
        let first = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        if let Some(v) = first("x-trino-set-catalog") {
            self.catalog = Some(v);
        }
        if let Some(v) = first("x-trino-set-schema") {
            self.schema = Some(v);
        }
        if let Some(v) = first("x-trino-set-path") {
            self.path = Some(v);
        }
        for kv in values("x-trino-set-session") {
            if let Some((k, v)) = kv.split_once('=') {
                self.properties.insert(k.trim().to_string(), dec(v.trim()));
            }
        }
        for k in values("x-trino-clear-session") {
            self.properties.remove(&k);
        }
        for kv in values("x-trino-set-role") {
            if let Some((k, v)) = kv.split_once('=') {
                self.roles.insert(k.trim().to_string(), dec(v.trim()));
            }
        }
        for kv in values("x-trino-added-prepare") {
            if let Some((k, v)) = kv.split_once('=') {
                self.prepared_statements
                    .insert(dec(k.trim()), dec(v.trim()));
            }
        }
        for k in values("x-trino-deallocated-prepare") {
            self.prepared_statements.remove(&dec(&k));
        }
        if let Some(v) = first("x-trino-started-transaction-id") {
            self.transaction_id = Some(v);
        }
        if headers.contains_key("x-trino-clear-transaction-id") {
            self.transaction_id = None;
        }
        if let Some(v) = first("x-trino-set-authorization-user") {
            self.authorization_user = Some(v);
        }
        if headers.contains_key("x-trino-reset-authorization-user") {
            self.authorization_user = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_headers_encode_values() {
        let mut s = Session::new("alice");
        s.catalog = Some("iceberg".into());
        s.properties
            .insert("query_max_run_time".into(), "1h".into());
        s.properties.insert("x".into(), "a b,c=d".into());
        s.prepared_statements
            .insert("q1".into(), "SELECT ? , 'x'".into());
        s.extra_credentials
            .insert("token".into(), Secret::new("hunter2"));
        s.client_tags = vec!["etl".into(), "nightly".into()];
        s.roles.insert("system".into(), "ROLE{admin}".into());
        let h = s.headers().unwrap();
        assert_eq!(h["x-trino-user"], "alice");
        assert_eq!(h["x-trino-catalog"], "iceberg");
        assert_eq!(h["x-trino-session"], "query_max_run_time=1h,x=a+b%2Cc%3Dd");
        assert_eq!(h["x-trino-prepared-statement"], "q1=SELECT+%3F+%2C+%27x%27");
        assert_eq!(h["x-trino-extra-credential"], "token=hunter2");
        assert_eq!(h["x-trino-client-tags"], "etl,nightly");
        assert_eq!(h["x-trino-role"], "system=ROLE%7Badmin%7D");
        assert_eq!(h["x-trino-transaction-id"], "NONE");
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn response_headers_update_state() {
        let mut s = Session::new("alice");
        s.properties.insert("old".into(), "1".into());
        let mut h = HeaderMap::new();
        h.insert("x-trino-set-catalog", "hive".parse().unwrap());
        h.insert("x-trino-set-schema", "web".parse().unwrap());
        h.insert("x-trino-set-path", "hive.web".parse().unwrap());
        h.append("x-trino-set-session", "a=1".parse().unwrap());
        h.append("x-trino-set-session", "b=x+y%2Cz".parse().unwrap());
        h.insert("x-trino-clear-session", "old".parse().unwrap());
        h.insert("x-trino-set-role", "hive=ROLE%7Badmin%7D".parse().unwrap());
        h.insert("x-trino-added-prepare", "my+q=SELECT+1".parse().unwrap());
        h.insert("x-trino-started-transaction-id", "tx-1".parse().unwrap());
        h.insert("x-trino-set-authorization-user", "bob".parse().unwrap());
        s.apply_response_headers(&h);
        assert_eq!(s.catalog.as_deref(), Some("hive"));
        assert_eq!(s.schema.as_deref(), Some("web"));
        assert_eq!(s.path.as_deref(), Some("hive.web"));
        assert_eq!(s.properties.get("b").map(String::as_str), Some("x y,z"));
        assert!(!s.properties.contains_key("old"));
        assert_eq!(s.roles["hive"], "ROLE{admin}");
        assert_eq!(s.prepared_statements["my q"], "SELECT 1");
        assert_eq!(s.transaction_id.as_deref(), Some("tx-1"));
        let sent = s.headers().unwrap();
        assert_eq!(sent["x-trino-user"], "bob");
        assert_eq!(sent["x-trino-original-user"], "alice");

        let mut h = HeaderMap::new();
        h.insert("x-trino-deallocated-prepare", "my+q".parse().unwrap());
        h.insert("x-trino-clear-transaction-id", "true".parse().unwrap());
        h.insert("x-trino-reset-authorization-user", "true".parse().unwrap());
        s.apply_response_headers(&h);
        assert!(s.prepared_statements.is_empty());
        assert_eq!(s.transaction_id, None);
        assert_eq!(s.authorization_user, None);
    }
}
