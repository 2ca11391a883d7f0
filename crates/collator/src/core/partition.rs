//! Everything the collator knows about one `raw` partition: open windows, closed records,
//! the watermark, and what must be written out at the next flush.

use std::collections::BTreeSet;
use std::sync::Arc;

use schema::v1::{record_state, AuditEvent, ClosedRecord, EmittedKey, RawEvent, RecordState};

use super::fxhash::FxHashMap;
use super::ids::write_record_key;
use super::live::{encode_live, LiveAudit};
use super::merge::{merge_window, Merged};
use super::window::SessionWindow;
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

/// A record's key, shared by its slot, its timers and the dirty set: one allocation per
/// record, however many events it gets.
type RecordKey = Arc<str>;

/// A record's open window (if any) and what it emitted before (kept for `dedup_retention`).
#[derive(Debug, Clone, PartialEq)]
struct RecordSlot {
    key: RecordKey,
    open: Option<SessionWindow>,
    closed: Option<ClosedRecord>,
}

impl RecordSlot {
    fn new(key: RecordKey) -> Self {
        RecordSlot {
            key,
            open: None,
            closed: None,
        }
    }
}

/// The collator of one partition. Feed it raw events in offset order with [`apply`], move
/// time with [`advance`], and drain [`take_audits`] / [`take_live`] / [`take_dirty`] at flush.
///
/// [`apply`]: PartitionCollator::apply
/// [`advance`]: PartitionCollator::advance
/// [`take_audits`]: PartitionCollator::take_audits
/// [`take_live`]: PartitionCollator::take_live
/// [`take_dirty`]: PartitionCollator::take_dirty
#[derive(Debug)]
pub struct PartitionCollator {
    settings: Arc<Settings>,
    partition: i32,
    records: FxHashMap<RecordKey, RecordSlot>,
    /// (time, record key): when to look at a record again. Entries may be stale; a record is
    /// re-examined and rescheduled when one fires, so staleness only costs a lookup. Ties fire
    /// in key order, which fixes the order of audits closed by one watermark move.
    timers: BTreeSet<(i64, RecordKey)>,
    watermark: i64,
    /// Records whose `collator-state` changed since the last flush, in key order.
    dirty: BTreeSet<RecordKey>,
    /// The record key of the event being applied, built here to look it up without allocating.
    key_buf: String,
    audits: Vec<AuditEvent>,
    live: Vec<LiveAudit>,
    stats: Stats,
}

