//! A closing window's audit, encoded straight from its entries, is exactly the bytes prost
//! writes for the owned `AuditEvent` `merge_window` builds from the same window, and carries
//! the same key, id, bounds and event count: for windows opened by events and for restored
//! windows whose header the record's key does not say.

use std::sync::Arc;

use proptest::prelude::*;
use prost::Message;
use schema::v1::{Action, FieldChange, RawEvent, RecordRef, SessionWindowState, User};

use super::audit::{encode_window, EncodedAudit};
use super::ids::record_key;
use super::merge::{merge_window, Merged};
use super::raw::RawView;
use super::records::{Origin, Origins};
use super::tests::{change, event, field_change_of, settings, GAP};
use super::window::SessionWindow;
use super::Settings;

const T0: i64 = 1_700_000_000_000;

/// One record's window over `events` (all inserted, at offsets 0..), with the key, id and
/// interned origin the partition would give it.
struct Built {
    key: String,
    id: String,
    origin: Arc<Origin>,
    window: SessionWindow,
}

fn view(bytes: &[u8]) -> RawView<'_> {
    RawView::read(bytes).expect("prost's encoding reads in place")
}

fn build(events: &[RawEvent]) -> Built {
    let e = &events[0];
    let (rtype, id) = e
        .record
        .as_ref()
        .map_or(("", ""), |r| (r.r#type.as_str(), r.id.as_str()));
    let key = record_key(&e.jira_site, rtype, id);
    let prefix = &key[..key.len() - id.len()];
    let origin = Origins::default()
        .get([prefix, &e.jira_site, rtype, &e.integration_id, &e.workspace].map(str::as_bytes));
    // Applied as the shell applies them: from their encoded bytes.
    let encoded: Vec<Vec<u8>> = events.iter().map(Message::encode_to_vec).collect();
    let mut window = SessionWindow::open(key.as_bytes(), &view(&encoded[0]), 0);
    for (offset, bytes) in (1..).zip(&encoded[1..]) {
        window.insert(&view(bytes), offset);
    }
    Built {
        id: id.to_owned(),
        key,
        origin,
        window,
    }
}

impl Built {
    /// The window as a restore rebuilds it from `state` (its own state, edited by `edit`).
    fn restored(&self, edit: impl FnOnce(&mut SessionWindowState)) -> Built {
        let mut buf = Vec::new();
        self.window
            .encode_state(&self.key, &self.id, &self.origin, &mut buf);
        let mut state = SessionWindowState::decode(buf.as_slice()).expect("own state decodes");
        edit(&mut state);
        Built {
            key: self.key.clone(),
            id: self.id.clone(),
            origin: Arc::clone(&self.origin),
            window: SessionWindow::from_state(&state, &self.key, &self.id, &self.origin),
        }
    }

    fn encoded(&self, s: &Settings) -> Option<EncodedAudit> {
        let deadline = self.window.deadline(s);
        let entries: Vec<_> = self.window.entries().collect();
        encode_window(
            &self.window,
            &entries,
            &self.key,
            &self.id,
            &self.origin,
            deadline,
            s,
        )
    }

    /// The owned build, encoded by prost: what the collator wrote before.
    fn reference(&self, s: &Settings) -> Option<EncodedAudit> {
        let deadline = self.window.deadline(s);
        match merge_window(&self.window, &self.key, &self.id, &self.origin, deadline, s) {
            Merged::Audit(a) => Some(EncodedAudit {
                key: a.record_key.clone(),
                payload: a.encode_to_vec(),
                id: a.id,
                window_start_ms: a.window_start_ms,
                window_end_ms: a.window_end_ms,
                source_event_count: a.source_event_count,
            }),
            Merged::Empty => None,
        }
    }
}

fn with(mut e: RawEvent, f: impl FnOnce(&mut RawEvent)) -> RawEvent {
    f(&mut e);
    e
}

fn full_user(id: &str, name: &str) -> User {
    User {
        id: id.into(),
        name: name.into(),
        email: format!("{id}@example.com"),
        account_id: format!("acc-{id}"),
        username: id.into(),
        user_key: format!("key-{id}"),
    }
}

#[test]
fn edge_cases_encode_as_prost_does() {
    let s = settings();
    let mut keep = settings();
    keep.keep_reverted_fields = true;
    let status = |d: &str, actor: &str, t: i64, from: &str, to: &str| {
        event(
            d,
            actor,
            T0 + t,
            T0 + t,
            vec![change("status", Some(from), Some(to))],
        )
    };
    let no_actor = |e| with(e, |e| e.actor = None);
    let windows: Vec<(&str, Vec<RawEvent>)> = vec![
        ("one change", vec![status("d1", "ann", 0, "a", "b")]),
        (
            "no actor",
            vec![
                no_actor(status("d1", "ann", 0, "a", "b")),
                no_actor(status("d2", "ann", 1, "b", "c")),
            ],
        ),
        (
            "reverted field beside a kept one",
            vec![
                status("d1", "ann", 0, "a", "b"),
                event(
                    "d2",
                    "bob",
                    T0 + 1,
                    T0 + 1,
                    vec![change("summary", None, Some("s"))],
                ),
                status("d3", "ann", 2, "b", "a"),
            ],
        ),
        (
            "everything reverted",
            vec![
                status("d1", "ann", 0, "a", "b"),
                status("d2", "ann", 1, "b", "a"),
            ],
        ),
        ("no changes", vec![event("d1", "ann", T0, T0, vec![])]),
        (
            "create among updates",
            vec![
                status("d1", "ann", 0, "a", "b"),
                with(event("d2", "bob", T0 + 1, T0 + 1, vec![]), |e| {
                    e.action = Action::Create as i32
                }),
            ],
        ),
        (
            "destroy last, no event time",
            vec![
                status("d1", "ann", 0, "a", "b"),
                with(event("d2", "bob", 0, T0 + 9, vec![]), |e| {
                    e.action = Action::Destroy as i32
                }),
            ],
        ),
        (
            "unspecified action",
            vec![with(status("d1", "ann", 0, "a", "b"), |e| e.action = 0)],
        ),
        (
            "late",
            vec![with(status("d1", "ann", 0, "a", "b"), |e| {
                e.received_at_ms += 2 * GAP
            })],
        ),
        (
            "empty partition key, associated record, workspace",
            vec![with(status("d1", "ann", 0, "a", "b"), |e| {
                e.partition_key.clear();
                e.workspace = "ws".into();
                e.associated = Some(RecordRef {
                    r#type: "issue".into(),
                    id: "7".into(),
                });
            })],
        ),
        (
            "no record, empty associated record",
            vec![with(status("d1", "ann", 0, "a", "b"), |e| {
                e.record = None;
                e.associated = Some(RecordRef::default());
            })],
        ),
        (
            "several contributors, one id under two names, an empty user",
            vec![
                with(status("d1", "ann", 0, "a", "b"), |e| {
                    e.actor = Some(full_user("ann", "Ann"))
                }),
                status("d2", "bob", 1, "b", "c"),
                with(status("d3", "ann", 2, "c", "d"), |e| {
                    e.actor = Some(full_user("ann", "Ann Renamed"))
                }),
                with(status("d4", "x", 3, "d", "e"), |e| {
                    e.actor = Some(User::default())
                }),
                no_actor(status("d5", "x", 4, "e", "f")),
                status("d6", "cy", 5, "f", "g"),
            ],
        ),
        (
            "optional values absent or empty",
            vec![event(
                "d1",
                "ann",
                T0,
                T0,
                vec![
                    FieldChange {
                        field_id: "summary".into(),
                        to: Some(String::new()),
                        ..Default::default()
                    },
                    FieldChange {
                        field_name: "Assignee".into(),
                        from: Some("id-a".into()),
                        to_string: Some("B".into()),
                        ..Default::default()
                    },
                    FieldChange::default(),
                    change("labels", None, None),
                ],
            )],
        ),
        (
            "long strings",
            vec![event(
                "d1",
                &"é".repeat(300),
                T0,
                T0,
                vec![change(&"f".repeat(200), Some(&"é".repeat(300)), None)],
            )],
        ),
    ];
    let mut audits = 0;
    for (what, events) in &windows {
        let built = build(events);
        for s in [&s, &keep] {
            let encoded = built.encoded(s);
            assert_eq!(encoded, built.reference(s), "{what}");
            audits += usize::from(encoded.is_some());
        }
    }
    // Each case says something under one setting or the other, except these.
    let silent = ["everything reverted", "no changes"];
    for (what, events) in windows.iter().filter(|(w, _)| silent.contains(w)) {
        assert_eq!(build(events).encoded(&s), None, "{what}");
    }
    assert_eq!(
        audits,
        2 * windows.len() - 3,
        "reverted windows say nothing"
    );
    let built = build(&windows[2].1);
    let (dropped, kept) = (built.encoded(&s), built.encoded(&keep));
    assert_eq!(dropped.map(|a| a.decode().changes.len()), Some(1));
    assert_eq!(kept.map(|a| a.decode().changes.len()), Some(2));
}

/// An edit of a window's state before it is restored.
type StateEdit = fn(&mut SessionWindowState);

fn record_ref(r#type: &str, id: &str) -> RecordRef {
    RecordRef {
        r#type: r#type.into(),
        id: id.into(),
    }
}

/// A restored window whose header is not what its key says: its audit still writes what the
/// state holds.
#[test]
fn restored_headers_encode_as_prost_does() {
    let s = settings();
    let base = build(&[
        event(
            "d1",
            "ann",
            T0,
            T0,
            vec![change("status", Some("a"), Some("b"))],
        ),
        event(
            "d2",
            "bob",
            T0 + 1,
            T0 + 1,
            vec![change("summary", None, Some("x"))],
        ),
    ]);
    let edits: [(&str, StateEdit); 8] = [
        ("as it was", |_| {}),
        ("older record key", |st| {
            st.record_key = "old|issue|1".into()
        }),
        ("record ref differs", |st| {
            st.record = Some(record_ref("comment", "5"))
        }),
        ("empty record ref", |st| {
            st.record = Some(RecordRef::default())
        }),
        ("no record ref", |st| st.record = None),
        ("no partition key", |st| st.partition_key.clear()),
        ("another partition key", |st| {
            st.partition_key = "s|issue|1".into()
        }),
        ("associated record", |st| {
            st.associated = Some(record_ref("issue", "9"))
        }),
    ];
    for (what, edit) in &edits {
        let restored = base.restored(edit);
        let encoded = restored.encoded(&s);
        assert!(encoded.is_some(), "{what}");
        assert_eq!(encoded, restored.reference(&s), "{what}");
    }
}

fn text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof!["", "a", "b", "[é]{0,80}"])
}

