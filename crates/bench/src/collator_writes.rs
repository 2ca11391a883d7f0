//! The collator's writes alone: what the broker and its client cost for the records the
//! collator writes, with no collation. After a collator run, every record it wrote (live
//! audits, collated audits, `collator-state` values) is read back; then `raw` is consumed
//! again in a fresh group and, spread evenly over the input, exactly those records are
//! written to fresh topics, each to the partition the collator chose. The passthrough writes
//! one record per input; the collator must write more (DESIGN §2: a live audit per change,
//! a changelog of its windows, the audits), so this is the limit the collator itself could
//! reach on this machine, beside which the core's own cost shows.

use std::time::Duration;

use common::kafka::KafkaConfig;
use common::topics::TopicSpec;
use rdkafka::message::Message as _;

use crate::{broker, Error};

/// One record the collator wrote.
#[derive(Debug)]
struct Written {
    key: Vec<u8>,
    payload: Option<Vec<u8>>,
    partition: i32,
}

/// The records of one of the collator's output topics, to be written again to `to`.
#[derive(Debug)]
pub struct Output {
    to: String,
    records: Vec<Written>,
}

impl Output {
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Records and bytes (keys and values).
    pub fn volume(&self) -> (u64, u64) {
        let bytes = self
            .records
            .iter()
            .map(|r| r.key.len() + r.payload.as_ref().map_or(0, Vec::len))
            .sum::<usize>();
        (self.records.len() as u64, bytes as u64)
    }

    pub fn name(&self) -> &str {
        self.to.rsplit('.').next().unwrap_or(&self.to)
    }
}

/// Reads back what the collator wrote to `audit.live`, `audit` and `collator-state`, and
/// creates the fresh topics (`writes.` under the run's prefix) they will be written to again.
pub async fn read_outputs(kafka: &KafkaConfig, timeout: Duration) -> Result<Vec<Output>, Error> {
    let t = kafka.topics();
    let sources = [
        (t.audit_live, false),
        (t.audit, false),
        (t.collator_state, true),
    ];
    let specs: Vec<TopicSpec> = sources
        .iter()
        .map(|(name, compacted)| TopicSpec {
            name: again(kafka, name),
            partitions: kafka.partitions,
            compacted: *compacted,
        })
        .collect();
    kafka
        .ensure_topics(&specs)
        .await
        .map_err(|e| Error::common("creating topics", e))?;
    let k = kafka.clone();
    tokio::task::spawn_blocking(move || {
        sources
            .iter()
            .map(|(name, _)| {
                let mut records = Vec::new();
                common::consume::read_to_end(&k, name, None, timeout, |m| {
                    records.push(Written {
                        key: m.key().unwrap_or_default().to_vec(),
                        payload: m.payload().map(<[u8]>::to_vec),
                        partition: m.partition(),
                    });
                })
                .map_err(|e| Error::common(format!("reading {name}"), e))?;
                Ok(Output {
                    to: again(&k, name),
                    records,
                })
            })
            .collect()
    })
    .await
    .map_err(Error::TaskLost)?
}

/// `writes.{topic}` under the run's prefix.
fn again(kafka: &KafkaConfig, topic: &str) -> String {
    let name = topic.strip_prefix(&kafka.topic_prefix).unwrap_or(topic);
    format!("{}writes.{name}", kafka.topic_prefix)
}

/// Consumes the `total` records of `raw` and writes `outputs` spread evenly over them: after
/// the k-th input, the first k/total of each topic's records are written. Returns the time
/// from the first consumed record to the last acknowledged write. Blocking.
pub fn write_alone(
    kafka: &KafkaConfig,
    outputs: &[Output],
    total: usize,
    timeout: Duration,
) -> Result<Duration, Error> {
    let mut sent = vec![0usize; outputs.len()];
    broker::consume_producing(kafka, "collator-writes", total, timeout, |i, _, out| {
        for (o, sent) in outputs.iter().zip(sent.iter_mut()) {
            let due = if i + 1 == total {
                o.len()
            } else {
                o.len() * (i + 1) / total
            };
            for r in &o.records[*sent..due] {
                out.send(&o.to, &r.key, r.payload.as_deref(), Some(r.partition))?;
            }
            *sent = due;
        }
        Ok(())
    })
}
