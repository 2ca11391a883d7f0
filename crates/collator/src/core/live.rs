//! Live audits (`audit.live`), encoded straight from the raw record's bytes. One is written per applied
//! change, so building an owned `AuditEvent` (a copy of every string of the event) only to
//! encode and drop it was most of the core's cost per event. The bytes are exactly what prost
//! writes for [`super::live_audit`]'s `AuditEvent`: fields in tag order, proto3 defaults left
//! out (a unit test and a property test hold the two to the same bytes).

use prost::encoding::{encode_varint, encoded_len_varint};
use prost::Message as _;
use schema::v1::{Action, RawEvent};

use super::ids::live_id;
use super::merge::{self, MergedChange};
use super::raw::{read_raw, RawView, FIRST_CHANGES};
use super::wire::{put_bytes, put_str, put_varint_field};
use super::Settings;

/// The live audits of the events applied since they were last cleared, encoded one after
/// another in chunks of 64 KiB (`CHUNK`) or more. One is written per applied event that has
/// something to say: a buffer of its own each was an allocation and a free per event, and one
/// buffer grown as they are written copied them all again. Equal when their audits are, in
/// order, however the chunks lay them out.
#[derive(Debug, Default)]
pub struct LiveAudits {
    /// Each made with room for the audits written into it, so none is moved once written.
    chunks: Vec<Vec<u8>>,
    spans: Vec<Span>,
}

/// Where a live audit is in [`LiveAudits`]: its chunk, where it ends there (it starts where
/// the audit before it in the chunk ends), and the length of its key (the payload's tail).
#[derive(Debug, Clone, Copy)]
struct Span {
    chunk: usize,
    end: usize,
    key_len: usize,
}

/// The least room a chunk of [`LiveAudits`] is made with: some 200 live audits of workload W.
const CHUNK: usize = 64 * 1024;

/// The most room [`LiveAudits::clear`] keeps: a chunk made larger for one long audit is freed.
const KEPT: usize = 2 * CHUNK;

/// One live audit of [`LiveAudits`]: its encoded payload, and the key it is produced under
/// (the root record's partition key). The key is the payload's last field (`partition_key`,
/// 18), so it is not copied again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveAudit<'a> {
    pub payload: &'a [u8],
    key_len: usize,
}

impl<'a> LiveAudit<'a> {
    /// The key it is produced under: the last `key_len` bytes of the payload.
    pub fn key(&self) -> &'a [u8] {
        &self.payload[self.payload.len() - self.key_len..]
    }
}

impl PartialEq for LiveAudits {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for LiveAudits {}

impl LiveAudits {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The audits in the order they were written.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = LiveAudit<'_>> + '_ {
        (0..self.spans.len()).map(|i| {
            let Span {
                chunk,
                end,
                key_len,
            } = self.spans[i];
            let start = match i.checked_sub(1).map(|before| self.spans[before]) {
                Some(before) if before.chunk == chunk => before.end,
                _ => 0,
            };
            LiveAudit {
                payload: &self.chunks[chunk][start..end],
                key_len,
            }
        })
    }

    /// Forgets every audit, keeping the first chunk's room (up to 128 KiB, `KEPT`) for the
    /// next ones. The shell sends a record's live audits as soon as it is applied and then
    /// clears them: taken instead, each event's audit would have a chunk of its own, an
    /// allocation and a free per event.
    pub fn clear(&mut self) {
        let keep = self.chunks.first().is_some_and(|c| c.capacity() <= KEPT);
        self.chunks.truncate(usize::from(keep));
        if let Some(first) = self.chunks.first_mut() {
            first.clear();
        }
        self.spans.clear();
    }

