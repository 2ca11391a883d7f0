use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Keys of a `kind = "syslog"` sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    /// `host:port` of the collector.
    pub address: String,
    /// RFC 5425 TLS when true, plain TCP otherwise.
    #[serde(default)]
    pub tls: bool,
    /// PEM CA certificates trusted for the collector; default: the public web roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Name checked against the collector's certificate; default: the host of `address`.
    #[serde(default)]
    pub server_name: Option<String>,
    #[serde(default)]
    pub format: BodyFormat,
    /// RFC 5424 facility, 0..=23 (13 = log audit).
    #[serde(default = "default_facility")]
    pub facility: u8,
    /// RFC 5424 severity, 0..=7 (5 = notice).
    #[serde(default = "default_severity")]
    pub severity: u8,
    #[serde(default = "default_app_name")]
    pub app_name: String,
    /// HOSTNAME field; default: this machine's `HOSTNAME`, else "-".
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    #[serde(default = "default_write_timeout", with = "humantime_serde")]
    pub write_timeout: Duration,
}

/// The MSG part of each syslog message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    /// The audit JSON, as webhooks receive it.
    #[default]
    Json,
    /// ArcSight Common Event Format.
    Cef,
}

fn default_facility() -> u8 {
    13
}

fn default_severity() -> u8 {
    5
}

fn default_app_name() -> String {
    "auditstream".to_owned()
}

fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}

fn default_write_timeout() -> Duration {
    Duration::from_secs(10)
}
