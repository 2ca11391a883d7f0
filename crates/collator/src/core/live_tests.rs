//! The live encoder writes exactly the bytes prost writes for the same live `AuditEvent`.

use std::sync::Arc;

use proptest::prelude::*;
use prost::Message;
use schema::v1::{Action, FieldChange, RawEvent, RecordRef, User};

use super::tests::{change, event, field_change_of, settings, SITE};
use super::{encode_live, live_audit, Merged, PartitionCollator, Settings};

fn reference(key: &str, e: &RawEvent, s: &Settings) -> Option<(String, Vec<u8>)> {
    match live_audit(key, e, s) {
        Merged::Audit(a) => Some((a.record_key.clone(), a.encode_to_vec())),
        Merged::Empty => None,
    }
}

fn encoded(key: &str, e: &RawEvent, s: &Settings) -> Option<(String, Vec<u8>)> {
    let live = encode_live(key, e, s);
    assert!(live.len() <= 1, "one live audit at most");
    let a = live.iter().next()?;
    Some((
        String::from_utf8(a.key().to_vec()).unwrap(),
        a.payload.to_vec(),
    ))
}

#[test]
fn edge_cases_encode_as_prost_does() {
    let s = settings();
    let key = "https://acme.atlassian.net|issue|10001";
    let long = "é".repeat(300);
    let mut cases = vec![
        event(
            "d1",
            "u1",
            1,
            2,
            vec![change("status", Some("a"), Some("b"))],
        ),
        event("d2", "u1", 0, 0, vec![change("summary", None, Some(""))]),
        event(
            "d3",
            &long,
            5,
            5 + 10 * 300_000,
            vec![change(&long, Some(&long), None)],
        ),
        event(
            "d4",
            "u1",
            1,
            2,
            vec![change("status", Some("a"), Some("a"))],
        ),
        event("d5", "u1", 1, 2, vec![]),
    ];
    let mut create = event("d6", "u2", 1, 2, vec![]);
    create.action = Action::Create as i32;
    create.actor = None;
    create.partition_key.clear();
    create.associated = Some(RecordRef {
        r#type: "comment".into(),
        id: String::new(),
    });
    cases.push(create);
    let mut destroy = event("d7", "u2", -1, 2, vec![FieldChange::default()]);
    destroy.action = Action::Destroy as i32;
    destroy.workspace = "ws".into();
    destroy.actor = Some(User::default());
    cases.push(destroy);
    for e in &cases {
        assert_eq!(encoded(key, e, &s), reference(key, e, &s), "{e:?}");
    }
    assert!(
        encoded(key, &cases[3], &s).is_none(),
        "a reverted field says nothing"
    );
}

/// A batch's live audits are written into shared chunks: each reads back whole, in order and
/// with its key, however many chunks they fill, an audit larger than a chunk among them, and
/// events with nothing to say leave no gap.
#[test]
fn a_batch_of_live_audits_reads_back_each_audit_whole() {
    let s = settings();
    let key = format!("{SITE}|issue|10001");
    let mut c = PartitionCollator::new(Arc::new(s.clone()), 0);
    let mut expected = Vec::new();
    for i in 0..2_000 {
        let value = match i % 100 {
            7 => "x".repeat(70_000),
            _ => format!("value {i}"),
        };
        let changes = match i % 50 {
            3 => vec![],
            _ => vec![change("status", Some("a"), Some(&value))],
        };
        let e = event(&format!("d{i}"), "u1", 1, 1 + i, changes);
        c.apply(&e, i);
        expected.extend(encoded(&key, &e, &s));
    }
    let live = c.take_live();
    assert_eq!(live.len(), expected.len());
    assert_eq!(live.iter().len(), expected.len());
    let written: usize = live.iter().map(|a| a.payload.len()).sum();
    assert!(written > 16 * 64 * 1024, "many chunks: {written} bytes");
    for (i, (a, (k, payload))) in live.iter().zip(&expected).enumerate() {
        assert_eq!(a.payload, payload.as_slice(), "audit {i}");
        assert_eq!(a.key(), k.as_bytes(), "audit {i}'s key");
    }
    assert!(c.take_live().is_empty(), "taken once");
}

#[test]
fn live_audits_cleared_after_each_event_are_written_again_in_the_same_room() {
    // As the shell sends them: each event's live audit read in place, then cleared.
    let s = settings();
    let key = format!("{SITE}|issue|10001");
    let mut c = PartitionCollator::new(Arc::new(s.clone()), 0);
    let long = [0, 100usize];
    let mut starts = Vec::new();
    for i in 0..300usize {
        let value = if long.contains(&i) {
            "x".repeat(200_000)
        } else {
            format!("value {i}")
        };
        let changes = vec![change("status", Some("a"), Some(&value))];
        let offset = i as i64;
        let e = event(&format!("d{i}"), "u1", 1, 1 + offset, changes);
        c.apply(&e, offset);
        let (k, payload) = encoded(&key, &e, &s).expect("a change to tell");
        let live = c.live();
        assert_eq!(live.len(), 1, "event {i}");
        let a = live.iter().next().expect("one audit");
        assert_eq!(a.payload, payload.as_slice(), "event {i}");
        assert_eq!(a.key(), k.as_bytes(), "event {i}'s key");
        starts.push(a.payload.as_ptr());
        c.clear_live();
        assert!(c.live().is_empty(), "cleared after event {i}");
        // A chunk made larger for a long audit is freed; the first of the usual size is kept.
        let kept = if i == 0 { 0 } else { 1 };
        assert_eq!(c.live().chunk_count(), kept, "chunks kept after event {i}");
    }
    // Every audit but the long ones was written where the first usual one was.
    assert_ne!(starts[100], starts[1]);
    for (i, p) in starts
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(i, _)| !long.contains(i))
    {
        assert_eq!(*p, starts[1], "event {i}");
    }
    assert!(c.take_live().is_empty());
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof!["", "[a-z]{1,3}", "[é]{0,200}"])
}

fn field_change() -> impl Strategy<Value = FieldChange> {
    field_change_of(
        prop_oneof!["", "status", "summary"],
        prop_oneof!["", "Status", "[a-z]{1,140}"],
        opt_text,
    )
}

fn raw_event() -> impl Strategy<Value = RawEvent> {
    (
        (0..4i32, prop::option::of("[a-z]{0,3}"), any::<bool>()),
        (-2..3i64, -2..400_000i64),
        prop::collection::vec(field_change(), 0..4),
        prop_oneof!["", "p|k"],
        prop_oneof!["", "ws"],
    )
        .prop_map(|((action, actor, associated), (t, r), changes, pk, ws)| {
            let mut e = event("d", "u", t, t + r, changes);
            e.action = action;
            e.actor = actor.map(|id| User {
                id,
                ..Default::default()
            });
            if associated {
                e.associated = Some(RecordRef::default());
            }
            e.partition_key = pk;
            e.workspace = ws;
            e
        })
}

proptest! {
    #[test]
    fn any_event_encodes_as_prost_does(e in raw_event(), keep in any::<bool>()) {
        let mut s = settings();
        s.keep_reverted_fields = keep;
        let key = "site|issue|1";
        prop_assert_eq!(encoded(key, &e, &s), reference(key, &e, &s));
    }
}
