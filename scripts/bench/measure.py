#!/usr/bin/env python3
"""Run a command; print its wall time (s) and peak resident memory (GiB) as JSON.
Usage: measure.py LABEL -- CMD ARGS...   (stdout of CMD is discarded)"""
import json, resource, subprocess, sys, time

label = sys.argv[1]
cmd = sys.argv[sys.argv.index("--") + 1:]
t0 = time.perf_counter()
r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
wall = time.perf_counter() - t0
if r.returncode != 0:
    sys.stderr.write(r.stderr)
    sys.exit(f"{label}: command failed ({r.returncode}): {' '.join(cmd)}")
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"label": label, "seconds": round(wall, 3), "peak_gib": round(peak_kib / 2**20, 3)}))
