//! Unit tests of each merge and window rule.

use std::sync::Arc;

use schema::v1::{record_state, Action, AuditEvent, FieldChange, RawEvent, RecordRef, User};

use super::*;

pub(crate) const SITE: &str = "https://acme.atlassian.net";
pub(crate) const GAP: i64 = 300_000;

/// A strategy of `FieldChange`s from strategies of the id, the display name and each of the
/// four values (the property tests of the encoders share it).
pub(crate) fn field_change_of<V: proptest::strategy::Strategy<Value = Option<String>>>(
    id: impl proptest::strategy::Strategy<Value = String>,
    name: impl proptest::strategy::Strategy<Value = String>,
    value: impl Fn() -> V,
) -> impl proptest::strategy::Strategy<Value = FieldChange> {
    use proptest::strategy::Strategy as _;
    (id, name, value(), value(), value(), value()).prop_map(
        |(field_id, field_name, from, from_string, to, to_string)| FieldChange {
            field_id,
            field_name,
            from,
            from_string,
            to,
            to_string,
        },
    )
}

pub(crate) fn settings() -> Settings {
    Settings {
        gap_ms: GAP,
        max_duration_ms: 3_600_000,
        keep_reverted_fields: false,
        interesting_fields: vec!["status".into()],
        dedup_retention_ms: 3_600_000,
    }
}

pub(crate) fn user(id: &str) -> User {
    User {
        id: id.into(),
        name: format!("User {id}"),
        ..Default::default()
    }
}

pub(crate) fn change(field: &str, from: Option<&str>, to: Option<&str>) -> FieldChange {
    FieldChange {
        field_id: field.into(),
        field_name: field.into(),
        from: from.map(|s| format!("id-{s}")),
        from_string: from.map(str::to_owned),
        to: to.map(|s| format!("id-{s}")),
        to_string: to.map(str::to_owned),
    }
}

/// An issue update on record 10001 by `actor`, raised by Jira at `event_time`.
pub(crate) fn event(
    dedup: &str,
    actor: &str,
    event_time: i64,
    received: i64,
    changes: Vec<FieldChange>,
) -> RawEvent {
    RawEvent {
        integration_id: "jira-1".into(),
        jira_site: SITE.into(),
        received_at_ms: received,
        event_time_ms: event_time,
        event_name: "jira:issue_updated".into(),
        actor: Some(user(actor)),
        record: Some(RecordRef {
            r#type: "issue".into(),
            id: "10001".into(),
        }),
        action: Action::Update as i32,
        changes,
        dedup_key: dedup.into(),
        partition_key: format!("{SITE}|issue|10001"),
        ..Default::default()
    }
}

fn collator() -> PartitionCollator {
    PartitionCollator::new(Arc::new(settings()), 0)
}

/// Applies events at offsets 0.. and closes everything.
fn run_all(events: &[RawEvent]) -> Vec<AuditEvent> {
    let mut c = collator();
    for (o, e) in events.iter().enumerate() {
        c.apply(e, o as i64);
    }
    c.advance(i64::MAX / 2);
    c.take_audits()
}

const T0: i64 = 1_700_000_000_000;

#[test]
fn one_change_per_field_first_old_last_new_in_first_change_order() {
    let audits = run_all(&[
        event(
            "d1",
            "ann",
            T0,
            T0,
            vec![change("status", Some("To Do"), Some("In Progress"))],
        ),
        event(
            "d2",
            "bob",
            T0 + 10,
            T0 + 10,
            vec![change("summary", Some("a"), Some("b"))],
        ),
        event(
            "d3",
            "ann",
            T0 + 20,
            T0 + 20,
            vec![change("status", Some("In Progress"), Some("Done"))],
        ),
    ]);
    assert_eq!(audits.len(), 1);
    let a = &audits[0];
    let fields: Vec<_> = a.changes.iter().map(|c| c.field_id.as_str()).collect();
    assert_eq!(fields, ["status", "summary"]);
    assert_eq!(a.changes[0].previous_value.as_deref(), Some("To Do"));
    assert_eq!(a.changes[0].value.as_deref(), Some("Done"));
    assert_eq!(a.changes[0].value_id.as_deref(), Some("id-Done"));
    assert_eq!(a.user.as_ref().unwrap().id, "ann");
    let contributors: Vec<_> = a.contributors.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(contributors, ["ann", "bob"]);
    assert_eq!(a.audit_action(), Action::Update);
    assert!(a.interesting, "status is configured interesting");
    assert_eq!(a.source_event_count, 3);
    assert_eq!(a.created_at_ms, T0 + 20);
    assert_eq!(a.window_start_ms, T0);
    assert_eq!(a.window_end_ms, T0 + 20 + GAP);
    assert_eq!(a.id, audit_id(&record_key(SITE, "issue", "10001"), "d1"));
    assert_eq!(a.record_key, format!("{SITE}|issue|10001"));
    assert!(!a.late && !a.live);
}

