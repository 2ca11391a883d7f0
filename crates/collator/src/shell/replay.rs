//! `auditstream replay`: rebuilds audits from `raw`, outside any consumer group.
//!
//! To reproduce live audits exactly (ids and bytes), each partition's windows are rebuilt
//! from the start of the topic up to `to`; an audit is written when its window started in
//! `[from, to)`. Starting the windows at `from` instead would cut windows open at `from` and
//! mint audits live processing never emitted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::output::{produce_all, Outgoing};
use crate::core::{read_raw, EncodedAudit, PartitionCollator, Settings};
use crate::metrics as m;
use crate::{CollatorConfig, Error};
use rdkafka::message::Message as _;

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Raw records read (all of the topic).
    pub events_read: u64,
    /// Raw events applied to windows (received before `to`, duplicates excluded).
    pub events_applied: u64,
    pub duplicates_suppressed: u64,
    pub undecodable: u64,
    /// Audits written to the output topic (their window started in `[from, to)`).
    pub audits_emitted: u64,
    /// Windows that closed with nothing to say.
    pub empty_windows: u64,
    /// Windows still open at the end (their deadline is after `to`, or after now).
    pub windows_open_at_end: u64,
}

/// Longest a replay may take to read `raw` to its end.
const READ_TIMEOUT: Duration = Duration::from_secs(3600);

/// Raw records read between two settlements of the partitions' state (see below).
const FLUSH_EVERY: u64 = 2_500;

/// Rebuilds the audits whose window started in `[from_ms, to_ms)` from `raw` into
/// `output_topic`. Without `to_ms`, windows whose deadline has not passed yet stay open and
/// are not written.
pub async fn replay(
    kafka: common::kafka::KafkaConfig,
    config: CollatorConfig,
    from_ms: i64,
    to_ms: Option<i64>,
    output_topic: String,
) -> Result<ReplaySummary, Error> {
    let settings = Arc::new(Settings::from(&config));
    let grace = i64::try_from(config.arrival_grace.as_millis()).unwrap_or(0);
    let end = to_ms.unwrap_or_else(|| schema::now_ms().saturating_sub(grace));
    let reader_kafka = kafka.clone();
    let (audits, mut summary) =
        tokio::task::spawn_blocking(move || rebuild(&reader_kafka, settings, from_ms, end))
            .await
            .map_err(|_| Error::WorkerLost)??;
    let producer = kafka.producer()?;
    summary.audits_emitted = audits.len() as u64;
    tokio::task::spawn_blocking(move || {
        let out: Vec<Outgoing<'_>> = audits
            .into_iter()
            .map(|a| Outgoing {
                topic: &output_topic,
                key: a.key,
                payload: Some(a.payload),
                partition: None,
            })
            .collect();
        produce_all(&producer, out)?;
        Ok::<_, Error>(output_topic)
    })
    .await
    .map_err(|_| Error::WorkerLost)?
    .map(|topic| tracing::info!(topic = %topic, "replayed audits written"))?;
    tracing::info!(?summary, "replay done");
    Ok(summary)
}

fn rebuild(
    kafka: &common::kafka::KafkaConfig,
    settings: Arc<Settings>,
    from_ms: i64,
    end_ms: i64,
) -> Result<(Vec<EncodedAudit>, ReplaySummary), Error> {
    let raw = kafka.topics().raw;
    let mut collators: BTreeMap<i32, PartitionCollator> = BTreeMap::new();
    let mut summary = ReplaySummary::default();
    let mut audits = Vec::new();
    let mut since_flush = 0;
    summary.events_read = common::consume::read_to_end(kafka, &raw, None, READ_TIMEOUT, |msg| {
        let p = msg.partition();
        let collator = collators
            .entry(p)
            .or_insert_with(|| PartitionCollator::new(Arc::clone(&settings), p));
        // Read in place, as the live collator reads it, so replay decides exactly as it did.
        let mut canonical = Vec::new();
        match read_raw(msg.payload().unwrap_or_default(), &mut canonical) {
            Ok(event) if event.received_at.value() < end_ms => {
                collator.apply_view(&event, msg.offset());
            }
            Ok(_) => {}
            Err(e) => {
                summary.undecodable += 1;
                metrics::counter!(m::UNDECODABLE_RAW_TOTAL).increment(1);
                tracing::error!(partition = p, offset = msg.offset(), error = %e, "undecodable raw record skipped");
            }
        }
        // Live audits are not replayed; cleared so memory stays bounded by open windows.
        collator.clear_live();
        audits.extend(
            collator
                .take_audits_encoded()
                .into_iter()
                .filter(|a| a.window_start_ms >= from_ms && a.window_start_ms < end_ms),
        );
        // Replay writes no state, but settles it as the live collator's flushes do: a
        // record's memory is forgotten at a flush once its retention passed (the core defers
        // that for a changed record), and a forgotten record's slot is freed. Memory stays
        // bounded by the retention, not by every record the range touched.
        since_flush += 1;
        if since_flush == FLUSH_EVERY {
            since_flush = 0;
            collators
                .values_mut()
                .for_each(PartitionCollator::settle_dirty);
        }
    })?;
    for collator in collators.values_mut() {
        collator.advance(end_ms);
        audits.extend(
            collator
                .take_audits_encoded()
                .into_iter()
                .filter(|a| a.window_start_ms >= from_ms && a.window_start_ms < end_ms),
        );
        let stats = collator.take_stats();
        summary.events_applied += stats.applied;
        summary.duplicates_suppressed += stats.duplicates;
        summary.empty_windows += stats.empty_windows;
        summary.windows_open_at_end += collator.open_windows() as u64;
    }
    Ok((audits, summary))
}
