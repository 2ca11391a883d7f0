//! Logs as `tracing` events (to stderr, so stdout stays free for JSON-lines sinks) and metrics
//! through the `metrics` facade, exported in Prometheus format on `/metrics`.

use std::net::SocketAddr;

use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use crate::{Error, Result};

/// Installs the tracing subscriber once; later calls are ignored (tests call it many times).
pub fn init_tracing(json: bool) {
    let filter = EnvFilter::try_from_env("AUDITSTREAM_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,rdkafka=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Installs the Prometheus recorder (once per process) and returns its handle.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (embedding applications); then our
            // handle renders only what was recorded through it, which is nothing.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// A router with `GET /metrics`, to merge into a role's HTTP server or serve on its own.
pub fn metrics_router() -> Router {
    let handle = metrics_handle();
    Router::new().route("/metrics", get(move || std::future::ready(handle.render())))
}

/// Serves `/metrics` on its own address until `shutdown` is cancelled.
pub async fn serve_metrics(addr: SocketAddr, shutdown: CancellationToken) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Io {
            context: format!("binding metrics address {addr}"),
            source,
        })?;
    tracing::info!(%addr, "metrics listening");
    axum::serve(listener, metrics_router())
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .map_err(|source| Error::Io {
            context: "serving metrics".into(),
            source,
        })
}
