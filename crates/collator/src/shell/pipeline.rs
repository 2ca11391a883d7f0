//! Batches on their way out. A batch's audits and live audits leave as the core makes them;
//! when the batch ends its state snapshot and offsets are sealed with it, and the batch then
//! moves through three steps without holding up the consume loop:
//!
//! 1. every audit and live audit of the batch is acknowledged → its state is produced
//!    (in batch order, so a record's newer state is never overtaken by an older one);
//! 2. its state is acknowledged → its offsets are committed (in batch order).
//!
//! A crash at any point therefore finds, for every committed offset, the state and audits it
//! depends on durable, and for every durable state the audits it marks emitted: a restart
//! replays from the committed offsets and re-emits byte-identical audits, never loses one.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::producer::Producer as _;
use rdkafka::{Offset, TopicPartitionList};

use super::delivery::{send, Acks, Producer};
use crate::core::{EncodedAudit, LiveAudits};
use crate::metrics as m;
use crate::{Clock, Error};

/// One `collator-state` value to write; `value: None` is a tombstone.
#[derive(Debug)]
pub(crate) struct StateWrite {
    pub partition: i32,
    pub key: String,
    pub value: Option<Vec<u8>>,
}

/// What a closed window's audit reports once it is acknowledged.
#[derive(Debug, Clone, Copy)]
struct ClosedWindow {
    start_ms: i64,
    end_ms: i64,
    events: u32,
}

/// The outputs sent since the last seal.
#[derive(Debug)]
struct Outputs {
    acks: Arc<Acks>,
    windows: Vec<ClosedWindow>,
    live: u64,
}

impl Outputs {
    fn new() -> Self {
        Outputs {
            acks: Acks::new(),
            windows: Vec::new(),
            live: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.windows.is_empty() && self.live == 0
    }
}

/// A batch whose records are all applied, waiting for its acknowledgements.
#[derive(Debug)]
struct Sealed {
    outputs: Outputs,
    /// Produced once `outputs` are acknowledged; then `None`.
    state: Option<Vec<StateWrite>>,
    state_acks: Option<Arc<Acks>>,
    /// Next offset to read, per partition of `raw`.
    offsets: Vec<(i32, i64)>,
}

/// The topics a batch writes to, and the group offsets it commits.
#[derive(Debug, Clone)]
pub(crate) struct Topics {
    pub raw: String,
    pub audit: String,
    pub live: String,
    pub state: String,
}

pub(crate) struct Pipeline {
    producer: Producer,
    topics: Topics,
    clock: Arc<dyn Clock>,
    open: Outputs,
    sealed: VecDeque<Sealed>,
    /// Sealed batches allowed in flight before the consume loop waits for the oldest.
    limit: usize,
    /// With Kafka transactions one batch is one transaction: no batch overlaps another.
    transactions: bool,
    in_transaction: bool,
}

impl Pipeline {
    pub fn new(
        producer: Producer,
        topics: Topics,
        clock: Arc<dyn Clock>,
        limit: usize,
        transactions: bool,
    ) -> Self {
        Pipeline {
            producer,
            topics,
            clock,
            open: Outputs::new(),
            sealed: VecDeque::new(),
            limit: if transactions { 0 } else { limit.max(1) },
            transactions,
            in_transaction: false,
        }
    }

    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// True while a sealed batch awaits acknowledgements.
    pub fn in_flight(&self) -> bool {
        !self.sealed.is_empty()
    }

