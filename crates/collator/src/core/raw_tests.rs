//! The raw view reads what prost decodes, refuses what prost refuses, and the collator applies
//! a record's bytes as it applies prost's decode of them.

use std::sync::Arc;

use proptest::prelude::*;
use prost::encoding::{encode_key, encode_varint, WireType};
use prost::Message;
use schema::v1::{FieldChange, RawEvent, RecordRef, User};

use super::raw::{read_raw, RawView};
use super::tests::{change, event, field_change_of, settings, GAP};
use super::wire::{ChangeView, I64AsRead};
use super::PartitionCollator;

/// Every value the view reads is the one prost decoded; every message it keeps as bytes is
/// prost's encoding of the decoded message.
fn assert_reads_as(v: &RawView<'_>, e: &RawEvent) {
    assert_eq!(v.integration_id, e.integration_id.as_bytes());
    assert_eq!(v.jira_site, e.jira_site.as_bytes());
    assert_eq!(v.delivery_id, e.delivery_id.as_bytes());
    assert_eq!(v.retry_count, e.retry_count);
    assert_writes_as(v.received_at, e.received_at_ms);
    assert_writes_as(v.event_time, e.event_time_ms);
    assert_eq!(v.event_name, e.event_name.as_bytes());
    assert_eq!(v.issue_event_type, e.issue_event_type.as_bytes());
    assert_eq!(
        v.actor,
        e.actor.as_ref().map(|a| a.encode_to_vec()).as_deref()
    );
    assert_eq!(
        v.actor_id,
        e.actor.as_ref().map_or(&b""[..], |a| a.id.as_bytes())
    );
    assert_eq!(
        v.record,
        e.record.as_ref().map(|r| r.encode_to_vec()).as_deref()
    );
    let (rtype, rid) = e
        .record
        .as_ref()
        .map_or(("", ""), |r| (r.r#type.as_str(), r.id.as_str()));
    assert_eq!(
        (v.record_type, v.record_id),
        (rtype.as_bytes(), rid.as_bytes())
    );
    let associated = e.associated.as_ref().map(|r| r.encode_to_vec());
    assert_eq!(v.associated, associated.as_deref());
    assert_eq!(v.action, e.action);
    let changes: Vec<Vec<u8>> = e.changes.iter().map(|c| c.encode_to_vec()).collect();
    let read: Vec<&[u8]> = v.change_bytes().collect();
    assert_eq!(read, changes.iter().map(Vec::as_slice).collect::<Vec<_>>());
    assert_eq!(v.change_count, e.changes.len());
    let views: Vec<ChangeView<'_>> = e.changes.iter().map(ChangeView::from).collect();
    assert_eq!(v.change_views().collect::<Vec<_>>(), views);
    assert_eq!(v.dedup_key, e.dedup_key.as_bytes());
    assert_eq!(v.partition_key, e.partition_key.as_bytes());
    assert_eq!(v.workspace, e.workspace.as_bytes());
    assert_eq!(v.known_event, e.known_event);
    assert_eq!(v.project, e.project.as_bytes());
    assert_eq!(v.flow, e.flow.as_bytes());
}

/// Empty, short, or long enough that its length takes two varint bytes.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just(String::new()),
        4 => "[a-z|]{1,4}",
        4 => "\\PC{0,6}",
        1 => "[a-zé]{100,200}",
    ]
}

fn user() -> impl Strategy<Value = User> {
    (text(), text(), text(), text(), text(), text()).prop_map(
        |(id, name, email, account_id, username, user_key)| User {
            id,
            name,
            email,
            account_id,
            username,
            user_key,
        },
    )
}

