#!/usr/bin/env bash
# Reproduces the whole BENCHMARKS.md table on a clean clone: installs tansu (a Kafka-protocol
# broker, in memory), starts it on a free loopback port, runs the load harness (every scenario,
# full workload W) and the criterion benches, then stops tansu.
#
#   bash crates/bench/run.sh                 # everything, full size
#   BENCH_ARGS="--events 50000 --records 2000" bash crates/bench/run.sh   # quicker
#   SKIP_CRITERION=1 bash crates/bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${BENCH_OUT:-target/bench-results}
mkdir -p "$OUT"
# shellcheck source=crates/bench/start-tansu.sh
. crates/bench/start-tansu.sh "$OUT/tansu.log"
cargo build --release -p auditstream-bench --bin auditstream-bench
{
  echo "# $(date -u +%FT%TZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB"
  # shellcheck disable=SC2086
  ./target/release/auditstream-bench --brokers "127.0.0.1:$PORT" --broker-pid "$TANSU_PID" --clients "${BENCH_CLIENTS:-192}" ${BENCH_ARGS:-}
} | tee "$OUT/harness.md"
if [ -z "${SKIP_CRITERION:-}" ]; then
  cargo bench -p auditstream-bench --bench hot_paths 2>&1 | tee "$OUT/criterion.txt" | grep -E '^[a-z_]+/|time:|thrpt:'
fi