    /// Sends collated and live audits, as the core encoded them, as part of the current batch.
    pub fn emit(&mut self, audits: Vec<EncodedAudit>, live: &LiveAudits) -> Result<(), Error> {
        if audits.is_empty() && live.is_empty() {
            return Ok(());
        }
        self.begin_transaction()?;
        let acks = &self.open.acks;
        for a in &audits {
            send(
                &self.producer,
                acks,
                &self.topics.audit,
                &a.key,
                Some(a.payload.as_slice()),
                None,
            )?;
            tracing::debug!(audit_id = a.id, record = %a.key, "audit sent");
            self.open.windows.push(ClosedWindow {
                start_ms: a.window_start_ms,
                end_ms: a.window_end_ms,
                events: a.source_event_count,
            });
        }
        for a in live.iter() {
            send(
                &self.producer,
                acks,
                &self.topics.live,
                a.key(),
                Some(a.payload),
                None,
            )?;
        }
        self.open.live += live.len() as u64;
        Ok(())
    }

    /// Ends the current batch with the state of the records it changed and the offsets it
    /// reached; both are written once the batch's outputs are acknowledged.
    pub fn seal(&mut self, state: Vec<StateWrite>, offsets: Vec<(i32, i64)>) {
        if self.open.is_empty() && state.is_empty() && offsets.is_empty() {
            return;
        }
        self.sealed.push_back(Sealed {
            outputs: std::mem::replace(&mut self.open, Outputs::new()),
            state: Some(state),
            state_acks: None,
            offsets,
        });
    }

    /// Moves every sealed batch on as far as its acknowledgements allow, without waiting.
    /// Offsets are committed asynchronously: a lost commit only makes a successor replay
    /// records whose state is already written, which the core recognises as replayed.
    pub fn advance<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>) -> Result<(), Error> {
        self.step(consumer, CommitMode::Async)
    }

