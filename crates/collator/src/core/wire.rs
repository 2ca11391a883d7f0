//! Borrowed reads of the protobuf wire format of `collator-state` messages. An open window
//! keeps its entries as their `WindowEntry` bytes (see `window`); merging reads them through
//! these views instead of decoding owned prost structs, so a close allocates only the audit.

use prost::encoding::{key_len, WireType};
use schema::v1::{Action, FieldChange, User};

/// One field of a message: its tag and its value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    /// A fixed-width or group value: skipped (no `collator-state` message has one).
    Other,
}

/// The fields of one encoded message, in wire order. Stops at the first malformed byte: the
/// bytes read here were written by this crate (or by prost at restore), so they never are.
pub(crate) struct Fields<'a> {
    buf: &'a [u8],
}

impl<'a> Fields<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Fields { buf }
    }
}

/// A varint at the front of `buf`, consumed, or `None` where prost's decoder refuses it (cut
/// short, or past 64 bits). Read here, inline: most are one byte (keys, short lengths), and
/// the rest are timestamps of a few bytes, for which a call to prost's decoder cost more than
/// the decoding.
#[inline(always)]
pub(crate) fn varint(buf: &mut &[u8]) -> Option<u64> {
    if let Some((&b, rest)) = buf.split_first().filter(|(&b, _)| b < 0x80) {
        *buf = rest;
        return Some(u64::from(b));
    }
    if let Some(word) = buf.first_chunk::<8>() {
        let x = u64::from_le_bytes(*word);
        let ends = !x & 0x8080_8080_8080_8080;
        if ends != 0 {
            // A varint of two to eight bytes: its 7-bit groups joined with masks and shifts,
            // not a loop a byte at a time (timestamps take six).
            let len = ends.trailing_zeros() as usize / 8 + 1;
            *buf = &buf[len..];
            return Some(join_groups(x & (u64::MAX >> (64 - 8 * len))));
        }
    }
    let mut value = 0;
    for (i, &b) in buf.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            // The tenth byte holds only the 64th bit.
            if i == 9 && b > 1 {
                return None;
            }
            *buf = &buf[i + 1..];
            return Some(value);
        }
    }
    None
}

/// The 7-bit groups of up to eight varint bytes (read little-endian, continuation bits
/// included), joined into their 56-bit value: the inverse of [`put_long_varint`]'s spread.
#[inline(always)]
fn join_groups(x: u64) -> u64 {
    let x = (x & 0x007f_007f_007f_007f) | ((x & 0x7f00_7f00_7f00_7f00) >> 1);
    let x = (x & 0x0000_3fff_0000_3fff) | ((x & 0x3fff_0000_3fff_0000) >> 2);
    (x & 0x0fff_ffff) | ((x & 0x0fff_ffff_0000_0000) >> 4)
}

/// Consumes the one-byte field key `key` at the front of `buf`, if it is there.
#[inline(always)]
pub(crate) fn take_key(buf: &mut &[u8], key: u8) -> bool {
    match buf.split_first() {
        Some((&b, rest)) if b == key => {
            *buf = rest;
            true
        }
        _ => false,
    }
}

/// Consumes the two-byte field key of `key` (128 to 16,383: tags 16 to 2,047) at the front
/// of `buf`, if it is there.
#[inline(always)]
pub(crate) fn take_key2(buf: &mut &[u8], key: u16) -> bool {
    let bytes = [(key as u8) | 0x80, (key >> 7) as u8];
    match buf.split_first_chunk::<2>() {
        Some((first, rest)) if *first == bytes => {
            *buf = rest;
            true
        }
        _ => false,
    }
}

/// A length-delimited value at the front of `buf` (after its key), consumed.
#[inline(always)]
pub(crate) fn take_len_delimited<'a>(buf: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = usize::try_from(varint(buf)?).ok()?;
    let (value, rest) = buf.split_at_checked(len)?;
    *buf = rest;
    Some(value)
}

