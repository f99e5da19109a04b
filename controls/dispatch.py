"""The order path: queues placements and cancels, sends each market's in one call, within the rate limit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from flumine.order.order import OrderStatus

from controls.ratelimit import RateLimiter
from core.clock import Clock
from core.positions import HEDGE, is_hedge

logger = logging.getLogger("paddock.orders")


@dataclass(frozen=True)
class Call:
    """One call to the exchange: placeOrders or cancelOrders on one market."""

    at: float
    market_id: str
    operation: str  # "place" or "cancel"
    instructions: int


@dataclass(frozen=True)
class Refusal:
    """An order a control refused, with the reason."""

    at: float
    market_id: str
    selection_id: int
    side: str
    price: float
    size: float
    strategy: str
    hedge: bool
    reason: str


@dataclass
class _Pending:
    places: list = field(default_factory=list)
    cancels: list = field(default_factory=list)  # (order, size_reduction)


class OrderDispatcher:
    """Batches orders per market (one placeOrders and one cancelOrders call each) under a rate limit."""

    def __init__(
        self,
        flumine,
        clock: Clock,
        limiter: RateLimiter,
        in_play: Callable[[str], bool],
        urgent: Callable[[], bool],
        on_error: Callable[[Exception, str], None],
        on_refused: Callable[[object, object, str], None] | None = None,
    ) -> None:
        self.flumine = flumine
        self.clock = clock
        self.limiter = limiter
        self.in_play = in_play
        self.urgent = urgent
        self.on_error = on_error
        self.on_refused = on_refused  # (market, order, reason): the strategy is told through its market's notices
        self.calls: list[Call] = []
        self.refusals: list[Refusal] = []
        self.queued_listeners: list[Callable[[object, object], None]] = []  # (market, order) as it is queued
        self.placed_listeners: list[Callable[[object, object], None]] = []  # (market, order) before it is sent
        self.refusal_listeners: list[Callable[[Refusal], None]] = []
        # market id -> what waits to be sent; insertion order is queue order. A plain attribute, not a
        # property: the strategy and middleware test it on every update ("anything queued?").
        self.pending: dict[str, _Pending] = {}

    def place(self, market, order, hedge: bool = False) -> None:
        """Queue a new order; it is checked by the controls when it is sent."""
        if hedge:
            order.context[HEDGE] = True
        self.pending.setdefault(market.market_id, _Pending()).places.append(order)
        for listener in self.queued_listeners:
            listener(market, order)

    def cancel(self, market, order, size_reduction: float | None = None) -> None:
        """Queue a cancel of (part of) an order's unmatched size."""
        pending = self.pending.setdefault(market.market_id, _Pending())
        if all(o is not order for o, _ in pending.cancels):
            pending.cancels.append((order, size_reduction))

    @property
    def queued(self) -> int:
        """Orders and cancels waiting to be sent."""
        if not self.pending:
            return 0
        return sum(len(p.places) + len(p.cancels) for p in self.pending.values())

    def flush(self) -> None:
        """Send what the rate limit allows, market by market in queue order; the rest keeps waiting."""
        if not self.pending:
            return
        urgent = self.urgent()
        for market_id in list(self.pending):
            pending = self.pending[market_id]
            market = self.flumine.markets.markets.get(market_id)
            if market is None:
                del self.pending[market_id]
                continue
            room = 2 if urgent and pending.cancels else self.limiter.room(self.in_play(market_id))
            if room <= 0:
                break  # queued in order: later markets wait behind this one
            if pending.cancels:
                self._send_cancels(market, pending.cancels)
                pending.cancels = []
                room -= 1
            if pending.places and room > 0:
                self._send_places(market, pending.places)
                pending.places = []
            if not pending.places and not pending.cancels:
                del self.pending[market_id]

    def _send_cancels(self, market, cancels: list) -> None:
        try:
            with market.transaction() as t:
                # force: a cancel is always safe to ask for, and flumine's local check refuses any cancel on a
                # suspended market; the exchange answers, and the cascade retries failures at the reopen
                sent = sum(
                    1
                    for order, reduction in cancels
                    if self._cancellable(order) and t.cancel_order(order, reduction, force=True)
                )
        except Exception as exc:
            self._failed(market, exc)
            return
        if sent:
            self._record(market.market_id, "cancel", sent)

    @staticmethod
    def _cancellable(order) -> bool:
        return order.bet_id is not None and order.size_remaining > 0 and order.status is OrderStatus.EXECUTABLE

    def _send_places(self, market, places: list) -> None:
        accepted = 0
        try:
            with market.transaction() as t:
                for order in places:
                    if t.place_order(order):
                        accepted += 1
                        for listener in self.placed_listeners:  # inside the transaction: before placeOrders goes
                            listener(market, order)
                    else:
                        self._refused(market, order)
        except Exception as exc:
            self._failed(market, exc)
        if accepted:
            self._record(market.market_id, "place", accepted)

    def _record(self, market_id: str, operation: str, instructions: int) -> None:
        self.limiter.record(1)
        self.calls.append(Call(self.clock.now(), market_id, operation, instructions))

    def _refused(self, market, order) -> None:
        refusal = Refusal(
            at=self.clock.now(),
            market_id=order.market_id,
            selection_id=order.selection_id,
            side=order.side,
            price=order.order_type.price,
            size=order.order_type.size,
            strategy=order.trade.strategy.name,
            hedge=is_hedge(order),
            reason=order.violation_msg or "refused",
        )
        self.refusals.append(refusal)
        for listener in self.refusal_listeners:
            listener(refusal)
        logger.info(
            "order refused on %s %s: %s",
            refusal.market_id,
            refusal.selection_id,
            refusal.reason,
            extra={"market_id": refusal.market_id, "strategy": refusal.strategy},
        )
        if self.on_refused is not None:
            self.on_refused(market, order, refusal.reason)

    def _failed(self, market, exc: Exception) -> None:
        logger.exception("order path error on market %s", market.market_id, extra={"market_id": market.market_id})
        self.on_error(exc, market.market_id)
