//! The ingest scenario: concurrent HTTP clients posting real Jira fixture bodies to
//! `ingest::serve` (writes acknowledged by the broker with `acks=all`), beside a bare axum
//! server answering `200 OK` measured in the same run, as the limit of HTTP on this machine, and
//! ingest's broker writes alone (`ingest_writes`), as the limit of the broker and its client.

use std::path::Path;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use ingest::IngestConfig;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::broker::{self, Target};
use crate::http_load::{self, Endpoint};
use crate::ingest_writes;
use crate::report::{Distribution, Table};
use crate::Error;

/// The token of the harness's integration (≥ 128 bits, as ingest requires).
const TOKEN: &str = "bench-token-0123456789abcdef";

/// The repository's real Jira fixtures, for the benches and examples built from this crate.
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/jira");

/// Every `*.json` fixture body under `dir`, sorted by name.
pub fn fixture_bodies(dir: &Path) -> Result<Vec<Vec<u8>>, Error> {
    let io = |source| Error::Http {
        context: format!("reading fixtures in {}", dir.display()),
        source,
    };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).map_err(io)).collect()
}

/// What one load run measured.
#[derive(Debug)]
pub(crate) struct Load {
    pub requests: usize,
    pub failures: usize,
    pub elapsed: Duration,
    pub latency_ms: Distribution,
    /// CPU seconds the harness process and the broker used during the load.
    pub cpu: (f64, Option<f64>),
}

impl Load {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// "T µs (harness H + broker B)" of CPU per request, over the whole machine's cores.
    fn cpu_per_request(&self) -> String {
        let per = |seconds: f64| seconds * 1e6 / self.requests.max(1) as f64;
        let (own, broker) = self.cpu;
        match broker {
            Some(b) => format!(
                "{:.0} µs (harness {:.0} + broker {:.0})",
                per(own + b),
                per(own),
                per(b)
            ),
            None => format!("{:.0} µs (harness)", per(own)),
        }
    }

    /// Waits for load tasks started at `start`, each returning (latencies in ms, failures).
    pub(crate) async fn gather(
        start: Instant,
        tasks: Vec<tokio::task::JoinHandle<(Vec<f64>, usize)>>,
    ) -> Result<Load, Error> {
        let mut all = Vec::new();
        let mut failures = 0;
        for t in tasks {
            let (l, f) = t.await.map_err(Error::TaskLost)?;
            all.extend(l);
            failures += f;
        }
        Ok(Load {
            requests: all.len(),
            failures,
            elapsed: start.elapsed(),
            latency_ms: Distribution::of(all),
            cpu: (0.0, None),
        })
    }
}

