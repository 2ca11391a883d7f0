//! The emitter scenario: signed webhook deliveries (the emitter's own webhook sink) to a local
//! receiver that verifies every signature, beside unsigned plain POSTs of the same bodies to
//! the same receiver, measured in the same run.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes as Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use emitter::signing::{verify, WebhookSecret};
use emitter::sinks::webhook::{WebhookConfig, WebhookSink};
use emitter::sinks::AttemptOutcome;
use schema::v1::AuditEvent;
use tokio_util::sync::CancellationToken;

use crate::report::{Distribution, Table};
use crate::Error;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

struct Receiver {
    secrets: Vec<WebhookSecret>,
    verified: AtomicUsize,
    refused: AtomicUsize,
}

async fn receive(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Body) -> StatusCode {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    if h("webhook-signature").is_empty() {
        // The unsigned baseline.
        return StatusCode::OK;
    }
    let now = schema::now_ms() / 1000;
    match verify(
        &r.secrets,
        h("webhook-id"),
        h("webhook-timestamp"),
        h("webhook-signature"),
        &body,
        now,
    ) {
        Ok(()) => {
            r.verified.fetch_add(1, Ordering::Relaxed);
            StatusCode::OK
        }
        Err(_) => {
            r.refused.fetch_add(1, Ordering::Relaxed);
            StatusCode::UNAUTHORIZED
        }
    }
}

/// One sample audit, as the collator emits them.
fn audit(i: u64) -> AuditEvent {
    let e = crate::memory::opening_event(i as usize, &mut crate::workload::Rng::new(i));
    AuditEvent {
        id: 7_316_849_173_094_719_488 + i,
        audit_action: schema::v1::Action::Update as i32,
        created_at_ms: e.received_at_ms,
        user: e.actor.clone(),
        contributors: e.actor.into_iter().collect(),
        auditable: e.record,
        changes: vec![schema::v1::AuditChange {
            field_id: "status".into(),
            field_name: "Status".into(),
            value: Some("In Progress".into()),
            previous_value: Some("To Do".into()),
            ..Default::default()
        }],
        jira_site: e.jira_site,
        record_key: e.partition_key,
        ..Default::default()
    }
}

/// Measures and adds the rows to `table`.
pub async fn run(concurrency: usize, duration: Duration, table: &mut Table) -> Result<(), Error> {
    let secret = WebhookSecret::parse(SECRET).map_err(|e| Error::Verification(e.to_string()))?;
    let receiver = Arc::new(Receiver {
        secrets: vec![secret],
        verified: AtomicUsize::new(0),
        refused: AtomicUsize::new(0),
    });
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(Arc::clone(&receiver));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|source| Error::Http {
            context: "binding receiver".into(),
            source,
        })?;
    let url = format!(
        "http://{}/hook",
        listener.local_addr().map_err(|source| Error::Http {
            context: "receiver address".into(),
            source
        })?
    );
    let shutdown = CancellationToken::new();
    let s = shutdown.clone();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { s.cancelled().await })
            .await
    });

    let config: WebhookConfig =
        toml::from_str(&format!("url = \"{url}\"\nsecrets = [\"{SECRET}\"]"))
            .map_err(Error::config)?;
    let sink = Arc::new(WebhookSink::new(&config).map_err(Error::emitter)?);
    let plain = reqwest::Client::new();
    let signed = drive(concurrency, duration, {
        let sink = Arc::clone(&sink);
        move |i| {
            let sink = Arc::clone(&sink);
            async move {
                let a = audit(i);
                let body = schema::audit_json::render(&a);
                matches!(
                    sink.deliver(&a, &body).await,
                    AttemptOutcome::Delivered { .. }
                )
            }
        }
    })
    .await?;
    let unsigned = drive(concurrency, duration, move |i| {
        let (plain, url) = (plain.clone(), url.clone());
        async move {
            let body = schema::audit_json::render(&audit(i));
            plain
                .post(&url)
                .body(body)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await?;
    shutdown.cancel();
    let refused = receiver.refused.load(Ordering::Relaxed);
    let conditions =
        format!("{concurrency} in flight, {duration:?}, receiver verifies each signature");
    let rate = signed.0 as f64 / duration.as_secs_f64();
    table.row(
        "emitter",
        "signed webhook deliveries/s",
        format!("{rate:.0}/s ({} failed)", signed.1),
        &conditions,
    );
    table.row(
        "emitter",
        "signed delivery latency p50 / p99 / p99.9",
        signed.2.tail_millis(),
        &conditions,
    );
    table.row(
        "emitter",
        "unsigned plain POST/s (same receiver)",
        format!("{:.0}/s", unsigned.0 as f64 / duration.as_secs_f64()),
        &conditions,
    );
    table.row(
        "emitter",
        "p99 added by signing + sink",
        format!(
            "{:.2} ms",
            signed.2.quantile(0.99) - unsigned.2.quantile(0.99)
        ),
        &conditions,
    );
    if refused > 0 || signed.1 > 0 || receiver.verified.load(Ordering::Relaxed) < signed.0 {
        return Err(Error::Verification(format!(
            "{refused} signatures refused, {} deliveries failed",
            signed.1
        )));
    }
    Ok(())
}

/// `concurrency` tasks calling `deliver` for `duration`: (successes, failures, latencies).
async fn drive<F, Fut>(
    concurrency: usize,
    duration: Duration,
    deliver: F,
) -> Result<(usize, usize, Distribution), Error>
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let end = Instant::now() + duration;
    let tasks: Vec<_> = (0..concurrency)
        .map(|c| {
            let deliver = deliver.clone();
            tokio::spawn(async move {
                let (mut ok, mut failed, mut lat, mut i) =
                    (0usize, 0usize, Vec::new(), c as u64 * 1_000_000);
                while Instant::now() < end {
                    let t = Instant::now();
                    if deliver(i).await {
                        ok += 1;
                    } else {
                        failed += 1;
                    }
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    i += 1;
                }
                (ok, failed, lat)
            })
        })
        .collect();
    let (mut ok, mut failed, mut lat) = (0, 0, Vec::new());
    for t in tasks {
        let (o, f, l) = t.await.map_err(Error::TaskLost)?;
        ok += o;
        failed += f;
        lat.extend(l);
    }
    Ok((ok, failed, Distribution::of(lat)))
}
