#!/usr/bin/env bash
# Where the CPU goes in a harness scenario, collator or ingest: runs `auditstream-bench SCENARIO`
# against a fresh tansu (in memory, free loopback port) under a system-wide
# `perf record -e cpu-clock` with real-time timestamps, cuts the samples into the scenario's
# phases at the harness's log lines and prints, per phase, the CPU of the harness and of the
# broker by group (µs per input event, or per request).
#
#   bash crates/bench/profile.sh collator
#   bash crates/bench/profile.sh ingest
#   AUDITSTREAM_BENCH=/tmp/auditstream-bench PROFILE_OUT=/tmp/prof bash crates/bench/profile.sh collator
#   BENCH_ARGS="--events 50000 --records 2000" bash crates/bench/profile.sh collator   # quicker
#   PROFILE_OUT=/tmp/prof bash crates/bench/profile.sh collator --report-only   # re-aggregate
#
# Collator phases (from the log; RUST_LOG below adds rdkafka's producer start/stop trace lines,
# the only markers of phases 4 and 5): prefill; passthrough (its producer's start →
# "passthrough done"); collator ("passthrough done" → its producer destroyed after "collator
# stopped"); read-back (verification, reading the outputs); writes alone and passthrough again
# (each its producer's start → destroyed). Every consume phase includes its ~3 s consumer-group
# join. Ingest phases: bare axum, broker writes alone, ingest (each "ingest load started" →
# "done"), at the one command's 192 clients unless BENCH_CLIENTS says otherwise.
# Needs perf (`perf_event_paranoid` ≤ 0 or root) and python3; no hardware counters needed.
set -euo pipefail
cd "$(dirname "$0")/../.."
SCENARIO=${1:?"usage: profile.sh collator|ingest [--report-only]"}
case "$SCENARIO" in collator | ingest) ;; *) echo "profile.sh: no scenario $SCENARIO" >&2; exit 2 ;; esac
BIN=${AUDITSTREAM_BENCH:-./target/release/auditstream-bench}
OUT=${PROFILE_OUT:-target/profile-$SCENARIO}
mkdir -p "$OUT"
if [ "${2:-}" != "--report-only" ]; then
  # shellcheck source=crates/bench/start-tansu.sh
  . crates/bench/start-tansu.sh "$OUT/tansu.log"
  echo "$TANSU_PID" >"$OUT/tansu.pid"
  # The harness runs as perf's workload, so perf stops when it exits; its pid is written first.
  # shellcheck disable=SC2016,SC2086
  NO_COLOR=1 RUST_LOG="info,rdkafka::client=off,rdkafka::producer=trace" \
    perf record -q -a -g -e cpu-clock -F "${PERF_FREQ:-999}" -k CLOCK_REALTIME -o "$OUT/perf.data" -- \
    sh -c 'echo $$ >"$0/harness.pid"; exec "$@" 2>"$0/harness.log"' "$OUT" \
    "$BIN" --brokers "127.0.0.1:$PORT" --broker-pid "$TANSU_PID" --clients "${BENCH_CLIENTS:-192}" \
    ${BENCH_ARGS:-} "$SCENARIO" | tee "$OUT/harness.md"
  kill "$TANSU_PID" 2>/dev/null || true
fi
# Aggregation of `perf script` (profile.py): phase by sample time, process by pid,
# group by leaf symbol/DSO (kernel samples by their kernel call chain).
perf script -i "$OUT/perf.data" -F comm,pid,tid,time,period,ip,sym,dso 2>/dev/null |
  python3 crates/bench/profile.py "$SCENARIO" "$OUT/harness.log" "$(cat "$OUT/harness.pid")" "$(cat "$OUT/tansu.pid")" "${TOP:-8}" |
  tee "$OUT/profile.md"