impl<'a> Iterator for Fields<'a> {
    type Item = (u32, Value<'a>);

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        let key = varint(&mut self.buf)?;
        let tag = u32::try_from(key >> 3).ok()?;
        let value = match key & 7 {
            0 => Value::Varint(varint(&mut self.buf)?),
            1 => {
                self.buf = self.buf.get(8..)?;
                Value::Other
            }
            2 => {
                let len = usize::try_from(varint(&mut self.buf)?).ok()?;
                let (v, rest) = (self.buf.get(..len)?, self.buf.get(len..)?);
                self.buf = rest;
                Value::Bytes(v)
            }
            5 => {
                self.buf = self.buf.get(4..)?;
                Value::Other
            }
            _ => {
                self.buf = &[];
                return None;
            }
        };
        Some((tag, value))
    }
}

/// `a == b`, for the short strings a record's key and origin are made of (a site, a type,
/// an id): compared inline as the overlapping first and last words of their length, where
/// `==` calls the C library's `memcmp` for each. Longer than 64 bytes, it is `==`.
#[inline(always)]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    fn ends<const N: usize>(a: &[u8], b: &[u8]) -> bool {
        a.first_chunk::<N>() == b.first_chunk::<N>() && a.last_chunk::<N>() == b.last_chunk::<N>()
    }
    fn halves(a: &[u8], b: &[u8]) -> bool {
        let (h, n) = (a.len() / 2, a.len());
        ends::<16>(&a[..h], &b[..h]) && ends::<16>(&a[h..n], &b[h..n])
    }
    if a.len() != b.len() {
        return false;
    }
    match a.len() {
        0 => true,
        1..=3 => {
            a[0] == b[0] && a[a.len() / 2] == b[a.len() / 2] && a[a.len() - 1] == b[a.len() - 1]
        }
        4..=7 => ends::<4>(a, b),
        8..=15 => ends::<8>(a, b),
        16..=32 => ends::<16>(a, b),
        33..=64 => halves(a, b),
        _ => a == b,
    }
}

pub(crate) fn as_str(b: &[u8]) -> &str {
    // Every string stored was a Rust `&str` (or prost-validated UTF-8) when it was written.
    std::str::from_utf8(b).unwrap_or_default()
}

/// Is `b` valid UTF-8? ASCII (most strings here) is checked a word at a time by `is_ascii`,
/// where `from_utf8` goes a byte at a time until its pointer is aligned.
pub(crate) fn valid_utf8(b: &[u8]) -> bool {
    b.is_ascii() || std::str::from_utf8(b).is_ok()
}

/// A `FieldChange`, borrowed from a raw event or from a window's bytes. Its strings are kept
/// as bytes: they were checked as UTF-8 once, when the raw record was read (`raw`), and a
/// merge only compares and copies them, so a window's close does not check them again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ChangeView<'a> {
    pub field_id: &'a [u8],
    pub field_name: &'a [u8],
    pub from: Option<&'a [u8]>,
    pub from_string: Option<&'a [u8]>,
    pub to: Option<&'a [u8]>,
    pub to_string: Option<&'a [u8]>,
}

impl<'a> From<&'a FieldChange> for ChangeView<'a> {
    fn from(c: &'a FieldChange) -> Self {
        ChangeView {
            field_id: c.field_id.as_bytes(),
            field_name: c.field_name.as_bytes(),
            from: c.from.as_deref().map(str::as_bytes),
            from_string: c.from_string.as_deref().map(str::as_bytes),
            to: c.to.as_deref().map(str::as_bytes),
            to_string: c.to_string.as_deref().map(str::as_bytes),
        }
    }
}

impl<'a> ChangeView<'a> {
    /// The change of an encoded `FieldChange` whose strings were checked when it was read.
    pub fn parse(buf: &'a [u8]) -> Self {
        let mut c = ChangeView::default();
        for (tag, v) in Fields::new(buf) {
            let Value::Bytes(s) = v else { continue };
            match tag {
                1 => c.field_id = s,
                2 => c.field_name = s,
                3 => c.from = Some(s),
                4 => c.from_string = Some(s),
                5 => c.to = Some(s),
                6 => c.to_string = Some(s),
                _ => {}
            }
        }
        c
    }
}

