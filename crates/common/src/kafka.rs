//! Kafka client settings and idempotent topic setup. Every librdkafka property auditstream
//! forces is set here, with the reason beside it; anything else passes through from the
//! `[kafka.options]` table (SASL, SSL, tuning).

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::FutureProducer;
use serde::Deserialize;

use crate::topics::{TopicSpec, Topics};
use crate::{Error, Result};

/// librdkafka's other name for `linger.ms`.
const LINGER_ALIAS: &str = "queue.buffering.max.ms";

/// `[kafka]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// `host:port,...`; empty means "start the embedded broker" (only `run` and `demo` can).
    #[serde(default)]
    pub brokers: String,
    #[serde(default)]
    pub topic_prefix: String,
    /// Partitions of `raw`, `collator-state`, `audit` and the other keyed topics.
    pub partitions: i32,
    pub replication_factor: i32,
    /// Wrap each collator batch (audits, state, offsets) in a Kafka transaction. Needs a broker
    /// that hides aborted transactions from `read_committed` consumers (Apache Kafka does).
    /// Correctness never rests on it: outputs are deterministic and state updates idempotent.
    #[serde(default)]
    pub transactions: bool,
    /// How long a produce may wait for the broker before it counts as failed.
    #[serde(with = "humantime_serde")]
    pub message_timeout: Duration,
    /// Any librdkafka property, passed through to every client (e.g.
    /// `"security.protocol" = "SASL_SSL"`).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// librdkafka properties for producers only (e.g. `"compression.type" = "lz4"`): a
    /// producer-only property in `options` makes every consumer log a configuration warning.
    #[serde(default)]
    pub producer_options: BTreeMap<String, String>,
    /// librdkafka properties for consumers only (group members and the readers that restore
    /// state), e.g. `"fetch.max.bytes"`.
    #[serde(default)]
    pub consumer_options: BTreeMap<String, String>,
}

impl KafkaConfig {
    pub fn topics(&self) -> Topics {
        Topics::with_prefix(&self.topic_prefix)
    }

