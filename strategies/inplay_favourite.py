"""Example in-play strategy: back the favourite after the off, then hedge at a profit target or stop loss."""

from __future__ import annotations

from typing import Literal

from flumine.order.order import LimitOrder, OrderStatus
from flumine.order.trade import Trade
from pydantic import Field

from strategies.base import ModalStrategy, StrategyConfig


class InPlayFavouriteConfig(StrategyConfig):
    """Params of the in-play favourite strategy."""

    stake: float = Field(default=2.0, ge=1.0, description="stake of the back order")
    delay: float = Field(default=60.0, ge=0, description="seconds in play before backing")
    min_price: float = Field(default=1.2, ge=1.01, description="lowest price to back at")
    max_price: float = Field(default=4.0, le=1000, description="highest price to back at")
    cancel_after: float = Field(default=30.0, gt=0, description="cancel what is unmatched after this many seconds")
    profit_target: float | None = Field(default=5, gt=0, description="hedge once the price moved this far our way")
    stop_loss: float | None = Field(default=5, gt=0, description="hedge once the price moved this far against us")
    target_unit: Literal["money", "ticks"] = "ticks"


class InPlayFavourite(ModalStrategy):
    """Back the in-play favourite once per market (once, across restarts too); cancel the unmatched remainder after a while.

    The position is hedged (green-up, FILL_OR_KILL) when it reaches profit_target or stop_loss,
    set in ticks by default; with [cascade] policy = "hedge" it is also hedged after every reopen.
    """

    plugin_name = "inplay_favourite"
    Config = InPlayFavouriteConfig

    def _memo(self, market) -> dict:
        return market.context.setdefault(self.name, {})

    def on_in_play(self, market, market_book) -> None:
        """Remember when the market went in play."""
        self._memo(market)["in_play_since"] = self.clock.now()

    def on_reopened(self, market, market_book, positions) -> None:
        """After a suspension, wait the full delay again before acting on new prices."""
        self._memo(market)["in_play_since"] = self.clock.now()

    def process_in_play(self, market, market_book) -> None:
        """Back the favourite after the delay, then cancel the unmatched part when it is stale."""
        cfg = self.config
        now = self.clock.now()
        for order in market.blotter.strategy_orders(self):
            if order.status == OrderStatus.EXECUTABLE and order.size_remaining > 0:
                if now - order.context.get("placed_at", now) >= cfg.cancel_after:
                    self.cancel_order(market, order)
        memo = self._memo(market)
        if market.blotter.strategy_orders(self):
            memo["backed"] = True  # also after a restart: the orders taken in from the exchange are in the blotter
        if memo.get("backed") or now - memo.get("in_play_since", now) < cfg.delay:
            return
        runners = [r for r in market_book.runners if r.status == "ACTIVE" and r.ex.available_to_back]
        if not runners:
            return
        favourite = min(runners, key=lambda r: r.ex.available_to_back[0]["price"])
        price = favourite.ex.available_to_back[0]["price"]
        if not cfg.min_price <= price <= cfg.max_price:
            self.skip(market, f"the favourite's best back is outside {cfg.min_price:g}-{cfg.max_price:g}")
            return
        trade = Trade(market.market_id, favourite.selection_id, favourite.handicap, self)
        order = trade.create_order(side="BACK", order_type=LimitOrder(price, cfg.stake, persistence_type="LAPSE"))
        order.context["placed_at"] = now
        self.place_order(market, order, decision_price=price)
        memo["backed"] = True