/// One `WindowEntry`, borrowed from a window's bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EntryView<'a> {
    /// Its bytes, UTF-8 as every string stored: a raw record's checked dedup key, or one
    /// prost decoded at restore.
    pub dedup_key: &'a [u8],
    pub event_time_ms: i64,
    pub received_at_ms: i64,
    pub offset: i64,
    /// The encoded `User`, when the entry has an actor.
    pub actor: Option<&'a [u8]>,
    pub action: i32,
    /// The entry from its first change (field 7) on, to iterate its changes from.
    changes: &'a [u8],
}

impl<'a> EntryView<'a> {
    pub fn parse(body: &'a [u8]) -> Self {
        Self::parse_in_order(body).unwrap_or_else(|| Self::parse_any(body))
    }

    /// An entry with no field read yet.
    fn empty(body: &'a [u8]) -> Self {
        EntryView {
            dedup_key: &[],
            event_time_ms: 0,
            received_at_ms: 0,
            offset: 0,
            actor: None,
            action: 0,
            changes: body,
        }
    }

    /// An entry as this crate writes it and prost encodes it at restore: fields in tag order,
    /// each read where it must be by its one-byte key, up to the changes (7). `None` on any
    /// other layout, which [`parse_any`](Self::parse_any) reads.
    #[inline]
    fn parse_in_order(body: &'a [u8]) -> Option<Self> {
        let (mut e, mut rest) = (EntryView::empty(body), body);
        if take_key(&mut rest, 0x0a) {
            e.dedup_key = take_len_delimited(&mut rest)?;
        }
        if take_key(&mut rest, 0x10) {
            e.event_time_ms = varint(&mut rest)? as i64;
        }
        if take_key(&mut rest, 0x18) {
            e.received_at_ms = varint(&mut rest)? as i64;
        }
        if take_key(&mut rest, 0x20) {
            e.offset = varint(&mut rest)? as i64;
        }
        if take_key(&mut rest, 0x2a) {
            e.actor = Some(take_len_delimited(&mut rest)?);
        }
        if take_key(&mut rest, 0x30) {
            e.action = varint(&mut rest)? as i32;
        }
        // The changes, or the end.
        if !(rest.is_empty() || rest[0] == 0x3a) {
            return None;
        }
        e.changes = rest;
        Some(e)
    }

    /// An entry whose fields may come in any order.
    fn parse_any(body: &'a [u8]) -> Self {
        let mut e = EntryView::empty(body);
        let mut fields = Fields::new(body);
        loop {
            // Fields are in tag order and the changes (7) come last: stop at them, and keep
            // where they start for `changes`.
            e.changes = fields.buf;
            match fields.next() {
                Some((1, Value::Bytes(b))) => e.dedup_key = b,
                Some((2, Value::Varint(n))) => e.event_time_ms = n as i64,
                Some((3, Value::Varint(n))) => e.received_at_ms = n as i64,
                Some((4, Value::Varint(n))) => e.offset = n as i64,
                Some((5, Value::Bytes(b))) => e.actor = Some(b),
                Some((6, Value::Varint(n))) => e.action = n as i32,
                Some((7, _)) | None => break,
                Some(_) => {}
            }
        }
        e
    }

    /// The dedup key's bytes and (event time, received at), not checked as UTF-8: what
    /// inserting into a window compares, once per entry. An entry's fields are in tag order
    /// (this crate writes them so, and a restore encodes them with prost), so each is read
    /// where it must be, by its one-byte key: `1` length-delimited, `2` and `3` varints.
    #[inline]
    pub fn head(body: &'a [u8]) -> (&'a [u8], (i64, i64)) {
        let (mut dedup_key, mut t, mut rest) = (&[][..], (0, 0), body);
        if take_key(&mut rest, 0x0a) {
            dedup_key = take_len_delimited(&mut rest).unwrap_or_default();
        }
        if take_key(&mut rest, 0x10) {
            t.0 = varint(&mut rest).unwrap_or(0) as i64;
        }
        if take_key(&mut rest, 0x18) {
            t.1 = varint(&mut rest).unwrap_or(0) as i64;
        }
        (dedup_key, t)
    }

    pub fn changes(&self) -> impl Iterator<Item = ChangeView<'a>> + 'a {
        Fields::new(self.changes).filter_map(|(tag, v)| match (tag, v) {
            (7, Value::Bytes(b)) => Some(ChangeView::parse(b)),
            _ => None,
        })
    }

