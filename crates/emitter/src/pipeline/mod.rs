//! The delivery pipeline behind [`crate::run`]: the dispatcher reads the audit streams and feeds
//! per-sink lanes; lanes deliver, park on `audit.retry` or dead-letter; the retry loop re-attempts
//! parked audits; the ledger on `emitter.delivered` keeps every sink from getting an id twice.
//!
//! Killing the emitter at any instant loses nothing: an offset is committed only after its audit
//! is delivered (and recorded in the ledger), parked or dead-lettered for every sink that wants
//! it. What it can do is re-send: an audit a sink acknowledged just before the kill, whose ledger
//! record was not yet written, is delivered again after restart (at most one per sink lane in
//! flight). Webhook receivers dedup on `webhook-id`, which is the audit id.

pub mod dispatch;
pub mod lane;
pub mod ledger;
pub mod offsets;
pub mod retry;
pub mod shared;

use std::sync::Arc;
use std::time::Duration;

use common::kafka::KafkaConfig;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::EmitterConfig;
use crate::sinks::Sink;
use crate::{Error, Result};
use dispatch::Target;
use lane::Lanes;
use retry::RetryLoop;
use shared::{Shared, SinkRuntime};

/// How long lanes may take to finish the attempt in hand at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Loads the ledger and builds the shared state and the sinks.
pub async fn prepare(
    kafka: &KafkaConfig,
    config: &EmitterConfig,
    stop: CancellationToken,
) -> Result<(Arc<Shared>, Vec<Arc<SinkRuntime>>)> {
    config.validate()?;
    let topics = kafka.topics();
    // The ledger, retry and dead-letter topics: an outage pauses deliveries, never drops one.
    let producer = kafka.patient_producer()?;
    let mut ledger = ledger::load(kafka, config.ledger_retention).await?;
    let expired = ledger.take_expired(schema::now_ms());
    ledger::tombstone(&producer, &topics.emitter_delivered, &expired).await;
    tracing::info!(
        delivered = ledger.entries(),
        expired = expired.len(),
        "delivery ledger loaded"
    );
    let shared = Arc::new(Shared::new(
        producer,
        topics,
        config.retry.clone(),
        ledger,
        stop,
    ));
    let mut sinks = Vec::with_capacity(config.sinks.len());
    for sink_config in &config.sinks {
        let sink = Sink::build(sink_config, kafka).await?;
        sinks.push(Arc::new(SinkRuntime::new(sink_config.clone(), sink)));
    }
    Ok((shared, sinks))
}

pub async fn run(
    kafka: KafkaConfig,
    config: EmitterConfig,
    shutdown: CancellationToken,
) -> Result<()> {
    let stop = shutdown.child_token();
    let (shared, sinks) = prepare(&kafka, &config, stop.clone()).await?;

    let (ready_tx, ready_rx) = oneshot::channel();
    let retry_loop = RetryLoop::new(shared.clone(), &sinks);
    let mut retry_task = tokio::spawn({
        let (kafka, group, stop) = (kafka.clone(), config.group_id.clone(), stop.clone());
        async move { retry_loop.run(&kafka, &group, ready_tx, stop).await }
    });
    // New audits wait until the parked ones are known, or a record could overtake its own.
    if ready_rx.await.is_err() {
        stop.cancel();
        return retry_task.await.map_err(Error::Task)?;
    }

    let lanes = TaskTracker::new();
    let targets: Vec<Target> = sinks
        .iter()
        .map(|sink| Target {
            sink: sink.clone(),
            topic: sink.config.stream.topic(&shared.topics),
            lanes: Lanes::start(shared.clone(), sink.clone(), &lanes),
        })
        .collect();
    let dispatching = dispatch::dispatch(
        &kafka,
        &config.group_id,
        targets,
        lanes,
        SHUTDOWN_GRACE,
        stop.clone(),
    );
    tokio::pin!(dispatching);
    tokio::select! {
        dispatched = &mut dispatching => {
            stop.cancel();
            let retried = retry_task.await.map_err(Error::Task)?;
            dispatched.and(retried)
        }
        retried = &mut retry_task => {
            stop.cancel();
            let dispatched = dispatching.await;
            retried.map_err(Error::Task)?.and(dispatched)
        }
    }
}
