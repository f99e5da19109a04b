"""The safety layer of one framework: the same objects in backtest, paper and live, and the port strategies use."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flumine.markets.middleware import Middleware

from controls.cascade import CascadeController
from controls.dataquality import DataQualityGuard
from controls.daybook import DayBook
from controls.dispatch import OrderDispatcher
from controls.execution import CallLog
from controls.hedger import Hedger
from controls.killswitch import Change, KillSwitch, TradingState
from controls.pnl import DailyPnL
from controls.ratelimit import RateLimiter
from controls.risk import DECISION_PRICE
from controls.store import StateStore
from controls.watchdog import StreamMonitor
from core.alerts import ORDER_PATH_ERROR, AlertHook
from core.clock import Clock, Timers
from core.config import AppConfig
from core.ledger import Ledgers
from core.marketstate import ON_REFUSED, MarketStates
from core.positions import Positions, resting

logger = logging.getLogger("paddock.safety")


class SafetyLayer:
    """Kill switch, risk limits, rate-limited order path, cascades, hedging and P&L for one framework.

    Built whole at assembly. Strategies see it only as an OrderPort (place, cancel, hedge, hedging,
    positions); its parts only queue orders, and `flush` is the one place queued calls are sent."""

    def __init__(
        self,
        config: AppConfig,
        flumine,
        clock: Clock,
        tracker: MarketStates,
        store: StateStore,
        alerts: AlertHook,
        call_log: CallLog,
        timers: Timers,
        wall: Clock | None = None,
        daybook: DayBook | None = None,
    ) -> None:
        self.config = config
        self.flumine = flumine
        self.clock = clock  # market time: limits, cascades, hedges, P&L days
        self.wall = wall or clock  # the operator's time: the kill switch's history, the stream watchdog
        self.tracker = tracker
        self.call_log = call_log
        self.alerts = alerts  # the framework's alert hook: alerts.send(title, message, market_id=..., ...)
        self.kill_switch = KillSwitch(self.wall, store, alerts)
        self.limiter = RateLimiter(clock, config.rate_limit.in_play, config.rate_limit.pre_race)
        self.dispatcher = OrderDispatcher(
            flumine,
            clock,
            self.limiter,
            in_play=tracker.in_play,
            urgent=lambda: self.kill_switch.state is not TradingState.ACTIVE,
            on_error=self.order_path_error,
            on_refused=lambda market, order, reason: tracker.notify(market, ON_REFUSED, order=order, reason=reason),
        )
        # positions kept as orders change, read by everything that needs them on an update or an order
        self.ledgers = Ledgers()
        call_log.executed.append(self.ledgers.stale)  # placements and cancels change orders, on any thread
        self.hedger = Hedger(config.hedge, clock, self.dispatcher, self.kill_switch, self.ledgers.positions)
        self.daybook = daybook or DayBook(clock)  # today's realised P&L and cooldowns, as a restart inherits them
        self.pnl = DailyPnL(clock, carried=self.daybook.settled, positions_of=self.ledgers.positions)
        self.cascade = CascadeController(
            config.cascade,
            clock,
            tracker,
            self.dispatcher,
            self.hedger,
            markets=flumine.markets.markets.get,
            timers=timers,
            positions_of=self.ledgers.positions,
        )
        self.data_quality = DataQualityGuard(
            config.data_quality, clock, timers, tracker, markets=lambda: flumine.markets.markets.values()
        )
        self.monitor = StreamMonitor(self.wall, alerts, config.alerts.reconnect_storm, config.alerts.reconnect_window)
        self.kill_switch.on_trip(self.on_trip)
        if self.daybook.damage:  # not knowing today's losses is not a state to trade in
            self.kill_switch.trip(f"today's P&L and cooldowns cannot be read: {self.daybook.damage}", source="state")
        # open positions are revalued on every update only when a limit reads today's P&L (it costs a green-up)
        self.values_positions = (
            config.kill_switch.max_daily_drawdown is not None or config.risk.daily_loss_limit is not None
        )
        self._settled: set[str] = set()
        self.current_event: str | None = None  # set by a backtest, which replays one event group at a time
        self.trips: list[tuple[str | None, Change]] = []  # every trip, with the event being replayed then
        self.new_market_listeners: list[Callable[[object], None]] = []
        self.closed_listeners: list[Callable[[object], None]] = []  # a market closed (after its P&L is settled)
        self.tick_errors: dict[str, int] = {}  # part of the safety tick -> failures in a row

    # --- the port strategies trade through (core.ports.OrderPort) ---

    def place(self, market, order, decision_price: float | None = None) -> None:
        """Queue a new order; the kill switch and the risk limits check it when it is sent."""
        if decision_price is not None:
            order.context[DECISION_PRICE] = decision_price
        self.dispatcher.place(market, order)

    def cancel(self, market, order, size_reduction: float | None = None) -> None:
        """Queue a cancel of (part of) an order's unmatched size."""
        self.dispatcher.cancel(market, order, size_reduction)

    def hedge(self, market, strategy, selection_id: int | None = None, reason: str = "strategy") -> bool:
        """Green up the strategy's position (or one selection) with FILL_OR_KILL orders; False if nothing started."""
        return self.hedger.hedge(market, strategy, selection_id, reason=reason) is not None

    def hedging(self, market_id: str, strategy) -> bool:
        """Whether a hedge of the strategy's position in the market is in progress."""
        return self.hedger.running(market_id, strategy)

    def positions(self, market, strategy) -> Positions:
        """The strategy's positions in the market."""
        return self.ledgers.positions(market, strategy)

    # --- the one flush point ---

    def flush(self) -> None:
        """Send what is queued, as far as the rate limit allows (the rest waits, in order)."""
        if not self.dispatcher.pending:
            return
        state = self.kill_switch.state
        self.dispatcher.flush()
        if self.dispatcher.pending and self.kill_switch.state is not state:
            self.dispatcher.flush()  # the switch tripped while sending: its cancels go now, not at the next book

    # --- what the framework tells the layer ---

    def market_closed(self, market) -> None:
        """Settle today's P&L for a closed market (once) and end its cascade and hedges."""
        if market.market_id in self._settled:
            return
        self._settled.add(market.market_id)
        self.pnl.settle(market)
        self.daybook.settled = self.pnl.settled_today()
        self.check_drawdown()
        self.hedger.update(market)
        self.cascade.tick()
        self.data_quality.closed(market)
        for listener in self.closed_listeners:
            listener(market)

    def tick(self) -> None:
        """Periodic work when no market data arrives (live): switch changes, timers, settled P&L, the day book.

        A killed hedge is retried on its market's next update, as in a backtest (not on this tick).

        Each part runs on its own: one that raises is logged (once, then counted) and the others still run."""
        self.ledgers.stale()
        self._guarded("kill switch refresh", self.kill_switch.refresh)
        self._guarded("stream watchdog", self.check_stream)
        self._guarded("cascades", self.cascade.tick)
        self._guarded("settled P&L", self.pnl.refresh_settled)
        self._guarded("day book", self._save_day)

    def _save_day(self) -> None:
        self.daybook.settled = self.pnl.settled_today()
        self.daybook.save()

    def _guarded(self, part: str, work: Callable[[], object]) -> None:
        try:
            work()
        except Exception:
            count = self.tick_errors[part] = self.tick_errors.get(part, 0) + 1
            if count == 1:
                logger.exception("safety tick: %s failed (the rest of the tick goes on; repeats are counted)", part)
            return
        failed = self.tick_errors.pop(part, 0)
        if failed:
            logger.error("safety tick: %s works again after failing %s time(s)", part, failed)

    # --- triggers ---

    def order_path_error(self, exc: Exception, market_id: str | None = None) -> None:
        """An exception in the order path: an alert with the exception, and a trip when so configured."""
        self.alerts.send(ORDER_PATH_ERROR, f"{exc!r}", error=exc, market_id=market_id)
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

    def on_trip(self, change: Change) -> None:
        """Queue a cancel of every unmatched non-hedge order, everywhere (the next flush sends cancels first)."""
        self.trips.append((self.current_event, change))
        count = 0
        for market in list(self.flumine.markets.markets.values()):
            for order in market.blotter:
                if resting(order):
                    self.dispatcher.cancel(market, order)
                    count += 1
        logger.error("kill switch %s: cancelling %s unmatched order(s)", change.state, count)


class SafetyMiddleware(Middleware):
    """Per update: the data-quality guard, the cascade controller, then revalue, check the drawdown, follow hedges."""

    def __init__(self, layer: SafetyLayer) -> None:
        self.layer = layer

    def add_market(self, market) -> None:
        """A market seen for the first time: tell who asked (a backtest starts each event group fresh)."""
        for listener in self.layer.new_market_listeners:
            listener(market)

    def __call__(self, market) -> None:
        """Run the per-update checks for one market (a few attribute tests when nothing is going on)."""
        layer = self.layer
        layer.ledgers.epoch.value += 1  # the update may have matched orders (simulated) or removed runners
        if layer.data_quality.enabled:
            layer.data_quality.update(market)
        cascade = layer.cascade
        if cascade.active:
            cascade(market)
        else:
            state = layer.tracker.states.get(market.market_id)
            if state is not None and state.suspended:
                cascade(market)
        if market.blotter.active:  # flumine sets it at the first order; P&L and hedges only move after that
            if layer.values_positions:
                layer.pnl.update(market)
                layer.check_drawdown()
            layer.hedger.update(market)

    def remove_market(self, market) -> None:
        """A closed market no longer holds its cascade open."""
        self.layer.cascade.tick()
