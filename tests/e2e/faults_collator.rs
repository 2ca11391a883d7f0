//! Fault scenario 1: three `auditstream collate` processes share six partitions of `raw` while
//! the test writes 102,000 raw events (30,000 on the embedded broker, see `EMBEDDED_BATCHES`);
//! every few seconds one collator is killed with SIGKILL and restarted at once. At the end every expected audit is on `audit`, a repeated
//! audit is byte-identical to its first copy, and the audits deduplicated by id are exactly the
//! expected set: one audit per record, carrying its three changes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;
use rdkafka::producer::FutureRecord;
use schema::v1::{AuditEvent, RawEvent};
use schema::Message;

use crate::bursts::{assert_burst_audit, burst};
use crate::support::{write_config, Auditstream, TestBroker};

const SITE: &str = "https://faults.atlassian.net";
/// Records per produced batch; each record is a burst of `bursts::FIELDS.len()` events.
const BATCH_RECORDS: u32 = 1_000;
/// 34 batches: 102,000 raw events.
const BATCHES: u32 = 34;
/// On the embedded broker: librdkafka's mock cluster keeps only the newest 5 MiB of each
/// partition (`rdkafka_mock.c`, `max_size`), so at full size it drops the start of `raw` and
/// `collator-state` while a restarted collator still needs them. 10 batches stay within it.
const EMBEDDED_BATCHES: u32 = 10;
const KILL_EVERY: Duration = Duration::from_secs(4);
/// SIGKILLs at least: production is quicker than collation, so kills go on while the
/// collators work through the backlog.
const KILLS: usize = 8;
/// The wait for the audits fails only when they stop coming for this long.
const STALL: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collators_killed_every_few_seconds_lose_and_duplicate_nothing() {
    let broker = TestBroker::start(6).await;
    let dir = tempfile::tempdir().unwrap();
    let group = format!("{}faulty-collators", broker.kafka.topic_prefix);
    let config = write_config(
        &dir,
        &broker,
        &format!("[collator]\ngap = \"1s\"\ngroup_id = \"{group}\"\n"),
    );
    let collators: Arc<Mutex<Vec<Auditstream>>> = Arc::new(Mutex::new(
        (0..3)
            .map(|i| Auditstream::start(&format!("collator-{i}"), &config, &["collate"]))
            .collect(),
    ));

    // The killer: every few seconds one collator (in turn) gets SIGKILL and a fresh one starts.
    let producing = Arc::new(AtomicBool::new(true));
    let kills = Arc::new(AtomicUsize::new(0));
    let killer = {
        let (collators, producing, kills, config) = (
            collators.clone(),
            producing.clone(),
            kills.clone(),
            config.clone(),
        );
        tokio::spawn(async move {
            while producing.load(Ordering::SeqCst) || kills.load(Ordering::SeqCst) < KILLS {
                tokio::time::sleep(KILL_EVERY).await;
                let n = kills.fetch_add(1, Ordering::SeqCst);
                let slot = n % 3;
                let name = format!("collator-{slot}.{}", n + 1);
                eprintln!("e2e: SIGKILL collator in slot {slot}; starting {name}");
                let mut all = collators.lock().unwrap();
                all[slot].kill();
                all[slot] = Auditstream::start(&name, &config, &["collate"]);
            }
        })
    };

    let producer = broker.producer();
    let raw_topic = broker.topics().raw;
    let batches = if broker.embedded.is_some() {
        EMBEDDED_BATCHES
    } else {
        BATCHES
    };
    let mut produced = 0usize;
    for batch in 0..batches {
        let now = schema::now_ms();
        let events: Vec<RawEvent> = (0..BATCH_RECORDS)
            .flat_map(|r| burst(SITE, "faults", batch * BATCH_RECORDS + r, now))
            .collect();
        let encoded: Vec<(String, Vec<u8>)> = events
            .iter()
            .map(|e| (e.partition_key.clone(), e.encode_to_vec()))
            .collect();
        // The whole batch in flight at once; each write must be acknowledged.
        let sends = encoded.iter().map(|(key, value)| {
            producer.send(
                FutureRecord::to(&raw_topic).key(key).payload(value),
                Duration::from_secs(30),
            )
        });
        for result in join_all(sends).await {
            result.map_err(|(e, _)| e).expect("producing a raw event");
        }
        produced += encoded.len();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    producing.store(false, Ordering::SeqCst);
    killer.await.unwrap();
    let kills = kills.load(Ordering::SeqCst);
    eprintln!("e2e: produced {produced} raw events; {kills} collators killed with SIGKILL");
    assert!(produced >= 100_000 || broker.embedded.is_some());
    assert!(kills >= 2, "the collators must be killed during the stream");

    let expected: BTreeSet<String> = (0..batches * BATCH_RECORDS)
        .map(|r| r.to_string())
        .collect();
    let audits = wait_for_audits(&broker, &expected).await;

    let mut by_id: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut repeats = 0usize;
    for bytes in &audits {
        let audit = AuditEvent::decode(bytes.as_slice()).unwrap();
        match by_id.get(&audit.id) {
            Some(first) => {
                assert_eq!(first, bytes, "audit {} repeated with other bytes", audit.id);
                repeats += 1;
            }
            None => {
                by_id.insert(audit.id, bytes.clone());
            }
        }
    }
    let mut per_record: BTreeMap<String, Vec<AuditEvent>> = BTreeMap::new();
    for bytes in by_id.values() {
        let audit = AuditEvent::decode(bytes.as_slice()).unwrap();
        let record = audit.auditable.clone().unwrap().id;
        per_record.entry(record).or_default().push(audit);
    }
    let delivered: BTreeSet<String> = per_record.keys().cloned().collect();
    let lost = expected.difference(&delivered).count();
    let unexpected = delivered.difference(&expected).count();
    let split = per_record.values().filter(|a| a.len() > 1).count();
    eprintln!(
        "e2e faults_collator: expected {} / delivered {} / lost {lost} / duplicated {repeats} \
         (byte-identical repeats on `audit`, removed by id) / split records {split} / \
         unexpected {unexpected}; {produced} raw events, {kills} SIGKILLs",
        expected.len(),
        by_id.len(),
    );
    if lost > 0 {
        let missing: Vec<&String> = expected.difference(&delivered).collect();
        eprintln!(
            "e2e: lost audits of records {:?}... by raw partition {:?}",
            &missing[..missing.len().min(10)],
            raw_partitions(&broker, &missing).await
        );
    }
    assert_eq!(lost, 0, "audits lost");
    assert_eq!(unexpected, 0, "audits of records never written");
    for (record, audits) in per_record.iter().filter(|(_, a)| a.len() > 1).take(3) {
        eprintln!("e2e: record {record} split into {audits:?}");
    }
    for (record, audits) in &per_record {
        assert_eq!(
            audits.len(),
            1,
            "record {record}: one audit after dedup by id"
        );
        assert_burst_audit(record, &audits[0]);
    }
}

/// Reads `audit` until every expected record has an audit; fails once no new audit has
/// arrived for `STALL` (a bounded wait that does not depend on the machine's speed).
async fn wait_for_audits(broker: &TestBroker, expected: &BTreeSet<String>) -> Vec<Vec<u8>> {
    let mut last_count = 0;
    let mut last_progress = std::time::Instant::now();
    loop {
        let audits: Vec<Vec<u8>> = broker
            .read_all(&broker.topics().audit)
            .await
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        let seen: BTreeSet<String> = audits
            .iter()
            .filter_map(|v| AuditEvent::decode(v.as_slice()).ok())
            .filter_map(|a| a.auditable.map(|r| r.id))
            .collect();
        eprintln!(
            "e2e: {} audit records, {} of {} records audited",
            audits.len(),
            seen.len(),
            expected.len()
        );
        if expected.is_subset(&seen) || last_progress.elapsed() > STALL {
            return audits;
        }
        if audits.len() > last_count {
            last_count = audits.len();
            last_progress = std::time::Instant::now();
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// How many of `records` went to each partition of `raw` (where their events were written).
async fn raw_partitions(broker: &TestBroker, records: &[&String]) -> BTreeMap<i32, usize> {
    let wanted: BTreeSet<String> = records.iter().map(|r| (*r).clone()).collect();
    let kafka = broker.kafka.clone();
    let topic = broker.topics().raw;
    tokio::task::spawn_blocking(move || {
        let mut by_partition: BTreeMap<i32, BTreeSet<String>> = BTreeMap::new();
        common::consume::read_to_end(&kafka, &topic, None, Duration::from_secs(60), |m| {
            use rdkafka::Message as _;
            if let Ok(e) = RawEvent::decode(m.payload().unwrap_or_default()) {
                let record = e.record.map(|r| r.id).unwrap_or_default();
                if wanted.contains(&record) {
                    by_partition
                        .entry(m.partition())
                        .or_default()
                        .insert(record);
                }
            }
        })
        .expect("reading raw");
        by_partition
            .into_iter()
            .map(|(p, r)| (p, r.len()))
            .collect()
    })
    .await
    .expect("reader task")
}
