"""Positions kept as orders change: a ledger of a market's orders (or one strategy's) and their sums.

`positions(market, orders)` rebuilds everything from every order; a ledger gives the same Positions, equal
to the last bit, at a cost that does not grow with the orders a market has seen. It reads the orders that
can still change (the ones not complete), the ones it is told of (live: the order stream's updates), and
all of them once when a runner is removed (voids and reduction factors change complete orders). The matched
fills are summed fill by fill in blotter order, as outcome_profits and green_up sum them, and the sums
after each order are kept: a change re-sums only from the order that changed.

Orders change only at known moments: a market update (simulated matching, removals), an execution (placement,
cancel, on any thread), an order-stream message. Whoever sees one calls `Ledgers.stale()`; between two such
moments a ledger with no new and no touched order skips its sync (what it holds is what it would read).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import islice

from flumine.order.order import OrderStatus

from core.greenup import Fill
from core.positions import Folded, Positions, fills_of, runner_ids

_FINAL = (OrderStatus.EXECUTION_COMPLETE, OrderStatus.EXPIRED, OrderStatus.VIOLATION)
_Sums = tuple[list[float], list[float], dict[int, float], float]  # single, double, own, common


def _removals(market) -> tuple:
    book = market.market_book
    if book is None:
        return ()
    return tuple((r.selection_id, r.adjustment_factor) for r in book.runners if r.status == "REMOVED")


class Epoch:
    """A counter that moves whenever orders may have changed (read by ledgers to skip a sync that finds nothing)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def move(self) -> None:
        """Orders may have changed: the next sync of every ledger reads them."""
        self.value += 1


class Ledger:
    """One market's orders in blotter order (all, or those `source` gives), with their fills and sums."""

    def __init__(self, market, source: Callable[[], Sequence] | None = None, epoch: Epoch | None = None) -> None:
        self.market = market
        self._source = source  # None: every order of the market's blotter
        self._epoch = epoch  # None: every sync reads the orders that can change
        self._synced = -1  # the epoch of the last full sync
        self.orders: list = []
        self._index: dict[str, int] = {}  # order id -> position
        self._keys: list[tuple] = []
        self._matched: list[Fill | None] = []
        self._matched_at: list[int] = []  # positions with a matched fill, ascending
        self._matched_fills: list[Fill] = []  # their fills, in the same order
        self._unmatched: dict[int, Fill] = {}
        self._watch: set[int] = set()  # positions of orders that are not complete
        self._touched: set[int] = set()
        self._removed: tuple | None = None
        self._selections: Counter[int] = Counter()  # runners with a fill, matched or not
        self.sized = 0  # orders with any size matched
        self._runners: list[int] = []
        self._slot: dict[int, int] = {}
        self._sums: list[_Sums] = [self._empty()]
        self._valid = 0  # _sums[i] (the sums before order i) are right for i <= _valid
        self.version = 0  # moves when a fill changes
        self._cached: tuple | None = None

    # --- being told ---

    def touch(self, order_id: str) -> None:
        """An update for this order arrived (it may be complete already): read it at the next sync."""
        pos = self._index.get(order_id)
        if pos is not None:
            self._touched.add(pos)

    def sync(self) -> None:
        """Take in new orders and the changes of the ones that can change."""
        epoch = self._epoch
        if epoch is not None:
            now = epoch.value  # read before the orders: a change meanwhile moves it and the next sync reads again
            if now == self._synced and not self._touched and self._count() == len(self.orders):
                return
            self._synced = now
        for order in self._new_orders():
            self._add(order)
        removed = _removals(self.market)
        if removed != self._removed:
            self._removed = removed
            todo = range(len(self.orders))  # voids and reduced prices change complete orders
        else:
            todo = self._watch | self._touched if self._touched else list(self._watch)
        self._touched = set()
        for pos in todo:
            self._read(pos)

    def _count(self) -> int:
        return len(self._source()) if self._source is not None else len(self.market.blotter)

    def _new_orders(self) -> Sequence:
        known = len(self.orders)
        if self._source is not None:
            return self._source()[known:]
        blotter = self.market.blotter
        new = len(blotter) - known
        if new <= 0:
            return ()
        # flumine's Blotter keeps its orders in a dict in placement order and iterates over a copy of all of
        # them; the newest are read from the end of that dict instead (flumine 3.3.2: Blotter._orders)
        tail = list(islice(reversed(blotter._orders.values()), new))
        tail.reverse()
        return tail

    def _add(self, order) -> None:
        pos = len(self.orders)
        self.orders.append(order)
        self._index[order.id] = pos
        self._keys.append(())
        self._matched.append(None)
        self._read(pos)

    def _read(self, pos: int) -> None:
        order = self.orders[pos]
        # the key before the fills: a status another thread changes meanwhile differs next time and is read again
        key = (order.status, order.size_matched, order.average_price_matched, order.size_remaining)
        if order.status in _FINAL:
            self._watch.discard(pos)
        else:
            self._watch.add(pos)
        if key == self._keys[pos]:
            return
        before = self._keys[pos]
        self._keys[pos] = key
        self.sized += bool(key[1]) - bool(before and before[1])
        matched, unmatched = fills_of(order)
        old = self._matched[pos]
        if matched != old:
            self._set_matched(pos, old, matched)
        old = self._unmatched.get(pos)
        if unmatched != old:
            if old is not None:
                self._selections[old.selection_id] -= 1
                del self._unmatched[pos]
            if unmatched is not None:
                self._selections[unmatched.selection_id] += 1
                self._unmatched[pos] = unmatched
            self.version += 1

    def _set_matched(self, pos: int, old: Fill | None, new: Fill | None) -> None:
        self._matched[pos] = new
        at = bisect_left(self._matched_at, pos)
        if old is not None:
            self._selections[old.selection_id] -= 1
            del self._matched_at[at]
            del self._matched_fills[at]
        if new is not None:
            self._selections[new.selection_id] += 1
            self._matched_at.insert(at, pos)
            self._matched_fills.insert(at, new)
            self._track(new.selection_id)
        self._valid = min(self._valid, pos)
        self.version += 1

    # --- the sums ---

    def _empty(self) -> _Sums:
        n = len(self._runners)
        return [0.0] * n, [0.0] * n, {}, 0.0

    def _track(self, runner: int) -> None:
        if runner in self._slot:
            return
        self._slot[runner] = len(self._runners)
        self._runners.append(runner)
        self._sums = [self._empty()]
        self._valid = 0

    def _sum(self) -> _Sums:
        sums = self._sums
        del sums[self._valid + 1 :]
        for pos in range(self._valid, len(self.orders)):
            fill = self._matched[pos]
            sums.append(sums[pos] if fill is None else self._step(sums[pos], fill))
        self._valid = len(self.orders)
        return sums[-1]

    def _step(self, sums: _Sums, fill: Fill) -> _Sums:
        """The sums after one more fill, each the same float operations outcome_profits and green_up do."""
        single, double, own, common = sums
        sign = 1.0 if fill.side == "BACK" else -1.0
        lose = sign * fill.size
        win = lose * (fill.price - 1.0)
        slot = self._slot[fill.selection_id]
        new_single = [value - lose for value in single]
        new_single[slot] = single[slot] + win
        new_double = [value - lose - lose for value in double]
        new_double[slot] = double[slot] + win + win
        new_own = dict(own)
        new_own[fill.selection_id] = own.get(fill.selection_id, 0.0) + lose * fill.price
        return new_single, new_double, new_own, common - lose

    # --- what it gives ---

    def positions(self) -> Positions:
        """Positions of these orders, equal to positions(market, orders) over the same orders."""
        self.sync()
        selections = [runner for runner, count in self._selections.items() if count]
        runners = tuple(sorted(set(runner_ids(self.market)) | set(selections)))
        cached = self._cached
        if cached is not None and cached[0] == self.version and cached[1] == runners:
            return cached[2]
        for runner in runners:
            self._track(runner)
        single, double, own, common = self._sum()
        folded = Folded(
            single={runner: single[slot] for runner, slot in self._slot.items()},
            double={runner: double[slot] for runner, slot in self._slot.items()},
            own=own,
            common=common,
        )
        unmatched = tuple(self._unmatched[pos] for pos in sorted(self._unmatched))
        pos = Positions(self.market.market_id, tuple(self._matched_fills), unmatched, runners, folded)
        self._cached = (self.version, runners, pos)
        return pos


