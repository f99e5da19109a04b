"""The safety layer wired into one flumine framework: the same objects in backtest, paper and live."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from flumine.markets.middleware import Middleware
from flumine.order.order import OrderStatus

from controls.cascade import CascadeController
from controls.dispatch import OrderDispatcher
from controls.execution import CallLog
from controls.hedger import Hedger
from controls.killswitch import Change, KillSwitch, KillSwitchControl, TradingState
from controls.pnl import DailyPnL
from controls.ratelimit import RateLimiter
from controls.risk import RiskControl, exempt_hedges_from_strategy_exposure
from controls.store import StateStore
from controls.watchdog import StreamMonitor
from core.alerts import AlertHook
from core.clock import Clock
from core.config import AppConfig
from core.positions import is_hedge
from middleware.state import MarketStateTracker

logger = logging.getLogger("paddock.safety")


@dataclass
class SafetyLayer:
    """Kill switch, risk limits, rate-limited order path, cascades, hedging and P&L for one framework."""

    config: AppConfig
    flumine: object
    clock: Clock
    tracker: MarketStateTracker
    kill_switch: KillSwitch
    limiter: RateLimiter
    dispatcher: OrderDispatcher
    hedger: Hedger
    cascade: CascadeController
    pnl: DailyPnL
    monitor: StreamMonitor
    call_log: CallLog
    competitions: dict[str, str] = field(default_factory=dict)
    strategies: list = field(default_factory=list)
    _settled: set[str] = field(default_factory=set)
    _last_strategy: dict = field(default_factory=dict)

    # --- what strategies call ---

    def strategies_for(self, market) -> list:
        """Strategies that receive this market's books."""
        book = market.market_book
        stream_id = book.streaming_unique_id if book is not None else None
        return [s for s in self.strategies if stream_id in s.stream_ids]

    def after_strategy(self, strategy, market_book) -> None:
        """Send the batch once the last strategy on this market has seen the book."""
        stream_id = market_book.streaming_unique_id
        last = self._last_strategy.get(stream_id)
        if last is None:
            interested = [s for s in self.strategies if stream_id in s.stream_ids]
            last = self._last_strategy[stream_id] = interested[-1] if interested else strategy
        if last is strategy:
            self.dispatcher.flush()

    def market_closed(self, market) -> None:
        """Settle today's P&L for a closed market (once) and end its cascade and hedges."""
        if market.market_id in self._settled:
            return
        self._settled.add(market.market_id)
        self.pnl.settle(market)
        self.check_drawdown()
        self.hedger.update(market)
        self.cascade.tick()

    # --- triggers ---

    def order_path_error(self, exc: Exception) -> None:
        """An exception in the order path."""
        if self.config.kill_switch.trip_on_order_error:
            self.kill_switch.trip(f"order path error: {exc!r}", source="order_error")

    def exchange_error(self, code: str) -> None:
        """An error code the exchange answered with."""
        cfg = self.config.kill_switch
        if cfg.trip_on_throttle and code in cfg.throttle_codes:
            self.kill_switch.trip(f"exchange throttling: {code}", source="throttle")

    def check_drawdown(self) -> None:
        """Trip when today's P&L is below -max_daily_drawdown."""
        limit = self.config.kill_switch.max_daily_drawdown
        if limit is None or self.kill_switch.state is TradingState.HALTED:
            return
        pnl = self.pnl.today()
        if pnl < -limit:
            self.kill_switch.trip(f"daily P&L {pnl:.2f} below -{limit}", source="drawdown")

    def check_stream(self, stream_ids: list[int] | None = None) -> None:
        """Trip when the market stream has been silent longer than stream_timeout."""
        cfg = self.config.kill_switch
        silence = self.monitor.silence(stream_ids)
        if cfg.trip_on_stream_timeout and silence > cfg.stream_timeout:
            self.kill_switch.trip(
                f"market stream silent for {silence:.1f}s (no data, no heartbeat; limit {cfg.stream_timeout}s)",
                source="stream",
            )

    def tick(self) -> None:
        """Periodic work when no market data arrives (live): switch changes, timers, queued orders."""
        self.kill_switch.refresh()
        self.check_stream()
        self.cascade.tick()
        for market in list(self.flumine.markets.markets.values()):
            self.hedger.update(market)
        self.pnl.refresh_settled()
        self.dispatcher.flush()

    def on_trip(self, change: Change) -> None:
        """Cancel every unmatched non-hedge order, everywhere."""
        count = 0
        for market in list(self.flumine.markets.markets.values()):
            for order in market.blotter:
                if not is_hedge(order) and order.status is OrderStatus.EXECUTABLE and order.size_remaining > 0:
                    self.dispatcher.cancel(market, order)
                    count += 1
        logger.error("kill switch %s: cancelling %s unmatched order(s)", change.state, count)
        self.dispatcher.flush()


