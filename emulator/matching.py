"""Matching against the replayed book: crossing fills, queue position for resting orders, lapses and voids."""

from __future__ import annotations

import itertools
from collections import defaultdict

from flumine.utils import PRICES

from emulator.book import MarketState
from emulator.orders import Order

VALID_PRICES = {float(p) for p in PRICES}
MIN_STAKE = 1.0


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

    def place(self, market: MarketState, instruction: dict, rfs: str, now_ms: int) -> tuple[Order, list[Order]]:
        """Place a LIMIT instruction on an open market; returns the order and every order it changed."""
        if market.status != "OPEN":
            raise InstructionError(
                "MARKET_SUSPENDED" if market.status == "SUSPENDED" else "MARKET_NOT_OPEN_FOR_BETTING", "ERROR_IN_ORDER"
            )
        if instruction.get("orderType", "LIMIT") != "LIMIT" or "limitOrder" not in instruction:
            raise InstructionError("BET_ACTION_ERROR", "INVALID_ORDER_TYPE")
        limit = instruction["limitOrder"]
        price = float(limit.get("price", 0))
        size = round(float(limit.get("size", 0)), 2)
        selection_id = int(instruction["selectionId"])
        status = market.runner_status(selection_id)
        if status == "REMOVED":
            raise InstructionError("BET_ACTION_ERROR", "RUNNER_REMOVED")
        if price not in VALID_PRICES:
            raise InstructionError("BET_ACTION_ERROR", "INVALID_ODDS")
        if size < MIN_STAKE and not (size > 0 and size * price >= 10):
            raise InstructionError("BET_ACTION_ERROR", "INVALID_BET_SIZE")
        side = instruction.get("side")
        if side not in ("BACK", "LAY"):
            raise InstructionError("BET_ACTION_ERROR", "ERROR_IN_ORDER")
        order = Order(
            bet_id=str(next(self._ids)),
            market_id=market.market_id,
            selection_id=selection_id,
            handicap=float(instruction.get("handicap") or 0.0),
            side=side,
            price=price,
            size=size,
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
                order.fills.clear()
                order.matched_ms = None
            order.cancel(now_ms)
        elif not order.complete:
            runner = market.runner(order.selection_id, order.handicap)
            order.queue_ahead = runner.available(_resting_key(order.side)).get(order.price, 0.0)
            self.by_market[market.market_id].append(order)
        return order, [order]

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
        """React to one applied market change; returns the orders it changed."""
        changed: dict[str, Order] = {}
        old_status, old_in_play = before
        resting = self.executable(market.market_id)
        for rc in change.get("rc") or ():
            for key in ("atb", "atl"):
                for price, _ in rc.get(key) or ():
                    self._taken.pop((market.market_id, rc["id"], key, price), None)
        if "marketDefinition" in change:
            for order in resting:
                if market.runner_status(order.selection_id) == "REMOVED":
                    order.void(now_ms)
                    changed[order.bet_id] = order
            turned_in_play = market.in_play and not old_in_play
            suspended = market.status != "OPEN" and old_status == "OPEN"
            for order in resting:
                if order.complete:
                    continue
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
                self._cross(market, order, now_ms)
                if order.size_matched != before_matched:
                    changed[order.bet_id] = order
        self._forget_complete(market.market_id)
        return list(changed.values())

    # --- helpers --------------------------------------------------------------------------------

    def _cross(self, market: MarketState, order: Order, now_ms: int) -> None:
        runner = market.runner(order.selection_id, order.handicap)
        key = "atb" if order.side == "BACK" else "atl"
        offers = runner.available(key)
        if order.side == "BACK":
            prices = sorted((p for p in offers if p >= order.price), reverse=True)
        else:
            prices = sorted(p for p in offers if p <= order.price)
        for price in prices:
            if order.remaining <= 0:
                break
            taken_key = (market.market_id, order.selection_id, key, price)
            free = round(offers[price] - self._taken[taken_key], 2)
            if free <= 0:
                continue
            size = min(free, order.remaining)
            order.fill(price, size, now_ms)
            self._taken[taken_key] += size

    def _forget_complete(self, market_id: str) -> None:
        self.by_market[market_id] = [o for o in self.by_market.get(market_id, ()) if not o.complete]


def _resting_key(side: str) -> str:
    """Where a resting order waits in the replayed book: a back offers to layers (atl), a lay to backers (atb)."""
    return "atl" if side == "BACK" else "atb"
