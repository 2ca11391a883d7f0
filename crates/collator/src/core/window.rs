//! One record's open session window, kept compact: its entries are their `collator-state`
//! bytes (each a `SessionWindowState.entries` field, in order, in one buffer), and its header
//! is what the record's key and interned [`Origin`] do not already say. `collator-state` is
//! written by copying those bytes, and a restore encodes the decoded entries back with prost,
//! so the state is byte-identical to the prost encoding of the window it stands for.

mod entries;
#[cfg(test)]
mod index_tests;

use std::ops::Range;

use prost::encoding;
use prost::Message as _;
use schema::v1::{RecordRef, SessionWindowState, WindowEntry};

use super::raw::RawView;
use super::records::Origin;
use super::wire::{self, put_bytes, put_i64, put_len, put_str, str_len, EntryView};
use super::Settings;
use entries::{entry_time, frames, key_bits, put_entry, sort_key, EntryIndex, ENTRIES};

/// `record` is `{type: origin's record type, id: the key's id}`.
const RECORD_FROM_KEY: u8 = 1;
/// `record` is in `extra` (field 2): it differs from what the key says.
const RECORD_EXPLICIT: u8 = 2;
/// `record_key` is in `extra` (field 1): it differs from the slot's key.
const RECORD_KEY_EXPLICIT: u8 = 4;
/// `partition_key` equals `record_key` (else it is `extra`'s field 7, or empty).
const PARTITION_KEY_IS_RECORD_KEY: u8 = 8;

/// The open window of one record.
///
/// Entries are ordered by (Jira event time, dedup key), not by offset: two webhooks deliver
/// the same changes in different offset orders, and the audit must not depend on which one
/// won (a refinement of DESIGN §3.2's "then offset"). Duplicate deliveries of an entry keep
/// the earliest `received_at` and widen the window's bounds, so the window does not depend on
/// which delivery came first either.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionWindow {
    first_received_ms: i64,
    last_received_ms: i64,
    /// Encoded `entries` fields (tag 8, length, `WindowEntry`), sorted.
    entries: Vec<u8>,
    /// The header fields 1, 2, 3 and 7 that are not derived, encoded in tag order.
    /// Boxed twice so a window without it (most) spends one word on it.
    extra: Option<Box<HeaderExtra>>,
    flags: u8,
    index: EntryIndex,
}

/// Encoded header fields of a window that its record's key and origin do not say.
#[derive(Debug, Clone, PartialEq)]
struct HeaderExtra(Box<[u8]>);

fn boxed(extra: Vec<u8>) -> Option<Box<HeaderExtra>> {
    (!extra.is_empty()).then(|| Box::new(HeaderExtra(extra.into_boxed_slice())))
}

/// What a window's header says, borrowed.
pub(crate) struct Header<'a> {
    pub record_key: &'a str,
    pub record: Option<RecordRef>,
    pub associated: Option<RecordRef>,
    pub partition_key: &'a str,
    pub workspace: &'a str,
    pub integration_id: &'a str,
    pub jira_site: &'a str,
}

/// A `RecordRef` of a window's header, as its audit writes it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RecordBytes<'a> {
    /// `{type, id}`, the record the key names.
    Parts { r#type: &'a str, id: &'a str },
    /// Its prost encoding, kept as the window was given it.
    Encoded(&'a [u8]),
}

/// What a window's header says, borrowed down to the bytes of its record refs: closing a
/// window encodes its audit from this without copying a string.
pub(crate) struct EncodedHeader<'a> {
    pub record_key: &'a str,
    pub record: Option<RecordBytes<'a>>,
    pub associated: Option<&'a [u8]>,
    pub partition_key: &'a str,
    pub workspace: &'a str,
    pub integration_id: &'a str,
    pub jira_site: &'a str,
}

fn put_record_ref(tag: u32, r: &RecordRef, buf: &mut Vec<u8>) {
    encoding::message::encode(tag, r, buf);
}

impl SessionWindow {
    /// Opens a window with its first event. `record_key` is the slot's key, `origin` its
    /// interned origin (built from this event).
    pub(crate) fn open(record_key: &[u8], event: &RawView<'_>, offset: i64) -> Self {
        let mut flags = 0;
        let mut extra = Vec::new();
        if event.record.is_some() {
            flags |= RECORD_FROM_KEY;
        }
        if let Some(a) = event.associated {
            put_bytes(3, a, &mut extra);
        }
        if event.partition_key == record_key {
            flags |= PARTITION_KEY_IS_RECORD_KEY;
        } else {
            put_str(7, event.partition_key, &mut extra);
        }
        let mut w = SessionWindow {
            first_received_ms: event.received_at.value(),
            last_received_ms: event.received_at.value(),
            entries: Vec::new(),
            extra: boxed(extra),
            flags,
            index: EntryIndex::default(),
        };
        w.insert(event, offset);
        w
    }

