//! The shell's per-partition state: applying raw records, moving idle watermarks, restoring
//! from `collator-state`, and sealing a batch for the pipeline.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use prost::Message;
use schema::v1::RecordState;

use super::pipeline::{Pipeline, StateWrite};
use crate::core::{PartitionCollator, Settings};
use crate::metrics as m;
use crate::{Clock, CollatorConfig, Error};

/// One assigned partition of `raw`.
#[derive(Debug)]
pub(crate) struct PartitionRun {
    pub collator: PartitionCollator,
    /// Next offset to commit (last applied + 1); `None` before the first record.
    pub next_offset: Option<i64>,
    /// `next_offset` as of the last sealed batch, whose commit is on its way.
    pub sealed: Option<i64>,
    /// Partition EOF seen and nothing consumed since: the watermark follows the wall clock.
    pub caught_up: bool,
}

/// Everything the consumer loop and the rebalance callbacks share.
pub(crate) struct Shared {
    pub kafka: common::kafka::KafkaConfig,
    pub config: CollatorConfig,
    pub settings: Arc<Settings>,
    pub clock: Arc<dyn Clock>,
    pub partitions: BTreeMap<i32, PartitionRun>,
    /// Batches on their way out: audits, then state, then offsets.
    pub pipeline: Pipeline,
    /// A failure seen inside a callback; the loop stops with it.
    pub failure: Option<Error>,
}

impl Shared {
    /// Applies one `raw` record to its partition's collator and sends what it produced.
    pub fn apply(
        &mut self,
        partition: i32,
        offset: i64,
        payload: Option<&[u8]>,
    ) -> Result<(), Error> {
        let Some(run) = self.partitions.get_mut(&partition) else {
            tracing::warn!(
                partition,
                offset,
                "record of a partition this collator does not own; skipped"
            );
            return Ok(());
        };
        run.caught_up = false;
        run.next_offset = Some(offset + 1);
        // Read in place: only what the window entry and the live audit keep is copied.
        if let Err(e) = run
            .collator
            .apply_encoded(payload.unwrap_or_default(), offset)
        {
            metrics::counter!(m::UNDECODABLE_RAW_TOTAL).increment(1);
            tracing::error!(partition, offset, error = %e, "undecodable raw record skipped");
        }
        self.emit(partition)
    }

    /// Moves the watermark of every caught-up partition to the wall clock (minus the grace
    /// for changes still in flight), closing idle windows; their audits leave with the seal.
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
            &self.pipeline.topics().state,
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
                        sealed: None,
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

    /// Sends the audits and live audits the core made since the last call, as part of the
    /// current batch.
    fn emit(&mut self, partition: i32) -> Result<(), Error> {
        let Some(run) = self.partitions.get_mut(&partition) else {
            return Ok(());
        };
        let audits = run.collator.take_audits_encoded();
        // Sent from where the core wrote them, whose room the next event's audit reuses.
        let sent = self.pipeline.emit(audits, run.collator.live());
        run.collator.clear_live();
        sent
    }

    /// Ends the current batch: the state of every record it changed and the offsets it
    /// reached follow its audits out once those are acknowledged (see `pipeline`).
    pub fn seal(&mut self) -> Result<(), Error> {
        let partitions: Vec<i32> = self.partitions.keys().copied().collect();
        for &p in &partitions {
            self.emit(p)?;
        }
        let mut state = Vec::new();
        let mut offsets = Vec::new();
        for (&p, run) in &mut self.partitions {
            state.extend(
                run.collator
                    .take_dirty_encoded()
                    .into_iter()
                    .map(|(key, value)| StateWrite {
                        partition: p,
                        key,
                        value,
                    }),
            );
            if let Some(next) = run.next_offset.filter(|n| Some(*n) != run.sealed) {
                offsets.push((p, next));
                run.sealed = Some(next);
            }
            record_stats(&mut run.collator);
        }
        self.pipeline.seal(state, offsets);
        Ok(())
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
