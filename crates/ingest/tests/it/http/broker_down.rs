//! With the broker down no request is answered 2xx (503 + Retry-After instead, so Jira
//! retries); once it is back, Jira-style retries succeed and `raw` holds each event exactly as
//! many times as it was acknowledged. Needs the embedded broker (it can be stopped).

use std::time::Duration;

use anyhow::Result;

use super::harness::{config, fixture, integrations, Ingest, SERVER_TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_down_means_503_then_retries_succeed() -> Result<()> {
    if std::env::var("AUDITSTREAM_TEST_BROKERS").is_ok_and(|b| !b.is_empty()) {
        eprintln!("skipped: an external broker cannot be stopped from here");
        return Ok(());
    }
    let ingest = Ingest::start(config(integrations())).await?;
    let bodies = [fixture("20_"), fixture("24_")];
    // Warm up: the first write works.
    assert_eq!(
        ingest
            .post_json(SERVER_TOKEN, &[], &bodies[0])
            .await?
            .status,
        200
    );
    let mut acknowledged = 1usize;

    ingest.broker.as_ref().unwrap().set_down(true)?;
    for body in &bodies {
        let answer = ingest.post_json(SERVER_TOKEN, &[], body).await?;
        assert_eq!(
            answer.status, 503,
            "never a 2xx while the broker is down: {:?}",
            answer.body
        );
        assert_eq!(answer.header("retry-after"), Some("7"));
    }

    ingest.broker.as_ref().unwrap().set_down(false)?;
    // Jira retries a 5xx with X-Atlassian-Webhook-Retry; keep retrying each until acknowledged.
    for body in &bodies {
        let mut retry = 1;
        loop {
            let count = retry.to_string();
            let answer = ingest
                .post_json(
                    SERVER_TOKEN,
                    &[("X-Atlassian-Webhook-Retry", count.as_str())],
                    body,
                )
                .await?;
            if answer.status == 200 {
                acknowledged += 1;
                break;
            }
            assert_eq!(answer.status, 503, "{:?}", answer.body);
            assert!(retry < 40, "the broker came back but writes still fail");
            retry += 1;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    let raw = ingest.raw().await?;
    assert_eq!(
        raw.len(),
        acknowledged,
        "raw holds exactly the acknowledged events"
    );
    assert_eq!(
        raw.iter()
            .filter(|(_, e)| e.event_name == "comment_updated")
            .count(),
        1
    );
    assert_eq!(
        raw.iter()
            .filter(|(_, e)| e.event_name == "jira:issue_updated")
            .count(),
        2
    );
    assert!(raw
        .iter()
        .any(|(_, e)| e.event_name == "comment_updated" && e.retry_count >= 1));
    ingest.stop().await
}
