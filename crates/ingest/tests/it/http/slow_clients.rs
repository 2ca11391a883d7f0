//! Slow clients: a body trickled past `request_read_timeout` is answered 408 and kept in
//! `raw.rejected`, its `max_in_flight` slot freed; headers never finished get the connection
//! closed. The clients send far slower than the (short) timeout allows, so the outcome does not
//! depend on how fast the machine is; the outer bounds only turn a hang into a failure.

use std::time::Duration;

use anyhow::{Context, Result};
use schema::v1::LogLevel;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::harness::{config, fixture, integrations, parse_answer, Ingest, SERVER_TOKEN};

/// Far longer than any answer here may take; reaching it means the server hung.
const HANG: Duration = Duration::from_secs(60);
/// Pause between trickled bytes: ten of them already exceed the test timeout.
const TRICKLE: Duration = Duration::from_millis(100);

fn slow_config() -> ingest::IngestConfig {
    let mut config = config(integrations());
    config.request_read_timeout = Duration::from_secs(1);
    // One slot: the trickling client holds it until the timeout frees it.
    config.max_in_flight = 1;
    config
}

/// Writes `first` at once, then `rest` one byte per TRICKLE, then nothing (never closing its
/// side), and returns all the server sent until it closed the connection.
async fn trickle(ingest: &Ingest, first: Vec<u8>, rest: Vec<u8>) -> Result<Vec<u8>> {
    let stream = TcpStream::connect(ingest.addr).await?;
    let (mut reader, mut writer) = stream.into_split();
    let writer = tokio::spawn(async move {
        writer.write_all(&first).await?;
        for byte in rest {
            tokio::time::sleep(TRICKLE).await;
            writer.write_all(&[byte]).await?;
        }
        // Dropping the write half would send FIN, and the server would see a finished
        // client instead of a slow one: keep it open until aborted.
        std::future::pending::<()>().await;
        anyhow::Ok(())
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(HANG, reader.read_to_end(&mut answer))
        .await
        .context("the server kept a slow client's connection open")?;
    writer.abort();
    // A reset instead of a clean close also ends the connection; what came before it counts.
    if let Err(e) = read {
        anyhow::ensure!(
            e.kind() == std::io::ErrorKind::ConnectionReset,
            "reading: {e}"
        );
    }
    Ok(answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_gets_408_is_kept_in_raw_rejected_and_frees_its_slot() -> Result<()> {
    let ingest = Ingest::start(slow_config()).await?;
    let body = fixture("23_");
    let head = format!(
        "POST /webhooks/jira/{SERVER_TOKEN} HTTP/1.1\r\nHost: ingest\r\n\
         Content-Type: application/json\r\nX-Atlassian-Webhook-Identifier: slow-body-1\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    // The headers and a first piece of the body at once, so the kept prefix is not empty.
    let sent_at_once = 16;
    let mut first = head.into_bytes();
    first.extend_from_slice(&body[..sent_at_once]);
    let raw = trickle(&ingest, first, body[sent_at_once..].to_vec()).await?;

    let answer = parse_answer(&raw)?;
    assert_eq!(answer.status, 408, "{:?}", answer.body);
    assert_eq!(answer.error_code(), "request_timeout");
    assert_eq!(answer.header("connection"), Some("close"));

    // The slot is free again: with max_in_flight = 1 a normal delivery is accepted.
    let answer = ingest.post_json(SERVER_TOKEN, &[], &body).await?;
    assert_eq!(answer.status, 200, "{:?}", answer.body);

    let rejected = ingest.rejected().await?;
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    let kept = &rejected[0];
    assert_eq!(
        (kept.reason.as_str(), kept.status, kept.delivery_id.as_str()),
        ("request_timeout", 408, "slow-body-1")
    );
    assert!(kept.body.len() >= sent_at_once && kept.body.len() < body.len());
    assert!(
        body.starts_with(&kept.body),
        "the part of the body that came is kept as it came"
    );
    assert!(kept.body_truncated);
    assert_eq!(kept.body_len, body.len() as u64, "the declared length");
    let log = ingest.log().await?;
    assert!(log.iter().any(|e| e.code == "request_timeout"
        && e.status == 408
        && e.level == LogLevel::Warning as i32));
    assert_eq!(ingest.raw().await?.len(), 1, "only the normal delivery");
    ingest.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_disconnected() -> Result<()> {
    let ingest = Ingest::start(slow_config()).await?;
    let head = format!("POST /webhooks/jira/{SERVER_TOKEN} HTTP/1.1\r\nHost: ingest\r\nX-Slow: ");
    // One header value, one byte at a time, never ending: the header read timeout is not
    // restarted by bytes arriving.
    let endless = vec![b'a'; 100_000];
    let raw = trickle(&ingest, head.into_bytes(), endless).await?;
    if !raw.is_empty() {
        let answer = parse_answer(&raw)?;
        assert!(
            answer.status >= 400,
            "unfinished headers answered {}",
            answer.status
        );
    }
    // A connection that never sends a byte (an idle keep-alive one looks the same) is closed
    // too.
    let silent = trickle(&ingest, Vec::new(), Vec::new()).await?;
    assert!(silent.is_empty(), "{}", String::from_utf8_lossy(&silent));
    // The server itself is fine and serves others.
    assert_eq!(
        ingest.request("GET", "/healthz", &[], b"").await?.status,
        200
    );
    assert!(
        ingest.rejected().await?.is_empty(),
        "no request, nothing kept"
    );
    ingest.stop().await
}