class SafetyMiddleware(Middleware):
    """Per update: the cascade controller, then revalue the market, check the drawdown, follow hedges, send queued orders."""

    def __init__(self, layer: SafetyLayer) -> None:
        self.layer = layer

    def __call__(self, market) -> None:
        """Run the per-update checks for one market (a few attribute tests when nothing is going on)."""
        layer = self.layer
        cascade = layer.cascade
        if cascade.active:
            cascade(market)
        else:
            state = layer.tracker.states.get(market.market_id)
            if state is not None and state.suspended:
                cascade(market)
        if market.blotter.active:  # flumine sets it at the first order; P&L and hedges only move after that
            layer.pnl.update(market)
            layer.check_drawdown()
            layer.hedger.update(market)
        if layer.dispatcher.pending:
            layer.dispatcher.flush()

    def remove_market(self, market) -> None:
        """A closed market no longer holds its cascade open."""
        self.layer.cascade.tick()


def install(
    flumine,
    config: AppConfig,
    clock: Clock,
    tracker: MarketStateTracker,
    store: StateStore,
    alerts: AlertHook,
    call_log: CallLog,
    post: Callable[[Callable[[], None]], None],
) -> SafetyLayer:
    """Build the safety layer and register its controls and middleware with flumine."""
    kill_switch = KillSwitch(clock, store, alerts)
    limiter = RateLimiter(clock, config.rate_limit.in_play, config.rate_limit.pre_race)
    holder: dict[str, SafetyLayer] = {}

    def in_play(market_id: str) -> bool:
        state = tracker.get(market_id)
        return bool(state and state.in_play)

    dispatcher = OrderDispatcher(
        flumine,
        clock,
        limiter,
        in_play=in_play,
        urgent=lambda: kill_switch.state is not TradingState.ACTIVE,
        on_error=lambda exc: holder["layer"].order_path_error(exc),
    )
    hedger = Hedger(config.hedge, clock, dispatcher, kill_switch)
    pnl = DailyPnL(clock)
    cascade = CascadeController(
        config.cascade,
        clock,
        tracker,
        dispatcher,
        hedger,
        markets=lambda market_id: flumine.markets.markets.get(market_id),
        strategies_for=lambda market: holder["layer"].strategies_for(market),
    )
    layer = SafetyLayer(
        config=config,
        flumine=flumine,
        clock=clock,
        tracker=tracker,
        kill_switch=kill_switch,
        limiter=limiter,
        dispatcher=dispatcher,
        hedger=hedger,
        cascade=cascade,
        pnl=pnl,
        monitor=StreamMonitor(clock),
        call_log=call_log,
    )
    holder["layer"] = layer
    call_log.on_error_code = lambda code: post(lambda: layer.exchange_error(code))  # answers come on other threads
    kill_switch.on_trip(layer.on_trip)
    # ours go first, so a refused order names the kill switch or the risk limit rather than a later symptom
    risk = RiskControl(
        flumine,
        config=config.risk,
        clock=clock,
        event_markets=lambda event_id: sorted(tracker.events.get(event_id, ())),
        daily_pnl=pnl.today,
        blocked=cascade.blocked,
        competitions=layer.competitions,
    )
    flumine.trading_controls[:0] = [KillSwitchControl(flumine, kill_switch), risk]
    exempt_hedges_from_strategy_exposure(flumine)  # else max_order_exposure can refuse the hedge of a long price
    flumine.add_market_middleware(SafetyMiddleware(layer))
    return layer
