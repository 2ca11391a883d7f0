//! The `[ingest]` configuration section and its integrations.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::Error;

/// The documented defaults of the `[ingest]` section.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// Shortest accepted token: 22 characters hold 128 bits in URL-safe base64.
pub const MIN_TOKEN_LEN: usize = 22;

/// `[ingest]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    pub listen: String,
    #[serde(default)]
    pub metrics_listen: Option<String>,
    pub max_body_bytes: usize,
    pub max_json_depth: usize,
    pub max_in_flight: usize,
    #[serde(with = "humantime_serde")]
    pub retry_after: Duration,
    #[serde(with = "humantime_serde")]
    pub readiness_timeout: Duration,
    /// Bound on reading a request's headers (per request), its body, and a TLS handshake.
    #[serde(default = "default_request_read_timeout", with = "humantime_serde")]
    pub request_read_timeout: Duration,
    /// PEM certificate chain; with `tls_key`, `listen` serves HTTPS.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `tls_cert`.
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    #[serde(default)]
    pub integrations: Vec<IntegrationConfig>,
}

/// The documented default, for configurations written before the key existed.
fn default_request_read_timeout() -> Duration {
    Duration::from_secs(10)
}

/// One Jira webhook URL and what it may do.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationConfig {
    pub id: String,
    pub token: String,
    /// When set, every request must carry a valid `X-Hub-Signature`.
    #[serde(default)]
    pub secret: Option<String>,
    /// The roadmap user whose permissions the integration writes with.
    #[serde(default)]
    pub run_as: String,
    /// The Jira site, e.g. `https://acme.atlassian.net`; else derived from `self` URLs.
    #[serde(default)]
    pub jira_site: Option<String>,
    /// Jira project key or id → roadmap workspace.
    #[serde(default)]
    pub projects: BTreeMap<String, String>,
    /// Workspaces `run_as` may write; `None` means every mapped workspace.
    #[serde(default)]
    pub writable_workspaces: Option<Vec<String>>,
    #[serde(default)]
    pub filters: ScopeFilters,
}

/// Which events an integration forwards. An empty list lets everything through.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeFilters {
    #[serde(default)]
    pub projects: Vec<String>,
    #[serde(default)]
    pub issue_types: Vec<String>,
    #[serde(default)]
    pub events: Vec<String>,
}

impl IngestConfig {
    /// Checks what serde cannot: unique ids and tokens, tokens long enough to be unguessable.
    pub fn validate(&self) -> Result<(), Error> {
        let mut ids = std::collections::HashSet::new();
        let mut tokens = std::collections::HashSet::new();
        for i in &self.integrations {
            if i.id.is_empty() {
                return Err(Error::Config("an integration has an empty id".into()));
            }
            if !ids.insert(&i.id) {
                return Err(Error::Config(format!(
                    "integration id {} is used twice",
                    i.id
                )));
            }
            if i.token.len() < MIN_TOKEN_LEN {
                return Err(Error::Config(format!(
                    "integration {}: token must be at least {MIN_TOKEN_LEN} characters (128 bits)",
                    i.id
                )));
            }
            if !tokens.insert(&i.token) {
                return Err(Error::Config(format!(
                    "integration {}: token is used by another integration",
                    i.id
                )));
            }
            if i.secret.as_deref() == Some("") {
                return Err(Error::Config(format!(
                    "integration {}: secret is empty",
                    i.id
                )));
            }
        }
        if self.max_in_flight == 0 || self.max_body_bytes == 0 || self.max_json_depth == 0 {
            return Err(Error::Config(
                "max_in_flight, max_body_bytes and max_json_depth must be positive".into(),
            ));
        }
        if self.request_read_timeout.is_zero() {
            return Err(Error::Config(
                "request_read_timeout must be positive".into(),
            ));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(Error::Config(
                "tls_cert and tls_key go together: set both for HTTPS, or neither".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Doc {
        ingest: IngestConfig,
    }

    #[test]
    fn default_toml_parses_and_validates() {
        let doc: Doc = toml::from_str(DEFAULT_TOML).unwrap();
        assert_eq!(doc.ingest.listen, "0.0.0.0:8080");
        assert_eq!(doc.ingest.max_body_bytes, 10 * 1024 * 1024);
        assert_eq!(doc.ingest.retry_after, Duration::from_secs(30));
        assert_eq!(doc.ingest.request_read_timeout, Duration::from_secs(10));
        assert!(doc.ingest.tls_cert.is_none() && doc.ingest.tls_key.is_none());
        assert!(doc.ingest.integrations.is_empty());
        doc.ingest.validate().unwrap();
    }

    #[test]
    fn documented_integration_example_parses() {
        // The commented example in default.toml, uncommented, must stay valid.
        let example: String = DEFAULT_TOML
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .skip_while(|l| !l.starts_with("[[ingest.integrations]]"))
            .map(|l| format!("{l}\n"))
            .collect();
        let text = DEFAULT_TOML.replace("integrations = []", "") + &example;
        let doc: Doc = toml::from_str(&text).unwrap();
        let i = &doc.ingest.integrations[0];
        assert_eq!(i.projects["KT"], "PLAT");
        assert_eq!(i.filters.issue_types, ["Bug", "Story"]);
        doc.ingest.validate().unwrap();
    }

    #[test]
    fn short_or_duplicate_tokens_are_refused() {
        let mut doc: Doc = toml::from_str(DEFAULT_TOML).unwrap();
        let mut i: IntegrationConfig = toml::from_str("id = \"a\"\ntoken = \"short\"").unwrap();
        doc.ingest.integrations.push(i.clone());
        assert!(doc.ingest.validate().is_err());
        i.token = "x".repeat(MIN_TOKEN_LEN);
        doc.ingest.integrations = vec![
            i.clone(),
            IntegrationConfig {
                id: "b".into(),
                ..i
            },
        ];
        assert!(doc
            .ingest
            .validate()
            .unwrap_err()
            .to_string()
            .contains("another integration"));
    }

    #[test]
    fn tls_needs_both_files() {
        let mut doc: Doc = toml::from_str(DEFAULT_TOML).unwrap();
        doc.ingest.tls_cert = Some("cert.pem".into());
        assert!(doc
            .ingest
            .validate()
            .unwrap_err()
            .to_string()
            .contains("tls_key"));
        doc.ingest.tls_key = Some("key.pem".into());
        doc.ingest.validate().unwrap();
    }

    #[test]
    fn documented_tls_example_parses() {
        let text = DEFAULT_TOML
            .replace("# tls_cert = ", "tls_cert = ")
            .replace("# tls_key = ", "tls_key = ");
        let doc: Doc = toml::from_str(&text).unwrap();
        assert!(doc.ingest.tls_cert.is_some() && doc.ingest.tls_key.is_some());
        doc.ingest.validate().unwrap();
    }
}