    /// The window of a restored `collator-state` value, for the record `record_key` whose
    /// id (the key after its prefix) is `record_id`, of `origin`.
    pub(crate) fn from_state(
        state: &SessionWindowState,
        record_key: &str,
        record_id: &str,
        origin: &Origin,
    ) -> Self {
        let mut flags = 0;
        let mut extra = Vec::new();
        if state.record_key != record_key {
            flags |= RECORD_KEY_EXPLICIT;
            put_str(1, &state.record_key, &mut extra);
        }
        match &state.record {
            Some(r) if r.r#type == *origin.record_type && r.id == record_id => {
                flags |= RECORD_FROM_KEY;
            }
            Some(r) => {
                flags |= RECORD_EXPLICIT;
                put_record_ref(2, r, &mut extra);
            }
            None => {}
        }
        if let Some(a) = &state.associated {
            put_record_ref(3, a, &mut extra);
        }
        if state.partition_key == state.record_key {
            flags |= PARTITION_KEY_IS_RECORD_KEY;
        } else {
            put_str(7, &state.partition_key, &mut extra);
        }
        let mut entries = Vec::with_capacity(encoding::message::encoded_len_repeated(
            ENTRIES,
            &state.entries,
        ));
        encoding::message::encode_repeated(ENTRIES, &state.entries, &mut entries);
        SessionWindow {
            first_received_ms: state.first_received_ms,
            last_received_ms: state.last_received_ms,
            index: EntryIndex::of(&entries),
            entries,
            extra: boxed(extra),
            flags,
        }
    }

    /// The entries, in order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = EntryView<'_>> {
        frames(&self.entries).map(|(_, body)| EntryView::parse(body))
    }

    fn extra_field(&self, tag: u32) -> Option<&[u8]> {
        let extra = &self.extra.as_deref()?.0;
        wire::Fields::new(extra).find_map(|(t, v)| match v {
            wire::Value::Bytes(b) if t == tag => Some(b),
            _ => None,
        })
    }

    /// The header, borrowed; `key` is the slot's key, `record_id` the id it ends with.
    pub(crate) fn encoded_header<'a>(
        &'a self,
        key: &'a str,
        record_id: &'a str,
        origin: &'a Origin,
    ) -> EncodedHeader<'a> {
        let record_key = if self.flags & RECORD_KEY_EXPLICIT != 0 {
            self.extra_field(1).map_or("", wire::as_str)
        } else {
            key
        };
        let record = if self.flags & RECORD_FROM_KEY != 0 {
            Some(RecordBytes::Parts {
                r#type: &origin.record_type,
                id: record_id,
            })
        } else if self.flags & RECORD_EXPLICIT != 0 {
            // Kept in `extra` even when empty: prost writes a present message however empty.
            Some(RecordBytes::Encoded(
                self.extra_field(2).unwrap_or_default(),
            ))
        } else {
            None
        };
        EncodedHeader {
            record_key,
            record,
            associated: self.extra_field(3),
            partition_key: if self.flags & PARTITION_KEY_IS_RECORD_KEY != 0 {
                record_key
            } else {
                self.extra_field(7).map_or("", wire::as_str)
            },
            workspace: &origin.workspace,
            integration_id: &origin.integration_id,
            jira_site: &origin.jira_site,
        }
    }

    /// Appends the `SessionWindowState` this window stands for, as prost encodes it.
    pub(crate) fn encode_state(
        &self,
        key: &str,
        record_id: &str,
        origin: &Origin,
        buf: &mut Vec<u8>,
    ) {
        let record_key = if self.flags & RECORD_KEY_EXPLICIT != 0 {
            self.extra_field(1).map_or("", wire::as_str)
        } else {
            key
        };
        put_str(1, record_key, buf);
        if self.flags & RECORD_FROM_KEY != 0 {
            let (t, id) = (&*origin.record_type, record_id);
            put_len(2, str_len(1, t) + str_len(2, id), buf);
            put_str(1, t, buf);
            put_str(2, id, buf);
        }
        for (tag, v) in wire::Fields::new(self.extra.as_deref().map_or(&[][..], |e| &e.0)) {
            if let (2 | 3, wire::Value::Bytes(b)) = (tag, v) {
                put_len(tag, b.len(), buf);
                buf.extend_from_slice(b);
            }
        }
        put_str(4, &*origin.integration_id, buf);
        put_str(5, &*origin.workspace, buf);
        put_str(6, &*origin.jira_site, buf);
        if self.flags & PARTITION_KEY_IS_RECORD_KEY != 0 {
            put_str(7, record_key, buf);
        } else {
            put_str(7, self.extra_field(7).map_or("", wire::as_str), buf);
        }
        buf.extend_from_slice(&self.entries);
        put_i64(9, self.first_received_ms, buf);
        put_i64(10, self.last_received_ms, buf);
    }

    /// The window closes when the watermark reaches this: `gap` after its last change, or
    /// `max_duration` after its first, whichever is earlier.
    pub fn deadline(&self, s: &Settings) -> i64 {
        let by_gap = self.last_received_ms.saturating_add(s.gap_ms);
        let by_age = self.first_received_ms.saturating_add(s.max_duration_ms);
        by_gap.min(by_age)
    }

    pub fn first_received_ms(&self) -> i64 {
        self.first_received_ms
    }

    /// Whether an event received at `received_at_ms` belongs to this window.
    pub fn accepts(&self, received_at_ms: i64, s: &Settings) -> bool {
        received_at_ms < self.deadline(s)
    }

    fn widen(&mut self, received_at_ms: i64) {
        self.first_received_ms = self.first_received_ms.min(received_at_ms);
        self.last_received_ms = self.last_received_ms.max(received_at_ms);
    }

    /// Applies an event. Returns false when its dedup key is already in the window (a
    /// duplicate delivery: applied once, but it still widens the window's bounds).
    pub(crate) fn insert(&mut self, event: &RawView<'_>, offset: i64) -> bool {
        self.widen(event.received_at.value());
        let dedup = event.dedup_key;
        let key = (
            entry_time(event.event_time.value(), event.received_at.value()),
            dedup,
        );
        let before = self.entries.len();
        let bits = key_bits(dedup);
        let at = if !self.index.may_hold(bits)
            && self
                .index
                .last(&self.entries)
                .is_none_or(|last| sort_key(last) < key)
        {
            // A new change after every entry: no entry but the last was read.
            before
        } else {
            let mut at = before;
            let mut found = None;
            for (span, body) in frames(&self.entries) {
                // One read of the head for both questions (`sort_key` is this, composed).
                let (dedup_key, (event_time, received_at)) = EntryView::head(body);
                if dedup_key == dedup {
                    found = Some((span, received_at));
                    break;
                }
                if at == before && (entry_time(event_time, received_at), dedup_key) >= key {
                    at = span.start;
                }
            }
            if let Some((span, received)) = found {
                if event.received_at.value() < received {
                    self.lower_received_at(span, event.received_at.value());
                }
                return false;
            }
            at
        };
        if at == before {
            put_entry(event, offset, &mut self.entries);
        } else {
            let mut one = Vec::new();
            put_entry(event, offset, &mut one);
            self.entries.splice(at..at, one);
        }
        let len = self.entries.len() - before;
        self.index.inserted(bits, at, len, before);
        true
    }

    /// A duplicate delivery received earlier than the entry says: the entry keeps the
    /// earliest. Rare, so the entry is decoded, changed and encoded again. An entry without
    /// Jira's time sorts by ours, so it moves to where its earlier time puts it: the order,
    /// and so the audit, must not depend on which delivery came first.
    fn lower_received_at(&mut self, span: Range<usize>, received_at_ms: i64) {
        let Some((_, body)) = frames(&self.entries[span.clone()]).next() else {
            return;
        };
        let mut entry = WindowEntry::decode(body).unwrap_or_default();
        entry.received_at_ms = received_at_ms;
        let mut again = Vec::new();
        encoding::message::encode(ENTRIES, &entry, &mut again);
        if entry.event_time_ms > 0 {
            self.entries.splice(span, again);
        } else {
            self.entries.drain(span);
            let key = (received_at_ms, entry.dedup_key.as_bytes());
            let at = frames(&self.entries)
                .find(|(_, body)| sort_key(body) >= key)
                .map_or(self.entries.len(), |(span, _)| span.start);
            self.entries.splice(at..at, again);
        }
        self.index = EntryIndex::of(&self.entries);
    }
}
