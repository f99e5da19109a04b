"""The data-quality guard: per market, new orders pause while its data is doubtful and resume once it is clean.

Causes: publish time lagging receipt (live), a crossed or empty book in an OPEN market, a market whose updates
stopped while the rest of its event goes on, and repeated 503 / conflation notices on its stream. A pause is not
a kill-switch trip: cancels and hedges pass, and it ends by itself `resume_after` seconds of market time after
the last doubt cleared. Every time here is market time (the project clock), so a backtest is deterministic;
only the publish lag reads receipt, which the clock measures on the wall clock live and is 0 in a replay."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from flumine.controls import BaseControl
from flumine.order.orderpackage import OrderPackageType

from core.clock import Clock, Timers
from core.config import DataQualityConfig
from core.marketstate import MarketStates
from core.positions import is_hedge

logger = logging.getLogger("paddock.dataquality")

LAG, BOOK, STALL, NOTICES, FAILED = "publish_lag", "book", "stalled", "stream_notices", "check_failed"
PAUSE, RESUME = "pause", "resume"


@dataclass(frozen=True)
class QualityChange:
    """One pause or resume of a market's new orders, with why."""

    at: float  # market time
    market_id: str
    event_id: str | None
    action: str  # PAUSE or RESUME
    causes: tuple[str, ...]  # the causes doubting the market (a pause), or those it had (a resume)
    reason: str

    def row(self) -> dict:
        """As a report / store row."""
        return {"at": self.at, "market_id": self.market_id, "event_id": self.event_id, "action": self.action,
                "causes": ",".join(self.causes), "reason": self.reason}  # fmt: skip


@dataclass
class _Market:
    """What the guard knows of one market."""

    market_id: str
    event_id: str | None
    last_update: float = 0.0
    event_count: int = 0  # its event's update count at its latest update
    causes: dict[str, str] = field(default_factory=dict)  # cause -> what was seen (while doubtful)
    paused_at: float | None = None
    had: dict[str, str] = field(default_factory=dict)  # every cause seen during the current pause
    clean_since: float | None = None  # when the last doubt cleared (while paused)


