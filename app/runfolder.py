"""Run folders: a new time-stamped folder per run inside `--out DIR`, never reused, and DIR's LATEST pointer."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from core.errors import UserError

SUMMARY = "summary.json"
LATEST = "LATEST"  # a text file in DIR naming its newest run folder (a symlink would not work everywhere)


def new_run_dir(parent: Path, started: float, prefix: str = "run") -> Path:
    """Create and return a new folder in parent named after the start time (UTC); a clash gets -2, -3 ..."""
    parent.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.fromtimestamp(started, dt.UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    n = 1
    while True:
        target = parent / (f"{prefix}-{stamp}" if n == 1 else f"{prefix}-{stamp}-{n}")
        try:
            target.mkdir()  # atomic: two runs in the same second, even two processes, get two folders
            return target
        except FileExistsError:
            n += 1


def point_latest(run_dir: Path) -> Path:
    """Write DIR/LATEST naming run_dir (replaced in one step, so a reader never sees half a name)."""
    pointer = run_dir.parent / LATEST
    partial = run_dir.parent / f".{LATEST}.{os.getpid()}"
    partial.write_text(run_dir.name + "\n")
    partial.replace(pointer)
    return pointer


def find_run_dir(path: str | Path) -> Path:
    """The run folder a user named: a run folder itself, or an --out DIR (its LATEST run); else UserError."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist: give a run folder (made by backtest, paper or live with --out)")
    if path.is_dir() and not (path / SUMMARY).is_file() and (path / LATEST).is_file():
        path = path / (path / LATEST).read_text().strip()
    if not path.is_dir() or not (path / SUMMARY).is_file():
        raise UserError(f"{path} is not a run folder: it has no {SUMMARY} (made by backtest, paper or live --out)")
    return path


def read_summary(run_dir: Path) -> dict:
    """The run folder's summary.json; a damaged one is a UserError naming it."""
    path = run_dir / SUMMARY
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} cannot be read: {exc}") from None
    if not isinstance(summary, dict) or "markets" not in summary:
        raise UserError(f"{path} is not a run's summary (no markets)")
    return summary
