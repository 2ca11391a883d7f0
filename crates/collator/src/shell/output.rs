//! Producing to Kafka and waiting for every acknowledgement before moving on.

use std::time::Duration;

use futures::future::join_all;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};

use crate::Error;

/// One record to produce. `payload: None` is a tombstone.
#[derive(Debug)]
pub(crate) struct Outgoing<'a> {
    pub topic: &'a str,
    pub key: String,
    pub payload: Option<Vec<u8>>,
    pub partition: Option<i32>,
}

/// Produces every record and blocks until the broker acknowledged all of them.
pub(crate) fn produce_all(
    producer: &FutureProducer,
    records: Vec<Outgoing<'_>>,
) -> Result<(), Error> {
    let mut pending: Vec<DeliveryFuture> = Vec::with_capacity(records.len());
    for r in &records {
        let mut record: FutureRecord<'_, str, [u8]> = FutureRecord::to(r.topic).key(r.key.as_str());
        if let Some(p) = &r.payload {
            record = record.payload(p.as_slice());
        }
        if let Some(p) = r.partition {
            record = record.partition(p);
        }
        loop {
            match producer.send_result(record) {
                Ok(delivery) => {
                    pending.push(delivery);
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // The local queue drains as the broker acknowledges; wait, never drop.
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, _)) => return Err(Error::kafka(format!("producing to {}", r.topic), e)),
            }
        }
    }
    for result in futures::executor::block_on(join_all(pending)) {
        match result {
            Ok(Ok(_)) => {}
            Ok(Err((e, _))) => {
                return Err(Error::kafka("waiting for a produce acknowledgement", e))
            }
            Err(_) => {
                return Err(Error::kafka(
                    "producer dropped a delivery",
                    KafkaError::Canceled,
                ))
            }
        }
    }
    Ok(())
}
