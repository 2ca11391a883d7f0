//! Security: no integration token, Jira webhook secret or sink secret ever leaves the process in
//! a log, a topic or a metric. `auditstream run` (every role, JSON logs, auditstream's crates at
//! trace level) takes accepted, refused (bad signature, missing signature, unknown token) and
//! delivered paths; then the test searches its stdout and stderr, every `integration.log` entry,
//! every `raw.rejected` record (key, value and headers) and `/metrics` for each secret value.

use std::time::Duration;

use rdkafka::message::Headers as _;
use rdkafka::Message as _;
use schema::v1::IntegrationLogEntry;
use schema::Message;

use crate::fixtures::{post, CLOUD_ASSIGNEE, CLOUD_STATUS, SERVER_RESOLVED};
use crate::pipeline::integrations_with;
use crate::receiver::{Receiver, SINK_SECRET};
use crate::support::{eventually, free_port, wait_healthy, write_config, Auditstream, TestBroker};

const CLOUD_TOKEN: &str = "sec-cloud-token-5f2b9c4e8a1d7f3b6e0c";
const CLOUD_SECRET: &str = "jira-hub-secret-7Q4vX9pL2mZ8";
const SERVER_TOKEN: &str = "sec-server-token-c81e728d9d4c2f636f06";
/// A token no integration has: whoever guesses URLs must not get it echoed into our logs.
const UNKNOWN_TOKEN: &str = "sec-unknown-token-a87ff679a2f3e71d9181";

/// A bearer token the webhook sink sends as an extra header.
const SINK_BEARER: &str = "sink-bearer-1679091c5a880faf6fb5e6087eb1b2dc";

/// Every value that must never appear outside the config file.
fn secrets() -> Vec<(&'static str, String)> {
    vec![
        ("cloud integration token", CLOUD_TOKEN.into()),
        ("cloud webhook secret", CLOUD_SECRET.into()),
        ("server integration token", SERVER_TOKEN.into()),
        ("unknown token from the URL", UNKNOWN_TOKEN.into()),
        ("sink signing secret", SINK_SECRET.into()),
        ("sink bearer token", SINK_BEARER.into()),
        (
            "sink signing key (base64)",
            SINK_SECRET.trim_start_matches("whsec_").into(),
        ),
    ]
}

/// The names of the secrets found in `bytes`.
fn leaks(bytes: &[u8]) -> Vec<&'static str> {
    secrets()
        .into_iter()
        .filter(|(_, s)| bytes.windows(s.len()).any(|w| w == s.as_bytes()))
        .map(|(name, _)| name)
        .collect()
}

fn config(port: u16, group: &str, sink_url: &str) -> String {
    let integrations = integrations_with(CLOUD_TOKEN, CLOUD_SECRET, SERVER_TOKEN);
    format!(
        r#"[ingest]
listen = "127.0.0.1:{port}"

{integrations}
[collator]
gap = "1s"
group_id = "{group}-c"

[emitter]
group_id = "{group}-e"

[[emitter.sinks]]
name = "hook"
kind = "webhook"
stream = "audit"
url = "{sink_url}"
secrets = ["{SINK_SECRET}"]
headers = {{ "authorization" = "Bearer {SINK_BEARER}" }}
"#
    )
}

