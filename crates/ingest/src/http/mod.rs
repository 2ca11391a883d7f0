//! The HTTP shell around normalization: routes, shared state, serving and shutdown.

mod answer;
mod body;
mod store;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{any, get};
use axum::Router;
use common::kafka::KafkaConfig;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::config::{IngestConfig, IntegrationConfig};
use crate::Error;
use store::Store;

/// How long shutdown waits for queued writes after the last request was answered.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(10);

/// One configured integration, with its token kept as a digest for constant-time lookup.
pub(crate) struct Integration {
    config: IntegrationConfig,
    token_digest: [u8; 32],
}

pub(crate) struct AppState {
    config: IngestConfig,
    integrations: Vec<Integration>,
    store: Store,
    in_flight: Arc<Semaphore>,
}

impl AppState {
    /// The integration owning `token`. Every integration is compared, each in constant time
    /// over equal-length digests, so timing reveals neither which nor how much matched.
    fn integration_for(&self, token: &str) -> Option<&Integration> {
        let wanted: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for integration in &self.integrations {
            if bool::from(integration.token_digest.ct_eq(&wanted)) {
                found = Some(integration);
            }
        }
        found
    }
}

/// Binds `config.listen` and serves until `shutdown` is cancelled.
pub async fn run(
    kafka: KafkaConfig,
    config: IngestConfig,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|source| Error::Bind {
            addr: config.listen.clone(),
            source,
        })?;
    serve(listener, kafka, config, shutdown).await
}

/// Serves the webhook endpoint, health checks and (unless `metrics_listen` is set) metrics on
/// `listener` until `shutdown` is cancelled; then stops accepting, lets in-flight requests
/// finish (their writes included) and flushes the producer.
pub async fn serve(
    listener: tokio::net::TcpListener,
    kafka: KafkaConfig,
    config: IngestConfig,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    config.validate()?;
    let store = Store::new(kafka.producer()?, kafka.topics());
    let integrations = config
        .integrations
        .iter()
        .map(|c| Integration {
            config: c.clone(),
            token_digest: Sha256::digest(c.token.as_bytes()).into(),
        })
        .collect();
    let state = Arc::new(AppState {
        in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
        integrations,
        store: store.clone(),
        config: config.clone(),
    });
    let mut app = Router::new()
        .route("/webhooks/jira/{token}", any(webhook::receive))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state);
    let metrics_task = match &config.metrics_listen {
        Some(addr) => {
            let addr = addr
                .parse()
                .map_err(|e| Error::Config(format!("metrics_listen {addr}: {e}")))?;
            Some(tokio::spawn(common::telemetry::serve_metrics(
                addr,
                shutdown.clone(),
            )))
        }
        None => {
            app = app.merge(common::telemetry::metrics_router());
            None
        }
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::info!(%addr, integrations = config.integrations.len(), "ingest listening");
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .map_err(Error::Serve);
    store.flush(SHUTDOWN_FLUSH).await;
    if let Some(task) = metrics_task {
        match task.await {
            Ok(Err(e)) => tracing::warn!(error = %e, "metrics server failed"),
            Err(e) => tracing::warn!(error = %e, "metrics server task failed"),
            Ok(Ok(())) => {}
        }
    }
    tracing::info!(%addr, "ingest stopped");
    served
}

async fn healthz() -> Response {
    answer::ok(serde_json::json!({"status": "ok"}))
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    match state
        .store
        .check_ready(state.config.readiness_timeout)
        .await
    {
        Ok(()) => answer::ok(serde_json::json!({"status": "ready"})),
        Err(detail) => answer::unavailable("not_ready", detail, state.config.retry_after),
    }
}
