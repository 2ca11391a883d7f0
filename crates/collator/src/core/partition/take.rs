//! What a flush takes from a partition: collated and live audits, `collator-state` values,
//! counters.

use prost::Message as _;
use schema::v1::{AuditEvent, RecordState};

use super::{PartitionCollator, Slot, Stats};
use crate::core::audit::EncodedAudit;
use crate::core::live::LiveAudits;

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

    /// Live audits of events applied since the last [`clear_live`](Self::clear_live), in
    /// offset order, encoded, where the core wrote them: read them, then clear them, and the
    /// next event's are written in the same room.
    pub fn live(&self) -> &LiveAudits {
        &self.live
    }

    /// Forgets the live audits of the events applied so far, keeping their room.
    pub fn clear_live(&mut self) {
        self.live.clear();
    }

    /// The live audits, moved out for a test to hold (their room goes with them; the shell
    /// reads and clears them instead).
    #[cfg(test)]
    pub(crate) fn take_live(&mut self) -> LiveAudits {
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
        let (partition, mut window) = (self.partition, Vec::new());
        let mut out = Vec::with_capacity(keyed.len());
        for (key, n) in keyed {
            let value = self.settle(n, |slot| {
                slot.present()
                    .then(|| slot.encode_state(&key, partition, &mut window))
            });
            if let Some(value) = value {
                out.push((key, value));
            }
        }
        out
    }

    /// Settles every record changed since the last flush as a flush does
    /// ([`take_dirty_encoded`](Self::take_dirty_encoded)), without encoding its state: for a
    /// caller that writes none (replay), so that memories are still forgotten and forgotten
    /// slots freed.
    pub fn settle_dirty(&mut self) {
        for n in std::mem::take(&mut self.dirty) {
            self.settle(n, |_| ());
        }
    }

    /// A flush's part for one dirty record: out of the dirty list, its memory forgotten where
    /// the retention passed (while dirty it had no look of its own, see `schedule`), `read`
    /// of it, its next look scheduled and its slot freed if it is forgotten. `None` for a
    /// slot that no longer exists.
    fn settle<T>(&mut self, n: u32, read: impl FnOnce(&Slot) -> T) -> Option<T> {
        let (wm, s) = (self.watermark, &self.settings);
        let slot = self.records.get_mut(n)?;
        slot.dirty = false;
        slot.forget_memory(wm, s);
        let value = read(slot);
        self.schedule(n);
        self.records.release(n, &mut self.key_buf);
        Some(value)
    }

    pub fn take_stats(&mut self) -> Stats {
        std::mem::take(&mut self.stats)
    }
}
