//! Where ingest writes: `raw` (normalized events), `raw.rejected` (refused requests) and
//! `integration.log` (what an operator reads). Every write that an answer depends on is
//! awaited until the broker's delivery report.

use std::time::Duration;

use common::integration_log::IntegrationLog;
use common::topics::Topics;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use schema::v1::{IntegrationLogEntry, LogLevel, RawEvent, RejectedRequest};
use schema::Message;

use crate::metrics::PRODUCE_ERRORS_TOTAL;

/// The ingest role's Kafka writer.
#[derive(Clone)]
pub struct Store {
    producer: FutureProducer,
    topics: Topics,
    log: IntegrationLog,
}

impl Store {
    pub fn new(producer: FutureProducer, topics: Topics) -> Self {
        let log = IntegrationLog::new(producer.clone(), topics.integration_log.clone());
        Store {
            producer,
            topics,
            log,
        }
    }

    /// Writes a normalized event to `raw`, keyed by its partition key, and waits for the
    /// broker's acknowledgement.
    pub async fn write_raw(&self, event: &RawEvent) -> Result<(), KafkaError> {
        self.send(
            &self.topics.raw,
            &event.partition_key,
            event.encode_to_vec(),
        )
        .await
    }

    /// Writes a refused request to `raw.rejected`, keyed by integration.
    pub async fn write_rejected(&self, rejected: &RejectedRequest) -> Result<(), KafkaError> {
        self.send(
            &self.topics.raw_rejected,
            &rejected.integration_id,
            rejected.encode_to_vec(),
        )
        .await
    }

    async fn send(&self, topic: &str, key: &str, payload: Vec<u8>) -> Result<(), KafkaError> {
        // A zero queue timeout: when the producer's queue is full the answer is an immediate
        // 503 (Jira retries), not a request parked until memory frees up.
        let record = FutureRecord::to(topic).key(key).payload(&payload);
        match self.producer.send(record, Duration::ZERO).await {
            Ok(_) => Ok(()),
            Err((e, _)) => {
                metrics::counter!(PRODUCE_ERRORS_TOTAL, "topic" => topic_label(&self.topics, topic)).increment(1);
                Err(e)
            }
        }
    }

    /// Writes an `integration.log` entry and waits for it; a failure is logged and counted,
    /// since the entry describes data that is stored (or refused) elsewhere.
    pub async fn log(&self, entry: IntegrationLogEntry) {
        if let Err(e) = self.log.write(entry).await {
            metrics::counter!(PRODUCE_ERRORS_TOTAL, "topic" => "integration.log").increment(1);
            tracing::warn!(error = %e, "integration.log entry not written");
        }
    }

    /// Writes an `integration.log` entry in the background.
    pub fn log_later(&self, entry: IntegrationLogEntry) {
        self.log.spawn_write(entry);
    }

    /// Is the broker reachable, with the topics ingest writes to?
    pub async fn check_ready(&self, timeout: Duration) -> Result<(), String> {
        let producer = self.producer.clone();
        let wanted = [
            self.topics.raw.clone(),
            self.topics.raw_rejected.clone(),
            self.topics.integration_log.clone(),
        ];
        tokio::task::spawn_blocking(move || {
            let metadata = producer
                .client()
                .fetch_metadata(None, timeout)
                .map_err(|e| format!("broker unreachable: {e}"))?;
            for topic in &wanted {
                let exists = metadata.topics().iter().any(|t| {
                    t.name() == topic && t.error().is_none() && !t.partitions().is_empty()
                });
                if !exists {
                    return Err(format!("topic {topic} does not exist"));
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| format!("readiness check failed: {e}"))?
    }

    /// Waits (bounded) for every queued write to be acknowledged: the last step of shutdown.
    pub async fn flush(&self, timeout: Duration) {
        let producer = self.producer.clone();
        let flushed = tokio::task::spawn_blocking(move || producer.flush(timeout)).await;
        match flushed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "producer not flushed at shutdown"),
            Err(e) => tracing::warn!(error = %e, "producer flush task failed"),
        }
    }
}

fn topic_label(topics: &Topics, topic: &str) -> &'static str {
    if topic == topics.raw {
        "raw"
    } else if topic == topics.raw_rejected {
        "raw.rejected"
    } else {
        "other"
    }
}

/// An `integration.log` entry from ingest.
pub fn log_entry(
    level: LogLevel,
    integration_id: &str,
    code: &str,
    status: u16,
    message: String,
) -> IntegrationLogEntry {
    IntegrationLogEntry {
        level: level as i32,
        component: "ingest".into(),
        integration_id: integration_id.to_owned(),
        code: code.to_owned(),
        status: u32::from(status),
        message,
        ..Default::default()
    }
}
