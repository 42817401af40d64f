#!/usr/bin/env bash
# OSS-Fuzz / ClusterFuzzLite build: compile every target and copy it, with its seed corpus,
# into $OUT.
set -euo pipefail
cd "$(dirname "$0")"
OUT=${OUT:-$PWD/out}
mkdir -p "$OUT"
cargo fuzz build -O ${SANITIZER:+-s $SANITIZER}
triple=$(rustc -vV | sed -n 's/^host: //p')
for target in $(cargo fuzz list); do
  cp "target/$triple/release/$target" "$OUT/"
  (cd "corpus/$target" && zip -q -r "$OUT/${target}_seed_corpus.zip" .)
done