    pub fn action(&self) -> Action {
        Action::try_from(self.action).unwrap_or_default()
    }
}

/// The `id` of an encoded `User`, as bytes (compared, never shown).
pub(crate) fn user_id(buf: &[u8]) -> &[u8] {
    Fields::new(buf)
        .find_map(|(tag, v)| match (tag, v) {
            (1, Value::Bytes(b)) => Some(b),
            _ => None,
        })
        .unwrap_or_default()
}

/// An encoded `User`, owned (for an audit's `user` and `contributors`).
pub(crate) fn decode_user(buf: &[u8]) -> User {
    prost::Message::decode(buf).unwrap_or_default()
}

/// A varint as prost writes it. Most (keys, short lengths, small numbers) are one byte,
/// written here without prost's loop.
#[inline(always)]
pub(crate) fn put_varint(v: u64, buf: &mut Vec<u8>) {
    if v < 0x80 {
        buf.push(v as u8);
    } else {
        put_long_varint(v, buf);
    }
}

/// A varint of two bytes or more (ids are ten, times six, many lengths two), without a
/// loop: the 7-bit groups are spread into bytes with masks and shifts, the last byte's
/// continuation bit cleared, and all ten possible bytes appended as one fixed-size copy, then
/// the buffer cut back to the varint's length. Every byte is made in registers: building them
/// in a stack array and patching one byte there made the copy's loads wait on the narrower
/// stores before them (a failed store forwarding; BENCHMARKS-HISTORY.md, thirteenth pass).
/// prost's `encode_varint` pushes byte by byte, each push checking the buffer's room. Not
/// inlined: [`put_varint`] stays small enough to inline everywhere.
#[inline(never)]
fn put_long_varint(v: u64, buf: &mut Vec<u8>) {
    if v < 0x4000 {
        // Two bytes (most lengths and offsets of two bytes or more): no masks needed.
        buf.extend_from_slice(&[v as u8 | 0x80, (v >> 7) as u8]);
        return;
    }
    let len = prost::encoding::encoded_len_varint(v);
    // The low 56 bits, eight groups of 7: into 32-bit halves, then 16-bit quarters, then bytes.
    let mut x = v & 0x00ff_ffff_ffff_ffff;
    x = (x & 0x0fff_ffff) | ((x & 0x00ff_ffff_f000_0000) << 4);
    x = (x & 0x0000_3fff_0000_3fff) | ((x & 0x0fff_c000_0fff_c000) << 2);
    x = (x & 0x007f_007f_007f_007f) | ((x & 0x3f80_3f80_3f80_3f80) << 1);
    let mut low = x | 0x8080_8080_8080_8080;
    // Bytes 9 and 10: bit 56 to 62 with its continuation bit, then bit 63.
    let mut high = (((v >> 56) as u16 & 0x7f) | 0x80) | (((v >> 63) as u16) << 8);
    if len <= 8 {
        low &= !(0x80 << (8 * (len - 1)));
    } else {
        // The tenth byte has no continuation bit: only the ninth can be the last.
        high &= if len == 9 { !0x80 } else { !0 };
    }
    let end = buf.len() + len;
    // Stored as the two words the copy loads, so each load is served by one store.
    let mut bytes = [0u8; 10];
    bytes[..8].copy_from_slice(&low.to_le_bytes());
    bytes[8..].copy_from_slice(&high.to_le_bytes());
    buf.extend_from_slice(&bytes);
    buf.truncate(end);
}

/// A varint field (`int64`, `uint64`, `uint32`, `bool`; an `int32` widened as prost widens it:
/// `v as u64`), written whatever its value.
#[inline]
pub(crate) fn put_varint_field(tag: u32, v: u64, buf: &mut Vec<u8>) {
    put_varint(u64::from(tag) << 3 | WireType::Varint as u64, buf);
    put_varint(v, buf);
}

/// Writes a length-delimited field's key and length.
#[inline]
pub(crate) fn put_len(tag: u32, len: usize, buf: &mut Vec<u8>) {
    put_varint(u64::from(tag) << 3 | WireType::LengthDelimited as u64, buf);
    put_varint(len as u64, buf);
}

