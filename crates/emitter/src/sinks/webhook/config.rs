use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

/// Keys of a `kind = "webhook"` sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    /// `whsec_...` secrets; each request carries one signature per secret. Empty: unsigned.
    #[serde(default)]
    pub secrets: Vec<String>,
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    #[serde(default = "default_request_timeout", with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Requests per second to this endpoint; 0 means unlimited.
    #[serde(default)]
    pub rate_limit_per_second: u32,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(15)
}
