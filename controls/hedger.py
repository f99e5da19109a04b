"""Hedge executor: green-up orders as LIMIT / LAPSE / FILL_OR_KILL, retried a few ticks worse, never resting."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from flumine import config as flumine_config
from flumine.order.order import OrderStatus
from flumine.order.ordertype import LimitOrder
from flumine.order.trade import Trade, TradeStatus
from flumine.utils import price_ticks_away

from controls.dispatch import OrderDispatcher
from controls.killswitch import KillSwitch, TradingState
from core.alerts import HEDGE_FAILED
from core.clock import Clock
from core.config import HedgeConfig
from core.greenup import Greenup
from core.positions import Positions, best_prices, plan_green_up, rebuilt, resting

logger = logging.getLogger("paddock.hedge")

_DONE = (OrderStatus.EXECUTION_COMPLETE, OrderStatus.EXPIRED, OrderStatus.VIOLATION)


def _decided(order) -> bool:
    """Whether the exchange has decided a FILL_OR_KILL order: complete, or placed with nothing left.

    A backtest marks a killed order complete only after the book's middleware has run; live, the
    answer marks it at once. Both count as decided here, so both retry on the same book."""
    if order.status in _DONE:
        return True
    return order.status is OrderStatus.EXECUTABLE and order.size_remaining == 0


@dataclass
class HedgeRun:
    """One hedge of one strategy's position in one market, over its attempts."""

    market_id: str
    strategy: object
    selection_id: int | None
    reason: str
    started_at: float
    attempts: int = 0
    orders: list = field(default_factory=list)  # every hedge order placed, all attempts
    pending: list = field(default_factory=list)  # this attempt's orders
    due_ms: int = 0  # this attempt is judged on books published after this (ms): latency + bet delay from placing
    outcome: str = "running"  # running, green, failed
    finished_at: float | None = None


class Hedger:
    """Places green-up hedges as FILL_OR_KILL orders, all of a market's in one call, with bounded retries."""

    def __init__(
        self,
        config: HedgeConfig,
        clock: Clock,
        dispatcher: OrderDispatcher,
        kill_switch: KillSwitch,
        positions_of: Callable[[object, object], Positions] = rebuilt,
    ) -> None:
        self.config = config
        self.positions_of = positions_of  # (market, strategy) -> the strategy's positions there
        self.clock = clock
        self.dispatcher = dispatcher
        self.kill_switch = kill_switch
        self.runs: list[HedgeRun] = []
        self._active: dict[tuple[str, str], HedgeRun] = {}

    @property
    def busy(self) -> bool:
        """Whether any hedge is in progress."""
        return bool(self._active)

    def running(self, market_id: str, strategy) -> bool:
        """True while a hedge of this strategy's position in the market is in progress."""
        return (market_id, strategy.name) in self._active

    def hedge(self, market, strategy, selection_id: int | None = None, reason: str = "") -> HedgeRun | None:
        """Start hedging the strategy's matched position in the market; None if one is running or nothing to do."""
        key = (market.market_id, strategy.name)
        if key in self._active:
            return None
        run = HedgeRun(market.market_id, strategy, selection_id, reason, self.clock.now())
        for order in market.blotter.strategy_orders(strategy):
            if resting(order) and (selection_id is None or order.selection_id == selection_id):
                self.dispatcher.cancel(market, order)  # what is still unmatched must not match after the hedge
        if not self._attempt(market, run):
            return None
        self.runs.append(run)
        self._active[key] = run
        return run

    def update(self, market) -> bool:
        """Check this market's hedges: decided attempts are retried or ended; True if a retry was placed.

        An attempt is judged on the first book published more than place latency + bet delay after it was
        placed, once the exchange has decided all its orders: a backtest decides them on that book, and live
        the answer may come just before it or just after it (then this runs again on the order update)."""
        if not self._active:
            return False
        book = market.market_book
        published = book.publish_time_epoch if book is not None else None
        placed = False
        for key, run in list(self._active.items()):
            if key[0] != market.market_id or not all(_decided(o) for o in run.pending):
                continue
            if not market.closed and published is not None and published <= run.due_ms:
                continue
            if self._attempt(market, run):
                placed = True
                continue
            del self._active[key]
        return placed

    def _plan(self, market, run: HedgeRun) -> Greenup:
        pos = self.positions_of(market, run.strategy)
        backs, lays = best_prices(market)
        return plan_green_up(pos, backs, lays, selection_id=run.selection_id, min_stake=self.config.min_stake)

    def _attempt(self, market, run: HedgeRun) -> bool:
        """Place the next attempt; False when the position is green or attempts are used up."""
        plan = self._plan(market, run)
        if not plan.orders:
            if run.attempts:
                self._finish(run, "green")
            return False
        if run.attempts >= self.config.hedge_max_attempts:
            self._finish(run, "failed")
            message = (
                f"hedge on market {run.market_id} for {run.strategy.name} killed {run.attempts} times "
                f"(up to {self.config.hedge_max_ticks} ticks worse); position left open"
            )
            self.kill_switch.alerts.send(HEDGE_FAILED, message, market_id=run.market_id, strategy=run.strategy.name)
            self.kill_switch.trip(message, source="hedge", state=TradingState.REDUCING)
            return False
        ticks = self._ticks(run.attempts)
        run.attempts += 1
        run.pending = []
        delay = market.market_book.bet_delay if market.market_book is not None else 0
        run.due_ms = round((self.clock.now() + flumine_config.place_latency + (delay or 0)) * 1000)
        for h in plan.orders:
            price = price_ticks_away(h.price, -ticks if h.side == "BACK" else ticks)
            trade = self._trade(market, run.strategy, h.selection_id)
            order = trade.create_order(
                side=h.side,
                order_type=LimitOrder(price, h.size, persistence_type="LAPSE", time_in_force="FILL_OR_KILL"),
            )
            order.context["hedge_attempt"] = run.attempts
            order.context["placed_at"] = self.clock.now()
            run.pending.append(order)
            run.orders.append(order)
            self.dispatcher.place(market, order, hedge=True)
        logger.info(
            "hedge attempt %s on %s: %s order(s), %s tick(s) worse",
            run.attempts,
            run.market_id,
            len(plan.orders),
            ticks,
            extra={"market_id": run.market_id, "strategy": run.strategy.name},
        )
        return True

    @staticmethod
    def _trade(market, strategy, selection_id: int) -> Trade:
        """The selection's live trade (flumine caps live trades per runner), else a new one."""
        for order in market.blotter.strategy_orders(strategy):
            if order.selection_id == selection_id and order.trade.status is not TradeStatus.COMPLETE:
                return order.trade
        return Trade(market.market_id, selection_id, 0.0, strategy)

    def _ticks(self, attempt: int) -> int:
        last = self.config.hedge_max_attempts - 1
        return 0 if last <= 0 else round(attempt * self.config.hedge_max_ticks / last)

    def _finish(self, run: HedgeRun, outcome: str) -> None:
        run.outcome = outcome
        run.finished_at = self.clock.now()
