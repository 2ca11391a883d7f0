//! When to look at a record again: a binary min-heap of (time, record slot). The order of ties
//! is the record keys' order, which the heap cannot know by itself (a slot is a number), so
//! every operation takes the comparison from the caller, who can read the keys.
//!
//! A heap instead of an ordered set of (time, key): no key copy per timer and no tree nodes.
//! It may hold the same (time, record) twice where a set would hold it once; examining a
//! record is idempotent at a given watermark, and both copies fire in the same `advance`, so
//! the outcome is the same.

use std::cmp::Ordering;

/// One scheduled look: when, and at which record slot.
pub(crate) type Timer = (i64, u32);

#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: Vec<Timer>,
}

impl Timers {
    /// The earliest time scheduled.
    pub fn next_at(&self) -> Option<i64> {
        self.heap.first().map(|t| t.0)
    }

    /// `cmp` orders two timers of the same time by their records.
    pub fn push(&mut self, timer: Timer, cmp: impl Fn(u32, u32) -> Ordering) {
        self.heap.push(timer);
        let mut at = self.heap.len() - 1;
        while at > 0 {
            let parent = (at - 1) / 2;
            if !less(&self.heap[at], &self.heap[parent], &cmp) {
                break;
            }
            self.heap.swap(at, parent);
            at = parent;
        }
    }

    /// Removes and returns the earliest timer (ties: the smallest record).
    pub fn pop(&mut self, cmp: impl Fn(u32, u32) -> Ordering) -> Option<Timer> {
        let last = self.heap.len().checked_sub(1)?;
        self.heap.swap(0, last);
        let top = self.heap.pop();
        let len = self.heap.len();
        let mut at = 0;
        loop {
            let (l, r) = (2 * at + 1, 2 * at + 2);
            let mut least = at;
            if l < len && less(&self.heap[l], &self.heap[least], &cmp) {
                least = l;
            }
            if r < len && less(&self.heap[r], &self.heap[least], &cmp) {
                least = r;
            }
            if least == at {
                break;
            }
            self.heap.swap(at, least);
            at = least;
        }
        top
    }
}

fn less(a: &Timer, b: &Timer, cmp: &impl Fn(u32, u32) -> Ordering) -> bool {
    match a.0.cmp(&b.0) {
        Ordering::Equal => a.1 != b.1 && cmp(a.1, b.1) == Ordering::Less,
        o => o == Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_time_then_by_the_callers_order_of_records() {
        // Records named by slot; their "keys" order them in reverse of their slot numbers.
        let by_key = |a: u32, b: u32| b.cmp(&a);
        let mut t = Timers::default();
        for timer in [(5, 1), (3, 1), (5, 7), (3, 9), (5, 4), (1, 0), (5, 7)] {
            t.push(timer, by_key);
        }
        let mut out = Vec::new();
        while let Some(timer) = t.pop(by_key) {
            out.push(timer);
        }
        assert_eq!(
            out,
            [(1, 0), (3, 9), (3, 1), (5, 7), (5, 7), (5, 4), (5, 1)]
        );
        assert_eq!(t.next_at(), None);
    }
}
