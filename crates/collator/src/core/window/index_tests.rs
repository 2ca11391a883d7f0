//! The entry index a window keeps (`EntryIndex`) always says what its entries say, and the
//! shortcut it allows inserts exactly where a scan of every entry would.

use proptest::prelude::*;
use prost::Message as _;

use super::entries::{frames, sort_key, EntryIndex};
use super::SessionWindow;
use crate::core::raw::RawView;
use crate::core::tests::{change, event};

const T0: i64 = 1_700_000_000_000;

/// (dedup key, event time, received at): few keys, so that many are delivered again, some
/// earlier than their first delivery; times that tie and go back.
fn delivery() -> impl Strategy<Value = (u8, i64, i64)> {
    (0u8..12, 0i64..6, 0i64..2_000)
}

proptest! {
    #[test]
    fn the_index_matches_the_entries_and_entries_stay_sorted_and_unique(
        deliveries in proptest::collection::vec(delivery(), 1..40),
    ) {
        let mut window: Option<SessionWindow> = None;
        for (i, (key, event_time, received)) in deliveries.into_iter().enumerate() {
            let e = event(
                &format!("changelog:{key}"),
                "ann",
                // Jira's time unknown (0) for some: the entry sorts by ours.
                if event_time == 0 { 0 } else { T0 + event_time * 1_000 },
                T0 + received,
                vec![change("status", Some("a"), Some("b"))],
            );
            let bytes = e.encode_to_vec();
            let view = RawView::read(&bytes).expect("prost's encoding reads in place");
            match window.as_mut() {
                Some(w) => {
                    w.insert(&view, i as i64);
                }
                None => window = Some(SessionWindow::open(b"k", &view, i as i64)),
            }
            let w = window.as_ref().expect("opened");
            prop_assert_eq!(w.index, EntryIndex::of(&w.entries));
            let heads: Vec<_> = frames(&w.entries)
                .map(|(_, body)| {
                    let (time, key) = sort_key(body);
                    (time, key.to_vec())
                })
                .collect();
            prop_assert!(heads.windows(2).all(|p| p[0] < p[1]), "sorted and unique: {heads:?}");
        }
    }
}
