"""Order calls per second over a sliding one-second window of the project's clock."""

from __future__ import annotations

from collections import deque

from core.clock import Clock


class RateLimiter:
    """Counts exchange calls and says how many more fit in the current second."""

    def __init__(self, clock: Clock, in_play: float, pre_race: float) -> None:
        self.clock = clock
        self.in_play = in_play
        self.pre_race = pre_race
        self._calls: deque[float] = deque()

    def room(self, in_play: bool) -> int:
        """Calls that may be made now for a market in this phase."""
        now = self.clock.now()
        while self._calls and (now - self._calls[0] >= 1.0 or self._calls[0] > now):
            self._calls.popleft()
        limit = self.in_play if in_play else self.pre_race
        return max(0, int(limit) - len(self._calls))

    def record(self, calls: int = 1) -> None:
        """Count calls just made."""
        now = self.clock.now()
        self._calls.extend([now] * calls)
