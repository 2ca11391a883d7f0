//! The collator scenarios: end-to-end throughput on workload W against the passthrough limit,
//! and how long after its deadline an idle window is emitted.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use collator::CollatorConfig;
use common::kafka::KafkaConfig;
use prost::Message as _;
use rdkafka::message::Message as _;
use schema::v1::{AuditEvent, RawEvent};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::broker::{self, Target};
use crate::report::{Distribution, Table};
use crate::workload::{self, Shape};
use crate::{collator_writes, verify, Error};

/// The collator's documented defaults, with a group of its own.
pub fn collator_config(group: &str) -> Result<CollatorConfig, Error> {
    #[derive(Deserialize)]
    struct File {
        collator: CollatorConfig,
    }
    let mut c = toml::from_str::<File>(collator::DEFAULT_TOML)
        .map_err(Error::config)?
        .collator;
    c.group_id = group.to_owned();
    Ok(c)
}

/// Runs the collator scenario and adds its rows to `table`.
pub async fn throughput(
    target: &Target,
    shape: &Shape,
    timeout: Duration,
    table: &mut Table,
) -> Result<(), Error> {
    let config = collator_config(&format!("bench-collator-{}", schema::now_ms()))?;
    let shape = Shape {
        gap_ms: i64::try_from(config.gap.as_millis()).unwrap_or(i64::MAX),
        ..shape.clone()
    };
    let workload = workload::generate(&shape);
    let (events, expected) = (workload.events, workload.expected);
    let total = events.len();
    let kafka = target.fresh_config("collator");
    let broker_pid = target.pid;
    let passthrough_topic = format!("{}passthrough", kafka.topic_prefix);
    broker::create_topics(&kafka, std::slice::from_ref(&passthrough_topic)).await?;
    let k = kafka.clone();
    tracing::info!(events = total, audits = expected.len(), "pre-filling raw");
    tokio::task::spawn_blocking(move || broker::prefill(&k, &events, timeout))
        .await
        .map_err(Error::TaskLost)??;

    let passthrough =
        |k: KafkaConfig, topic: String| move || broker::passthrough(&k, &topic, total, timeout);
    let (pass, pass_cpu) = timed(
        broker_pid,
        passthrough(kafka.clone(), passthrough_topic.clone()),
    )
    .await?;
    let pass_rate = total as f64 / pass.as_secs_f64();
    tracing::info!(rate = pass_rate, "passthrough done");

    broker::reset_peak_rss();
    let rss_before = broker::current_rss().unwrap_or(0);
    let cpu = broker::CpuSample::now(broker_pid);
    let (elapsed, audits) = collate_all(&kafka, config, expected.len(), timeout).await?;
    let collate_cpu = cpu.since(broker_pid);
    let peak = broker::peak_rss().unwrap_or(0);
    verify::audits(&expected, &audits)?;
    let rate = total as f64 / elapsed.as_secs_f64();
    tracing::info!(rate, "collator done");

    let outputs = Arc::new(collator_writes::read_outputs(&kafka, timeout).await?);
    let (k, o) = (kafka.clone(), Arc::clone(&outputs));
    let (alone, alone_cpu) = timed(broker_pid, move || {
        collator_writes::write_alone(&k, &o, total, timeout)
    })
    .await?;
    let alone_rate = total as f64 / alone.as_secs_f64();
    // Run last, the passthrough again: the broker holds more data by now; if it slowed,
    // this shows how much of the difference is the broker's drift.
    let again_topic = format!("{passthrough_topic}.again");
    broker::create_topics(&kafka, std::slice::from_ref(&again_topic)).await?;
    let (again, _) = timed(broker_pid, passthrough(kafka.clone(), again_topic)).await?;
    let again_rate = total as f64 / again.as_secs_f64();
    // The ratio is taken against the faster of the two passthroughs: the limit the broker and
    // client showed in this run, not a pass slowed by whatever else the machine was doing.
    let limit = pass_rate.max(again_rate);

    let k = kafka.clone();
    let input = tokio::task::spawn_blocking(move || volume(&k, &k.topics().raw, timeout))
        .await
        .map_err(Error::TaskLost)??;
    let size = format!("{total} events, {} records", shape.records);
    table.row(
        "collator",
        "passthrough (consume raw → produce)",
        format!("{pass_rate:.0} events/s"),
        format!("{size}; {pass_cpu}; run again last: {again_rate:.0} events/s"),
    );
    table.row(
        "collator",
        "collator end to end",
        format!("{rate:.0} events/s"),
        format!("{size}; {collate_cpu}"),
    );
    table.row(
        "collator",
        "collator / passthrough (the faster of its two runs)",
        format!("{:.2}×", rate / limit),
        "target ≥ 0.9×",
    );
    table.row(
        "collator",
        "audits verified (count and content)",
        format!("{} of {}", audits.len(), expected.len()),
        &size,
    );
    let (mut records, mut bytes) = (0, 0);
    for o in outputs.iter() {
        let (r, b) = o.volume();
        records += r;
        bytes += b;
    }
    let per_topic: Vec<String> = outputs
        .iter()
        .map(|o| format!("{} {}", o.name(), o.len()))
        .collect();
    table.row(
        "collator",
        "records / bytes written per input event",
        format!(
            "passthrough 1.00 / 1.00×; collator {:.2} / {:.2}×",
            records as f64 / input.records.max(1) as f64,
            bytes as f64 / input.bytes.max(1) as f64
        ),
        format!(
            "input {} B per record (key + value); collator: {}",
            input.bytes / input.records.max(1),
            per_topic.join(", ")
        ),
    );
    table.row(
        "collator",
        "the collator's writes alone (consume raw → produce its records)",
        format!("{alone_rate:.0} events/s"),
        format!("{size}; {alone_cpu}"),
    );
    table.row(
        "collator",
        "collator / its writes alone",
        format!("{:.2}×", rate / alone_rate),
        "what collating costs beyond writing its outputs",
    );
    table.row(
        "collator",
        "peak RSS during collation",
        format!("{:.0} MiB", peak as f64 / 1048576.0),
        format!("process, {:.0} MiB before", rss_before as f64 / 1048576.0),
    );
    Ok(())
}

