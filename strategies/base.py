"""ModalStrategy: a flumine strategy with a pre-race / in-play switch and guarded hooks."""

from __future__ import annotations

import logging
from typing import ClassVar

from betfairlightweight.resources import MarketBook
from flumine import BaseStrategy
from flumine.markets.market import Market
from pydantic import BaseModel, ConfigDict, Field

from core.clock import Clock, MarketDataClock
from middleware.signals import SignalBuffer
from middleware.state import MarketStateTracker

logger = logging.getLogger(__name__)


class StrategyConfig(BaseModel):
    """Typed, frozen params every ModalStrategy accepts; plugins subclass it to add their own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pre_race_interval: float = Field(
        default=0.5, ge=0.0, description="seconds of market time between pre-race evaluations"
    )
    max_order_exposure: float = Field(default=10.0, gt=0.0, description="flumine's per-order exposure cap")
    max_selection_exposure: float = Field(default=100.0, gt=0.0, description="flumine's per-selection exposure cap")


class ModalStrategy(BaseStrategy):
    """A strategy whose hooks are chosen by market phase (pre-race / in-play) and status."""

    plugin_name: ClassVar[str | None] = None
    Config: ClassVar[type[StrategyConfig]] = StrategyConfig
    uses_signals: ClassVar[bool] = False  # True: the signal buffer observes this strategy's markets

    def __init__(
        self,
        config: StrategyConfig | None = None,
        *,
        tracker: MarketStateTracker | None = None,
        signals: SignalBuffer | None = None,
        clock: Clock | None = None,
        raise_hook_errors: bool = False,
        **kwargs,
    ) -> None:
        self.config = config if config is not None else self.Config()
        kwargs.setdefault("max_order_exposure", self.config.max_order_exposure)
        kwargs.setdefault("max_selection_exposure", self.config.max_selection_exposure)
        super().__init__(**kwargs)
        self.clock = clock or (tracker.clock if tracker else MarketDataClock())
        self.tracker = tracker or MarketStateTracker(self.clock)
        self.signals = signals or SignalBuffer()
        self.raise_hook_errors = raise_hook_errors
        self.hook_errors = 0
        self._last_pre_race: dict[str, float] = {}
        self._in_play_seen: set[str] = set()
        self._closed_seen: set[str] = set()

    # --- hooks a user overrides (no-ops by default) ---

    def process_pre_race(self, market: Market, market_book: MarketBook) -> None:
        """Evaluate an open pre-race market (at most once per pre_race_interval)."""

    def process_in_play(self, market: Market, market_book: MarketBook) -> None:
        """Evaluate an open in-play market (every update)."""

    def on_in_play(self, market: Market, market_book: MarketBook) -> None:
        """Called once per market, on its first book with inPlay true."""

    def on_suspended(self, market: Market, market_book: MarketBook) -> None:
        """Called on the book that suspends the market; its prices are stale."""

    def on_reopened(self, market: Market, market_book: MarketBook) -> None:
        """Called on the book that reopens a suspended market."""

    def on_closed(self, market: Market, market_book: MarketBook) -> None:
        """Called once when the market closes."""

    # --- flumine entry points (the switch lives here, nowhere else) ---

    def check_market_book(self, market: Market, market_book: MarketBook) -> bool:
        """Every book goes to process_market_book, which dispatches by state."""
        return True

    def process_market_book(self, market: Market, market_book: MarketBook) -> None:
        """Dispatch one book: status transitions first, then the phase hook if the market is open."""
        state = self.tracker.states.get(market_book.market_id)
        if state is None:
            return
        market_id = market_book.market_id
        if state.suspended:
            self._call(self.on_suspended, market, market_book)
        elif state.reopened:
            self._call(self.on_reopened, market, market_book)
        if state.in_play and market_id not in self._in_play_seen:
            self._in_play_seen.add(market_id)
            self._call(self.on_in_play, market, market_book)
        if not state.is_open:
            return
        if state.in_play:
            self._call(self.process_in_play, market, market_book)
            return
        now = self.clock.now()
        last = self._last_pre_race.get(market_id)
        if last is None or now - last >= self.config.pre_race_interval:
            self._last_pre_race[market_id] = now
            self._call(self.process_pre_race, market, market_book)

    def process_closed_market(self, market: Market, market_book: MarketBook) -> None:
        """Mark the market closed and call on_closed once."""
        self.tracker.mark_closed(market.market_id)
        if market.market_id in self._closed_seen:
            return
        self._closed_seen.add(market.market_id)
        self._call(self.on_closed, market, market_book)

    def _call(self, hook, market: Market, market_book: MarketBook) -> None:
        try:
            hook(market, market_book)
        except Exception:
            self.hook_errors += 1
            logger.exception("strategy %s: %s failed on market %s", self.name, hook.__name__, market.market_id)
            if self.raise_hook_errors:
                raise
