"""A run's metadata for summary.json: version, mode, config (secrets masked), files, start, end, updates."""

from __future__ import annotations

import datetime as dt
import os
import tomllib

from app.configshow import config_text
from core.auditdb import paddock_version


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds")


def updates_read(framework) -> int:
    """Stream messages the run read: every line of every recording read (backtest); 0 where nothing counts them."""
    readers = {id(r): r for r in (getattr(s, "reader", None) for s in framework.flumine.streams) if r is not None}
    return sum(reader.lines_read for reader in readers.values())


def run_metadata(framework, started: float, ended: float) -> dict:
    """What ran, on what, and when (wall time): the `run` entry of summary.json."""
    config = framework.config
    return {
        "version": paddock_version(),
        "mode": str(framework.mode),
        "config_path": str(config.path),
        "config": tomllib.loads(config_text(config, os.environ)),
        "files": [str(r.path) for r in framework.recordings],
        "files_left_out": dict(sorted(framework.unreadable.items())),
        "start": _iso(started),
        "end": _iso(ended),
        "duration_seconds": round(ended - started, 3),
        "updates": updates_read(framework),
    }
