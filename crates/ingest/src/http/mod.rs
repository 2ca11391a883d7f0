//! The HTTP shell around normalization: routes, shared state, serving and shutdown.

mod answer;
mod body;
mod server;
mod store;
mod tls;
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
/// `listener` (HTTPS when `tls_cert` and `tls_key` are set) until `shutdown` is cancelled; then
/// stops accepting, lets in-flight requests finish (their writes included) and flushes the
/// producer.
pub async fn serve(
    listener: tokio::net::TcpListener,
    kafka: KafkaConfig,
    config: IngestConfig,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    config.validate()?;
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        _ => None,
    };
    // Bound before serving webhooks, so a metrics address in use stops the role at once.
    let metrics_listener = match &config.metrics_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| Error::Bind {
                    addr: addr.clone(),
                    source,
                })?,
        ),
        None => None,
    };
    let store = Store::new(kafka.compressed_producer()?, kafka.topics());
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
    let read_timeout = config.request_read_timeout;
    let metrics_task = match metrics_listener {
        Some(listener) => {
            let addr = local_addr(&listener);
            tracing::info!(%addr, "ingest metrics listening");
            Some(tokio::spawn(server::serve_router(
                listener,
                common::telemetry::metrics_router(),
                read_timeout,
                None,
                shutdown.clone(),
            )))
        }
        None => {
            app = app.merge(common::telemetry::metrics_router());
            None
        }
    };
    let addr = local_addr(&listener);
    tracing::info!(%addr, tls = tls.is_some(), integrations = config.integrations.len(), "ingest listening");
    server::serve_router(listener, app, read_timeout, tls, shutdown).await;
    store.flush(SHUTDOWN_FLUSH).await;
    if let Some(task) = metrics_task {
        if let Err(e) = task.await {
            tracing::warn!(error = %e, "metrics server task failed");
        }
    }
    tracing::info!(%addr, "ingest stopped");
    Ok(())
}

fn local_addr(listener: &tokio::net::TcpListener) -> String {
    listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default()
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