#[test]
fn reverted_field_is_dropped_unless_configured() {
    let events = [
        event(
            "d1",
            "ann",
            T0,
            T0,
            vec![
                change("status", Some("To Do"), Some("Done")),
                change("summary", Some("a"), Some("b")),
            ],
        ),
        event(
            "d2",
            "ann",
            T0 + 5,
            T0 + 5,
            vec![change("status", Some("Done"), Some("To Do"))],
        ),
    ];
    let audits = run_all(&events);
    let fields: Vec<_> = audits[0]
        .changes
        .iter()
        .map(|c| c.field_id.as_str())
        .collect();
    assert_eq!(fields, ["summary"]);
    assert!(!audits[0].interesting, "the interesting field reverted");

    let mut s = settings();
    s.keep_reverted_fields = true;
    let mut c = PartitionCollator::new(Arc::new(s), 0);
    for (o, e) in events.iter().enumerate() {
        c.apply(e, o as i64);
    }
    c.advance(i64::MAX / 2);
    assert_eq!(c.take_audits()[0].changes.len(), 2);
}

#[test]
fn update_without_changes_emits_nothing() {
    let mut c = collator();
    c.apply(&event("d1", "ann", T0, T0, vec![]), 0);
    c.advance(T0 + GAP);
    assert!(c.take_audits().is_empty());
    assert_eq!(c.take_stats().empty_windows, 1);
    assert!(
        c.take_live().is_empty(),
        "no live audit for an event with nothing to say"
    );
}

#[test]
fn create_wins_and_destroy_must_be_last() {
    let mut create = event(
        "d1",
        "ann",
        T0,
        T0,
        vec![change("summary", None, Some("x"))],
    );
    create.action = Action::Create as i32;
    let upd = event(
        "d2",
        "ann",
        T0 + 1,
        T0 + 1,
        vec![change("summary", Some("x"), Some("y"))],
    );
    let mut destroy = event("d3", "bob", T0 + 2, T0 + 2, vec![]);
    destroy.action = Action::Destroy as i32;
    let a = &run_all(&[create.clone(), upd.clone(), destroy.clone()])[0];
    assert_eq!(a.audit_action(), Action::Create);
    assert!(a.interesting);
    let a = &run_all(&[upd.clone(), destroy.clone()])[0];
    assert_eq!(a.audit_action(), Action::Destroy);
    assert!(a.interesting);
    let mut early_destroy = destroy;
    early_destroy.event_time_ms = T0;
    let a = &run_all(&[early_destroy, upd])[0];
    assert_eq!(
        a.audit_action(),
        Action::Update,
        "a destroy followed by a change is not the end"
    );
}

#[test]
fn gap_closes_the_window_and_a_later_change_opens_another() {
    let mut c = collator();
    c.apply(
        &event(
            "d1",
            "ann",
            T0,
            T0,
            vec![change("summary", Some("a"), Some("b"))],
        ),
        0,
    );
    c.advance(T0 + GAP - 1);
    assert!(c.take_audits().is_empty(), "still open before its deadline");
    c.advance(T0 + GAP);
    let first = c.take_audits();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].window_end_ms, T0 + GAP);
    c.apply(
        &event(
            "d2",
            "ann",
            T0 + GAP + 1,
            T0 + GAP + 1,
            vec![change("summary", Some("b"), Some("c"))],
        ),
        1,
    );
    c.advance(i64::MAX / 2);
    let second = c.take_audits();
    assert_eq!(second.len(), 1);
    assert_ne!(second[0].id, first[0].id);
}

