//! A sink's workers. Each sink has `concurrency` lanes, each a bounded queue worked in order; an
//! audit's lane is chosen by its record key, so one record's audits reach the sink in order while
//! other records go in parallel, and a slow sink only ever fills its own lanes.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use schema::v1::AuditEvent;
use tokio::sync::mpsc;

use super::offsets::Completion;
use super::shared::{parked, Shared, SinkRuntime, Verdict};
use crate::backoff;
use crate::metrics::{DELIVERIES_TOTAL, QUEUE_DEPTH};
use crate::sinks::{AttemptFailure, ErrorClass, FailureKind};
use crate::Result;

/// One audit for one sink, already filtered for it.
#[derive(Debug)]
pub struct Job {
    pub audit: AuditEvent,
    pub body: Vec<u8>,
    pub done: Arc<Completion>,
}

/// The senders of a sink's lanes.
#[derive(Debug, Clone)]
pub struct Lanes {
    pub sink: String,
    senders: Vec<mpsc::Sender<Job>>,
}

impl Lanes {
    /// Starts the lanes of `sink`; they run until their senders are dropped or shutdown.
    pub fn start(
        shared: Arc<Shared>,
        sink: Arc<SinkRuntime>,
        tasks: &tokio_util::task::TaskTracker,
    ) -> Lanes {
        let per_lane = sink
            .config
            .queue_capacity
            .div_ceil(sink.config.concurrency)
            .max(1);
        let senders = (0..sink.config.concurrency)
            .map(|_| {
                let (tx, rx) = mpsc::channel(per_lane);
                tasks.spawn(run_lane(shared.clone(), sink.clone(), rx));
                tx
            })
            .collect();
        Lanes {
            sink: sink.name().to_owned(),
            senders,
        }
    }

    /// Queues a job on its record's lane; waits while that lane is full. Returns false when the
    /// lane is gone (shutting down).
    pub async fn send(&self, job: Job) -> bool {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        job.audit.record_key.hash(&mut h);
        let lane = (h.finish() % self.senders.len() as u64) as usize;
        metrics::gauge!(QUEUE_DEPTH, "sink" => self.sink.clone()).increment(1.0);
        self.senders[lane].send(job).await.is_ok()
    }
}

async fn run_lane(shared: Arc<Shared>, sink: Arc<SinkRuntime>, mut jobs: mpsc::Receiver<Job>) {
    loop {
        let job = tokio::select! {
            // Between jobs only: an attempt in progress is bounded by the sink's timeouts.
            _ = shared.shutdown.cancelled() => return,
            job = jobs.recv() => match job { Some(j) => j, None => return },
        };
        metrics::gauge!(QUEUE_DEPTH, "sink" => sink.name().to_owned()).decrement(1.0);
        match handle(&shared, &sink, &job).await {
            Ok(()) => job.done.sink_done(),
            // Only a shutdown stops a persist; the message stays uncommitted.
            Err(e) => {
                tracing::warn!(sink = %sink.name(), audit_id = job.audit.id, error = %e, "audit left for the next start")
            }
        }
    }
}

/// Delivers, parks or dead-letters one audit for one sink.
async fn handle(shared: &Shared, sink: &SinkRuntime, job: &Job) -> Result<()> {
    let name = sink.name();
    let audit = &job.audit;
    if shared.is_delivered(name, audit.id) {
        metrics::counter!(DELIVERIES_TOTAL, "sink" => name.to_owned(), "outcome" => "skipped_duplicate").increment(1);
        tracing::debug!(sink = %name, audit_id = audit.id, "already delivered; skipped");
        return Ok(());
    }
    let now = schema::now_ms();
    if sink.is_disabled() {
        let failure = AttemptFailure {
            kind: FailureKind::Gone,
            class: ErrorClass::Receiver,
            status: 0,
            error: "endpoint disabled".into(),
            retry_after: None,
        };
        return shared
            .dead_letter(&parked(name, audit.clone(), 0, now, Some(&failure), now))
            .await;
    }
    if shared.parked_count(name, &audit.record_key) > 0 || sink.is_failing() {
        let next = now + millis(backoff::delay(&shared.retry, 1, None));
        return shared
            .park(&parked(name, audit.clone(), 0, next, None, now))
            .await;
    }
    match sink.attempt(shared, audit, &job.body, 1).await {
        Verdict::Delivered => shared.record_delivered(name, audit.id).await,
        Verdict::Retry(f) => {
            let next = schema::now_ms() + millis(backoff::delay(&shared.retry, 1, f.retry_after));
            shared
                .park(&parked(name, audit.clone(), 1, next, Some(&f), now))
                .await
        }
        Verdict::DeadLetter(f) => {
            shared
                .dead_letter(&parked(name, audit.clone(), 1, now, Some(&f), now))
                .await
        }
    }
}

pub fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
