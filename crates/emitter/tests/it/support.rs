//! Shared fixtures: a broker with fresh topics, audits, emitter configs, a scripted webhook
//! receiver, and a poll-until helper (a deadline to fail on, never a timing assertion).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::embedded::EmbeddedBroker;
use common::kafka::KafkaConfig;
use emitter::config::{RetryConfig, SinkConfig, SinkKind, Stream};
use emitter::filter::AuditFilter;
use emitter::signing::{verify, WebhookSecret};
use emitter::sinks::webhook::WebhookConfig;
use emitter::EmitterConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use schema::v1::{Action, AuditChange, AuditEvent, RecordRef, User};
use schema::Message as _;
use tokio_util::sync::CancellationToken;

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A broker with the pipeline's topics under a fresh prefix.
pub struct Cluster {
    pub kafka: KafkaConfig,
    _embedded: Option<EmbeddedBroker>,
}

pub async fn cluster() -> anyhow::Result<Cluster> {
    cluster_with(&[]).await
}

/// A cluster with extra topics (names without the prefix).
pub async fn cluster_with(extra_topics: &[&str]) -> anyhow::Result<Cluster> {
    common::telemetry::init_tracing(false);
    let prefix = format!("t{}.", rand::random::<u32>());
    let mut kafka = KafkaConfig {
        brokers: String::new(),
        topic_prefix: prefix,
        partitions: 2,
        replication_factor: 1,
        transactions: false,
        message_timeout: Duration::from_secs(10),
        options: BTreeMap::new(),
        producer_options: Default::default(),
        consumer_options: Default::default(),
    };
    let mut specs = kafka.topics().specs(kafka.partitions);
    for name in extra_topics {
        let name = format!("{}{name}", kafka.topic_prefix);
        specs.push(common::topics::TopicSpec {
            name,
            partitions: kafka.partitions,
            compacted: false,
        });
    }
    match std::env::var("AUDITSTREAM_TEST_BROKERS") {
        Ok(brokers) if !brokers.is_empty() => {
            kafka.brokers = brokers;
            kafka.ensure_topics(&specs).await?;
            Ok(Cluster {
                kafka,
                _embedded: None,
            })
        }
        _ => {
            let embedded = EmbeddedBroker::start(&specs)?;
            kafka.brokers = embedded.bootstrap_servers();
            Ok(Cluster {
                kafka,
                _embedded: Some(embedded),
            })
        }
    }
}

/// An audit of record `record` (an issue id) with one status change.
pub fn audit(id: u64, record: &str) -> AuditEvent {
    AuditEvent {
        id,
        audit_action: Action::Update as i32,
        created_at_ms: 1_795_860_000_000 + id as i64,
        interesting: true,
        user: Some(User {
            id: "acc-1".into(),
            name: "Ada".into(),
            ..Default::default()
        }),
        auditable: Some(RecordRef {
            r#type: "issue".into(),
            id: record.into(),
        }),
        changes: vec![AuditChange {
            field_id: "status".into(),
            field_name: "Status".into(),
            value: Some(format!("v{id}")),
            ..Default::default()
        }],
        workspace: "PLAT".into(),
        record_key: format!("issue/{record}"),
        ..Default::default()
    }
}

pub async fn publish(kafka: &KafkaConfig, audits: &[AuditEvent]) -> anyhow::Result<()> {
    publish_to(kafka, &kafka.topics().audit, audits).await
}

pub async fn publish_to(
    kafka: &KafkaConfig,
    topic: &str,
    audits: &[AuditEvent],
) -> anyhow::Result<()> {
    let producer: FutureProducer = kafka.producer()?;
    for a in audits {
        let payload = a.encode_to_vec();
        producer
            .send(
                FutureRecord::to(topic).key(&a.record_key).payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)?;
    }
    Ok(())
}

pub fn retry() -> RetryConfig {
    RetryConfig {
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        max_attempts: 1000,
        max_age: Duration::from_secs(3600),
        disable_after: Duration::from_secs(3600),
    }
}

pub fn config(group_id: &str, sinks: Vec<SinkConfig>) -> EmitterConfig {
    EmitterConfig {
        group_id: group_id.into(),
        ledger_retention: Duration::from_secs(86_400),
        retry: retry(),
        sinks,
    }
}

pub fn sink(name: &str, filter: AuditFilter, kind: SinkKind) -> SinkConfig {
    SinkConfig {
        name: name.into(),
        stream: Stream::Audit,
        filter,
        queue_capacity: 1000,
        concurrency: 4,
        kind,
    }
}

