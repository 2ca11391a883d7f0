//! The retry loop: consumes `audit.retry`, holds parked audits in per-(sink, record) queues and
//! re-attempts each queue's head when it is due, so one record's audits still reach a sink in
//! order. An offset of `audit.retry` is committed once every parked audit before it has left
//! (delivered or dead-lettered); after a restart the uncommitted ones are read again, the ones
//! already delivered being skipped through the ledger. The schedule's bound is kept across
//! restarts by `first_attempt_at_ms` (`retry.max_age`), attempts counting from the last stored one.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::CommitMode;
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message as _};
use schema::v1::ParkedAudit;
use schema::Message as _;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio_util::sync::CancellationToken;

use super::dispatch::{assigned_consumer, close, commit};
use super::lane::millis;
use super::offsets::OffsetTracker;
use super::shared::{Shared, SinkRuntime, Verdict};
use crate::backoff;
use crate::metrics::DELIVERIES_TOTAL;
use crate::sinks::{AttemptFailure, ErrorClass, FailureKind};
use crate::{Error, Result};

/// How often due audits are looked for (and offsets committed).
const TICK: Duration = Duration::from_millis(100);
/// With no record and no EOF for this long, the start-up read of `audit.retry` is caught up.
const CATCH_UP_IDLE: Duration = Duration::from_secs(3);
/// Reading `audit.retry` up to its end at start must not take longer than this.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(60);

type QueueKey = (String, String);

struct Item {
    parked: ParkedAudit,
    partition: i32,
    offset: i64,
    in_flight: bool,
}

/// What became of a head's attempt.
enum Settled {
    /// Left `audit.retry` (delivered, already delivered, or dead-lettered).
    Done,
    /// Failed again; try later.
    Again {
        attempt: u32,
        next_attempt_at_ms: i64,
        failure: AttemptFailure,
    },
    /// Shutting down mid-write: leave it for the next start.
    Abandoned,
}

pub struct RetryLoop {
    shared: Arc<Shared>,
    sinks: HashMap<String, Arc<SinkRuntime>>,
    permits: HashMap<String, Arc<Semaphore>>,
    queues: HashMap<QueueKey, VecDeque<Item>>,
    tracker: Arc<OffsetTracker>,
}

impl RetryLoop {
    pub fn new(shared: Arc<Shared>, sinks: &[Arc<SinkRuntime>]) -> Self {
        let permits = sinks
            .iter()
            .map(|s| {
                (
                    s.name().to_owned(),
                    Arc::new(Semaphore::new(s.config.concurrency)),
                )
            })
            .collect();
        let sinks = sinks
            .iter()
            .map(|s| (s.name().to_owned(), s.clone()))
            .collect();
        RetryLoop {
            shared,
            sinks,
            permits,
            queues: HashMap::new(),
            tracker: Arc::new(OffsetTracker::default()),
        }
    }

