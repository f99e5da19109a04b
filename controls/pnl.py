"""Today's P&L: settled markets plus open positions valued at what hedging them now would lock in."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable

from core.clock import Clock
from core.positions import Positions, best_prices, close_out_at, positions

logger = logging.getLogger("paddock.pnl")


def _day(epoch: float) -> dt.date:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).date()


class DailyPnL:
    """Keeps the close-out value of each open market and the settled P&L of each UTC day (clock time)."""

    def __init__(
        self,
        clock: Clock,
        carried: dict[str, float] | None = None,
        positions_of: Callable[[object], Positions] = positions,
    ) -> None:
        self.clock = clock
        self.positions_of = positions_of  # a market -> the positions of all its orders
        self._open: dict[str, float] = {}
        # market id -> (positions, best prices, close-out value): revalued only when one of them changed
        self._valued: dict[str, tuple[Positions, tuple[dict, dict], float]] = {}
        self._closed: dict[dt.date, dict[str, object]] = defaultdict(dict)  # day -> market_id -> market
        self._settled: dict[str, float] = {}
        # realised before a restart on the day the run started (the day book), by market
        self.carried = dict(carried or {})
        self._carried_day = _day(clock.now())

    def update(self, market) -> None:
        """Revalue one open market from its latest book (only markets with orders cost anything)."""
        if len(market.blotter):
            self._open[market.market_id] = self.value(market)

    def value(self, market) -> float:
        """What the market's open position locks in if hedged now at its best prices."""
        pos = self.positions_of(market)
        if pos.is_flat:
            return 0.0
        prices = best_prices(market)
        known = self._valued.get(market.market_id)
        if known is not None and known[0] is pos and known[1] == prices:  # the ledger keeps an unchanged one
            return known[2]
        value = close_out_at(pos, *prices)
        self._valued[market.market_id] = (pos, prices, value)
        return value

    def settle(self, market) -> None:
        """Book a closed market's profit on the current day."""
        self._open.pop(market.market_id, None)
        self._valued.pop(market.market_id, None)
        self._closed[_day(self.clock.now())][market.market_id] = market
        self._settled[market.market_id] = sum(order.profit for order in market.blotter)

    def refresh_settled(self) -> None:
        """Re-read settled profits of today's markets (live: cleared orders arrive after the close)."""
        for market_id, market in self._closed[_day(self.clock.now())].items():
            self._settled[market_id] = sum(order.profit for order in market.blotter)

    def today(self) -> float:
        """Settled P&L of the clock's day (this run's, and what a restart carried over) plus the close-out value of
        open positions (commission excluded)."""
        return sum(self.settled_today().values()) + sum(self._open.values())

    def settled_today(self) -> dict[str, float]:
        """Realised P&L of the clock's day per market, with what a restart carried over."""
        day = _day(self.clock.now())
        out = dict(self.carried) if day == self._carried_day else {}
        out.update({m: self._settled[m] for m in self._closed.get(day, {})})
        return out
