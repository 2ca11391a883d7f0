//! Criterion benches of auditstream's pure hot paths (issue 6). Each is short: the machine is
//! shared, and ratios within one run matter more than the last digit.

use std::path::Path;
use std::time::Duration;

use auditstream_bench::workload::{self, Rng};
use auditstream_bench::{ingest_load, memory};
use collator::core::PartitionCollator;
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use prost::Message as _;
use schema::v1::{AuditEvent, RawEvent};

/// The allocator the auditstream binaries run with (see `crates/auditstream/src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(ingest_load::FIXTURES);
    let bodies = ingest_load::fixture_bodies(dir).expect("fixtures readable");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("fixtures dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| n[..2].to_owned() + &n[n.rfind('_').unwrap_or(0)..n.len() - 5])
        .zip(bodies)
        .collect()
}

fn normalization(c: &mut Criterion) {
    let mut g = c.benchmark_group("normalize");
    g.throughput(Throughput::Elements(1));
    let source = ingest::normalize::Source {
        integration_id: "bench",
        jira_site: None,
    };
    for (name, body) in fixtures() {
        let delivery = ingest::normalize::Delivery {
            body: &body,
            delivery_id: Some("bench-delivery"),
            retry_count: 0,
            flow: None,
            received_at_ms: 1_767_225_600_000,
        };
        ingest::normalize::normalize(&source, &delivery).expect("every fixture normalizes");
        g.bench_function(name, |b| {
            b.iter(|| ingest::normalize::normalize(&source, black_box(&delivery)))
        });
    }
    g.finish();
}

fn hub_signature(c: &mut Criterion) {
    let (_, body) = fixtures().swap_remove(1);
    let secret = b"It's a Secret to Everybody";
    let header = format!("sha256={}", hex_hmac(secret, &body));
    ingest::signature::verify_hub_signature(secret, &header, &body).expect("valid signature");
    let mut g = c.benchmark_group("x_hub_signature");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("verify_sha256", |b| {
        b.iter(|| {
            ingest::signature::verify_hub_signature(secret, black_box(&header), black_box(&body))
        })
    });
    g.finish();
}

/// The `X-Hub-Signature` digest Jira Cloud would send for `body`, computed independently of
/// the verifier under test.
fn hex_hmac(secret: &[u8], body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret).expect("any key length");
    m.update(body);
    hex::encode(m.finalize().into_bytes())
}

/// Collated audits of a small workload, as the collator emits them.
fn sample_audits() -> (Vec<RawEvent>, Vec<AuditEvent>) {
    let w = workload::core_mix();
    let mut c = PartitionCollator::new(memory::settings(), 0);
    for (i, e) in w.events.iter().enumerate() {
        c.apply(e, i as i64);
    }
    c.advance(i64::MAX);
    (w.events, c.take_audits())
}

fn audit_json_and_protobuf(c: &mut Criterion) {
    let (events, audits) = sample_audits();
    let audit = audits
        .iter()
        .max_by_key(|a| a.changes.len())
        .expect("audits")
        .clone();
    let raw = events[events.len() / 2].clone();
    let mut g = c.benchmark_group("audit_json");
    g.throughput(Throughput::Elements(1));
    g.bench_function("render", |b| {
        b.iter(|| schema::audit_json::render(black_box(&audit)))
    });
    g.finish();

    let mut g = c.benchmark_group("protobuf");
    g.throughput(Throughput::Elements(1));
    let raw_bytes = raw.encode_to_vec();
    let audit_bytes = audit.encode_to_vec();
    g.bench_function("raw_event_encode", |b| {
        b.iter(|| black_box(&raw).encode_to_vec())
    });
    g.bench_function("raw_event_decode", |b| {
        b.iter(|| RawEvent::decode(black_box(raw_bytes.as_slice())))
    });
    g.bench_function("audit_event_encode", |b| {
        b.iter(|| black_box(&audit).encode_to_vec())
    });
    g.bench_function("audit_event_decode", |b| {
        b.iter(|| AuditEvent::decode(black_box(audit_bytes.as_slice())))
    });
    g.finish();
}

