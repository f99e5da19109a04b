"""The project's one clock: market-data time in a backtest, wall time live."""

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


class WallClock:
    """Clock that reads the machine's real time (live and paper trading)."""

    def now(self) -> float:
        """Current wall time in epoch seconds."""
        return time.time()

    def observe(self, publish_time_ms: int) -> None:
        """Wall time ignores market data."""