    /// Runs until shutdown. `ready` fires once `audit.retry` was read to its end, so the parked
    /// records are known before any new audit is dispatched.
    pub async fn run(
        mut self,
        kafka: &common::kafka::KafkaConfig,
        group_id: &str,
        ready: oneshot::Sender<()>,
        shutdown: CancellationToken,
    ) -> Result<()> {
        let topic = self.shared.topics.audit_retry.clone();
        let consumer = assigned_consumer(
            kafka,
            &format!("{group_id}.retry"),
            std::slice::from_ref(&topic),
        )
        .await?;
        let partitions = {
            let (kafka, topic) = (kafka.clone(), topic.clone());
            tokio::task::spawn_blocking(move || kafka.partition_count(&topic))
                .await
                .map_err(Error::Task)??
        };
        let mut pending_eof: HashSet<i32> = (0..partitions).collect();
        let deadline = tokio::time::Instant::now() + CATCH_UP_TIMEOUT;
        let mut last_progress = tokio::time::Instant::now();
        while !pending_eof.is_empty() {
            tokio::select! {
                _ = shutdown.cancelled() => { close(consumer).await; return Ok(()) }
                // librdkafka reports some partitions' EOF (seen for empty ones) as a global
                // error without the partition number: a quiet consumer is caught up too.
                _ = tokio::time::sleep_until(last_progress + CATCH_UP_IDLE) => {
                    tracing::debug!(partitions = ?pending_eof, "no EOF seen; idle, so caught up");
                    break;
                }
                _ = tokio::time::sleep_until(deadline) => {
                    close(consumer).await;
                    return Err(Error::Common(common::Error::Timeout(format!("reading {topic} to its end at start"))));
                }
                m = consumer.recv() => match m {
                    Ok(m) => {
                        last_progress = tokio::time::Instant::now();
                        if let Some(key) = self.add(&m) {
                            self.shared.count_parked(&key.0, &key.1);
                        }
                    }
                    Err(KafkaError::PartitionEOF(p)) => { last_progress = tokio::time::Instant::now(); pending_eof.remove(&p); }
                    Err(e) => tracing::warn!(topic = %topic, error = %e, "reading audit.retry"),
                },
            }
        }
        tracing::info!(
            parked = self.queues.values().map(VecDeque::len).sum::<usize>(),
            "audit.retry read; parked audits restored"
        );
        let _ = ready.send(());

        let (settled_tx, mut settled_rx) = mpsc::unbounded_channel::<(QueueKey, Settled)>();
        let mut ticker = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = ticker.tick() => {
                    self.start_due(&settled_tx);
                    commit(&consumer, &self.tracker, CommitMode::Async);
                }
                // Audits parked by the lanes (already counted there).
                m = consumer.recv() => match m {
                    Ok(m) => { self.add(&m); }
                    Err(KafkaError::PartitionEOF(_)) => {}
                    Err(e) => {
                        tracing::warn!(topic = %topic, error = %e, "reading audit.retry");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                },
                Some((key, settled)) = settled_rx.recv() => self.settle(key, settled),
            }
        }
        commit(&consumer, &self.tracker, CommitMode::Sync);
        close(consumer).await;
        Ok(())
    }

    /// Queues a parked audit behind its record's others; returns its queue key.
    fn add(&mut self, m: &BorrowedMessage<'_>) -> Option<QueueKey> {
        let (partition, offset) = (m.partition(), m.offset());
        self.tracker.begin(m.topic(), partition, offset);
        let parked = match ParkedAudit::decode(m.payload().unwrap_or_default()) {
            Ok(p) if p.audit.is_some() => p,
            other => {
                tracing::error!(partition, offset, error = ?other.err(), "undecodable parked audit skipped");
                self.tracker.finish(m.topic(), partition, offset);
                return None;
            }
        };
        let record_key = parked
            .audit
            .as_ref()
            .map(|a| a.record_key.clone())
            .unwrap_or_default();
        let key = (parked.sink.clone(), record_key);
        self.queues.entry(key.clone()).or_default().push_back(Item {
            parked,
            partition,
            offset,
            in_flight: false,
        });
        Some(key)
    }

    /// Starts an attempt for every due queue head not already in flight.
    fn start_due(&mut self, settled: &mpsc::UnboundedSender<(QueueKey, Settled)>) {
        let now = schema::now_ms();
        for (key, queue) in &mut self.queues {
            let Some(head) = queue.front_mut() else {
                continue;
            };
            if head.in_flight || head.parked.next_attempt_at_ms > now {
                continue;
            }
            head.in_flight = true;
            let parked = head.parked.clone();
            let sink = self.sinks.get(&parked.sink).cloned();
            let permits = self.permits.get(&parked.sink).cloned();
            let (shared, key, tx) = (self.shared.clone(), key.clone(), settled.clone());
            tokio::spawn(async move {
                let _permit = match &permits {
                    Some(p) => p.clone().acquire_owned().await.ok(),
                    None => None,
                };
                let outcome = retry_once(&shared, sink.as_deref(), parked).await;
                let _ = tx.send((key, outcome));
            });
        }
    }

    fn settle(&mut self, key: QueueKey, settled: Settled) {
        let Some(queue) = self.queues.get_mut(&key) else {
            return;
        };
        let Some(head) = queue.front_mut() else {
            return;
        };
        match settled {
            Settled::Done => {
                if let Some(item) = queue.pop_front() {
                    self.tracker.finish(
                        &self.shared.topics.audit_retry,
                        item.partition,
                        item.offset,
                    );
                    self.shared.uncount_parked(&key.0, &key.1);
                }
                if queue.is_empty() {
                    self.queues.remove(&key);
                }
            }
            Settled::Again {
                attempt,
                next_attempt_at_ms,
                failure,
            } => {
                head.parked.attempt = attempt;
                head.parked.next_attempt_at_ms = next_attempt_at_ms;
                head.parked.last_error = failure.error;
                head.parked.error_class = failure.class.word().to_owned();
                head.parked.last_status = failure.status;
                head.in_flight = false;
            }
            Settled::Abandoned => head.in_flight = false,
        }
    }
}

