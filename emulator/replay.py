"""Recordings merged into one timeline by publish time, with idle gaps optionally capped."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import smart_open
from betfairlightweight.compat import json

from core.errors import RecordingError
from core.recordings import resolve_paths

DEFINITION_TIMES = ("marketTime", "suspendTime", "openDate", "settledTime")  # times a definition carries


@dataclass(frozen=True)
class Message:
    """One recorded market-change message placed on the replay timeline."""

    offset: float  # seconds of market time after the first message (gaps capped)
    pt: int  # publish time in the recording (ms)
    changes: list[dict]

    @property
    def ms(self) -> int:
        """The offset in whole market ms (what publish times and order deadlines compare)."""
        return round(self.offset * 1000)


def _moved(text: str, shift_ms: int) -> str:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text  # not a time Betfair writes: left as it came
    ms = round(when.timestamp() * 1000) + shift_ms
    moved = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moved.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def shifted(changes: list[dict], shift_ms: int) -> list[dict]:
    """Market changes whose definitions' times (and runners' removal dates) are moved by shift_ms; others as they are."""
    out = []
    for change in changes:
        definition = change.get("marketDefinition")
        if definition is not None:
            moved = {
                k: _moved(v, shift_ms) if k in DEFINITION_TIMES and isinstance(v, str) else v
                for k, v in definition.items()
            }
            if "runners" in definition:
                moved["runners"] = [
                    {**r, "removalDate": _moved(r["removalDate"], shift_ms)}
                    if isinstance(r.get("removalDate"), str)
                    else r
                    for r in definition["runners"]
                ]
            change = {**change, "marketDefinition": moved}
        out.append(change)
    return out


def _read(path: Path) -> list[tuple[int, int, list[dict]]]:
    out = []
    try:
        with smart_open.open(str(path), "r", encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                    pt = int(data["pt"])
                    changes = data.get("mc") or []
                except (ValueError, KeyError, TypeError):
                    raise RecordingError(f"{path}:{number}: not a market change message with 'pt'") from None
                if changes:
                    out.append((pt, number, changes))
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise RecordingError(f"{path}: cannot read recording ({exc})") from None
    return out


def timeline(paths: list[str | Path], max_gap: float | None = None) -> list[Message]:
    """All messages of the recordings in publish-time order; gaps longer than max_gap seconds are cut to it."""
    files = resolve_paths(list(paths))
    merged = heapq.merge(*(_read(p) for p in files), key=lambda item: item[0])
    messages: list[Message] = []
    offset = 0.0
    previous = None
    for pt, _, changes in merged:
        if previous is not None:
            gap = max(pt - previous, 0) / 1000.0
            offset += min(gap, max_gap) if max_gap is not None else gap
        previous = pt
        messages.append(Message(offset, pt, changes))
    if not messages:
        raise RecordingError(f"no market changes in {', '.join(str(f) for f in files)}")
    return messages
