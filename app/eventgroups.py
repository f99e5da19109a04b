"""Event groups: the unit of work of a backtest run on many cores. The markets of one event stay together
(so suspension cascades and event exposure see each other); files sharing an event share a group."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from core.recordings import MarketHeader, Recording, read_headers, resolve_paths

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventGroup:
    """The recordings of one event (or of events sharing a file), replayed together; `key` names it."""

    key: str
    paths: tuple[str, ...]
    markets: tuple[MarketHeader, ...] = ()


def plan_groups(raw_paths: list[str | Path], strict: bool = False) -> tuple[list[EventGroup], dict[str, str]]:
    """The event groups of the recordings in a fixed order (by their first file), and the files left out.

    Only each file's first line is read; a file that cannot be read is left out (strict: RecordingError)."""
    recordings, unreadable = read_headers(resolve_paths(raw_paths), strict)
    return _grouped(recordings), unreadable


def _grouped(recordings: list[Recording]) -> list[EventGroup]:
    """Union the files over the events they hold: one group per connected set, ordered by first file."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for recording in recordings:
        events = sorted({m.event_id for m in recording.markets})
        for other in events[1:]:
            parent[find(other)] = find(events[0])
    members: dict[str, list[Recording]] = {}
    for recording in recordings:
        members.setdefault(find(recording.event_id), []).append(recording)
    groups = []
    for files in members.values():
        events = sorted({m.event_id for r in files for m in r.markets})
        key = events[0] if len(events) == 1 else "+".join(events)
        markets = tuple(m for r in files for m in r.markets)
        groups.append(EventGroup(key=f"event {key}", paths=tuple(str(r.path) for r in files), markets=markets))
    return groups
