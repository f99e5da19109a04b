"""`python main.py compare RUN_A RUN_B`: per strategy, what changed between two runs, side by side."""

from __future__ import annotations

import math

import pandas as pd

from app.analysis import analyse
from app.reportformat import cell
from app.runfiles import read_run

FIGURES = ("orders", "net", "roi", "max_drawdown")


def _flat(value, prefix: str = "") -> dict:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flat(item, f"{prefix}{key}.").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in _flat(item, f"{prefix[:-1]}[{i}].").items()}
    return {prefix[:-1]: value}


def config_changes(a: dict, b: dict) -> list[tuple[str, object, object]]:
    """Config keys whose values differ between two runs' metadata (missing on one side: None)."""
    fa, fb = _flat(a.get("config", {})), _flat(b.get("config", {}))
    return [(key, fa.get(key), fb.get(key)) for key in sorted(set(fa) | set(fb)) if fa.get(key) != fb.get(key)]


def _value(value) -> str:
    return "(not set)" if value is None else repr(value)


def _change(a, b):
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
        return float("nan")
    return round(b - a, 4)


def side_by_side(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Per strategy (in either run): each figure in A, in B and the change B - A."""
    left, right = a.set_index("strategy"), b.set_index("strategy")
    rows = []
    for strategy in sorted(set(left.index) | set(right.index)):
        row: dict = {"strategy": strategy}
        for figure in FIGURES:
            va = left[figure].get(strategy) if strategy in left.index else None
            vb = right[figure].get(strategy) if strategy in right.index else None
            row[f"{figure} A"], row[f"{figure} B"], row[f"{figure} change"] = va, vb, _change(va, vb)
        rows.append(row)
    return pd.DataFrame(rows)


def _shown(frame: pd.DataFrame) -> pd.DataFrame:
    """The side-by-side table's cells as the report prints them (each by the figure it holds)."""
    cells = {c: [cell(c.split(" ")[0], v) for v in frame[c]] for c in frame.columns}
    return pd.DataFrame(cells).rename(columns=lambda c: c.replace("max_drawdown", "drawdown"))


def cmd_compare(args) -> int:
    """Print the two runs, their config differences, then per strategy orders, net, ROI and drawdown side by side."""
    runs = [read_run(args.run_a), read_run(args.run_b)]
    for label, run in zip("AB", runs, strict=True):
        meta = run.meta
        print(f"{label}: {run.path}  ({meta.get('mode', '?')}, started {meta.get('start', '?')}, "
              f"{len(meta.get('files', []))} file(s))")  # fmt: skip
    changes = config_changes(runs[0].meta, runs[1].meta)
    if changes:
        print("config differences (A -> B):")
        for key, va, vb in changes:
            print(f"  {key}: {_value(va)} -> {_value(vb)}")
    else:
        print("config: the same")
    files = [set(run.meta.get("files", [])) for run in runs]
    for label, only in (("A", files[0] - files[1]), ("B", files[1] - files[0])):
        if only:
            print(f"files only in {label}: {', '.join(sorted(only))}")
    table = side_by_side(*(analyse(run).strategies for run in runs))
    if table.empty:
        print("no strategies in either run")
        return 0
    print(_shown(table).to_string(index=False))
    return 0
