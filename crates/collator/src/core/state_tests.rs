//! `collator-state` written from the compact window is prost's encoding, byte for byte: for
//! windows opened by events, and for restored windows whose header the record's key does not
//! say (an older writer's record key, a record ref that differs from the key, no partition key).

use std::sync::Arc;

use prost::Message;
use schema::v1::{
    record_state, Action, ClosedRecord, EmittedKey, RecordRef, RecordState, SessionWindowState,
    WindowEntry,
};

use super::tests::{change, event, settings, SITE};
use super::PartitionCollator;

const T0: i64 = 1_700_000_000_000;

fn key() -> String {
    format!("{SITE}|issue|10001")
}

/// Every value taken is canonical prost encoding: decoding and encoding it again changes
/// nothing, and the decoded form is what `take_dirty` hands out.
#[test]
fn values_of_opened_windows_are_prosts_encoding() {
    let mut c = PartitionCollator::new(Arc::new(settings()), 7);
    let mut comment = event("c1", "ann", T0, T0, vec![change("body", None, Some("x"))]);
    comment.record = Some(RecordRef {
        r#type: "comment".into(),
        id: "5".into(),
    });
    comment.associated = Some(RecordRef {
        r#type: "issue".into(),
        id: "10001".into(),
    });
    let mut orphan = event("o1", "bob", 0, T0 + 1, vec![]);
    orphan.record = None;
    orphan.partition_key.clear();
    orphan.action = Action::Create as i32;
    orphan.actor = None;
    let events = [
        event(
            "d2",
            "ann",
            T0 + 5,
            T0 + 2,
            vec![change("status", Some("a"), Some("b"))],
        ),
        event(
            "d1",
            "bob",
            T0 + 1,
            T0 + 3,
            vec![change("summary", None, None)],
        ),
        event(
            "d1",
            "bob",
            T0 + 1,
            T0 + 1,
            vec![change("summary", None, None)],
        ),
        comment,
        orphan,
    ];
    for (o, e) in events.iter().enumerate() {
        c.apply(e, o as i64);
    }
    let taken = c.take_dirty_encoded();
    assert_eq!(taken.len(), 3);
    for (k, v) in &taken {
        let v = v.as_ref().expect("open windows");
        let state = RecordState::decode(v.as_slice()).expect("decodes");
        assert_eq!(&state.encode_to_vec(), v, "{k}");
        assert_eq!(state.partition, 7);
    }
    let mut keys: Vec<_> = taken.iter().map(|(k, _)| k.clone()).collect();
    keys.sort();
    assert_eq!(
        keys,
        taken.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>()
    );
}

fn entry(dedup: &str, received: i64, offset: i64) -> WindowEntry {
    WindowEntry {
        dedup_key: dedup.into(),
        event_time_ms: 0,
        received_at_ms: received,
        offset,
        actor: None,
        action: 7,
        changes: vec![change("status", None, Some(""))],
    }
}

/// Restores `open`, makes the record dirty with a duplicate that changes nothing, and checks
/// the value written is the one restored.
fn round_trip(open: SessionWindowState) {
    let state = RecordState {
        state: Some(record_state::State::Open(open)),
        partition: 3,
        closed_before: Some(ClosedRecord {
            closed_through_offset: 4,
            emitted: vec![EmittedKey {
                dedup_key: "d0".into(),
                received_at_ms: T0 - 1,
            }],
            last_audit_id: 99,
        }),
    };
    let mut c = PartitionCollator::new(Arc::new(settings()), 3);
    c.restore(key(), state.clone());
    let again = event("d2", "ann", 0, T0 + 10, vec![]);
    assert_eq!(c.apply(&again, 50), super::Applied::Duplicate);
    let taken = c.take_dirty_encoded();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].0, key());
    assert_eq!(
        taken[0].1.as_deref(),
        Some(state.encode_to_vec().as_slice())
    );
}

#[test]
fn restored_windows_are_written_back_unchanged() {
    let open = SessionWindowState {
        record_key: key(),
        record: Some(RecordRef {
            r#type: "issue".into(),
            id: "10001".into(),
        }),
        associated: None,
        integration_id: "jira-1".into(),
        workspace: "w".into(),
        jira_site: SITE.into(),
        partition_key: key(),
        entries: vec![entry("d1", T0, 10), entry("d2", T0 + 10, 11)],
        first_received_ms: T0,
        last_received_ms: T0 + 10,
    };
    round_trip(open.clone());
    round_trip(SessionWindowState {
        record_key: "written by an older collator".into(),
        partition_key: String::new(),
        associated: Some(RecordRef::default()),
        ..open.clone()
    });
    round_trip(SessionWindowState {
        record: Some(RecordRef {
            r#type: "issue".into(),
            id: "other".into(),
        }),
        partition_key: "root".into(),
        ..open.clone()
    });
    round_trip(SessionWindowState {
        record: None,
        record_key: String::new(),
        jira_site: String::new(),
        ..open
    });
}
