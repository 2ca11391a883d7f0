//! Ingest's own work per accepted webhook, as a plain loop over the real fixtures for
//! profilers (`valgrind --tool=callgrind` counts instructions the shared machine's noise does not
//! move): the parse and normalization of the body, the scope facts read from it, and the
//! encoding of the `raw` record, as `http::webhook` does them. No HTTP, no broker.
//!
//! `cargo run --release -p auditstream-bench --example ingest_profile -- [ROUNDS]`

use std::path::Path;
use std::time::Instant;

use auditstream_bench::ingest_load::{fixture_bodies, FIXTURES};
use ingest::normalize::{self, Delivery, Source};
use ingest::scope::ScopeFacts;
use prost::Message as _;

/// The allocator the auditstream binaries run with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|r| r.parse().expect("ROUNDS is a number"))
        .unwrap_or(200);
    let bodies = fixture_bodies(Path::new(FIXTURES)).expect("fixtures readable");
    let source = Source {
        integration_id: "bench",
        jira_site: None,
    };
    let started = Instant::now();
    let mut bytes = 0;
    for _ in 0..rounds {
        for body in &bodies {
            let delivery = Delivery {
                body,
                delivery_id: Some("bench-delivery"),
                retry_count: 0,
                flow: None,
                received_at_ms: 1_767_225_600_000,
            };
            let value = normalize::parse(body, normalize::DEFAULT_MAX_DEPTH).expect("a fixture");
            let event = normalize::normalize_value(&source, &delivery, &value).expect("a fixture");
            std::hint::black_box(ScopeFacts::of(&value));
            bytes += event.encode_to_vec().len();
        }
    }
    let elapsed = started.elapsed();
    let bodies_done = (rounds * bodies.len()) as f64;
    println!(
        "{rounds} rounds of {} fixtures: {bytes} bytes encoded, {:.1} µs per body",
        bodies.len(),
        elapsed.as_secs_f64() * 1e6 / bodies_done
    );
}