/// A length-delimited field whose value is already encoded (a message, or bytes): written
/// even when empty, as prost writes a present message.
#[inline]
pub(crate) fn put_bytes(tag: u32, value: &[u8], buf: &mut Vec<u8>) {
    put_len(tag, value.len(), buf);
    buf.extend_from_slice(value);
}

/// A proto3 `string` field, left out when empty: a `&str`, or bytes known to be UTF-8.
#[inline]
pub(crate) fn put_str<S: AsRef<[u8]> + ?Sized>(tag: u32, s: &S, buf: &mut Vec<u8>) {
    let s = s.as_ref();
    if !s.is_empty() {
        put_len(tag, s.len(), buf);
        buf.extend_from_slice(s);
    }
}

/// Encoded length of [`put_str`].
pub(crate) fn str_len<S: AsRef<[u8]> + ?Sized>(tag: u32, s: &S) -> usize {
    let s = s.as_ref();
    if s.is_empty() {
        0
    } else {
        bytes_len(tag, s.len())
    }
}

/// Encoded length of a length-delimited field of `len` bytes.
pub(crate) fn bytes_len(tag: u32, len: usize) -> usize {
    key_len(tag) + prost::encoding::encoded_len_varint(len as u64) + len
}

/// A proto3 `int64` field, left out when zero.
pub(crate) fn put_i64(tag: u32, v: i64, buf: &mut Vec<u8>) {
    if v != 0 {
        put_varint_field(tag, v as u64, buf);
    }
}

pub(crate) fn i64_len(tag: u32, v: i64) -> usize {
    if v == 0 {
        0
    } else {
        prost::encoding::int64::encoded_len(tag, &v)
    }
}

/// An `int64` field's value and its varint's bytes as the record it was read from carries
/// them, so that a field written from it (a timestamp, written up to three times per event)
/// is copied rather than encoded again. The bytes are kept only where they are prost's
/// encoding of the value (no trailing zero group) in eight bytes or fewer, and eight bytes
/// could be loaded where they start; else `len` is 0 and the value is encoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct I64AsRead {
    value: i64,
    /// The varint's bytes, little-endian, the rest zero.
    word: u64,
    len: u8,
}

impl I64AsRead {
    /// A value known without its bytes (read by prost, or by a field's dispatch): encoded
    /// when written.
    pub fn of(value: i64) -> Self {
        I64AsRead {
            value,
            ..Self::default()
        }
    }

    pub fn value(&self) -> i64 {
        self.value
    }

    /// The varint at the front of `buf`, consumed, with its bytes kept when they can be.
    #[inline(always)]
    pub fn read(buf: &mut &[u8]) -> Option<Self> {
        let before = *buf;
        let value = varint(buf)? as i64;
        let len = before.len() - buf.len();
        Some(match before.first_chunk::<8>() {
            Some(word) if len <= 8 && (len == 1 || before[len - 1] != 0) => I64AsRead {
                value,
                word: u64::from_le_bytes(*word) & (u64::MAX >> (64 - 8 * len)),
                len: len as u8,
            },
            _ => I64AsRead::of(value),
        })
    }

    /// [`put_i64`] of it: the kept bytes copied as one word, then cut back to their length.
    #[inline(always)]
    pub fn put(&self, tag: u32, buf: &mut Vec<u8>) {
        if self.len == 0 {
            put_i64(tag, self.value, buf);
        } else if self.value != 0 {
            put_varint(u64::from(tag) << 3 | WireType::Varint as u64, buf);
            let end = buf.len() + usize::from(self.len);
            buf.extend_from_slice(&self.word.to_le_bytes());
            buf.truncate(end);
        }
    }

    /// [`i64_len`] of it.
    #[inline(always)]
    pub fn encoded_len(&self, tag: u32) -> usize {
        if self.len == 0 {
            i64_len(tag, self.value)
        } else if self.value == 0 {
            0
        } else {
            key_len(tag) + usize::from(self.len)
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use prost::encoding::encode_varint;

    use super::*;

    /// Values as strings fields carry them: ASCII, multi-byte characters, long ones (whose
    /// length takes two bytes), and bytes that are not UTF-8 at all.
    fn value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            "[a-z0-9 ]{0,20}".prop_map(String::into_bytes),
            "[a-zé€😀 ]{0,40}".prop_map(String::into_bytes),
            "[a-z€]{100,200}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..40),
        ]
    }