/// `col` with `events` applied at offsets from `first_offset` on, each event's live audits
/// read where they were written and cleared, as the shell sends them.
fn applied(mut col: PartitionCollator, events: &[Vec<u8>], first_offset: i64) -> PartitionCollator {
    for (i, e) in events.iter().enumerate() {
        col.apply_encoded(e, first_offset + i as i64)
            .expect("a raw record");
        workload::send_live(&mut col);
    }
    col
}

/// The collator's core as the shell runs it: each event is a `raw` record's bytes (encoded
/// before the timed part), applied as they are read.
fn collation_core(c: &mut Criterion) {
    const N: usize = 10_000;
    // Records whose windows the joining events join: ten events each.
    const JOINING: usize = 1_000;
    let mut rng = Rng::new(9);
    let opening: Vec<Vec<u8>> = (0..N)
        .map(|i| memory::opening_event(i, &mut rng).encode_to_vec())
        .collect();
    let mut g = c.benchmark_group("collation_core");
    g.throughput(Throughput::Elements(N as u64));
    // Events into open windows: each opens its record's window (and makes its live audit).
    g.bench_function("apply_open_windows", |b| {
        b.iter_batched(
            || PartitionCollator::new(memory::settings(), 0),
            |col| applied(col, &opening, 0),
            BatchSize::LargeInput,
        )
    });
    // Events joining open windows: JOINING records' windows opened before the timed part,
    // then N events (N / JOINING per record, interleaved) that each join one and make its
    // live audit, as most events of a burst do.
    let mut opened = memory::joining_events(JOINING, 1 + N / JOINING, &mut rng);
    let joining = opened.split_off(JOINING);
    g.bench_function("apply_joining_open_windows", |b| {
        b.iter_batched(
            || applied(PartitionCollator::new(memory::settings(), 0), &opened, 0),
            |col| applied(col, &joining, JOINING as i64),
            BatchSize::LargeInput,
        )
    });
    // Windows closed: N open windows, one watermark move past all their deadlines.
    g.bench_function("close_windows", |b| {
        b.iter_batched(
            || applied(PartitionCollator::new(memory::settings(), 0), &opening, 0),
            |mut col| {
                col.advance(i64::MAX);
                col.take_audits_encoded()
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
    // Workload W's mix (bursts joining open windows, closes as time passes), per event.
    let (raw_events, _) = sample_audits();
    let events: Vec<Vec<u8>> = raw_events.iter().map(|e| e.encode_to_vec()).collect();
    // The same events as ingest writes them, each with a real Jira request as its body.
    let bodies: Vec<Vec<u8>> = fixtures().into_iter().map(|(_, body)| body).collect();
    let with_bodies = workload::encoded_with_bodies(&raw_events, &bodies);
    let mut g2 = c.benchmark_group("collation_core_workload");
    g2.throughput(Throughput::Elements(events.len() as u64));
    // Flushed as the collator's batches flush: live audits sent, audits and state taken encoded,
    // ready to produce.
    g2.bench_function("apply_and_close_w_mix", |b| {
        b.iter_batched(
            || PartitionCollator::new(memory::settings(), 0),
            |mut col| workload::apply_flushing(&mut col, &events),
            BatchSize::LargeInput,
        )
    });
    g2.bench_function("apply_and_close_w_mix_with_bodies", |b| {
        b.iter_batched(
            || PartitionCollator::new(memory::settings(), 0),
            |mut col| workload::apply_flushing(&mut col, &with_bodies),
            BatchSize::LargeInput,
        )
    });
    g2.finish();
}

fn webhook_signing(c: &mut Criterion) {
    let (_, audits) = sample_audits();
    let body = schema::audit_json::render(&audits[0]);
    let secret = emitter::signing::WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .expect("secret");
    let id = audits[0].id.to_string();
    let mut g = c.benchmark_group("webhook_signing");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sign_standard_webhooks", |b| {
        b.iter(|| emitter::signing::sign(&secret, black_box(&id), 1_767_225_600, black_box(&body)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1)).sample_size(20);
    targets = normalization, hub_signature, audit_json_and_protobuf, collation_core, webhook_signing
}
criterion_main!(benches);
