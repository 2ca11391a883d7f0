//! The collation core's W-mix bench (`hot_paths`' `apply_and_close_w_mix`) as a plain loop of a
//! fixed number of rounds, for profilers: `perf stat -e instructions:u` gives a count that the
//! shared machine's noise does not move, and `perf record` / `valgrind --tool=callgrind` see
//! only the core.
//!
//! `cargo run --release -p auditstream-bench --example core_profile -- [ROUNDS]`

use std::time::Instant;

use auditstream_bench::memory;
use auditstream_bench::workload;
use collator::core::PartitionCollator;
use prost::Message as _;

/// The allocator the auditstream binaries run with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|r| r.parse().expect("ROUNDS is a number"))
        .unwrap_or(50);
    let w = workload::core_mix();
    let events: Vec<Vec<u8>> = w.events.iter().map(|e| e.encode_to_vec()).collect();
    let started = Instant::now();
    let mut audits = 0;
    for _ in 0..rounds {
        let mut col = PartitionCollator::new(memory::settings(), 0);
        for (i, e) in events.iter().enumerate() {
            col.apply_encoded(e, i as i64).expect("a raw record");
        }
        col.advance(i64::MAX);
        audits += col.take_audits_encoded().len();
        std::hint::black_box(col.take_live());
    }
    let elapsed = started.elapsed();
    let applied = (rounds * events.len()) as f64;
    println!(
        "{rounds} rounds of {} events: {audits} audits, {:.0} events/s",
        events.len(),
        applied / elapsed.as_secs_f64()
    );
}
