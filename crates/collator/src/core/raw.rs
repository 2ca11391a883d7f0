//! A `raw` record read in place. The collator used to decode each record into a prost
//! `RawEvent` (every change's six strings, the actor and the whole original Jira request body
//! allocated and copied) only to encode most of it again into a window entry and a live audit
//! and drop it. The view borrows the strings, keeps the actor, record, associated record and
//! each change as their encoded bytes, which entries and live audits copy as they are, and
//! never touches `body`.
//!
//! Copying bytes is only byte-identical to prost's re-encoding when the bytes are what prost
//! writes, and the view must accept exactly what prost accepts. So [`RawView::read`] takes
//! only bytes it can read exactly like prost: known fields with their wire type, valid UTF-8
//! in every string, the copied messages in prost's canonical form. Anything else (malformed,
//! or valid but unusual: an unknown field inside a change, an actor sent twice, a group) is
//! left to prost: [`read_raw`] decodes it, so prost refuses what it always refused, and reads
//! prost's own encoding of what it accepts.

use prost::encoding::encoded_len_varint;
use prost::{DecodeError, Message as _};
use schema::v1::{Action, RawEvent, User};

use super::merge::Entry;
use super::wire::{
    self, take_key, take_key2, take_len_delimited, varint, ChangeView, Fields, I64AsRead, Value,
};

/// One `RawEvent`, borrowed from its encoding. `body` is not read. Every string is kept as its
/// bytes, checked as UTF-8 all the same: the collator only copies, compares and hashes them,
/// and a `&str` would cost a second check of each (`from_utf8`). The record's key is built
/// from them as bytes, and made a `&str` only where a window closes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RawView<'a> {
    pub integration_id: &'a [u8],
    pub jira_site: &'a [u8],
    pub delivery_id: &'a [u8],
    pub retry_count: u32,
    /// `received_at_ms` and `event_time_ms`, each with its bytes when read in order.
    pub received_at: I64AsRead,
    pub event_time: I64AsRead,
    pub event_name: &'a [u8],
    pub issue_event_type: &'a [u8],
    /// The encoded `User`, when the event has an actor.
    pub actor: Option<&'a [u8]>,
    /// The actor's `id` (empty without an actor).
    pub actor_id: &'a [u8],
    /// The encoded `RecordRef` of the record that changed.
    pub record: Option<&'a [u8]>,
    pub record_type: &'a [u8],
    pub record_id: &'a [u8],
    /// The encoded `RecordRef` of the record it belongs to.
    pub associated: Option<&'a [u8]>,
    pub action: i32,
    /// The span of the event's bytes that holds every `changes` field (and, only in an
    /// unusual field order, other fields: [`RawView::change_bytes`] picks the changes out).
    changes: &'a [u8],
    pub change_count: usize,
    /// Each change's length-delimited field (one key byte: `changes` is field 13 here and
    /// field 7 of a window entry), summed.
    changes_field_len: usize,
    /// The first changes, as read while their bytes were checked, so the live audit does not
    /// read them again (most events carry one to three).
    first_changes: [ChangeView<'a>; FIRST_CHANGES],
    pub dedup_key: &'a [u8],
    pub partition_key: &'a [u8],
    pub workspace: &'a [u8],
    pub known_event: bool,
    pub project: &'a [u8],
    pub flow: &'a [u8],
}

/// The tags of a `FieldChange`'s `optional` strings (`from`, `from_string`, `to`,
/// `to_string`), as bits for [`canonical_strings`].
const OPTIONAL_CHANGE_STRINGS: u32 = 1 << 3 | 1 << 4 | 1 << 5 | 1 << 6;

/// How many changes a view keeps read (most events carry one to three).
pub(crate) const FIRST_CHANGES: usize = 4;

/// The view of a raw record's bytes: read in place when they are what prost writes, else
/// decoded by prost (which refuses them as it always did) and read from prost's encoding,
/// kept in `canonical`.
pub(crate) fn read_raw<'a>(
    payload: &'a [u8],
    canonical: &'a mut Vec<u8>,
) -> Result<RawView<'a>, DecodeError> {
    let mut view = RawView::default();
    read_raw_into(payload, canonical, &mut view)?;
    Ok(view)
}

