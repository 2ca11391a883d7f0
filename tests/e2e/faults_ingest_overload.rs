//! Fault scenario 5: `auditstream ingest` with `max_in_flight = 4`. Four slow clients hold every
//! slot by dripping their bodies while a flood of complete requests arrives: the flood is shed
//! with 503 and Retry-After, no request is answered 2xx unless its event is in `raw`, and the
//! process's resident memory stays bounded.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use schema::v1::RawEvent;
use schema::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::fixtures::SERVER_RESOLVED;
use crate::pipeline::integrations;
use crate::support::{free_port, wait_healthy, write_config, Auditstream, TestBroker};

const SERVER_TOKEN: &str = "server-token-0123456789abcdef012";
const MAX_IN_FLIGHT: usize = 4;
const FLOOD: usize = 1_500;
const FLOOD_CONCURRENCY: usize = 64;
/// Growth of ingest's resident memory the flood may cause.
const RSS_GROWTH_LIMIT_KIB: u64 = 64 * 1024;

/// A client that sent its request head and half its body, and holds the rest back.
struct SlowClient {
    stream: TcpStream,
    rest: &'static [u8],
    delivery: String,
}

impl SlowClient {
    async fn start(port: u16, delivery: String) -> SlowClient {
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connecting to ingest");
        let head = format!(
            "POST /webhooks/jira/{SERVER_TOKEN} HTTP/1.1\r\nhost: 127.0.0.1\r\n\
             content-type: application/json\r\nx-atlassian-webhook-identifier: {delivery}\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n",
            SERVER_RESOLVED.len()
        );
        let (first, rest) = SERVER_RESOLVED.split_at(SERVER_RESOLVED.len() / 2);
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(first).await.unwrap();
        stream.flush().await.unwrap();
        SlowClient {
            stream,
            rest,
            delivery,
        }
    }

    /// Sends the rest of the body; returns the response's status code.
    async fn finish(mut self) -> (String, u16) {
        self.stream.write_all(self.rest).await.unwrap();
        let mut response = Vec::new();
        self.stream.read_to_end(&mut response).await.unwrap();
        let text = String::from_utf8_lossy(&response);
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
        (self.delivery, status)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overloaded_ingest_sheds_with_503_and_stays_bounded() {
    let broker = TestBroker::start(3).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(
        &dir,
        &broker,
        &format!(
            "[ingest]\nlisten = \"127.0.0.1:{port}\"\nmax_in_flight = {MAX_IN_FLIGHT}\n\
             retry_after = \"7s\"\n{}",
            integrations()
        ),
    );
    let ingest = Auditstream::start_logging("ingest", &config, &["ingest"], "warn,rdkafka=warn");
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&base).await;
    let url = format!("{base}/webhooks/jira/{SERVER_TOKEN}");
    let client = reqwest::Client::new();
    let rss_before = ingest.rss_kib().expect("VmRSS of ingest");

    let mut slow = Vec::new();
    for i in 0..MAX_IN_FLIGHT {
        slow.push(SlowClient::start(port, format!("slow-{i}")).await);
    }
    // The slow requests reach the handler (and take their slots) once their head is read.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut rss_peak = rss_before;
    let answers: Vec<(String, u16, Option<String>)> = futures::stream::iter((0..FLOOD).map(|i| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let delivery = format!("flood-{i}");
            let response = client
                .post(&url)
                .header("content-type", "application/json")
                .header("x-atlassian-webhook-identifier", &delivery)
                .body(SERVER_RESOLVED)
                .send()
                .await
                .expect("posting to ingest");
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            (delivery, response.status().as_u16(), retry_after)
        }
    }))
    .buffer_unordered(FLOOD_CONCURRENCY)
    .inspect(|_| {
        if let Some(rss) = ingest.rss_kib() {
            rss_peak = rss_peak.max(rss);
        }
    })
    .collect()
    .await;

    let mut statuses: Vec<(String, u16)> =
        answers.iter().map(|(d, s, _)| (d.clone(), *s)).collect();
    for client in slow {
        statuses.push(client.finish().await);
    }
    let after = client
        .post(&url)
        .header("content-type", "application/json")
        .header("x-atlassian-webhook-identifier", "after")
        .body(SERVER_RESOLVED)
        .send()
        .await
        .expect("posting to ingest")
        .status()
        .as_u16();
    statuses.push(("after".into(), after));
    let rss_after = ingest.rss_kib().expect("VmRSS of ingest");

    let shed: Vec<&(String, u16, Option<String>)> =
        answers.iter().filter(|(_, s, _)| *s == 503).collect();
    let accepted: BTreeSet<String> = statuses
        .iter()
        .filter(|(_, s)| (200..300).contains(s))
        .map(|(d, _)| d.clone())
        .collect();
    let raw: BTreeSet<String> = broker
        .read_all(&broker.topics().raw)
        .await
        .iter()
        .map(|(_, v)| RawEvent::decode(v.as_slice()).unwrap().delivery_id)
        .collect();
    let unwritten: Vec<&String> = accepted.difference(&raw).collect();
    let shed_but_written = shed.iter().filter(|(d, _, _)| raw.contains(d)).count();
    eprintln!(
        "e2e faults_ingest_overload: {} requests ({MAX_IN_FLIGHT} slow holding every slot, \
         {FLOOD} flooding {FLOOD_CONCURRENCY} at a time, 1 after): {} answered 2xx, {} shed \
         with 503; expected in raw {} / delivered {} / lost {} / \
         503 yet written {shed_but_written}; VmRSS before {rss_before} KiB, peak {rss_peak} KiB, after {rss_after} KiB",
        statuses.len(),
        accepted.len(),
        shed.len(),
        accepted.len(),
        accepted.len() - unwritten.len(),
        unwritten.len(),
    );
    assert!(
        unwritten.is_empty(),
        "2xx for events not in raw: {unwritten:?}"
    );
    assert!(
        shed.len() >= FLOOD / 2,
        "the flood beyond max_in_flight is shed with 503"
    );
    assert!(
        shed.iter().all(|(_, _, r)| r.as_deref() == Some("7")),
        "every 503 carries Retry-After"
    );
    assert_eq!(shed_but_written, 0, "a shed request reached raw");
    assert!(
        statuses
            .iter()
            .all(|(_, s)| (200..300).contains(s) || *s == 503 || *s == 408),
        "only 2xx, 503 or a slow-client 408: {statuses:?}"
    );
    assert!(
        accepted.contains("after"),
        "ingest serves again after the flood"
    );
    assert!(
        rss_peak.max(rss_after) <= rss_before + RSS_GROWTH_LIMIT_KIB,
        "ingest's memory grew by more than {RSS_GROWTH_LIMIT_KIB} KiB under the flood"
    );
}