fn record() -> impl Strategy<Value = RecordRef> {
    (text(), text()).prop_map(|(r#type, id)| RecordRef { r#type, id })
}

fn field_change() -> impl Strategy<Value = FieldChange> {
    field_change_of(text(), text(), || prop::option::of(text()))
}

fn raw_event() -> impl Strategy<Value = RawEvent> {
    (
        (
            text(),
            text(),
            text(),
            any::<u32>(),
            any::<i64>(),
            any::<i64>(),
        ),
        (text(), text(), prop::option::of(user())),
        (prop::option::of(record()), prop::option::of(record())),
        // Past the changes the view reads up front, too.
        (any::<i32>(), prop::collection::vec(field_change(), 0..7)),
        (text(), text(), prop::collection::vec(any::<u8>(), 0..40)),
        (text(), any::<bool>(), text(), text()),
    )
        .prop_map(|(a, b, c, d, e, f)| RawEvent {
            integration_id: a.0,
            jira_site: a.1,
            delivery_id: a.2,
            retry_count: a.3,
            received_at_ms: a.4,
            event_time_ms: a.5,
            event_name: b.0,
            issue_event_type: b.1,
            actor: b.2,
            record: c.0,
            associated: c.1,
            action: d.0,
            changes: d.1,
            dedup_key: e.0,
            partition_key: e.1,
            body: e.2,
            workspace: f.0,
            known_event: f.1,
            project: f.2,
            flow: f.3,
        })
}

/// A valid encoding, damaged: a byte overwritten, removed or inserted, or the end cut off.
fn damaged() -> impl Strategy<Value = Vec<u8>> {
    (
        raw_event(),
        prop::collection::vec((0..4u8, any::<prop::sample::Index>(), any::<u8>()), 1..3),
    )
        .prop_map(|(e, damage)| {
            let mut b = e.encode_to_vec();
            for (kind, at, byte) in damage {
                if b.is_empty() {
                    break;
                }
                let i = at.index(b.len());
                match kind {
                    0 => b[i] = byte,
                    1 => {
                        b.remove(i);
                    }
                    2 => b.insert(i, byte),
                    _ => b.truncate(i),
                }
            }
            b
        })
}

/// `read` holds `value`, and writes it (bytes kept or not) as prost writes an `int64` field.
fn assert_writes_as(read: I64AsRead, value: i64) {
    assert_eq!(read.value(), value);
    let mut expected = Vec::new();
    if value != 0 {
        prost::encoding::int64::encode(3, &value, &mut expected);
    }
    let mut written = Vec::new();
    read.put(3, &mut written);
    assert_eq!(written, expected, "{read:?}");
    assert_eq!(read.encoded_len(3), expected.len(), "{read:?}");
}

#[test]
fn a_time_is_written_as_prost_writes_it_however_the_record_carried_it() {
    let e = RawEvent {
        received_at_ms: T0,
        event_time_ms: T0 - 1,
        dedup_key: "k".into(),
        ..RawEvent::default()
    };
    let bytes = e.encode_to_vec();
    // Prost's own bytes: kept and copied.
    assert_reads_as(&RawView::read_in_order(&bytes).expect("in order"), &e);
    // A varint with a trailing zero group (prost reads it, and never writes it), a
    // negative time (ten bytes), a time at the record's very end (no eight bytes to load)
    // and a zero written out: read, and written as prost writes the value.
    let mut padded = Vec::new();
    encode_key(5, WireType::Varint, &mut padded);
    padded.extend_from_slice(&[0x81, 0x80, 0x00]);
    prost::encoding::string::encode(14, &"a dedup key".to_string(), &mut padded);
    let mut negative = Vec::new();
    prost::encoding::int64::encode(5, &-T0, &mut negative);
    let mut at_end = Vec::new();
    prost::encoding::int64::encode(6, &T0, &mut at_end);
    for record in [padded, negative, at_end, vec![5 << 3, 0]] {
        let decoded = RawEvent::decode(record.as_slice()).expect("prost reads it");
        let view = RawView::read(&record).expect("read in place");
        assert_reads_as(&view, &decoded);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn view_reads_what_prost_decodes(e in raw_event()) {
        let bytes = e.encode_to_vec();
        let view = RawView::read(&bytes);
        prop_assert!(view.is_some(), "prost's encoding is read in place");
        assert_reads_as(&view.unwrap_or_default(), &RawEvent::decode(bytes.as_slice()).unwrap());
        // By the reading that expects prost's field order, not by the fallback.
        prop_assert_eq!(RawView::read_in_order(&bytes), view);
    }

    #[test]
    fn damaged_bytes_are_refused_or_read_as_prost_reads_them(bytes in damaged()) {
        let mut canonical = Vec::new();
        match (read_raw(&bytes, &mut canonical), RawEvent::decode(bytes.as_slice())) {
            (Ok(view), Ok(e)) => assert_reads_as(&view, &e),
            (Err(_), Err(_)) => {}
            (view, e) => prop_assert!(false, "view {view:?}, prost {e:?}"),
        }
        // What the view reads in place, prost decodes to the same values.
        if let Some(view) = RawView::read(&bytes) {
            let e = RawEvent::decode(bytes.as_slice());
            prop_assert!(e.is_ok(), "read in place, refused by prost: {e:?}");
            assert_reads_as(&view, &e.unwrap());
        }
    }
}

const T0: i64 = 1_700_000_000_000;

fn collator() -> PartitionCollator {
    PartitionCollator::new(Arc::new(settings()), 0)
}

fn length_delimited(tag: u32, value: &[u8], buf: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, buf);
    length_delimited_value(value, buf);
}

fn length_delimited_value(value: &[u8], buf: &mut Vec<u8>) {
    encode_varint(value.len() as u64, buf);
    buf.extend_from_slice(value);
}

/// A change whose `field_name` (field 2) is not UTF-8.
fn change_with_bad_utf8() -> Vec<u8> {
    let mut c = Vec::new();
    length_delimited(1, b"status", &mut c);
    length_delimited(2, b"st\xffatus", &mut c);
    c
}

#[test]
fn malformed_records_are_refused_and_nothing_is_applied() {
    let good = event(
        "d1",
        "ann",
        T0,
        T0,
        vec![change("status", Some("a"), Some("b"))],
    );
    let encoded = good.encode_to_vec();
    let mut bad_dedup_key = encoded.clone();
    length_delimited(14, b"d\xc3\x28", &mut bad_dedup_key);
    let mut bad_change = encoded.clone();
    length_delimited(13, &change_with_bad_utf8(), &mut bad_change);
    let mut bad_actor = encoded.clone();
    let mut actor = Vec::new();
    length_delimited(1, b"\xe2\x82", &mut actor);
    length_delimited(9, &actor, &mut bad_actor);
    let mut wrong_wire_type = encoded.clone();
    length_delimited(5, b"1700000000000", &mut wrong_wire_type);
    let mut varint_for_message = encoded.clone();
    encode_key(13, WireType::Varint, &mut varint_for_message);
    encode_varint(1, &mut varint_for_message);
    let truncated = encoded[..encoded.len() - 3].to_vec();
    let mut too_long = encoded.clone();
    encode_key(16, WireType::LengthDelimited, &mut too_long);
    encode_varint(1_000, &mut too_long);
    too_long.extend_from_slice(b"short body");
    // `dedup_key`'s key with a bit set beyond 32 bits: prost refuses the key, not truncates it.
    let mut key_too_wide = encoded.clone();
    encode_varint((1 << 32) | (14 << 3) | 2, &mut key_too_wide);
    length_delimited_value(b"d2", &mut key_too_wide);
    let mut tag_zero = encoded.clone();
    encode_varint(2, &mut tag_zero);
    length_delimited_value(b"d2", &mut tag_zero);
    let cases = [
        ("a key beyond 32 bits", key_too_wide),
        ("tag 0", tag_zero),
        ("invalid UTF-8 in dedup_key", bad_dedup_key),
        ("invalid UTF-8 in a change's field_name", bad_change),
        ("invalid UTF-8 in the actor's id", bad_actor),
        ("received_at_ms length-delimited", wrong_wire_type),
        ("a change as a varint", varint_for_message),
        ("truncated", truncated),
        ("body longer than the record", too_long),
    ];
    for (what, bytes) in cases {
        assert!(
            RawEvent::decode(bytes.as_slice()).is_err(),
            "{what}: prost refuses it"
        );
        let mut c = collator();
        assert!(c.apply_encoded(&bytes, 0).is_err(), "{what}: refused");
        assert!(c.take_live().is_empty(), "{what}: no live audit");
        assert!(c.take_dirty_encoded().is_empty(), "{what}: no state");
        assert_eq!(
            c.take_stats(),
            Default::default(),
            "{what}: nothing counted"
        );
        assert_eq!(c.open_windows(), 0, "{what}: no window");
    }
    let mut c = collator();
    assert!(
        c.apply_encoded(&encoded, 0).is_ok(),
        "the record undamaged is applied"
    );
    assert_eq!(c.take_live().len(), 1);
}

/// Records prost accepts but does not write itself: an actor sent in two parts (prost merges
/// them), an unknown field inside a change (prost drops it), changes on both sides of another
/// field, a field number this collator does not know, non-shortest varints.
fn unusual_but_valid() -> Vec<(&'static str, Vec<u8>)> {
    let base = event("d1", "ann", T0, T0, vec![]);
    let plain = base.encode_to_vec();
    let first = change("status", Some("a"), Some("b")).encode_to_vec();
    let second = change("summary", None, Some("new")).encode_to_vec();

    let mut actor_twice = plain.clone();
    let mut email = Vec::new();
    length_delimited(3, b"ann@example.com", &mut email);
    length_delimited(9, &email, &mut actor_twice);
    length_delimited(13, &first, &mut actor_twice);

    let mut unknown_in_change = plain.clone();
    let mut with_unknown = first.clone();
    length_delimited(9, b"not a FieldChange field", &mut with_unknown);
    length_delimited(13, &with_unknown, &mut unknown_in_change);

    let mut split_changes = plain.clone();
    length_delimited(13, &first, &mut split_changes);
    length_delimited(
        16,
        b"{\"webhookEvent\":\"jira:issue_updated\"}",
        &mut split_changes,
    );
    length_delimited(13, &second, &mut split_changes);

    let mut unknown_field = plain.clone();
    length_delimited(13, &first, &mut unknown_field);
    length_delimited(99, b"from a newer ingest", &mut unknown_field);
    encode_key(98, WireType::ThirtyTwoBit, &mut unknown_field);
    unknown_field.extend_from_slice(&[1, 2, 3, 4]);

    let mut long_varints = plain;
    let mut padded = Vec::new();
    encode_key(1, WireType::LengthDelimited, &mut padded);
    padded.extend_from_slice(&[0x86, 0x00]); // 6, in two bytes
    padded.extend_from_slice(b"status");
    length_delimited(13, &padded, &mut long_varints);

    vec![
        ("actor sent twice", actor_twice),
        ("unknown field inside a change", unknown_in_change),
        ("changes around the body", split_changes),
        ("unknown top-level fields", unknown_field),
        ("non-shortest varint in a change", long_varints),
    ]
}

#[test]
fn unusual_but_valid_records_apply_as_prost_decodes_them() {
    for (what, bytes) in unusual_but_valid() {
        let decoded = RawEvent::decode(bytes.as_slice()).unwrap();
        let mut from_bytes = collator();
        let mut from_prost = collator();
        assert!(from_bytes.apply_encoded(&bytes, 7).is_ok(), "{what}");
        from_prost.apply(&decoded, 7);
        let later = T0 + 2 * GAP;
        from_bytes.advance(later);
        from_prost.advance(later);
        assert_eq!(from_bytes.take_live(), from_prost.take_live(), "{what}");
        assert_eq!(from_bytes.take_audits(), from_prost.take_audits(), "{what}");
        assert_eq!(
            from_bytes.take_dirty_encoded(),
            from_prost.take_dirty_encoded(),
            "{what}"
        );
    }
}

#[test]
fn body_is_never_read() {
    let mut e = event("d1", "ann", T0, T0, vec![change("status", None, Some("b"))]);
    // Not UTF-8, and not a message: `bytes` is taken as it is.
    e.body = vec![0xff, 0xfe, 0x00, 0x80];
    let bytes = e.encode_to_vec();
    let view = RawView::read(&bytes).expect("read in place");
    assert_reads_as(&view, &e);
}

/// Raw records carry the Jira request they came from (`body`, before the fields 17 to 20):
/// the in-order reading takes them with every real fixture's body, and reads them as prost
/// decodes them.
#[test]
fn records_with_real_bodies_are_read_in_order() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/jira");
    let mut read = 0;
    for entry in std::fs::read_dir(dir).expect("the fixtures") {
        let path = entry.expect("a fixture").path();
        if path.extension().is_some_and(|x| x == "json") {
            let mut e = event(
                "d1",
                "u1",
                1,
                2,
                vec![change("status", Some("a"), Some("b"))],
            );
            e.body = std::fs::read(&path).expect("a fixture's body");
            (e.workspace, e.project, e.flow) = ("ws".into(), "P".into(), "primary".into());
            let bytes = e.encode_to_vec();
            let view = RawView::read_in_order(&bytes);
            assert!(view.is_some(), "{path:?}");
            assert_reads_as(&view.unwrap_or_default(), &e);
            read += 1;
        }
    }
    assert!(read > 0);
}

/// An in-order record whose every string, the actor's, records' and changes' too, holds its
/// own marker: the `n`th is `s<n>xx`.
fn record_with_marked_strings() -> RawEvent {
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("s{n:02}xx")
    };
    let user = User {
        id: next(),
        name: next(),
        email: next(),
        account_id: next(),
        username: next(),
        user_key: next(),
    };
    let record = RecordRef {
        r#type: next(),
        id: next(),
    };
    let associated = RecordRef {
        r#type: next(),
        id: next(),
    };
    let field_change = FieldChange {
        field_id: next(),
        field_name: next(),
        from: Some(next()),
        from_string: Some(next()),
        to: Some(next()),
        to_string: Some(next()),
    };
    RawEvent {
        integration_id: next(),
        jira_site: next(),
        delivery_id: next(),
        retry_count: 1,
        received_at_ms: T0,
        event_time_ms: T0,
        event_name: next(),
        issue_event_type: next(),
        actor: Some(user),
        record: Some(record),
        associated: Some(associated),
        action: 2,
        changes: vec![field_change.clone(), field_change],
        dedup_key: next(),
        partition_key: next(),
        body: b"{}".to_vec(),
        workspace: next(),
        known_event: true,
        project: next(),
        flow: next(),
    }
}

