//! Real Jira webhook bodies (copied into the repo with their provenance) and how Jira sends them.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const CLOUD_STATUS: &[u8] = include_bytes!(
    "../../fixtures/jira/02_mattermost_mattermost-plugin-jira_cloud_issue_updated_status.json"
);
pub const CLOUD_ASSIGNEE: &[u8] = include_bytes!(
    "../../fixtures/jira/03_mattermost_mattermost-plugin-jira_cloud_issue_updated_assignee.json"
);
pub const SERVER_RESOLVED: &[u8] = include_bytes!("../../fixtures/jira/20_mattermost_mattermost-plugin-jira_server_issue_updated_status_resolution.json");

/// `X-Hub-Signature` as Jira Cloud computes it.
pub fn hub_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Posts a webhook as Jira would; returns the status.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &[u8],
    secret: Option<&str>,
    delivery: &str,
    retry: u32,
) -> reqwest::StatusCode {
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-atlassian-webhook-identifier", delivery)
        .body(body.to_vec());
    if retry > 0 {
        request = request.header("x-atlassian-webhook-retry", retry.to_string());
    }
    if let Some(secret) = secret {
        request = request.header("x-hub-signature", hub_signature(secret, body));
    }
    match request.send().await {
        Ok(r) => r.status(),
        Err(e) => panic!("posting to ingest: {e}"),
    }
}
