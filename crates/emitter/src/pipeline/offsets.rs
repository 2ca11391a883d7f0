//! Which offsets may be committed: the highest offset of each partition below which every
//! message is finished (delivered, parked or dead-lettered for every interested sink).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rdkafka::{Offset, TopicPartitionList};

#[derive(Debug, Default)]
pub struct OffsetTracker {
    partitions: Mutex<HashMap<(String, i32), BTreeMap<i64, bool>>>,
}

impl OffsetTracker {
    /// Registers a message as in flight.
    pub fn begin(&self, topic: &str, partition: i32, offset: i64) {
        self.lock()
            .entry((topic.to_owned(), partition))
            .or_default()
            .insert(offset, false);
    }

    pub fn finish(&self, topic: &str, partition: i32, offset: i64) {
        if let Some(done) = self
            .lock()
            .get_mut(&(topic.to_owned(), partition))
            .and_then(|p| p.get_mut(&offset))
        {
            *done = true;
        }
    }

    /// The offsets to commit (next offset to read per partition) that advanced since last time.
    pub fn take_committable(&self) -> Option<TopicPartitionList> {
        let mut tpl = TopicPartitionList::new();
        let mut any = false;
        for ((topic, partition), pending) in self.lock().iter_mut() {
            let mut next = None;
            while let Some(entry) = pending.first_entry() {
                if !*entry.get() {
                    break;
                }
                next = Some(*entry.key() + 1);
                entry.remove();
            }
            if let Some(next) = next {
                // Adding a partition to a fresh list cannot fail.
                let _ = tpl.add_partition_offset(topic, *partition, Offset::Offset(next));
                any = true;
            }
        }
        any.then_some(tpl)
    }

    /// Messages begun but not finished.
    pub fn in_flight(&self) -> usize {
        self.lock()
            .values()
            .map(|p| p.values().filter(|d| !**d).count())
            .sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, i32), BTreeMap<i64, bool>>> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        self.partitions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One consumed message handed to several sinks: finished when the last of them is done.
#[derive(Debug)]
pub struct Completion {
    remaining: AtomicUsize,
    topic: String,
    partition: i32,
    offset: i64,
    tracker: Arc<OffsetTracker>,
}

impl Completion {
    pub fn new(
        tracker: Arc<OffsetTracker>,
        topic: &str,
        partition: i32,
        offset: i64,
        sinks: usize,
    ) -> Arc<Self> {
        Arc::new(Completion {
            remaining: AtomicUsize::new(sinks),
            topic: topic.to_owned(),
            partition,
            offset,
            tracker,
        })
    }

    /// One sink is done with the message.
    pub fn sink_done(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.tracker
                .finish(&self.topic, self.partition, self.offset);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(tpl: &TopicPartitionList) -> Vec<(i32, i64)> {
        tpl.elements()
            .iter()
            .map(|e| (e.partition(), e.offset().to_raw().unwrap()))
            .collect()
    }

    #[test]
    fn commits_only_the_finished_prefix() {
        let t = Arc::new(OffsetTracker::default());
        for o in 0..4 {
            t.begin("audit", 0, o);
        }
        t.finish("audit", 0, 1);
        assert!(t.take_committable().is_none(), "offset 0 still in flight");
        t.finish("audit", 0, 0);
        assert_eq!(offsets(&t.take_committable().unwrap()), [(0, 2)]);
        t.finish("audit", 0, 3);
        assert!(t.take_committable().is_none());
        t.finish("audit", 0, 2);
        assert_eq!(offsets(&t.take_committable().unwrap()), [(0, 4)]);
        assert_eq!(t.in_flight(), 0);
    }

    #[test]
    fn a_message_finishes_when_every_sink_is_done() {
        let t = Arc::new(OffsetTracker::default());
        t.begin("audit", 2, 10);
        let c = Completion::new(t.clone(), "audit", 2, 10, 2);
        c.sink_done();
        assert!(t.take_committable().is_none());
        c.sink_done();
        assert_eq!(offsets(&t.take_committable().unwrap()), [(2, 11)]);
    }
}
