//! What a flush takes from a partition: collated and live audits, `collator-state` values,
//! counters.

use prost::Message as _;
use schema::v1::{AuditEvent, RecordState};

use super::{PartitionCollator, Stats};
use crate::core::audit::EncodedAudit;
use crate::core::live::LiveAudit;

impl PartitionCollator {
    /// Collated audits of windows closed since the last call, in close order.
    pub fn take_audits(&mut self) -> Vec<AuditEvent> {
        let audits = self.take_audits_encoded();
        audits.iter().map(EncodedAudit::decode).collect()
    }

    /// [`take_audits`](Self::take_audits), each audit as the bytes `audit` is written with.
    pub fn take_audits_encoded(&mut self) -> Vec<EncodedAudit> {
        std::mem::take(&mut self.audits)
    }

    /// Live audits of events applied since the last call, in offset order, encoded.
    pub fn take_live(&mut self) -> Vec<LiveAudit> {
        std::mem::take(&mut self.live)
    }

    /// The `collator-state` value of every record changed since the last call, in key order;
    /// `None` is a tombstone (the record is forgotten).
    pub fn take_dirty(&mut self) -> Vec<(String, Option<RecordState>)> {
        self.take_dirty_encoded()
            .into_iter()
            .map(|(key, value)| {
                // Bytes this collator just encoded from its own state: they decode.
                let state = value.map(|v| RecordState::decode(v.as_slice()).unwrap_or_default());
                (key, state)
            })
            .collect()
    }

    /// [`take_dirty`](Self::take_dirty), each value already encoded as `collator-state`
    /// writes it: the open window's bytes are copied, not rebuilt as prost structs.
    pub fn take_dirty_encoded(&mut self) -> Vec<(String, Option<Vec<u8>>)> {
        let dirty = std::mem::take(&mut self.dirty);
        // Each key is written once, and sorted as the string it is (key order), without
        // reading two slots per comparison.
        let mut keyed: Vec<(String, u32)> = dirty
            .into_iter()
            .filter_map(|n| {
                let slot = self.records.get(n)?;
                let mut key = String::new();
                slot.write_key(&mut key);
                Some((key, n))
            })
            .collect();
        keyed.sort_unstable();
        let mut window = Vec::new();
        let mut out = Vec::with_capacity(keyed.len());
        let (wm, s) = (self.watermark, std::sync::Arc::clone(&self.settings));
        for (key, n) in keyed {
            let Some(slot) = self.records.get_mut(n) else {
                continue;
            };
            slot.dirty = false;
            // While dirty, its memory had no look of its own (`schedule`): what expired by
            // now is forgotten here, as each look would have, and the next look scheduled.
            slot.forget_memory(wm, &s);
            let value = slot
                .present()
                .then(|| slot.encode_state(&key, self.partition, &mut window));
            out.push((key, value));
            self.schedule(n);
            self.records.release(n, &mut self.key_buf);
        }
        out
    }

    pub fn take_stats(&mut self) -> Stats {
        std::mem::take(&mut self.stats)
    }
}