#[test]
fn event_past_the_deadline_closes_the_window_before_it_is_applied() {
    let audits = run_all(&[
        event(
            "d1",
            "ann",
            T0,
            T0,
            vec![change("summary", Some("a"), Some("b"))],
        ),
        event(
            "d2",
            "ann",
            T0 + GAP,
            T0 + GAP,
            vec![change("summary", Some("b"), Some("c"))],
        ),
    ]);
    assert_eq!(audits.len(), 2);
    assert_eq!(audits[0].changes[0].value.as_deref(), Some("b"));
    assert_eq!(audits[1].changes[0].previous_value.as_deref(), Some("b"));
}

#[test]
fn max_duration_closes_a_window_edited_without_pause() {
    let mut s = settings();
    s.max_duration_ms = 1_000;
    s.gap_ms = 600;
    let mut c = PartitionCollator::new(Arc::new(s), 0);
    for i in 0..5 {
        let t = T0 + i * 400;
        c.apply(
            &event(
                &format!("d{i}"),
                "ann",
                t,
                t,
                vec![change("summary", Some("a"), Some(&format!("v{i}")))],
            ),
            i,
        );
    }
    c.advance(i64::MAX / 2);
    let audits = c.take_audits();
    assert_eq!(audits.len(), 2);
    assert_eq!(
        audits[0].window_end_ms,
        T0 + 1_000,
        "deadline = first + max_duration"
    );
    assert_eq!(audits[0].source_event_count, 3);
}

#[test]
fn duplicate_deliveries_are_one_change_in_one_audit() {
    let c1 = change("status", Some("To Do"), Some("Done"));
    let audits = run_all(&[
        event("d1", "ann", T0, T0, vec![c1.clone()]),
        // The same change through a second integration, and a Jira retry.
        event("d1", "ann", T0, T0 + 30, vec![c1.clone()]),
        event("d1", "ann", T0, T0 + 90, vec![c1]),
    ]);
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].changes.len(), 1);
    assert_eq!(audits[0].source_event_count, 1);
}

#[test]
fn late_duplicate_of_an_emitted_change_is_applied_once() {
    let mut c = collator();
    c.apply(
        &event(
            "d1",
            "ann",
            T0,
            T0,
            vec![change("status", Some("a"), Some("b"))],
        ),
        0,
    );
    c.advance(T0 + GAP);
    assert_eq!(c.take_audits().len(), 1);
    assert_eq!(c.take_live().len(), 1);
    // A retry 20 minutes later: remembered, so no second audit and no second live audit.
    assert_eq!(
        c.apply(
            &event(
                "d1",
                "ann",
                T0,
                T0 + 1_200_000,
                vec![change("status", Some("a"), Some("b"))]
            ),
            1
        ),
        Applied::Duplicate
    );
    c.advance(i64::MAX / 2);
    assert!(c.take_audits().is_empty());
    assert!(c.take_live().is_empty());
}

#[test]
fn late_change_opens_a_new_window_marked_late() {
    let mut c = collator();
    c.apply(
        &event(
            "d1",
            "ann",
            T0,
            T0,
            vec![change("status", Some("a"), Some("b"))],
        ),
        0,
    );
    c.advance(T0 + GAP);
    c.take_audits();
    // Raised by Jira before the first one closed, delivered 20 minutes late.
    c.apply(
        &event(
            "d2",
            "bob",
            T0 + 10,
            T0 + 1_200_000,
            vec![change("summary", Some("x"), Some("y"))],
        ),
        1,
    );
    c.advance(i64::MAX / 2);
    let audits = c.take_audits();
    assert_eq!(audits.len(), 1);
    assert!(audits[0].late);
}

#[test]
fn closed_records_are_forgotten_after_retention() {
    let mut c = collator();
    c.apply(
        &event(
            "d1",
            "ann",
            T0,
            T0,
            vec![change("status", Some("a"), Some("b"))],
        ),
        0,
    );
    c.advance(T0 + GAP);
    let dirty = c.take_dirty();
    assert!(matches!(
        dirty[0].1.as_ref().and_then(|s| s.state.clone()),
        Some(record_state::State::Closed(_))
    ));
    c.advance(T0 + 3_600_000);
    let dirty = c.take_dirty();
    assert_eq!(dirty.len(), 1);
    assert!(dirty[0].1.is_none(), "a tombstone forgets the record");
}

