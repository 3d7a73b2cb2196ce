#!/usr/bin/env python3
"""Write a synthetic LiteLLM StandardLoggingPayload log (JSONL) of N lines, for the
import benchmark (README, "Gateway logs" → big logs):

    scripts/gen_slp_log.py 5000000 /tmp/slp-5m.jsonl
    /usr/bin/time -v target/release/routesim import /tmp/slp-5m.jsonl -o /tmp/slp-5m

Each client request is one line, or two when it falls back (one request in ten: a
429 on `flaky` then the answer of `mini`, sharing `trace_id`); lines are written in
the order calls end, so the two lines of a fallback are not adjacent. Fields and
shapes follow a real LiteLLM 1.108.7 proxy's lines (times in epoch seconds,
`error_information.error_code` a string, `request_tags`, `end_user`, metadata), without
the price-map dump. Deterministic: the same N gives the same file.
"""
import heapq
import json
import random
import sys

GROUPS = [
    ("mini", "openai/gpt-4o-mini", 0.15e-6, 0.6e-6, 0.05),
    ("big", "openai/gpt-4o", 2.5e-6, 10e-6, 0.2),
    ("sonnet", "anthropic/claude-3-5-sonnet-20241022", 3e-6, 15e-6, 0.3),
]


def line(trace, call, start, end, group, model, status, cost, user, i, tok):
    ok = status == 200
    return {
        "id": call,
        "litellm_call_id": call,
        "trace_id": trace,
        "call_type": "acompletion",
        "cache_hit": False,
        "stream": None,
        "status": "success" if ok else "failure",
        "startTime": start,
        "endTime": end,
        "completionStartTime": end,
        "response_time": end - start,
        "model": model,
        "model_group": group,
        "model_id": group + "-deployment",
        "response_cost": cost,
        "prompt_tokens": tok[0] if ok else 0,
        "completion_tokens": tok[1] if ok else 0,
        "total_tokens": tok[0] + tok[1] if ok else 0,
        "end_user": user,
        "request_tags": ["app:bench", "env:prod"],
        "metadata": {
            "user_api_key_hash": "bench-key",
            "user_api_key_team_id": "team-%d" % (i % 4),
            "spend_logs_metadata": {"tier": "free" if i % 3 else "paid"},
        },
        "messages": [{"role": "user", "content": "[%d] Write a haiku about routers." % i}],
        "response": {"choices": [{"message": {"role": "assistant", "content": "Packets find their way."}}]}
        if ok
        else {},
        "model_parameters": {"max_tokens": 64, "stream": False},
        "error_information": {"error_code": "" if ok else str(status),
                              "error_class": "" if ok else "RateLimitError"},
    }


def main():
    n = int(sys.argv[1])
    out = open(sys.argv[2], "w", encoding="utf-8")
    rng = random.Random(7)
    t = 1_795_000_000.0
    pending = []  # (end, line) not yet written, ordered by end
    written = 0
    i = 0
    while written < n:
        i += 1
        t += rng.expovariate(500.0)
        user = "user-%d" % rng.randrange(1000)
        trace = "t-%09d" % i
        tok = (rng.randrange(10, 2000), rng.randrange(5, 500))
        if i % 10 == 0 and written + 2 <= n:
            e1 = t + rng.uniform(0.01, 0.05)
            heapq.heappush(pending, (e1, i, 0, line(trace, "c-%09d-a" % i, t, e1, "flaky", "openai/gpt-4o", 429, 0.0, user, i, tok)))
            s2 = e1 + rng.uniform(0.5, 2.5)
            g, m, pi, po, lat = GROUPS[0]
        else:
            s2 = t
            g, m, pi, po, lat = GROUPS[rng.randrange(len(GROUPS))]
        e2 = s2 + rng.lognormvariate(0, 0.5) * lat
        cost = tok[0] * pi + tok[1] * po
        heapq.heappush(pending, (e2, i, 1, line(trace, "c-%09d-b" % i, s2, e2, g, m, 200, cost, user, i, tok)))
        # Calls that ended more than 3 s ago are logged.
        while pending and pending[0][0] < t - 3.0 and written < n:
            out.write(json.dumps(heapq.heappop(pending)[3], separators=(",", ":")) + "\n")
            written += 1
        if written + len(pending) >= n:
            break
    while pending and written < n:
        out.write(json.dumps(heapq.heappop(pending)[3], separators=(",", ":")) + "\n")
        written += 1
    out.close()


if __name__ == "__main__":
    main()
