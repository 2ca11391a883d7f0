//! Accepted deliveries reach `raw` keyed by their partition key; out-of-scope ones are
//! acknowledged, logged and not forwarded; health, readiness, metrics and shutdown.

use anyhow::Result;
use schema::v1::{Action, LogLevel};

use super::harness::{config, fixture, integrations, sign, Ingest, CLOUD_TOKEN, SERVER_TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_signed_and_server_token_deliveries_reach_raw() -> Result<()> {
    let ingest = Ingest::start(config(integrations())).await?;
    let cloud = fixture("11_");
    let signature = sign(&cloud);
    let headers = [
        ("X-Hub-Signature", signature.as_str()),
        ("X-Atlassian-Webhook-Identifier", "cloud-1"),
        ("X-Atlassian-Webhook-Flow", "Primary"),
    ];
    let answer = ingest.post_json(CLOUD_TOKEN, &headers, &cloud).await?;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["status"], "accepted");

    let server = fixture("23_");
    let answer = ingest.post_json(SERVER_TOKEN, &[], &server).await?;
    assert_eq!(answer.status, 200, "{:?}", answer.body);

    // An event ingest does not know is stored, not refused.
    let unknown = br#"{"timestamp": 1, "webhookEvent": "option_voting_changed"}"#;
    assert_eq!(
        ingest.post_json(SERVER_TOKEN, &[], unknown).await?.status,
        200
    );

    let raw = ingest.raw().await?;
    assert_eq!(raw.len(), 3);
    for (key, event) in &raw {
        assert_eq!(key, &event.partition_key, "raw is keyed by partition key");
        assert!(event.received_at_ms > 0);
    }
    let (_, c) = raw
        .iter()
        .find(|(_, e)| e.integration_id == "cloud")
        .unwrap();
    assert_eq!(
        (c.delivery_id.as_str(), c.flow.as_str(), c.body.as_slice()),
        ("cloud-1", "Primary", cloud.as_slice())
    );
    assert_eq!(
        c.partition_key,
        "https://some-instance-test.atlassian.net|issue|10040"
    );
    let (_, s) = raw
        .iter()
        .find(|(_, e)| e.event_name == "comment_created" && e.integration_id == "server")
        .unwrap();
    assert_eq!(
        s.associated.as_ref().unwrap().id,
        "10013",
        "Server comment finds its issue through comment.self"
    );
    assert_eq!(s.action(), Action::Create);
    assert!(
        s.delivery_id.starts_with("sha256:"),
        "no identifier header: a body hash"
    );
    assert!(raw
        .iter()
        .any(|(_, e)| !e.known_event && e.event_name == "option_voting_changed"));
    let log = ingest.log().await?;
    assert!(log
        .iter()
        .any(|e| e.code == "unknown_event" && e.level == LogLevel::Warning as i32));
    ingest.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_scope_events_are_acknowledged_logged_and_not_forwarded() -> Result<()> {
    let mut integrations = integrations();
    let server = &mut integrations[1];
    server.filters.projects = vec!["OTHER".into()];
    let mut ops = server.clone();
    ops.id = "ops".into();
    ops.token = "ops-token-0123456789abcdef".into();
    ops.filters.projects.clear();
    ops.projects.insert("PRJA".into(), "OPS".into());
    ops.writable_workspaces = Some(vec!["PLAT".into()]);
    integrations.push(ops);
    let ingest = Ingest::start(config(integrations)).await?;

    // Project TES is outside the filter of `server`.
    let answer = ingest
        .post_json(
            SERVER_TOKEN,
            &[("X-Atlassian-Webhook-Identifier", "filtered")],
            &fixture("20_"),
        )
        .await?;
    assert_eq!(
        (answer.status, answer.body["status"].as_str()),
        (200, Some("ignored"))
    );
    // Project PRJA maps to workspace OPS, which ann may not write through `ops`.
    let answer = ingest
        .post_json(
            "ops-token-0123456789abcdef",
            &[("X-Atlassian-Webhook-Identifier", "forbidden")],
            &fixture("22_"),
        )
        .await?;
    assert_eq!(
        (answer.status, answer.body["status"].as_str()),
        (200, Some("ignored"))
    );

    assert!(
        ingest.raw().await?.is_empty(),
        "out-of-scope events are not forwarded"
    );
    let log = ingest.log().await?;
    let reason = |id: &str| {
        log.iter()
            .find(|e| e.delivery_id == id && e.code == "out_of_scope")
            .map(|e| e.message.clone())
    };
    assert!(reason("filtered")
        .unwrap()
        .contains("project TES is outside the integration's project filter"));
    assert!(reason("forbidden")
        .unwrap()
        .contains("may not write workspace OPS"));
    ingest.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics() -> Result<()> {
    let ingest = Ingest::start(config(integrations())).await?;
    let health = ingest.request("GET", "/healthz", &[], b"").await?;
    assert_eq!(health.status, 200);
    let ready = ingest.request("GET", "/readyz", &[], b"").await?;
    assert_eq!(ready.status, 200, "{:?}", ready.body);
    ingest.post_json(SERVER_TOKEN, &[], &fixture("24_")).await?;
    let metrics = ingest.request("GET", "/metrics", &[], b"").await?;
    assert_eq!(metrics.status, 200);
    let text = metrics.body.as_str().unwrap_or_default().to_owned();
    assert!(text.contains("auditstream_ingest_requests_total"), "{text}");
    assert!(
        text.contains("auditstream_ingest_request_duration_seconds"),
        "{text}"
    );
    ingest.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_request_in_flight() -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ingest = Ingest::start(config(integrations())).await?;
    let body = fixture("22_");
    let mut stream = tokio::net::TcpStream::connect(ingest.addr).await?;
    let head = format!(
        "POST /webhooks/jira/{SERVER_TOKEN} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    let (first, rest) = body.split_at(body.len() / 2);
    stream.write_all(first).await?;
    stream.flush().await?;
    // The request is being read when shutdown starts: it must still be stored and answered.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    ingest.cancel();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!ingest.stopped(), "serve waits for the request in flight");
    stream.write_all(rest).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let answer = super::harness::parse_answer(&raw)?;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let raw_events = ingest.raw().await?;
    assert_eq!(raw_events.len(), 1);
    ingest.stop().await
}
