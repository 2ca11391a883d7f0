//! The collator's producer: every record it sends belongs to one tally of acknowledgements,
//! so the consume loop can ask "is all of this batch acknowledged?" without waiting on one
//! future per record.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::ToBytes;
use rdkafka::producer::{BaseRecord, DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;

use crate::Error;

/// The collator's producer; each record carries the [`Acks`] it counts towards.
pub(crate) type Producer = ThreadedProducer<Deliveries>;

/// Acknowledgements still awaited for a group of produced records, and the first failure.
#[derive(Debug, Default)]
pub(crate) struct Acks {
    /// Records sent and not yet reported on; read without the lock on the hot path.
    pending: AtomicUsize,
    failure: Mutex<Option<KafkaError>>,
    settled: Condvar,
}

impl Acks {
    pub fn new() -> Arc<Self> {
        Arc::new(Acks::default())
    }

    /// `None` while a record is still in flight; then whether every record was acknowledged.
    pub fn outcome(&self) -> Option<Result<(), Error>> {
        if self.pending.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(self.result())
    }

    /// Blocks until every record sent so far was reported on, or `deadline` passes: then
    /// `Ok(false)`, records still in flight.
    pub fn wait_until(&self, deadline: Option<Instant>) -> Result<bool, Error> {
        let mut failure = self.lock();
        while self.pending.load(Ordering::Acquire) > 0 {
            failure = match deadline {
                None => self
                    .settled
                    .wait(failure)
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(false);
                    }
                    self.settled
                        .wait_timeout(failure, left)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0
                }
            };
        }
        drop(failure);
        self.result().map(|()| true)
    }

    fn result(&self) -> Result<(), Error> {
        match self.lock().clone() {
            None => Ok(()),
            Some(e) => Err(Error::kafka("waiting for a produce acknowledgement", e)),
        }
    }

    fn delivered(&self, outcome: Result<(), KafkaError>) {
        if let Err(e) = outcome {
            // Recorded before the count drops, so whoever sees it reach zero sees the failure.
            self.lock().get_or_insert(e);
        }
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Taking the lock orders this wake-up after a waiter's check of `pending`: it
            // either saw zero or is already asleep on the condvar. Acknowledgements that do
            // not settle the tally take no lock at all (one per record, on the poll thread).
            let _waiters = self.lock();
            self.settled.notify_all();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<KafkaError>> {
        self.failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Producer callbacks: a delivery report settles one record of its [`Acks`].
pub(crate) struct Deliveries;

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = Arc<Acks>;

    fn delivery(&self, result: &DeliveryResult<'_>, acks: Arc<Acks>) {
        acks.delivered(result.as_ref().map(|_| ()).map_err(|(e, _)| e.clone()));
    }
}

/// Sends one record counted in `acks`; `payload: None` is a tombstone. A full local queue
/// drains as the broker acknowledges: the record waits for room, it is never dropped.
pub(crate) fn send<K: ToBytes + ?Sized, P: ToBytes + ?Sized>(
    producer: &Producer,
    acks: &Arc<Acks>,
    topic: &str,
    key: &K,
    payload: Option<&P>,
    partition: Option<i32>,
) -> Result<(), Error> {
    let mut record = BaseRecord::with_opaque_to(topic, Arc::clone(acks)).key(key);
    if let Some(p) = payload {
        record = record.payload(p);
    }
    if let Some(p) = partition {
        record = record.partition(p);
    }
    acks.pending.fetch_add(1, Ordering::AcqRel);
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                std::thread::sleep(Duration::from_millis(2));
            }
            Err((e, _)) => {
                acks.delivered(Ok(()));
                return Err(Error::kafka(format!("producing to {topic}"), e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_settles_only_when_every_sent_record_is_reported() {
        let acks = Acks::new();
        assert!(matches!(acks.outcome(), Some(Ok(()))), "nothing sent");
        acks.pending.fetch_add(2, Ordering::AcqRel);
        acks.delivered(Ok(()));
        assert!(acks.outcome().is_none(), "one record still in flight");
        acks.delivered(Ok(()));
        assert!(matches!(acks.outcome(), Some(Ok(()))));
        assert!(matches!(acks.wait_until(None), Ok(true)));
    }

    #[test]
    fn one_failed_delivery_fails_the_whole_tally() {
        let acks = Acks::new();
        acks.pending.fetch_add(3, Ordering::AcqRel);
        acks.delivered(Ok(()));
        acks.delivered(Err(KafkaError::MessageProduction(
            RDKafkaErrorCode::MessageTimedOut,
        )));
        assert!(acks.outcome().is_none());
        acks.delivered(Ok(()));
        assert!(matches!(acks.outcome(), Some(Err(Error::Kafka { .. }))));
    }

    #[test]
    fn waiting_with_a_deadline_gives_up_while_a_record_is_in_flight() {
        let acks = Acks::new();
        acks.pending.fetch_add(1, Ordering::AcqRel);
        let soon = Instant::now() + Duration::from_millis(20);
        assert!(matches!(acks.wait_until(Some(soon)), Ok(false)));
        acks.delivered(Ok(()));
        assert!(matches!(acks.wait_until(Some(soon)), Ok(true)));
    }

    #[test]
    fn waiting_returns_once_another_thread_reports_the_last_record() {
        let acks = Acks::new();
        acks.pending.fetch_add(1, Ordering::AcqRel);
        let reporter = {
            let acks = Arc::clone(&acks);
            std::thread::spawn(move || acks.delivered(Ok(())))
        };
        assert!(matches!(acks.wait_until(None), Ok(true)));
        reporter.join().unwrap();
        assert!(matches!(acks.outcome(), Some(Ok(()))));
    }
}