class DataQualityGuard:
    """Judges each market's data on every update (and each stream notice) and pauses or resumes its new orders.

    For metrics: `pause_count`, `resume_count`, `paused_markets()` and `change_listeners` (each QualityChange)."""

    def __init__(
        self,
        config: DataQualityConfig,
        clock: Clock,
        timers: Timers,
        tracker: MarketStates,
        markets: Callable[[], Iterable] = tuple,
    ) -> None:
        self.config = config
        self.clock = clock
        self.timers = timers
        self.tracker = tracker
        self.markets = markets  # flumine's markets (a stream notice pauses those of its stream)
        self.enabled = config.enabled
        self._markets: dict[str, _Market] = {}
        self._events: dict[str, list[_Market]] = {}
        self._event_counts: dict[str, int] = {}
        self._notices: dict[int | None, deque[float]] = {}
        self.pause_count = 0
        self.resume_count = 0
        self.changes: list[QualityChange] = []
        self.change_listeners: list[Callable[[QualityChange], None]] = []

    # --- what metrics and controls read ---

    def paused_markets(self) -> list[str]:
        """Ids of the markets whose new orders are paused now."""
        return sorted(m.market_id for m in self._markets.values() if m.paused_at is not None)

    def blocked(self, market_id: str) -> str | None:
        """Why new orders on this market are paused now, or None."""
        market = self._markets.get(market_id)
        if market is None or market.paused_at is None:
            return None
        self._maybe_resume(market_id)
        if market.paused_at is None:
            return None
        doubts = market.causes or market.had
        waiting = "" if market.causes else f"; clean data for {self.config.resume_after}s resumes it"
        return f"data_quality: market {market_id} paused ({_describe(doubts)}{waiting})"

    # --- what the framework tells the guard ---

    def update(self, market) -> None:
        """Judge a market's new book (after the state tracker has seen it); a check that fails doubts it."""
        book = market.market_book
        try:
            state = self._markets.get(market.market_id)
            if state is None:
                state = self._market(market.market_id, _event_of(book))
            self._judge(state, book)
        except Exception as exc:  # noqa: BLE001 - a book the guard cannot judge is a book not to trade on
            logger.exception("data quality check failed on market %s", market.market_id)
            state = self._market(market.market_id, _event_of(book))
            self._set(state, FAILED, f"the check failed: {exc!r}")

    def notice(self, stream_id: int | None, what: str) -> None:
        """A 503 or conflation notice on a stream: repeated, it doubts every open market of that stream."""
        now = self.clock.now()
        window = self._notices.setdefault(stream_id, deque())
        window.append(now)
        while window and window[0] < now - self.config.notice_window:
            window.popleft()
        if len(window) < self.config.notice_count:
            return
        detail = f"{len(window)} stream notices in {self.config.notice_window}s, latest: {what}"
        for market in list(self.markets()):
            book = market.market_book
            if market.closed or book is None:
                continue
            if stream_id is not None and book.streaming_unique_id != stream_id:
                continue
            state = self._market(market.market_id, _event_of(book))
            self._set(state, NOTICES, detail)
            self._set(state, NOTICES, None)  # a notice is a moment of doubt: the clean spell starts from it

    def closed(self, market) -> None:
        """A market closed: its pause (if any) ends and it is forgotten."""
        state = self._markets.pop(market.market_id, None)
        if state is None:
            return
        if state.event_id in self._events:
            self._events[state.event_id] = [m for m in self._events[state.event_id] if m is not state]
        if state.paused_at is not None:
            self._resume(state, "market closed")

    # --- judging ---

    def _judge(self, state: _Market, book) -> None:
        # runs on every update of every market: a clean book costs a few tests (bench/backtest_overhead.py)
        cfg = self.config
        now = self.clock.now()
        event_id = state.event_id
        count = 0
        if event_id is not None:
            counts = self._event_counts
            count = counts[event_id] = counts.get(event_id, 0) + 1
        state.last_update = now
        state.event_count = count
        causes = state.causes
        if cfg.max_publish_lag is not None:
            lag = self.clock.lag()
            if lag > cfg.max_publish_lag:
                self._set(state, LAG, f"publish time {lag:.1f}s behind receipt (max {cfg.max_publish_lag}s)")
            elif LAG in causes:
                self._set(state, LAG, None)
        if cfg.check_book:
            problem = book_problem(book)
            if problem is not None or BOOK in causes:
                self._set(state, BOOK, problem)
        if causes:
            if STALL in causes:
                self._set(state, STALL, None)
            if FAILED in causes:
                self._set(state, FAILED, None)
        if cfg.stall_after is not None and event_id is not None and len(self._events.get(event_id, ())) > 1:
            self._stalls(state, now, count)

    def _stalls(self, updated: _Market, now: float, count: int) -> None:
        """Doubt the event's open markets that have had no update for stall_after while the others went on."""
        cfg = self.config
        for other in self._events.get(updated.event_id, ()):
            if other is updated or STALL in other.causes:
                continue
            silent = now - other.last_update
            if silent <= cfg.stall_after or count - other.event_count < cfg.stall_min_updates:
                continue
            state = self.tracker.get(other.market_id)
            if state is None or state.status != "OPEN":
                continue  # a suspended or closed market is quiet for a reason the cascade handles
            updates = count - other.event_count
            self._set(other, STALL, f"no update for {silent:.0f}s while its event's other markets sent {updates}")

    # --- pause and resume ---

    def _market(self, market_id: str, event_id: str | None) -> _Market:
        state = self._markets.get(market_id)
        if state is None:
            state = self._markets[market_id] = _Market(market_id, event_id, last_update=self.clock.now())
            if event_id is not None:
                self._events.setdefault(event_id, []).append(state)
                state.event_count = self._event_counts.get(event_id, 0)
        return state

    def _set(self, state: _Market, cause: str, detail: str | None) -> None:
        """Mark a cause as doubting the market (detail) or cleared (None)."""
        if detail is not None:
            if cause in state.causes:
                return
            state.causes[cause] = detail
            state.clean_since = None
            if state.paused_at is None:
                self._pause(state)
            else:
                state.had.setdefault(cause, detail)
            return
        if cause not in state.causes:
            return
        del state.causes[cause]
        if state.causes:
            return
        now = self.clock.now()
        state.clean_since = now
        if self.config.resume_after == 0:
            self._resume(state, "data clean again")
        else:
            market_id = state.market_id
            self.timers.at(now + self.config.resume_after, lambda: self._maybe_resume(market_id))

    def _maybe_resume(self, market_id: str) -> None:
        state = self._markets.get(market_id)
        if state is None or state.paused_at is None or state.causes or state.clean_since is None:
            return
        if self.clock.now() >= state.clean_since + self.config.resume_after - 1e-9:
            self._resume(state, f"data clean for {self.config.resume_after}s")

    def _pause(self, state: _Market) -> None:
        state.paused_at = self.clock.now()
        state.had = dict(state.causes)
        self.pause_count += 1
        change = QualityChange(
            state.paused_at, state.market_id, state.event_id, PAUSE, tuple(state.causes), _describe(state.causes)
        )
        logger.warning("data quality: new orders on market %s paused: %s", state.market_id, change.reason)
        self._changed(change)

    def _resume(self, state: _Market, why: str) -> None:
        paused_for = self.clock.now() - (state.paused_at or self.clock.now())
        change = QualityChange(
            self.clock.now(), state.market_id, state.event_id, RESUME, tuple(state.had),
            f"{why} after {paused_for:.1f}s paused ({_describe(state.had)})",
        )  # fmt: skip
        state.paused_at = state.clean_since = None
        state.had = {}
        self.resume_count += 1
        logger.warning("data quality: new orders on market %s resume: %s", state.market_id, change.reason)
        self._changed(change)

    def _changed(self, change: QualityChange) -> None:
        self.changes.append(change)
        for listener in self.change_listeners:
            try:
                listener(change)
            except Exception:
                logger.exception("data quality: change listener %r failed", listener)


