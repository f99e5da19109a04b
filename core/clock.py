"""The project's clocks: market time for all trading logic in every mode, wall time where nothing else will do.

Market time is the publish time of the latest market data. In a backtest it is exactly that, so a backtest
is deterministic. Live and in paper it is the latest publish time too (against Betfair that is wall time
less the latency; against the emulator it follows the replay at any speed), carried forward at wall-clock
rate while the stream is quiet, so timers such as a cascade's debounce still come due without an update.
Wall time is kept for what must run on the operator's clock: the stream-silence watchdog, the times in the
kill switch's history, the exchange call log."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Source of the current time in epoch seconds for all timing logic."""

    def now(self) -> float:
        """Current time in epoch seconds."""
        ...

    def observe(self, publish_time_ms: int) -> None:
        """Tell the clock the publish time (epoch ms) of market data just received."""
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


class LiveMarketClock:
    """Market time of a live stream: the latest publish time seen, which never goes back.

    A book is judged at exactly its publish time, as in a backtest. When no market data has arrived for a
    while, `catch_up` moves the time on by the wall time that passed, so timers (a cascade's debounce, a
    settle delay) come due without an update; before any data it reads wall time."""

    QUIET = 0.1  # seconds without any market message before catch_up moves market time on

    def __init__(self, wall: Clock | None = None) -> None:
        self._wall = wall or WallClock()
        self._now = self._wall.now()
        self._seen_at = self._now  # wall time of the latest market message

    def now(self) -> float:
        """The latest publish time (or where catch_up moved it), epoch seconds."""
        return self._now

    def observe(self, publish_time_ms: int) -> None:
        """A market update with this publish time arrived."""
        self._seen_at = self._wall.now()
        seen = publish_time_ms / 1000.0
        if seen > self._now:
            self._now = seen

    def catch_up(self) -> None:
        """With the stream quiet for longer than QUIET, move market time on by the wall time since its last message."""
        wall = self._wall.now()
        quiet = wall - self._seen_at
        if quiet > self.QUIET:
            self._now += quiet
            self._seen_at = wall


class WallClock:
    """Clock that reads the machine's real time."""

    def now(self) -> float:
        """Current wall time in epoch seconds."""
        return time.time()

    def observe(self, publish_time_ms: int) -> None:
        """Wall time ignores market data."""
