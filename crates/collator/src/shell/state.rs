//! The shell's per-partition state and the flush that writes a batch out: audits, then
//! collator state, then offsets, each step only after the previous one was acknowledged.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::{Offset, TopicPartitionList};
use schema::v1::{RawEvent, RecordState};

use super::output::{produce_all, Outgoing};
use crate::core::{PartitionCollator, Settings};
use crate::metrics as m;
use crate::{Clock, CollatorConfig, Error};

/// One assigned partition of `raw`.
#[derive(Debug)]
pub(crate) struct PartitionRun {
    pub collator: PartitionCollator,
    /// Next offset to commit (last applied + 1); `None` before the first record.
    pub next_offset: Option<i64>,
    pub committed: Option<i64>,
    /// Partition EOF seen and nothing consumed since: the watermark follows the wall clock.
    pub caught_up: bool,
}

/// Everything the consumer loop and the rebalance callbacks share.
pub(crate) struct Shared {
    pub kafka: common::kafka::KafkaConfig,
    pub config: CollatorConfig,
    pub settings: Arc<Settings>,
    pub raw_topic: String,
    pub state_topic: String,
    pub audit_topic: String,
    pub live_topic: String,
    pub producer: FutureProducer,
    pub clock: Arc<dyn Clock>,
    pub partitions: BTreeMap<i32, PartitionRun>,
    /// A failure seen inside a callback; the loop stops with it.
    pub failure: Option<Error>,
}

impl Shared {
    /// Applies one `raw` record to its partition's collator.
    pub fn apply(&mut self, partition: i32, offset: i64, payload: Option<&[u8]>) {
        let Some(run) = self.partitions.get_mut(&partition) else {
            tracing::warn!(
                partition,
                offset,
                "record of a partition this collator does not own; skipped"
            );
            return;
        };
        run.caught_up = false;
        run.next_offset = Some(offset + 1);
        match RawEvent::decode(payload.unwrap_or_default()) {
            Ok(event) => {
                run.collator.apply(&event, offset);
            }
            Err(e) => {
                metrics::counter!(m::UNDECODABLE_RAW_TOTAL).increment(1);
                tracing::error!(partition, offset, error = %e, "undecodable raw record skipped");
            }
        }
    }

    /// Moves the watermark of every caught-up partition to the wall clock (minus the grace
    /// for changes still in flight), closing idle windows.
    pub fn tick(&mut self) {
        let grace = i64::try_from(self.config.arrival_grace.as_millis()).unwrap_or(0);
        let now = self.clock.now_ms();
        for run in self.partitions.values_mut().filter(|r| r.caught_up) {
            run.collator.advance(now.saturating_sub(grace));
        }
    }

    /// Restores the state of newly assigned partitions from `collator-state`, before any of
    /// their raw records is applied.
    pub fn restore(&mut self, partitions: &[i32]) -> Result<(), Error> {
        let fresh: Vec<i32> = partitions
            .iter()
            .copied()
            .filter(|p| !self.partitions.contains_key(p))
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let mut latest: HashMap<(i32, String), Option<Vec<u8>>> = HashMap::new();
        common::consume::read_to_end(
            &self.kafka,
            &self.state_topic,
            Some(&fresh),
            self.config.restore_timeout,
            |msg| {
                use rdkafka::message::Message as _;
                let key = String::from_utf8_lossy(msg.key().unwrap_or_default()).into_owned();
                latest.insert((msg.partition(), key), msg.payload().map(<[u8]>::to_vec));
            },
        )
        .map_err(|source| Error::Restore {
            partition: fresh[0],
            source,
        })?;
        let mut runs: BTreeMap<i32, PartitionRun> = fresh
            .iter()
            .map(|&p| {
                let collator = PartitionCollator::new(Arc::clone(&self.settings), p);
                (
                    p,
                    PartitionRun {
                        collator,
                        next_offset: None,
                        committed: None,
                        caught_up: false,
                    },
                )
            })
            .collect();
        let mut records = 0usize;
        for ((p, key), payload) in latest {
            let (Some(run), Some(bytes)) = (runs.get_mut(&p), payload) else {
                continue;
            };
            match RecordState::decode(bytes.as_slice()) {
                Ok(state) => {
                    run.collator.restore(key, state);
                    records += 1;
                }
                Err(e) => {
                    tracing::error!(partition = p, key = %key, error = %e, "undecodable collator state ignored")
                }
            }
        }
        metrics::histogram!(m::RESTORE_SECONDS).record(started.elapsed().as_secs_f64());
        tracing::info!(partitions = ?fresh, records, elapsed_ms = started.elapsed().as_millis() as u64, "restored collator state");
        self.partitions.append(&mut runs);
        Ok(())
    }

