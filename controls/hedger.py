"""Hedge executor: green-up orders as LIMIT / LAPSE / FILL_OR_KILL, retried a few ticks worse, never resting."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from flumine.order.order import OrderStatus
from flumine.order.ordertype import LimitOrder
from flumine.order.trade import Trade, TradeStatus
from flumine.utils import price_ticks_away

from controls.dispatch import OrderDispatcher
from controls.killswitch import KillSwitch, TradingState
from core.clock import Clock
from core.config import HedgeConfig
from core.greenup import Greenup, green_up
from core.positions import best_prices, positions, resting

logger = logging.getLogger("paddock.hedge")

_DONE = (OrderStatus.EXECUTION_COMPLETE, OrderStatus.EXPIRED, OrderStatus.VIOLATION)


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
    outcome: str = "running"  # running, green, failed
    finished_at: float | None = None


class Hedger:
    """Places green-up hedges as FILL_OR_KILL orders, all of a market's in one call, with bounded retries."""

    def __init__(self, config: HedgeConfig, clock: Clock, dispatcher: OrderDispatcher, kill_switch: KillSwitch) -> None:
        self.config = config
        self.clock = clock
        self.dispatcher = dispatcher
        self.kill_switch = kill_switch
        self.runs: list[HedgeRun] = []
        self._active: dict[tuple[str, str], HedgeRun] = {}

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

    def update(self, market) -> None:
        """Check this market's hedges: finished attempts are retried or ended."""
        if not self._active:
            return
        for key, run in list(self._active.items()):
            if key[0] != market.market_id or any(o.status not in _DONE for o in run.pending):
                continue
            if self._attempt(market, run):
                continue
            del self._active[key]

    def _plan(self, market, run: HedgeRun) -> Greenup:
        strategy_orders = market.blotter.strategy_orders(run.strategy)
        pos = positions(market, strategy_orders)
        backs, lays = best_prices(market)
        return green_up(pos.matched, backs, lays, selection_id=run.selection_id, min_stake=self.config.min_stake)

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
            self.kill_switch.alerts.send("hedge failed", message)
            self.kill_switch.trip(message, source="hedge", state=TradingState.REDUCING)
            return False
        ticks = self._ticks(run.attempts)
        run.attempts += 1
        run.pending = []
        for h in plan.orders:
            price = price_ticks_away(h.price, -ticks if h.side == "BACK" else ticks)
            trade = self._trade(market, run.strategy, h.selection_id)
            order = trade.create_order(
                side=h.side,
                order_type=LimitOrder(price, h.size, persistence_type="LAPSE", time_in_force="FILL_OR_KILL"),
            )
            order.context["hedge_attempt"] = run.attempts
            run.pending.append(order)
            run.orders.append(order)
            self.dispatcher.place(market, order, hedge=True)
        logger.info(
            "hedge attempt %s on %s: %s order(s), %s tick(s) worse",
            run.attempts,
            run.market_id,
            len(plan.orders),
            ticks,
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