/// An update `dedup` of the status, received (and raised) at `at`.
fn status_edit(dedup: &str, at: i64) -> RawEvent {
    event(
        dedup,
        "ann",
        at,
        at,
        vec![change("status", Some("a"), Some("b"))],
    )
}

/// A collator that applied `d1` (received at `T0`) at `offset`, emitted its window and then
/// let its retention pass, with no flush in between; and `d1`.
fn forgotten_unflushed(offset: i64) -> (PartitionCollator, RawEvent) {
    let mut c = collator();
    let d1 = status_edit("d1", T0);
    c.apply(&d1, offset);
    c.advance(T0 + GAP);
    assert_eq!(c.take_audits().len(), 1);
    c.advance(T0 + 3_600_000);
    (c, d1)
}

#[test]
fn a_record_forgotten_before_any_flush_is_flushed_as_a_tombstone() {
    // The flush says the record is forgotten, and its memory no longer holds d1.
    let (mut c, d1) = forgotten_unflushed(0);
    let dirty = c.take_dirty();
    assert_eq!(dirty.len(), 1);
    assert!(dirty[0].1.is_none(), "a tombstone forgets the record");
    let mut again = d1.clone();
    again.received_at_ms = T0 + 3_600_000;
    assert_eq!(c.apply(&again, 1), Applied::Opened);
}

#[test]
fn settling_the_dirty_records_forgets_as_a_flush_and_writes_nothing() {
    let (mut c, d1) = forgotten_unflushed(5);
    c.settle_dirty();
    // It was forgotten then, not left for a later look to forget (and flush as a tombstone).
    c.advance(T0 + 3_600_001);
    assert!(
        c.take_dirty().is_empty(),
        "settled and forgotten: nothing left to flush"
    );
    // Forgotten: neither its offsets nor its key are remembered.
    let mut again = d1.clone();
    again.received_at_ms = T0 + 3_600_000;
    assert_eq!(c.apply(&again, 5), Applied::Opened);
}

#[test]
fn a_memory_past_its_retention_decides_nothing_though_no_flush_forgot_it_yet() {
    // An event at an offset the emitted window covered, once the record is forgotten, is
    // applied as a collator restored from a flush at this watermark would (it holds a
    // tombstone), not skipped as a replay.
    let (mut c, _) = forgotten_unflushed(5);
    assert_eq!(
        c.apply(&status_edit("d2", T0 + 3_600_000), 3),
        Applied::Opened
    );
    let dirty = c.take_dirty();
    let state = dirty[0].1.as_ref().expect("an open window");
    assert_eq!(state.closed_before, None);
}

#[test]
fn a_flushed_memory_is_forgotten_key_by_key_as_retention_passes() {
    let mut c = collator();
    for (i, (dedup, at)) in [("d1", T0), ("d2", T0 + 60_000)].into_iter().enumerate() {
        c.apply(&status_edit(dedup, at), i as i64);
    }
    c.advance(T0 + 60_000 + GAP);
    c.take_dirty();
    // Past d1's retention only: the record's state keeps d2 alone.
    c.advance(T0 + 3_600_000);
    let dirty = c.take_dirty();
    let Some(record_state::State::Closed(closed)) =
        dirty[0].1.as_ref().and_then(|s| s.state.clone())
    else {
        panic!("the record is remembered: {dirty:?}");
    };
    let keys: Vec<_> = closed
        .emitted
        .iter()
        .map(|k| k.dedup_key.as_str())
        .collect();
    assert_eq!(keys, ["d2"]);
    c.advance(T0 + 60_000 + 3_600_000);
    let dirty = c.take_dirty();
    assert!(dirty[0].1.is_none(), "a tombstone forgets the record");
}

