"""A run's metadata for summary.json: version, mode, config (secrets masked), files, start, end, updates."""

from __future__ import annotations

import datetime as dt
import os
import tomllib

from app.configshow import config_text
from app.runfacts import RunFacts
from core.auditdb import paddock_version


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds")


def run_metadata(facts: RunFacts, started: float, ended: float) -> dict:
    """What ran, on what, and when (wall time): the `run` entry of summary.json."""
    config = facts.config
    return {
        "version": paddock_version(),
        "mode": facts.mode,
        "config_path": str(config.path),
        "config": tomllib.loads(config_text(config, os.environ)),
        "files": list(facts.files),
        "files_left_out": dict(sorted(facts.files_left_out.items())),
        "start": _iso(started),
        "end": _iso(ended),
        "duration_seconds": round(ended - started, 3),
        "updates": facts.updates,
    }