/// [`read_raw`] into `view` (a default view), which the collator keeps on its stack: a view
/// is some 600 bytes, which returning it by value copied twice per event.
pub(crate) fn read_raw_into<'a>(
    payload: &'a [u8],
    canonical: &'a mut Vec<u8>,
    view: &mut RawView<'a>,
) -> Result<(), DecodeError> {
    if RawView::fill(view, payload).is_some() {
        return Ok(());
    }
    let event = RawEvent::decode(payload)?;
    *canonical = event.encode_to_vec();
    *view = RawView::of_prost_encoding(canonical);
    Ok(())
}

impl<'a> RawView<'a> {
    /// The view of `buf`, or `None` unless every field is read here exactly as prost would
    /// read it (see the module's comment).
    pub fn read(buf: &'a [u8]) -> Option<Self> {
        let mut v = RawView::default();
        RawView::fill(&mut v, buf)?;
        Some(v)
    }

    /// [`RawView::read`] by the reading of prost's field order alone.
    #[cfg(test)]
    pub fn read_in_order(buf: &'a [u8]) -> Option<Self> {
        let mut v = RawView::default();
        RawView::fill_in_order(&mut v, buf)?;
        Some(v)
    }

    /// Reads `buf` into `v`, a default view, as [`RawView::read`] does; on `None`, `v` holds
    /// whatever was read before the bytes were found unusual.
    fn fill(v: &mut RawView<'a>, buf: &'a [u8]) -> Option<()> {
        if RawView::fill_in_order(v, buf).is_some() {
            return Some(());
        }
        *v = RawView::default();
        RawView::fill_any(v, buf)
    }

    /// [`fill`](Self::fill) of a record as prost writes it: every field in tag order, each
    /// once (the changes together), read where it must be by its key, with no dispatch on
    /// tags. `None` on any other layout (a field missing from its place, a wire type or key
    /// not prost's, an unknown field, bytes left over), which `fill_any` then reads from the
    /// start: a record in order reads here exactly as there.
    ///
    /// The strings of fields 1 to 15 lie in two spans of the record: fields 1 to 3, and 7 to
    /// 15 with the actor, records and changes between them. Where a span is all ASCII (its keys
    /// are one byte below 0x80, and its lengths are too while shorter than 128), every string
    /// in it is valid UTF-8, so two checks of the spans stand for some fifteen of short
    /// strings, each with its fixed cost. A record with any other byte there (a longer string,
    /// a name with an accent) is read again with every string checked by itself.
    fn fill_in_order(v: &mut RawView<'a>, buf: &'a [u8]) -> Option<()> {
        // A record carrying its Jira body (0.5 to 18 KB) has fields 17 to 20 past it, most
        // often in a cache line not yet read: loaded first, it is on its way while the head is
        // read. In `core_profile`'s mix with bodies, the span checks below ran at 0.91-0.95x
        // of the checks string by string without this load, at 0.95-0.97x with it.
        std::hint::black_box(buf.last().copied());
        if RawView::fill_fields_in_order::<false>(v, buf)? {
            return Some(());
        }
        *v = RawView::default();
        RawView::fill_fields_in_order::<true>(v, buf).map(|_| ())
    }

