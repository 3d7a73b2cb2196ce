#!/usr/bin/env bash
# Install the LiteLLM proxy used by the real-gateway test into a venv (once).
#   scripts/litellm/install.sh [VENV]        (default: target/litellm-venv)
# Pinned: litellm[proxy]==1.108.7 and its exact dependency set, requirements.lock
# (a `pip freeze` of a working venv; keep the pin — see the README of this folder).
# Exit codes: 0 installed (or already there), 3 skipped (no python3, no venv module or
# no package index: a message starting with SKIPPED says which), 1 the install failed.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${1:-${LITELLM_VENV:-$ROOT/target/litellm-venv}}"
LOCK="$HERE/requirements.lock"
WANT=1.108.7
skip() { echo "SKIPPED: $*" >&2; exit 3; }

stamp="$(sha256sum "$LOCK" | cut -d' ' -f1)"
if [[ -x "$VENV/bin/litellm" && -f "$VENV/.routesim-lock" && "$(cat "$VENV/.routesim-lock")" == "$stamp" ]]; then
  echo "litellm $WANT already installed in $VENV"
  exit 0
fi
command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"
python3 -c 'import venv, ensurepip' 2>/dev/null || skip "python3 has no venv/ensurepip module (install python3-venv)"

# Is the package index reachable? (A short check: pip's own retries can take minutes.)
INDEX="${PIP_INDEX_URL:-https://pypi.org/simple}"
if ! python3 - "$INDEX" <<'PY' 2>/dev/null; then
import sys, urllib.request
url = sys.argv[1].rstrip("/") + "/litellm/"
urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "text/html"}), timeout=20).read(1)
PY
  skip "the package index ($INDEX) is not reachable"
fi

echo "installing litellm $WANT into $VENV (about a minute, ~750 MB; once)"
rm -rf "$VENV"
python3 -m venv "$VENV" || { echo "error: cannot create a venv in $VENV" >&2; exit 1; }
if ! "$VENV/bin/pip" install --quiet --no-cache-dir --retries 2 --timeout 60 --no-deps -r "$LOCK"; then
  echo "error: pip could not install $LOCK into $VENV" >&2
  exit 1
fi
"$VENV/bin/pip" check || { echo "error: pip check failed in $VENV" >&2; exit 1; }
got="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))')"
[[ "$got" == "$WANT" ]] || { echo "error: installed litellm $got, wanted $WANT" >&2; exit 1; }
echo "$stamp" > "$VENV/.routesim-lock"
echo "installed litellm $WANT into $VENV"
