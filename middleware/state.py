"""The market state tracker: flumine middleware that derives each market's phase and status once per update."""

from __future__ import annotations

from flumine.markets.middleware import Middleware

from core.clock import Clock, Timers
from core.marketstate import MarketState, MarketStates


class MarketStateTracker(MarketStates, Middleware):
    """The market states (core.marketstate), kept up to date by flumine as middleware: one update per book.

    Controls and strategies read it as the MarketStates it is; only this class writes phase and status. It
    is also where market time moves: the timers due before an update's publish time run first, at their
    deadlines, so nothing due earlier is judged by a later book."""

    def __init__(self, clock: Clock, timers: Timers | None = None) -> None:
        super().__init__()
        self.clock = clock
        self.timers = timers if timers is not None else Timers(clock)

    def __call__(self, market) -> None:
        """Run the timers due before this update's publish time, then update the market's state from its book."""
        book = market.market_book
        if book.publish_time_epoch >= self.timers.next_at * 1000.0:
            self.timers.run_until(book.publish_time_epoch / 1000.0)
        self.clock.observe(book.publish_time_epoch)
        state = self.states.get(book.market_id)
        if state is None:
            state = self.add(_new_state(book))
        state.publish_time = book.publish_time_epoch / 1000.0
        state.updates += 1
        status = book.status
        if status == state.status and (state.in_play or not book.inplay):
            state.quiet()
            return
        state.change(status, bool(book.inplay), self.clock.now())

    def remove_market(self, market) -> None:
        """Mark a market CLOSED when flumine removes it."""
        self.mark_closed(market.market_id, self.clock.now())


def _new_state(book) -> MarketState:
    definition = book.market_definition
    event_id = str(definition.event_id) if definition and definition.event_id else None
    return MarketState(
        market_id=book.market_id,
        event_id=event_id,
        event_type_id=str(definition.event_type_id) if definition else None,
        market_type=definition.market_type if definition else None,
    )
