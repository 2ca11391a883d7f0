#!/usr/bin/env bash
# Fuzzes ingest's hostile-input surface: seeds the corpora, then runs each target for SECONDS
# (default 60, CI's budget; run longer by hand), one after the other on one core. Exits non-zero
# on the first finding, whose input libFuzzer leaves in fuzz/artifacts/<target>/.
#   usage: fuzz/run.sh [SECONDS]        env: FUZZ_SANITIZER (default none), FUZZ_TARGETS
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); RUSTC_BOOTSTRAP lets the stable
# toolchain take the nightly-only flags cargo-fuzz passes.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER_TARGET=${1:-60}
SANITIZER=${FUZZ_SANITIZER:-none}
TARGETS=${FUZZ_TARGETS:-normalize hub_signature}
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="$PWD/target"
LOGS="$CARGO_TARGET_DIR/fuzz-logs"
mkdir -p "$LOGS"

bash seed.sh
for target in $TARGETS; do
  dict=()
  [[ -f "$target.dict" ]] && dict=("-dict=$target.dict")
  echo "=== fuzz $target for ${SECONDS_PER_TARGET}s (sanitizer $SANITIZER)"
  echo "    log: $LOGS/$target.log"
  # -timeout: one input taking over 10 s is a finding (a hostile body must stay cheap).
  status=0
  cargo fuzz run --sanitizer "$SANITIZER" --debug-assertions "$target" "corpus/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -print_final_stats=1 "${dict[@]}" \
    >"$LOGS/$target.log" 2>&1 || status=$?
  grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units|stat::average_exec_per_sec|SUMMARY)' \
    "$LOGS/$target.log" || true
  if [[ $status -ne 0 ]]; then
    tail -n 40 "$LOGS/$target.log" >&2
    echo "fuzz target $target failed (exit $status); full log: $LOGS/$target.log" >&2
    exit "$status"
  fi
done