/// One re-attempt of a parked audit, and what it leads to.
async fn retry_once(shared: &Shared, sink: Option<&SinkRuntime>, parked: ParkedAudit) -> Settled {
    let audit = parked.audit.clone().unwrap_or_default();
    let gone = |error: &str| AttemptFailure {
        kind: FailureKind::Gone,
        class: ErrorClass::Receiver,
        status: 0,
        error: error.to_owned(),
        retry_after: None,
    };
    let dead_letter = |failure: AttemptFailure| {
        let mut p = parked.clone();
        p.last_error = failure.error;
        p.error_class = failure.class.word().to_owned();
        p.last_status = failure.status;
        p.next_attempt_at_ms = schema::now_ms();
        p
    };
    let written = |r: Result<()>| {
        if r.is_ok() {
            Settled::Done
        } else {
            Settled::Abandoned
        }
    };
    let Some(sink) = sink else {
        // Kept, not dropped: the sink may come back, and `replay` can re-send it then.
        return written(
            shared
                .dead_letter(&dead_letter(gone("sink no longer configured")))
                .await,
        );
    };
    if shared.is_delivered(sink.name(), audit.id) {
        metrics::counter!(DELIVERIES_TOTAL, "sink" => sink.name().to_owned(), "outcome" => "skipped_duplicate").increment(1);
        return Settled::Done;
    }
    if sink.is_disabled() {
        return written(
            shared
                .dead_letter(&dead_letter(gone("endpoint disabled")))
                .await,
        );
    }
    let body = schema::audit_json::render(&audit);
    let attempt = parked.attempt + 1;
    match sink.attempt(shared, &audit, &body, attempt).await {
        Verdict::Delivered => written(shared.record_delivered(sink.name(), audit.id).await),
        Verdict::DeadLetter(f) => {
            let mut p = dead_letter(f);
            p.attempt = attempt;
            written(shared.dead_letter(&p).await)
        }
        Verdict::Retry(f) => {
            let now = schema::now_ms();
            let first = if parked.first_attempt_at_ms > 0 {
                parked.first_attempt_at_ms
            } else {
                now
            };
            let too_old = now.saturating_sub(first) > millis(shared.retry.max_age);
            if attempt >= shared.retry.max_attempts || too_old {
                let mut p = dead_letter(f);
                p.attempt = attempt;
                return written(shared.dead_letter(&p).await);
            }
            let next_attempt_at_ms =
                now + millis(backoff::delay(&shared.retry, attempt, f.retry_after));
            metrics::counter!(DELIVERIES_TOTAL, "sink" => sink.name().to_owned(), "outcome" => "retry").increment(1);
            Settled::Again {
                attempt,
                next_attempt_at_ms,
                failure: f,
            }
        }
    }
}
