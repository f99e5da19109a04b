"""Per-market state (pre-race / in-play, OPEN / SUSPENDED / CLOSED) derived once per update."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum

from flumine.markets.middleware import Middleware

from core.clock import Clock


class Phase(StrEnum):
    """Trading phase of a market, from the market definition's inPlay flag."""

    PRE_RACE = "PRE_RACE"
    IN_PLAY = "IN_PLAY"


@dataclass
class MarketState:
    """What is known about one market, and what changed with its latest update."""

    market_id: str
    event_id: str | None
    event_type_id: str | None = None
    market_type: str | None = None
    in_play: bool = False  # once the market definition said inPlay (a plain bool: read on every update)
    status: str | None = None
    publish_time: float = 0.0
    in_play_at: float | None = None
    suspended_at: float | None = None
    reopened_at: float | None = None
    closed_at: float | None = None
    updates: int = 0
    # transitions carried by the latest update only
    went_in_play: bool = False
    suspended: bool = False
    reopened: bool = False
    transitions: list[tuple[float, str]] = field(default_factory=list)

    @property
    def phase(self) -> Phase:
        """Trading phase: IN_PLAY once the market definition has said inPlay."""
        return Phase.IN_PLAY if self.in_play else Phase.PRE_RACE

    @property
    def is_open(self) -> bool:
        """True when the latest update left the market OPEN."""
        return self.status == "OPEN"


class MarketStateTracker(Middleware):
    """flumine middleware that keeps a MarketState per market and groups markets by event."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.states: dict[str, MarketState] = {}
        self.events: dict[str, set[str]] = defaultdict(set)

    def __call__(self, market) -> None:
        """Update the market's state from its latest book."""
        book = market.market_book
        self.clock.observe(book.publish_time_epoch)
        state = self.states.get(book.market_id)
        if state is None:
            state = self._new_state(market)
        state.publish_time = book.publish_time_epoch / 1000.0
        state.updates += 1
        status = book.status
        previous = state.status
        went_in_play = not state.in_play and bool(book.inplay)
        if status == previous and not went_in_play:
            if state.suspended or state.reopened or state.went_in_play:
                state.suspended = state.reopened = state.went_in_play = False
            return
        now = self.clock.now()
        state.status = status
        state.suspended = status == "SUSPENDED" and previous != "SUSPENDED"
        state.reopened = status == "OPEN" and previous == "SUSPENDED"
        state.went_in_play = went_in_play
        if state.suspended:
            state.suspended_at = now
            state.transitions.append((now, "SUSPENDED"))
        if state.reopened:
            state.reopened_at = now
            state.transitions.append((now, "REOPENED"))
        if went_in_play:
            state.in_play = True
            state.in_play_at = now
            state.transitions.append((now, "IN_PLAY"))

    def _new_state(self, market) -> MarketState:
        book = market.market_book
        definition = book.market_definition
        event_id = str(definition.event_id) if definition and definition.event_id else None
        state = MarketState(
            market_id=book.market_id,
            event_id=event_id,
            event_type_id=str(definition.event_type_id) if definition else None,
            market_type=definition.market_type if definition else None,
        )
        self.states[book.market_id] = state
        if event_id:
            self.events[event_id].add(book.market_id)
        return state

    def remove_market(self, market) -> None:
        """Mark a market CLOSED when flumine removes it."""
        self.mark_closed(market.market_id)

    def mark_closed(self, market_id: str) -> None:
        """Record that a market closed (flumine skips middleware for CLOSED books); idempotent."""
        state = self.states.get(market_id)
        if state is not None and state.status != "CLOSED":
            state.status = "CLOSED"
            state.closed_at = self.clock.now()
            state.suspended = state.reopened = state.went_in_play = False
            state.transitions.append((state.closed_at, "CLOSED"))

    def get(self, market_id: str) -> MarketState | None:
        """State of a market, or None if no update has been seen."""
        return self.states.get(market_id)

    def event_markets(self, event_id: str) -> list[MarketState]:
        """States of all markets seen for an event, by market id."""
        return [self.states[m] for m in sorted(self.events.get(event_id, ()))]
