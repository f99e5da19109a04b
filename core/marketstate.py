"""What is known of each market (phase, status, transitions), the status -> action table, and hook notices."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum


class Phase(StrEnum):
    """Trading phase of a market, from the market definition's inPlay flag."""

    PRE_RACE = "PRE_RACE"
    IN_PLAY = "IN_PLAY"


# --- the status -> action table: what a status change means, and which hook an update's book goes to ---

SUSPENDED, REOPENED = "suspended", "reopened"
# (previous status, new status) -> the transition a market just made; absent pairs are no transition
TRANSITIONS: dict[tuple[str | None, str], str] = {
    **{(previous, "SUSPENDED"): SUSPENDED for previous in (None, "INACTIVE", "OPEN", "CLOSED")},
    ("SUSPENDED", "OPEN"): REOPENED,
}
PRE_RACE_HOOK, IN_PLAY_HOOK = "process_pre_race", "process_in_play"
# (in play, status) -> the strategy hook that evaluates the book; any other status reaches no process hook,
# so prices of a book that suspends (or closes) the market never drive a decision
BOOK_HOOKS: dict[tuple[bool, str | None], str] = {(False, "OPEN"): PRE_RACE_HOOK, (True, "OPEN"): IN_PLAY_HOOK}

# hook notices the strategy base delivers: once per market per suspension cascade, and per refused order
ON_SUSPENDED, ON_REOPENED, ON_REFUSED = "on_suspended", "on_reopened", "on_refused"


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
    hook: str | None = None  # BOOK_HOOKS of the current phase and status: where this market's books go
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

    def change(self, status: str | None, in_play: bool, now: float) -> None:
        """Apply a new status / in-play flag: record the transitions the table names, and where books go now."""
        previous = self.status
        went_in_play = in_play and not self.in_play
        transition = TRANSITIONS.get((previous, status))
        self.status = status
        self.suspended = transition == SUSPENDED
        self.reopened = transition == REOPENED
        self.went_in_play = went_in_play
        if self.suspended:
            self.suspended_at = now
            self.transitions.append((now, "SUSPENDED"))
        if self.reopened:
            self.reopened_at = now
            self.transitions.append((now, "REOPENED"))
        if went_in_play:
            self.in_play = True
            self.in_play_at = now
            self.transitions.append((now, "IN_PLAY"))
        self.hook = BOOK_HOOKS.get((self.in_play, status))

    def quiet(self) -> None:
        """An update that changed neither status nor phase: the last update's transitions are over."""
        if self.suspended or self.reopened or self.went_in_play:
            self.suspended = self.reopened = self.went_in_play = False

    def close(self, now: float) -> bool:
        """Record that the market closed; False when it already had."""
        if self.status == "CLOSED":
            return False
        self.status = "CLOSED"
        self.closed_at = now
        self.suspended = self.reopened = self.went_in_play = False
        self.hook = None
        self.transitions.append((now, "CLOSED"))
        return True


@dataclass(frozen=True)
class Notice:
    """A hook the strategies of a market are owed: on_suspended / on_reopened (once per cascade), on_refused."""

    market: object  # the flumine Market
    hook: str  # ON_SUSPENDED, ON_REOPENED or ON_REFUSED
    cascade: int = 0
    book: object | None = None  # the book the hook is called with (None: the market's latest)
    order: object | None = None  # ON_REFUSED: the order a control refused (only its strategy is told)
    reason: str = ""


class MarketStates:
    """Every market's state by id, markets grouped by event, and the log of hook notices."""

    def __init__(self) -> None:
        self.states: dict[str, MarketState] = {}
        self.events: dict[str, set[str]] = defaultdict(set)
        self.notices: list[Notice] = []  # append-only; each strategy keeps how far it has read

    def add(self, state: MarketState) -> MarketState:
        """Register a market seen for the first time."""
        self.states[state.market_id] = state
        if state.event_id:
            self.events[state.event_id].add(state.market_id)
        return state

    def get(self, market_id: str) -> MarketState | None:
        """State of a market, or None if no update has been seen."""
        return self.states.get(market_id)

    def in_play(self, market_id: str) -> bool:
        """Whether the market has gone in play."""
        state = self.states.get(market_id)
        return bool(state and state.in_play)

    def event_markets(self, event_id: str) -> list[MarketState]:
        """States of all markets seen for an event, by market id."""
        return [self.states[m] for m in sorted(self.events.get(event_id, ()))]

    def event_market_ids(self, event_id: str) -> list[str]:
        """Ids of the markets seen for an event, sorted."""
        return sorted(self.events.get(event_id, ()))

    def mark_closed(self, market_id: str, now: float) -> None:
        """Record that a market closed (flumine skips middleware for CLOSED books); idempotent."""
        state = self.states.get(market_id)
        if state is not None:
            state.close(now)

    def notify(self, market, hook: str, cascade: int = 0, book=None, order=None, reason: str = "") -> None:
        """Owe the market's strategies a hook (the safety layer calls this; strategies deliver it)."""
        self.notices.append(Notice(market, hook, cascade, book, order, reason))
