//! Writes [`IntegrationLogEntry`] messages to the `integration.log` topic: what an operator reads
//! to learn why a webhook or a delivery did or did not do something.

use std::time::Duration;

use rdkafka::producer::{FutureProducer, FutureRecord};
use schema::v1::{IntegrationLogEntry, LogLevel};
use schema::Message;

use crate::{Error, Result};

/// Appends entries to `integration.log`, keyed by integration (or sink) so each one's entries
/// stay in order.
#[derive(Clone)]
pub struct IntegrationLog {
    producer: FutureProducer,
    topic: String,
}

impl std::fmt::Debug for IntegrationLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegrationLog")
            .field("topic", &self.topic)
            .finish()
    }
}

impl IntegrationLog {
    pub fn new(producer: FutureProducer, topic: impl Into<String>) -> Self {
        IntegrationLog {
            producer,
            topic: topic.into(),
        }
    }

    /// Writes one entry and waits for the broker's acknowledgement.
    pub async fn write(&self, mut entry: IntegrationLogEntry) -> Result<()> {
        if entry.at_ms == 0 {
            entry.at_ms = schema::now_ms();
        }
        let key = if entry.sink.is_empty() {
            entry.integration_id.clone()
        } else {
            entry.sink.clone()
        };
        let payload = entry.encode_to_vec();
        self.producer
            .send(
                FutureRecord::to(&self.topic).key(&key).payload(&payload),
                Duration::from_secs(5),
            )
            .await
            .map(|_| ())
            .map_err(|(e, _)| Error::kafka("writing integration.log", e))
    }

    /// Writes without waiting; a failure is logged, never propagated (the entry is diagnostics,
    /// the data it describes is stored elsewhere).
    pub fn spawn_write(&self, entry: IntegrationLogEntry) {
        let log = self.clone();
        tokio::spawn(async move {
            if let Err(e) = log.write(entry).await {
                tracing::warn!(error = %e, "integration.log entry not written");
            }
        });
    }
}

/// A level's lower-case word, as `auditstream log` prints and filters it.
pub fn level_word(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Error => "error",
        LogLevel::Warning => "warning",
        LogLevel::Info | LogLevel::Unspecified => "info",
    }
}
