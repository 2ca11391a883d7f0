//! The audit JSON on a Kafka topic, keyed by the record's partition key, for subscribers that
//! do not read protobuf.

mod config;

pub use config::KafkaSinkConfig;

use std::time::Duration;

use common::kafka::KafkaConfig;
use common::topics::TopicSpec;
use rdkafka::producer::{FutureProducer, FutureRecord};
use schema::v1::AuditEvent;

use super::{AttemptFailure, AttemptOutcome};
use crate::Result;

pub struct KafkaSink {
    producer: FutureProducer,
    topic: String,
}

impl KafkaSink {
    /// Creates the topic when missing (the binary creates only the pipeline's own topics).
    pub async fn new(config: &KafkaSinkConfig, kafka: &KafkaConfig) -> Result<Self> {
        let topic = format!("{}{}", kafka.topic_prefix, config.topic);
        kafka
            .ensure_topics(&[TopicSpec {
                name: topic.clone(),
                partitions: kafka.partitions,
                compacted: false,
            }])
            .await?;
        Ok(KafkaSink {
            producer: kafka.producer()?,
            topic,
        })
    }

    pub async fn deliver(&self, audit: &AuditEvent, body: &[u8]) -> AttemptOutcome {
        let record = FutureRecord::to(&self.topic)
            .key(&audit.record_key)
            .payload(body);
        // The producer's own message.timeout bounds the wait.
        match self.producer.send(record, Duration::from_secs(5)).await {
            Ok(_) => AttemptOutcome::Delivered { status: 0 },
            Err((e, _)) => AttemptOutcome::Failed(AttemptFailure::transient(e)),
        }
    }
}
