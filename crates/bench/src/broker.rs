//! Broker-side helpers of the harness: fresh topics, pre-filling `raw`, the passthrough limit
//! and reading a topic while it grows.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::kafka::KafkaConfig;
use common::topics::TopicSpec;
use prost::Message as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use schema::v1::RawEvent;

use crate::Error;

/// The broker a scenario runs against, and the client settings it runs with.
#[derive(Debug, Clone)]
pub struct Target {
    pub brokers: String,
    /// Its process, to report its CPU time beside the harness's.
    pub pid: Option<u32>,
    pub partitions: i32,
    /// librdkafka properties for every client of the scenario (`--kafka-option`).
    pub options: BTreeMap<String, String>,
}

impl Target {
    /// A Kafka config with the scenario's client settings, its topics under a fresh prefix.
    pub fn fresh_config(&self, what: &str) -> KafkaConfig {
        let mut kafka = fresh_config(&self.brokers, &fresh_prefix(what), self.partitions);
        kafka.options.clone_from(&self.options);
        kafka
    }
}

/// A Kafka config for `brokers` whose topics live under a fresh prefix.
pub fn fresh_config(brokers: &str, prefix: &str, partitions: i32) -> KafkaConfig {
    KafkaConfig {
        brokers: brokers.to_owned(),
        topic_prefix: prefix.to_owned(),
        partitions,
        replication_factor: 1,
        transactions: false,
        message_timeout: Duration::from_secs(60),
        options: Default::default(),
        producer_options: Default::default(),
        consumer_options: Default::default(),
    }
}

/// A topic prefix no earlier run used.
pub fn fresh_prefix(what: &str) -> String {
    format!("bench-{what}-{}-{}.", std::process::id(), schema::now_ms())
}

/// Creates the pipeline's topics, plus `extra` ones with the same partition count.
pub async fn create_topics(kafka: &KafkaConfig, extra: &[String]) -> Result<(), Error> {
    let mut specs = kafka.topics().specs(kafka.partitions);
    specs.extend(extra.iter().map(|name| TopicSpec {
        name: name.clone(),
        partitions: kafka.partitions,
        compacted: false,
    }));
    kafka
        .ensure_topics(&specs)
        .await
        .map_err(|e| Error::common("creating topics", e))
}

/// Sends one record, waiting for room when the producer's queue is full.
pub fn send(
    producer: &FutureProducer,
    topic: &str,
    key: &[u8],
    payload: &[u8],
    deadline: Instant,
) -> Result<DeliveryFuture, Error> {
    send_record(
        producer,
        FutureRecord::to(topic).key(key).payload(payload),
        deadline,
    )
}

fn send_record(
    producer: &FutureProducer,
    mut record: FutureRecord<'_, [u8], [u8]>,
    deadline: Instant,
) -> Result<DeliveryFuture, Error> {
    loop {
        match producer.send_result(record) {
            Ok(f) => return Ok(f),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                if Instant::now() > deadline {
                    return Err(Error::Timeout(format!("producing to {}", back.topic)));
                }
                record = back;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err((e, back)) => return Err(Error::kafka(format!("producing to {}", back.topic), e)),
        }
    }
}

/// Waits for every delivery; any failure fails the phase.
pub fn await_deliveries(futures: Vec<DeliveryFuture>) -> Result<(), Error> {
    for f in futures {
        match futures::executor::block_on(f) {
            Ok(Ok(_)) => {}
            Ok(Err((e, _))) => return Err(Error::kafka("delivery", e)),
            Err(_) => return Err(Error::Timeout("a delivery was cancelled".into())),
        }
    }
    Ok(())
}

/// Writes the workload to `raw`, keyed by partition key, in order. Blocking.
pub fn prefill(kafka: &KafkaConfig, events: &[RawEvent], timeout: Duration) -> Result<(), Error> {
    // Written as ingest writes `raw`: compressed, so consumers read it as they would.
    let producer = kafka
        .compressed_producer()
        .map_err(|e| Error::common("creating producer", e))?;
    let topic = kafka.topics().raw;
    let deadline = Instant::now() + timeout;
    let mut pending = Vec::with_capacity(events.len());
    for e in events {
        pending.push(send(
            &producer,
            &topic,
            e.partition_key.as_bytes(),
            &e.encode_to_vec(),
            deadline,
        )?);
    }
    await_deliveries(pending)
}

/// The limit of broker and client on this machine: consume `raw` in a consumer group and
/// produce every record unchanged to `to_topic`, with the collator's client settings.
/// Returns the time from the first consumed record to the last acknowledged write. Blocking.
pub fn passthrough(
    kafka: &KafkaConfig,
    to_topic: &str,
    total: usize,
    timeout: Duration,
) -> Result<Duration, Error> {
    consume_producing(kafka, "passthrough", total, timeout, |_, m, out| {
        out.send(to_topic, m.key().unwrap_or_default(), m.payload(), None)
    })
}

/// What a consume-and-produce loop writes with: one producer, every delivery awaited at the end.
pub struct Writes {
    producer: FutureProducer,
    pending: Vec<DeliveryFuture>,
    deadline: Instant,
}

impl Writes {
    /// Sends one record (`payload: None` is a tombstone), waiting for room in a full queue.
    pub fn send(
        &mut self,
        topic: &str,
        key: &[u8],
        payload: Option<&[u8]>,
        partition: Option<i32>,
    ) -> Result<(), Error> {
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).key(key);
        if let Some(p) = payload {
            record = record.payload(p);
        }
        if let Some(p) = partition {
            record = record.partition(p);
        }
        let f = send_record(&self.producer, record, self.deadline)?;
        self.pending.push(f);
        Ok(())
    }
}

