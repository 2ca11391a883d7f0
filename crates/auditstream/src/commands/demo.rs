//! `auditstream demo`: the whole pipeline on the embedded broker with a short gap. Posts
//! bundled real Jira webhooks (Cloud ones signed, Server ones by token only, one Cloud delivery
//! twice as Jira's retry would), waits until every touched record's audit has been delivered
//! by the emitter's stdout sink, then exits.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::Context;
use hmac::{Hmac, Mac};
use schema::v1::{AuditEvent, DeliveryRecord, RawEvent};
use schema::Message;
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

use super::run::{prepare_cluster, run_roles, Roles};
use crate::config::Config;

/// A bundled webhook: (fixture name, body, sent through the Cloud integration).
const SAMPLES: &[(&str, &[u8], bool)] = &[
    ("02 issue TES-41 status", include_bytes!("../../../../fixtures/jira/02_mattermost_mattermost-plugin-jira_cloud_issue_updated_status.json"), true),
    ("03 issue TES-41 assignee", include_bytes!("../../../../fixtures/jira/03_mattermost_mattermost-plugin-jira_cloud_issue_updated_assignee.json"), true),
    ("04 issue TES-41 description", include_bytes!("../../../../fixtures/jira/04_mattermost_mattermost-plugin-jira_cloud_issue_updated_description.json"), true),
    ("07 issue TES-41 three fields", include_bytes!("../../../../fixtures/jira/07_mattermost_mattermost-plugin-jira_cloud_issue_updated_multiple_fields.json"), true),
    ("11 comment created", include_bytes!("../../../../fixtures/jira/11_mattermost_mattermost-plugin-jira_cloud_comment_created.json"), true),
    ("12 comment updated", include_bytes!("../../../../fixtures/jira/12_mattermost_mattermost-plugin-jira_cloud_comment_updated.json"), true),
    ("01 issue KT-22 created", include_bytes!("../../../../fixtures/jira/01_mattermost_mattermost-plugin-jira_cloud_issue_created.json"), true),
    ("05 issue TES-14 custom field", include_bytes!("../../../../fixtures/jira/05_mattermost_mattermost-plugin-jira_cloud_issue_updated_customfield.json"), true),
    ("10 issue IDT-19 deleted", include_bytes!("../../../../fixtures/jira/10_mattermost_mattermost-plugin-jira_cloud_issue_deleted.json"), true),
    ("20 Server issue TES-4 resolved", include_bytes!("../../../../fixtures/jira/20_mattermost_mattermost-plugin-jira_server_issue_updated_status_resolution.json"), false),
    ("22 Server issue PRJA-37 assignee", include_bytes!("../../../../fixtures/jira/22_mattermost_mattermost-plugin-jira_server_issue_updated_assignee.json"), false),
    ("24 Server comment updated", include_bytes!("../../../../fixtures/jira/24_mattermost_mattermost-plugin-jira_server_comment_updated.json"), false),
];

/// The fixture Jira retries in the demo (same delivery id, retry header 1).
const RETRIED: usize = 0;

pub async fn demo(
    mut config: Config,
    gap: Duration,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let cloud_token = random_hex(32);
    let cloud_secret = random_hex(24);
    let server_token = random_hex(32);
    config.collator.gap = gap;
    config.ingest.integrations = demo_integrations(&cloud_token, &cloud_secret, &server_token)?;
    let embedded = prepare_cluster(&mut config, Roles::ALL).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the demo's ingest port")?;
    let base = format!("http://{}", listener.local_addr()?);
    let roles_token = shutdown.child_token();
    let roles = tokio::spawn(run_roles(
        config.clone(),
        Roles::ALL,
        Some(listener),
        roles_token.clone(),
    ));

    eprintln!(
        "demo: ingest on {base}, session gap {}",
        humantime::format_duration(gap)
    );
    let client = reqwest::Client::new();
    for (i, (name, body, cloud)) in SAMPLES.iter().enumerate() {
        let token = if *cloud { &cloud_token } else { &server_token };
        let secret = cloud.then_some(cloud_secret.as_str());
        let delivery = format!("demo-delivery-{i}");
        let status = post(&client, &base, token, secret, body, &delivery, 0).await?;
        eprintln!("demo: posted {name}: {status}");
        if i == RETRIED {
            let status = post(&client, &base, token, secret, body, &delivery, 1).await?;
            eprintln!("demo: posted {name} again as Jira's retry: {status}");
        }
    }

    let result = wait_for_delivery(&config, gap, &shutdown).await;
    roles_token.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(20), roles).await;
    let audits = result?;
    match stopped {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => return Err(e.context("a role failed during the demo")),
        Ok(Err(e)) => anyhow::bail!("a role panicked: {e}"),
        Err(_) => tracing::warn!("roles did not stop within 20 s"),
    }
    eprintln!(
        "demo: {} webhooks posted, {audits} collated audits delivered to stdout (JSON lines above)",
        SAMPLES.len() + 1
    );
    // The process ends here. Clients of the roles may still be closing in the background; left
    // to the exit, the in-memory broker does not vanish under them (they would log it as down).
    std::mem::forget(embedded);
    Ok(())
}