#[test]
fn restore_then_replay_from_an_older_offset_reproduces_the_same_audits() {
    let events = [
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
            T0 + 5,
            T0 + 5,
            vec![change("summary", Some("x"), Some("y"))],
        ),
        event(
            "d3",
            "bob",
            T0 + GAP + 10,
            T0 + GAP + 10,
            vec![change("summary", Some("y"), Some("z"))],
        ),
        event(
            "d4",
            "ann",
            T0 + GAP + 20,
            T0 + GAP + 20,
            vec![change("status", Some("b"), Some("c"))],
        ),
    ];
    let expected = run_all(&events);
    assert_eq!(expected.len(), 2);
    // Crash after the state of offsets 0..=2 was written but only offset 0 was committed.
    let mut first = collator();
    let mut emitted = Vec::new();
    for (o, e) in events.iter().enumerate().take(3) {
        first.apply(e, o as i64);
    }
    emitted.extend(first.take_audits());
    let mut second = collator();
    for (key, state) in first.take_dirty() {
        if let Some(state) = state {
            second.restore(key, state);
        }
    }
    for (o, e) in events.iter().enumerate().skip(1) {
        second.apply(e, o as i64);
    }
    second.advance(i64::MAX / 2);
    emitted.extend(second.take_audits());
    assert_eq!(emitted, expected);
}

/// An update of issue `id` setting its status to `to`.
fn event_on(id: &str, dedup: &str, at: i64, to: &str) -> RawEvent {
    let mut e = event(dedup, "ann", at, at, vec![change("status", None, Some(to))]);
    e.record = Some(RecordRef {
        r#type: "issue".into(),
        id: id.into(),
    });
    e.partition_key = format!("{SITE}|issue|{id}");
    e
}

/// Each record's audit carries that record and its own change, for more records than one
/// chunk of the slab holds, and again once the forgotten records' slots are reused.
#[test]
fn records_beyond_one_slab_chunk_keep_their_own_windows() {
    let mut c = collator();
    let mut offset = 0;
    for (round, at) in [(0, T0), (1, T0 + 7_200_000)] {
        for i in 0..2_500 {
            let id = format!("{}", 20_000 + round * 10_000 + i);
            c.apply(
                &event_on(&id, &format!("d{id}"), at, &format!("v{id}")),
                offset,
            );
            offset += 1;
        }
        c.advance(at + GAP);
        let audits = c.take_audits();
        assert_eq!(audits.len(), 2_500);
        let mut seen = std::collections::HashSet::new();
        for a in &audits {
            let id = &a.auditable.as_ref().expect("a record").id;
            assert_eq!(a.changes.len(), 1);
            assert_eq!(
                a.changes[0].value.as_deref(),
                Some(format!("v{id}").as_str())
            );
            assert!(seen.insert(id.clone()), "one audit per record");
        }
        // Past retention: every record is forgotten and its slot freed for the next round.
        c.advance(at + GAP + 3_600_000);
        c.take_dirty();
    }
    assert_eq!(c.open_windows(), 0);
}

/// A record whose next window comes from another workspace writes that workspace in the
/// next audit: the window's origin is the event's, not the one the slot was made with.
#[test]
fn a_reopened_record_takes_the_origin_of_its_new_window() {
    let mut c = collator();
    let mut first = event_on("10001", "d1", T0, "a");
    first.workspace = "ws-a".into();
    let mut second = event_on("10001", "d2", T0 + 2 * GAP, "b");
    second.workspace = "ws-b".into();
    second.integration_id = "jira-2".into();
    c.apply(&first, 0);
    c.advance(T0 + GAP);
    c.apply(&second, 1);
    c.advance(T0 + 3 * GAP);
    let audits = c.take_audits();
    let origins: Vec<_> = audits
        .iter()
        .map(|a| (a.workspace.as_str(), a.integration_id.as_str()))
        .collect();
    assert_eq!(origins, [("ws-a", "jira-1"), ("ws-b", "jira-2")]);
}

/// A configured field makes an update interesting by its id or its name, in any case; a
/// name that differs by a letter does not.
#[test]
fn interesting_fields_match_by_id_or_name_ignoring_case() {
    let named = |id: &str, name: &str| {
        let mut c = change(id, Some("a"), Some("b"));
        c.field_name = name.into();
        run_all(&[event("d1", "ann", T0, T0, vec![c])])[0].interesting
    };
    assert!(named("status", "Status"));
    assert!(named("STATUS", "State"));
    assert!(named("customfield_1", "sTaTuS"));
    assert!(!named("statue", "Statue"));
    assert!(!named("xtatus", "Xtatus"));
    assert!(!named("customfield_1", "Status of work"));
}
