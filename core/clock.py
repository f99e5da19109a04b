"""The project's clocks: market time for all trading logic in every mode, wall time where nothing else will do.

Market time is the publish time of the latest market data. In a backtest it is exactly that, so a backtest
is deterministic. Live and in paper it is the latest publish time too (against Betfair that is wall time
less the latency; against the emulator it follows the replay at any speed), carried forward at wall-clock
rate while the stream is quiet, so timers such as a cascade's debounce still come due without an update.
Wall time is kept for what must run on the operator's clock: the stream-silence watchdog, the times in the
kill switch's history, the exchange call log."""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    """Source of the current time in epoch seconds for all timing logic."""

    def now(self) -> float:
        """Current time in epoch seconds."""
        ...

    def observe(self, publish_time_ms: int) -> None:
        """Tell the clock the publish time (epoch ms) of market data just received."""
        ...

    def advance_to(self, when: float) -> None:
        """Move market time on to a later time between updates (a timer's deadline)."""
        ...

    def lag(self) -> float:
        """Seconds the latest market data's publish time lagged its receipt (0 where receipt is publish)."""
        ...


class MarketDataClock:
    """Clock that reads the latest market-data publish time (deterministic backtests)."""

    def __init__(self) -> None:
        self._now = 0.0

    def now(self) -> float:
        """Latest observed publish time in epoch seconds."""
        return self._now

    def observe(self, publish_time_ms: int) -> None:
        """Move to the publish time of the update being processed (replays of several events jump)."""
        self._now = publish_time_ms / 1000.0

    def advance_to(self, when: float) -> None:
        """Move on to a later time (a timer's deadline) between updates."""
        if when > self._now:
            self._now = when

    def lag(self) -> float:
        """A replay receives each update at its publish time: no lag, so a backtest never pauses for one."""
        return 0.0


class LiveMarketClock:
    """Market time of a live stream: the latest publish time seen, which never goes back.

    A book is judged at exactly its publish time, as in a backtest. When the stream has been quiet for a
    while, `quiet_until` says how far market time has moved meanwhile (the wall time since the last message),
    so timers (a cascade's debounce, a settle delay) come due without an update; before any data it reads
    wall time."""

    QUIET = 0.1  # seconds without any market message before market time is moved on by wall time

    def __init__(self, wall: Clock | None = None) -> None:
        self._wall = wall or WallClock()
        self._now = self._wall.now()
        self._seen_at = self._now  # wall time of the latest market message
        self._seen_now = self._now  # market time then
        self._lag = 0.0  # receipt (wall) less publish time of the latest market message

    def now(self) -> float:
        """The latest publish time (or a later time it was moved on to), epoch seconds."""
        return self._now

    def observe(self, publish_time_ms: int) -> None:
        """A market update with this publish time arrived."""
        seen = publish_time_ms / 1000.0
        if seen > self._now:
            self._now = seen
        self._seen_at = self._wall.now()
        self._seen_now = self._now
        self._lag = self._seen_at - seen

    def lag(self) -> float:
        """Wall seconds between the latest update's publish time and its receipt here (when it was observed)."""
        return self._lag

    def advance_to(self, when: float) -> None:
        """Move on to a later time (a timer's deadline, or quiet_until)."""
        if when > self._now:
            self._now = when

    def quiet_until(self) -> float | None:
        """Where market time has got to over a quiet spell (None if a message came within QUIET seconds)."""
        quiet = self._wall.now() - self._seen_at
        return self._seen_now + quiet if quiet > self.QUIET else None


class WallClock:
    """Clock that reads the machine's real time."""

    def now(self) -> float:
        """Current wall time in epoch seconds."""
        return time.time()

    def observe(self, publish_time_ms: int) -> None:
        """Wall time ignores market data."""

    def advance_to(self, when: float) -> None:
        """Wall time moves by itself."""

    def lag(self) -> float:
        """Wall time reads no market data."""
        return 0.0


class Timers:
    """Deadlines in market time: each callback runs once, when market time reaches its deadline, with the
    clock at the deadline; `after` runs once each batch of due timers has (the end of a unit of work)."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.after: Callable[[], None] | None = None
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._count = itertools.count()
        self.next_at = math.inf  # the earliest deadline (a plain attribute: tested on every update)

    def at(self, deadline: float, callback: Callable[[], None]) -> None:
        """Run callback when market time reaches deadline (epoch seconds)."""
        heapq.heappush(self._due, (deadline, next(self._count), callback))
        self.next_at = self._due[0][0]

    def run_until(self, when: float) -> None:
        """Run every timer due by `when`, in deadline order, each with the clock moved on to its deadline."""
        while self._due and self._due[0][0] <= when:
            deadline = self._due[0][0]
            self.clock.advance_to(deadline)
            while self._due and self._due[0][0] <= deadline:
                heapq.heappop(self._due)[2]()
            self.next_at = self._due[0][0] if self._due else math.inf
            if self.after is not None:
                self.after()

    def run_all(self) -> None:
        """Run every pending timer at its deadline (the data they waited for has ended)."""
        if self._due:
            self.run_until(max(deadline for deadline, _, _ in self._due))

    def __len__(self) -> int:
        return len(self._due)
