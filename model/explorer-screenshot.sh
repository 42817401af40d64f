#!/usr/bin/env bash
# Starts the model's Explorer for a universe, loads it in headless Chromium and saves a
# screenshot, then checks the page really is the Explorer. Needs Debian's `chromium`.
# Usage: model/explorer-screenshot.sh [UNIVERSE] [OUT.png]
set -euo pipefail
cd "$(dirname "$0")/.."
universe=${1:-policy}
out=${2:-target/explorer-$universe.png}
port=${PORT:-3917}
command -v chromium >/dev/null || { echo "chromium is required (apt-get install chromium)" >&2; exit 2; }
cargo build --release -q -p netsem-model
./target/release/netsem-model explore "$universe" --address "127.0.0.1:$port" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  curl -sf "http://127.0.0.1:$port/.status" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -sf "http://127.0.0.1:$port/.states" | grep -q ControlPlane || { echo "the Explorer does not serve the model's states" >&2; exit 1; }
profile=$(mktemp -d)
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --window-size=1400,900 --virtual-time-budget=5000 \
  --screenshot="$out" "http://127.0.0.1:$port/#/steps/0" >/dev/null 2>&1
rm -rf "$profile"
test -s "$out" || { echo "no screenshot written" >&2; exit 1; }
echo "screenshot: $out"