/// Runs both servers under the same load and adds the rows to `table`.
pub async fn run(
    target: &Target,
    clients: usize,
    duration: Duration,
    fixtures: &Path,
    table: &mut Table,
) -> Result<(), Error> {
    let bodies = fixture_bodies(fixtures)?;
    let shared: Vec<Bytes> = bodies.iter().map(|b| Bytes::from(b.clone())).collect();
    let conditions = format!("{clients} clients, {} fixtures, {duration:?}", bodies.len());

    let shutdown = CancellationToken::new();
    let bare = bind().await?;
    let path = format!("/webhooks/jira/{TOKEN}");
    let bare_at = Endpoint {
        addr: addr(&bare)?,
        path: path.clone(),
    };
    let bare_app = Router::new().route("/webhooks/jira/{token}", post(|| async { StatusCode::OK }));
    let s = shutdown.clone();
    tokio::spawn(async move {
        axum::serve(bare, bare_app)
            .with_graceful_shutdown(async move { s.cancelled().await })
            .await
    });

    let kafka = target.fresh_config("ingest");
    let broker_pid = target.pid;
    broker::create_topics(&kafka, &[]).await?;
    let listener = bind().await?;
    let ingest_at = Endpoint {
        addr: addr(&listener)?,
        path,
    };
    let ingest_task = tokio::spawn(ingest::serve(
        listener,
        kafka.clone(),
        ingest_config()?,
        shutdown.clone(),
    ));

    // Warm both up (connections, producer metadata) before measuring.
    http_load::load(&bare_at, clients, Duration::from_secs(1), &shared).await?;
    http_load::load(&ingest_at, clients, Duration::from_secs(2), &shared).await?;
    ingest_writes::load(&kafka, clients, Duration::from_secs(1), &bodies).await?;
    let bare_load = with_cpu(
        "bare axum",
        broker_pid,
        http_load::load(&bare_at, clients, duration, &shared),
    )
    .await?;
    let writes_load = with_cpu(
        "broker writes alone",
        broker_pid,
        ingest_writes::load(&kafka, clients, duration, &bodies),
    )
    .await?;
    let ingest_load = with_cpu(
        "ingest",
        broker_pid,
        http_load::load(&ingest_at, clients, duration, &shared),
    )
    .await?;
    shutdown.cancel();
    ingest_task
        .await
        .map_err(Error::TaskLost)?
        .map_err(Error::ingest)?;

    for (name, l) in [
        ("bare axum 200 OK", &bare_load),
        ("broker writes alone (acks=all)", &writes_load),
        ("ingest (acks=all)", &ingest_load),
    ] {
        let rate = l.rate();
        table.row(
            "ingest",
            &format!("{name}: requests/s"),
            format!("{rate:.0}/s ({} failed)", l.failures),
            &conditions,
        );
        table.row(
            "ingest",
            &format!("{name}: latency p50 / p99 / p99.9"),
            l.latency_ms.tail_millis(),
            &conditions,
        );
        table.row(
            "ingest",
            &format!("{name}: CPU per request"),
            l.cpu_per_request(),
            "harness process (load generator, server, client) + broker",
        );
    }
    for (name, ratio) in [
        ("ingest / bare axum", ingest_load.rate() / bare_load.rate()),
        (
            "broker writes alone / bare axum",
            writes_load.rate() / bare_load.rate(),
        ),
        (
            "ingest / broker writes alone",
            ingest_load.rate() / writes_load.rate(),
        ),
    ] {
        table.row("ingest", name, format!("{ratio:.2}×"), &conditions);
    }
    if ingest_load.failures + writes_load.failures > 0 {
        return Err(Error::Verification(format!(
            "{} ingest requests were not accepted, {} broker writes failed",
            ingest_load.failures, writes_load.failures
        )));
    }
    Ok(())
}

/// Runs one load and records the CPU the harness process and the broker spent on it. Its start
/// and end are logged, which `profile.sh` cuts a profile at.
async fn with_cpu(
    phase: &str,
    broker_pid: Option<u32>,
    run: impl std::future::Future<Output = Result<Load, Error>>,
) -> Result<Load, Error> {
    tracing::info!(phase, "ingest load started");
    let cpu = broker::CpuSample::now(broker_pid);
    let mut measured = run.await?;
    measured.cpu = cpu.used_since(broker_pid);
    tracing::info!(phase, requests = measured.requests, "ingest load done");
    Ok(measured)
}

fn ingest_config() -> Result<IngestConfig, Error> {
    #[derive(Deserialize)]
    struct File {
        ingest: IngestConfig,
    }
    let text = format!(
        "{}\n[[ingest.integrations]]\nid = \"bench\"\ntoken = \"{TOKEN}\"\nrun_as = \"bench@bench.example\"\n",
        ingest::DEFAULT_TOML.replace("integrations = []", "")
    );
    let mut c = toml::from_str::<File>(&text).map_err(Error::config)?.ingest;
    c.listen = "127.0.0.1:0".into();
    // The load may exceed the default bound; a 503 would count as a failure.
    c.max_in_flight = c.max_in_flight.max(4096);
    Ok(c)
}

async fn bind() -> Result<TcpListener, Error> {
    TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|source| Error::Http {
            context: "binding".into(),
            source,
        })
}

fn addr(l: &TcpListener) -> Result<std::net::SocketAddr, Error> {
    l.local_addr().map_err(|source| Error::Http {
        context: "local address".into(),
        source,
    })
}
