#!/usr/bin/env bash
# Start, stop or crash a LiteLLM proxy with mock models on 127.0.0.1 (no database, no
# network), for routesim's real-gateway test and for trying `routesim record` by hand.
#   scripts/litellm/proxy.sh start PORT RUNDIR   background start; waits for /health/readiness
#   scripts/litellm/proxy.sh stop  PORT RUNDIR   SIGTERM to its process group (SIGKILL after 10 s)
#   scripts/litellm/proxy.sh kill  PORT RUNDIR   SIGKILL at once (a crash: in-flight calls get no reply)
# RUNDIR holds proxy.pid, proxy.log and (unless SLP_LOG is set) slp.jsonl, the proxy's
# own log of every call. Needs ROUTESIM_LITELLM_MASTER_KEY: a made-up key (the proxy
# requires one; clients send it as their key). LITELLM_VENV: the venv of install.sh
# (default target/litellm-venv). READY_TIMEOUT: seconds to wait for readiness (120).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CMD="${1:?usage: proxy.sh start|stop|kill PORT RUNDIR}"
PORT="${2:?port}"
RUN="${3:?run folder}"
VENV="${LITELLM_VENV:-$ROOT/target/litellm-venv}"
mkdir -p "$RUN"
PIDFILE="$RUN/proxy.pid"
URL="http://127.0.0.1:$PORT"

alive() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
ready() {
  "$VENV/bin/python" - "$URL/health/readiness" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=2).read()
PY
}

start() {
  : "${ROUTESIM_LITELLM_MASTER_KEY:?set ROUTESIM_LITELLM_MASTER_KEY to a made-up key}"
  [[ -x "$VENV/bin/litellm" ]] || { echo "no LiteLLM in $VENV: run scripts/litellm/install.sh" >&2; exit 1; }
  if alive; then echo "already running, pid $(cat "$PIDFILE")"; return 0; fi
  local t0; t0=$(date +%s%3N)
  # Offline price map, no back-off between LiteLLM's own retries, loopback unproxied.
  # setsid: its own process group, so stop/kill reach the proxy and its children.
  SLP_LOG="${SLP_LOG:-$RUN/slp.jsonl}" LITELLM_LOCAL_MODEL_COST_MAP=True \
    INITIAL_RETRY_DELAY=0 JITTER=0 NO_PROXY="127.0.0.1,localhost" \
    setsid "$VENV/bin/litellm" --config "$HERE/proxy_config.yaml" \
    --host 127.0.0.1 --port "$PORT" >>"$RUN/proxy.log" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  local deadline=$(( t0 + ${READY_TIMEOUT:-120} * 1000 ))
  until ready; do
    if ! alive; then echo "the proxy died while starting; $RUN/proxy.log:" >&2; tail -20 "$RUN/proxy.log" >&2; exit 1; fi
    if (( $(date +%s%3N) > deadline )); then echo "not ready after ${READY_TIMEOUT:-120} s" >&2; stop TERM; exit 1; fi
    sleep 0.1
  done
  echo "ready pid=$(cat "$PIDFILE") url=$URL startup_ms=$(( $(date +%s%3N) - t0 ))"
}

stop() {
  local sig="$1"
  if ! alive; then rm -f "$PIDFILE"; echo "not running"; return 0; fi
  local pid; pid=$(cat "$PIDFILE")
  kill "-$sig" -- "-$pid" 2>/dev/null || kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
  rm -f "$PIDFILE"
  echo "stopped pid=$pid ($sig)"
}

case "$CMD" in
  start) start ;;
  stop) stop TERM ;;
  kill) stop KILL ;;
  *) echo "usage: proxy.sh start|stop|kill PORT RUNDIR" >&2; exit 2 ;;
esac
