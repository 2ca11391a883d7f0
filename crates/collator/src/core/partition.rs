//! Everything the collator knows about one `raw` partition: open windows, closed records,
//! the watermark, and what must be written out at the next flush (`take`).

mod take;

use std::sync::Arc;

use prost::{DecodeError, Message as _};
use schema::v1::{record_state, RawEvent, RecordState};

use super::audit::{encode_window, EncodedAudit};
use super::closed::Closed;
use super::ids::write_record_key;
use super::live::LiveAudits;
use super::merge::CLOSE_ROOM;
use super::raw::{read_raw_into, RawView};
use super::records::{key_hash, Origins, RecordId, Records, Slot};
use super::timers::Timers;
use super::window::SessionWindow;
use super::wire::{as_str, EntryView};
use super::Settings;

/// What applying one raw event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// It opened a new window of its record.
    Opened,
    /// It joined the record's open window.
    Joined,
    /// Its dedup key was already applied (in the open window, or emitted before).
    Duplicate,
    /// It is at or below the offset an emitted window already covered (a replay after restore).
    Replayed,
}

/// Counters since the last [`PartitionCollator::take_stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub applied: u64,
    pub duplicates: u64,
    pub replayed: u64,
    pub windows_closed: u64,
    pub empty_windows: u64,
}

/// The collator of one partition. Feed it raw events in offset order with [`apply`], move
/// time with [`advance`], read and clear each event's live audits ([`live`], [`clear_live`]),
/// and drain [`take_audits_encoded`] / [`take_dirty`] at flush.
///
/// [`apply`]: PartitionCollator::apply
/// [`advance`]: PartitionCollator::advance
/// [`live`]: PartitionCollator::live
/// [`clear_live`]: PartitionCollator::clear_live
/// [`take_audits_encoded`]: PartitionCollator::take_audits_encoded
/// [`take_dirty`]: PartitionCollator::take_dirty
#[derive(Debug)]
pub struct PartitionCollator {
    settings: Arc<Settings>,
    partition: i32,
    records: Records,
    origins: Origins,
    /// When to look at a record again. Entries may be stale; a record is re-examined and
    /// rescheduled when one fires, so staleness only costs a look. Ties fire in key order,
    /// which fixes the order of audits closed by one watermark move.
    timers: Timers,
    watermark: i64,
    /// Records whose `collator-state` changed since the last flush (sorted by key at take).
    dirty: Vec<u32>,
    /// The key of the record being closed or released, built here to avoid an allocation.
    key_buf: String,
    /// The key of the record being applied, built from the raw record's bytes (`raw`).
    apply_key: Vec<u8>,
    audits: Vec<EncodedAudit>,
    live: LiveAudits,
    stats: Stats,
}

impl PartitionCollator {
    pub fn new(settings: Arc<Settings>, partition: i32) -> Self {
        PartitionCollator {
            settings,
            partition,
            records: Records::default(),
            origins: Origins::default(),
            timers: Timers::default(),
            watermark: i64::MIN,
            dirty: Vec::new(),
            key_buf: String::new(),
            apply_key: Vec::new(),
            audits: Vec::new(),
            live: LiveAudits::default(),
            stats: Stats::default(),
        }
    }

    pub fn partition(&self) -> i32 {
        self.partition
    }

    pub fn watermark(&self) -> i64 {
        self.watermark
    }

    pub fn open_windows(&self) -> usize {
        self.records.slots().filter(|r| r.open.is_some()).count()
    }

    /// The slot of `key` (whose record id is `id`), made if the key has none, and whether it
    /// was made now (with `origin`'s origin).
    fn slot_of(
        &mut self,
        key: &[u8],
        origin: impl FnOnce(&mut Origins) -> Arc<super::records::Origin>,
        id: &[u8],
    ) -> (u32, bool) {
        let hash = key_hash(key);
        match self.records.find(key, hash) {
            Some(n) => (n, false),
            None => {
                let origin = origin(&mut self.origins);
                let n = self.records.insert(
                    hash,
                    Slot {
                        origin,
                        id: RecordId::new(id),
                        open: None,
                        closed: None,
                        timers: 0,
                        scheduled: 0,
                        scheduled_pending: false,
                        dirty: false,
                    },
                );
                (n, true)
            }
        }
    }

