//! Serving a router over HTTP/1.1, optionally inside TLS, with hyper directly rather than
//! `axum::serve`: axum gives hyper no timer, so hyper's header read timeout would be off and a
//! client that never finishes its headers could keep its connection (and a task) forever.
//! Shutdown is graceful as with axum: stop accepting, let every request in flight finish.

use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::metrics::CONNECTIONS_DROPPED_TOTAL;

/// How long to wait before accepting again after the listener itself failed (e.g. too many
/// open files), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Serves `router` on `listener` until `shutdown` is cancelled, then waits for the connections
/// still open to finish their request in flight (idle ones are closed at once).
pub(crate) async fn serve_router(
    listener: TcpListener,
    router: Router,
    read_timeout: Duration,
    tls: Option<TlsAcceptor>,
    shutdown: CancellationToken,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(read_timeout);
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(%peer, error = %e, "TCP_NODELAY not set");
        }
        // Taken before spawning so shutdown waits for this connection even while its TLS
        // handshake is still under way.
        let watcher = graceful.watcher();
        let http = http.clone();
        let router = router.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let Some(tls) = tls else {
                return connection(&http, stream, router, watcher, peer).await;
            };
            match tokio::time::timeout(read_timeout, tls.accept(stream)).await {
                Ok(Ok(stream)) => connection(&http, stream, router, watcher, peer).await,
                Ok(Err(e)) => {
                    dropped("tls_handshake_failed");
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                }
                Err(_) => {
                    dropped("tls_handshake_timeout");
                    tracing::debug!(%peer, "TLS handshake timed out");
                }
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

async fn connection<S>(
    http: &http1::Builder,
    stream: S,
    router: Router,
    watcher: Watcher,
    peer: std::net::SocketAddr,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let served = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router));
    if let Err(e) = watcher.watch(served).await {
        if e.is_timeout() {
            dropped("header_timeout");
        }
        // Header read timeouts, clients going away: the client's problem, not an operator's.
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

fn dropped(reason: &'static str) {
    metrics::counter!(CONNECTIONS_DROPPED_TOTAL, "reason" => reason).increment(1);
}

/// Errors about one incoming connection only; the listener itself is fine.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}
