"""Signal buffer: the latest pre-race order book observations per runner, for core.signals."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import numpy as np
from flumine.markets.middleware import Middleware

from core.signals import RunnerSignals, compute_signals

NAN = float("nan")


class SignalBuffer(Middleware):
    """flumine middleware that keeps the last `maxlen` observations of each runner of open pre-race markets.

    Only markets on streams of strategies that use signals are observed (`watch`), so a
    framework without such a strategy pays nothing. The streams are watched, not their ids: flumine
    numbers a live stream anew when it subscribes (and on every reconnect), so a book with an id not
    seen before is looked up among the watched streams once. An observation is (best back price, best
    back size, best lay price, best lay size, back volume over the top `depth` levels, lay
    volume over the top `depth` levels, last traded price).
    """

    def __init__(self, maxlen: int = 100, depth: int = 3) -> None:
        self.maxlen = maxlen
        self.depth = depth
        self.buffers: dict[str, dict[int, deque]] = {}
        self._streams: list = []
        self._watched: dict[int, bool] = {}  # stream id -> whether its markets are observed

    def watch(self, streams: Iterable) -> None:
        """Observe the markets arriving on these flumine streams (whatever ids flumine gives them)."""
        self._streams.extend(streams)
        self._watched.clear()

    def _watching(self, stream_id: int) -> bool:
        watched = stream_id in {stream.stream_id for stream in self._streams}
        self._watched[stream_id] = watched
        return watched

    def __call__(self, market) -> None:
        """Record one observation per active runner when the market is watched, open and pre-race."""
        book = market.market_book
        watched = self._watched.get(book.streaming_unique_id)
        if watched is None:
            watched = self._watching(book.streaming_unique_id)
        if not watched or book.status != "OPEN" or book.inplay:
            return
        runners = self.buffers.get(book.market_id)
        if runners is None:
            runners = self.buffers[book.market_id] = {}
        depth = self.depth
        for runner in book.runners:
            if runner.status != "ACTIVE":
                continue
            atb = runner.ex.available_to_back
            atl = runner.ex.available_to_lay
            buf = runners.get(runner.selection_id)
            if buf is None:
                buf = runners[runner.selection_id] = deque(maxlen=self.maxlen)
            buf.append(
                (
                    atb[0]["price"] if atb else NAN,
                    atb[0]["size"] if atb else 0.0,
                    atl[0]["price"] if atl else NAN,
                    atl[0]["size"] if atl else 0.0,
                    sum(level["size"] for level in atb[:depth]),
                    sum(level["size"] for level in atl[:depth]),
                    runner.last_price_traded or NAN,
                )
            )

    def remove_market(self, market) -> None:
        """Drop a closed market's buffers."""
        self.buffers.pop(market.market_id, None)

    def runner(self, market_id: str, selection_id: int, window: int | None = None) -> RunnerSignals | None:
        """Signals over the last `window` observations of a runner, or None if none were recorded."""
        buf = self.buffers.get(market_id, {}).get(selection_id)
        if not buf:
            return None
        rows = np.array(buf, dtype=float)
        if window is not None:
            rows = rows[-window:]
        return compute_signals(selection_id, rows)
