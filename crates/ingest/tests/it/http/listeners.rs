//! Where ingest listens: HTTPS with rustls when `tls_cert`/`tls_key` are set, and `/metrics` on
//! `metrics_listen` only, when that is set.

use anyhow::Result;

use super::harness::{config, fixture, integrations, request_at, Ingest, SERVER_TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_served_over_https_with_the_configured_certificate() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem())?;
    std::fs::write(&key, certified.key_pair.serialize_pem())?;
    let mut config = config(integrations());
    config.tls_cert = Some(cert);
    config.tls_key = Some(key);
    let ingest = Ingest::start(config).await?;

    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(
            certified.cert.pem().as_bytes(),
        )?)
        .resolve("localhost", ingest.addr)
        .build()?;
    let base = format!("https://localhost:{}", ingest.addr.port());
    let body = fixture("23_");
    let answer = client
        .post(format!("{base}/webhooks/jira/{SERVER_TOKEN}"))
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await?;
    assert_eq!(answer.status(), 200);
    let json: serde_json::Value = answer.json().await?;
    assert_eq!(json["status"], "accepted", "{json}");
    let health = client.get(format!("{base}/healthz")).send().await?;
    assert_eq!(health.status(), 200);

    // Plain HTTP on the TLS address gets no answer.
    let plain = ingest.request("GET", "/healthz", &[], b"").await;
    assert!(
        !matches!(&plain, Ok(a) if a.status == 200),
        "plain HTTP was served on the HTTPS address"
    );
    // A client that does not trust the certificate is refused by its own TLS check.
    let untrusting = reqwest::Client::builder()
        .resolve("localhost", ingest.addr)
        .build()?;
    assert!(untrusting
        .get(format!("{base}/healthz"))
        .send()
        .await
        .is_err());

    let raw = ingest.raw().await?;
    assert_eq!(raw.len(), 1);
    assert_eq!(raw[0].1.body, body);
    ingest.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_on_metrics_listen_and_not_on_the_webhook_address() -> Result<()> {
    // A free port picked by the OS; serve binds it again a moment later.
    let metrics_addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let mut config = config(integrations());
    config.metrics_listen = Some(metrics_addr.to_string());
    let ingest = Ingest::start(config).await?;
    // serve binds the metrics address before answering anything: once a webhook is answered,
    // metrics are up.
    let answer = ingest.post_json(SERVER_TOKEN, &[], &fixture("23_")).await?;
    assert_eq!(answer.status, 200, "{:?}", answer.body);

    let metrics = request_at(metrics_addr, "GET", "/metrics", &[], b"").await?;
    assert_eq!(metrics.status, 200);
    let text = metrics.body.as_str().unwrap_or_default();
    assert!(
        text.contains("auditstream_ingest_requests_total"),
        "metrics text: {text}"
    );
    let on_webhook_address = ingest.request("GET", "/metrics", &[], b"").await?;
    assert_eq!(on_webhook_address.status, 404);
    // And the metrics address serves nothing else.
    let webhook_on_metrics = request_at(
        metrics_addr,
        "POST",
        &format!("/webhooks/jira/{SERVER_TOKEN}"),
        &[("Content-Type", "application/json")],
        &fixture("23_"),
    )
    .await?;
    assert_eq!(webhook_on_metrics.status, 404);
    ingest.stop().await
}
