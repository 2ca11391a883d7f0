//! A window's entries buffer: `SessionWindowState.entries` fields, each a `WindowEntry` as
//! prost writes it, one after the other.

use std::ops::Range;

use prost::encoding;

use xxhash_rust::xxh3::xxh3_64;

use crate::core::raw::RawView;
use crate::core::wire::{
    bytes_len, i64_len, put_bytes, put_i64, put_len, put_str, put_varint_field, str_len, varint,
    EntryView,
};

/// `SessionWindowState.entries`.
pub(super) const ENTRIES: u32 = 8;

/// What a window knows of its entries without reading them: a 64-bit filter of their dedup
/// keys, two bits a key (a key with either bit clear is in no entry), and where the last one
/// starts. Most changes are new and come after every entry already there: inserting them
/// reads only the last entry's head instead of every entry's. In a window of ten entries,
/// some 7 % of new keys still read every entry (one bit in 32 sent 27 %).
///
/// Packed to 4-byte alignment, so its 12 bytes and the window's flags fit the window's
/// 64 bytes (a record's slot holds its window inline).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C, packed(4))]
pub(super) struct EntryIndex {
    keys: u64,
    last_at: u32,
}

impl EntryIndex {
    /// The index of an entries buffer, read whole (a restored window).
    pub fn of(buf: &[u8]) -> Self {
        let mut index = EntryIndex::default();
        for (span, body) in frames(buf) {
            index.keys |= key_bits(sort_key(body).1);
            index.last_at = span.start as u32;
        }
        index
    }

    /// Whether an entry may have a dedup key of these [`key_bits`] (`false`: none has).
    pub fn may_hold(&self, key_bits: u64) -> bool {
        self.keys & key_bits == key_bits
    }

    /// The last entry's frame, if any.
    pub fn last<'a>(&self, buf: &'a [u8]) -> Option<&'a [u8]> {
        frames(buf.get(self.last_at as usize..)?)
            .next()
            .map(|(_, body)| body)
    }

    /// An entry whose dedup key has these [`key_bits`] was inserted at `at`, `len` bytes
    /// long, into a buffer of `before` bytes.
    pub fn inserted(&mut self, key_bits: u64, at: usize, len: usize, before: usize) {
        self.keys |= key_bits;
        if at == before {
            self.last_at = at as u32;
        } else {
            self.last_at += len as u32;
        }
    }
}

/// The dedup key's two bits in the filter, from two 6-bit slices of one hash (hashed once per
/// insert, for the question and the answer).
pub(super) fn key_bits(dedup_key: &[u8]) -> u64 {
    let h = xxh3_64(dedup_key);
    1 << (h & 63) | 1 << (h >> 6 & 63)
}

/// What entries are sorted by, read from an entry's bytes: (its time, its dedup key). Byte
/// order of the key is `str` order.
pub(super) fn sort_key(body: &[u8]) -> (i64, &[u8]) {
    let (dedup_key, (event_time, received_at)) = EntryView::head(body);
    (entry_time(event_time, received_at), dedup_key)
}

/// Sort key of an entry: Jira's time when known, else ours.
pub(super) fn entry_time(event_time_ms: i64, received_at_ms: i64) -> i64 {
    if event_time_ms > 0 {
        event_time_ms
    } else {
        received_at_ms
    }
}

/// Each entry's span in the buffer and its `WindowEntry` bytes.
pub(super) fn frames(buf: &[u8]) -> impl Iterator<Item = (Range<usize>, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let mut rest = buf.get(at..).filter(|r| !r.is_empty())?;
        let start = at;
        varint(&mut rest)?;
        let len = usize::try_from(varint(&mut rest)?).ok()?;
        let body_at = buf.len() - rest.len();
        let body = buf.get(body_at..body_at + len)?;
        at = body_at + len;
        Some((start..at, body))
    })
}

/// Appends the `entries` field of the entry `event` makes at `offset`, as prost writes it:
/// the actor and changes are copied as the raw record carries them (prost's own encoding, see
/// `raw`).
pub(super) fn put_entry(event: &RawView<'_>, offset: i64, buf: &mut Vec<u8>) {
    let len = str_len(1, event.dedup_key)
        + event.event_time.encoded_len(2)
        + event.received_at.encoded_len(3)
        + i64_len(4, offset)
        + event.actor.map_or(0, |a| bytes_len(5, a.len()))
        + if event.action != 0 {
            encoding::int32::encoded_len(6, &event.action)
        } else {
            0
        }
        + event.changes_field_len();
    if buf.is_empty() {
        // A window's first entry (most windows hold one), or one to splice in: allocated at
        // its size at once.
        *buf = Vec::with_capacity(len + 6);
    } else {
        buf.reserve(len + 6);
    }
    put_len(ENTRIES, len, buf);
    put_str(1, event.dedup_key, buf);
    event.event_time.put(2, buf);
    event.received_at.put(3, buf);
    put_i64(4, offset, buf);
    if let Some(a) = event.actor {
        put_bytes(5, a, buf);
    }
    if event.action != 0 {
        put_varint_field(6, event.action as u64, buf);
    }
    for c in event.change_bytes() {
        put_bytes(7, c, buf);
    }
}
