//! Fault scenarios 2 and 4: the real `auditstream emit` delivering audits from `audit` to a
//! signed webhook hosted by the test. (a) The emitter is killed with SIGKILL mid-delivery, twice,
//! and restarted: every audit reaches the receiver and none is applied twice. An HTTP sink cannot
//! be told "you already have this" after a crash: an audit the receiver acknowledged just before
//! the kill, whose ledger record was not yet written, is sent again (at most `concurrency` per
//! kill) with the same `webhook-id` and the same body, which the Standard Webhooks contract has
//! receivers apply once. The test counts those redeliveries, bounds them, and fails on any repeat
//! a receiver could not recognise. (b) The receiver is down (connection refused) for a while,
//! then up: every audit arrives exactly once, with no redelivery at all.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::future::join_all;
use rdkafka::producer::FutureRecord;
use schema::v1::{Action, AuditChange, AuditEvent, IntegrationLogEntry, RecordRef, User};
use schema::Message;

use crate::receiver::{Receiver, SINK_SECRET};
use crate::support::{eventually, free_port, write_config, Auditstream, TestBroker};

/// The webhook sink's parallel deliveries (its lanes).
const CONCURRENCY: usize = 4;

/// An audit of issue `record` with one status change, as the collator would write it.
fn audit(id: u64, record: u64) -> AuditEvent {
    AuditEvent {
        id,
        audit_action: Action::Update as i32,
        created_at_ms: schema::now_ms(),
        interesting: true,
        user: Some(User {
            id: "acc-1".into(),
            name: "Ada".into(),
            ..Default::default()
        }),
        auditable: Some(RecordRef {
            r#type: "issue".into(),
            id: record.to_string(),
        }),
        changes: vec![AuditChange {
            field_id: "status".into(),
            field_name: "Status".into(),
            value: Some(format!("v{id}")),
            ..Default::default()
        }],
        workspace: "PLAT".into(),
        record_key: format!("issue/{record}"),
        ..Default::default()
    }
}

/// Writes `count` audits over `records` records to `audit`; returns their ids.
async fn publish(broker: &TestBroker, first_id: u64, count: u64, records: u64) -> BTreeSet<String> {
    let producer = broker.producer();
    let topic = broker.topics().audit;
    let audits: Vec<AuditEvent> = (0..count)
        .map(|i| audit(first_id + i, 50_000 + i % records))
        .collect();
    let encoded: Vec<(String, Vec<u8>)> = audits
        .iter()
        .map(|a| (a.record_key.clone(), a.encode_to_vec()))
        .collect();
    let sends = encoded.iter().map(|(key, value)| {
        producer.send(
            FutureRecord::to(&topic).key(key).payload(value),
            Duration::from_secs(30),
        )
    });
    for result in join_all(sends).await {
        result.map_err(|(e, _)| e).expect("producing an audit");
    }
    audits.iter().map(|a| a.id.to_string()).collect()
}

fn emitter_config(group: &str, url: &str) -> String {
    format!(
        r#"[emitter]
group_id = "{group}"

[emitter.retry]
initial_delay = "200ms"
max_delay = "1s"

[[emitter.sinks]]
name = "hook"
kind = "webhook"
stream = "audit"
url = "{url}"
secrets = ["{SINK_SECRET}"]
concurrency = {CONCURRENCY}
request_timeout = "5s"
"#
    )
}

/// Figures of one run at the sink.
struct Figures {
    lost: usize,
    /// Audits the sink would apply twice: a repeat it cannot recognise (another body).
    duplicated: usize,
    /// Repeated HTTP deliveries of an audit, same `webhook-id` and body.
    redelivered: usize,
}