    /// Base client settings shared by every client: brokers and the passthrough options.
    pub fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers);
        for (k, v) in &self.options {
            c.set(k, v);
        }
        c
    }

    /// A producer that never acknowledges a write the cluster could lose, and gives up on a
    /// write after `message_timeout` (ingest: it must answer Jira while the broker is away).
    pub fn producer_config(&self) -> ClientConfig {
        self.producer_config_giving_up_after(self.message_timeout.as_millis())
    }

    pub fn producer(&self) -> Result<FutureProducer> {
        create_producer(&self.producer_config())
    }

    /// [`producer`](Self::producer), writing lz4-compressed batches unless the user chose a
    /// compression. Ingest's: many small writes from concurrent requests, where a broker takes
    /// a compressed batch as one blob (BENCHMARKS-HISTORY.md, fourth pass: the broker's CPU per
    /// webhook written fell from 26–28 to 4–6 µs on tansu). Not the collator's: compressing its
    /// larger output cost it more CPU than the broker saved.
    pub fn compressed_producer(&self) -> Result<FutureProducer> {
        create_producer(&self.compressed_producer_config())
    }

    fn compressed_producer_config(&self) -> ClientConfig {
        let mut c = self.producer_config();
        if !self.producer_sets("compression.type") && !self.producer_sets("compression.codec") {
            c.set("compression.type", "lz4");
        }
        c
    }

    /// True when the user set `property` for producers (in `options` or `producer_options`).
    pub fn producer_sets(&self, property: &str) -> bool {
        self.options.contains_key(property) || self.producer_options.contains_key(property)
    }

    /// A producer for a role with nobody to answer while the broker is away (the collator, the
    /// emitter's own topics): it never gives up on a write (`message.timeout.ms = 0`, librdkafka
    /// retries until the broker is back), so a broker outage or restart pauses the role instead
    /// of stopping it. A transactional producer keeps `message_timeout`: librdkafka requires it
    /// to be within the transaction timeout. Options set in `[kafka.options]` still win.
    pub fn patient_producer_config(&self) -> ClientConfig {
        if self.transactions {
            self.producer_config()
        } else {
            self.producer_config_giving_up_after(0)
        }
    }

    pub fn patient_producer(&self) -> Result<FutureProducer> {
        create_producer(&self.patient_producer_config())
    }

    /// The producer settings, with `message.timeout.ms` (0: never give up).
    fn producer_config_giving_up_after(&self, message_timeout_ms: u128) -> ClientConfig {
        let mut c = self.client_config();
        // Durability: a write counts only once every in-sync replica has it.
        c.set("acks", "all");
        // Retries never duplicate or reorder a partition's records.
        c.set("enable.idempotence", "true");
        // Small batches: latency matters more than the last percent of throughput. Not when
        // the user set its alias: librdkafka would take whichever of the two came last.
        if !self.producer_sets(LINGER_ALIAS) {
            c.set("linger.ms", "5");
        }
        // Keys land where Java clients put them (murmur2), so any client can co-partition.
        c.set("partitioner", "murmur2_random");
        c.set("message.timeout.ms", message_timeout_ms.to_string());
        for (k, v) in self.options.iter().chain(&self.producer_options) {
            c.set(k, v);
        }
        c
    }

    /// A consumer-group member that commits only what its caller says is done.
    pub fn consumer_config(&self, group_id: &str) -> ClientConfig {
        let mut c = self.client_config();
        c.set("group.id", group_id);
        // Offsets are committed by the role once the outputs they depend on are acknowledged.
        c.set("enable.auto.commit", "false");
        c.set("enable.auto.offset.store", "false");
        // A new group reads the whole topic: the raw topic is the source of truth.
        c.set("auto.offset.reset", "earliest");
        // Partitions move one at a time when members join or leave, state following.
        c.set("partition.assignment.strategy", "cooperative-sticky");
        // Partition EOF tells a consumer it is caught up (watermarks), cheaper than ListOffsets.
        c.set("enable.partition.eof", "true");
        // A backlog larger than the prefetch queue (`queued.max.messages.kbytes`, 64 MiB) is
        // fetched again as soon as the queue has room, not after librdkafka's default pause
        // of a second: that pause left a collator catching up idle a third of the time.
        c.set("fetch.queue.backoff.ms", "10");
        // A dead member's partitions move within seconds; also speeds up the first join.
        c.set("session.timeout.ms", "6000");
        c.set("heartbeat.interval.ms", "1000");
        // Never read records of an open or aborted transaction when transactions are in use.
        c.set("isolation.level", "read_committed");
        for (k, v) in self.options.iter().chain(&self.consumer_options) {
            c.set(k, v);
        }
        c
    }

    /// True when the user set `property` for consumers (in `options` or `consumer_options`):
    /// a role's own default for it then yields.
    pub fn consumer_sets(&self, property: &str) -> bool {
        self.options.contains_key(property) || self.consumer_options.contains_key(property)
    }

    /// Creates the missing topics; existing ones are left alone (creation is idempotent).
    pub async fn ensure_topics(&self, specs: &[TopicSpec]) -> Result<()> {
        let missing = self.missing_topics(specs).await?;
        if missing.is_empty() {
            return Ok(());
        }
        let admin: AdminClient<DefaultClientContext> = self
            .client_config()
            .create()
            .map_err(|e| Error::kafka("creating admin client", e))?;
        let compact = [("cleanup.policy", "compact")];
        let new: Vec<NewTopic> = missing
            .iter()
            .map(|s| {
                let t = NewTopic::new(
                    &s.name,
                    s.partitions,
                    TopicReplication::Fixed(self.replication_factor),
                );
                if s.compacted {
                    compact.iter().fold(t, |t, (k, v)| t.set(k, v))
                } else {
                    t
                }
            })
            .collect();
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(15)));
        let results = admin
            .create_topics(&new, &opts)
            .await
            .map_err(|e| Error::kafka("creating topics", e))?;
        for r in results {
            match r {
                Ok(name) => tracing::info!(topic = %name, "created topic"),
                Err((name, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {
                    tracing::debug!(topic = %name, "topic already exists")
                }
                Err((name, code)) => {
                    return Err(Error::kafka(
                        format!("creating topic {name}"),
                        rdkafka::error::KafkaError::AdminOp(code),
                    ))
                }
            }
        }
        Ok(())
    }

    async fn missing_topics(&self, specs: &[TopicSpec]) -> Result<Vec<TopicSpec>> {
        let config = self.client_config();
        let specs = specs.to_vec();
        tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = config.create().map_err(|e| Error::kafka("creating metadata client", e))?;
            let metadata = consumer
                .fetch_metadata(None, Duration::from_secs(10))
                .map_err(|e| Error::kafka("fetching metadata", e))?;
            let mut missing = Vec::new();
            for spec in specs {
                match metadata.topics().iter().find(|t| t.name() == spec.name && t.error().is_none()) {
                    Some(t) if !t.partitions().is_empty() => {
                        let actual = t.partitions().len() as i32;
                        if actual != spec.partitions {
                            tracing::warn!(topic = %spec.name, actual, expected = spec.partitions, "topic exists with another partition count");
                        }
                    }
                    _ => missing.push(spec),
                }
            }
            Ok(missing)
        })
        .await
        .map_err(|e| Error::Config(format!("metadata task failed: {e}")))?
    }

    /// Partition count of a topic, as the cluster reports it.
    pub fn partition_count(&self, topic: &str) -> Result<i32> {
        let consumer: BaseConsumer = self
            .client_config()
            .create()
            .map_err(|e| Error::kafka("creating metadata client", e))?;
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .map_err(|e| Error::kafka("fetching metadata", e))?;
        let count = metadata
            .topics()
            .first()
            .map(|t| t.partitions().len() as i32)
            .unwrap_or(0);
        if count == 0 {
            return Err(Error::Config(format!("topic {topic} does not exist")));
        }
        Ok(count)
    }
}

