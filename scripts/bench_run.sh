#!/usr/bin/env bash
# Whole-program benchmark: time `routesim run` (every shipped policy + baselines) on a
# generated dataset, and cross-check the single-model baselines against an independent
# pandas implementation (scripts/reference_baselines.py), timed too.
# Usage: scripts/bench_run.sh [requests]      (results: benches/RESULTS.md)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-200000}"
cargo build --release --quiet
bin=target/release/routesim
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -c "import pandas, pyarrow" 2>/dev/null || pip install -q pandas pyarrow >/dev/null 2>&1 || true
t() { local s; s=$(date +%s.%N); "$@"; echo "$(echo "$(date +%s.%N) - $s" | bc)"; }
s0=$(date +%s.%N); "$bin" synth --requests "$n" --seed 5 --parquet -o "$work/ds" >/dev/null; s1=$(date +%s.%N)
"$bin" run -d "$work/ds" -p policies -o "$work/report" --bootstrap 200 >/dev/null; s2=$(date +%s.%N)
have_pandas=1; python3 -c "import pandas, pyarrow" 2>/dev/null || have_pandas=0
if [ "$have_pandas" = 1 ]; then
  python3 scripts/reference_baselines.py "$work/ds" > "$work/ref.csv"; s3=$(date +%s.%N)
  python3 - "$work/ref.csv" "$work/report/summary.json" <<'PY'
import csv, json, sys
ref = {r["model"]: r for r in csv.DictReader(open(sys.argv[1]))}
got = {p["policy"]: p for p in json.load(open(sys.argv[2]))}
worst = 0.0
for m, r in ref.items():
    g = got["always:" + m]
    for a, b in [(float(r["cost_total"]), g["cost_total_usd"]), (float(r["quality_mean"]), g["quality"]["mean"])]:
        worst = max(worst, abs(a - b) / max(abs(a), 1e-9))
# summary.json keeps 8 significant digits, so agreement is expected to about 1e-7.
print(f"reference check: {len(ref)} single-model baselines, max relative difference {worst:.2e}")
sys.exit(0 if worst < 1e-6 else 1)
PY
else
  s3=$s2; echo "pandas unavailable: reference check skipped"
fi
decisions=$(( n * (7 + 10) ))
printf 'requests %d, policies 17 (7 shipped + 10 baselines), decisions %d\n' "$n" "$decisions"
printf 'synth: %.2f s\nroutesim run (load, simulate, analyse, charts, report): %.2f s\n' "$(echo "$s1-$s0"|bc)" "$(echo "$s2-$s1"|bc)"
[ "$have_pandas" = 1 ] && printf 'pandas reference (the single-model baselines only): %.2f s\n' "$(echo "$s3-$s2"|bc)"
