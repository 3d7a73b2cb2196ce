#!/usr/bin/env python3
"""The floor: read a dataset's two files with polars and nothing else.
Usage: polars_read.py DATASET_DIR"""
import json, pathlib, sys, time
import polars as pl

d = pathlib.Path(sys.argv[1])
t0 = time.perf_counter()
req = pl.read_ndjson(d / "requests.jsonl")
rp = d / "responses.parquet"
resp = pl.read_parquet(rp) if rp.exists() else pl.read_csv(d / "responses.csv")
print(json.dumps({"label": "polars read", "seconds": round(time.perf_counter() - t0, 3),
                  "rows": [req.height, resp.height]}))