/// Every `raw.rejected` record as one byte string per part: key, value, header names and values.
async fn rejected_parts(broker: &TestBroker) -> Vec<Vec<u8>> {
    let kafka = broker.kafka.clone();
    let topic = broker.topics().raw_rejected;
    tokio::task::spawn_blocking(move || {
        let mut parts = Vec::new();
        common::consume::read_to_end(&kafka, &topic, None, Duration::from_secs(30), |m| {
            parts.push(m.key().unwrap_or_default().to_vec());
            parts.push(m.payload().unwrap_or_default().to_vec());
            if let Some(headers) = m.headers() {
                for h in headers.iter() {
                    parts.push(h.key.as_bytes().to_vec());
                    parts.push(h.value.unwrap_or_default().to_vec());
                }
            }
        })
        .expect("reading raw.rejected");
        parts
    })
    .await
    .expect("reader task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_secret_in_logs_topics_or_metrics() {
    let broker = TestBroker::start(3).await;
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(0, Duration::ZERO).await;
    let port = free_port();
    let group = format!("{}security", broker.kafka.topic_prefix);
    let path = write_config(&dir, &broker, &config(port, &group, &receiver.url));
    // JSON lines carry every span field too; auditstream's own crates at their most verbose.
    let mut process = Auditstream::start_logging(
        "run",
        &path,
        &["--log-json", "run"],
        "debug,ingest=trace,collator=trace,emitter=trace,common=trace,auditstream=trace,rdkafka=warn",
    );
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&base).await;
    let cloud = format!("{base}/webhooks/jira/{CLOUD_TOKEN}");
    let server = format!("{base}/webhooks/jira/{SERVER_TOKEN}");
    let unknown = format!("{base}/webhooks/jira/{UNKNOWN_TOKEN}");

    // Accepted.
    let ok = post(&client, &cloud, CLOUD_STATUS, Some(CLOUD_SECRET), "s-1", 0).await;
    assert!(ok.is_success(), "{ok}");
    let ok = post(&client, &server, SERVER_RESOLVED, None, "s-2", 0).await;
    assert!(ok.is_success(), "{ok}");
    // Refused: signed with another secret, unsigned, and an unknown token.
    let forged = post(
        &client,
        &cloud,
        CLOUD_ASSIGNEE,
        Some("not-the-secret"),
        "s-3",
        0,
    )
    .await;
    assert_eq!(forged, reqwest::StatusCode::UNAUTHORIZED);
    let unsigned = post(&client, &cloud, CLOUD_ASSIGNEE, None, "s-4", 0).await;
    assert_eq!(unsigned, reqwest::StatusCode::UNAUTHORIZED);
    let guessed = post(&client, &unknown, CLOUD_STATUS, None, "s-5", 0).await;
    assert_eq!(guessed, reqwest::StatusCode::NOT_FOUND);

    // Delivered: both audits reach the signed webhook.
    eventually(
        "both audits delivered to the webhook",
        Duration::from_secs(90),
        || {
            let accepted = receiver.accepted().len();
            async move { (accepted >= 2).then_some(()) }
        },
    )
    .await;
    assert!(receiver.refused().is_empty(), "deliveries are signed");

    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text");
    let entries: Vec<IntegrationLogEntry> = broker
        .read_all(&broker.topics().integration_log)
        .await
        .iter()
        .map(|(_, v)| IntegrationLogEntry::decode(v.as_slice()).expect("an integration.log entry"))
        .collect();
    let rejected = rejected_parts(&broker).await;
    assert!(
        process.terminate(Duration::from_secs(30)),
        "auditstream run stops cleanly"
    );
    // The reader threads see end of file once the process is gone.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stdout = process.stdout_lines();
    let stderr = process.stderr_lines();

    // The paths really ran and were recorded, so the search below is over real output.
    assert!(metrics.contains("ingest"), "metrics: {metrics}");
    assert!(
        entries.iter().any(|e| e.code == "delivered"),
        "integration.log has the deliveries"
    );
    assert!(
        entries.len() >= 4,
        "integration.log has the accepted and refused requests: {entries:?}"
    );
    assert!(
        !rejected.is_empty(),
        "the refused requests are kept in raw.rejected"
    );
    assert!(
        stderr.iter().any(|l| l.contains("refused")),
        "the refusals are logged"
    );

    let mut found: Vec<String> = Vec::new();
    for (i, line) in stdout.iter().enumerate() {
        for name in leaks(line.as_bytes()) {
            found.push(format!("stdout line {i}: {name}: {line}"));
        }
    }
    for (i, line) in stderr.iter().enumerate() {
        for name in leaks(line.as_bytes()) {
            found.push(format!("stderr line {i}: {name}: {line}"));
        }
    }
    for entry in &entries {
        let mut bytes = entry.encode_to_vec();
        bytes.extend_from_slice(format!("{entry:?}").as_bytes());
        for name in leaks(&bytes) {
            found.push(format!("integration.log: {name}: {entry:?}"));
        }
    }
    for part in &rejected {
        for name in leaks(part) {
            found.push(format!(
                "raw.rejected: {name}: {}",
                String::from_utf8_lossy(part)
            ));
        }
    }
    for name in leaks(metrics.as_bytes()) {
        found.push(format!("/metrics: {name}"));
    }
    eprintln!(
        "e2e security_logs: searched {} stdout and {} stderr lines, {} integration.log entries, \
         {} raw.rejected parts and {} bytes of /metrics for {} secret values: {} leaks",
        stdout.len(),
        stderr.len(),
        entries.len(),
        rejected.len(),
        metrics.len(),
        secrets().len(),
        found.len()
    );
    assert!(found.is_empty(), "secrets leaked:\n{}", found.join("\n"));
}
