//! Reads the audit streams and hands each audit to the lanes of every sink that wants it;
//! commits an offset once every message before it is finished for all its sinks.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::kafka::KafkaConfig;
use common::kafka::QuietEof;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message as _};
use rdkafka::{Offset, TopicPartitionList};
use schema::v1::AuditEvent;
use schema::Message as _;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::lane::{Job, Lanes};
use super::offsets::{Completion, OffsetTracker};
use super::shared::SinkRuntime;
use crate::metrics::COMMITS_TOTAL;
use crate::{Error, Result};

/// How often finished offsets are committed: a kill loses at most this much progress, which
/// only means re-reading audits the ledger then skips.
const COMMIT_INTERVAL: Duration = Duration::from_millis(500);

/// A sink and its lanes, as the dispatcher sees them.
pub struct Target {
    pub sink: Arc<SinkRuntime>,
    pub topic: String,
    pub lanes: Lanes,
}

/// A consumer assigned every partition of `topics`, starting from the group's committed
/// offsets. One emitter per group id: partitions are assigned, not balanced, so in-flight
/// tracking and the parked-record set stay in one process.
pub async fn assigned_consumer(
    kafka: &KafkaConfig,
    group_id: &str,
    topics: &[String],
) -> Result<StreamConsumer<QuietEof>> {
    let consumer: StreamConsumer<QuietEof> = kafka
        .consumer_config(group_id)
        .create_with_context(QuietEof)
        .map_err(|e| Error::kafka("creating consumer", e))?;
    let mut tpl = TopicPartitionList::new();
    for topic in topics {
        let count = {
            let kafka = kafka.clone();
            let topic = topic.clone();
            tokio::task::spawn_blocking(move || kafka.partition_count(&topic))
                .await
                .map_err(Error::Task)??
        };
        for p in 0..count {
            tpl.add_partition_offset(topic, p, Offset::Stored)
                .map_err(|e| Error::kafka("assigning", e))?;
        }
    }
    consumer
        .assign(&tpl)
        .map_err(|e| Error::kafka("assigning", e))?;
    Ok(consumer)
}

pub fn commit(consumer: &StreamConsumer<QuietEof>, tracker: &OffsetTracker, mode: CommitMode) {
    if let Some(tpl) = tracker.take_committable() {
        match consumer.commit(&tpl, mode) {
            Ok(()) => metrics::counter!(COMMITS_TOTAL).increment(1),
            Err(e) => tracing::warn!(error = %e, "commit failed; the next commit covers it"),
        }
    }
}

/// Drops a consumer off the async runtime: librdkafka's close can block (rust-rdkafka #509).
pub async fn close(consumer: StreamConsumer<QuietEof>) {
    let closing = tokio::task::spawn_blocking(move || drop(consumer));
    if tokio::time::timeout(Duration::from_secs(10), closing)
        .await
        .is_err()
    {
        tracing::warn!("consumer close timed out");
    }
}

/// Runs until `shutdown`; then lets the lanes finish the attempt in hand (up to `grace`) before
/// the last commit.
pub async fn dispatch(
    kafka: &KafkaConfig,
    group_id: &str,
    targets: Vec<Target>,
    lanes: TaskTracker,
    grace: Duration,
    shutdown: CancellationToken,
) -> Result<()> {
    let topics: Vec<String> = targets
        .iter()
        .map(|t| t.topic.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if topics.is_empty() {
        tracing::warn!("no sink configured: the emitter has nothing to do");
        shutdown.cancelled().await;
        return Ok(());
    }
    let consumer = assigned_consumer(kafka, group_id, &topics).await?;
    tracing::info!(group_id, topics = ?topics, sinks = targets.len(), "emitter consuming");
    let tracker = Arc::new(OffsetTracker::default());
    let mut ticker = tokio::time::interval(COMMIT_INTERVAL);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = ticker.tick() => commit(&consumer, &tracker, CommitMode::Async),
            m = consumer.recv() => match m {
                Ok(m) => {
                    if !route(&m, &targets, &tracker, &shutdown).await {
                        break;
                    }
                }
                Err(KafkaError::PartitionEOF(_)) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "consuming audits");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
        }
    }
    drop(targets);
    lanes.close();
    if tokio::time::timeout(grace, lanes.wait()).await.is_err() {
        tracing::warn!(
            in_flight = tracker.in_flight(),
            "sinks still busy at shutdown; their audits are handled after restart"
        );
    }
    commit(&consumer, &tracker, CommitMode::Sync);
    close(consumer).await;
    Ok(())
}

/// Hands one message to its sinks. False when shutting down.
async fn route(
    m: &BorrowedMessage<'_>,
    targets: &[Target],
    tracker: &Arc<OffsetTracker>,
    shutdown: &CancellationToken,
) -> bool {
    let (topic, partition, offset) = (m.topic(), m.partition(), m.offset());
    tracker.begin(topic, partition, offset);
    let audit = match AuditEvent::decode(m.payload().unwrap_or_default()) {
        Ok(a) => a,
        Err(e) => {
            // Poison input cannot be delivered anywhere; it stays on the topic for inspection.
            tracing::error!(topic, partition, offset, error = %e, "undecodable audit skipped");
            tracker.finish(topic, partition, offset);
            return true;
        }
    };
    let wanted: Vec<(&Target, AuditEvent)> = targets
        .iter()
        .filter(|t| t.topic == topic)
        .filter_map(|t| t.sink.config.filter.apply(&audit).map(|a| (t, a)))
        .collect();
    if wanted.is_empty() {
        tracker.finish(topic, partition, offset);
        return true;
    }
    let done = Completion::new(tracker.clone(), topic, partition, offset, wanted.len());
    for (target, audit) in wanted {
        let body = schema::audit_json::render(&audit);
        let job = Job {
            audit,
            body,
            done: done.clone(),
        };
        tokio::select! {
            _ = shutdown.cancelled() => return false,
            sent = target.lanes.send(job) => if !sent { return false },
        }
    }
    true
}
