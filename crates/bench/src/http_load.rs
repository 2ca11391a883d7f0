//! The HTTP load generator of the ingest scenario: `clients` tasks, each with its own HTTP/1.1
//! connection (hyper's connection API), posting the fixture bodies in turn and keeping each
//! request's latency.
//!
//! It runs on the same two cores as the server it measures, so whatever it spends is taken
//! from the server. A general-purpose client (connection pool, redirect and timeout layers,
//! each body copied per request) cost about 30 µs of CPU per request, a third of what ingest
//! itself needs; one connection per client and bodies shared as `Bytes` cost less. The bare
//! server and ingest are measured with the same generator.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::ingest_load::Load;
use crate::Error;

/// Where the load goes: the server's address and the request path.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub addr: SocketAddr,
    pub path: String,
}

/// Posts `bodies` in turn from `clients` connections for `duration`.
pub(crate) async fn load(
    endpoint: &Endpoint,
    clients: usize,
    duration: Duration,
    bodies: &[Bytes],
) -> Result<Load, Error> {
    let start = Instant::now();
    let end = start + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (endpoint, bodies) = (endpoint.clone(), bodies.to_vec());
            tokio::spawn(async move { client(&endpoint, c, &bodies, end).await })
        })
        .collect();
    Load::gather(start, tasks).await
}

/// One client until `end`: (latencies in ms, failed requests). A failed request's connection
/// is replaced, as a real sender would.
async fn client(
    endpoint: &Endpoint,
    c: usize,
    bodies: &[Bytes],
    end: Instant,
) -> (Vec<f64>, usize) {
    let (mut latencies, mut failures, mut n) = (Vec::new(), 0usize, c);
    let mut sender: Option<SendRequest<Full<Bytes>>> = None;
    while Instant::now() < end {
        let body = bodies[n % bodies.len()].clone();
        n += 1;
        let sent = Instant::now();
        let ok = match sender.as_mut() {
            Some(s) => post(s, endpoint, c, n, body).await,
            None => match connect(endpoint.addr).await {
                Some(mut s) => {
                    let ok = post(&mut s, endpoint, c, n, body).await;
                    sender = Some(s);
                    ok
                }
                None => false,
            },
        };
        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
        if !ok {
            failures += 1;
            sender = None;
        }
    }
    (latencies, failures)
}

async fn connect(addr: SocketAddr) -> Option<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr).await.ok()?;
    stream.set_nodelay(true).ok()?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await.ok()?;
    tokio::spawn(connection);
    Some(sender)
}

/// One POST, its response read to the end; true on a 2xx.
async fn post(
    sender: &mut SendRequest<Full<Bytes>>,
    endpoint: &Endpoint,
    c: usize,
    n: usize,
    body: Bytes,
) -> bool {
    if sender.ready().await.is_err() {
        return false;
    }
    let request = Request::post(endpoint.path.as_str())
        .header(hyper::header::HOST, endpoint.addr.to_string())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header("x-atlassian-webhook-identifier", format!("bench-{c}-{n}"))
        .body(Full::new(body));
    let Ok(request) = request else { return false };
    match sender.send_request(request).await {
        Ok(response) => {
            let success = response.status().is_success();
            success && response.into_body().collect().await.is_ok()
        }
        Err(_) => false,
    }
}