/// Consumer context for consumers that read partition EOF as their caught-up signal:
/// librdkafka also hands every EOF to the context's error callback as a "global error", which
/// the default context logs at ERROR. Here EOF is traced; every other error still logs as ERROR.
#[derive(Debug, Default, Clone, Copy)]
pub struct QuietEof;

impl rdkafka::client::ClientContext for QuietEof {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        if matches!(
            error,
            rdkafka::error::KafkaError::Global(rdkafka::types::RDKafkaErrorCode::PartitionEOF)
        ) {
            tracing::trace!(reason, "partition EOF");
        } else {
            tracing::error!(error = %error, reason, "librdkafka error");
        }
    }
}

impl rdkafka::consumer::ConsumerContext for QuietEof {}

fn create_producer(config: &ClientConfig) -> Result<FutureProducer> {
    config
        .create()
        .map_err(|e| Error::kafka("creating producer", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> KafkaConfig {
        let table = |k: &str, v: &str| BTreeMap::from([(k.to_owned(), v.to_owned())]);
        KafkaConfig {
            brokers: "127.0.0.1:9092".into(),
            topic_prefix: String::new(),
            partitions: 1,
            replication_factor: 1,
            transactions: false,
            message_timeout: Duration::from_secs(10),
            options: table("security.protocol", "SSL"),
            producer_options: table("compression.type", "lz4"),
            consumer_options: table("fetch.max.bytes", "1048576"),
        }
    }

    #[test]
    fn producer_and_consumer_options_reach_only_their_clients() {
        let kafka = config();
        for producer in [kafka.producer_config(), kafka.patient_producer_config()] {
            assert_eq!(producer.get("security.protocol"), Some("SSL"));
            assert_eq!(producer.get("compression.type"), Some("lz4"));
            assert_eq!(producer.get("fetch.max.bytes"), None);
        }
        let consumer = kafka.consumer_config("group");
        assert_eq!(consumer.get("security.protocol"), Some("SSL"));
        assert_eq!(consumer.get("fetch.max.bytes"), Some("1048576"));
        assert_eq!(consumer.get("compression.type"), None);
    }

    #[test]
    fn a_users_option_wins_over_a_forced_setting() {
        let mut kafka = config();
        kafka
            .producer_options
            .insert("linger.ms".into(), "20".into());
        kafka
            .consumer_options
            .insert("fetch.queue.backoff.ms".into(), "100".into());
        assert_eq!(kafka.producer_config().get("linger.ms"), Some("20"));
        assert_eq!(
            kafka.consumer_config("g").get("fetch.queue.backoff.ms"),
            Some("100")
        );
        assert!(kafka.consumer_sets("fetch.max.bytes"));
        assert!(kafka.producer_sets("compression.type"));
        kafka
            .producer_options
            .insert("compression.type".into(), "zstd".into());
        let compressed = kafka.compressed_producer_config();
        assert_eq!(compressed.get("compression.type"), Some("zstd"));
        kafka.producer_options.clear();
        assert!(!kafka.producer_sets("compression.type"));
        let compressed = kafka.compressed_producer_config();
        assert_eq!(compressed.get("compression.type"), Some("lz4"));
        assert_eq!(kafka.producer_config().get("compression.type"), None);
        assert_eq!(kafka.producer_config().get("linger.ms"), Some("5"));
        kafka.options.insert(LINGER_ALIAS.into(), "1".into());
        let aliased = kafka.producer_config();
        assert_eq!(aliased.get("linger.ms"), None);
        assert_eq!(aliased.get(LINGER_ALIAS), Some("1"));
        assert!(!kafka.consumer_sets("fetch.wait.max.ms"));
    }
}
