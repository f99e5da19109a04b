"""Faults the emulator injects on request: from a file at start, or posted to its control API while it runs."""

from __future__ import annotations

import json
import threading
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.config import describe_validation_error
from core.errors import EmulatorError

STREAM_KINDS = {"drop_stream", "status_503", "invalidate_session", "duplicate", "reorder", "late", "conflate"}
CALL_KINDS = {"error", "report", "delay"}


class FaultError(EmulatorError):
    """A fault file or posted fault is invalid."""


class Fault(BaseModel):
    """One fault: what goes wrong, when, and for how many calls or messages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal[
        "drop_stream",
        "status_503",
        "invalidate_session",
        "duplicate",
        "reorder",
        "late",
        "conflate",
        "error",
        "report",
        "delay",
    ]
    at: float | None = Field(default=None, ge=0, description="seconds after the replay starts; absent = at once")
    operation: str | None = Field(default=None, description="REST method (placeOrders ...); absent = any betting call")
    code: str | None = Field(default=None, description="error code for kind 'error'")
    status: Literal["FAILURE", "TIMEOUT"] = "FAILURE"
    seconds: float = Field(
        default=0.0, ge=0, description="refuse reconnects (drop_stream), delay (delay), publish times behind (late)"
    )
    count: int = Field(default=1, ge=1, description="calls or stream messages affected")

    def matches(self, operation: str) -> bool:
        """Whether this call fault applies to a REST method."""
        return self.operation is None or self.operation == operation


def parse_faults(data, source: str) -> list[Fault]:
    """Faults from parsed JSON/TOML: a list, or a table with a 'fault' list; errors name the source and key."""
    items = data.get("fault", []) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise FaultError(f"{source}: expected a list of faults ([[fault]] tables)")
    faults = []
    for index, item in enumerate(items):
        try:
            fault = Fault.model_validate(item)
        except ValidationError as exc:
            raise FaultError(describe_validation_error(source, exc, prefix=f"fault[{index}]")) from None
        if fault.kind == "error" and not fault.code:
            raise FaultError(f"{source}: fault[{index}]: kind 'error' needs a 'code' (e.g. TOO_MANY_REQUESTS)")
        faults.append(fault)
    return faults


def load_faults(path: str | Path) -> list[Fault]:
    """Read a TOML or JSON fault file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise FaultError(f"{p}: cannot read fault file ({exc.strerror})") from None
    try:
        data = json.loads(text) if p.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise FaultError(f"{p}: not valid {'JSON' if p.suffix == '.json' else 'TOML'}: {exc}") from None
    return parse_faults(data, str(p))


class FaultBook:
    """Scheduled faults, and call faults armed until they have been used `count` times."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scheduled: list[Fault] = []
        self._armed: list[list] = []  # [fault, uses left]

    def add(self, faults: list[Fault]) -> list[Fault]:
        """Schedule faults with `at`; returns those due at once (stream faults to run now)."""
        now = []
        with self._lock:
            for fault in faults:
                if fault.at is not None:
                    self._scheduled.append(fault)
                elif fault.kind in CALL_KINDS:
                    self._armed.append([fault, fault.count])
                else:
                    now.append(fault)
        return now

    def due(self, elapsed: float) -> list[Fault]:
        """Stream faults whose time has come (call faults due are armed instead)."""
        out = []
        with self._lock:
            keep = []
            for fault in self._scheduled:
                if fault.at is not None and fault.at <= elapsed:
                    if fault.kind in CALL_KINDS:
                        self._armed.append([fault, fault.count])
                    else:
                        out.append(fault)
                else:
                    keep.append(fault)
            self._scheduled = keep
        return out

    def take(self, operation: str) -> list[Fault]:
        """Call faults that apply to this call, each used once."""
        out = []
        with self._lock:
            for entry in self._armed:
                if entry[1] > 0 and entry[0].matches(operation):
                    entry[1] -= 1
                    out.append(entry[0])
            self._armed = [e for e in self._armed if e[1] > 0]
        return out


class MessageFaults:
    """Stream messages still to duplicate or hold back (sent after the next one), to publish late (their `pt`
    `seconds` behind market time) or to mark conflated (`con: true`): `duplicate`, `reorder`, `late`, `conflate`."""

    def __init__(self) -> None:
        self._left = {"duplicate": 0, "reorder": 0, "late": 0, "conflate": 0}
        self._held: list[dict] | None = None
        self._late_ms = 0

    def add(self, kind: str, count: int, seconds: float = 0.0) -> None:
        """Affect the next `count` messages."""
        self._left[kind] += count
        if kind == "late":
            self._late_ms = round(seconds * 1000)

    def marks(self) -> tuple[int, bool]:
        """For the next message: how many ms behind its publish time goes out, and whether it says conflated."""
        late = conflated = False
        for kind in ("late", "conflate"):
            if self._left[kind] > 0:
                self._left[kind] -= 1
                late, conflated = (True, conflated) if kind == "late" else (late, True)
        return (self._late_ms if late else 0), conflated

    def batches(self, changes: list[dict]) -> list[list[dict]]:
        """The batches to send for one message."""
        batches = [changes]
        if self._left["duplicate"] > 0:
            self._left["duplicate"] -= 1
            batches = [changes, changes]
        if self._held is not None:
            batches.append(self._held)
            self._held = None
        elif self._left["reorder"] > 0:
            self._left["reorder"] -= 1
            self._held = changes
            batches = batches[1:]
        return batches
