#!/usr/bin/env bash
# Seeds the fuzz corpora (git-ignored, created at run time): the real Jira fixtures for
# `normalize`, and the published X-Hub-Signature vector (as `secret\nheader\nbody`) for
# `hub_signature`. Existing corpus entries found by earlier runs are kept.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/normalize corpus/hub_signature
for fixture in ../fixtures/jira/*.json; do
  # The fixtures are read-only; libFuzzer may replace corpus files when it minimizes them.
  install -m 644 "$fixture" "corpus/normalize/$(basename "$fixture")"
done
printf '%s\n%s\n%s' "It's a Secret to Everybody" \
  "sha256=a4771c39fbe90f317c7824e83ddef3caae9cb3d976c214ace1f2937e133263c9" \
  "Hello World!" >corpus/hub_signature/published_vector
printf '%s\n%s\n%s' "secret" "sha512=00" '{"webhookEvent":"jira:issue_created"}' \
  >corpus/hub_signature/sha512_short
printf '%s\n%s\n%s' "" "  SHA256=  " "" >corpus/hub_signature/empty_secret
echo "seeded $(ls corpus/normalize | wc -l) normalize and $(ls corpus/hub_signature | wc -l) hub_signature inputs"
