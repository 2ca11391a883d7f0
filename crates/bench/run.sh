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
TANSU=$(bash .ci/install-tansu)
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$TANSU" broker --listener-url "tcp://127.0.0.1:$PORT" --advertised-listener-url "tcp://127.0.0.1:$PORT" \
  --storage-engine memory://tansu/ >"$OUT/tansu.log" 2>&1 &
TANSU_PID=$!
trap 'kill "$TANSU_PID" 2>/dev/null || true' EXIT
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.2; done
cargo build --release -p auditstream-bench --bin auditstream-bench
{
  echo "# $(date -u +%FT%TZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB"
  # shellcheck disable=SC2086
  ./target/release/auditstream-bench --brokers "127.0.0.1:$PORT" --broker-pid "$TANSU_PID" --clients "${BENCH_CLIENTS:-192}" ${BENCH_ARGS:-}
} | tee "$OUT/harness.md"
if [ -z "${SKIP_CRITERION:-}" ]; then
  cargo bench -p auditstream-bench --bench hot_paths 2>&1 | tee "$OUT/criterion.txt" | grep -E '^[a-z_]+/|time:|thrpt:'
fi
