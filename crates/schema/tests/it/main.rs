//! Round trips of every message through protobuf and through its proto3 JSON mapping.
use proptest::prelude::*;
use schema::v1::*;
use schema::Message;

fn user() -> impl Strategy<Value = User> {
    (".*", ".*", ".*").prop_map(|(id, name, email)| User {
        id,
        name,
        email,
        ..Default::default()
    })
}

fn record() -> impl Strategy<Value = RecordRef> {
    ("[a-z]{1,8}", "[0-9]{1,6}").prop_map(|(r#type, id)| RecordRef { r#type, id })
}

fn field_change() -> impl Strategy<Value = FieldChange> {
    (
        ".*",
        ".*",
        proptest::option::of(".*"),
        proptest::option::of(".*"),
    )
        .prop_map(|(field_id, field_name, from, to)| FieldChange {
            field_id,
            field_name,
            from_string: from.clone(),
            from,
            to_string: to.clone(),
            to,
        })
}

fn raw_event() -> impl Strategy<Value = RawEvent> {
    (
        (
            ".*",
            any::<u32>(),
            any::<i64>(),
            any::<i64>(),
            user(),
            record(),
            proptest::option::of(record()),
        ),
        (
            0..4i32,
            proptest::collection::vec(field_change(), 0..4),
            ".*",
            proptest::collection::vec(any::<u8>(), 0..64),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (delivery_id, retry_count, received_at_ms, event_time_ms, actor, rec, assoc),
                (action, changes, dedup_key, body, known_event),
            )| RawEvent {
                integration_id: "jira-main".into(),
                jira_site: "https://example.atlassian.net".into(),
                delivery_id,
                retry_count,
                received_at_ms,
                event_time_ms,
                event_name: "jira:issue_updated".into(),
                actor: Some(actor),
                record: Some(rec),
                associated: assoc,
                action,
                changes,
                dedup_key,
                body,
                known_event,
                ..Default::default()
            },
        )
}

fn audit_event() -> impl Strategy<Value = AuditEvent> {
    (
        any::<u64>(),
        0..4i32,
        any::<i64>(),
        user(),
        proptest::collection::vec(user(), 0..3),
        record(),
        any::<bool>(),
    )
        .prop_map(
            |(id, action, created_at_ms, u, contributors, auditable, late)| AuditEvent {
                id,
                audit_action: action,
                created_at_ms,
                user: Some(u),
                contributors,
                auditable: Some(auditable),
                changes: vec![AuditChange {
                    field_id: "status".into(),
                    field_name: "Status".into(),
                    value: Some("Done".into()),
                    ..Default::default()
                }],
                late,
                ..Default::default()
            },
        )
}

fn round_trip<
    M: Message
        + Default
        + PartialEq
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned,
>(
    m: &M,
) {
    let bytes = m.encode_to_vec();
    assert_eq!(&M::decode(bytes.as_slice()).unwrap(), m);
    let json = serde_json::to_string(m).unwrap();
    assert_eq!(&serde_json::from_str::<M>(&json).unwrap(), m);
}

proptest! {
    #[test]
    fn raw_event_round_trips(e in raw_event()) { round_trip(&e); }

    #[test]
    fn audit_event_round_trips(a in audit_event()) {
        round_trip(&a);
        let parked = ParkedAudit { sink: "hook".into(), audit: Some(a.clone()), attempt: 3, next_attempt_at_ms: 5, ..Default::default() };
        round_trip(&parked);
    }

    #[test]
    fn window_state_round_trips(e in raw_event(), offset in any::<i64>()) {
        let entry = WindowEntry { dedup_key: e.dedup_key.clone(), event_time_ms: e.event_time_ms, received_at_ms: e.received_at_ms, offset, actor: e.actor.clone(), action: e.action, changes: e.changes.clone() };
        let open = RecordState { state: Some(record_state::State::Open(SessionWindowState { record_key: "k".into(), record: e.record.clone(), entries: vec![entry], ..Default::default() })), partition: 2, closed_before: None };
        round_trip(&open);
        let closed = RecordState { state: Some(record_state::State::Closed(ClosedRecord { closed_through_offset: offset, emitted: vec![EmittedKey { dedup_key: e.dedup_key, received_at_ms: 1 }], last_audit_id: 9 })), partition: 0, closed_before: None };
        round_trip(&closed);
    }
}

#[test]
fn other_messages_round_trip() {
    round_trip(&RejectedRequest {
        reason: "invalid_json".into(),
        body: b"{".to_vec(),
        body_truncated: false,
        body_len: 1,
        status: 400,
        ..Default::default()
    });
    round_trip(&IntegrationLogEntry {
        level: LogLevel::Warning as i32,
        component: "ingest".into(),
        code: "out_of_scope".into(),
        ..Default::default()
    });
    round_trip(&DeliveryRecord {
        sink: "hook".into(),
        audit_id: u64::MAX,
        delivered_at_ms: 1,
    });
    round_trip(&FieldChange::default());
}

#[test]
fn enums_render_by_name_in_json() {
    let json = serde_json::to_value(RawEvent {
        action: Action::Destroy as i32,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(json["action"], "ACTION_DESTROY");
}
