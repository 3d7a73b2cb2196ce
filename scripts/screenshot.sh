#!/usr/bin/env bash
# Open a report's index.html in headless Chromium, save screenshot.png beside it and
# fail when the page logs console errors or tries to load anything.
# Usage: scripts/screenshot.sh reports/example
set -euo pipefail
dir="${1:-reports/example}"
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [ -z "$browser" ]; then
  echo "SKIPPED: no chromium on PATH (Debian: apt-get install chromium)" >&2
  exit 0
fi
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
log="$profile/log.txt"
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --enable-logging=stderr --v=0 --window-size=1400,6000 \
  --screenshot="$dir/screenshot.png" "file://$(cd "$dir" && pwd)/index.html" 2>"$log"
if grep -E ':CONSOLE|net::ERR_|Failed to load resource' "$log"; then
  echo "console errors while rendering $dir/index.html" >&2
  exit 1
fi
echo "screenshot: $dir/screenshot.png"
