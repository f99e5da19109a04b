"""A strategy that trades a lot, for checking positions: both sides, crossing and resting, LAPSE and PERSIST."""

from __future__ import annotations

from flumine.order.ordertype import LimitOrder
from flumine.order.trade import Trade
from flumine.utils import price_ticks_away

from strategies.base import ModalStrategy, StrategyConfig


class ChurnConfig(StrategyConfig):
    """How often to order and how far from the best price."""

    every: int = 7  # order on every Nth book a market sends
    stake: float = 2.0


class Churn(ModalStrategy):
    """On every Nth book of a market, one order on a runner picked from the book's count: back or lay, at the
    best price (it crosses) or a few ticks away (it rests), LAPSE or PERSIST; a hedge now and then."""

    plugin_name = "churn"
    Config = ChurnConfig

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.books: dict[str, int] = {}

    def _tick(self, market, market_book) -> None:
        n = self.books[market.market_id] = self.books.get(market.market_id, 0) + 1
        if n % self.config.every:
            return
        step = n // self.config.every
        runners = [r for r in market_book.runners if r.status == "ACTIVE"]
        if not runners:
            return
        runner = runners[step % len(runners)]
        side = "BACK" if step % 2 else "LAY"
        ladder = runner.ex.available_to_back if side == "BACK" else runner.ex.available_to_lay
        if not ladder:
            return
        price = ladder[0]["price"]
        away = (step // 2) % 3  # 0: at the best price, else that many ticks the wrong way (rests)
        if away:
            try:
                price = price_ticks_away(price, away if side == "BACK" else -away)
            except ValueError:
                return
        if step % 11 == 0 and not self.safety.hedging(market.market_id, self):
            self.hedge(market, reason="churn")
            return
        persistence = "PERSIST" if step % 5 == 0 else "LAPSE"
        for order in market.blotter.strategy_orders(self):
            if order.selection_id == runner.selection_id and order.trade.status.value != "COMPLETE":
                trade = order.trade
                break
        else:
            trade = Trade(market.market_id, runner.selection_id, runner.handicap, self)
        order = trade.create_order(
            side=side, order_type=LimitOrder(price, self.config.stake, persistence_type=persistence)
        )
        self.place_order(market, order)

    def process_pre_race(self, market, market_book) -> None:
        self._tick(market, market_book)

    def process_in_play(self, market, market_book) -> None:
        self._tick(market, market_book)
