//! Broker, topics, config and raw events for the collator's integration tests.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use collator::{CollatorConfig, DEFAULT_TOML};
use common::embedded::EmbeddedBroker;
use common::kafka::KafkaConfig;
use prost::Message as _;
use rdkafka::message::Message as _;
use rdkafka::producer::{FutureRecord, Producer as _};
use schema::v1::{Action, AuditEvent, FieldChange, RawEvent, RecordRef, User};

pub const SITE: &str = "https://acme.atlassian.net";
pub const PARTITIONS: i32 = 3;

/// A broker with fresh topics. Keeps the embedded broker alive as long as it lives.
pub struct TestKafka {
    pub kafka: KafkaConfig,
    _embedded: Option<EmbeddedBroker>,
}

impl TestKafka {
    /// The embedded broker, when the tests run on it (tests that take the broker down need it).
    pub fn embedded(&self) -> Option<&EmbeddedBroker> {
        self._embedded.as_ref()
    }
}

pub async fn kafka() -> Result<TestKafka> {
    let prefix = format!("t{}.", rand::random::<u32>());
    let mut kafka = KafkaConfig {
        brokers: String::new(),
        topic_prefix: prefix,
        partitions: PARTITIONS,
        replication_factor: 1,
        transactions: false,
        message_timeout: Duration::from_secs(10),
        options: BTreeMap::new(),
        producer_options: Default::default(),
        consumer_options: Default::default(),
    };
    let specs = kafka.topics().specs(PARTITIONS);
    match std::env::var("AUDITSTREAM_TEST_BROKERS") {
        Ok(brokers) if !brokers.is_empty() => {
            kafka.brokers = brokers;
            kafka.ensure_topics(&specs).await?;
            Ok(TestKafka {
                kafka,
                _embedded: None,
            })
        }
        _ => {
            let broker = EmbeddedBroker::start(&specs)?;
            kafka.brokers = broker.bootstrap_servers();
            Ok(TestKafka {
                kafka,
                _embedded: Some(broker),
            })
        }
    }
}

/// The default `[collator]` config with a fresh group and a short gap.
pub fn config(gap: Duration) -> Result<CollatorConfig> {
    #[derive(serde::Deserialize)]
    struct File {
        collator: CollatorConfig,
    }
    let mut c = toml::from_str::<File>(DEFAULT_TOML)?.collator;
    c.group_id = format!("collator-test-{}", rand::random::<u32>());
    c.gap = gap;
    c.tick = Duration::from_millis(50);
    c.arrival_grace = Duration::from_millis(50);
    c.restore_timeout = Duration::from_secs(30);
    Ok(c)
}

pub fn user(id: &str) -> User {
    User {
        id: id.into(),
        name: format!("User {id}"),
        account_id: id.into(),
        ..Default::default()
    }
}

pub fn change(field: &str, from: &str, to: &str) -> FieldChange {
    FieldChange {
        field_id: field.into(),
        field_name: field.into(),
        from: None,
        from_string: Some(from.into()),
        to: None,
        to_string: Some(to.into()),
    }
}

/// A change to issue `issue` (or to one of its comments when `comment` is set).
pub fn raw(
    issue: u32,
    comment: Option<u32>,
    dedup: &str,
    actor: &str,
    received: i64,
    changes: Vec<FieldChange>,
) -> RawEvent {
    let (record, associated) = match comment {
        Some(c) => (
            RecordRef {
                r#type: "comment".into(),
                id: c.to_string(),
            },
            Some(RecordRef {
                r#type: "issue".into(),
                id: issue.to_string(),
            }),
        ),
        None => (
            RecordRef {
                r#type: "issue".into(),
                id: issue.to_string(),
            },
            None,
        ),
    };
    RawEvent {
        integration_id: "jira-1".into(),
        jira_site: SITE.into(),
        received_at_ms: received,
        event_time_ms: received - 50,
        event_name: "jira:issue_updated".into(),
        actor: Some(user(actor)),
        record: Some(record),
        associated,
        action: Action::Update as i32,
        changes,
        dedup_key: format!("{SITE}|{dedup}"),
        partition_key: format!("{SITE}|issue|{issue}"),
        known_event: true,
        ..Default::default()
    }
}

/// A producer to `raw`, connected before the first event is stamped, so `received_at` is
/// close to when the event lands (as ingest's is: it acks only after the broker did).
pub struct RawProducer {
    producer: rdkafka::producer::FutureProducer,
    topic: String,
}

impl RawProducer {
    pub fn connect(kafka: &KafkaConfig) -> Result<Self> {
        let producer = kafka.producer()?;
        let topic = kafka.topics().raw;
        tokio::task::block_in_place(|| {
            producer
                .client()
                .fetch_metadata(Some(&topic), Duration::from_secs(10))
        })?;
        Ok(RawProducer { producer, topic })
    }

    pub async fn send(&self, events: &[RawEvent]) -> Result<()> {
        for e in events {
            let bytes = e.encode_to_vec();
            self.producer
                .send(
                    FutureRecord::to(&self.topic)
                        .key(&e.partition_key)
                        .payload(&bytes),
                    Duration::from_secs(10),
                )
                .await
                .map_err(|(e, _)| e)
                .context("producing raw")?;
        }
        Ok(())
    }
}

pub async fn produce_raw(kafka: &KafkaConfig, events: &[RawEvent]) -> Result<()> {
    RawProducer::connect(kafka)?.send(events).await
}

/// One record of an audit topic: the decoded audit, its bytes, its produce timestamp.
#[derive(Debug, Clone)]
pub struct Produced {
    pub audit: AuditEvent,
    pub bytes: Vec<u8>,
    pub timestamp_ms: i64,
}

pub async fn read_audits(kafka: &KafkaConfig, topic: &str) -> Result<Vec<Produced>> {
    let kafka = kafka.clone();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        common::consume::read_to_end(&kafka, &topic, None, Duration::from_secs(30), |m| {
            let bytes = m.payload().unwrap_or_default().to_vec();
            if let Ok(audit) = AuditEvent::decode(bytes.as_slice()) {
                out.push(Produced {
                    audit,
                    bytes,
                    timestamp_ms: m.timestamp().to_millis().unwrap_or(0),
                });
            }
        })?;
        Ok(out)
    })
    .await?
}

/// Reads `topic` until `done` holds for what it holds (a guard against hangs, not a timing
/// assertion).
pub async fn wait_for_audits(
    kafka: &KafkaConfig,
    topic: &str,
    done: impl Fn(&[Produced]) -> bool,
) -> Result<Vec<Produced>> {
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        let audits = read_audits(kafka, topic).await?;
        if done(&audits) {
            return Ok(audits);
        }
        if Instant::now() > give_up {
            bail!("gave up waiting on {topic}: {} audits so far", audits.len());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The distinct payloads seen per audit id (a correct repeat adds none).
pub fn by_id(audits: &[Produced]) -> BTreeMap<u64, BTreeSet<Vec<u8>>> {
    let mut out: BTreeMap<u64, BTreeSet<Vec<u8>>> = BTreeMap::new();
    for a in audits {
        out.entry(a.audit.id).or_default().insert(a.bytes.clone());
    }
    out
}
