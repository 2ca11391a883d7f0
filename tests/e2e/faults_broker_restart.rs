//! Fault scenario 3: the broker is killed (SIGKILL) and restarted while Jira keeps posting to
//! the real `auditstream run` (ingest, collator and emitter in one process, a stdout sink). The
//! broker is a tansu whose `sqlite://` storage survives a restart, hosted by this test on its
//! own port (`AUDITSTREAM_TEST_TANSU_PERSISTENT` names the binary;
//! `.ci/install-tansu-persistent` builds it). Every webhook answered 2xx must be in `raw`
//! afterwards (a 2xx for an event the broker did not keep would be an audit lost for good:
//! Jira does not send it again), and every change in `raw` must reach the sink in exactly one
//! collated audit once the collator and the emitter have ridden out the outage.
//!
//! Every producer runs here with `enable.idempotence = false`: tansu 0.6.0's sqlite storage
//! panics on the first idempotent produce of a producer session that began before its restart
//! (`more or less than one row` in its idempotence check), after which its storage task is gone
//! and every produce fails until the broker is restarted again. Kafka keeps producer state
//! across restarts. Without idempotence a retried produce may land twice in `raw`, which the
//! collator applies once (same dedup key), so the guarantee checked here does not rest on it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use schema::v1::RawEvent;
use schema::Message;

use crate::fixtures::{post, CLOUD_STATUS};
use crate::pipeline::integrations;
use crate::support::{
    eventually, free_port, test_kafka, wait_healthy, write_config, Auditstream, TestBroker,
};

/// Names a tansu binary built with `sqlite://` storage.
const TANSU_ENV: &str = "AUDITSTREAM_TEST_TANSU_PERSISTENT";
/// Jira's clients posting at once.
const CLIENTS: u64 = 4;

/// A tansu process on a fixed port over one sqlite file, which outlives the process.
struct PersistentBroker {
    binary: PathBuf,
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl PersistentBroker {
    fn start(binary: PathBuf, dir: &Path) -> PersistentBroker {
        let mut broker = PersistentBroker {
            binary,
            dir: dir.to_owned(),
            port: free_port(),
            child: None,
        };
        broker.run();
        broker
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the process (again) and waits until it accepts connections.
    fn run(&mut self) {
        let url = format!("tcp://{}", self.address());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("tansu.log"))
            .expect("opening the broker's log");
        let child = Command::new(&self.binary)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "sqlite://tansu.db"])
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting tansu");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(self.address()).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PersistentBroker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The fixture's status change as a distinct Jira change (its changelog id is `change`) of
/// issue `issue`.
fn change_body(change: u64, issue: u64) -> Vec<u8> {
    let body = String::from_utf8(CLOUD_STATUS.to_vec()).expect("the fixture is UTF-8");
    assert_eq!(
        body.matches("\"id\": \"10227\"").count(),
        1,
        "one changelog id"
    );
    assert_eq!(
        body.matches("10040").count(),
        2,
        "the issue id, in its id and URL"
    );
    body.replace("\"id\": \"10227\"", &format!("\"id\": \"{change}\""))
        .replace("10040", &issue.to_string())
        .into_bytes()
}

/// What Jira saw: the changes answered 2xx, and every other answer.
#[derive(Default)]
struct Outcome {
    acknowledged: BTreeSet<u64>,
    refused: Vec<(u64, reqwest::StatusCode)>,
}

/// One Jira client posting changes `first`, `first + CLIENTS`, … until `stop` is set.
async fn jira(
    client: reqwest::Client,
    url: String,
    first: u64,
    stop: Arc<std::sync::atomic::AtomicBool>,
    outcome: Arc<Mutex<Outcome>>,
) {
    let secret = Some("It's a Secret to Everybody");
    let mut change = first;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let body = change_body(change, 20_000 + first % CLIENTS);
        let status = post(
            &client,
            &url,
            &body,
            secret,
            &format!("restart-{change}"),
            0,
        )
        .await;
        {
            let mut outcome = outcome.lock().unwrap();
            if status.is_success() {
                outcome.acknowledged.insert(change);
            } else {
                outcome.refused.push((change, status));
            }
        }
        change += CLIENTS;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The audits printed by the stdout sink: id → (changes it counts, its line). Panics when one
/// id was printed with two different lines: a repeat must be byte-identical.
fn sink_audits(lines: &[String]) -> BTreeMap<String, (u64, String)> {
    let mut audits = BTreeMap::new();
    for line in lines {
        let Ok(json) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let audit = &json["audit"];
        let Some(id) = audit["id"].as_str() else {
            continue;
        };
        let count = audit["source_event_count"]
            .as_u64()
            .expect("source_event_count");
        if let Some((_, first)) = audits.insert(id.to_owned(), (count, line.clone())) {
            assert_eq!(
                &first, line,
                "audit {id} printed twice with different content"
            );
        }
    }
    audits
}

fn acknowledged(outcome: &Mutex<Outcome>) -> usize {
    outcome.lock().unwrap().acknowledged.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_killed_and_restarted_loses_no_acknowledged_change_and_no_audit() {
    let Some(binary) = std::env::var_os(TANSU_ENV).map(PathBuf::from) else {
        // CI must run this scenario: there, a missing broker is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "{TANSU_ENV} is not set in CI (.ci/run sets it)"
        );
        eprintln!("skipped: {TANSU_ENV} names no tansu with sqlite storage (.ci/run sets it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut tansu = PersistentBroker::start(binary, dir.path());
    let mut kafka = test_kafka(tansu.address(), 3);
    kafka
        .ensure_topics(&kafka.topics().specs(kafka.partitions))
        .await
        .expect("creating topics on the persistent broker");
    // A short produce timeout, so a request during the outage gets its 503 quickly.
    kafka.message_timeout = Duration::from_secs(3);
    let broker = TestBroker {
        kafka,
        embedded: None,
    };
    let port = free_port();
    let config = write_config(
        &dir,
        &broker,
        &format!(
            "[kafka.producer_options]\n\"enable.idempotence\" = \"false\"\n\n\
             [ingest]\nlisten = \"127.0.0.1:{port}\"\n{}\n\
             [collator]\ngap = \"1s\"\n\n\
             [[emitter.sinks]]\nname = \"out\"\nkind = \"stdout\"\nstream = \"audit\"\n",
            integrations()
        ),
    );
    let pipeline = Auditstream::start("run", &config, &["run"]);
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&base).await;

    let url = format!("{base}/webhooks/jira/cloud-token-0123456789abcdef0123");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    // One change through the whole pipeline first: the collator and the emitter have joined
    // their groups and are running when the broker goes down.
    let first = post(
        &client,
        &url,
        &change_body(999_999, 19_999),
        Some("It's a Secret to Everybody"),
        "restart-warm-up",
        0,
    )
    .await;
    assert!(first.is_success(), "the first change is refused: {first}");
    eventually(
        "the first audit at the sink",
        Duration::from_secs(120),
        || {
            let printed = !sink_audits(&pipeline.stdout_lines()).is_empty();
            async move { printed.then_some(()) }
        },
    )
    .await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            tokio::spawn(jira(
                client.clone(),
                url.clone(),
                1_000_000 + i,
                stop.clone(),
                outcome.clone(),
            ))
        })
        .collect();

    let wait_for_more = |what: &'static str, more: usize| {
        let outcome = outcome.clone();
        let target = acknowledged(&outcome) + more;
        async move {
            eventually(what, Duration::from_secs(120), || {
                let done = acknowledged(&outcome) >= target;
                async move { done.then_some(()) }
            })
            .await
        }
    };
    wait_for_more("webhooks acknowledged before the outage", 100).await;
    tansu.kill();
    let down_at = acknowledged(&outcome);
    eprintln!("e2e: broker killed with {down_at} webhooks acknowledged");
    // Down until every client has been refused at least once (message_timeout = 3 s).
    eventually(
        "503s while the broker is down",
        Duration::from_secs(120),
        || {
            let refused = outcome.lock().unwrap().refused.len() as u64;
            async move { (refused >= CLIENTS).then_some(()) }
        },
    )
    .await;
    let during = acknowledged(&outcome) - down_at;
    let refused_during = outcome.lock().unwrap().refused.len();
    tansu.run();
    eprintln!("e2e: broker restarted");
    wait_for_more("webhooks acknowledged after the restart", 100).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in clients {
        c.await.expect("a Jira client");
    }

