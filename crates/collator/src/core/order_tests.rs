//! Tests of what must not depend on the history of a record's timers: the order in which one
//! watermark move closes windows, and when an emitted change's dedup key is forgotten. A
//! collator restored from `collator-state` has none of that history, and must decide as the
//! one it replaces.

use std::sync::Arc;

use schema::v1::RawEvent;

use super::tests::{change, event, settings, GAP};
use super::*;

const T0: i64 = 1_700_000_000_000;

/// An update of issue `id` received at `received`.
fn edit(id: &str, dedup: &str, received: i64) -> RawEvent {
    let mut e = event(
        dedup,
        "ann",
        received,
        received,
        vec![change("status", Some("a"), Some(dedup))],
    );
    if let Some(r) = e.record.as_mut() {
        r.id = id.into();
    }
    e.partition_key = format!("{}|issue|{id}", e.jira_site);
    e
}

fn ids_of(audits: &[schema::v1::AuditEvent]) -> Vec<&str> {
    audits
        .iter()
        .map(|a| a.auditable.as_ref().map_or("", |r| r.id.as_str()))
        .collect()
}

#[test]
fn one_watermark_move_closes_windows_in_deadline_order() {
    let mut c = PartitionCollator::new(Arc::new(settings()), 0);
    // 10002 opens first, but its second change moves its deadline past 10001's.
    c.apply(&edit("10002", "a1", T0), 0);
    c.apply(&edit("10001", "b1", T0 + 50), 1);
    c.apply(&edit("10002", "a2", T0 + 100), 2);
    c.advance(T0 + 100 + GAP);
    assert_eq!(ids_of(&c.take_audits()), ["10001", "10002"]);
}

#[test]
fn a_restored_collator_closes_in_the_same_order_as_the_one_it_replaces() {
    let events = [
        edit("10003", "c1", T0),
        edit("10001", "a1", T0 + 10),
        edit("10002", "b1", T0 + 20),
        edit("10003", "c2", T0 + 30),
        edit("10001", "a2", T0 + 40),
        edit("10003", "c3", T0 + 40),
    ];
    let mut running = PartitionCollator::new(Arc::new(settings()), 0);
    for (o, e) in events.iter().enumerate() {
        running.apply(e, o as i64);
    }
    let mut restored = PartitionCollator::new(Arc::new(settings()), 0);
    for (key, state) in running.take_dirty() {
        restored.restore(key, state.expect("open windows have state"));
    }
    running.advance(T0 + 40 + GAP);
    restored.advance(T0 + 40 + GAP);
    let audits = running.take_audits();
    assert_eq!(ids_of(&audits), ["10002", "10001", "10003"]);
    assert_eq!(restored.take_audits(), audits);
}

#[test]
fn an_emitted_dedup_key_is_forgotten_after_retention_even_while_a_window_is_open() {
    let s = Arc::new(Settings {
        dedup_retention_ms: 400_000,
        ..settings()
    });
    let mut running = PartitionCollator::new(Arc::clone(&s), 0);
    running.apply(&edit("10001", "d1", T0), 0);
    running.advance(T0 + GAP);
    assert_eq!(running.take_audits().len(), 1);
    // A new window opens while d1 is remembered: a redelivery of d1 is a duplicate.
    let d2 = edit("10001", "d2", T0 + GAP + 10);
    assert_eq!(running.apply(&d2, 1), Applied::Opened);
    let again = edit("10001", "d1", T0 + GAP + 20);
    assert_eq!(running.apply(&again, 2), Applied::Duplicate);
    let mut restored = PartitionCollator::new(s, 0);
    for (key, state) in running.take_dirty() {
        restored.restore(key, state.expect("an open window has state"));
    }
    // Past d1's retention the window is still open, and d1 is no longer remembered, by the
    // collator that saw d1 emitted and by one restored since.
    for c in [&mut running, &mut restored] {
        assert_eq!(
            c.apply(&edit("10001", "d3", T0 + 390_000), 3),
            Applied::Joined
        );
        assert_eq!(
            c.apply(&edit("10001", "d1", T0 + 400_001), 4),
            Applied::Joined
        );
    }
}

#[test]
fn a_dedup_key_emitted_again_after_its_retention_is_remembered_again() {
    let s = Arc::new(Settings {
        dedup_retention_ms: 400_000,
        ..settings()
    });
    let mut c = PartitionCollator::new(s, 0);
    c.apply(&edit("10001", "d1", T0), 0);
    c.advance(T0 + GAP);
    assert_eq!(c.take_audits().len(), 1);
    // A window opens while d1 is remembered, and d1 arrives again once its retention passed:
    // it joins the window, which emits it a second time.
    c.apply(&edit("10001", "d2", T0 + GAP + 10), 1);
    c.apply(&edit("10001", "d3", T0 + 390_000), 2);
    let late = T0 + 400_001;
    assert_eq!(c.apply(&edit("10001", "d1", late), 3), Applied::Joined);
    c.advance(late + GAP);
    assert_eq!(c.take_audits().len(), 1);
    // Emitted again, it is remembered again, for its retention from its second receipt.
    assert_eq!(
        c.apply(&edit("10001", "d1", late + GAP + 10), 4),
        Applied::Duplicate
    );
}

#[test]
fn a_redelivery_behind_the_watermark_of_a_window_past_its_deadline_is_a_duplicate() {
    let mut c = PartitionCollator::new(Arc::new(settings()), 0);
    // Another record's change moves the watermark far ahead.
    c.apply(&edit("10009", "z1", T0 + 10 * GAP), 0);
    // A change received earlier arrives now: its window's deadline is already behind the
    // watermark, and its timer is due at the watermark's next move.
    assert_eq!(c.apply(&edit("10001", "k1", T0), 1), Applied::Opened);
    // Its redelivery, received after that deadline: the window closes first, and the
    // redelivery is recognised against what it emitted.
    assert_eq!(
        c.apply(&edit("10001", "k1", T0 + GAP + 5), 2),
        Applied::Duplicate
    );
    c.advance(T0 + 20 * GAP);
    let mut ids = ids_of(&c.take_audits())
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    ids.sort();
    assert_eq!(ids, ["10001", "10009"]);
}
