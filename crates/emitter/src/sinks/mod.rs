//! The places audits go. A plain enum selects the sink; each kind lives in its own folder with
//! its config, its delivery code and its tests. A sink only attempts one delivery and says how it
//! went ([`AttemptOutcome`]); retries, parking and the ledger are the pipeline's business.

pub mod file;
pub mod kafka;
pub mod stdout;
pub mod syslog;
pub mod webhook;

use std::time::Duration;

use common::kafka::KafkaConfig;
use schema::v1::AuditEvent;

use crate::config::{SinkConfig, SinkKind};
use crate::Result;

/// Whose fault a failed attempt was, as `audit.dlq` records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Network, timeout, 5xx: worth retrying.
    Ours,
    /// A 4xx: the receiver refused this audit.
    Receiver,
}

impl ErrorClass {
    pub fn word(self) -> &'static str {
        match self {
            ErrorClass::Ours => "ours",
            ErrorClass::Receiver => "receiver",
        }
    }
}

/// How a failed attempt should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Try again later (network, timeout, 5xx, 408, 429).
    Transient,
    /// This audit will never be accepted (4xx other than 408/410/429).
    Permanent,
    /// The endpoint asked to be disabled (410 Gone).
    Gone,
}

/// A failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptFailure {
    pub kind: FailureKind,
    pub class: ErrorClass,
    /// HTTP status, 0 when there was none.
    pub status: u32,
    pub error: String,
    /// The receiver's `Retry-After`.
    pub retry_after: Option<Duration>,
}

impl AttemptFailure {
    /// A network-level failure: our side, retried.
    pub fn transient(error: impl std::fmt::Display) -> Self {
        AttemptFailure {
            kind: FailureKind::Transient,
            class: ErrorClass::Ours,
            status: 0,
            error: error.to_string(),
            retry_after: None,
        }
    }
}

/// What one delivery attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The sink acknowledged the audit (2xx, or written and flushed).
    Delivered {
        status: u32,
    },
    Failed(AttemptFailure),
}

/// A configured sink, ready to deliver.
pub enum Sink {
    Webhook(webhook::WebhookSink),
    Syslog(syslog::SyslogSink),
    Kafka(kafka::KafkaSink),
    Stdout(stdout::StdoutSink),
    File(file::FileSink),
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Sink::Webhook(_) => "Sink::Webhook",
            Sink::Syslog(_) => "Sink::Syslog",
            Sink::Kafka(_) => "Sink::Kafka",
            Sink::Stdout(_) => "Sink::Stdout",
            Sink::File(_) => "Sink::File",
        })
    }
}

impl Sink {
    pub async fn build(config: &SinkConfig, kafka: &KafkaConfig) -> Result<Sink> {
        Ok(match &config.kind {
            SinkKind::Webhook(c) => Sink::Webhook(webhook::WebhookSink::new(c)?),
            SinkKind::Syslog(c) => Sink::Syslog(syslog::SyslogSink::new(c)?),
            SinkKind::Kafka(c) => Sink::Kafka(kafka::KafkaSink::new(c, kafka).await?),
            SinkKind::Stdout => Sink::Stdout(stdout::StdoutSink::default()),
            SinkKind::File(c) => Sink::File(file::FileSink::open(c).await?),
        })
    }

    /// One attempt to deliver `audit`, whose JSON (after the sink's filters) is `body`.
    pub async fn deliver(&self, audit: &AuditEvent, body: &[u8]) -> AttemptOutcome {
        match self {
            Sink::Webhook(s) => s.deliver(audit, body).await,
            Sink::Syslog(s) => s.deliver(audit, body).await,
            Sink::Kafka(s) => s.deliver(audit, body).await,
            Sink::Stdout(s) => s.deliver(body).await,
            Sink::File(s) => s.deliver(body).await,
        }
    }
}