class Ledgers:
    """A ledger per market and per (market, strategy), made when first asked for."""

    def __init__(self) -> None:
        self._markets: dict[str, tuple[object, Ledger, dict]] = {}
        self.epoch = Epoch()

    def stale(self, *_) -> None:
        """Orders may have changed (a market update, an execution, an order-stream message): read them again."""
        self.epoch.move()

    def _entry(self, market) -> tuple[object, Ledger, dict]:
        entry = self._markets.get(market.market_id)
        if entry is None or entry[0] is not market:
            entry = self._markets[market.market_id] = (market, Ledger(market, epoch=self.epoch), {})
        return entry

    def market(self, market) -> Ledger:
        """The ledger of every order in the market."""
        return self._entry(market)[1]

    def strategy(self, market, strategy) -> Ledger:
        """The ledger of one strategy's orders in the market."""
        by_strategy = self._entry(market)[2]
        ledger = by_strategy.get(strategy)
        if ledger is None:
            blotter = market.blotter
            ledger = by_strategy[strategy] = Ledger(market, lambda: blotter.strategy_orders(strategy), self.epoch)
        return ledger

    def positions(self, market, strategy=None) -> Positions:
        """Positions of the market (or of one strategy's orders in it)."""
        ledger = self.market(market) if strategy is None else self.strategy(market, strategy)
        return ledger.positions()

    def touch(self, market_id: str, order_id: str) -> None:
        """An order update arrived for this order: its ledgers read it again."""
        entry = self._markets.get(market_id)
        if entry is not None:
            entry[1].touch(order_id)
            for ledger in entry[2].values():
                ledger.touch(order_id)