fn field_change() -> impl Strategy<Value = FieldChange> {
    field_change_of(
        prop_oneof!["", "status", "summary"],
        prop_oneof!["", "Status", "[a-z]{1,140}"],
        text,
    )
}

fn actor() -> impl Strategy<Value = Option<User>> {
    prop::option::of(
        (0..3u8, prop_oneof!["", "Ann", "[a-z]{1,20}"], any::<bool>()).prop_map(
            |(id, name, full)| {
                let id = format!("u{id}");
                if full {
                    full_user(&id, &name)
                } else {
                    User {
                        id,
                        name,
                        ..Default::default()
                    }
                }
            },
        ),
    )
}

/// The changes of one window: dedup keys from a small set (so some deliveries are
/// duplicates), any action, author, event time (unknown, zero, or Jira's) and lateness.
fn window_events() -> impl Strategy<Value = Vec<RawEvent>> {
    let one = (
        (0..5u8, 0..4i32, actor()),
        (-1..3i64, 0..(3 * GAP)),
        prop::collection::vec(field_change(), 0..4),
    );
    (
        prop::collection::vec(one, 1..7),
        (prop_oneof!["", "ws"], any::<bool>(), any::<bool>()),
    )
        .prop_map(|(changes, (workspace, partition_key, associated))| {
            changes
                .into_iter()
                .map(|((d, action, actor), (t, r), fcs)| {
                    let t = if t > 0 { T0 + t * 1_000 } else { t };
                    let mut e = event(&format!("d{d}"), "", t, T0 + r, fcs);
                    e.action = action;
                    e.actor = actor.clone();
                    e.workspace = workspace.clone();
                    if !partition_key {
                        e.partition_key.clear();
                    }
                    if associated {
                        e.associated = Some(RecordRef {
                            r#type: "issue".into(),
                            id: "3".into(),
                        });
                    }
                    e
                })
                .collect()
        })
}

proptest! {
    #[test]
    fn any_window_encodes_as_prost_does(
        events in window_events(),
        keep in any::<bool>(),
        restore in 0..4u8,
    ) {
        let mut s = settings();
        s.keep_reverted_fields = keep;
        let built = build(&events);
        let built = match restore {
            0 => built,
            1 => built.restored(|_| {}),
            2 => built.restored(|st| st.record = Some(RecordRef { r#type: "x".into(), id: String::new() })),
            _ => built.restored(|st| st.record_key = "older|issue|10001".into()),
        };
        prop_assert_eq!(built.encoded(&s), built.reference(&s));
    }
}