    let raw_changes: BTreeSet<u64> = broker
        .read_all(&broker.topics().raw)
        .await
        .iter()
        .map(|(_, v)| RawEvent::decode(v.as_slice()).expect("a RawEvent"))
        .filter_map(|e| e.dedup_key.rsplit('|').next()?.parse().ok())
        .collect();
    let raw = raw_changes;
    let in_raw = raw.len() as u64;
    // Every change in raw reaches the sink in exactly one collated audit (a window's
    // `source_event_count` counts its distinct changes); a repeated id must be byte-identical.
    // Each new count is printed, so a run that times out shows how far the audits got.
    let last_counted = std::cell::Cell::new(u64::MAX);
    let audits = eventually(
        "the audits of every change in raw at the sink",
        Duration::from_secs(120),
        || {
            let audits = sink_audits(&pipeline.stdout_lines());
            let counted: u64 = audits.values().map(|(n, _)| n).sum();
            if last_counted.replace(counted) != counted {
                eprintln!("e2e: the sink's audits count {counted} of the {in_raw} changes in raw");
            }
            async move { (counted >= in_raw).then_some(audits) }
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let late = sink_audits(&pipeline.stdout_lines());
    assert_eq!(
        late, audits,
        "audits changed or were added after every change was counted"
    );
    let counted: u64 = audits.values().map(|(n, _)| n).sum();
    let outcome = outcome.lock().unwrap();
    let lost: Vec<&u64> = outcome.acknowledged.difference(&raw).collect();
    let unavailable = outcome
        .refused
        .iter()
        .filter(|(_, s)| *s == reqwest::StatusCode::SERVICE_UNAVAILABLE)
        .count();
    eprintln!(
        "e2e faults_broker_restart: acknowledged {} / in raw {} / lost {} / refused {} \
         ({unavailable} × 503, {refused_during} by the end of the outage) / 2xx during the outage {during}",
        outcome.acknowledged.len(),
        outcome.acknowledged.intersection(&raw).count(),
        lost.len(),
        outcome.refused.len(),
    );
    eprintln!(
        "e2e faults_broker_restart: {in_raw} changes in raw / {} audits at the sink counting \
         {counted} changes",
        audits.len()
    );
    assert!(lost.is_empty(), "acknowledged but not in raw: {lost:?}");
    assert_eq!(counted, in_raw, "changes counted by the audits at the sink");
    assert!(refused_during > 0, "the outage was never seen by Jira");
    assert_eq!(
        unavailable,
        outcome.refused.len(),
        "every refusal is a 503: {:?}",
        outcome.refused
    );
}
