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
    framework without such a strategy pays nothing. An observation is (best back price, best
    back size, best lay price, best lay size, back volume over the top `depth` levels, lay
    volume over the top `depth` levels, last traded price).
    """

    def __init__(self, maxlen: int = 100, depth: int = 3) -> None:
        self.maxlen = maxlen
        self.depth = depth
        self.buffers: dict[str, dict[int, deque]] = {}
        self._stream_ids: set[int] = set()

    def watch(self, stream_ids: Iterable[int]) -> None:
        """Observe the markets arriving on these streams."""
        self._stream_ids.update(stream_ids)

    def __call__(self, market) -> None:
        """Record one observation per active runner when the market is watched, open and pre-race."""
        book = market.market_book
        if book.streaming_unique_id not in self._stream_ids or book.status != "OPEN" or book.inplay:
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
