//! The Kafka shell around the core: a consumer-group member on `raw` that restores state
//! for partitions it is given, applies records in batches and writes each batch out (audits,
//! state, offsets, in that order, each after the previous was acknowledged) while it goes on
//! applying the next, and a replay that rebuilds audits outside the group.

mod delivery;
mod output;
mod pipeline;
pub mod replay;
mod state;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rdkafka::config::FromClientConfigAndContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::Message;
use rdkafka::producer::Producer;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use crate::core::Settings;
use crate::metrics as m;
use crate::{Clock, CollatorConfig, Error, SystemClock};
use delivery::Deliveries;
use pipeline::{Pipeline, Topics};
use state::Shared;

/// Runs a collator in the consumer group `config.group_id` until `shutdown` is cancelled,
/// then flushes and commits what it applied.
pub async fn run(
    kafka: common::kafka::KafkaConfig,
    config: CollatorConfig,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    run_with_clock(kafka, config, shutdown, Arc::new(SystemClock)).await
}

/// [`run`] with an injected wall clock (tests).
pub async fn run_with_clock(
    kafka: common::kafka::KafkaConfig,
    config: CollatorConfig,
    shutdown: CancellationToken,
    clock: Arc<dyn Clock>,
) -> Result<(), Error> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    // A plain thread, not spawn_blocking: librdkafka's consumer close can hang after a
    // consume-transform-produce loop (rust-rdkafka #509), and a detached thread cannot keep
    // the runtime from shutting down.
    std::thread::Builder::new()
        .name("collator".into())
        .spawn(move || consume_loop(kafka, config, shutdown, clock, tx))
        .map_err(|e| Error::Config(format!("cannot start the collator thread: {e}")))?;
    rx.await.map_err(|_| Error::WorkerLost)?
}

type Reply = tokio::sync::oneshot::Sender<Result<(), Error>>;

fn consume_loop(
    kafka: common::kafka::KafkaConfig,
    config: CollatorConfig,
    shutdown: CancellationToken,
    clock: Arc<dyn Clock>,
    reply: Reply,
) {
    match start(kafka, config, clock) {
        Ok((consumer, shared)) => {
            let result = drive(&consumer, &shared, &shutdown);
            // Answer before the consumer is dropped: closing it may block (see above).
            let _ = reply.send(result);
            drop(consumer);
        }
        Err(e) => {
            let _ = reply.send(Err(e));
        }
    }
}

