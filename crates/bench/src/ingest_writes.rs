//! The ceiling of the ingest scenario on this machine: the broker writes one accepted webhook
//! costs ingest, without HTTP and without normalization. Each of `clients` tasks writes a
//! fixture's normalized `RawEvent` to `raw` with ingest's producer settings and waits for the
//! acknowledgement (what a request waits for), then queues the `accepted` entry of
//! `integration.log` without waiting (as ingest does). Ingest's requests/s against this
//! figure is the part of its cost that is HTTP and normalization; this figure against the bare
//! axum server is the part that is the broker and its client.

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::integration_log::IntegrationLog;
use common::kafka::KafkaConfig;
use ingest::normalize::{normalize, Delivery, Source};
use rdkafka::producer::FutureRecord;
use schema::v1::{IntegrationLogEntry, LogLevel};
use schema::Message;

use crate::ingest_load::Load;
use crate::Error;

/// Each fixture as ingest stores it: (partition key, encoded `RawEvent`).
fn stored_events(bodies: &[Vec<u8>]) -> Vec<(String, Vec<u8>)> {
    let source = Source {
        integration_id: "bench",
        jira_site: None,
    };
    bodies
        .iter()
        .filter_map(|body| {
            let delivery = Delivery {
                body,
                delivery_id: Some("bench"),
                retry_count: 0,
                flow: None,
                received_at_ms: schema::now_ms(),
            };
            let event = normalize(&source, &delivery).ok()?;
            Some((event.partition_key.clone(), event.encode_to_vec()))
        })
        .collect()
}

/// Writes for `duration` from `clients` tasks; each write's latency is kept.
pub(crate) async fn load(
    kafka: &KafkaConfig,
    clients: usize,
    duration: Duration,
    bodies: &[Vec<u8>],
) -> Result<Load, Error> {
    let events = Arc::new(stored_events(bodies));
    // Ingest's producer, as ingest makes it.
    let producer = kafka
        .compressed_producer()
        .map_err(|e| Error::common("creating the producer", e))?;
    let topics = kafka.topics();
    let log = IntegrationLog::new(producer.clone(), topics.integration_log.clone());
    let raw = Arc::new(topics.raw);
    let start = Instant::now();
    let end = start + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (producer, log, raw, events) = (
                producer.clone(),
                log.clone(),
                Arc::clone(&raw),
                Arc::clone(&events),
            );
            tokio::spawn(async move {
                let (mut latencies, mut failures, mut n) = (Vec::new(), 0usize, c);
                while Instant::now() < end {
                    let (key, payload) = &events[n % events.len()];
                    n += 1;
                    let sent = Instant::now();
                    let record = FutureRecord::to(raw.as_str()).key(key).payload(payload);
                    let ok = producer.send(record, Duration::ZERO).await.is_ok();
                    latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                    failures += usize::from(!ok);
                    log.spawn_write(IntegrationLogEntry {
                        level: LogLevel::Info as i32,
                        component: "ingest".into(),
                        integration_id: "bench".into(),
                        code: "accepted".into(),
                        status: 200,
                        message: "jira:issue_updated stored".into(),
                        delivery_id: format!("bench-{c}-{n}"),
                        ..Default::default()
                    });
                }
                (latencies, failures)
            })
        })
        .collect();
    Load::gather(start, tasks).await
}