    /// [`fill_in_order`](Self::fill_in_order) with each string of fields 1 to 15 checked by
    /// itself (`CHECK`), or not: then `Some(false)` unless both spans that hold them are ASCII.
    fn fill_fields_in_order<const CHECK: bool>(v: &mut RawView<'a>, buf: &'a [u8]) -> Option<bool> {
        let mut rest = buf;
        let at = |rest: &[u8]| buf.len() - rest.len();
        let string = |rest: &mut &'a [u8]| {
            let s = take_len_delimited(rest)?;
            if CHECK {
                checked(s)
            } else {
                Some(s)
            }
        };
        if take_key(&mut rest, 1 << 3 | 2) {
            v.integration_id = string(&mut rest)?;
        }
        if take_key(&mut rest, 2 << 3 | 2) {
            v.jira_site = string(&mut rest)?;
        }
        if take_key(&mut rest, 3 << 3 | 2) {
            v.delivery_id = string(&mut rest)?;
        }
        let first_span_end = at(rest);
        if take_key(&mut rest, 4 << 3) {
            v.retry_count = varint(&mut rest)? as u32;
        }
        if take_key(&mut rest, 5 << 3) {
            v.received_at = I64AsRead::read(&mut rest)?;
        }
        if take_key(&mut rest, 6 << 3) {
            v.event_time = I64AsRead::read(&mut rest)?;
        }
        let second_span_start = at(rest);
        if take_key(&mut rest, 7 << 3 | 2) {
            v.event_name = string(&mut rest)?;
        }
        if take_key(&mut rest, 8 << 3 | 2) {
            v.issue_event_type = string(&mut rest)?;
        }
        if take_key(&mut rest, 9 << 3 | 2) {
            v.set_actor::<CHECK>(take_len_delimited(&mut rest)?)?;
        }
        if take_key(&mut rest, 10 << 3 | 2) {
            v.set_record::<CHECK>(take_len_delimited(&mut rest)?)?;
        }
        if take_key(&mut rest, 11 << 3 | 2) {
            v.set_associated::<CHECK>(take_len_delimited(&mut rest)?)?;
        }
        if take_key(&mut rest, 12 << 3) {
            v.action = varint(&mut rest)? as i32;
        }
        let changes_at = at(rest);
        while take_key(&mut rest, 13 << 3 | 2) {
            v.add_change::<CHECK>(take_len_delimited(&mut rest)?)?;
        }
        v.changes = &buf[changes_at..at(rest)];
        if take_key(&mut rest, 14 << 3 | 2) {
            v.dedup_key = string(&mut rest)?;
        }
        if take_key(&mut rest, 15 << 3 | 2) {
            v.partition_key = string(&mut rest)?;
        }
        let second_span_end = at(rest);
        // Tags 16 to 20 take two-byte keys. The body (16) is not read.
        if take_key2(&mut rest, 16 << 3 | 2) {
            take_len_delimited(&mut rest)?;
        }
        if take_key2(&mut rest, 17 << 3 | 2) {
            v.workspace = checked(take_len_delimited(&mut rest)?)?;
        }
        if take_key2(&mut rest, 18 << 3) {
            v.known_event = varint(&mut rest)? != 0;
        }
        if take_key2(&mut rest, 19 << 3 | 2) {
            v.project = checked(take_len_delimited(&mut rest)?)?;
        }
        if take_key2(&mut rest, 20 << 3 | 2) {
            v.flow = checked(take_len_delimited(&mut rest)?)?;
        }
        if !rest.is_empty() {
            return None;
        }
        Some(
            CHECK
                || (buf[..first_span_end].is_ascii()
                    && buf[second_span_start..second_span_end].is_ascii()),
        )
    }

    /// Reads `buf`, whose fields may come in any order, into `v`, a default view.
    fn fill_any(v: &mut RawView<'a>, mut buf: &'a [u8]) -> Option<()> {
        let whole = buf;
        let mut changes: Option<(usize, usize)> = None;
        while !buf.is_empty() {
            let field_at = whole.len() - buf.len();
            // A key beyond 32 bits, or tag 0, prost refuses.
            let key = u32::try_from(varint(&mut buf)?).ok()?;
            let tag = Some(key >> 3).filter(|&t| t != 0)?;
            let value = match key & 7 {
                0 => Value::Varint(varint(&mut buf)?),
                1 => {
                    buf = buf.get(8..)?;
                    Value::Other
                }
                2 => {
                    let len = usize::try_from(varint(&mut buf)?).ok()?;
                    let (value, rest) = (buf.get(..len)?, buf.get(len..)?);
                    buf = rest;
                    Value::Bytes(value)
                }
                5 => {
                    buf = buf.get(4..)?;
                    Value::Other
                }
                // Groups (skipped by prost when unknown) and invalid wire types: prost's call.
                _ => return None,
            };
            match (tag, value) {
                (1, Value::Bytes(b)) => v.integration_id = checked(b)?,
                (2, Value::Bytes(b)) => v.jira_site = checked(b)?,
                (3, Value::Bytes(b)) => v.delivery_id = checked(b)?,
                (4, Value::Varint(n)) => v.retry_count = n as u32,
                (5, Value::Varint(n)) => v.received_at = I64AsRead::of(n as i64),
                (6, Value::Varint(n)) => v.event_time = I64AsRead::of(n as i64),
                (7, Value::Bytes(b)) => v.event_name = checked(b)?,
                (8, Value::Bytes(b)) => v.issue_event_type = checked(b)?,
                // A message field sent twice is merged by prost: leave that to it.
                (9, Value::Bytes(b)) if v.actor.is_none() => v.set_actor::<true>(b)?,
                (10, Value::Bytes(b)) if v.record.is_none() => v.set_record::<true>(b)?,
                (11, Value::Bytes(b)) if v.associated.is_none() => v.set_associated::<true>(b)?,
                (12, Value::Varint(n)) => v.action = n as i32,
                (13, Value::Bytes(b)) => {
                    v.add_change::<true>(b)?;
                    let end = whole.len() - buf.len();
                    changes = Some((changes.map_or(field_at, |(start, _)| start), end));
                }
                (14, Value::Bytes(b)) => v.dedup_key = checked(b)?,
                (15, Value::Bytes(b)) => v.partition_key = checked(b)?,
                (16, Value::Bytes(_)) => {}
                (17, Value::Bytes(b)) => v.workspace = checked(b)?,
                (18, Value::Varint(n)) => v.known_event = n != 0,
                (19, Value::Bytes(b)) => v.project = checked(b)?,
                (20, Value::Bytes(b)) => v.flow = checked(b)?,
                // A known field with another wire type (prost refuses it), or a repeated
                // message field.
                (1..=20, _) => return None,
                // Unknown fields are skipped, as prost skips them.
                _ => {}
            }
        }
        if let Some((start, end)) = changes {
            v.changes = &whole[start..end];
        }
        Some(())
    }

    /// The actor (an encoded `User`), if it is prost's encoding.
    fn set_actor<const CHECK: bool>(&mut self, b: &'a [u8]) -> Option<()> {
        let [id, ..] = canonical_strings::<6, CHECK>(b, 0)?;
        (self.actor, self.actor_id) = (Some(b), id.unwrap_or_default());
        Some(())
    }

    /// The record that changed (an encoded `RecordRef`), if it is prost's encoding.
    fn set_record<const CHECK: bool>(&mut self, b: &'a [u8]) -> Option<()> {
        let [rtype, rid] = canonical_strings::<2, CHECK>(b, 0)?;
        self.record_type = rtype.unwrap_or_default();
        self.record_id = rid.unwrap_or_default();
        self.record = Some(b);
        Some(())
    }

    /// The record it belongs to (an encoded `RecordRef`), if it is prost's encoding.
    fn set_associated<const CHECK: bool>(&mut self, b: &'a [u8]) -> Option<()> {
        canonical_strings::<2, CHECK>(b, 0)?;
        self.associated = Some(b);
        Some(())
    }

    /// One more change (an encoded `FieldChange`), if it is prost's encoding. Its `from`,
    /// `from_string`, `to` and `to_string` are `optional`: present when empty.
    fn add_change<const CHECK: bool>(&mut self, b: &'a [u8]) -> Option<()> {
        let [field_id, field_name, from, from_string, to, to_string] =
            canonical_strings::<6, CHECK>(b, OPTIONAL_CHANGE_STRINGS)?;
        if let Some(c) = self.first_changes.get_mut(self.change_count) {
            *c = ChangeView {
                field_id: field_id.unwrap_or_default(),
                field_name: field_name.unwrap_or_default(),
                from,
                from_string,
                to,
                to_string,
            };
        }
        self.changes_field_len += 1 + encoded_len_varint(b.len() as u64) + b.len();
        self.change_count += 1;
        Some(())
    }

    /// The view of bytes prost has just encoded from a `RawEvent`, which [`RawView::read`]
    /// always reads (a property test holds it to that for arbitrary events).
    fn of_prost_encoding(buf: &'a [u8]) -> Self {
        RawView::read(buf).unwrap_or_default()
    }

    /// Each change, as its encoded `FieldChange`.
    pub fn change_bytes(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        Fields::new(self.changes).filter_map(|(tag, v)| match (tag, v) {
            (13, Value::Bytes(b)) => Some(b),
            _ => None,
        })
    }

    /// Every change, read, when the event has at most [`FIRST_CHANGES`].
    pub fn first_changes(&self) -> Option<&[ChangeView<'a>]> {
        self.first_changes.get(..self.change_count)
    }

    /// Each change, read.
    pub fn change_views(&self) -> impl Iterator<Item = ChangeView<'a>> + '_ {
        let read = self.change_count.min(FIRST_CHANGES);
        let rest = (self.change_count > FIRST_CHANGES)
            .then(|| self.change_bytes().skip(read).map(ChangeView::parse))
            .into_iter()
            .flatten();
        self.first_changes[..read].iter().copied().chain(rest)
    }

    /// The encoded length of every change as a length-delimited field of tag 1 to 15.
    pub fn changes_field_len(&self) -> usize {
        self.changes_field_len
    }
}

