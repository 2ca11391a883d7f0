//! `auditstream replay --sink NAME --since TIME`: re-sends to one sink every audit of its stream
//! written since a time that the sink has not acknowledged (per the ledger) — what it missed
//! while disabled, dead-lettered or filtered differently.
//!
//! Run it while the sink's endpoint is healthy. A running emitter learns of the replay's
//! deliveries only at its next start, so an audit both re-sent here and still parked there may
//! reach the sink twice (receivers dedup on `webhook-id`).

use std::time::Duration;

use common::kafka::KafkaConfig;
use rdkafka::message::Message as _;
use schema::v1::AuditEvent;
use schema::Message as _;
use tokio_util::sync::CancellationToken;

use crate::backoff;
use crate::config::EmitterConfig;
use crate::pipeline::shared::{Shared, SinkRuntime, Verdict};
use crate::sinks::Sink;
use crate::{Error, Result};

/// Attempts per audit during a replay (the operator is watching; no day-long schedule).
const REPLAY_ATTEMPTS: u32 = 3;
/// Longest pause between two replay attempts of one audit.
const REPLAY_MAX_PAUSE: Duration = Duration::from_secs(10);

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Audits of the sink's stream written since the given time.
    pub scanned: u64,
    /// Of those, the ones the sink's filters let through.
    pub matched: u64,
    /// Already acknowledged by the sink: not sent again.
    pub already_delivered: u64,
    pub delivered: u64,
    /// Still not accepted after the replay's attempts (or the endpoint disabled itself again).
    pub failed: u64,
}

pub async fn replay_sink(
    kafka: KafkaConfig,
    config: EmitterConfig,
    sink: &str,
    since_ms: i64,
) -> Result<ReplaySummary> {
    config.validate()?;
    let sink_config = config
        .sink(sink)
        .ok_or_else(|| Error::UnknownSink(sink.to_owned()))?
        .clone();
    let topics = kafka.topics();
    let producer = kafka.producer()?;
    let ledger = crate::pipeline::ledger::load(&kafka, config.ledger_retention).await?;
    let shared = Shared::new(
        producer,
        topics.clone(),
        config.retry.clone(),
        ledger,
        CancellationToken::new(),
    );
    let runtime = SinkRuntime::new(
        sink_config.clone(),
        Sink::build(&sink_config, &kafka).await?,
    );

    let topic = sink_config.stream.topic(&topics);
    let records = {
        let kafka = kafka.clone();
        tokio::task::spawn_blocking(move || {
            let mut records: Vec<(i64, Vec<u8>)> = Vec::new();
            common::consume::read_to_end(&kafka, &topic, None, Duration::from_secs(300), |m| {
                records.push((
                    m.timestamp().to_millis().unwrap_or(-1),
                    m.payload().unwrap_or_default().to_vec(),
                ));
            })?;
            Ok::<_, Error>(records)
        })
        .await
        .map_err(Error::Task)??
    };

    let mut summary = ReplaySummary::default();
    for (written_at_ms, payload) in records {
        let Ok(audit) = AuditEvent::decode(payload.as_slice()) else {
            continue;
        };
        let at = if written_at_ms >= 0 {
            written_at_ms
        } else {
            audit.window_end_ms
        };
        if at < since_ms {
            continue;
        }
        summary.scanned += 1;
        let Some(audit) = sink_config.filter.apply(&audit) else {
            continue;
        };
        summary.matched += 1;
        if shared.is_delivered(sink, audit.id) {
            summary.already_delivered += 1;
            continue;
        }
        if runtime.is_disabled() {
            summary.failed += 1;
            continue;
        }
        if deliver(&shared, &runtime, &audit, &config).await? {
            summary.delivered += 1;
        } else {
            summary.failed += 1;
        }
    }
    tracing::info!(sink, ?summary, "replay finished");
    Ok(summary)
}

async fn deliver(
    shared: &Shared,
    runtime: &SinkRuntime,
    audit: &AuditEvent,
    config: &EmitterConfig,
) -> Result<bool> {
    let body = schema::audit_json::render(audit);
    for attempt in 1..=REPLAY_ATTEMPTS {
        match runtime.attempt(shared, audit, &body, attempt).await {
            Verdict::Delivered => {
                shared.record_delivered(runtime.name(), audit.id).await?;
                return Ok(true);
            }
            Verdict::DeadLetter(_) => return Ok(false),
            Verdict::Retry(f) if attempt < REPLAY_ATTEMPTS => {
                tokio::time::sleep(
                    backoff::delay(&config.retry, attempt, f.retry_after).min(REPLAY_MAX_PAUSE),
                )
                .await;
            }
            Verdict::Retry(_) => {}
        }
    }
    Ok(false)
}