/// Consumes `total` records of `raw` in a fresh consumer group (`group` under the run's
/// prefix, the collator's consumer settings) and hands each, with its index, to `on_record`
/// to write what it stands for. Returns the time from the first consumed record to the last
/// acknowledged write. Blocking.
pub fn consume_producing(
    kafka: &KafkaConfig,
    group: &str,
    total: usize,
    timeout: Duration,
    mut on_record: impl FnMut(usize, &BorrowedMessage<'_>, &mut Writes) -> Result<(), Error>,
) -> Result<Duration, Error> {
    let mut config = kafka.consumer_config(&format!("{}{group}", kafka.topic_prefix));
    // The same short fetch wait the collator sets.
    config.set("fetch.wait.max.ms", "100");
    let consumer: BaseConsumer = config
        .create()
        .map_err(|e| Error::kafka("creating consumer", e))?;
    consumer
        .subscribe(&[&kafka.topics().raw])
        .map_err(|e| Error::kafka("subscribing", e))?;
    let mut out = Writes {
        producer: kafka
            .producer()
            .map_err(|e| Error::common("creating producer", e))?,
        pending: Vec::with_capacity(total),
        deadline: Instant::now() + timeout,
    };
    let mut consumed = 0;
    let mut started = None;
    while consumed < total {
        if Instant::now() > out.deadline {
            return Err(Error::Timeout(format!(
                "{group}: {consumed} of {total} records"
            )));
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                started.get_or_insert_with(Instant::now);
                on_record(consumed, &m, &mut out)?;
                consumed += 1;
            }
            Some(Err(KafkaError::PartitionEOF(_))) | None => {}
            Some(Err(e)) => tracing::warn!(error = %e, "{group} consumer"),
        }
    }
    await_deliveries(std::mem::take(&mut out.pending))?;
    let elapsed = started.map(|s| s.elapsed()).unwrap_or_default();
    release(consumer);
    Ok(elapsed)
}

/// Drops a consumer off the caller's thread: closing one after a consume-transform-produce
/// loop can hang (rust-rdkafka #509).
pub fn release<C: Send + 'static>(consumer: C) {
    std::thread::spawn(move || drop(consumer));
}

/// Reads every partition of `topic` from the beginning, outside any group, calling `on` for
/// each record until it returns false or `timeout` passes. Blocking.
pub fn tail(
    kafka: &KafkaConfig,
    topic: &str,
    timeout: Duration,
    mut on: impl FnMut(&BorrowedMessage<'_>) -> bool,
) -> Result<(), Error> {
    let mut config = kafka.client_config();
    config.set("group.id", format!("{}tail", kafka.topic_prefix));
    config.set("enable.auto.commit", "false");
    config.set("fetch.wait.max.ms", "20");
    config.set("isolation.level", "read_committed");
    let consumer: BaseConsumer = config
        .create()
        .map_err(|e| Error::kafka("creating reader", e))?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..kafka.partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .map_err(|e| Error::kafka("assigning", e))?;
    }
    consumer
        .assign(&tpl)
        .map_err(|e| Error::kafka("assigning", e))?;
    let deadline = Instant::now() + timeout;
    loop {
        if Instant::now() > deadline {
            return Err(Error::Timeout(format!("reading {topic}")));
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) if !on(&m) => return Ok(()),
            Some(Ok(_)) => {}
            Some(Err(e)) => tracing::debug!(error = %e, "tail"),
            None => {}
        }
    }
}

/// Peak resident set of this process (VmHWM), in bytes.
pub fn peak_rss() -> Option<u64> {
    status_kb("VmHWM:").map(|kb| kb * 1024)
}

/// Current resident set of this process (VmRSS), in bytes.
pub fn current_rss() -> Option<u64> {
    status_kb("VmRSS:").map(|kb| kb * 1024)
}

/// Resets VmHWM to the current RSS, so the next peak belongs to the phase that follows.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time (user + system) used so far by process `pid`, or by this process, in seconds.
/// Read from /proc (clock ticks of 1/100 s, the Linux default), to show which side of a phase
/// was busy: auditstream's process or the broker.
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = pid.map_or_else(
        || "/proc/self/stat".to_owned(),
        |p| format!("/proc/{p}/stat"),
    );
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// CPU seconds of this process and of the broker, sampled together.
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    own: f64,
    broker: Option<f64>,
}

impl CpuSample {
    pub fn now(broker_pid: Option<u32>) -> Self {
        CpuSample {
            own: cpu_seconds(None).unwrap_or(0.0),
            broker: broker_pid.and_then(|p| cpu_seconds(Some(p))),
        }
    }

    /// CPU seconds used since `self`: this process, and the broker when its pid is known.
    pub fn used_since(&self, broker_pid: Option<u32>) -> (f64, Option<f64>) {
        let later = CpuSample::now(broker_pid);
        let broker = self.broker.zip(later.broker).map(|(a, b)| b - a);
        (later.own - self.own, broker)
    }

    /// "auditstream X s, broker Y s" of CPU used since `self`.
    pub fn since(&self, broker_pid: Option<u32>) -> String {
        let later = CpuSample::now(broker_pid);
        match (self.broker, later.broker) {
            (Some(a), Some(b)) => format!(
                "CPU: harness process {:.1} s, broker {:.1} s",
                later.own - self.own,
                b - a
            ),
            _ => format!("CPU: harness process {:.1} s", later.own - self.own),
        }
    }
}
