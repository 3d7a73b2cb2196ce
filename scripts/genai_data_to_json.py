#!/usr/bin/env python3
"""Turn genai-prices' bundled `genai_prices/data.py` back into its `data.json` form.

The genai-prices wheel on PyPI ships its price data as generated Python
(`data.py`, "DO NOT EDIT ... run `make package-data`"), built from upstream's
`prices/data.json`. This script reads that file as a syntax tree (it never imports or
runs it) and writes the same data in data.json's shape: one JSON object per
constructor call, keyword order kept, `None` fields left out, `Decimal('x')` as the
number x, dates as `YYYY-MM-DD`, times as `HH:MM:SSZ`, `or_`/`and_` as `or`/`and`.

usage: genai_data_to_json.py data.py > data.json
"""

import ast
import json
import sys
from decimal import Decimal

RENAME = {"or_": "or", "and_": "and"}
# Fields data.py leaves out when they hold their dataclass default, in data.json's order.
DEFAULTS = {"UsageExtractor": {"api_flavor": "default", "root": None, "model_path": "model"}}


class Unsupported(Exception):
    pass


def value(node):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.List):
        return [value(x) for x in node.elts]
    if isinstance(node, ast.Tuple):
        return [value(x) for x in node.elts]
    if isinstance(node, ast.Dict):
        return {value(k): value(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -value(node.operand)
    if isinstance(node, ast.Call):
        name = call_name(node.func)
        if name == "Decimal":
            (arg,) = node.args
            d = Decimal(value(arg))
            return int(d) if d == d.to_integral_value() else float(d)
        if name == "datetime.date":
            y, m, d = (value(a) for a in node.args)
            return f"{y:04d}-{m:02d}-{d:02d}"
        if name == "datetime.time":
            parts = [value(a) for a in node.args] + [0, 0, 0]
            tz = [k for k in node.keywords if k.arg == "tzinfo"]
            if tz and call_name(tz[0].value) != "datetime.timezone.utc":
                raise Unsupported(f"line {node.lineno}: time zone other than UTC")
            return f"{parts[0]:02d}:{parts[1]:02d}:{parts[2]:02d}Z"
        if node.args:
            raise Unsupported(f"line {node.lineno}: positional arguments to {name}")
        given = {k.arg for k in node.keywords}
        out = {k: v for k, v in DEFAULTS.get(name, {}).items() if k not in given or v is None}
        for k in node.keywords:
            v = value(k.value)
            if v is None:
                continue
            out[RENAME.get(k.arg, k.arg)] = v
        return {k: v for k, v in out.items() if v is not None}
    if isinstance(node, ast.Attribute):
        return call_name(node)
    raise Unsupported(f"line {getattr(node, 'lineno', '?')}: {ast.dump(node)[:80]}")


def call_name(f):
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        return f"{call_name(f.value)}.{f.attr}"
    raise Unsupported(ast.dump(f)[:80])


def main():
    tree = ast.parse(open(sys.argv[1], encoding="utf-8").read())
    providers = None
    for stmt in tree.body:
        if isinstance(stmt, ast.AnnAssign) and getattr(stmt.target, "id", None) == "providers":
            providers = value(stmt.value)
    if providers is None:
        sys.exit(f"{sys.argv[1]}: no `providers` list found")
    sys.stdout.write(json.dumps(providers, ensure_ascii=False, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
