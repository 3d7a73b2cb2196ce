#!/usr/bin/env bash
# Live-mode throughput against a fast local mock provider (not a timed test).
# Usage: scripts/bench_live.sh [requests] [concurrency]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-20000}"; conc="${2:-256}"; port=18089
cargo build --release --quiet
bin=target/release/routesim
work="$(mktemp -d)"
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin" mock-server --port "$port" >/dev/null 2>&1 &
server=$!
sleep 0.5
"$bin" synth --requests "$n" --models 1 --seed 3 -o "$work/ds" >/dev/null
printf '\n[models."mock/fast"]\ninput_per_mtok = 0\noutput_per_mtok = 0\nsource = "local mock"\n' >> "$work/ds/pricing.toml"
cat > "$work/providers.toml" <<TOML
[[provider]]
name = "mock"
base_url = "http://127.0.0.1:$port/v1"
models = { "mock/fast" = "fast" }
max_concurrency = $conc
retries = 0
timeout_ms = 30000
TOML
echo "routesim record: $n calls at concurrency $conc against a local mock provider"
"$bin" record --quiet -d "$work/ds" --models mock/fast --providers "$work/providers.toml" --concurrency "$conc"
