//! Acceptance 1: the same changes, delivered in any interleaving, any number of times, merge
//! into the same audits; and the merge invariants hold.

use std::collections::HashSet;
use std::sync::Arc;

use proptest::prelude::*;
use prost::Message;
use schema::v1::{AuditEvent, RawEvent};

use super::tests::{change, event, settings};
use super::PartitionCollator;

const T0: i64 = 1_700_000_000_000;
const FIELDS: [&str; 3] = ["status", "summary", "priority"];
const VALUES: [&str; 3] = ["a", "b", "c"];

/// One distinct change (dedup key `d{i}`) and the received-at offsets of its deliveries.
fn window_deliveries() -> impl Strategy<Value = Vec<RawEvent>> {
    let one = (
        0..3usize,
        0..20i64,
        prop::collection::vec((0..3usize, 0..3usize, 0..3usize), 0..3),
        prop::collection::vec(0..10_000i64, 1..4),
    );
    prop::collection::vec(one, 1..7).prop_map(|changes| {
        let mut out = Vec::new();
        for (i, (actor, t, fields, deliveries)) in changes.into_iter().enumerate() {
            let fcs = fields
                .iter()
                .map(|&(f, from, to)| change(FIELDS[f], Some(VALUES[from]), Some(VALUES[to])))
                .collect::<Vec<_>>();
            for d in deliveries {
                out.push(event(
                    &format!("d{i}"),
                    &format!("u{actor}"),
                    T0 + t * 1_000,
                    T0 + d,
                    fcs.clone(),
                ));
            }
        }
        out
    })
}

fn collate(events: &[RawEvent], keep_reverted: bool) -> Vec<AuditEvent> {
    let mut s = settings();
    s.keep_reverted_fields = keep_reverted;
    let mut c = PartitionCollator::new(Arc::new(s), 0);
    for (o, e) in events.iter().enumerate() {
        c.apply(e, o as i64);
    }
    c.advance(i64::MAX / 2);
    c.take_audits()
}

fn shuffled() -> impl Strategy<Value = (Vec<RawEvent>, Vec<RawEvent>)> {
    window_deliveries().prop_flat_map(|events| (Just(events.clone()), Just(events).prop_shuffle()))
}

proptest! {
    #[test]
    fn any_interleaving_gives_identical_audits((canonical, reordered) in shuffled(), keep in any::<bool>()) {
        let a = collate(&canonical, keep);
        let b = collate(&reordered, keep);
        prop_assert!(a.len() <= 1, "one window, at most one audit");
        prop_assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            prop_assert_eq!(x.id, y.id);
            prop_assert_eq!(x.encode_to_vec(), y.encode_to_vec());
        }
    }

    #[test]
    fn merge_invariants_hold(events in window_deliveries()) {
        for audit in collate(&events, false) {
            let mut fields = HashSet::new();
            for c in &audit.changes {
                prop_assert!(fields.insert(c.field_id.clone()), "field {} twice", c.field_id);
                prop_assert!(c.value != c.previous_value || c.value_id != c.previous_value_id, "reverted field {} kept", c.field_id);
            }
            let ids: Vec<_> = audit.contributors.iter().map(|u| u.id.clone()).collect();
            prop_assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len(), "contributors repeat");
            // The first author: the earliest change by (event time, dedup key).
            let first = events.iter().min_by_key(|e| (e.event_time_ms, e.dedup_key.clone())).unwrap();
            prop_assert_eq!(audit.user.as_ref().map(|u| u.id.clone()), first.actor.as_ref().map(|u| u.id.clone()));
            prop_assert_eq!(ids.first().cloned(), first.actor.as_ref().map(|u| u.id.clone()));
            let distinct = events.iter().map(|e| e.dedup_key.clone()).collect::<HashSet<_>>().len();
            prop_assert_eq!(audit.source_event_count as usize, distinct);
        }
    }
}
