//! The live encoder writes exactly the bytes prost writes for the same live `AuditEvent`.

use proptest::prelude::*;
use prost::Message;
use schema::v1::{Action, FieldChange, RawEvent, RecordRef, User};

use super::tests::{change, event, field_change_of, settings};
use super::{encode_live, live_audit, Merged, Settings};

fn reference(key: &str, e: &RawEvent, s: &Settings) -> Option<(String, Vec<u8>)> {
    match live_audit(key, e, s) {
        Merged::Audit(a) => Some((a.record_key.clone(), a.encode_to_vec())),
        Merged::Empty => None,
    }
}

fn encoded(key: &str, e: &RawEvent, s: &Settings) -> Option<(String, Vec<u8>)> {
    encode_live(key, e, s).map(|a| (String::from_utf8(a.key().to_vec()).unwrap(), a.payload))
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
