"""The emulated exchange's clock: market time that starts at "now" with the replay and runs at its speed."""

from __future__ import annotations

import threading
import time


class ReplayClock:
    """Market time of the replay: wall time until it starts, then replay_start + elapsed wall time x speed.

    A replayed message at `offset` (gap-capped market seconds after the first) is published at
    `at(offset)`, so publish times keep the recording's spacing at any speed."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._lock = threading.Lock()
        self._wall: float | None = None  # monotonic time the replay started
        self._start_ms: int | None = None  # epoch ms the replay started

    def start(self) -> bool:
        """Start market time now; False when it had already started."""
        with self._lock:
            if self._wall is not None:
                return False
            self._start_ms = int(time.time() * 1000)
            self._wall = time.monotonic()
            return True

    @property
    def started(self) -> bool:
        """Whether the replay has begun."""
        return self._wall is not None

    @property
    def start_ms(self) -> int:
        """Epoch ms the replay started (0 before)."""
        return self._start_ms or 0

    def offset(self) -> float:
        """Market seconds since the replay started (0 before)."""
        return 0.0 if self._wall is None else (time.monotonic() - self._wall) * self.speed

    def offset_ms(self) -> int:
        """Market ms since the replay started (0 before)."""
        return int(self.offset() * 1000)

    def now_ms(self) -> int:
        """The exchange's now as epoch ms: wall time before the replay, market time after."""
        if self._start_ms is None:
            return int(time.time() * 1000)
        return self._start_ms + self.offset_ms()

    def at(self, offset: float) -> int:
        """Publish time (epoch ms) of a message `offset` market seconds into the replay."""
        return self.start_ms + round(offset * 1000)

    def set_speed(self, speed: float) -> None:
        """Run on at another speed from now; market time so far is kept (a rehearsal's slow and fast parts)."""
        with self._lock:
            if self._wall is not None:
                now = time.monotonic()
                self._wall = now - (now - self._wall) * self.speed / speed
            self.speed = speed

    def wall_due(self, offset: float) -> float:
        """The monotonic time at which market time reaches `offset`."""
        return (self._wall or time.monotonic()) + offset / self.speed

    def wall_seconds(self, market_seconds: float) -> float:
        """Wall seconds that `market_seconds` of market time take."""
        return market_seconds / self.speed