/// Each string is checked wherever it lies, also where the in-order reading checks a whole
/// span of the record at once: a string made invalid UTF-8 is refused, as prost refuses it,
/// and one made valid but not ASCII is read as prost decodes it.
#[test]
fn every_string_of_an_in_order_record_is_checked() {
    let e = record_with_marked_strings();
    let bytes = e.encode_to_vec();
    assert_eq!(
        RawView::read_in_order(&bytes).map(|v| v.flow),
        Some(&b"s26xx"[..])
    );
    for n in 1..=26 {
        let marker = format!("s{n:02}xx");
        let at = bytes
            .windows(marker.len())
            .position(|w| w == marker.as_bytes())
            .unwrap_or_else(|| panic!("{marker} is in the record"))
            + 3;
        let mut invalid = bytes.clone();
        invalid[at] = 0xff;
        assert!(RawEvent::decode(invalid.as_slice()).is_err(), "{marker}");
        assert_eq!(RawView::read(&invalid), None, "{marker} made invalid");
        assert!(read_raw(&invalid, &mut Vec::new()).is_err(), "{marker}");
        let mut accented = bytes.clone();
        accented[at..at + 2].copy_from_slice("é".as_bytes());
        let decoded = RawEvent::decode(accented.as_slice()).expect("valid UTF-8");
        let view = RawView::read_in_order(&accented);
        assert!(view.is_some(), "{marker} made é is read in order");
        assert_reads_as(&view.unwrap_or_default(), &decoded);
    }
}
