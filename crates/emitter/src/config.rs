//! The `[emitter]` section: the consumer group, the retry schedule and the sinks.

use std::time::Duration;

use serde::Deserialize;

use crate::filter::AuditFilter;
use crate::sinks::file::FileConfig;
use crate::sinks::kafka::KafkaSinkConfig;
use crate::sinks::syslog::SyslogConfig;
use crate::sinks::webhook::WebhookConfig;

/// `[emitter]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmitterConfig {
    pub group_id: String,
    #[serde(with = "humantime_serde")]
    pub ledger_retention: Duration,
    pub retry: RetryConfig,
    #[serde(default)]
    pub sinks: Vec<SinkConfig>,
}

impl EmitterConfig {
    pub fn sink(&self, name: &str) -> Option<&SinkConfig> {
        self.sinks.iter().find(|s| s.name == name)
    }

    /// Rejects configurations that parse but cannot run (duplicate names, zero concurrency).
    pub fn validate(&self) -> crate::Result<()> {
        let mut names = std::collections::HashSet::new();
        for s in &self.sinks {
            if s.name.is_empty() || s.name.contains('/') {
                return Err(crate::Error::Config(format!(
                    "sink name {:?} must be non-empty and without '/'",
                    s.name
                )));
            }
            if !names.insert(s.name.as_str()) {
                return Err(crate::Error::Config(format!(
                    "two sinks are named {}",
                    s.name
                )));
            }
            if s.concurrency == 0 || s.queue_capacity == 0 {
                return Err(crate::Error::Config(format!(
                    "sink {}: concurrency and queue_capacity must be > 0",
                    s.name
                )));
            }
        }
        if self.retry.max_attempts == 0 {
            return Err(crate::Error::Config(
                "retry.max_attempts must be > 0".into(),
            ));
        }
        Ok(())
    }
}

/// `[emitter.retry]`: exponential backoff with full jitter, bounded by attempts and age.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    #[serde(with = "humantime_serde")]
    pub initial_delay: Duration,
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    pub max_attempts: u32,
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    #[serde(with = "humantime_serde")]
    pub disable_after: Duration,
}

/// Which audit topic a sink reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Stream {
    /// Collated audits.
    #[serde(rename = "audit")]
    Audit,
    /// Every change as its own audit.
    #[serde(rename = "audit.live")]
    AuditLive,
}

impl Stream {
    pub fn topic(self, topics: &common::topics::Topics) -> String {
        match self {
            Stream::Audit => topics.audit.clone(),
            Stream::AuditLive => topics.audit_live.clone(),
        }
    }
}

/// The kind-specific part of a sink.
#[derive(Debug, Clone)]
pub enum SinkKind {
    Webhook(WebhookConfig),
    Syslog(SyslogConfig),
    Kafka(KafkaSinkConfig),
    Stdout,
    File(FileConfig),
}

impl SinkKind {
    pub fn word(&self) -> &'static str {
        match self {
            SinkKind::Webhook(_) => "webhook",
            SinkKind::Syslog(_) => "syslog",
            SinkKind::Kafka(_) => "kafka",
            SinkKind::Stdout => "stdout",
            SinkKind::File(_) => "file",
        }
    }
}

/// One `[[emitter.sinks]]` entry: common keys plus the keys of its `kind`, all in one table.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "toml::Table")]
pub struct SinkConfig {
    pub name: String,
    pub stream: Stream,
    pub filter: AuditFilter,
    pub queue_capacity: usize,
    pub concurrency: usize,
    pub kind: SinkKind,
}

/// The keys every sink takes; the rest of the table belongs to the kind.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommonKeys {
    name: String,
    kind: String,
    stream: Stream,
    #[serde(default)]
    workspaces: Vec<String>,
    #[serde(default)]
    record_types: Vec<String>,
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    fields: Vec<String>,
    #[serde(default = "default_queue_capacity")]
    queue_capacity: usize,
    #[serde(default = "default_concurrency")]
    concurrency: usize,
}

fn default_queue_capacity() -> usize {
    10_000
}

fn default_concurrency() -> usize {
    4
}

const COMMON_KEYS: [&str; 9] = [
    "name",
    "kind",
    "stream",
    "workspaces",
    "record_types",
    "users",
    "fields",
    "queue_capacity",
    "concurrency",
];

impl TryFrom<toml::Table> for SinkConfig {
    type Error = String;

    fn try_from(mut table: toml::Table) -> Result<Self, String> {
        let mut common = toml::Table::new();
        for key in COMMON_KEYS {
            if let Some(v) = table.remove(key) {
                common.insert(key.to_owned(), v);
            }
        }
        let c: CommonKeys = toml::Value::Table(common)
            .try_into()
            .map_err(|e| format!("sink: {e}"))?;
        let rest = toml::Value::Table(table);
        let err = |e: toml::de::Error| format!("sink {} ({}): {e}", c.name, c.kind);
        let kind = match c.kind.as_str() {
            "webhook" => SinkKind::Webhook(rest.try_into().map_err(err)?),
            "syslog" => SinkKind::Syslog(rest.try_into().map_err(err)?),
            "kafka" => SinkKind::Kafka(rest.try_into().map_err(err)?),
            "file" => SinkKind::File(rest.try_into().map_err(err)?),
            "stdout" => {
                if let Some(key) = rest.as_table().and_then(|t| t.keys().next()) {
                    return Err(format!(
                        "sink {}: unknown key {key} for kind stdout",
                        c.name
                    ));
                }
                SinkKind::Stdout
            }
            other => {
                return Err(format!(
                    "sink {}: unknown kind {other:?} (webhook, syslog, kafka, stdout, file)",
                    c.name
                ))
            }
        };
        Ok(SinkConfig {
            name: c.name,
            stream: c.stream,
            filter: AuditFilter {
                workspaces: c.workspaces,
                record_types: c.record_types,
                users: c.users,
                fields: c.fields,
            },
            queue_capacity: c.queue_capacity,
            concurrency: c.concurrency,
            kind,
        })
    }
}

#[cfg(test)]
mod tests;
