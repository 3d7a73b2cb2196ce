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
the price-map dump. Deterministic: the same N gives the same file. Lines are formatted
from a template (json.dumps per line is several times slower).
"""
import heapq
import random
import sys

GROUPS = [
    ("mini", "openai/gpt-4o-mini", 0.15e-6, 0.6e-6, 0.05),
    ("big", "openai/gpt-4o", 2.5e-6, 10e-6, 0.2),
    ("sonnet", "anthropic/claude-3-5-sonnet-20241022", 3e-6, 15e-6, 0.3),
]

OK = (
    '{{"id":"{call}","litellm_call_id":"{call}","trace_id":"{trace}","call_type":"acompletion",'
    '"cache_hit":false,"stream":null,"status":"success","startTime":{start!r},"endTime":{end!r},'
    '"completionStartTime":{end!r},"model":"{model}","model_group":"{group}",'
    '"model_id":"{group}-deployment","response_cost":{cost!r},"prompt_tokens":{tin},'
    '"completion_tokens":{tout},"total_tokens":{ttot},"end_user":"{user}",'
    '"request_tags":["app:bench","env:prod"],"metadata":{{"user_api_key_hash":"bench-key",'
    '"user_api_key_team_id":"team-{team}","spend_logs_metadata":{{"tier":"{tier}"}}}},'
    '"messages":[{{"role":"user","content":"[{i}] Write a haiku about routers."}}],'
    '"response":{{"choices":[{{"message":{{"role":"assistant","content":"Packets find their way."}}}}]}},'
    '"model_parameters":{{"max_tokens":64,"stream":false}},'
    '"error_information":{{"error_code":"","error_class":""}}}}\n'
)
FAIL = (
    '{{"id":"{call}","litellm_call_id":"{call}","trace_id":"{trace}","call_type":"acompletion",'
    '"cache_hit":false,"stream":null,"status":"failure","startTime":{start!r},"endTime":{end!r},'
    '"completionStartTime":{end!r},"model":"openai/gpt-4o","model_group":"flaky",'
    '"model_id":"flaky-deployment","response_cost":0.0,"prompt_tokens":0,'
    '"completion_tokens":0,"total_tokens":0,"end_user":"{user}",'
    '"request_tags":["app:bench","env:prod"],"metadata":{{"user_api_key_hash":"bench-key",'
    '"user_api_key_team_id":"team-{team}","spend_logs_metadata":{{"tier":"{tier}"}}}},'
    '"messages":[{{"role":"user","content":"[{i}] Write a haiku about routers."}}],'
    '"response":{{}},"model_parameters":{{"max_tokens":64,"stream":false}},'
    '"error_information":{{"error_code":"429","error_class":"RateLimitError"}}}}\n'
)


def main():
    n = int(sys.argv[1])
    out = open(sys.argv[2], "w", encoding="utf-8", buffering=1 << 20)
    rng = random.Random(7)
    t = 1_795_000_000.0
    pending = []  # (end, seq, line): calls not yet logged, by end time
    written = 0
    i = 0
    while written + len(pending) < n:
        i += 1
        t += rng.expovariate(500.0)
        common = dict(
            trace="t-%09d" % i,
            user="user-%d" % rng.randrange(1000),
            team=i % 4,
            tier="free" if i % 3 else "paid",
            i=i,
        )
        tin, tout = rng.randrange(10, 2000), rng.randrange(5, 500)
        if i % 10 == 0 and written + len(pending) + 2 <= n:
            e1 = t + rng.uniform(0.01, 0.05)
            heapq.heappush(pending, (e1, i, FAIL.format(call="c-%09d-a" % i, start=t, end=e1, **common)))
            s2 = e1 + rng.uniform(0.5, 2.5)
            g, m, pi, po, lat = GROUPS[0]
        else:
            s2 = t
            g, m, pi, po, lat = GROUPS[rng.randrange(len(GROUPS))]
        e2 = s2 + rng.lognormvariate(0, 0.5) * lat
        line = OK.format(
            call="c-%09d-b" % i, start=s2, end=e2, model=m, group=g,
            cost=tin * pi + tout * po, tin=tin, tout=tout, ttot=tin + tout, **common,
        )
        heapq.heappush(pending, (e2, i, line))
        # Calls that ended more than 3 s ago are logged.
        while pending and pending[0][0] < t - 3.0:
            out.write(heapq.heappop(pending)[2])
            written += 1
    while pending:
        out.write(heapq.heappop(pending)[2])
        written += 1
    out.close()


if __name__ == "__main__":
    main()