    /// Varints as prost writes them, followed by anything (long enough tails for the eight-byte
    /// read, short ones for the loop); and bytes that are no varint.
    fn varint_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (any::<u64>(), proptest::collection::vec(any::<u8>(), 0..12)).prop_map(|(v, tail)| {
                let mut b = Vec::new();
                encode_varint(v >> (v % 64), &mut b);
                b.extend(tail);
                b
            }),
            proptest::collection::vec(any::<u8>(), 0..14),
            proptest::collection::vec(0x80u8..=0xff, 8..12),
            // Ten bytes or more: the tenth decides whether it fits in 64 bits.
            (proptest::collection::vec(0x80u8..=0xff, 9), any::<u8>()).prop_map(|(mut b, last)| {
                b.push(last);
                b
            }),
        ]
    }

    proptest! {
        #[test]
        fn varint_reads_and_refuses_as_prost_does(bytes in varint_bytes()) {
            let (mut ours, mut prosts) = (&bytes[..], &bytes[..]);
            let read = varint(&mut ours);
            let expected = prost::encoding::decode_varint(&mut prosts).ok();
            prop_assert_eq!(read, expected);
            if expected.is_some() {
                prop_assert_eq!(ours, prosts);
            }
        }

        #[test]
        fn an_entry_in_tag_order_reads_as_in_any_order(
            dedup in "[a-z:0-9]{0,12}",
            times in (any::<i64>(), any::<i64>(), any::<i64>()),
            actor in proptest::option::of("[a-z]{0,6}"),
            action in -1i32..4,
            changes in proptest::collection::vec("[a-z]{0,5}", 0..3),
        ) {
            let entry = schema::v1::WindowEntry {
                dedup_key: dedup,
                event_time_ms: times.0,
                received_at_ms: times.1,
                offset: times.2,
                actor: actor.map(|id| User { id, ..Default::default() }),
                action,
                changes: changes
                    .into_iter()
                    .map(|f| FieldChange { field_id: f, ..Default::default() })
                    .collect(),
            };
            let bytes = prost::Message::encode_to_vec(&entry);
            let fast = EntryView::parse_in_order(&bytes);
            prop_assert!(fast.is_some(), "prost writes entries in tag order");
            let (fast, any) = (fast.unwrap(), EntryView::parse_any(&bytes));
            fn fields<'a>(e: EntryView<'a>) -> impl std::fmt::Debug + PartialEq + 'a {
                let changes: Vec<_> = e.changes().collect();
                (e.dedup_key, e.event_time_ms, e.received_at_ms, e.offset, e.actor, e.action, changes)
            }
            prop_assert_eq!(fields(fast), fields(any));
        }

        #[test]
        fn varints_are_written_as_prost_writes_them(v in any::<u64>(), shift in 0u32..64) {
            let v = v >> shift;
            let (mut ours, mut prosts) = (vec![7], vec![7]);
            put_varint(v, &mut ours);
            encode_varint(v, &mut prosts);
            prop_assert_eq!(ours, prosts);
        }

        #[test]
        fn same_bytes_is_slice_equality(
            a in proptest::collection::vec(0u8..3, 0..80),
            flip in any::<prop::sample::Index>(),
            cut in 0usize..3,
        ) {
            prop_assert!(same_bytes(&a, &a.clone()));
            if !a.is_empty() {
                let mut b = a.clone();
                b[flip.index(a.len())] ^= 0x40;
                prop_assert!(!same_bytes(&a, &b));
            }
            let shorter = &a[..a.len().saturating_sub(cut)];
            prop_assert_eq!(same_bytes(&a, shorter), a.as_slice() == shorter);
        }

        #[test]
        fn valid_utf8_is_from_utf8(v in value()) {
            prop_assert_eq!(valid_utf8(&v), std::str::from_utf8(&v).is_ok());
        }
    }
}
