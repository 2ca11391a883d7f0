//! The collation core's benches as a plain loop of a fixed number of rounds, for profilers:
//! `valgrind --tool=callgrind` (or `perf stat -e instructions:u` where the machine has
//! counters) gives a count that the shared machine's noise does not move, and `perf record`
//! sees only the core.
//!
//! - `w` (the default): `hot_paths`' `apply_and_close_w_mix`, 20,000 events of workload W's
//!   shape over 800 records, applied and closed.
//! - `open`: `hot_paths`' `apply_open_windows`, 10,000 one-change events each opening its
//!   record's window (and making its live audit, read and cleared as the shell sends it);
//!   nothing closes.
//! - `join`: `hot_paths`' `apply_joining_open_windows` in one loop: 1,000 records, ten
//!   one-change events each, interleaved, so the first 1,000 open a window and the other
//!   9,000 join one (each making its live audit); nothing closes.
//! - `bodies`: `wflush` with each event carrying a real Jira request body, the fixtures in
//!   turn (0.5 to 18 KB), as ingest writes them: `hot_paths`'
//!   `apply_and_close_w_mix_with_bodies`.
//! - `wflush`: `w` as the collator applies and flushes it (`workload::apply_flushing`): each
//!   event's live audits read and cleared, as the shell sends them, and every
//!   `workload::CORE_FLUSH` events audits and `collator-state` values taken, so the state is
//!   encoded and the dirty list emptied, which `w` never does. `hot_paths`' workload benches
//!   apply it so.
//!
//! `cargo run --release -p auditstream-bench --example core_profile -- [ROUNDS] [w|wflush|bodies|open|join]`

use std::path::Path;
use std::time::Instant;

use auditstream_bench::workload::{self, Rng};
use auditstream_bench::{ingest_load, memory};
use collator::core::PartitionCollator;
use prost::Message as _;

/// The allocator the auditstream binaries run with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Events of the `open` mix, as in `hot_paths`.
const OPENING: usize = 10_000;

/// Records of the `join` mix, as in `hot_paths`.
const JOINING: usize = 1_000;

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args
        .next()
        .map(|r| r.parse().expect("ROUNDS is a number"))
        .unwrap_or(50);
    let mix = args.next().unwrap_or_else(|| "w".into());
    let (events, closes): (Vec<Vec<u8>>, bool) = match mix.as_str() {
        "w" | "wflush" => (
            workload::core_mix()
                .events
                .iter()
                .map(|e| e.encode_to_vec())
                .collect(),
            true,
        ),
        "bodies" => {
            let bodies = ingest_load::fixture_bodies(Path::new(ingest_load::FIXTURES))
                .expect("the fixtures");
            let events = workload::encoded_with_bodies(&workload::core_mix().events, &bodies);
            (events, true)
        }
        "open" => {
            let mut rng = Rng::new(9);
            let events = (0..OPENING)
                .map(|i| memory::opening_event(i, &mut rng).encode_to_vec())
                .collect();
            (events, false)
        }
        "join" => {
            let events = memory::joining_events(JOINING, OPENING / JOINING, &mut Rng::new(9));
            (events, false)
        }
        other => panic!("no mix {other}: w, wflush, bodies, open or join"),
    };
    let started = Instant::now();
    let mut audits = 0;
    for _ in 0..rounds {
        let mut col = PartitionCollator::new(memory::settings(), 0);
        if mix == "wflush" || mix == "bodies" {
            audits += workload::apply_flushing(&mut col, &events);
        } else {
            for (i, e) in events.iter().enumerate() {
                col.apply_encoded(e, i as i64).expect("a raw record");
                workload::send_live(&mut col);
            }
            if closes {
                col.advance(i64::MAX);
                audits += col.take_audits_encoded().len();
            }
        }
        // Dropped inside the loop, as each criterion batch drops its collator.
        drop(std::hint::black_box(col));
    }
    let elapsed = started.elapsed();
    let applied = (rounds * events.len()) as f64;
    println!(
        "{rounds} rounds of {} events ({mix}): {audits} audits, {:.0} events/s",
        events.len(),
        applied / elapsed.as_secs_f64()
    );
}
