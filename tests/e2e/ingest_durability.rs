//! Ingest answers 2xx only after the broker acknowledged the write: with the broker down it
//! answers 503 with Retry-After, and once it is back Jira's retry succeeds.

use std::time::Duration;

use schema::v1::RawEvent;
use schema::Message;

use crate::fixtures::{post, CLOUD_STATUS};
use crate::pipeline::integrations;
use crate::support::{eventually, free_port, wait_healthy, write_config, Auditstream, TestBroker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_2xx_while_the_broker_is_down() {
    let mut broker = TestBroker::start(3).await;
    // A short produce timeout, so a request during the outage gets its 503 quickly.
    broker.kafka.message_timeout = Duration::from_secs(3);
    let Some(embedded) = broker.embedded.as_ref() else {
        // The external broker belongs to the whole CI run; this test stops its own broker.
        eprintln!("skipped against an external broker: it stops the broker it hosts");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(
        &dir,
        &broker,
        &format!(
            "[ingest]\nlisten = \"127.0.0.1:{port}\"\n{}",
            integrations()
        ),
    );
    let _ingest = Auditstream::start("ingest", &config, &["ingest"]);
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&base).await;
    let url = format!("{base}/webhooks/jira/cloud-token-0123456789abcdef0123");
    let secret = Some("It's a Secret to Everybody");
    assert!(post(&client, &url, CLOUD_STATUS, secret, "before", 0)
        .await
        .is_success());

    embedded.set_down(true).unwrap();
    let mut refused = 0;
    for attempt in 0..3 {
        let status = post(&client, &url, CLOUD_STATUS, secret, "during", attempt).await;
        assert!(!status.is_success(), "a 2xx while the broker is down");
        assert_eq!(status, reqwest::StatusCode::SERVICE_UNAVAILABLE);
        refused += 1;
    }
    embedded.set_down(false).unwrap();
    let status = eventually(
        "Jira's retry to succeed once the broker is back",
        Duration::from_secs(60),
        || {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let s = post(&client, &url, CLOUD_STATUS, secret, "during", refused).await;
                s.is_success().then_some(s)
            }
        },
    )
    .await;
    assert!(status.is_success());

    let raw: Vec<RawEvent> = broker
        .read_all(&broker.topics().raw)
        .await
        .iter()
        .map(|(_, v)| RawEvent::decode(v.as_slice()).unwrap())
        .collect();
    let before = raw.iter().filter(|e| e.delivery_id == "before").count();
    let during = raw.iter().filter(|e| e.delivery_id == "during").count();
    assert_eq!(before, 1);
    // Each acknowledged delivery is in raw; a request answered 503 may still have reached the
    // log if the broker took it just before the timeout (it then carries the same dedup key,
    // and the collator applies it once).
    assert!(during >= 1, "the acknowledged retry is in raw");
}
