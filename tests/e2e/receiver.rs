//! A webhook receiver hosted by the test: it verifies each delivery's Standard Webhooks
//! signature with `emitter::signing::verify`, checks that `webhook-id` is the audit's id, and
//! records what it accepted (2xx) and refused. Like a receiver that follows the Standard
//! Webhooks contract, it applies each `webhook-id` once: a redelivery of an id it already
//! applied is acknowledged and compared with the first body, and a redelivery with a different
//! body (which such a receiver could not recognise as the same audit) is recorded as a conflict.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use emitter::signing::{verify, WebhookSecret};

/// The sinks' signing secret in these tests.
pub const SINK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

struct ReceiverState {
    /// Pause before answering 200, so a kill lands while deliveries are in flight.
    pause: Duration,
    accepted: Mutex<Vec<String>>,
    refused: Mutex<Vec<String>>,
    /// The first body applied for each audit id.
    applied: Mutex<HashMap<String, Bytes>>,
    /// Audit ids redelivered with a body other than the one applied.
    conflicts: Mutex<Vec<String>>,
}

pub struct Receiver {
    pub url: String,
    state: Arc<ReceiverState>,
    server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// A receiver on `127.0.0.1:port` (0: any free port) answering 200 after `pause`.
    pub async fn start(port: u16, pause: Duration) -> Receiver {
        let state = Arc::new(ReceiverState {
            pause,
            accepted: Mutex::new(Vec::new()),
            refused: Mutex::new(Vec::new()),
            applied: Mutex::new(HashMap::new()),
            conflicts: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("binding the webhook receiver");
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("webhook receiver");
        });
        Receiver { url, state, server }
    }

    /// Audit ids accepted (answered 2xx), in arrival order.
    pub fn accepted(&self) -> Vec<String> {
        self.state.accepted.lock().unwrap().clone()
    }

    /// Deliveries refused because their signature or id did not verify.
    pub fn refused(&self) -> Vec<String> {
        self.state.refused.lock().unwrap().clone()
    }

    /// Audit ids whose redelivery carried another body than the first: each one an audit a
    /// receiver deduplicating on `webhook-id` would get wrong.
    pub fn conflicts(&self) -> Vec<String> {
        self.state.conflicts.lock().unwrap().clone()
    }

    /// How often each accepted audit id arrived.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for id in self.accepted() {
            *counts.entry(id).or_default() += 1;
        }
        counts
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let id = header("webhook-id");
    let secret = WebhookSecret::parse(SINK_SECRET).expect("the test secret parses");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64;
    let signed = verify(
        &[secret],
        &id,
        &header("webhook-timestamp"),
        &header("webhook-signature"),
        &body,
        now,
    );
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let audit_id = json["audit"]["id"].as_str().unwrap_or_default().to_owned();
    if signed.is_err() || audit_id != id {
        state.refused.lock().unwrap().push(id);
        return StatusCode::UNAUTHORIZED;
    }
    tokio::time::sleep(state.pause).await;
    let mut applied = state.applied.lock().unwrap();
    match applied.get(&audit_id) {
        Some(first) if *first != body => state.conflicts.lock().unwrap().push(audit_id.clone()),
        Some(_) => {}
        None => {
            applied.insert(audit_id.clone(), body);
        }
    }
    drop(applied);
    state.accepted.lock().unwrap().push(audit_id);
    StatusCode::OK
}
