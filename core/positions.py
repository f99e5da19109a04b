"""Positions of a market from flumine's blotter: fills, worst-case exposure, close-out value."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flumine.order.order import OrderStatus

from core.greenup import Fill, green_up, outcome_profits

HEDGE = "paddock_hedge"  # order.context key marking a hedge order


def is_hedge(order) -> bool:
    """True for orders placed by the hedger."""
    return bool(order.context.get(HEDGE))


def resting(order) -> bool:
    """An unmatched remainder on the exchange that is not a hedge: what a trip or a cascade cancels."""
    return not is_hedge(order) and order.status is OrderStatus.EXECUTABLE and order.size_remaining > 0


def _live(order) -> bool:
    return order.status not in (OrderStatus.EXECUTION_COMPLETE, OrderStatus.EXPIRED, OrderStatus.VIOLATION)


@dataclass(frozen=True)
class Positions:
    """What a market holds: matched fills, unmatched (possibly matching) orders, profit per outcome."""

    market_id: str
    matched: tuple[Fill, ...]
    unmatched: tuple[Fill, ...]
    runners: tuple[int, ...]

    @property
    def profit(self) -> dict[int, float]:
        """Profit of the matched fills if each runner wins."""
        return outcome_profits(self.matched, self.runners)

    @property
    def exposure(self) -> float:
        """Worst-case loss, counting every unmatched order as matched where that hurts."""
        return worst_case_loss(self.matched, self.unmatched, self.runners)

    @property
    def is_flat(self) -> bool:
        """True when nothing is matched."""
        return not self.matched


def runner_ids(market) -> tuple[int, ...]:
    """Selection ids of the market's runners that are not removed."""
    book = market.market_book
    if book is None:
        return ()
    return tuple(r.selection_id for r in book.runners if r.status != "REMOVED")


def order_fills(orders: Iterable) -> tuple[list[Fill], list[Fill]]:
    """Matched parts of orders, and unmatched remainders of live limit orders at their price."""
    matched, unmatched = [], []
    for order in orders:
        if order.size_matched and order.average_price_matched:
            matched.append(Fill(order.selection_id, order.side, order.average_price_matched, order.size_matched))
        price = getattr(order.order_type, "price", None)
        if price and _live(order) and order.size_remaining > 0:
            unmatched.append(Fill(order.selection_id, order.side, price, order.size_remaining))
    return matched, unmatched


def positions(market, orders: Iterable | None = None) -> Positions:
    """Positions of a market over all its orders (or the given ones)."""
    matched, unmatched = order_fills(market.blotter if orders is None else orders)
    runners = set(runner_ids(market)) | {f.selection_id for f in matched + unmatched}
    return Positions(market.market_id, tuple(matched), tuple(unmatched), tuple(sorted(runners)))


def worst_case_loss(matched: Iterable[Fill], unmatched: Iterable[Fill], runners: Iterable[int]) -> float:
    """Largest loss over outcomes: matched profit plus each unmatched order's loss in that outcome."""
    runners = list(runners)
    profit = outcome_profits(matched, runners)
    for fill in unmatched:
        for runner, value in outcome_profits([fill], runners).items():
            if value < 0:
                profit[runner] += value
    return max(0.0, -min(profit.values())) if profit else 0.0


def order_as_fill(order) -> Fill:
    """The order fully matched at its limit price."""
    return Fill(order.selection_id, order.side, order.order_type.price, order.order_type.size)


def exposure_with(pos: Positions, order) -> float:
    """Worst-case loss of the market if the order were added."""
    return worst_case_loss(pos.matched, pos.unmatched + (order_as_fill(order),), pos.runners + (order.selection_id,))


def reduces_exposure(pos: Positions, order) -> bool:
    """True when the order, fully matched, leaves the worst-case loss lower and never adds new risk."""
    extra = order_as_fill(order)
    runners = tuple(sorted(set(pos.runners) | {order.selection_id}))
    before = worst_case_loss(pos.matched, (), runners)
    after = worst_case_loss(pos.matched + (extra,), (), runners)
    return after < before - 1e-9


def best_prices(market) -> tuple[dict[int, float], dict[int, float]]:
    """Best available back and lay prices per active runner."""
    backs, lays = {}, {}
    book = market.market_book
    for runner in book.runners if book else ():
        if runner.status != "ACTIVE":
            continue
        if runner.ex.available_to_back:
            backs[runner.selection_id] = runner.ex.available_to_back[0]["price"]
        if runner.ex.available_to_lay:
            lays[runner.selection_id] = runner.ex.available_to_lay[0]["price"]
    return backs, lays


def close_out_value(market, orders: Iterable | None = None) -> float:
    """What the matched position (of all orders or the given ones) locks in if hedged now at the best prices."""
    pos = positions(market, orders)
    if pos.is_flat:
        return 0.0
    backs, lays = best_prices(market)
    if not backs and not lays:
        return min(pos.profit.values())
    result = green_up(pos.matched, backs, lays, min_stake=0.0)
    return min(result.profit.values())
