//! Collated audits (`audit`), encoded straight from a closing window's entries. Building an
//! owned `AuditEvent` (every merged change copied into owned strings, every author decoded
//! into an owned `User`) only for the shell to encode and drop it was most of the cost of a
//! close. The bytes are exactly what prost writes for `merge::merge_window`'s `AuditEvent`:
//! fields in tag order, proto3 defaults left out, each author's `User` copied as the window
//! holds it (prost's own encoding of it). A unit test and a property test hold the two to the
//! same bytes (`audit_tests`).

use prost::encoding::{encoded_len_varint, key_len};
use prost::Message as _;
use schema::v1::{Action, AuditEvent};

use super::ids::window_id;
use super::live::put_change;
use super::merge::{self, MergedChange, CLOSE_ROOM};
use super::records::Origin;
use super::window::{EncodedHeader, RecordBytes, SessionWindow};
use super::wire::{
    self, put_bytes, put_i64, put_len, put_str, put_varint_field, str_len, EntryView,
};
use super::Settings;

/// One collated audit, encoded, with what the shell reads of it for its logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedAudit {
    /// The key it is produced under: the audit's `record_key` (the root record's partition
    /// key, else the record's own key).
    pub key: String,
    /// The `AuditEvent`, encoded.
    pub payload: Vec<u8>,
    pub id: u64,
    pub window_start_ms: i64,
    pub window_end_ms: i64,
    pub source_event_count: u32,
}

impl EncodedAudit {
    /// The audit as a prost struct, for tests and callers that read its fields.
    pub fn decode(&self) -> AuditEvent {
        // Bytes this collator just encoded: they decode.
        AuditEvent::decode(self.payload.as_slice()).unwrap_or_default()
    }
}

/// The audit of a closed window whose deadline is `deadline_ms`, or `None` when it has
/// nothing to say (an update whose changes are empty or cancel out). `entries` are the
/// window's, read once by the caller (who also remembers their dedup keys); `record_key` is
/// the slot's key, `record_id` the id it ends with.
pub(crate) fn encode_window(
    window: &SessionWindow,
    entries: &[EntryView<'_>],
    record_key: &str,
    record_id: &str,
    origin: &Origin,
    deadline_ms: i64,
    s: &Settings,
) -> Option<EncodedAudit> {
    let (first, last) = (entries.first()?, entries.last()?);
    let action = merge::action(entries);
    let fields = merge::merged_fields(entries, s.keep_reverted_fields);
    if fields.is_empty() && action == Action::Update {
        return None;
    }
    let h = window.encoded_header(record_key, record_id, origin);
    let key = if h.partition_key.is_empty() {
        h.record_key
    } else {
        h.partition_key
    };
    let contributors = contributors(entries);
    let audit = EncodedAudit {
        key: key.to_owned(),
        payload: Vec::new(),
        id: window_id(h.record_key.as_bytes(), first.dedup_key),
        window_start_ms: window.first_received_ms(),
        window_end_ms: deadline_ms,
        source_event_count: u32::try_from(entries.len()).unwrap_or(u32::MAX),
    };
    let mut buf = Vec::with_capacity(capacity(&h, first.actor, &contributors, &fields, key));
    if audit.id != 0 {
        put_varint_field(1, audit.id, &mut buf);
    }
    if action as i32 != 0 {
        put_varint_field(2, action as i32 as u64, &mut buf);
    }
    put_i64(3, merge::created_at_ms(last), &mut buf);
    if merge::interesting(action, &fields, s) {
        put_varint_field(4, 1, &mut buf);
    }
    if let Some(user) = first.actor {
        put_bytes(5, user, &mut buf);
    }
    for user in &contributors {
        put_bytes(6, user, &mut buf);
    }
    match h.record {
        Some(RecordBytes::Parts { r#type, id }) => {
            put_len(7, str_len(1, r#type) + str_len(2, id), &mut buf);
            put_str(1, r#type, &mut buf);
            put_str(2, id, &mut buf);
        }
        Some(RecordBytes::Encoded(b)) => put_bytes(7, b, &mut buf),
        None => {}
    }
    if let Some(b) = h.associated {
        put_bytes(8, b, &mut buf);
    }
    for c in &fields {
        put_change(c, &mut buf);
    }
    put_str(10, h.workspace, &mut buf);
    put_str(11, h.integration_id, &mut buf);
    put_str(12, h.jira_site, &mut buf);
    put_i64(13, audit.window_start_ms, &mut buf);
    put_i64(14, audit.window_end_ms, &mut buf);
    if audit.source_event_count != 0 {
        put_varint_field(15, u64::from(audit.source_event_count), &mut buf);
    }
    if merge::late(entries, s) {
        put_varint_field(16, 1, &mut buf);
    }
    // `live` (17) is false on a collated audit: left out.
    put_str(18, key, &mut buf);
    Some(EncodedAudit {
        payload: buf,
        ..audit
    })
}

/// Every distinct author's encoded `User`, in order of their first change (by `User.id`, the
/// first `User` seen for an id standing for it, as `merge` decides).
fn contributors<'a>(entries: &[EntryView<'a>]) -> Vec<&'a [u8]> {
    let mut out: Vec<(&[u8], &[u8])> = Vec::with_capacity(CLOSE_ROOM);
    for user in entries.iter().filter_map(|e| e.actor) {
        let id = wire::user_id(user);
        if !out.iter().any(|&(seen, _)| seen == id) {
            out.push((id, user));
        }
    }
    out.into_iter().map(|(_, user)| user).collect()
}

/// Room for the audit, so its buffer is not grown while it is written: every string and
/// message it copies, and a generous allowance for each field's tag and length.
fn capacity(
    h: &EncodedHeader<'_>,
    user: Option<&[u8]>,
    contributors: &[&[u8]],
    fields: &[MergedChange<'_>],
    key: &str,
) -> usize {
    let opt = |v: Option<&[u8]>| v.map_or(0, <[u8]>::len);
    let message = |len: usize| key_len(9) + encoded_len_varint(len as u64) + len;
    let record = match h.record {
        Some(RecordBytes::Parts { r#type, id }) => message(r#type.len() + id.len() + 6),
        Some(RecordBytes::Encoded(b)) => message(b.len()),
        None => 0,
    };
    let changes: usize = fields
        .iter()
        .map(|MergedChange(c)| {
            // Value and value id may both be the last change's raw id.
            message(
                c.field_id.len()
                    + c.field_name.len()
                    + 2 * (opt(c.from) + opt(c.from_string))
                    + 2 * (opt(c.to) + opt(c.to_string))
                    + 24,
            )
        })
        .sum();
    80 + user.map_or(0, |u| message(u.len()))
        + contributors.iter().map(|u| message(u.len())).sum::<usize>()
        + record
        + h.associated.map_or(0, |b| message(b.len()))
        + changes
        + message(h.workspace.len())
        + message(h.integration_id.len())
        + message(h.jira_site.len())
        + message(key.len())
}
