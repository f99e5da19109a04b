"""Positions of a market from flumine's blotter: fills, worst-case exposure, close-out value."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from flumine.order.order import OrderStatus

from core.greenup import MIN_STAKE, Fill, Greenup, add_fills, green_up, green_up_from, outcome_profits

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
class Folded:
    """The matched fills of a Positions summed fill by fill, exactly as outcome_profits and green_up sum them."""

    single: dict[int, float]  # outcome_profits(matched, runners)[r], r listed once in runners
    double: dict[int, float]  # the same with r listed twice (exposure_with lists the order's runner again)
    own: dict[int, float]  # green_up's d: each runner's own fills (selections with fills only)
    common: float  # green_up's c

    def profits(self, runners: Sequence[int]) -> dict[int, float] | None:
        """outcome_profits(matched, runners), or None for a runner list it does not hold."""
        counts = Counter(runners)
        out = {}
        for runner, count in counts.items():
            sums = self.single if count == 1 else self.double if count == 2 else None
            if sums is None or runner not in sums:
                return None
            out[runner] = sums[runner]
        return out


@dataclass(frozen=True)
class Positions:
    """What a market holds: matched fills, unmatched (possibly matching) orders, profit per outcome."""

    market_id: str
    matched: tuple[Fill, ...]
    unmatched: tuple[Fill, ...]
    runners: tuple[int, ...]
    folded: Folded | None = field(default=None, compare=False, repr=False)  # a ledger's sums, when it made this

    def profits(self, runners: Sequence[int]) -> dict[int, float]:
        """Profit of the matched fills in each outcome of the runners given (as outcome_profits computes it)."""
        if self.folded is not None:
            out = self.folded.profits(runners)
            if out is not None:
                return out
        return outcome_profits(self.matched, runners)

    @property
    def profit(self) -> dict[int, float]:
        """Profit of the matched fills if each runner wins."""
        return self.profits(self.runners)

    @cached_property
    def exposure(self) -> float:
        """Worst-case loss, counting every unmatched order as matched where that hurts."""
        return worst_case_from(self.profit, self.unmatched, self.runners)

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


def fills_of(order) -> tuple[Fill | None, Fill | None]:
    """An order's matched part, and its unmatched remainder if it is a live limit order (at its price)."""
    matched = unmatched = None
    if order.size_matched and order.average_price_matched:
        matched = Fill(order.selection_id, order.side, order.average_price_matched, order.size_matched)
    price = getattr(order.order_type, "price", None)
    if price and _live(order) and order.size_remaining > 0:
        unmatched = Fill(order.selection_id, order.side, price, order.size_remaining)
    return matched, unmatched


def order_fills(orders: Iterable) -> tuple[list[Fill], list[Fill]]:
    """Matched parts of orders, and unmatched remainders of live limit orders at their price."""
    matched, unmatched = [], []
    for order in orders:
        m, u = fills_of(order)
        if m is not None:
            matched.append(m)
        if u is not None:
            unmatched.append(u)
    return matched, unmatched


def positions(market, orders: Iterable | None = None) -> Positions:
    """Positions of a market over all its orders (or the given ones)."""
    matched, unmatched = order_fills(market.blotter if orders is None else orders)
    runners = set(runner_ids(market)) | {f.selection_id for f in matched + unmatched}
    return Positions(market.market_id, tuple(matched), tuple(unmatched), tuple(sorted(runners)))


def rebuilt(market, strategy=None) -> Positions:
    """Positions of the market's orders (or one strategy's), rebuilt from every order: what a ledger keeps."""
    return positions(market, None if strategy is None else market.blotter.strategy_orders(strategy))


def worst_case_loss(matched: Iterable[Fill], unmatched: Iterable[Fill], runners: Iterable[int]) -> float:
    """Largest loss over outcomes: matched profit plus each unmatched order's loss in that outcome."""
    runners = list(runners)
    return worst_case_from(outcome_profits(matched, runners), unmatched, runners)


def worst_case_from(profit: dict[int, float], unmatched: Iterable[Fill], runners: Iterable[int]) -> float:
    """worst_case_loss from the matched profit per outcome (outcome_profits over the same runners)."""
    runners = list(runners)
    profit = dict(profit)
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
    # the order's runner is listed twice when the market already has it: outcome_profits then counts that
    # runner's fills twice; kept as it always was (the risk limits' refusals depend on it)
    runners = pos.runners + (order.selection_id,)
    return worst_case_from(pos.profits(runners), pos.unmatched + (order_as_fill(order),), runners)


def reduces_exposure(pos: Positions, order) -> bool:
    """True when the order, fully matched, leaves the worst-case loss lower and never adds new risk."""
    extra = order_as_fill(order)
    runners = tuple(sorted(set(pos.runners) | {order.selection_id}))
    profit = pos.profits(runners)
    before = worst_case_from(profit, (), runners)
    after = worst_case_from(add_fills(dict(profit), [extra], list(runners)), (), runners)
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


def plan_green_up(
    pos: Positions,
    best_back: dict[int, float],
    best_lay: dict[int, float],
    selection_id: int | None = None,
    min_stake: float = MIN_STAKE,
) -> Greenup:
    """green_up of the matched fills of pos (from a ledger's sums when pos has them)."""
    folded = pos.folded
    if folded is None:
        return green_up(pos.matched, best_back, best_lay, selection_id=selection_id, min_stake=min_stake)
    runners = sorted(set(best_back) | set(best_lay) | folded.own.keys())
    profit = pos.profits(runners)
    d = {runner: folded.own.get(runner, 0.0) for runner in runners}
    return green_up_from(d, folded.common, profit, runners, best_back, best_lay, selection_id, min_stake)


def close_out_value(market, orders: Iterable | None = None) -> float:
    """What the matched position (of all orders or the given ones) locks in if hedged now at the best prices."""
    return close_out(market, positions(market, orders))


def close_out(market, pos: Positions) -> float:
    """What the matched fills of pos lock in if hedged now at the market's best prices."""
    if pos.is_flat:
        return 0.0
    return close_out_at(pos, *best_prices(market))


def close_out_at(pos: Positions, backs: dict[int, float], lays: dict[int, float]) -> float:
    """What the matched fills of pos lock in if hedged at these best back and lay prices."""
    if pos.is_flat:
        return 0.0
    if not backs and not lays:
        return min(pos.profit.values())
    return min(plan_green_up(pos, backs, lays, min_stake=0.0).profit.values())
