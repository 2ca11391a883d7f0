//! Reading a topic from its beginning to its current end, outside any consumer group: how
//! the collator restores state, the emitter restores its delivery ledger and `auditstream log`
//! reads `integration.log`.
//!
//! "The end" is known by partition EOF, not by `ListOffsets`, which some Kafka-protocol
//! brokers answer wrongly.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::{Offset, TopicPartitionList};

use crate::kafka::{KafkaConfig, QuietEof};
use crate::{Error, Result};

/// Reads `partitions` of `topic` (all when `None`) from the beginning until each reports EOF,
/// calling `on_message` for every record. Blocking: call it from `spawn_blocking`.
pub fn read_to_end(
    kafka: &KafkaConfig,
    topic: &str,
    partitions: Option<&[i32]>,
    timeout: Duration,
    mut on_message: impl FnMut(&BorrowedMessage<'_>),
) -> Result<u64> {
    let mut config = kafka.client_config();
    // No group: assignment is manual and nothing is committed.
    config.set(
        "group.id",
        format!("auditstream-reader-{}", std::process::id()),
    );
    config.set("enable.auto.commit", "false");
    config.set("enable.partition.eof", "true");
    config.set("auto.offset.reset", "earliest");
    config.set("isolation.level", "read_committed");
    for (k, v) in &kafka.consumer_options {
        config.set(k, v);
    }
    if !kafka.consumer_sets("fetch.wait.max.ms") {
        // The end is known only once an empty fetch comes back, which the broker holds for
        // this long: librdkafka's 500 ms made restoring an empty partition take 1.6 s, 0.6 s
        // at 20 ms. Fetches with data return at once either way.
        config.set("fetch.wait.max.ms", "20");
    }
    let consumer: BaseConsumer<QuietEof> = config
        .create_with_context(QuietEof)
        .map_err(|e| Error::kafka("creating reader", e))?;
    let all: Vec<i32> = match partitions {
        Some(p) => p.to_vec(),
        None => (0..kafka.partition_count(topic)?).collect(),
    };
    if all.is_empty() {
        return Ok(0);
    }
    let mut tpl = TopicPartitionList::new();
    for p in &all {
        tpl.add_partition_offset(topic, *p, Offset::Beginning)
            .map_err(|e| Error::kafka("assigning", e))?;
    }
    consumer
        .assign(&tpl)
        .map_err(|e| Error::kafka("assigning", e))?;
    let mut pending: HashSet<i32> = all.into_iter().collect();
    let deadline = Instant::now() + timeout;
    let mut count = 0u64;
    while !pending.is_empty() {
        if Instant::now() > deadline {
            return Err(Error::Timeout(format!(
                "reading {topic} to its end ({} partitions left)",
                pending.len()
            )));
        }
        match consumer.poll(Duration::from_millis(200)) {
            None => {}
            Some(Ok(m)) => {
                count += 1;
                on_message(&m);
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                pending.remove(&p);
            }
            Some(Err(e)) => tracing::warn!(topic, error = %e, "reading to end"),
        }
    }
    Ok(count)
}
