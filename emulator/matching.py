"""Matching against the replayed book: crossing fills, queue position for resting orders, lapses and voids."""

from __future__ import annotations

import itertools
from collections import defaultdict

from flumine.utils import PRICES

from emulator.book import MarketState
from emulator.orders import Order

VALID_PRICES = {float(p) for p in PRICES}
MIN_STAKE = 1.0
MIN_ADJUSTMENT_FACTOR = 2.5  # flumine's WIN_MINIMUM_ADJUSTMENT_FACTOR: a smaller factor reduces no price


class InstructionError(Exception):
    """An instruction the exchange refuses: report error code and instruction error code."""

    def __init__(self, report_code: str, instruction_code: str) -> None:
        super().__init__(f"{report_code}/{instruction_code}")
        self.report_code = report_code
        self.instruction_code = instruction_code


class MatchingEngine:
    """All orders of the exchange and how they meet the replayed book."""

    def __init__(self, first_bet_id: int = 300000000000) -> None:
        self.orders: dict[str, Order] = {}
        self.by_market: dict[str, list[Order]] = defaultdict(list)
        self._ids = itertools.count(first_bet_id)
        # stake our orders already took from a replayed offer, until the replay rewrites that offer
        self._taken: dict[tuple, float] = defaultdict(float)

    # --- instructions -------------------------------------------------------------------------

    def validate(self, market: MarketState, instruction: dict) -> None:
        """Refuse at once what the exchange refuses on arrival: a closed or suspended market, a bad instruction."""
        if market.status != "OPEN":
            raise InstructionError(
                "MARKET_SUSPENDED" if market.status == "SUSPENDED" else "MARKET_NOT_OPEN_FOR_BETTING", "ERROR_IN_ORDER"
            )
        if instruction.get("orderType", "LIMIT") != "LIMIT" or not isinstance(instruction.get("limitOrder"), dict):
            raise InstructionError("BET_ACTION_ERROR", "INVALID_ORDER_TYPE")
        limit = instruction["limitOrder"]
        try:
            price = float(limit.get("price", 0))
            size = round(float(limit.get("size", 0)), 2)
            selection_id = int(instruction["selectionId"])
        except (TypeError, ValueError, KeyError):
            raise InstructionError("BET_ACTION_ERROR", "ERROR_IN_ORDER") from None
        if market.runner_status(selection_id) == "REMOVED":
            raise InstructionError("BET_ACTION_ERROR", "RUNNER_REMOVED")
        if price not in VALID_PRICES:
            raise InstructionError("BET_ACTION_ERROR", "INVALID_ODDS")
        if size < MIN_STAKE and not (size > 0 and size * price >= 10):
            raise InstructionError("BET_ACTION_ERROR", "INVALID_BET_SIZE")
        if instruction.get("side") not in ("BACK", "LAY"):
            raise InstructionError("BET_ACTION_ERROR", "ERROR_IN_ORDER")

    def place(self, market: MarketState, instruction: dict, rfs: str, now_ms: int) -> Order:
        """Put a validated LIMIT instruction on the book now: it takes what it crosses (at the offered prices), then rests.

        As SimulatedOrder.place: the market must be open and the runner not removed by now."""
        self.validate(market, instruction)
        limit = instruction["limitOrder"]
        order = Order(
            bet_id=str(next(self._ids)),
            market_id=market.market_id,
            selection_id=int(instruction["selectionId"]),
            handicap=float(instruction.get("handicap") or 0.0),
            side=instruction["side"],
            price=float(limit["price"]),
            size=round(float(limit["size"]), 2),
            persistence=limit.get("persistenceType") or "LAPSE",
            time_in_force=limit.get("timeInForce"),
            min_fill_size=limit.get("minFillSize"),
            rfo=instruction.get("customerOrderRef") or "",
            rfs=rfs or "",
            placed_ms=now_ms,
        )
        self.orders[order.bet_id] = order
        self._cross(market, order, now_ms)
        if order.time_in_force == "FILL_OR_KILL":
            needed = order.min_fill_size if order.min_fill_size else order.size
            if order.size_matched + 1e-9 < needed:
                self._untake(market, order)
                order.fills.clear()
                order.matched_ms = None
            order.cancel(now_ms)
        elif not order.complete:
            runner = market.runner(order.selection_id, order.handicap)
            order.queue_ahead = runner.available(_resting_key(order.side)).get(order.price, 0.0)
            self.by_market[market.market_id].append(order)
        return order

    def cancel(self, market: MarketState, bet_id: str, reduction: float | None, now_ms: int) -> tuple[float, Order]:
        """Cancel all or part of an order; returns the size cancelled and the order."""
        order = self.orders.get(str(bet_id))
        if order is None or order.market_id != market.market_id or order.complete:
            raise InstructionError("BET_ACTION_ERROR", "BET_TAKEN_OR_LAPSED")
        if market.status != "OPEN":
            raise InstructionError("MARKET_SUSPENDED", "ERROR_IN_ORDER")
        cancelled = order.cancel(now_ms, reduction)
        self._forget_complete(market.market_id)
        return cancelled, order

    def executable(self, market_id: str | None = None) -> list[Order]:
        """Orders still waiting in a market (or in all markets)."""
        ids = [market_id] if market_id else list(self.by_market)
        return [o for mid in ids for o in self.by_market.get(mid, ()) if not o.complete]

    # --- the replay moves the book ------------------------------------------------------------

    def on_change(
        self, market: MarketState, change: dict, traded: dict, before: tuple[str, bool], now_ms: int
    ) -> list[Order]:
        """React to one applied market change (removals already handled); returns the orders it changed."""
        changed: dict[str, Order] = {}
        old_status, old_in_play = before
        for rc in change.get("rc") or ():
            for key in ("atb", "atl"):
                for price, _ in rc.get(key) or ():
                    self._taken.pop((market.market_id, rc["id"], key, price), None)
        if "marketDefinition" in change:
            turned_in_play = market.in_play and not old_in_play
            suspended = market.status != "OPEN" and old_status == "OPEN"
            for order in self.executable(market.market_id):
                if market.status == "CLOSED" or (
                    order.persistence != "PERSIST" and (turned_in_play or (suspended and order.persistence == "LAPSE"))
                ):
                    if order.lapse(now_ms):
                        changed[order.bet_id] = order
        if market.status == "OPEN":
            for order in self.executable(market.market_id):
                runner = market.runner(order.selection_id, order.handicap)
                before_matched = order.size_matched
                volume = traded.get((order.selection_id, order.handicap), {}).get(order.price, 0.0)
                if volume:
                    used = min(order.queue_ahead, volume)
                    order.queue_ahead -= used
                    order.fill(order.price, volume - used, now_ms)
                    traded[(order.selection_id, order.handicap)][order.price] = max(
                        volume - used - order.remaining, 0.0
                    )
                order.queue_ahead = min(
                    order.queue_ahead, runner.available(_resting_key(order.side)).get(order.price, 0.0)
                )
                self._cross_resting(market, order, now_ms)
                if order.size_matched != before_matched:
                    changed[order.bet_id] = order
        self._forget_complete(market.market_id)
        return list(changed.values())

    def on_removals(self, market: MarketState, removed: dict[int, float], now_ms: int) -> list[Order]:
        """Runners just removed: their bets are void; the others' fills so far settle at reduced prices.

        As flumine's SimulatedMiddleware: each fill matched before the removal of a runner whose
        adjustmentFactor is at least 2.5 is settled at round(price * (1 - factor / 100), 2), at least 1.01."""
        changed: dict[str, Order] = {}
        for order in self.orders.values():
            if order.market_id != market.market_id:
                continue
            if order.selection_id in removed:
                if order.fills or order.remaining:
                    order.void(now_ms)
                    changed[order.bet_id] = order
                continue
            for factor in removed.values():
                if factor >= MIN_ADJUSTMENT_FACTOR and order.fills:
                    order.reduce(factor)
                    changed[order.bet_id] = order
        self._forget_complete(market.market_id)
        return list(changed.values())

    # --- helpers --------------------------------------------------------------------------------

    def _crossing(self, market: MarketState, order: Order) -> list[tuple[tuple, float]]:
        """Offers that cross the order, best first for it: (taken key, size still free)."""
        runner = market.runner(order.selection_id, order.handicap)
        key = "atb" if order.side == "BACK" else "atl"
        offers = runner.available(key)
        if order.side == "BACK":
            prices = sorted((p for p in offers if p >= order.price), reverse=True)
        else:
            prices = sorted(p for p in offers if p <= order.price)
        out = []
        for price in prices:
            taken_key = (market.market_id, order.selection_id, key, price)
            free = round(offers[price] - self._taken[taken_key], 2)
            if free > 0:
                out.append((taken_key, free))
        return out

    def _cross(self, market: MarketState, order: Order, now_ms: int) -> None:
        """The taker at placement: matched at each crossing offer's own price (price improvement)."""
        for taken_key, free in self._crossing(market, order):
            if order.remaining <= 0:
                break
            size = min(free, order.remaining)
            order.fill(taken_key[3], size, now_ms)
            self._taken[taken_key] += size

    def _cross_resting(self, market: MarketState, order: Order, now_ms: int) -> None:
        """A resting order the replayed book has moved through: matched at its own price, first in the queue."""
        for taken_key, free in self._crossing(market, order):
            if order.remaining <= 0:
                break
            size = min(free, order.remaining)
            order.fill(order.price, size, now_ms)
            order.queue_ahead = 0.0
            self._taken[taken_key] += size

    def _untake(self, market: MarketState, order: Order) -> None:
        """Give back the offers a killed order took (FILL_OR_KILL that fell short)."""
        key = "atb" if order.side == "BACK" else "atl"
        for price, size in order.fills:
            taken_key = (market.market_id, order.selection_id, key, price)
            self._taken[taken_key] = max(self._taken[taken_key] - size, 0.0)

    def _forget_complete(self, market_id: str) -> None:
        self.by_market[market_id] = [o for o in self.by_market.get(market_id, ()) if not o.complete]


def _resting_key(side: str) -> str:
    """Where a resting order waits in the replayed book: a back offers to layers (atl), a lay to backers (atb)."""
    return "atl" if side == "BACK" else "atb"
