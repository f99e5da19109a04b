"""ModalStrategy: a flumine strategy with a pre-race / in-play switch and guarded hooks."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar, Literal

from betfairlightweight.resources import MarketBook
from flumine import BaseStrategy
from flumine.markets.market import Market
from flumine.utils import PRICES_FLOAT
from pydantic import BaseModel, ConfigDict, Field

from core.clock import Clock, MarketDataClock
from core.positions import Positions, best_prices, close_out_value, positions
from middleware.signals import SignalBuffer
from middleware.state import MarketStateTracker

if TYPE_CHECKING:
    from controls.layer import SafetyLayer

logger = logging.getLogger(__name__)


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
        safety: SafetyLayer | None = None,
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
        self.safety = safety
        self._manages_positions = self.config.profit_target is not None or self.config.stop_loss is not None
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
        """Called once per market when its suspension is handled (after the cascade debounce); prices are stale."""

    def on_reopened(self, market: Market, market_book: MarketBook, positions: Positions) -> None:
        """Called once per market after it reopens (and reopen_settle passed), with this strategy's positions."""

    def on_closed(self, market: Market, market_book: MarketBook) -> None:
        """Called once when the market closes."""

    # --- orders: through the safety layer's order path (batched, rate-limited, checked) ---

    def place_order(self, market: Market, order, decision_price: float | None = None) -> None:
        """Queue a new order; it is sent with the market's batch and checked by every control then."""
        if decision_price is not None:
            order.context["decision_price"] = decision_price
        if self.safety is None:
            market.place_order(order)
        else:
            self.safety.dispatcher.place(market, order)

    def cancel_order(self, market: Market, order, size_reduction: float | None = None) -> None:
        """Queue a cancel of an order's unmatched size (or part of it)."""
        if self.safety is None:
            market.cancel_order(order, size_reduction)
        else:
            self.safety.dispatcher.cancel(market, order, size_reduction)

    def hedge(self, market: Market, selection_id: int | None = None, reason: str = "strategy") -> bool:
        """Green up this strategy's position in the market (or one selection) with FILL_OR_KILL orders."""
        if self.safety is None:
            raise RuntimeError("hedge() needs the safety layer: build the strategy through core.assembly")
        return self.safety.hedger.hedge(market, self, selection_id, reason=reason) is not None

    def positions(self, market: Market) -> Positions:
        """This strategy's positions in the market."""
        return positions(market, market.blotter.strategy_orders(self))

    # --- called by the cascade controller ---

    def notify_suspended(self, market: Market) -> None:
        """The cascade controller handled this market's suspension."""
        self._call(self.on_suspended, market, market.market_book)

    def notify_reopened(self, market: Market, positions: Positions) -> None:
        """The cascade controller handled this market's reopening."""
        self._call(lambda m, b: self.on_reopened(m, b, positions), market, market.market_book, "on_reopened")

    # --- flumine entry points (the switch lives here, nowhere else) ---

    def check_market_book(self, market: Market, market_book: MarketBook) -> bool:
        """Every book goes to process_market_book, which dispatches by state."""
        return True

    def process_market_book(self, market: Market, market_book: MarketBook) -> None:
        """Dispatch one book: status transitions first, then the phase hook if the market is open."""
        # runs on every update: kept to attribute tests and one hook call (see bench/backtest_overhead.py)
        market_id = market_book.market_id
        state = self.tracker.states.get(market_id)
        if state is None:
            return
        try:
            if state.in_play:
                if market_id not in self._in_play_seen:
                    self._in_play_seen.add(market_id)
                    self._call(self.on_in_play, market, market_book)
                if state.status == "OPEN":
                    if self._manages_positions:
                        self._manage_positions(market)
                    self._call(self.process_in_play, market, market_book)
            elif state.status == "OPEN":
                now = self.clock.now()
                last = self._last_pre_race.get(market_id)
                if last is None or now - last >= self.config.pre_race_interval:
                    self._last_pre_race[market_id] = now
                    self._call(self.process_pre_race, market, market_book)
        finally:
            safety = self.safety
            if safety is not None and safety.dispatcher.pending:
                safety.after_strategy(self, market_book)

    def process_closed_market(self, market: Market, market_book: MarketBook) -> None:
        """Mark the market closed and call on_closed once."""
        self.tracker.mark_closed(market.market_id)
        if self.safety is not None:
            self.safety.market_closed(market)
        if market.market_id in self._closed_seen:
            return
        self._closed_seen.add(market.market_id)
        self._call(self.on_closed, market, market_book)
        if self.safety is not None:
            self.safety.dispatcher.flush()

    def _manage_positions(self, market: Market) -> None:
        """Hedge when a position reaches profit_target or stop_loss (in-play, open market)."""
        cfg = self.config
        if self.safety is None or (cfg.profit_target is None and cfg.stop_loss is None):
            return
        if self.safety.hedger.running(market.market_id, self):
            return
        orders = market.blotter.strategy_orders(self)
        if not any(o.size_matched for o in orders):
            return
        if cfg.target_unit == "money":
            value = close_out_value(market, orders)
            hit = self._hit(value)
            if hit:
                self.hedge(market, reason=f"{hit}: position worth {value:.2f}")
            return
        backs, lays = best_prices(market)
        for selection_id, ticks in _tick_moves(self.positions(market), backs, lays).items():
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

    def _call(self, hook, market: Market, market_book: MarketBook, name: str | None = None) -> None:
        try:
            hook(market, market_book)
        except Exception:
            self.hook_errors += 1
            hook_name = name or hook.__name__
            logger.exception("strategy %s: %s failed on market %s", self.name, hook_name, market.market_id)
            if self.raise_hook_errors:
                raise


def _ticks_between(entry: float, now: float) -> int | None:
    """Ladder ticks from entry to now (positive when now is higher); None off the ladder."""
    try:
        return PRICES_FLOAT.index(now) - PRICES_FLOAT.index(entry)
    except ValueError:
        return None


def _tick_moves(pos: Positions, backs: dict[int, float], lays: dict[int, float]) -> dict[int, int]:
    """Per selection with a net position: ticks the price moved in its favour (back: lay price fell)."""
    out: dict[int, int] = {}
    for selection_id in {f.selection_id for f in pos.matched}:
        fills = [f for f in pos.matched if f.selection_id == selection_id]
        backed = sum(f.size for f in fills if f.side == "BACK")
        laid = sum(f.size for f in fills if f.side == "LAY")
        if abs(backed - laid) < 0.01:
            continue
        side = "BACK" if backed > laid else "LAY"
        same = [f for f in fills if f.side == side]
        entry = sum(f.price * f.size for f in same) / sum(f.size for f in same)
        entry = min(PRICES_FLOAT, key=lambda p: abs(p - entry))
        exit_price = lays.get(selection_id) if side == "BACK" else backs.get(selection_id)
        if exit_price is None:
            continue
        moved = _ticks_between(entry, exit_price)
        if moved is not None:
            out[selection_id] = -moved if side == "BACK" else moved
    return out
