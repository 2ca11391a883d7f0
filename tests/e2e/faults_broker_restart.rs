//! Fault scenario 3: the broker is killed (SIGKILL) and restarted while Jira keeps posting to
//! the real `auditstream ingest`. The broker is a tansu whose `sqlite://` storage survives a
//! restart, hosted by this test on its own port (`AUDITSTREAM_TEST_TANSU_PERSISTENT` names the
//! binary; `.ci/install-tansu-persistent` builds it). Every webhook answered 2xx must be in `raw`
//! afterwards: a 2xx for an event the broker did not keep would be an audit lost for good,
//! because Jira does not send it again.
//!
//! Ingest's producer runs here with `enable.idempotence = false`: tansu 0.6.0's sqlite storage
//! panics on the first idempotent produce of a producer session that began before its restart
//! (`more or less than one row` in its idempotence check), after which its storage task is gone
//! and every produce fails until the broker is restarted again. Kafka keeps producer state
//! across restarts. Without idempotence a retried produce may land twice in `raw`, which the
//! collator applies once (same dedup key), so the guarantee checked here does not rest on it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::kafka::KafkaConfig;
use schema::v1::RawEvent;
use schema::Message;

use crate::fixtures::{post, CLOUD_STATUS};
use crate::pipeline::integrations;
use crate::support::{eventually, free_port, wait_healthy, write_config, Auditstream, TestBroker};

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

/// The fixture's status change as a distinct Jira change (its changelog id is `change`).
fn change_body(change: u64) -> Vec<u8> {
    let body = String::from_utf8(CLOUD_STATUS.to_vec()).expect("the fixture is UTF-8");
    assert_eq!(
        body.matches("\"id\": \"10227\"").count(),
        1,
        "one changelog id"
    );
    body.replace("\"id\": \"10227\"", &format!("\"id\": \"{change}\""))
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
        let body = change_body(change);
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

fn acknowledged(outcome: &Mutex<Outcome>) -> usize {
    outcome.lock().unwrap().acknowledged.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_killed_and_restarted_during_ingest_loses_no_acknowledged_event() {
    let Some(binary) = std::env::var_os(TANSU_ENV).map(PathBuf::from) else {
        eprintln!("skipped: {TANSU_ENV} names no tansu with sqlite storage (.ci/run sets it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut tansu = PersistentBroker::start(binary, dir.path());
    let mut kafka = KafkaConfig {
        brokers: tansu.address(),
        topic_prefix: format!("e2e-{:08x}.", rand::random::<u32>()),
        partitions: 3,
        replication_factor: 1,
        transactions: false,
        message_timeout: Duration::from_secs(10),
        options: Default::default(),
    };
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
            "[kafka.options]\n\"enable.idempotence\" = \"false\"\n\n\
             [ingest]\nlisten = \"127.0.0.1:{port}\"\n{}",
            integrations()
        ),
    );
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("[kafka]\n", "[kafka]\nmessage_timeout = \"3s\"\n");
    std::fs::write(&config, text).unwrap();
    let _ingest = Auditstream::start("ingest", &config, &["ingest"]);
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&base).await;

    let url = format!("{base}/webhooks/jira/cloud-token-0123456789abcdef0123");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
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

    let raw: BTreeSet<u64> = broker
        .read_all(&broker.topics().raw)
        .await
        .iter()
        .map(|(_, v)| RawEvent::decode(v.as_slice()).expect("a RawEvent"))
        .filter_map(|e| e.dedup_key.rsplit('|').next()?.parse().ok())
        .collect();
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
    assert!(lost.is_empty(), "acknowledged but not in raw: {lost:?}");
    assert!(refused_during > 0, "the outage was never seen by Jira");
    assert_eq!(
        unavailable,
        outcome.refused.len(),
        "every refusal is a 503: {:?}",
        outcome.refused
    );
}
