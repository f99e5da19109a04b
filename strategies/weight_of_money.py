"""Example pre-race strategy: back or lay a runner when weight of money and order flow agree."""

from __future__ import annotations

from flumine.order.order import LimitOrder
from flumine.order.trade import Trade
from pydantic import Field

from strategies.base import ModalStrategy, StrategyConfig


class WeightOfMoneyConfig(StrategyConfig):
    """Params of the weight-of-money strategy."""

    stake: float = Field(default=2.0, ge=1.0, description="stake per order")
    window: int = Field(default=20, ge=2, description="observations in the order flow window")
    threshold: float = Field(default=0.7, gt=0.5, lt=1.0, description="weight of money needed to act")
    min_observations: int = Field(default=10, ge=2, description="observations before acting")
    seconds_before_off: float = Field(default=600.0, gt=0, description="only trade this close to the scheduled off")
    min_price: float = Field(default=1.5, ge=1.01)
    max_price: float = Field(default=15.0, le=1000)


class WeightOfMoney(ModalStrategy):
    """Lay when money waiting to back dominates and flow confirms; back in the opposite case."""

    plugin_name = "weight_of_money"
    Config = WeightOfMoneyConfig
    uses_signals = True

    def process_pre_race(self, market, market_book) -> None:
        """Check each runner's signals and place at most one order per selection."""
        cfg = self.config
        seconds = self.seconds_to_start(market)
        if seconds is None or seconds > cfg.seconds_before_off:
            self.skip(market, f"more than seconds_before_off ({cfg.seconds_before_off:g} s) before the off")
            return
        for runner in market_book.runners:
            if runner.status != "ACTIVE":
                continue
            if self.get_runner_context(market.market_id, runner.selection_id, runner.handicap).trade_count:
                continue
            if self.refused_recently(market.market_id, runner.selection_id):
                continue  # a control refused us here a moment ago: asking again would only be refused again
            signals = self.signals.runner(market.market_id, runner.selection_id, cfg.window)
            if signals is None or signals.observations < cfg.min_observations:
                self.skip(market, f"fewer than min_observations ({cfg.min_observations}) observations of a runner")
                continue
            if signals.best_back is None or signals.best_lay is None:
                continue
            if not cfg.min_price <= signals.best_back <= cfg.max_price:
                self.skip(market, f"a runner's best back is outside {cfg.min_price:g}-{cfg.max_price:g}")
                continue
            if signals.weight_of_money >= cfg.threshold and signals.order_flow_imbalance > 0:
                side, price = "LAY", signals.best_lay
            elif signals.weight_of_money <= 1 - cfg.threshold and signals.order_flow_imbalance < 0:
                side, price = "BACK", signals.best_back
            else:
                continue
            trade = Trade(market.market_id, runner.selection_id, runner.handicap, self)
            order = trade.create_order(side=side, order_type=LimitOrder(price, cfg.stake, persistence_type="LAPSE"))
            self.place_order(market, order, decision_price=price)
