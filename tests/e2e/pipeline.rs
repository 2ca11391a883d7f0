//! The whole pipeline in one process (`auditstream run --brokers ...`): a signed Cloud webhook
//! and a token-only Server webhook reach `raw`, get collated into audits on `audit`, and the
//! stdout sink prints their JSON.

use std::time::Duration;

use schema::v1::{AuditEvent, RawEvent};
use schema::Message;

use crate::fixtures::{post, CLOUD_ASSIGNEE, CLOUD_STATUS, SERVER_RESOLVED};
use crate::support::{eventually, free_port, wait_healthy, write_config, Auditstream, TestBroker};

const CLOUD_TOKEN: &str = "cloud-token-0123456789abcdef0123";
const CLOUD_SECRET: &str = "It's a Secret to Everybody";
const SERVER_TOKEN: &str = "server-token-0123456789abcdef012";

pub fn integrations() -> String {
    integrations_with(CLOUD_TOKEN, CLOUD_SECRET, SERVER_TOKEN)
}

/// Two integrations: a Cloud one that signs (`secret`) and a token-only Server one.
pub fn integrations_with(cloud_token: &str, cloud_secret: &str, server_token: &str) -> String {
    format!(
        r#"
[[ingest.integrations]]
id = "cloud"
token = "{cloud_token}"
secret = "{cloud_secret}"
run_as = "ops@example.com"
jira_site = "https://example.atlassian.net"

[[ingest.integrations]]
id = "server"
token = "{server_token}"
run_as = "ops@example.com"
jira_site = "https://jira.example.com"
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_and_server_webhooks_become_audits() {
    let broker = TestBroker::start(3).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let group = format!("{}pipeline", broker.kafka.topic_prefix);
    let config = write_config(
        &dir,
        &broker,
        &format!("[ingest]\nlisten = \"127.0.0.1:{port}\"\n{}\n[collator]\ngap = \"1s\"\ngroup_id = \"{group}-c\"\n\n[emitter]\ngroup_id = \"{group}-e\"\n", integrations()),
    );
    let process = Auditstream::start("run", &config, &["run"]);
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&base).await;

    let cloud = format!("{base}/webhooks/jira/{CLOUD_TOKEN}");
    let server = format!("{base}/webhooks/jira/{SERVER_TOKEN}");
    assert!(
        post(&client, &cloud, CLOUD_STATUS, Some(CLOUD_SECRET), "d-1", 0)
            .await
            .is_success()
    );
    assert!(post(
        &client,
        &cloud,
        CLOUD_ASSIGNEE,
        Some(CLOUD_SECRET),
        "d-2",
        0
    )
    .await
    .is_success());
    assert!(post(&client, &server, SERVER_RESOLVED, None, "d-3", 0)
        .await
        .is_success());
    // A Cloud delivery without its signature is refused, never written to raw.
    assert_eq!(
        post(&client, &cloud, CLOUD_STATUS, None, "d-4", 0).await,
        reqwest::StatusCode::UNAUTHORIZED
    );

    let raw: Vec<RawEvent> = broker
        .read_all(&broker.topics().raw)
        .await
        .iter()
        .map(|(_, v)| RawEvent::decode(v.as_slice()).unwrap())
        .collect();
    let integrations: Vec<&str> = raw.iter().map(|e| e.integration_id.as_str()).collect();
    assert_eq!(raw.len(), 3, "raw: {integrations:?}");
    assert!(integrations.contains(&"cloud") && integrations.contains(&"server"));

    let audits = eventually(
        "two audits on the audit topic",
        Duration::from_secs(60),
        || async {
            let audits: Vec<AuditEvent> = broker
                .read_all(&broker.topics().audit)
                .await
                .iter()
                .map(|(_, v)| AuditEvent::decode(v.as_slice()).unwrap())
                .collect();
            (audits.len() >= 2).then_some(audits)
        },
    )
    .await;
    let tes41 = audits
        .iter()
        .find(|a| a.auditable.as_ref().is_some_and(|r| r.id == "10040"))
        .expect("audit of issue 10040");
    assert_eq!(
        tes41.changes.len(),
        2,
        "status and assignee collated into one audit: {tes41:?}"
    );
    assert_eq!(tes41.source_event_count, 2);
    let server_audit = audits
        .iter()
        .find(|a| a.auditable.as_ref().is_some_and(|r| r.id == "10300"))
        .expect("audit of the Server issue");
    assert!(!server_audit.changes.is_empty());

    let printed = eventually(
        "the stdout sink to print both audits",
        Duration::from_secs(30),
        || {
            let lines = process.stdout_lines();
            async move {
                (lines
                    .iter()
                    .filter(|l| l.contains("\"event\":\"audit\""))
                    .count()
                    >= 2)
                    .then_some(lines)
            }
        },
    )
    .await;
    assert!(printed.iter().any(|l| l.contains(&tes41.id.to_string())));
}