    /// Loads one record's state from `collator-state` (the last value of its key).
    pub fn restore(&mut self, key: String, state: RecordState) {
        // A key is split at its last `|`: `{site}|{type}|` is shared, the id is the record's.
        let split = key.rfind('|').map_or(0, |i| i + 1);
        let (prefix, id) = key.split_at(split);
        let (open, closed) = match state.state {
            Some(record_state::State::Open(w)) => (Some(w), state.closed_before),
            Some(record_state::State::Closed(c)) => (None, Some(c)),
            None => return,
        };
        let origin = match &open {
            Some(w) => {
                let rtype = w.record.as_ref().map_or("", |r| r.r#type.as_str());
                self.origins.get([
                    prefix.as_bytes(),
                    w.jira_site.as_bytes(),
                    rtype.as_bytes(),
                    w.integration_id.as_bytes(),
                    w.workspace.as_bytes(),
                ])
            }
            None => self.origins.get([prefix.as_bytes(), b"", b"", b"", b""]),
        };
        let window = open.map(|w| SessionWindow::from_state(&w, &key, id, &origin));
        let (n, _) = self.slot_of(key.as_bytes(), |_| Arc::clone(&origin), id.as_bytes());
        if let Some(slot) = self.records.get_mut(n) {
            slot.origin = origin;
            slot.id = RecordId::new(id.as_bytes());
            slot.open = window;
            slot.closed = closed.map(|c| Box::new(Closed::from_state(c)));
        }
        self.schedule(n);
    }

    /// Applies one raw event at `offset`, as [`apply_encoded`](Self::apply_encoded) applies
    /// its `raw` record.
    pub fn apply(&mut self, event: &RawEvent, offset: i64) -> Applied {
        let encoded = event.encode_to_vec();
        self.apply_encoded(&encoded, offset)
            .expect("prost decodes what it encoded")
    }

    /// Applies one `raw` record (an encoded `RawEvent`) at `offset`, read in place: nothing
    /// of it is copied but what its window entry and live audit keep. Bytes prost would not
    /// decode are refused with prost's error, and nothing is applied.
    pub fn apply_encoded(&mut self, payload: &[u8], offset: i64) -> Result<Applied, DecodeError> {
        let mut canonical = Vec::new();
        let mut view = RawView::default();
        read_raw_into(payload, &mut canonical, &mut view)?;
        Ok(self.apply_view(&view, offset))
    }

    /// Applies a raw record read in place. Window time is the event's `received_at`, so the
    /// watermark first moves to it: windows it proves idle close before it is applied.
    pub(crate) fn apply_view(&mut self, event: &RawView<'_>, offset: i64) -> Applied {
        self.advance(event.received_at.value());
        let (rtype, rid) = (event.record_type, event.record_id);
        let mut key = std::mem::take(&mut self.apply_key);
        write_record_key(&mut key, event.jira_site, rtype, rid);
        let prefix = &key[..key.len() - rid.len()];
        let origin_of = |o: &mut Origins| {
            o.get([
                prefix,
                event.jira_site,
                rtype,
                event.integration_id,
                event.workspace,
            ])
        };
        let (n, made) = self.slot_of(&key, origin_of, rid);
        let s = Arc::clone(&self.settings);
        let wm = self.watermark;
        // What a look at the record's memory would have forgotten by now, had the dirty list
        // not deferred it to the flush (`schedule`): looks fire as the watermark moves, before
        // anything below.
        //
        // A window the event cannot join is past its deadline: the event arrived behind the
        // watermark (its timer is due, at the watermark's next move). It closes first, so the
        // event is judged against what it emitted, as it would be had its timer fired: a
        // redelivery of one of its changes is a duplicate, not the start of a new window.
        let close_first = self.records.get_mut(n).is_some_and(|slot| {
            slot.forget_memory(wm, &s);
            slot.open
                .as_ref()
                .is_some_and(|w| !w.accepts(event.received_at.value(), &s))
        });
        if close_first {
            self.close(n, as_str(&key));
        }
        let outcome = match self.records.get_mut(n) {
            Some(Slot {
                closed: Some(closed),
                ..
            }) if offset <= closed.closed_through_offset => Applied::Replayed,
            // A key is remembered until its retention passes, whether or not the record's
            // memory was pruned yet (an open window defers that to its close).
            Some(Slot {
                closed: Some(closed),
                ..
            }) if closed.remembers(event.dedup_key, wm, &s) => Applied::Duplicate,
            Some(Slot { open: Some(w), .. }) if w.accepts(event.received_at.value(), &s) => {
                if w.insert(event, offset) {
                    Applied::Joined
                } else {
                    Applied::Duplicate
                }
            }
            _ => self.open(n, made, &key, event, offset),
        };
        match outcome {
            Applied::Opened | Applied::Joined => {
                self.stats.applied += 1;
                self.live.push(&key, event, &s);
            }
            Applied::Duplicate => self.stats.duplicates += 1,
            Applied::Replayed => self.stats.replayed += 1,
        }
        self.apply_key = key;
        if outcome != Applied::Replayed {
            // Duplicates widen the window too (see SessionWindow), so the state changed.
            self.mark_dirty(n);
        }
        self.schedule(n);
        outcome
    }

    /// Opens a window in slot `n`; `made`: the slot was made for this event, with its origin.
    fn open(
        &mut self,
        n: u32,
        made: bool,
        key: &[u8],
        event: &RawView<'_>,
        offset: i64,
    ) -> Applied {
        let (rtype, rid) = (event.record_type, event.record_id);
        let prefix = &key[..key.len() - rid.len()];
        if let Some(slot) = self.records.get_mut(n) {
            // A record seen before may reopen from another integration or workspace.
            let parts = [
                prefix,
                event.jira_site,
                rtype,
                event.integration_id,
                event.workspace,
            ];
            if !made && !slot.origin.is(&parts) {
                slot.origin = self.origins.get(parts);
                slot.id = RecordId::new(rid);
            }
            slot.open = Some(SessionWindow::open(key, event, offset));
        }
        Applied::Opened
    }

    fn mark_dirty(&mut self, n: u32) {
        if let Some(slot) = self.records.get_mut(n) {
            if !slot.dirty {
                slot.dirty = true;
                self.dirty.push(n);
            }
        }
    }

    /// Moves the watermark forward (never back) and closes every window whose deadline it
    /// reached; forgets closed records whose dedup retention passed.
    pub fn advance(&mut self, watermark: i64) {
        if watermark <= self.watermark {
            return;
        }
        self.watermark = watermark;
        while self.timers.next_at().is_some_and(|at| at <= watermark) {
            let records = &self.records;
            if let Some((at, n)) = self.timers.pop(|a, b| records.key_cmp(a, b)) {
                let s = &self.settings;
                let mut early = false;
                if let Some(slot) = self.records.get_mut(n) {
                    slot.timers -= 1;
                    if slot.scheduled_pending && slot.scheduled == at {
                        slot.scheduled_pending = false;
                    }
                    early = slot.open.as_ref().is_some_and(|w| w.deadline(s) > at);
                }
                if early {
                    // Scheduled before the window's last changes moved its deadline: look
                    // again at the deadline, so windows close in (deadline, key) order.
                    self.schedule(n);
                    continue;
                }
                self.examine(n);
                self.records.release(n, &mut self.key_buf);
            }
        }
    }

    fn examine(&mut self, n: u32) {
        let s = Arc::clone(&self.settings);
        let wm = self.watermark;
        let Some(slot) = self.records.get(n).filter(|r| r.present()) else {
            return;
        };
        if slot.open.as_ref().is_some_and(|w| w.deadline(&s) <= wm) {
            let mut key = std::mem::take(&mut self.key_buf);
            slot.write_key(&mut key);
            self.close(n, &key);
            self.key_buf = key;
        }
        let Some(slot) = self.records.get_mut(n) else {
            return;
        };
        let changed = slot.forget_memory(wm, &s);
        // A record with neither a window nor a memory is forgotten: its state a tombstone.
        if changed || !slot.present() {
            self.mark_dirty(n);
        }
        self.schedule(n);
    }

    /// Closes the record's open window: merges it into its encoded audit, remembers what it
    /// emitted.
    fn close(&mut self, n: u32, key: &str) {
        let s = Arc::clone(&self.settings);
        let Some(slot) = self.records.get_mut(n) else {
            return;
        };
        let Some(window) = slot.open.take() else {
            return;
        };
        let deadline = window.deadline(&s);
        // Room for the entries of most windows, so the collect does not grow it (an entries
        // iterator does not know its length).
        let mut entries: Vec<EntryView<'_>> = Vec::with_capacity(CLOSE_ROOM);
        entries.extend(window.entries());
        let (id, origin) = (slot.id.as_str(), &slot.origin);
        let audit = encode_window(&window, &entries, key, id, origin, deadline, &s);
        let closed = slot.closed.get_or_insert_with(Box::default);
        let max_offset = entries.iter().map(|e| e.offset).max().unwrap_or(-1);
        closed.closed_through_offset = closed.closed_through_offset.max(max_offset);
        // Keys past their retention are forgotten first (`examine` would right after). A key
        // still remembered is never in the window: applying it found a duplicate. So each
        // entry's key is remembered anew, from its receipt in this window, even one whose
        // earlier emission was forgotten while the window was open.
        let wm = self.watermark;
        closed.forget(wm, &s);
        closed.reserve(
            entries.len(),
            entries.iter().map(|e| e.dedup_key.len()).sum(),
        );
        for e in &entries {
            debug_assert!(!closed.keys().any(|(k, _)| k == e.dedup_key));
            closed.remember(e.dedup_key, e.received_at_ms);
        }
        self.stats.windows_closed += 1;
        match audit {
            Some(a) => {
                closed.last_audit_id = a.id;
                self.audits.push(a);
            }
            None => self.stats.empty_windows += 1,
        }
        self.mark_dirty(n);
    }

    /// Schedules the next look at a record: its deadline, else when its memory expires.
    pub(super) fn schedule(&mut self, n: u32) {
        let s = &self.settings;
        let Some(slot) = self.records.get_mut(n).filter(|r| r.present()) else {
            return;
        };
        let at = match (&slot.open, &slot.closed) {
            (Some(w), _) => w.deadline(s),
            // A record in the dirty list needs no look at its memory before the flush: the
            // flush forgets what expired by then (`take_dirty_encoded`), and schedules the
            // next look. Until that flush, `apply_view` forgets expired keys before it decides.
            (None, Some(_)) if slot.dirty => return,
            (None, Some(c)) => c.next_forgotten_at(s).unwrap_or(i64::MIN),
            (None, None) => i64::MIN,
        };
        if slot.scheduled_pending && slot.scheduled <= at {
            // An earlier look is pending: when it fires, the record is examined and
            // rescheduled at its deadline then. The record's earliest timer, which alone
            // decides when and in which order it closes, is the same as if every move of
            // its deadline had pushed a timer; joins of a burst push none.
            return;
        }
        (slot.scheduled, slot.scheduled_pending) = (at, true);
        slot.timers += 1;
        let records = &self.records;
        self.timers.push((at, n), |a, b| records.key_cmp(a, b));
    }
}