/// `b` if it is valid UTF-8, checked without making a `&str`: most strings are ASCII, which
/// `is_ascii` checks a word at a time where `from_utf8` goes a byte at a time until aligned.
#[inline(always)]
fn checked(b: &[u8]) -> Option<&[u8]> {
    wire::valid_utf8(b).then_some(b)
}

/// The string fields 1..=N of a message whose fields are all strings, if `buf` is exactly
/// prost's encoding of it: known tags in increasing order, each once, with the shortest
/// varints, valid UTF-8, and an empty value only for the tags whose bit is set in `optional`
/// (proto3 leaves out an empty plain string). Copying such bytes is copying what prost would
/// write. The values are checked as UTF-8 and returned as bytes: once for the whole message
/// when it is ASCII (most are, and each check of a short string has a fixed cost), else one
/// by one. Without `CHECK` they are not checked here: the caller checks bytes that hold the
/// whole message.
///
/// Read by index, with the key and the common lengths taken as the bytes they are: a key of
/// tag 1 to 15 and wire type 2 is one byte below 0x80 (any other key is refused here, as a
/// longer key names a tag beyond `N`), and a length is mostly one byte, else two.
fn canonical_strings<const N: usize, const CHECK: bool>(
    buf: &[u8],
    optional: u32,
) -> Option<[Option<&[u8]>; N]> {
    let mut out = [None; N];
    let ascii = !CHECK || buf.is_ascii();
    let mut last_tag = 0;
    let mut at = 0;
    while let Some(&key) = buf.get(at) {
        let tag = usize::from(key >> 3);
        if key & 0x87 != 2 || tag <= last_tag || tag > N {
            return None;
        }
        last_tag = tag;
        let first = *buf.get(at + 1)?;
        let len = if first < 0x80 {
            at += 2;
            usize::from(first)
        } else {
            let mut rest = &buf[at + 1..];
            let len = usize::try_from(varint_shortest(&mut rest)?).ok()?;
            at = buf.len() - rest.len();
            len
        };
        if len == 0 && optional & (1 << tag) == 0 {
            return None;
        }
        let value = buf.get(at..at.checked_add(len)?)?;
        at += len;
        if !(ascii || wire::valid_utf8(value)) {
            return None;
        }
        *out.get_mut(tag - 1)? = Some(value);
    }
    Some(out)
}

/// A varint, only in its shortest form (the one prost writes).
fn varint_shortest(buf: &mut &[u8]) -> Option<u64> {
    let before = buf.len();
    let n = varint(buf)?;
    (before - buf.len() == encoded_len_varint(n)).then_some(n)
}

impl Entry for RawView<'_> {
    fn action(&self) -> Action {
        Action::try_from(self.action).unwrap_or_default()
    }
    fn actor_id(&self) -> Option<&[u8]> {
        self.actor.map(|_| self.actor_id)
    }
    fn actor(&self) -> Option<User> {
        self.actor.map(wire::decode_user)
    }
    fn changes(&self) -> impl Iterator<Item = ChangeView<'_>> {
        self.change_views()
    }
    fn event_time_ms(&self) -> i64 {
        self.event_time.value()
    }
    fn received_at_ms(&self) -> i64 {
        self.received_at.value()
    }
}