def book_problem(book) -> str | None:
    """What is wrong with an OPEN market's book: a runner's best back at or above its best lay, or no prices."""
    if book.status != "OPEN":
        return None
    priced = False
    for runner in book.runners:
        if runner.status != "ACTIVE":
            continue
        back, lay = runner.ex.available_to_back, runner.ex.available_to_lay
        if back and lay:
            if back[0]["price"] >= lay[0]["price"]:
                return f"crossed book: runner {runner.selection_id} back {back[0]['price']} >= lay {lay[0]['price']}"
            priced = True
        elif back or lay:
            priced = True
    return None if priced else "empty book: no prices on any active runner"


def _event_of(book) -> str | None:
    definition = getattr(book, "market_definition", None)
    event_id = getattr(definition, "event_id", None)
    return str(event_id) if event_id else None


def _describe(causes: dict[str, str]) -> str:
    return "; ".join(f"{cause}: {detail}" for cause, detail in causes.items()) or "no cause"


class DataQualityControl(BaseControl):
    """Refuses new orders (not hedges, not cancels) on markets the guard has paused; a failed check refuses."""

    NAME = "DATA_QUALITY"

    def __init__(self, flumine, guard: DataQualityGuard) -> None:
        super().__init__(flumine)
        self.guard = guard

    def _validate(self, order, package_type: OrderPackageType) -> None:
        if package_type not in (OrderPackageType.PLACE, OrderPackageType.REPLACE) or is_hedge(order):
            return
        try:
            why = self.guard.blocked(order.market_id)
        except Exception as exc:  # noqa: BLE001 - safety fails closed: not knowing is a pause
            logger.exception("data quality: blocked() failed for market %s", order.market_id)
            why = f"data_quality: the guard failed ({exc!r})"
        if why:
            self._on_error(order, why)