fn demo_integrations(
    cloud_token: &str,
    cloud_secret: &str,
    server_token: &str,
) -> anyhow::Result<Vec<ingest::IntegrationConfig>> {
    let text = format!(
        r#"
[[integrations]]
id = "jira-cloud-demo"
token = "{cloud_token}"
secret = "{cloud_secret}"
run_as = "demo@auditstream.local"
jira_site = "https://demo.atlassian.net"

[[integrations]]
id = "jira-server-demo"
token = "{server_token}"
run_as = "demo@auditstream.local"
jira_site = "https://jira.demo.local"
"#
    );
    #[derive(serde::Deserialize)]
    struct Integrations {
        integrations: Vec<ingest::IntegrationConfig>,
    }
    Ok(toml::from_str::<Integrations>(&text)
        .context("demo integrations")?
        .integrations)
}

async fn post(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    secret: Option<&str>,
    body: &[u8],
    delivery: &str,
    retry: u32,
) -> anyhow::Result<reqwest::StatusCode> {
    let mut request = client
        .post(format!("{base}/webhooks/jira/{token}"))
        .header("content-type", "application/json")
        .header("x-atlassian-webhook-identifier", delivery)
        .body(body.to_vec());
    if retry > 0 {
        request = request.header("x-atlassian-webhook-retry", retry.to_string());
    }
    if let Some(secret) = secret {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).context("hmac key")?;
        mac.update(body);
        request = request.header(
            "x-hub-signature",
            format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
        );
    }
    let response = request
        .send()
        .await
        .context("posting a webhook to ingest")?;
    let status = response.status();
    anyhow::ensure!(
        status.is_success(),
        "ingest answered {status}: {}",
        response.text().await.unwrap_or_default()
    );
    Ok(status)
}

/// Waits until every record the raw topic touched has an audit, and the emitter has delivered
/// all of them. Returns the number of audits.
async fn wait_for_delivery(
    config: &Config,
    gap: Duration,
    shutdown: &CancellationToken,
) -> anyhow::Result<usize> {
    let deadline = Instant::now() + gap * 4 + Duration::from_secs(60);
    let topics = config.kafka.topics();
    loop {
        anyhow::ensure!(!shutdown.is_cancelled(), "interrupted");
        anyhow::ensure!(
            Instant::now() < deadline,
            "timed out waiting for the collated audits"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let kafka = config.kafka.clone();
        let topics = topics.clone();
        let done = tokio::task::spawn_blocking(move || -> anyhow::Result<Option<usize>> {
            let read = |topic: &str| -> anyhow::Result<Vec<Vec<u8>>> {
                let mut values = Vec::new();
                common::consume::read_to_end(&kafka, topic, None, Duration::from_secs(10), |m| {
                    use rdkafka::Message as _;
                    values.push(m.payload().unwrap_or_default().to_vec());
                })?;
                Ok(values)
            };
            let touched: BTreeSet<(String, String)> = read(&topics.raw)?
                .iter()
                .filter_map(|v| RawEvent::decode(v.as_slice()).ok())
                .filter(|e| !e.changes.is_empty())
                .filter_map(|e| e.record.map(|r| (r.r#type, r.id)))
                .collect();
            let audits: Vec<AuditEvent> = read(&topics.audit)?
                .iter()
                .filter_map(|v| AuditEvent::decode(v.as_slice()).ok())
                .collect();
            let audited: BTreeSet<(String, String)> = audits
                .iter()
                .filter_map(|a| {
                    a.auditable
                        .as_ref()
                        .map(|r| (r.r#type.clone(), r.id.clone()))
                })
                .collect();
            if touched.is_empty() || !touched.is_subset(&audited) {
                return Ok(None);
            }
            let audit_ids: BTreeSet<u64> = audits.iter().map(|a| a.id).collect();
            let delivered: BTreeSet<u64> = read(&topics.emitter_delivered)?
                .iter()
                .filter_map(|v| DeliveryRecord::decode(v.as_slice()).ok())
                .map(|d| d.audit_id)
                .collect();
            Ok(audit_ids.is_subset(&delivered).then_some(audit_ids.len()))
        })
        .await??;
        if let Some(count) = done {
            return Ok(count);
        }
    }
}

fn random_hex(bytes: usize) -> String {
    let data: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    hex::encode(data)
}