/// Runs a blocking phase; returns what it measured and the CPU it and the broker used.
async fn timed(
    broker_pid: Option<u32>,
    phase: impl FnOnce() -> Result<Duration, Error> + Send + 'static,
) -> Result<(Duration, String), Error> {
    let cpu = broker::CpuSample::now(broker_pid);
    let elapsed = tokio::task::spawn_blocking(phase)
        .await
        .map_err(Error::TaskLost)??;
    Ok((elapsed, cpu.since(broker_pid)))
}

/// Runs the collator until the broker acknowledged `expected` audits; returns the time from its
/// first live audit (the first consumed batch) to that acknowledgement, and every audit on the
/// topic after it stopped (so duplicates would show).
async fn collate_all(
    kafka: &KafkaConfig,
    config: CollatorConfig,
    expected: usize,
    timeout: Duration,
) -> Result<(Duration, Vec<AuditEvent>), Error> {
    let acked = crate::acks::acknowledged_audits().ok_or_else(|| {
        Error::Verification("another metrics recorder is installed: acknowledgements unseen".into())
    })?;
    let before = acked.load(Ordering::Acquire);
    let seen = || acked.load(Ordering::Acquire) - before;
    let shutdown = CancellationToken::new();
    let collator = tokio::spawn(collator::run(kafka.clone(), config, shutdown.clone()));
    let deadline = tokio::time::Instant::now() + timeout;
    let watched = loop {
        if seen() >= expected as u64 {
            break Ok(schema::now_ms());
        }
        if collator.is_finished() {
            break Err(Error::Verification(format!(
                "the collator stopped with {} of {expected} audits acknowledged",
                seen()
            )));
        }
        if tokio::time::Instant::now() > deadline {
            break Err(Error::Timeout(format!(
                "collating: {} of {expected} audits acknowledged",
                seen()
            )));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    shutdown.cancel();
    // A collator that failed says why before the count it left short does.
    collator
        .await
        .map_err(Error::TaskLost)?
        .map_err(Error::collator)?;
    let last_ms = watched?;
    let k = kafka.clone();
    let (first_ms, audits) = tokio::task::spawn_blocking(move || {
        let first = first_timestamp(&k, &k.topics().audit_live)?;
        let mut audits = Vec::new();
        common::consume::read_to_end(&k, &k.topics().audit, None, timeout, |m| {
            if let Ok(a) = AuditEvent::decode(m.payload().unwrap_or_default()) {
                audits.push(a);
            }
        })
        .map_err(|e| Error::common("reading audit", e))?;
        Ok::<_, Error>((first, audits))
    })
    .await
    .map_err(Error::TaskLost)??;
    let elapsed = Duration::from_millis(u64::try_from(last_ms - first_ms).unwrap_or(1).max(1));
    Ok((elapsed, audits))
}

/// Records and bytes (keys and values) on a topic.
#[derive(Debug, Default)]
struct Volume {
    records: u64,
    bytes: u64,
}

fn volume(kafka: &KafkaConfig, topic: &str, timeout: Duration) -> Result<Volume, Error> {
    let mut v = Volume::default();
    common::consume::read_to_end(kafka, topic, None, timeout, |m| {
        v.records += 1;
        v.bytes += (m.key_len() + m.payload_len()) as u64;
    })
    .map_err(|e| Error::common(format!("reading {topic}"), e))?;
    Ok(v)
}

/// The earliest record timestamp (the producer's send time) over the first record of every
/// partition of `topic`.
fn first_timestamp(kafka: &KafkaConfig, topic: &str) -> Result<i64, Error> {
    let mut firsts = BTreeMap::new();
    let partitions = kafka.partitions;
    broker::tail(kafka, topic, Duration::from_secs(30), |m| {
        if let Some(ts) = m.timestamp().to_millis() {
            firsts.entry(m.partition()).or_insert(ts);
        }
        firsts.len() < usize::try_from(partitions).unwrap_or(0)
    })?;
    firsts
        .values()
        .min()
        .copied()
        .ok_or_else(|| Error::Verification(format!("{topic} is empty")))
}

/// Idle close: records edited once or a few times while the collator is caught up; each audit's
/// lateness is when it became readable minus its window's deadline (`window_end_ms`).
pub async fn idle_close(
    target: &Target,
    records: usize,
    gap: Duration,
    table: &mut Table,
) -> Result<(), Error> {
    let mut config = collator_config(&format!("bench-idle-{}", schema::now_ms()))?;
    config.gap = gap;
    let kafka = target.fresh_config("idle");
    broker::create_topics(&kafka, &[]).await?;
    let shutdown = CancellationToken::new();
    let collator = tokio::spawn(collator::run(kafka.clone(), config, shutdown.clone()));
    // Warm up: wait until the collator has joined and emits, so the group join is not measured.
    let producer = kafka
        .producer()
        .map_err(|e| Error::common("creating producer", e))?;
    let send = |id: String, seq: usize| {
        let mut rng = workload::Rng::new(seq as u64);
        let e = live_event(&id, seq, workload::user((rng.next_u64() % 20) as usize));
        let producer = producer.clone();
        let topic = kafka.topics().raw;
        async move {
            producer
                .send(
                    rdkafka::producer::FutureRecord::to(&topic)
                        .key(&e.partition_key)
                        .payload(&e.encode_to_vec()),
                    Duration::from_secs(10),
                )
                .await
                .map_err(|(e, _)| Error::kafka("producing raw", e))
        }
    };
    send(WARMUP.into(), 0).await?;
    wait_for_audits(&kafka, 1, Duration::from_secs(60), None).await?;
    // The reader runs while the records are edited: an audit's lateness is when it became
    // readable, not when a reader started after the last edit got round to it.
    let reader_kafka = kafka.clone();
    let reader = tokio::spawn(async move {
        wait_for_audits(
            &reader_kafka,
            records,
            gap * 4 + Duration::from_secs(60),
            Some(WARMUP),
        )
        .await
    });
    let mut rng = workload::Rng::new(records as u64);
    let mut sent = 0usize;
    for r in 0..records {
        for seq in 0..(1 + (rng.next_u64() % 3) as usize) {
            send(format!("idle-{r}"), seq).await?;
            sent += 1;
        }
        tokio::time::sleep(Duration::from_millis(rng.between(0, 40) as u64)).await;
    }
    let lateness = reader.await.map_err(Error::TaskLost)??;
    shutdown.cancel();
    collator
        .await
        .map_err(Error::TaskLost)?
        .map_err(Error::collator)?;
    let d = Distribution::of(lateness);
    let size = format!("{records} records, {sent} events, gap {gap:?}");
    table.row(
        "idle-close",
        "emit − deadline p50 / p99 / max",
        d.millis(),
        &size,
    );
    Ok(())
}

/// The record edited first, so the collator has joined its group before the measurement.
const WARMUP: &str = "warmup";

/// Waits until `count` audits (of records other than `except`) are readable; returns each
/// one's (readable − deadline) in ms.
async fn wait_for_audits(
    kafka: &KafkaConfig,
    count: usize,
    timeout: Duration,
    except: Option<&'static str>,
) -> Result<Vec<f64>, Error> {
    let k = kafka.clone();
    tokio::task::spawn_blocking(move || {
        let mut lateness = Vec::new();
        broker::tail(&k, &k.topics().audit, timeout, |m| {
            if let Ok(a) = AuditEvent::decode(m.payload().unwrap_or_default()) {
                let skipped =
                    except.is_some_and(|id| a.auditable.as_ref().is_some_and(|r| r.id == id));
                if !skipped {
                    lateness.push((schema::now_ms() - a.window_end_ms) as f64);
                }
            }
            lateness.len() < count
        })?;
        Ok(lateness)
    })
    .await
    .map_err(Error::TaskLost)?
}

fn live_event(id: &str, seq: usize, actor: schema::v1::User) -> RawEvent {
    let now = schema::now_ms();
    RawEvent {
        integration_id: workload::INTEGRATION.into(),
        jira_site: workload::JIRA_SITE.into(),
        received_at_ms: now,
        event_time_ms: now,
        event_name: "jira:issue_updated".into(),
        actor: Some(actor),
        record: Some(schema::v1::RecordRef {
            r#type: "issue".into(),
            id: id.into(),
        }),
        action: schema::v1::Action::Update as i32,
        changes: vec![schema::v1::FieldChange {
            field_id: "status".into(),
            field_name: "Status".into(),
            from: Some(format!("s{seq}")),
            to: Some(format!("s{}", seq + 1)),
            ..Default::default()
        }],
        dedup_key: format!("changelog:{id}-{seq}-{now}"),
        partition_key: workload::record_key(id),
        known_event: true,
        ..RawEvent::default()
    }
}
