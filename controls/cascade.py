"""Suspension cascades: an event's suspensions collected over a debounce window and handled once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from controls.dispatch import OrderDispatcher
from controls.hedger import Hedger
from core.clock import Clock, Timers
from core.config import CascadeConfig
from core.marketstate import ON_REOPENED, ON_SUSPENDED, MarketStates
from core.positions import Positions, rebuilt, resting

logger = logging.getLogger("paddock.cascade")


@dataclass
class Handling:
    """One cascade of an event: from its first suspension until every market in it reopened or closed."""

    event_id: str
    number: int
    opened_at: float
    window_ends: float
    markets: list[str] = field(default_factory=list)  # in order of suspension
    handled_at: float | None = None
    handled: set[str] = field(default_factory=set)
    cancel_calls: dict[str, int] = field(default_factory=dict)  # market -> orders sent to cancel
    positions: dict[str, Positions] = field(default_factory=dict)
    cancelled: dict[str, list] = field(default_factory=dict)
    reopened: dict[str, float] = field(default_factory=dict)
    books: dict[str, object] = field(default_factory=dict)  # market -> its book when it suspended (stale prices)
    done: dict[str, float] = field(default_factory=dict)  # market -> time its reopen was handled (or it closed)

    @property
    def finished(self) -> bool:
        """True when every market of the cascade reopened (and was handled) or closed."""
        return self.handled_at is not None and all(m in self.done for m in self.markets)


class CascadeController:
    """Debounces and handles suspension cascades; called per update after the state tracker.

    It queues cancels and hedges and marks each market's handled suspension and reopen as a notice on the
    market states; the strategies deliver on_suspended / on_reopened themselves. It never calls a strategy."""

    def __init__(
        self,
        config: CascadeConfig,
        clock: Clock,
        tracker: MarketStates,
        dispatcher: OrderDispatcher,
        hedger: Hedger,
        markets: Callable[[str], object | None],
        timers: Timers,
        positions_of: Callable[..., Positions] = rebuilt,
    ) -> None:
        self.config = config
        self.positions_of = positions_of  # (market) or (market, strategy) -> positions
        self.timers = timers
        self.clock = clock
        self.tracker = tracker
        self.dispatcher = dispatcher
        self.hedger = hedger
        self.markets = markets
        self.handlings: list[Handling] = []
        self.active: dict[str, Handling] = {}

    def __call__(self, market) -> None:
        """Note this update's suspension or reopen, then run whatever is due.

        The safety middleware calls this only while a handling is active or the update suspended
        the market; anything else is a no-op here too."""
        state = self.tracker.states.get(market.market_id)
        if not self.active and (state is None or not state.suspended):
            return
        if state is not None:
            event_id = state.event_id or market.market_id
            if state.suspended:
                self._suspended(event_id, market)
            elif state.reopened:
                handling = self.active.get(event_id)
                if handling is not None and market.market_id in handling.markets:
                    reopened = handling.reopened.setdefault(market.market_id, self.clock.now())
                    if self.config.reopen_settle:
                        self.timers.at(reopened + self.config.reopen_settle, self.tick)
        self.tick()

    def tick(self) -> None:
        """Run the handlings and reopen handlings that are due at the clock's time."""
        now = self.clock.now()
        for event_id, handling in list(self.active.items()):
            if handling.handled_at is None and (now >= handling.window_ends or self._all_suspended(event_id)):
                self._handle(handling)
            if handling.handled_at is not None:
                for market_id in handling.markets:
                    if market_id in handling.done:
                        continue
                    state = self.tracker.get(market_id)
                    if state is not None and state.status == "CLOSED":
                        handling.done[market_id] = now
                    elif (
                        market_id in handling.reopened
                        and now >= handling.reopened[market_id] + self.config.reopen_settle
                    ):
                        self._reopen(handling, market_id)
            if handling.finished:
                del self.active[event_id]

    def blocked(self, market_id: str) -> str | None:
        """Why new orders on this market are refused now, or None."""
        state = self.tracker.get(market_id)
        event_id = (state.event_id if state else None) or market_id
        handling = self.active.get(event_id)
        if handling is None:
            return None
        if handling.handled_at is None:
            return f"suspension cascade #{handling.number} on event {event_id}: collecting suspensions"
        if market_id in handling.markets and market_id not in handling.done:
            return f"suspension cascade #{handling.number} on event {event_id}: market suspended until it reopens"
        return None

    def _suspended(self, event_id: str, market) -> None:
        now = self.clock.now()
        market_id = market.market_id
        handling = self.active.get(event_id)
        if handling is None:
            handling = Handling(event_id, len(self.handlings) + 1, now, now + self.config.cascade_debounce)
            self.handlings.append(handling)
            self.active[event_id] = handling
            self.timers.at(handling.window_ends, self.tick)  # handled at the deadline, before any later book
            logger.info("cascade #%s on event %s opened by market %s", handling.number, event_id, market_id)
        handling.books[market_id] = market.market_book
        if market_id not in handling.markets:
            handling.markets.append(market_id)
        handling.done.pop(market_id, None)
        handling.reopened.pop(market_id, None)
        handling.handled.discard(market_id)
        if handling.handled_at is not None:
            self._handle_market(handling, market_id)  # a late suspension joins the running cascade

    def _all_suspended(self, event_id: str) -> bool:
        states = self.tracker.event_markets(event_id) if event_id in self.tracker.events else []
        return bool(states) and all(s.status in ("SUSPENDED", "CLOSED") for s in states)

    def _handle(self, handling: Handling) -> None:
        handling.handled_at = self.clock.now()
        logger.info(
            "cascade #%s on event %s: handling %s market(s)", handling.number, handling.event_id, len(handling.markets)
        )
        for market_id in handling.markets:
            self._handle_market(handling, market_id)

    def _handle_market(self, handling: Handling, market_id: str) -> None:
        market = self.markets(market_id)
        if market is None or market_id in handling.handled:
            return
        handling.handled.add(market_id)
        unmatched = [o for o in market.blotter if resting(o)]
        for order in unmatched:
            self.dispatcher.cancel(market, order)
        if unmatched:
            handling.cancel_calls[market_id] = len(unmatched)
        handling.cancelled[market_id] = unmatched
        handling.positions[market_id] = self.positions_of(market)
        self.tracker.notify(market, ON_SUSPENDED, handling.number, handling.books.get(market_id))

    def _reopen(self, handling: Handling, market_id: str) -> None:
        handling.done[market_id] = self.clock.now()
        market = self.markets(market_id)
        if market is None:
            return
        for order in handling.cancelled.get(market_id, []):
            if resting(order):  # cancels that failed while the market was suspended
                self.dispatcher.cancel(market, order)
        if self.config.policy == "hedge":
            for strategy in _strategies_in(market):
                if self.positions_of(market, strategy).matched:
                    self.hedger.hedge(market, strategy, reason=f"reopen after cascade #{handling.number}")
        self.tracker.notify(market, ON_REOPENED, handling.number)


def _strategies_in(market) -> list:
    """Strategies with orders in the market, in the order of their first order."""
    return list(dict.fromkeys(order.trade.strategy for order in market.blotter))
