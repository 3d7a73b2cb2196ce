#!/usr/bin/env bash
# Whole-program benchmark (README, "Performance"). On one generated dataset of N requests
# × 8 models (CSV responses), in one run:
#   1. `routesim run` end to end — the 7 shipped policies + 10 baselines, report on and off;
#   2. `routesim run` with 3 stateless policies (scripts/bench/policies + task-based), and
#      an independent pandas/numpy implementation of the same policies and summary
#      (scripts/bench/reference.py) — which must give the same figures, or the script fails;
#   3. a raw polars read of the same two files (the floor);
#   4. LiteLLM's Router replaying a subsample of the same requests with mock_response
#      (per routing decision, extrapolated), when LiteLLM can be installed.
# It prints the times and ratios and appends one dated line to benches/history.csv.
# Usage: scripts/bench.sh [N=1000000] [LITELLM_SAMPLE=2000]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000000}"
sample="${2:-2000}"
root="$PWD"
bin="$root/target/release/routesim"
venv="$root/target/bench-venv"
data="$root/target/bench-data/synth-$n"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --release --quiet
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c "import pandas, polars" 2>/dev/null; then
  echo "installing pandas, numpy and polars into $venv (once)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r scripts/bench/requirements.txt
fi
py="$venv/bin/python"
if [[ ! -f "$data/dataset.toml" ]]; then
  echo "generating $n requests × 8 models into $data (once)"
  "$bin" synth --requests "$n" --models 8 --seed 5 -o "$data" >/dev/null
fi
m() { "$py" scripts/bench/measure.py "$@"; }
json() { "$py" -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

echo "dataset: $n requests × 8 models ($(du -sh "$data" | cut -f1)) — $data"
full=$(m "run, 17 policies, full report" -- "$bin" run -d "$data" -p policies -o "$work/full" -q)
norep=$(m "run, 17 policies, no report" -- "$bin" run -d "$data" -p policies --no-report -q)
three=$(m "run, 3 stateless policies + baselines" -- "$bin" run -d "$data" \
  -p scripts/bench/policies policies/task-based.toml -o "$work/three" -q)
ref=$("$py" scripts/bench/reference.py "$data" "$work/three/summary.csv") || {
  echo "$ref"; echo "FAILED: the pandas reference and routesim disagree" >&2; exit 1; }
floor=$("$py" scripts/bench/polars_read.py "$data")
lite=""
if scripts/litellm/install.sh >/dev/null 2>&1; then
  lite=$("$root/target/litellm-venv/bin/python" scripts/bench/litellm_router.py "$data" "$sample" 2>/dev/null | tail -1) || lite=""
fi

for x in "$full" "$norep" "$three"; do
  printf '%-42s %8.2f s   peak %5.2f GiB\n' "$(json "$x" label)" "$(json "$x" seconds)" "$(json "$x" peak_gib)"
done
printf '%-42s %8.2f s   (same figures: %s compared, %s differences)\n' "pandas reference (11 policies)" \
  "$(json "$ref" seconds)" "$(json "$ref" figures_compared)" "$("$py" -c "import json,sys; print(len(json.loads(sys.argv[1])['differences']))" "$ref")"
printf '%-42s %8.2f s\n' "polars read of the two files (floor)" "$(json "$floor" seconds)"
ratios=$("$py" - "$full" "$norep" "$three" "$ref" "$floor" "$n" "${lite:-null}" <<'PY'
import json, sys
full, norep, three, ref, floor = (json.loads(a) for a in sys.argv[1:6])
n = int(sys.argv[6]); lite = json.loads(sys.argv[7])
out = {
  "pandas_over_routesim": ref["seconds"] / three["seconds"],
  "routesim_over_polars_read": full["seconds"] / floor["seconds"],
  "decisions_per_s": n * 17 / full["seconds"],
}
if lite:
  out["litellm_per_decision_s"] = lite["per_decision_s"]
  out["routesim_over_litellm_per_decision"] = lite["per_decision_s"] / (full["seconds"] / (n * 17))
  out["litellm_extrapolated_s"] = lite["per_decision_s"] * n * 17
print(json.dumps(out))
PY
)
r() { json "$ratios" "$1"; }
printf 'pandas / routesim (same 3 policies + baselines): %.1f×\n' "$(r pandas_over_routesim)"
printf 'routesim full run / polars read: %.2f×\n' "$(r routesim_over_polars_read)"
printf 'routesim end to end: %.2f M decisions/s\n' "$("$py" -c "print($(r decisions_per_s)/1e6)")"
if [[ -n "$lite" ]]; then
  printf 'LiteLLM Router: %.3f ms per decision (%s requests) — %.0f s extrapolated to %s decisions; routesim is %.0f× faster per decision\n' \
    "$("$py" -c "print($(r litellm_per_decision_s)*1e3)")" "$(json "$lite" requests)" "$(r litellm_extrapolated_s)" \
    "$((n * 17))" "$(r routesim_over_litellm_per_decision)"
else
  echo "LiteLLM Router: SKIPPED (scripts/litellm/install.sh could not install LiteLLM)"
fi
hist=benches/history.csv
[[ -f "$hist" ]] || echo "date,commit,requests,full_s,full_peak_gib,no_report_s,three_policies_s,pandas_s,polars_read_s,litellm_ms_per_decision" > "$hist"
echo "$(date -u +%Y-%m-%dT%H:%MZ),$(git rev-parse --short HEAD 2>/dev/null || echo none),$n,$(json "$full" seconds),$(json "$full" peak_gib),$(json "$norep" seconds),$(json "$three" seconds),$(json "$ref" seconds),$(json "$floor" seconds),$([[ -n "$lite" ]] && "$py" -c "print(round($(r litellm_per_decision_s)*1e3, 4))" || echo)" >> "$hist"
echo "appended to $hist"
