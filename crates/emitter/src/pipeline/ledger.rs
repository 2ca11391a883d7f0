//! The "never twice" ledger: which audit ids each sink has acknowledged, persisted on the
//! compacted `emitter.delivered` topic (key "sink/audit id") and read back whole at start.

use std::collections::HashMap;
use std::time::Duration;

use common::kafka::KafkaConfig;
use rdkafka::message::Message as _;
use rdkafka::producer::{FutureProducer, FutureRecord};
use schema::v1::DeliveryRecord;
use schema::Message as _;

use crate::{Error, Result};

/// Delivered ids per sink, with when they were delivered (for the retention window).
#[derive(Debug, Default)]
pub struct DeliveredLedger {
    by_sink: HashMap<String, HashMap<u64, i64>>,
    retention_ms: i64,
}

/// The ledger key of an audit delivered to a sink.
pub fn ledger_key(sink: &str, audit_id: u64) -> String {
    format!("{sink}/{audit_id}")
}

impl DeliveredLedger {
    pub fn new(retention: Duration) -> Self {
        DeliveredLedger {
            by_sink: HashMap::new(),
            retention_ms: i64::try_from(retention.as_millis()).unwrap_or(i64::MAX),
        }
    }

    pub fn insert(&mut self, sink: &str, audit_id: u64, delivered_at_ms: i64) {
        self.by_sink
            .entry(sink.to_owned())
            .or_default()
            .insert(audit_id, delivered_at_ms);
    }

    pub fn remove(&mut self, sink: &str, audit_id: u64) {
        if let Some(ids) = self.by_sink.get_mut(sink) {
            ids.remove(&audit_id);
        }
    }

    /// True when `sink` acknowledged `audit_id` within the retention window.
    pub fn contains(&self, sink: &str, audit_id: u64, now_ms: i64) -> bool {
        self.by_sink
            .get(sink)
            .and_then(|ids| ids.get(&audit_id))
            .is_some_and(|at| now_ms.saturating_sub(*at) <= self.retention_ms)
    }

    /// Entries past the retention window, removed from memory; their keys get tombstones so
    /// compaction reclaims them.
    pub fn take_expired(&mut self, now_ms: i64) -> Vec<String> {
        let mut expired = Vec::new();
        for (sink, ids) in &mut self.by_sink {
            ids.retain(|id, at| {
                let keep = now_ms.saturating_sub(*at) <= self.retention_ms;
                if !keep {
                    expired.push(ledger_key(sink, *id));
                }
                keep
            });
        }
        expired
    }

    /// Delivered ids remembered, all sinks together.
    pub fn entries(&self) -> usize {
        self.by_sink.values().map(HashMap::len).sum()
    }
}

/// Reads `emitter.delivered` to its end into a ledger.
pub async fn load(kafka: &KafkaConfig, retention: Duration) -> Result<DeliveredLedger> {
    let kafka = kafka.clone();
    let topic = kafka.topics().emitter_delivered;
    tokio::task::spawn_blocking(move || {
        let mut ledger = DeliveredLedger::new(retention);
        common::consume::read_to_end(&kafka, &topic, None, Duration::from_secs(60), |m| {
            match m.payload() {
                Some(bytes) => match DeliveryRecord::decode(bytes) {
                    Ok(r) => ledger.insert(&r.sink, r.audit_id, r.delivered_at_ms),
                    Err(e) => tracing::warn!(topic = %topic, offset = m.offset(), error = %e, "undecodable delivery record"),
                },
                // A tombstone: the key's entry expired.
                None => {
                    let parsed = m.key().and_then(|k| std::str::from_utf8(k).ok()).and_then(|k| k.rsplit_once('/'));
                    if let Some((sink, id)) = parsed {
                        if let Ok(id) = id.parse() {
                            ledger.remove(sink, id);
                        }
                    }
                }
            }
        })?;
        Ok(ledger)
    })
    .await
    .map_err(Error::Task)?
}

/// Appends one delivery to `emitter.delivered` and waits for the broker's acknowledgement.
pub async fn append(producer: &FutureProducer, topic: &str, record: &DeliveryRecord) -> Result<()> {
    let key = ledger_key(&record.sink, record.audit_id);
    let payload = record.encode_to_vec();
    producer
        .send(
            FutureRecord::to(topic).key(&key).payload(&payload),
            Duration::from_secs(10),
        )
        .await
        .map(|_| ())
        .map_err(|(e, _)| Error::kafka("writing emitter.delivered", e))
}

/// Writes tombstones for expired ledger keys (best effort: a missed one only costs space).
pub async fn tombstone(producer: &FutureProducer, topic: &str, keys: &[String]) {
    for key in keys {
        let record: FutureRecord<'_, String, [u8]> = FutureRecord::to(topic).key(key);
        if let Err((e, _)) = producer.send(record, Duration::from_secs(10)).await {
            tracing::warn!(topic, key = %key, error = %e, "ledger tombstone not written");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_window_bounds_membership() {
        let mut l = DeliveredLedger::new(Duration::from_secs(60));
        l.insert("hook", 1, 1_000);
        l.insert("hook", 2, 50_000);
        assert!(l.contains("hook", 1, 61_000));
        assert!(!l.contains("hook", 1, 61_001));
        assert!(!l.contains("other", 1, 1_000));
        assert_eq!(l.take_expired(61_001), vec!["hook/1".to_owned()]);
        assert_eq!(l.entries(), 1);
        assert!(l.contains("hook", 2, 61_001));
    }
}