impl PartitionCollator {
    pub fn new(settings: Arc<Settings>, partition: i32) -> Self {
        PartitionCollator {
            settings,
            partition,
            records: FxHashMap::default(),
            timers: BTreeSet::new(),
            watermark: i64::MIN,
            dirty: BTreeSet::new(),
            key_buf: String::new(),
            audits: Vec::new(),
            live: Vec::new(),
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
        self.records.values().filter(|r| r.open.is_some()).count()
    }

    /// Loads one record's state from `collator-state` (the last value of its key).
    pub fn restore(&mut self, key: String, state: RecordState) {
        let key: RecordKey = key.into();
        let mut slot = RecordSlot::new(Arc::clone(&key));
        match state.state {
            Some(record_state::State::Open(w)) => {
                slot.open = Some(SessionWindow::from_state(w));
                slot.closed = state.closed_before;
            }
            Some(record_state::State::Closed(c)) => slot.closed = Some(c),
            None => return,
        }
        self.records.insert(Arc::clone(&key), slot);
        self.schedule(&key);
    }

    /// Applies one raw event at `offset`. Window time is the event's `received_at`, so the
    /// watermark first moves to it: windows it proves idle close before it is applied.
    pub fn apply(&mut self, event: &RawEvent, offset: i64) -> Applied {
        self.advance(event.received_at_ms);
        let (rtype, rid) = event
            .record
            .as_ref()
            .map(|r| (r.r#type.as_str(), r.id.as_str()))
            .unwrap_or(("", ""));
        let mut buf = std::mem::take(&mut self.key_buf);
        write_record_key(&mut buf, &event.jira_site, rtype, rid);
        let key: RecordKey = match self.records.get(buf.as_str()) {
            Some(slot) => Arc::clone(&slot.key),
            None => Arc::from(buf.as_str()),
        };
        self.key_buf = buf;
        let s = Arc::clone(&self.settings);
        let outcome = match self.records.get_mut(&key) {
            Some(RecordSlot {
                closed: Some(closed),
                ..
            }) if offset <= closed.closed_through_offset => Applied::Replayed,
            Some(RecordSlot {
                closed: Some(closed),
                ..
            }) if closed
                .emitted
                .iter()
                .any(|k| k.dedup_key == event.dedup_key) =>
            {
                Applied::Duplicate
            }
            Some(RecordSlot { open: Some(w), .. }) if w.accepts(event.received_at_ms, &s) => {
                if w.insert(event, offset) {
                    Applied::Joined
                } else {
                    Applied::Duplicate
                }
            }
            Some(RecordSlot { open: Some(_), .. }) => {
                // Unreachable while timers are kept (advance closed it); close it anyway
                // rather than stretch a window past its deadline.
                self.close(&key);
                self.open(&key, event, offset)
            }
            _ => self.open(&key, event, offset),
        };
        match outcome {
            Applied::Opened | Applied::Joined => {
                self.stats.applied += 1;
                if let Some(a) = encode_live(&key, event, &s) {
                    self.live.push(a);
                }
            }
            Applied::Duplicate => self.stats.duplicates += 1,
            Applied::Replayed => self.stats.replayed += 1,
        }
        if outcome != Applied::Replayed {
            // Duplicates widen the window too (see SessionWindow), so the state changed.
            self.dirty.insert(Arc::clone(&key));
        }
        self.schedule(&key);
        outcome
    }

    fn open(&mut self, key: &RecordKey, event: &RawEvent, offset: i64) -> Applied {
        let slot = self
            .records
            .entry(Arc::clone(key))
            .or_insert_with(|| RecordSlot::new(Arc::clone(key)));
        slot.open = Some(SessionWindow::open(key.to_string(), event, offset));
        Applied::Opened
    }

    /// Moves the watermark forward (never back) and closes every window whose deadline it
    /// reached; forgets closed records whose dedup retention passed.
    pub fn advance(&mut self, watermark: i64) {
        if watermark <= self.watermark {
            return;
        }
        self.watermark = watermark;
        while self.timers.first().is_some_and(|(at, _)| *at <= watermark) {
            if let Some((_, key)) = self.timers.pop_first() {
                self.examine(&key);
            }
        }
    }

    fn examine(&mut self, key: &RecordKey) {
        let s = Arc::clone(&self.settings);
        let Some(slot) = self.records.get(key) else {
            return;
        };
        if slot
            .open
            .as_ref()
            .is_some_and(|w| w.deadline(&s) <= self.watermark)
        {
            self.close(key);
        }
        let wm = self.watermark;
        let Some(slot) = self.records.get_mut(key) else {
            return;
        };
        if let Some(closed) = &mut slot.closed {
            let before = closed.emitted.len();
            closed
                .emitted
                .retain(|k| k.received_at_ms.saturating_add(s.dedup_retention_ms) > wm);
            if closed.emitted.len() != before {
                self.dirty.insert(Arc::clone(key));
            }
            if closed.emitted.is_empty() {
                slot.closed = None;
            }
        }
        if slot.open.is_none() && slot.closed.is_none() {
            self.records.remove(key);
            self.dirty.insert(Arc::clone(key));
        }
        self.schedule(key);
    }

    /// Closes the record's open window: merges it, remembers what it emitted.
    fn close(&mut self, key: &RecordKey) {
        let s = Arc::clone(&self.settings);
        let Some(slot) = self.records.get_mut(key) else {
            return;
        };
        let Some(window) = slot.open.take() else {
            return;
        };
        let deadline = window.deadline(&s);
        let merged = merge_window(&window, deadline, &s);
        let closed = slot.closed.get_or_insert_with(ClosedRecord::default);
        closed.closed_through_offset = closed.closed_through_offset.max(window.max_offset());
        // The window is gone: its dedup keys move into the record's memory, uncopied.
        for e in window.into_entries() {
            if !closed.emitted.iter().any(|k| k.dedup_key == e.dedup_key) {
                closed.emitted.push(EmittedKey {
                    dedup_key: e.dedup_key,
                    received_at_ms: e.received_at_ms,
                });
            }
        }
        self.stats.windows_closed += 1;
        match merged {
            Merged::Audit(a) => {
                closed.last_audit_id = a.id;
                self.audits.push(*a);
            }
            Merged::Empty => self.stats.empty_windows += 1,
        }
        self.dirty.insert(Arc::clone(key));
    }

    /// Schedules the next look at a record: its deadline, else when its memory expires.
    fn schedule(&mut self, key: &RecordKey) {
        let s = &self.settings;
        let Some(slot) = self.records.get(key) else {
            return;
        };
        let at = match (&slot.open, &slot.closed) {
            (Some(w), _) => w.deadline(s),
            (None, Some(c)) => c
                .emitted
                .iter()
                .map(|k| k.received_at_ms.saturating_add(s.dedup_retention_ms))
                .min()
                .unwrap_or(i64::MIN),
            (None, None) => i64::MIN,
        };
        self.timers.insert((at, Arc::clone(key)));
    }

    /// Collated audits of windows closed since the last call, in close order.
    pub fn take_audits(&mut self) -> Vec<AuditEvent> {
        std::mem::take(&mut self.audits)
    }

    /// Live audits of events applied since the last call, in offset order, encoded.
    pub fn take_live(&mut self) -> Vec<LiveAudit> {
        std::mem::take(&mut self.live)
    }

    /// The `collator-state` value of every record changed since the last call; `None` is a
    /// tombstone (the record is forgotten).
    pub fn take_dirty(&mut self) -> Vec<(String, Option<RecordState>)> {
        let dirty = std::mem::take(&mut self.dirty);
        dirty
            .into_iter()
            .map(|key| {
                let state = self.records.get(&key).map(|slot| self.encode(slot));
                (key.to_string(), state)
            })
            .collect()
    }

    fn encode(&self, slot: &RecordSlot) -> RecordState {
        let (state, closed_before) = match (&slot.open, &slot.closed) {
            (Some(w), c) => (
                Some(record_state::State::Open(w.state().clone())),
                c.clone(),
            ),
            (None, Some(c)) => (Some(record_state::State::Closed(c.clone())), None),
            (None, None) => (None, None),
        };
        RecordState {
            state,
            partition: self.partition,
            closed_before,
        }
    }

    pub fn take_stats(&mut self) -> Stats {
        std::mem::take(&mut self.stats)
    }
}
