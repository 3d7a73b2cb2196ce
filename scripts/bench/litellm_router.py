#!/usr/bin/env python3
"""LiteLLM's Router replaying the same requests (a subsample), every call answered by
`mock_response` (no network): the per-decision cost of routing in a Python gateway.
The task-based policy's choice is made in Python, then the call goes through
Router.completion (model group lookup, deployment selection, callbacks, response
object). Usage: litellm_router.py DATASET_DIR SAMPLE"""
import json, pathlib, sys, time, warnings
warnings.filterwarnings("ignore")
import litellm
from litellm import Router

litellm.suppress_debug_info = True
litellm.telemetry = False
d = pathlib.Path(sys.argv[1])
k = int(sys.argv[2])
rows = []
with open(d / "requests.jsonl") as f:
    for line in f:
        rows.append(json.loads(line))
        if len(rows) >= k:
            break
models = ["anthropic/claude-3.5-sonnet", "openai/gpt-4o", "google/gemini-1.5-pro",
          "openai/gpt-4o-mini", "openai/o1-preview"]
router = Router(model_list=[
    {"model_name": m, "litellm_params": {"model": "openai/" + m.split("/")[-1],
                                         "api_key": "sk-bench", "mock_response": "ok"}}
    for m in models
])
route = {"coding": models[0], "creative": models[0], "reasoning": models[4],
         "simple": models[3], "multimodal": models[2]}
# Warm up (imports, first-call setup), then time.
for r in rows[:20]:
    router.completion(model=route.get(r["meta"]["task"], models[1]),
                      messages=[{"role": "user", "content": r["input"]}])
t0 = time.perf_counter()
for r in rows:
    router.completion(model=route.get(r["meta"]["task"], models[1]),
                      messages=[{"role": "user", "content": r["input"]}])
s = time.perf_counter() - t0
print(json.dumps({"label": "LiteLLM Router", "requests": len(rows), "seconds": round(s, 3),
                  "per_decision_s": s / len(rows), "version": litellm.__version__ if hasattr(litellm, "__version__") else None}))