    /// Writes out everything applied so far: (1) audits and live audits, acknowledged; (2) the
    /// state of every changed record, acknowledged; (3) offsets. A crash between (1) and (3)
    /// re-emits identical audits; it never loses one.
    pub fn flush<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>) -> Result<(), Error> {
        if consumer.assignment_lost() {
            // This member was presumed dead (e.g. paused past the session timeout) and its
            // partitions already have a new owner: writing our state now could overwrite the
            // owner's newer state. Write nothing; the lost-partition callback drops it all.
            tracing::warn!("assignment lost; skipping the flush");
            return Ok(());
        }
        let mut audits = Vec::new();
        let mut live = Vec::new();
        let mut states = Vec::new();
        for (&p, run) in &mut self.partitions {
            audits.extend(run.collator.take_audits());
            live.extend(run.collator.take_live());
            states.extend(
                run.collator
                    .take_dirty()
                    .into_iter()
                    .map(|(k, s)| (p, k, s)),
            );
            record_stats(&mut run.collator);
        }
        let offsets = self.uncommitted()?;
        if audits.is_empty() && live.is_empty() && states.is_empty() && offsets.count() == 0 {
            return Ok(());
        }
        let tx = self.kafka.transactions;
        if tx {
            self.producer
                .begin_transaction()
                .map_err(|e| Error::kafka("beginning a transaction", e))?;
        }
        let mut out: Vec<Outgoing<'_>> = Vec::with_capacity(audits.len() + live.len());
        for a in &audits {
            out.push(Outgoing {
                topic: &self.audit_topic,
                key: a.record_key.clone(),
                payload: Some(a.encode_to_vec()),
                partition: None,
            });
        }
        let live_count = live.len();
        for a in live {
            out.push(Outgoing {
                topic: &self.live_topic,
                key: a.key,
                payload: Some(a.payload),
                partition: None,
            });
        }
        produce_all(&self.producer, out)?;
        let emitted_at = self.clock.now_ms();
        for a in &audits {
            metrics::histogram!(m::CLOSE_LAG_SECONDS)
                .record((emitted_at - a.window_end_ms).max(0) as f64 / 1000.0);
            metrics::histogram!(m::WINDOW_DURATION_SECONDS)
                .record((a.window_end_ms - a.window_start_ms).max(0) as f64 / 1000.0);
            metrics::histogram!(m::WINDOW_SIZE_EVENTS).record(f64::from(a.source_event_count));
            tracing::debug!(audit_id = a.id, record = %a.record_key, lag_ms = emitted_at - a.window_end_ms, "audit emitted");
        }
        metrics::counter!(m::AUDITS_EMITTED_TOTAL, "topic" => "audit")
            .increment(audits.len() as u64);
        metrics::counter!(m::AUDITS_EMITTED_TOTAL, "topic" => "audit.live")
            .increment(live_count as u64);
        let state_out = states
            .into_iter()
            .map(|(p, key, state)| Outgoing {
                topic: &self.state_topic,
                key,
                payload: state.map(|s| s.encode_to_vec()),
                partition: Some(p),
            })
            .collect();
        produce_all(&self.producer, state_out)?;
        if offsets.count() > 0 {
            if tx {
                let group = consumer
                    .group_metadata()
                    .ok_or_else(|| Error::Config("no consumer group metadata".into()))?;
                self.producer
                    .send_offsets_to_transaction(&offsets, &group, Duration::from_secs(30))
                    .map_err(|e| Error::kafka("adding offsets to the transaction", e))?;
            } else if let Err(e) = consumer.commit(&offsets, CommitMode::Sync) {
                // Outputs and state are durable; a later flush commits again, and a successor
                // replaying from the older offset reproduces identical audits.
                tracing::warn!(error = %e, "offset commit failed; will retry at the next flush");
                return self.commit_transaction(tx);
            }
            for e in offsets.elements() {
                if let (Some(run), Offset::Offset(o)) =
                    (self.partitions.get_mut(&e.partition()), e.offset())
                {
                    run.committed = Some(o);
                }
            }
        }
        self.commit_transaction(tx)
    }

    fn commit_transaction(&self, tx: bool) -> Result<(), Error> {
        if tx {
            self.producer
                .commit_transaction(Duration::from_secs(30))
                .map_err(|e| Error::kafka("committing a transaction", e))?;
        }
        Ok(())
    }

    fn uncommitted(&self) -> Result<TopicPartitionList, Error> {
        let mut tpl = TopicPartitionList::new();
        for (&p, run) in &self.partitions {
            if let Some(next) = run.next_offset.filter(|n| Some(*n) != run.committed) {
                tpl.add_partition_offset(&self.raw_topic, p, Offset::Offset(next))
                    .map_err(|e| Error::kafka("building offsets", e))?;
            }
        }
        Ok(tpl)
    }

    pub fn open_windows(&self) -> usize {
        self.partitions
            .values()
            .map(|r| r.collator.open_windows())
            .sum()
    }
}

fn record_stats(collator: &mut PartitionCollator) {
    let s = collator.take_stats();
    metrics::counter!(m::EVENTS_PROCESSED_TOTAL, "outcome" => "applied").increment(s.applied);
    metrics::counter!(m::EVENTS_PROCESSED_TOTAL, "outcome" => "duplicate").increment(s.duplicates);
    metrics::counter!(m::EVENTS_PROCESSED_TOTAL, "outcome" => "replayed").increment(s.replayed);
    metrics::counter!(m::DUPLICATES_SUPPRESSED_TOTAL).increment(s.duplicates);
    metrics::counter!(m::EMPTY_WINDOWS_TOTAL).increment(s.empty_windows);
}
