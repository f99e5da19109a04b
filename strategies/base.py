"""ModalStrategy: a flumine strategy with a pre-race / in-play switch and guarded hooks."""

from __future__ import annotations

import logging
from datetime import UTC
from typing import ClassVar, Literal

from betfairlightweight.resources import MarketBook
from flumine import BaseStrategy
from flumine.markets.market import Market
from pydantic import BaseModel, ConfigDict, Field

from core.clock import Clock, MarketDataClock
from core.logformat import done, working_on
from core.marketstate import IN_PLAY_HOOK, ON_REFUSED, ON_SUSPENDED, PRE_RACE_HOOK, MarketStates
from core.ports import NotAssembled, OrderPort
from core.positions import Positions, best_prices, close_out
from core.signals import NoSignals, SignalReader
from core.ticks import tick_moves

logger = logging.getLogger(__name__)
skips = logging.getLogger("paddock.skips")  # why strategies leave markets alone: `main.py -v`


class StrategyConfig(BaseModel):
    """Typed, frozen params every ModalStrategy accepts; plugins subclass it to add their own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pre_race_interval: float = Field(
        default=0.5, ge=0.0, description="seconds of market time between pre-race evaluations"
    )
    max_order_exposure: float = Field(default=10.0, gt=0.0, description="flumine's per-order exposure cap")
    max_selection_exposure: float = Field(default=100.0, gt=0.0, description="flumine's per-selection exposure cap")
    profit_target: float | None = Field(
        default=None, gt=0, description="in play: hedge a position once it is worth this much (money or ticks)"
    )
    stop_loss: float | None = Field(
        default=None, gt=0, description="in play: hedge a position once it has lost this much (money or ticks)"
    )
    target_unit: Literal["money", "ticks"] = Field(default="money", description="unit of profit_target and stop_loss")
    refusal_backoff: float = Field(
        default=30.0, ge=0, description="seconds a runner is left alone after a control refused an order on it"
    )


class ModalStrategy(BaseStrategy):
    """A strategy whose hooks are chosen by market phase (pre-race / in-play) and status."""

    plugin_name: ClassVar[str | None] = None
    Config: ClassVar[type[StrategyConfig]] = StrategyConfig
    uses_signals: ClassVar[bool] = False  # True: the signal buffer observes this strategy's markets

    def __init__(
        self,
        config: StrategyConfig | None = None,
        *,
        tracker: MarketStates | None = None,
        signals: SignalReader | None = None,
        clock: Clock | None = None,
        raise_hook_errors: bool = False,
        safety: OrderPort | None = None,
        **kwargs,
    ) -> None:
        self.config = config if config is not None else self.Config()
        kwargs.setdefault("max_order_exposure", self.config.max_order_exposure)
        kwargs.setdefault("max_selection_exposure", self.config.max_selection_exposure)
        super().__init__(**kwargs)
        self.clock = clock or MarketDataClock()
        self.tracker = tracker if tracker is not None else MarketStates()  # market states, read only
        self.signals = signals or NoSignals()
        self.raise_hook_errors = raise_hook_errors
        self.safety = safety or NotAssembled(self.name)  # the order port: place, cancel, hedge, positions
        self._manages_positions = self.config.profit_target is not None or self.config.stop_loss is not None
        self.hook_errors = 0
        self._last_pre_race: dict[str, float] = {}
        self._in_play_seen: set[str] = set()
        self._closed_seen: set[str] = set()
        self._notices_read = 0
        self._skipped: set[tuple[str, str]] = set()
        self._backoff: dict[tuple[str, int], float] = {}  # (market, selection) -> market time it may retry

    # --- hooks a user overrides (no-ops by default) ---

    def process_pre_race(self, market: Market, market_book: MarketBook) -> None:
        """Evaluate an open pre-race market (at most once per pre_race_interval)."""

    def process_in_play(self, market: Market, market_book: MarketBook) -> None:
        """Evaluate an open in-play market (every update)."""

    def on_in_play(self, market: Market, market_book: MarketBook) -> None:
        """Called once per market, on its first book with inPlay true."""

    def on_suspended(self, market: Market, market_book: MarketBook) -> None:
        """Called once per market when its suspension is handled (after the cascade debounce); prices are stale."""

    def on_reopened(self, market: Market, market_book: MarketBook, positions: Positions) -> None:
        """Called once per market after it reopens (and reopen_settle passed), with this strategy's positions."""

    def on_closed(self, market: Market, market_book: MarketBook) -> None:
        """Called once when the market closes."""

    def on_refused(self, market: Market, order, reason: str) -> None:
        """Called when a control (kill switch, risk limit, cascade, flumine's own) refused one of this strategy's
        orders; the runner then counts as refused_recently for refusal_backoff seconds."""

    # --- orders: through the safety layer's port (batched, rate-limited, checked when sent) ---

    def place_order(self, market: Market, order, decision_price: float | None = None) -> None:
        """Queue a new order; it is sent with the market's batch and checked by every control then."""
        self.safety.place(market, order, decision_price)

    def cancel_order(self, market: Market, order, size_reduction: float | None = None) -> None:
        """Queue a cancel of an order's unmatched size (or part of it)."""
        self.safety.cancel(market, order, size_reduction)

    def hedge(self, market: Market, selection_id: int | None = None, reason: str = "strategy") -> bool:
        """Green up this strategy's position in the market (or one selection) with FILL_OR_KILL orders."""
        return self.safety.hedge(market, self, selection_id, reason=reason)

    def positions(self, market: Market) -> Positions:
        """This strategy's positions in the market."""
        return self.safety.positions(market, self)

    def skip(self, market: Market, reason: str) -> None:
        """Say why this strategy leaves a market alone (logged once per market and reason; `main.py -v` shows it)."""
        key = (market.market_id, reason)
        if key not in self._skipped:
            self._skipped.add(key)
            skips.info("strategy %s skips market %s for now: %s", self.name, market.market_id, reason)

    def refused_recently(self, market_id: str, selection_id: int) -> bool:
        """Whether an order on this runner was refused less than refusal_backoff seconds ago: leave it alone."""
        until = self._backoff.get((market_id, selection_id))
        return until is not None and self.clock.now() < until

    def seconds_to_start(self, market: Market) -> float | None:
        """Seconds from now (market time, the project clock) to the market's scheduled start; None if unknown.

        Use this rather than flumine's `market.seconds_to_start`, which reads the wall clock live: against
        the emulator at any speed, or Betfair, this gives what a backtest of the same data gives."""
        book = market.market_book
        start = book.market_definition.market_time if book is not None and book.market_definition else None
        if start is None:
            return None
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        return start.timestamp() - self.clock.now()

    # --- flumine entry points: the switch lives here, nowhere else ---

    def check_market_book(self, market: Market, market_book: MarketBook) -> bool:
        """Every book goes to process_market_book, which dispatches by state."""
        return True

    def process_market_book(self, market: Market, market_book: MarketBook) -> None:
        """Dispatch one book: hooks owed by status changes first, then the phase hook the state table names."""
        # runs on every update: kept to attribute tests and one hook call (see bench/backtest_overhead.py)
        if len(self.tracker.notices) > self._notices_read:
            self.deliver_notices()
        market_id = market_book.market_id
        state = self.tracker.states.get(market_id)
        if state is None:
            return
        if state.in_play and market_id not in self._in_play_seen:
            self._in_play_seen.add(market_id)
            self._call(self.on_in_play, market, market_book)
        hook = state.hook
        if hook is IN_PLAY_HOOK:
            if self._manages_positions:
                self._manage_positions(market)
            self._call(self.process_in_play, market, market_book)
        elif hook is PRE_RACE_HOOK:
            now = self.clock.now()
            last = self._last_pre_race.get(market_id)
            if last is None or now - last >= self.config.pre_race_interval:
                self._last_pre_race[market_id] = now
                self._call(self.process_pre_race, market, market_book)

    def deliver_notices(self) -> None:
        """Call on_suspended / on_reopened for what the cascade handled on this strategy's markets since last time."""
        notices = self.tracker.notices
        start, self._notices_read = self._notices_read, len(notices)
        for notice in notices[start:]:
            market = notice.market
            book = notice.book or market.market_book
            if book is None or book.streaming_unique_id not in self.stream_ids:
                continue
            if notice.hook == ON_REFUSED:
                order = notice.order
                if order.trade.strategy is self:
                    self._backoff[(market.market_id, order.selection_id)] = (
                        self.clock.now() + self.config.refusal_backoff
                    )
                    self._call(self.on_refused, market, order, notice.reason)
            elif notice.hook == ON_SUSPENDED:
                self._call(self.on_suspended, market, book)
            else:
                held = self.positions(market)
                self._call(self.on_reopened, market, book, held)

    def process_closed_market(self, market: Market, market_book: MarketBook) -> None:
        """Call on_closed once per market."""
        if market.market_id in self._closed_seen:
            return
        self._closed_seen.add(market.market_id)
        self._call(self.on_closed, market, market_book)

    def _manage_positions(self, market: Market) -> None:
        """Hedge when a position reaches profit_target or stop_loss (in-play, open market)."""
        cfg = self.config
        if self.safety.hedging(market.market_id, self):
            return
        held = self.positions(market)
        if not held.matched:  # (an order matched in part always has a matched fill)
            return
        if cfg.target_unit == "money":
            value = close_out(market, held)
            hit = self._hit(value)
            if hit:
                self.hedge(market, reason=f"{hit}: position worth {value:.2f}")
            return
        backs, lays = best_prices(market)
        for selection_id, ticks in tick_moves(held, backs, lays).items():
            hit = self._hit(ticks)
            if hit:
                self.hedge(market, selection_id, reason=f"{hit}: {ticks} ticks on selection {selection_id}")

    def _hit(self, value: float) -> str | None:
        cfg = self.config
        if cfg.profit_target is not None and value >= cfg.profit_target:
            return "profit target"
        if cfg.stop_loss is not None and value <= -cfg.stop_loss:
            return "stop loss"
        return None

    def _call(self, hook, market: Market, *args) -> None:
        where = working_on(market.market_id, self.name)  # log lines of the hook name the market and strategy
        try:
            hook(market, *args)
        except Exception:
            self.hook_errors += 1
            logger.exception("strategy %s: %s failed on market %s", self.name, hook.__name__, market.market_id)
            if self.raise_hook_errors:
                raise
        finally:
            done(where)
