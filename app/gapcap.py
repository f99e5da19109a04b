"""A recording with its idle gaps cut to at most S seconds, as the emulator's --max-gap replays it.

Publish times after a cut move earlier by what was cut, and so do the times inside market definitions
(marketTime, suspendTime, openDate, settledTime), so seconds-to-start means what it meant in the original."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import smart_open

DEFINITION_TIMES = ("marketTime", "suspendTime", "openDate", "settledTime")


def _shifted(iso: str, shift_ms: int) -> str:
    when = dt.datetime.fromisoformat(iso.replace("Z", "+00:00")) + dt.timedelta(milliseconds=shift_ms)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def gap_capped(source: Path, target: Path, max_gap: float) -> Path:
    """Write `target`: `source` with every gap between publish times longer than max_gap seconds cut to it."""
    shift = 0  # ms cut so far (negative)
    previous = None
    with smart_open.open(str(source), "r", encoding="utf-8") as f, smart_open.open(str(target), "w") as out:
        for line in f:
            if not line.strip():
                continue
            message = json.loads(line)
            pt = message["pt"]
            if previous is not None and pt - previous > max_gap * 1000:
                shift -= pt - previous - int(max_gap * 1000)
            previous = pt
            message["pt"] = pt + shift
            for change in message.get("mc") or ():
                definition = change.get("marketDefinition")
                for key in DEFINITION_TIMES:
                    if definition and isinstance(definition.get(key), str):
                        definition[key] = _shifted(definition[key], shift)
            out.write(json.dumps(message, separators=(",", ":")) + "\n")
    return target
