//! `auditstream receive`: a sample subscriber for the webhook sink. It verifies each delivery's
//! Standard Webhooks signature, drops a `webhook-id` it has already seen (the receiver side of
//! "never twice"), and prints each audit as a JSON line.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use emitter::signing::{verify, WebhookSecret};
use tokio_util::sync::CancellationToken;

#[derive(Debug, clap::Args)]
pub struct ReceiveArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    /// Signing secret(s) (`whsec_...`); repeat while rotating.
    #[arg(long = "secret", required = true)]
    secrets: Vec<String>,
}

#[derive(Clone)]
struct Receiver {
    secrets: Arc<Vec<WebhookSecret>>,
    seen: Arc<Mutex<HashSet<String>>>,
}

pub async fn receive(args: ReceiveArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let secrets = args
        .secrets
        .iter()
        .map(|s| WebhookSecret::parse(s).map_err(|e| anyhow::anyhow!("--secret: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let state = Receiver {
        secrets: Arc::new(secrets),
        seen: Arc::default(),
    };
    let app = Router::new().fallback(post(accept)).with_state(state);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    tracing::info!(listen = %args.listen, "sample receiver listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    Ok(())
}

async fn accept(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, timestamp, signature) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let now = schema::now_ms() / 1000;
    if let Err(e) = verify(&receiver.secrets, &id, &timestamp, &signature, &body, now) {
        tracing::warn!(webhook_id = %id, error = %e, "rejected a delivery");
        return (StatusCode::UNAUTHORIZED, "bad signature");
    }
    let first = receiver
        .seen
        .lock()
        .map(|mut seen| seen.insert(id.clone()))
        .unwrap_or(true);
    if first {
        println!("{}", String::from_utf8_lossy(&body));
    } else {
        tracing::info!(webhook_id = %id, "duplicate delivery ignored");
    }
    (StatusCode::NO_CONTENT, "")
}
