//! Scale-out and crash safety of the collator: three collators in one group over six
//! partitions while raw events keep arriving; one is killed with SIGKILL and later restarted,
//! another stopped gracefully. Every expected audit reaches `audit`; repeats carry identical
//! ids and bytes; deduplicated by id, the audits are exactly the expected set.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use schema::v1::AuditEvent;
use schema::Message;

use crate::bursts::{assert_burst_audit, burst};
use crate::support::{eventually, write_config, Auditstream, TestBroker};

const SITE: &str = "https://scale.atlassian.net";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_collators_killed_and_stopped_lose_and_duplicate_nothing() {
    let broker = TestBroker::start(6).await;
    let dir = tempfile::tempdir().unwrap();
    let group = format!("{}collators", broker.kafka.topic_prefix);
    let config = write_config(
        &dir,
        &broker,
        &format!("[collator]\ngap = \"1s\"\ngroup_id = \"{group}\"\n"),
    );
    let mut collators: Vec<Auditstream> = (0..3)
        .map(|i| Auditstream::start(&format!("collator-{i}"), &config, &["collate"]))
        .collect();
    let producer = broker.producer();
    let raw_topic = broker.topics().raw;

    const ROUNDS: u32 = 40;
    const PER_ROUND: u32 = 25;
    for round in 0..ROUNDS {
        let now = schema::now_ms();
        for r in 0..PER_ROUND {
            let record = round * PER_ROUND + r;
            for event in burst(SITE, "scale", record, now) {
                broker
                    .produce(
                        &producer,
                        &raw_topic,
                        &event.partition_key.clone(),
                        &event.encode_to_vec(),
                    )
                    .await;
            }
        }
        match round {
            10 => {
                eprintln!("e2e: SIGKILL collator-1");
                collators[1].kill();
            }
            20 => {
                eprintln!("e2e: SIGTERM collator-2");
                assert!(
                    collators[2].terminate(Duration::from_secs(30)),
                    "collator-2 stops cleanly on SIGTERM"
                );
            }
            25 => {
                eprintln!("e2e: restarting collator-1");
                collators[1] = Auditstream::start("collator-1b", &config, &["collate"]);
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let expected: BTreeSet<String> = (0..ROUNDS * PER_ROUND).map(|r| r.to_string()).collect();

    let audits = eventually(
        "an audit for every record",
        Duration::from_secs(180),
        || async {
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
            expected.is_subset(&seen).then_some(audits)
        },
    )
    .await;

    let mut by_id: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut repeats = 0;
    for bytes in &audits {
        let audit = AuditEvent::decode(bytes.as_slice()).unwrap();
        if let Some(first) = by_id.get(&audit.id) {
            assert_eq!(first, bytes, "a repeated audit id with different bytes");
            repeats += 1;
        } else {
            by_id.insert(audit.id, bytes.clone());
        }
    }
    eprintln!(
        "e2e: {} distinct audits, {repeats} identical repeats",
        by_id.len()
    );
    let mut per_record: BTreeMap<String, Vec<AuditEvent>> = BTreeMap::new();
    for bytes in by_id.values() {
        let audit = AuditEvent::decode(bytes.as_slice()).unwrap();
        per_record
            .entry(audit.auditable.clone().unwrap().id)
            .or_default()
            .push(audit);
    }
    assert_eq!(
        per_record.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "exactly the expected records"
    );
    for (record, audits) in &per_record {
        assert_eq!(
            audits.len(),
            1,
            "record {record}: one audit after dedup by id, got {audits:?}"
        );
        assert_burst_audit(record, &audits[0]);
    }
}
