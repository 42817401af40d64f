#!/usr/bin/env bash
# Builds every fuzz target and runs each briefly from its seeds; a finding fails.
set -euo pipefail
cd "$(dirname "$0")"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
cargo fuzz build -s none
for target in $(cargo fuzz list); do
  scratch=$(mktemp -d)
  echo "== fuzz $target (15 s)"
  log="$scratch.log"
  if ! cargo fuzz run -s none "$target" "$scratch" "corpus/$target" -- -max_total_time=15 -max_len=4096 -rss_limit_mb=2048 >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz target $target found a crash (see fuzz/artifacts/$target)" >&2
    exit 1
  fi
  grep -E "DONE|Done [0-9]+ runs" "$log" || true
  rm -rf "$scratch" "$log"
done