fn report(scenario: &str, expected: &BTreeSet<String>, receiver: &Receiver) -> Figures {
    let counts = receiver.counts();
    let delivered: BTreeSet<String> = counts.keys().cloned().collect();
    let figures = Figures {
        lost: expected.difference(&delivered).count(),
        duplicated: receiver.conflicts().len(),
        redelivered: counts.values().map(|n| n - 1).sum(),
    };
    eprintln!(
        "e2e {scenario}: expected {} / delivered {} / lost {} / duplicated at the sink {} \
         / redelivered with the same webhook-id and body {} ({} deliveries accepted, {} refused \
         by signature)",
        expected.len(),
        delivered.intersection(expected).count(),
        figures.lost,
        figures.duplicated,
        figures.redelivered,
        receiver.accepted().len(),
        receiver.refused().len(),
    );
    assert!(
        delivered.is_subset(expected),
        "{scenario}: audits never written were delivered"
    );
    figures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emitter_killed_mid_delivery_delivers_every_audit() {
    let broker = TestBroker::start(3).await;
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(0, Duration::from_millis(20)).await;
    let group = format!("{}emitter-kill", broker.kafka.topic_prefix);
    let config = write_config(&dir, &broker, &emitter_config(&group, &receiver.url));
    let expected = publish(&broker, 9_000_000, 400, 40).await;

    let mut emitter = Auditstream::start("emit-1", &config, &["emit"]);
    const KILLS: [usize; 2] = [100, 250];
    for (n, at) in KILLS.iter().enumerate() {
        eventually(
            "the emitter to be mid-delivery",
            Duration::from_secs(120),
            || {
                let accepted = receiver.accepted().len();
                async move { (accepted >= *at).then_some(()) }
            },
        )
        .await;
        emitter.kill();
        let unique = receiver.counts().len();
        eprintln!("e2e: SIGKILL emitter with {unique} audits accepted");
        assert!(unique < expected.len(), "the kill must land mid-delivery");
        emitter = Auditstream::start(&format!("emit-{}", n + 2), &config, &["emit"]);
    }
    eventually(
        "every audit delivered after the restarts",
        Duration::from_secs(180),
        || {
            let done = receiver.counts().len() >= expected.len();
            async move { done.then_some(()) }
        },
    )
    .await;
    let figures = report("faults_emitter (SIGKILL x2)", &expected, &receiver);
    let window = CONCURRENCY * KILLS.len();
    eprintln!(
        "e2e: redeliveries allowed by the documented window: {window} ({CONCURRENCY} lanes per kill)"
    );
    assert_eq!(figures.lost, 0);
    assert_eq!(figures.duplicated, 0, "{:?}", receiver.conflicts());
    assert!(
        figures.redelivered <= window,
        "{} redeliveries, more than the deliveries in flight at the kills ({window})",
        figures.redelivered
    );
    assert!(receiver.refused().is_empty(), "every delivery verified");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_down_then_up_gets_every_audit_once() {
    let broker = TestBroker::start(3).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let group = format!("{}emitter-down", broker.kafka.topic_prefix);
    let config = write_config(&dir, &broker, &emitter_config(&group, &url));
    let expected = publish(&broker, 8_000_000, 60, 12).await;
    let _emitter = Auditstream::start("emit", &config, &["emit"]);

    // Nothing listens yet: every attempt is refused at connect and logged as a failed attempt.
    let failed = eventually(
        "failed attempts against the receiver that is down",
        Duration::from_secs(60),
        || async {
            let failed = failed_attempts(&broker).await;
            (failed >= 20).then_some(failed)
        },
    )
    .await;
    eprintln!("e2e: {failed} attempts failed while the receiver was down; bringing it up");
    let receiver = Receiver::start(port, Duration::ZERO).await;
    eventually(
        "every audit delivered once the receiver is up",
        Duration::from_secs(120),
        || {
            let done = receiver.counts().len() >= expected.len();
            async move { done.then_some(()) }
        },
    )
    .await;
    // Let retries still scheduled run out, so a late repeat would be counted.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let figures = report("faults_emitter (receiver down)", &expected, &receiver);
    assert_eq!(figures.lost, 0);
    assert_eq!(figures.duplicated, 0, "{:?}", receiver.conflicts());
    assert_eq!(figures.redelivered, 0, "an audit delivered twice");
    assert!(receiver.refused().is_empty(), "every delivery verified");
}

/// Failed delivery attempts of the sink in `integration.log` so far. The log is written while
/// it is read, so a read that does not reach the end in time still counts what it saw.
async fn failed_attempts(broker: &TestBroker) -> usize {
    let kafka = broker.kafka.clone();
    let topic = broker.topics().integration_log;
    tokio::task::spawn_blocking(move || {
        let mut failed = 0;
        let _ = common::consume::read_to_end(&kafka, &topic, None, Duration::from_secs(5), |m| {
            use rdkafka::Message as _;
            if IntegrationLogEntry::decode(m.payload().unwrap_or_default())
                .is_ok_and(|e| e.code == "attempt_failed" && e.sink == "hook")
            {
                failed += 1;
            }
        });
        failed
    })
    .await
    .expect("reader task")
}