    /// Chunks written or kept for writing.
    #[cfg(test)]
    pub(super) fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// Writes the live audit of an applied raw event after the others; nothing when it has
    /// nothing to say (`encode_live_view`).
    pub(crate) fn push(&mut self, record_key: &[u8], event: &RawView<'_>, s: &Settings) {
        let chunks = &mut self.chunks;
        let written = encode_live_view(record_key, event, s, |room| {
            if chunks.last().is_none_or(|c| c.capacity() - c.len() < room) {
                chunks.push(Vec::with_capacity(room.max(CHUNK)));
            }
            chunks.last_mut().expect("a chunk was just made")
        });
        if let Some(key_len) = written {
            let chunk = self.chunks.len() - 1;
            let end = self.chunks[chunk].len();
            self.spans.push(Span {
                chunk,
                end,
                key_len,
            });
        }
    }
}

/// The live audit of one applied raw event, none when it has nothing to say (an update whose
/// changes are empty or cancel out). The collator writes it from the record's bytes
/// (`encode_live_view`); this encodes `event` as `raw` carries it and does the same.
pub fn encode_live(record_key: &str, event: &RawEvent, s: &Settings) -> LiveAudits {
    let encoded = event.encode_to_vec();
    let mut canonical = Vec::new();
    let view = read_raw(&encoded, &mut canonical).expect("prost decodes what it encoded");
    let mut live = LiveAudits::default();
    live.push(record_key.as_bytes(), &view, s);
    live
}

/// [`encode_live`] of a raw record read in place, appended to the buffer `room` gives for the
/// room it asks: the actor and records are copied as the record carries them (prost's own
/// encoding, see `raw`). The length of the key it ends with, or `None` (and nothing asked or
/// written) when it has nothing to say.
fn encode_live_view<'b>(
    record_key: &[u8],
    event: &RawView<'_>,
    s: &Settings,
    room: impl FnOnce(usize) -> &'b mut Vec<u8>,
) -> Option<usize> {
    let entries = std::slice::from_ref(event);
    let action = merge::action(entries);
    // Most events change one field, or a few distinct ones: merged on the stack, without a
    // vector (and one change without a merge at all, nor an array to zero).
    let (single, mut distinct, merged);
    let keep = s.keep_reverted_fields;
    let fields = match event.first_changes() {
        Some(&[change]) => {
            single = [MergedChange(change)];
            if single[0].kept(keep) {
                &single[..]
            } else {
                &[]
            }
        }
        first => {
            distinct = [MergedChange::default(); FIRST_CHANGES];
            match first.and_then(|c| merge::distinct_fields(c, keep, &mut distinct)) {
                Some(fields) => fields,
                None => {
                    merged = merge::merged_fields(entries, keep);
                    &merged[..]
                }
            }
        }
    };
    if fields.is_empty() && action == Action::Update {
        return None;
    }
    let key = if event.partition_key.is_empty() {
        record_key
    } else {
        event.partition_key
    };
    let buf = room(capacity_for(event, key));
    let id = live_id(record_key, event.dedup_key);
    if id != 0 {
        put_varint_field(1, id, buf);
    }
    if action as i32 != 0 {
        put_varint_field(2, action as i32 as u64, buf);
    }
    // `merge::created_at_ms` of the one event, with its bytes.
    let created_at = if event.event_time.value() > 0 {
        event.event_time
    } else {
        event.received_at
    };
    created_at.put(3, buf);
    if merge::interesting(action, fields, s) {
        put_varint_field(4, 1, buf);
    }
    if let Some(actor) = event.actor {
        // `user`, then `contributors`: the one author of the one change.
        put_bytes(5, actor, buf);
        put_bytes(6, actor, buf);
    }
    if let Some(r) = event.record {
        put_bytes(7, r, buf);
    }
    if let Some(r) = event.associated {
        put_bytes(8, r, buf);
    }
    for c in fields {
        put_change(c, buf);
    }
    put_str(10, event.workspace, buf);
    put_str(11, event.integration_id, buf);
    put_str(12, event.jira_site, buf);
    if event.received_at.value() != 0 {
        // The window of a live audit is the instant it was received: its start, then the
        // same varint again as its end, copied with the key changed.
        let start = buf.len();
        event.received_at.put(13, buf);
        let end = buf.len();
        buf.extend_from_within(start..end);
        buf[end] = END_KEY;
    }
    put_varint_field(15, 1, buf);
    if merge::late(entries, s) {
        put_varint_field(16, 1, buf);
    }
    put_varint_field(17, 1, buf);
    // Last, so that the key is the payload's tail (`LiveAudit::key`).
    put_str(18, key, buf);
    Some(key.len())
}

/// The key of `AuditEvent.window_end_ms` (14, a varint), one byte.
const END_KEY: u8 = 14 << 3;

/// Room for the live audit of `event`, so its chunk is not grown while it is written: every
/// byte it copies (the author twice), and a generous 3 bytes of tag and length per field.
fn capacity_for(event: &RawView<'_>, key: &[u8]) -> usize {
    let message = |m: Option<&[u8]>| m.map_or(0, |m| m.len() + 6);
    96 + 2 * message(event.actor)
        + message(event.record)
        + message(event.associated)
        + event.changes_field_len()
        + 12 * event.change_count
        + event.workspace.len()
        + event.integration_id.len()
        + event.jira_site.len()
        + key.len()
}

/// A proto3 `optional string` field: written whenever present, even empty.
fn put_opt_str(tag: u32, s: Option<&[u8]>, buf: &mut Vec<u8>) {
    if let Some(s) = s {
        put_bytes(tag, s, buf);
    }
}

/// `AuditChange` (field 9 of `AuditEvent`), length-delimited. Collated audits write theirs
/// with it too (`audit`).
///
/// Its length is not measured first: one byte is kept for it, which almost every change fits,
/// and set once the fields are written; a longer change has its fields moved along for the
/// longer varint, which is written in place.
pub(super) fn put_change(c: &MergedChange<'_>, buf: &mut Vec<u8>) {
    buf.push(CHANGE_KEY);
    let len_at = buf.len();
    buf.push(0);
    put_str(1, c.0.field_id, buf);
    put_str(2, c.0.field_name, buf);
    put_opt_str(3, c.value(), buf);
    put_opt_str(4, c.previous_value(), buf);
    put_opt_str(5, c.value_id(), buf);
    put_opt_str(6, c.previous_value_id(), buf);
    let len = buf.len() - len_at - 1;
    match u8::try_from(len).ok().filter(|&l| l < 0x80) {
        Some(l) => buf[len_at] = l,
        None => {
            // Room for the longer varint next to the byte kept, then the varint written there.
            let n = encoded_len_varint(len as u64);
            buf.splice(len_at..len_at, std::iter::repeat_n(0, n - 1));
            encode_varint(len as u64, &mut &mut buf[len_at..len_at + n]);
        }
    }
}

/// The key of `AuditEvent.changes` (9, length-delimited), one byte.
const CHANGE_KEY: u8 = 9 << 3 | 2;
