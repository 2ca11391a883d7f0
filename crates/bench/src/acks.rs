//! The collator's acknowledged audits, counted in-process: the harness's metrics recorder is
//! the Prometheus recorder auditstream runs with, and it also counts the collator's
//! `auditstream_collator_audits_emitted_total{topic="audit"}`, which rises once the broker
//! acknowledged a batch's audits. The collator scenario ends when it reaches the expected
//! count, as the passthrough ends at its last acknowledged write, with no consumer of `audit`
//! running beside the collator.
//!
//! Installed first, it is the process's recorder: the one `common::telemetry::metrics_handle`
//! builds for ingest's `/metrics` is then not installed and renders nothing, which the harness
//! never reads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use metrics::{
    Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};

/// Audits the collators of this process have had acknowledged so far. The first call installs
/// the recorder; `None` when another recorder was installed first.
pub fn acknowledged_audits() -> Option<&'static AtomicU64> {
    static COUNT: OnceLock<Option<Arc<AtomicU64>>> = OnceLock::new();
    COUNT
        .get_or_init(|| {
            let count = Arc::new(AtomicU64::new(0));
            let recorder = Counting {
                inner: PrometheusBuilder::new().build_recorder(),
                count: Arc::clone(&count),
            };
            metrics::set_global_recorder(recorder).ok().map(|()| count)
        })
        .as_deref()
}

/// The Prometheus recorder, with one counter also counted in `count`.
struct Counting {
    inner: PrometheusRecorder,
    count: Arc<AtomicU64>,
}

/// The counted series: audits on `audit` acknowledged.
fn is_counted(key: &Key) -> bool {
    key.name() == collator::metrics::AUDITS_EMITTED_TOTAL
        && key
            .labels()
            .any(|l| l.key() == "topic" && l.value() == "audit")
}

/// A counter recorded both by Prometheus and in the harness's count.
struct Both {
    inner: Counter,
    count: Arc<AtomicU64>,
}

impl CounterFn for Both {
    fn increment(&self, value: u64) {
        self.inner.increment(value);
        self.count.fetch_add(value, Ordering::Release);
    }

    /// Not counted: the collator only ever increments this counter.
    fn absolute(&self, value: u64) {
        self.inner.absolute(value);
    }
}

impl Recorder for Counting {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_counter(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_gauge(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_histogram(key, unit, description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        let inner = self.inner.register_counter(key, metadata);
        if is_counted(key) {
            Counter::from_arc(Arc::new(Both {
                inner,
                count: Arc::clone(&self.count),
            }))
        } else {
            inner
        }
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.inner.register_gauge(key, metadata)
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        self.inner.register_histogram(key, metadata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_collators_acknowledged_audits_are_counted_and_nothing_else() {
        let count = acknowledged_audits().expect("the first recorder of this test process");
        let before = count.load(Ordering::Acquire);
        let name = collator::metrics::AUDITS_EMITTED_TOTAL;
        metrics::counter!(name, "topic" => "audit").increment(3);
        metrics::counter!(name, "topic" => "audit.live").increment(5);
        metrics::counter!(collator::metrics::EVENTS_PROCESSED_TOTAL, "topic" => "audit")
            .increment(7);
        metrics::counter!(name, "topic" => "audit").increment(2);
        assert_eq!(count.load(Ordering::Acquire) - before, 5);
        assert!(acknowledged_audits().is_some_and(|c| std::ptr::eq(c, count)));
    }
}