pub fn webhook_sink(name: &str, url: &str, request_timeout: Duration) -> SinkConfig {
    sink(
        name,
        AuditFilter::default(),
        SinkKind::Webhook(WebhookConfig {
            url: url.into(),
            secrets: vec![SECRET.into()],
            connect_timeout: Duration::from_secs(2),
            request_timeout,
            rate_limit_per_second: 0,
            headers: Default::default(),
        }),
    )
}

/// The emitter running in the background.
pub struct Running {
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<emitter::Result<()>>,
}

pub fn start(kafka: &KafkaConfig, config: EmitterConfig) -> Running {
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(emitter::run(kafka.clone(), config, shutdown.clone()));
    Running { shutdown, task }
}

impl Running {
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.task.await??;
        Ok(())
    }
}

/// Polls `check` until it holds; fails after a generous deadline.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..1200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}

/// How a test receiver answers.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// 500 for the first n requests, then 200.
    FailFirst(usize),
    Always(u16),
    /// Never answers.
    Hang,
    /// 200, after a pause (so a kill lands mid-stream).
    SlowOk(Duration),
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub status: u16,
    pub audit_id: String,
}

pub struct ReceiverState {
    pub behaviour: Mutex<Behaviour>,
    pub requests: Mutex<Vec<Received>>,
    pub seen: AtomicUsize,
    pub hanging: AtomicUsize,
}

pub struct Receiver {
    pub url: String,
    pub state: Arc<ReceiverState>,
}

impl Receiver {
    /// Audit ids the receiver accepted (2xx), in arrival order.
    pub fn accepted(&self) -> Vec<String> {
        self.state
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.status < 300)
            .map(|r| r.audit_id.clone())
            .collect()
    }

    pub fn set(&self, b: Behaviour) {
        *self.state.behaviour.lock().unwrap() = b;
    }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let n = state.seen.fetch_add(1, Ordering::SeqCst);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let id = header("webhook-id");
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let now = chrono::Utc::now().timestamp();
    let signed = verify(
        &[secret],
        &id,
        &header("webhook-timestamp"),
        &header("webhook-signature"),
        &body,
        now,
    );
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let audit_id = json["audit"]["id"].as_str().unwrap_or_default().to_owned();
    let behaviour = *state.behaviour.lock().unwrap();
    let status = if signed.is_err() || audit_id != id {
        401
    } else {
        match behaviour {
            Behaviour::FailFirst(k) if n < k => 500,
            Behaviour::FailFirst(_) => 200,
            Behaviour::Always(s) => s,
            Behaviour::SlowOk(pause) => {
                tokio::time::sleep(pause).await;
                200
            }
            Behaviour::Hang => {
                state.hanging.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<()>().await;
                unreachable!()
            }
        }
    };
    state
        .requests
        .lock()
        .unwrap()
        .push(Received { status, audit_id });
    StatusCode::from_u16(status).unwrap()
}

pub async fn receiver(behaviour: Behaviour) -> anyhow::Result<Receiver> {
    let state = Arc::new(ReceiverState {
        behaviour: Mutex::new(behaviour),
        requests: Mutex::new(Vec::new()),
        seen: AtomicUsize::new(0),
        hanging: AtomicUsize::new(0),
    });
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Receiver { url, state })
}

/// Parked audits on a topic (`audit.retry` or `audit.dlq`), read to its end.
pub async fn parked_on(
    kafka: &KafkaConfig,
    topic: String,
) -> anyhow::Result<Vec<schema::v1::ParkedAudit>> {
    let kafka = kafka.clone();
    let parked = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        common::consume::read_to_end(&kafka, &topic, None, Duration::from_secs(30), |m| {
            use rdkafka::Message as _;
            if let Ok(p) = schema::v1::ParkedAudit::decode(m.payload().unwrap_or_default()) {
                out.push(p);
            }
        })
        .map(|_| out)
    })
    .await??;
    Ok(parked)
}

/// Entries of `integration.log`, read to its end.
pub async fn integration_log(
    kafka: &KafkaConfig,
) -> anyhow::Result<Vec<schema::v1::IntegrationLogEntry>> {
    let kafka = kafka.clone();
    let topic = kafka.topics().integration_log;
    let entries = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        common::consume::read_to_end(&kafka, &topic, None, Duration::from_secs(30), |m| {
            use rdkafka::Message as _;
            if let Ok(e) = schema::v1::IntegrationLogEntry::decode(m.payload().unwrap_or_default())
            {
                out.push(e);
            }
        })
        .map(|_| out)
    })
    .await??;
    Ok(entries)
}