fn start(
    kafka: common::kafka::KafkaConfig,
    config: CollatorConfig,
    clock: Arc<dyn Clock>,
) -> Result<(BaseConsumer<RebalanceHooks>, Arc<Mutex<Shared>>), Error> {
    let topics = kafka.topics();
    let mut producer_config = kafka.patient_producer_config();
    if kafka.transactions {
        // One transactional id per process: fencing of zombies is by consumer-group
        // generation (KIP-447), so it need not be tied to partitions.
        let unique = format!(
            "{}-{}-{}",
            config.group_id,
            std::process::id(),
            clock.now_ms()
        );
        producer_config.set("transactional.id", unique);
    }
    let producer = delivery::Producer::from_config_and_context(&producer_config, Deliveries)
        .map_err(|e| Error::kafka("creating producer", e))?;
    if kafka.transactions {
        producer
            .init_transactions(Duration::from_secs(30))
            .map_err(|e| Error::kafka("initialising transactions", e))?;
    }
    let pipeline = Pipeline::new(
        producer,
        Topics {
            raw: topics.raw.clone(),
            audit: topics.audit,
            live: topics.audit_live,
            state: topics.collator_state,
        },
        Arc::clone(&clock),
        config.batches_in_flight,
        kafka.transactions,
    );
    let shared = Arc::new(Mutex::new(Shared {
        settings: Arc::new(Settings::from(&config)),
        clock,
        partitions: BTreeMap::new(),
        pipeline,
        failure: None,
        config: config.clone(),
        kafka: kafka.clone(),
    }));
    let hooks = RebalanceHooks {
        shared: Arc::clone(&shared),
    };
    let mut consumer_config = kafka.consumer_config(&config.group_id);
    if !kafka.consumer_sets("fetch.wait.max.ms") {
        // Partition EOF (our "caught up" signal, which lets the watermark follow the wall
        // clock) arrives only after an empty fetch: a short wait keeps idle windows closing
        // well within a second of their deadline.
        consumer_config.set("fetch.wait.max.ms", "100");
    }
    let consumer: BaseConsumer<RebalanceHooks> = consumer_config
        .create_with_context(hooks)
        .map_err(|e| Error::kafka("creating consumer", e))?;
    consumer
        .subscribe(&[&topics.raw])
        .map_err(|e| Error::kafka("subscribing to raw", e))?;
    tracing::info!(group = %config.group_id, topic = %topics.raw, "collator started");
    Ok((consumer, shared))
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // A panic while holding the lock leaves state we cannot trust; but the offsets it would
    // have committed were not committed, so carrying on from the committed point is safe.
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Batches: apply up to `max_batch` records (or what arrives within `batch_wait`), sending
/// their audits as they are made, move the watermarks, seal the batch for the pipeline. An
/// idle loop still wakes every `tick` so idle windows close on time.
fn drive(
    consumer: &BaseConsumer<RebalanceHooks>,
    shared: &Mutex<Shared>,
    shutdown: &CancellationToken,
) -> Result<(), Error> {
    let (tick, batch_wait, max_batch) = {
        let s = lock(shared);
        (
            s.config.tick,
            s.config.batch_wait,
            s.config.max_batch.max(1),
        )
    };
    while !shutdown.is_cancelled() {
        let mut applied = 0usize;
        let started = Instant::now();
        loop {
            let deadline = started + if applied == 0 { tick } else { batch_wait };
            let left = deadline.saturating_duration_since(Instant::now());
            if applied >= max_batch || left.is_zero() {
                break;
            }
            // While sealed batches await acknowledgements, come back soon to move them on.
            let timeout = if lock(shared).pipeline.in_flight() {
                left.min(ACK_CHECK)
            } else {
                left
            };
            match consumer.poll(timeout) {
                None => {}
                Some(Ok(msg)) => {
                    lock(shared).apply(msg.partition(), msg.offset(), msg.payload())?;
                    applied += 1;
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    if let Some(run) = lock(shared).partitions.get_mut(&p) {
                        run.caught_up = true;
                    }
                }
                Some(Err(e)) => tracing::warn!(error = %e, "consumer error"),
            }
            let mut s = lock(shared);
            if let Some(e) = s.failure.take() {
                return Err(e);
            }
            s.pipeline.advance(consumer)?;
        }
        let mut s = lock(shared);
        s.tick();
        s.seal()?;
        s.pipeline.wait_for_room(consumer)?;
        metrics::gauge!(m::OPEN_WINDOWS).set(s.open_windows() as f64);
    }
    let mut s = lock(shared);
    s.seal()?;
    let deadline = Instant::now() + s.config.shutdown_timeout;
    let left = s.pipeline.drain_until(consumer, Some(deadline))?;
    if left > 0 {
        return Err(Error::ShutdownIncomplete { batches: left });
    }
    tracing::info!(
        open_windows = s.open_windows(),
        "collator stopped; open windows stay in collator-state"
    );
    Ok(())
}

/// How long a poll may keep acknowledged batches from moving on to their next step.
const ACK_CHECK: Duration = Duration::from_millis(2);

/// Rebalance callbacks: restore state before a partition's records flow, flush before it
/// leaves. They run inside `poll`, on the loop's thread, while the loop holds no lock.
struct RebalanceHooks {
    shared: Arc<Mutex<Shared>>,
}

impl ClientContext for RebalanceHooks {
    /// librdkafka hands every consumer error event to this callback as a global error before
    /// `poll` returns the same event with its partition. Partition EOF is one of them: it is
    /// our "caught up" signal, taken from `poll` (`KafkaError::PartitionEOF(p)`), not a fault,
    /// so it must not be logged as an error several times a second per idle partition.
    fn error(&self, error: KafkaError, reason: &str) {
        if matches!(error, KafkaError::Global(RDKafkaErrorCode::PartitionEOF)) {
            tracing::trace!(reason, "partition EOF");
        } else {
            tracing::error!(error = %error, reason, "librdkafka error");
        }
    }
}

impl ConsumerContext for RebalanceHooks {
    /// Offsets are committed asynchronously once a batch's state is acknowledged; a failed
    /// commit only means a successor replays records whose audits and state are written.
    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        if let Err(e) = result {
            tracing::warn!(error = %e, "offset commit failed; a successor would replay from the previous commit");
        }
    }

    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let mut s = lock(&self.shared);
        let raw = s.pipeline.topics().raw.clone();
        match rebalance {
            Rebalance::Assign(tpl) => {
                let parts: Vec<i32> = tpl
                    .elements_for_topic(&raw)
                    .iter()
                    .map(|e| e.partition())
                    .collect();
                tracing::info!(partitions = ?parts, "partitions assigned; restoring their windows");
                if let Err(e) = s.restore(&parts) {
                    tracing::error!(error = %e, "restoring collator state failed; stopping");
                    s.failure = Some(e);
                }
            }
            Rebalance::Revoke(tpl) => {
                let parts: Vec<i32> = tpl
                    .elements_for_topic(&raw)
                    .iter()
                    .map(|e| e.partition())
                    .collect();
                if consumer.assignment_lost() {
                    // Another member may already own them and write their state: writing ours
                    // now could overwrite newer state. Drop it; the owner replays.
                    tracing::warn!(partitions = ?parts, "partitions lost; dropping their windows unflushed");
                    if let Err(e) = s.pipeline.abandon() {
                        s.failure = Some(e);
                    }
                } else {
                    // Every batch in flight is written and committed before the partitions
                    // go: the next owner restores their state and starts after our offsets.
                    tracing::info!(partitions = ?parts, "partitions revoked; writing out their batches");
                    if let Err(e) = s.seal().and_then(|()| s.pipeline.drain(consumer)) {
                        tracing::error!(error = %e, "writing out on revoke failed; stopping");
                        s.failure = Some(e);
                    }
                }
                for p in parts {
                    s.partitions.remove(&p);
                }
            }
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance error"),
        }
    }
}
