#!/usr/bin/env bash
# Refresh catalog/: the price catalogs compiled into routesim (see README "Pricing").
#
# Both come from the upstream packages in the Python package registry, fetched with
# `pip download --no-deps` at pinned versions and checked against pinned sha256s:
#   - LiteLLM's cost map: litellm/model_prices_and_context_window_backup.json in the
#     litellm wheel, byte for byte;
#   - genai-prices: its wheel ships the data as generated Python (genai_prices/data.py,
#     built upstream from prices/data.json); scripts/genai_data_to_json.py reads it as a
#     syntax tree (never runs it) and writes it back in data.json's shape.
# Each is zstd-compressed into catalog/ beside its licence, and catalog/PROVENANCE.toml
# records package, version, upstream, the wheel's sha256, the sha256 of the
# uncompressed bytes (what routesim decodes) and the snapshot date.
#
# To move to a new release: change the version, wheel name, wheel sha256 and upload
# date below (the upload date is the wheel's upload time in the registry's metadata of
# that release), run this script, then rework the hand-worked matcher table in
# src/pricing/matcher.rs (tests) against the new snapshot — that is the point of it.
#
# genai-prices is pinned at 0.1.4: from 0.1.5 on its match rules use look-ahead
# regexes, which the `regex` crate does not accept.
set -euo pipefail

LITELLM_VERSION=1.106.2
LITELLM_WHEEL=litellm-1.106.2-cp310-abi3-manylinux_2_28_x86_64.whl
LITELLM_WHEEL_SHA256=cb1a2a1e55a4a8350ae2167525dc0d06f59b078cd685fb3e0f5419f02da5420e
LITELLM_UPLOADED=2026-10-21
GENAI_VERSION=0.1.4
GENAI_WHEEL=genai_prices-0.1.4-py3-none-any.whl
GENAI_WHEEL_SHA256=1d1b01cc7ab1adfa17c3a1121f4c13990bd0a4377640ecd37ebfde5836768240
GENAI_UPLOADED=2026-08-19

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/catalog"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for tool in pip python3 unzip zstd sha256sum; do
    command -v "$tool" >/dev/null || { echo "update-catalog: needs $tool" >&2; exit 1; }
done

fetch() { # package==version platform-args... → the wheel in $work/<package>
    local spec=$1 dir=$2
    shift 2
    pip download --quiet --no-deps --only-binary=:all: "$@" "$spec" -d "$work/$dir"
}
check() { # file expected-sha256
    local got
    got=$(sha256sum "$1" | cut -d' ' -f1)
    if [ "$got" != "$2" ]; then
        echo "update-catalog: $1 has sha256 $got, expected $2" >&2
        exit 1
    fi
}

fetch "litellm==$LITELLM_VERSION" litellm --platform manylinux_2_28_x86_64 \
    --python-version 3.12 --implementation cp --abi abi3
check "$work/litellm/$LITELLM_WHEEL" "$LITELLM_WHEEL_SHA256"
fetch "genai-prices==$GENAI_VERSION" genai
check "$work/genai/$GENAI_WHEEL" "$GENAI_WHEEL_SHA256"

mkdir -p "$out"
rm -f "$out"/*.json.zst
unzip -p "$work/litellm/$LITELLM_WHEEL" litellm/model_prices_and_context_window_backup.json \
    >"$work/litellm.json"
unzip -p "$work/litellm/$LITELLM_WHEEL" "litellm-$LITELLM_VERSION.dist-info/licenses/LICENSE" \
    >"$out/LICENSE.litellm"
unzip -p "$work/genai/$GENAI_WHEEL" genai_prices/data.py >"$work/data.py"
python3 "$root/scripts/genai_data_to_json.py" "$work/data.py" >"$work/genai-prices.json"
unzip -p "$work/genai/$GENAI_WHEEL" "genai_prices-$GENAI_VERSION.dist-info/licenses/LICENSE" \
    >"$out/LICENSE.genai-prices"

litellm_zst="litellm-$LITELLM_VERSION.json.zst"
genai_zst="genai-prices-$GENAI_VERSION.json.zst"
zstd -q -19 --no-progress "$work/litellm.json" -o "$out/$litellm_zst"
zstd -q -19 --no-progress "$work/genai-prices.json" -o "$out/$genai_zst"
sha() { sha256sum "$1" | cut -d' ' -f1; }

cat >"$out/PROVENANCE.toml" <<EOF
# The price catalogs compiled into routesim. Written by scripts/update-catalog.sh;
# do not edit by hand. sha256 is of the uncompressed bytes routesim decodes.

[litellm]
package = "litellm"
version = "$LITELLM_VERSION"
upstream = "https://github.com/BerriAI/litellm"
licence = "MIT (LICENSE.litellm)"
wheel = "$LITELLM_WHEEL"
wheel_sha256 = "$LITELLM_WHEEL_SHA256"
file = "litellm/model_prices_and_context_window_backup.json, byte for byte"
embedded = "$litellm_zst"
sha256 = "$(sha "$work/litellm.json")"
bytes = $(stat -c %s "$work/litellm.json")
snapshot_date = "$LITELLM_UPLOADED"

[genai-prices]
package = "genai-prices"
version = "$GENAI_VERSION"
upstream = "https://github.com/pydantic/genai-prices"
licence = "MIT (LICENSE.genai-prices)"
wheel = "$GENAI_WHEEL"
wheel_sha256 = "$GENAI_WHEEL_SHA256"
file = "genai_prices/data.py, written in data.json's shape by scripts/genai_data_to_json.py"
embedded = "$genai_zst"
sha256 = "$(sha "$work/genai-prices.json")"
bytes = $(stat -c %s "$work/genai-prices.json")
snapshot_date = "$GENAI_UPLOADED"
EOF
ls -l "$out"
