#!/usr/bin/env python3
"""An independent pandas/numpy implementation of the benchmark's stateless policies
(scripts/bench/policies/*.toml and policies/task-based.toml) and of the summary figures
routesim reports for them, written for the benchmark from the documented semantics —
not from routesim's code:

- a request goes to one model (the first rule that matches, else the default); no
  retries, no fallbacks, no timeout (the gateway defaults);
- its outcome is that model's first recorded sample; a prompt longer than the model's
  context window is refused by the gateway (a failure, no call, no latency);
- cost: successful calls only, (input − cached) × input price + cached × cached price +
  output × output price, per million tokens; a tier's price applies when the prompt has
  more tokens than its `above`;
- quality: the sample's quality for a success, 0 for a failure (every answer is
  labelled in synthetic data); success rate over all requests;
- latency p50 / p95: linear interpolation between order statistics, over requests
  that reached a model.

Usage: reference.py DATASET_DIR SUMMARY_CSV   — times itself, compares every figure
with routesim's summary.csv and exits 1 on any difference beyond the file's rounding.
"""
import csv, json, pathlib, sys, time, tomllib
import numpy as np
import pandas as pd

t0 = time.perf_counter()
d = pathlib.Path(sys.argv[1])
req = pd.read_json(d / "requests.jsonl", lines=True, dtype=False)
meta = pd.DataFrame(req["meta"].tolist())
resp_path = d / "responses.parquet"
resp = pd.read_parquet(resp_path) if resp_path.exists() else pd.read_csv(d / "responses.csv")
prices = tomllib.loads((d / "pricing.toml").read_text())["models"]
t_read = time.perf_counter() - t0

n = len(req)
pos = pd.Series(np.arange(n), index=req["id"].astype(str))
first = resp[resp["sample"] == 0]
models = list(dict.fromkeys(first["model"]))
req_tokens = req["input_tokens"].to_numpy(dtype=float)

# Per model, arrays over requests: present, ok, cost, quality, latency, rejected.
cols = {}
for m in models:
    g = first[first["model"] == m]
    r = pos.loc[g["request_id"].astype(str)].to_numpy()
    p = prices[m]
    it = g["input_tokens"].to_numpy(dtype=float)
    it = np.where(np.isnan(it), req_tokens[r], it)
    ct = np.minimum(g["cached_tokens"].fillna(0).to_numpy(dtype=float), it)
    ot = g["output_tokens"].fillna(0).to_numpy(dtype=float)

    def rate(base, tiers):
        out = np.full(len(it), base / 1e6)
        for t in sorted(tiers, key=lambda t: t["above"]):
            out[it > t["above"]] = t["per_mtok"] / 1e6
        return out

    pin = rate(p["input_per_mtok"], p.get("input_tiers", []))
    pout = rate(p["output_per_mtok"], p.get("output_tiers", []))
    pc = np.full(len(it), p["cached_input_per_mtok"] / 1e6) if "cached_input_per_mtok" in p else pin
    ok = (g["status"] == "ok").to_numpy()
    rejected = req_tokens[r] > p.get("context_window", float("inf"))
    ok = ok & ~rejected
    a = {
        "present": np.zeros(n, bool),
        "ok": np.zeros(n, bool),
        "rejected": np.zeros(n, bool),
        "cost": np.zeros(n),
        "quality": np.zeros(n),
        "latency": np.full(n, np.nan),
    }
    a["present"][r] = True
    a["ok"][r] = ok
    a["rejected"][r] = rejected
    a["cost"][r] = np.where(ok, (it - ct) * pin + ct * pc + ot * pout, 0.0)
    a["quality"][r] = np.where(ok, g["quality"].fillna(0).to_numpy(dtype=float), 0.0)
    a["latency"][r] = np.where(rejected, np.nan, g["latency_ms"].to_numpy(dtype=float))
    cols[m] = a

task = meta["task"].to_numpy()
plan = meta["plan"].to_numpy()
policies = {
    "task-based": np.select(
        [np.isin(task, ["coding", "creative"]), task == "reasoning", task == "simple", task == "multimodal"],
        ["anthropic/claude-3.5-sonnet", "openai/o1-preview", "openai/gpt-4o-mini", "google/gemini-1.5-pro"],
        "openai/gpt-4o",
    ),
    "by-plan": np.select(
        [plan == "enterprise", plan == "pro"],
        ["anthropic/claude-3.5-sonnet", "openai/gpt-4o"],
        "openai/gpt-4o-mini",
    ),
    "by-length": np.select(
        [req_tokens > 4000, task == "coding"],
        ["google/gemini-1.5-flash", "anthropic/claude-3.5-haiku"],
        "openai/gpt-4o-mini",
    ),
}
for m in models:
    policies["always:" + m] = np.full(n, m, dtype=object)

figures = {}
for name, choice in policies.items():
    get = {}
    for k in ["present", "ok", "rejected", "cost", "quality", "latency"]:
        v = np.empty(n, dtype=cols[models[0]][k].dtype)
        for m in models:
            sel = choice == m
            v[sel] = cols[m][k][sel]
        get[k] = v
    cov = get["present"]
    lat = get["latency"][cov & ~get["rejected"]]
    figures[name] = {
        "covered": int(cov.sum()),
        "success_rate": get["ok"][cov].mean(),
        "cost_total_usd": get["cost"][cov].sum(),
        "quality_mean": get["quality"][cov].mean(),
        "latency_p50_ms": np.quantile(lat, 0.5),
        "latency_p95_ms": np.quantile(lat, 0.95),
    }
seconds = time.perf_counter() - t0

# Compare with routesim, within the rounding of summary.csv.
got = {r["policy"]: r for r in csv.DictReader(open(sys.argv[2]))}
tolerance = {"covered": 0, "success_rate": 5e-5, "cost_total_usd": 5e-7, "quality_mean": 5e-5,
             "latency_p50_ms": 0.05, "latency_p95_ms": 0.05}
bad = []
for name, f in figures.items():
    g = got.get(name)
    if g is None:
        bad.append(f"{name}: missing from routesim's summary.csv")
        continue
    for k, tol in tolerance.items():
        x, y = float(f[k]), float(g[k])
        if abs(x - y) > tol * (1 + 1e-9) + 1e-12 * abs(x):
            bad.append(f"{name} {k}: pandas {x!r}, routesim {y!r}")
print(json.dumps({
    "label": "pandas reference",
    "seconds": round(seconds, 3),
    "read_seconds": round(t_read, 3),
    "policies": len(figures),
    "figures_compared": len(figures) * len(tolerance),
    "differences": bad,
}))
sys.exit(1 if bad else 0)