    fn step<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        mode: CommitMode,
    ) -> Result<(), Error> {
        for i in 0..self.sealed.len() {
            if self.sealed[i].state_acks.is_some() {
                continue;
            }
            match self.sealed[i].outputs.acks.outcome() {
                None => break,
                Some(result) => result?,
            }
            if consumer.assignment_lost() {
                // The partitions have a new owner, who may already have written newer state:
                // writing ours now could overwrite it. Write nothing more; the owner replays.
                tracing::warn!("assignment lost; dropping the batches in flight");
                return self.abandon();
            }
            self.record_emitted(i);
            self.produce_state(i)?;
        }
        while let Some(head) = self.sealed.front() {
            match head.state_acks.as_ref().and_then(|a| a.outcome()) {
                None => break,
                Some(result) => result?,
            }
            let head = self.sealed.pop_front().expect("the head was just seen");
            self.commit(consumer, &head.offsets, mode)?;
        }
        Ok(())
    }

    /// Waits until at most `limit` sealed batches are in flight.
    pub fn wait_for_room<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
    ) -> Result<(), Error> {
        self.advance(consumer)?;
        while self.sealed.len() > self.limit {
            self.wait_for_oldest(consumer, CommitMode::Async, None)?;
        }
        Ok(())
    }

    /// Writes out every sealed batch and commits its offsets synchronously (before
    /// partitions are given up).
    pub fn drain<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>) -> Result<(), Error> {
        self.drain_until(consumer, None).map(|_| ())
    }

    /// [`drain`](Self::drain), giving up at `deadline` (shutdown while the broker is away):
    /// the batches left are not committed, and a successor replays their records. Returns how
    /// many batches were left.
    pub fn drain_until<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        deadline: Option<Instant>,
    ) -> Result<usize, Error> {
        self.step(consumer, CommitMode::Sync)?;
        while !self.sealed.is_empty() {
            if !self.wait_for_oldest(consumer, CommitMode::Sync, deadline)? {
                return Ok(self.sealed.len());
            }
        }
        Ok(0)
    }

    /// Forgets every batch in flight unwritten (the assignment was lost).
    pub fn abandon(&mut self) -> Result<(), Error> {
        self.sealed.clear();
        self.open = Outputs::new();
        self.end_transaction(false)
    }

    /// Blocks until the oldest batch's outstanding acknowledgements are in, then moves the
    /// batches on; `false` when `deadline` passed first.
    fn wait_for_oldest<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        mode: CommitMode,
        deadline: Option<Instant>,
    ) -> Result<bool, Error> {
        if let Some(head) = self.sealed.front() {
            let acks = head.state_acks.as_ref().unwrap_or(&head.outputs.acks);
            if !acks.wait_until(deadline)? {
                return Ok(false);
            }
        }
        self.step(consumer, mode)?;
        Ok(true)
    }

    fn produce_state(&mut self, i: usize) -> Result<(), Error> {
        let acks = Acks::new();
        let writes = self.sealed[i].state.take().unwrap_or_default();
        if !writes.is_empty() {
            self.begin_transaction()?;
        }
        for w in &writes {
            send(
                &self.producer,
                &acks,
                &self.topics.state,
                &w.key,
                w.value.as_deref(),
                Some(w.partition),
            )?;
        }
        self.sealed[i].state_acks = Some(acks);
        Ok(())
    }

    fn commit<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        offsets: &[(i32, i64)],
        mode: CommitMode,
    ) -> Result<(), Error> {
        if offsets.is_empty() {
            return self.commit_transaction();
        }
        self.begin_transaction()?;
        let mut tpl = TopicPartitionList::new();
        for &(p, next) in offsets {
            tpl.add_partition_offset(&self.topics.raw, p, Offset::Offset(next))
                .map_err(|e| Error::kafka("building offsets", e))?;
        }
        if self.in_transaction {
            let group = consumer
                .group_metadata()
                .ok_or_else(|| Error::Config("no consumer group metadata".into()))?;
            self.producer
                .send_offsets_to_transaction(&tpl, &group, TRANSACTION_TIMEOUT)
                .map_err(|e| Error::kafka("adding offsets to the transaction", e))?;
        } else if let Err(e) = consumer.commit(&tpl, mode) {
            // Outputs and state are durable; a successor replaying from the older offset
            // reproduces identical audits.
            tracing::warn!(error = %e, "offset commit failed; a successor would replay from the previous commit");
        }
        self.commit_transaction()
    }

    fn begin_transaction(&mut self) -> Result<(), Error> {
        if self.transactions && !self.in_transaction {
            self.producer
                .begin_transaction()
                .map_err(|e| Error::kafka("beginning a transaction", e))?;
            self.in_transaction = true;
        }
        Ok(())
    }

    fn commit_transaction(&mut self) -> Result<(), Error> {
        self.end_transaction(true)
    }

    /// Commits (or aborts) the open transaction, if there is one.
    fn end_transaction(&mut self, commit: bool) -> Result<(), Error> {
        if !std::mem::take(&mut self.in_transaction) {
            return Ok(());
        }
        let (ended, what) = if commit {
            (
                self.producer.commit_transaction(TRANSACTION_TIMEOUT),
                "committing",
            )
        } else {
            (
                self.producer.abort_transaction(TRANSACTION_TIMEOUT),
                "aborting",
            )
        };
        ended.map_err(|e| Error::kafka(format!("{what} a transaction"), e))
    }

    /// Metrics of a batch whose audits were just seen acknowledged.
    fn record_emitted(&self, i: usize) {
        let outputs = &self.sealed[i].outputs;
        let acked_at = self.clock.now_ms();
        for w in &outputs.windows {
            metrics::histogram!(m::CLOSE_LAG_SECONDS)
                .record((acked_at - w.end_ms).max(0) as f64 / 1000.0);
            metrics::histogram!(m::WINDOW_DURATION_SECONDS)
                .record((w.end_ms - w.start_ms).max(0) as f64 / 1000.0);
            metrics::histogram!(m::WINDOW_SIZE_EVENTS).record(f64::from(w.events));
        }
        metrics::counter!(m::AUDITS_EMITTED_TOTAL, "topic" => "audit")
            .increment(outputs.windows.len() as u64);
        metrics::counter!(m::AUDITS_EMITTED_TOTAL, "topic" => "audit.live").increment(outputs.live);
    }
}

const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(30);
