#!/usr/bin/env python3
"""Independent reference for routesim's single-model baselines (pandas).

For every model: "always send to this model", no retries, no timeout — cost is the
recorded cost or input/cached/output tokens at the pricing.toml prices for successful
first samples (0 for errors), quality is the first sample's quality for successes and 0
for failures, averaged over labelled requests. Prints CSV: model,cost_total,quality_mean.
Usage: reference_baselines.py DATASET_DIR
"""
import sys, tomllib, pathlib
import pandas as pd

d = pathlib.Path(sys.argv[1])
prices = tomllib.loads((d / "pricing.toml").read_text())["models"]
resp = d / "responses.parquet"
df = pd.read_parquet(resp) if resp.exists() else pd.read_csv(d / "responses.csv")
df = df[df["sample"] == 0]
ok = df["status"] == "ok"
rows = []
for model, g in df.groupby("model", sort=False):
    p = prices[model]
    pin, pout = p["input_per_mtok"] / 1e6, p["output_per_mtok"] / 1e6
    pcache = p.get("cached_input_per_mtok", p["input_per_mtok"]) / 1e6
    tier_in = p.get("input_tiers", [])
    tier_out = p.get("output_tiers", [])
    def rate(base, tiers, tokens):
        r = pd.Series(base, index=tokens.index)
        for t in sorted(tiers, key=lambda t: t["above"]):
            r[tokens > t["above"]] = t["per_mtok"] / 1e6
        return r
    gok = g[ok.loc[g.index]]
    inp = gok["input_tokens"].astype(float)
    cached = gok["cached_tokens"].fillna(0).astype(float)
    out = gok["output_tokens"].fillna(0).astype(float)
    cache_rate = rate(pcache, [], inp) if "cached_input_per_mtok" in p else rate(pin, tier_in, inp)
    cost = ((inp - cached) * rate(pin, tier_in, inp) + cached * cache_rate + out * rate(pout, tier_out, inp)).sum()
    q = g["quality"].where(ok.loc[g.index], 0.0)
    rows.append((model, cost, q.mean()))
print("model,cost_total,quality_mean")
for m, c, q in rows:
    print(f"{m},{float(c)!r},{float(q)!r}")
