"""Green-up math: hedge orders that make profit equal across all outcomes of a market."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MIN_STAKE = 1.0


@dataclass(frozen=True)
class Fill:
    """A matched (part of an) order: side, average matched price and matched size."""

    selection_id: int
    side: str  # "BACK" or "LAY"
    price: float
    size: float


@dataclass(frozen=True)
class HedgeOrder:
    """An order to place to green up: side, price (from the ladder) and stake."""

    selection_id: int
    side: str
    price: float
    size: float


@dataclass(frozen=True)
class Greenup:
    """The hedge orders and the profit each outcome would have after them."""

    orders: tuple[HedgeOrder, ...]
    profit: dict[int, float]

    @property
    def spread(self) -> float:
        """Largest minus smallest outcome profit (0 when perfectly green)."""
        return max(self.profit.values()) - min(self.profit.values()) if self.profit else 0.0


def outcome_profits(fills: Iterable[Fill], runners: Iterable[int]) -> dict[int, float]:
    """Profit of the fills in each outcome 'this runner wins' (one winner, commission excluded)."""
    runners = list(runners)
    return add_fills(dict.fromkeys(runners, 0.0), fills, runners)


def add_fills(profit: dict[int, float], fills: Iterable[Fill], runners: list[int]) -> dict[int, float]:
    """Add the fills' profit in each outcome to profit (in place, fill by fill, as outcome_profits sums them)."""
    for fill in fills:
        sign = 1.0 if fill.side == "BACK" else -1.0
        for runner in runners:
            if runner == fill.selection_id:
                profit[runner] += sign * fill.size * (fill.price - 1.0)
            else:
                profit[runner] -= sign * fill.size
    return profit


def _positions(fills: Iterable[Fill], runners: list[int]) -> tuple[dict[int, float], float]:
    """d[j] = (win - lose) money of runner j's own fills, and C = sum of every runner's lose money."""
    d = dict.fromkeys(runners, 0.0)
    c = 0.0
    for fill in fills:
        sign = 1.0 if fill.side == "BACK" else -1.0
        d[fill.selection_id] = d.get(fill.selection_id, 0.0) + sign * fill.size * fill.price
        c -= sign * fill.size
    return d, c


def green_up(
    fills: Iterable[Fill],
    best_back: dict[int, float],
    best_lay: dict[int, float],
    selection_id: int | None = None,
    min_stake: float = MIN_STAKE,
) -> Greenup:
    """Orders at the current best prices that equalise profit across all outcomes of the market.

    Every runner of the market must appear in best_back and best_lay (a missing price means
    that side cannot be hedged). With selection_id, only that runner is hedged: its own win and
    lose outcomes are equalised (lay stake = back stake x back price / lay price). Otherwise the
    common level is the one among the runners' current positions that maximises the guaranteed profit
    (the optimum on a book without arbitrage). Stakes are rounded to 0.01;
    a hedge below min_stake is left out and shows as residual spread.
    """
    fills = [f for f in fills if f.size > 0]
    runners = sorted(set(best_back) | set(best_lay) | {f.selection_id for f in fills})
    d, c = _positions(fills, runners)
    return green_up_from(d, c, outcome_profits(fills, runners), runners, best_back, best_lay, selection_id, min_stake)


def green_up_from(
    d: dict[int, float],
    c: float,
    profit: dict[int, float],
    runners: list[int],
    best_back: dict[int, float],
    best_lay: dict[int, float],
    selection_id: int | None = None,
    min_stake: float = MIN_STAKE,
) -> Greenup:
    """green_up from the fills' sums: d and c as _positions gives them, profit as outcome_profits over runners."""

    def stakes_for(target: float, hedged: list[int]) -> list[HedgeOrder]:
        out = []
        for runner in hedged:
            delta = target - d[runner]
            if delta > 1e-9 and best_back.get(runner):
                price = best_back[runner]
                out.append(HedgeOrder(runner, "BACK", price, delta / price))
            elif delta < -1e-9 and best_lay.get(runner):
                price = best_lay[runner]
                out.append(HedgeOrder(runner, "LAY", price, -delta / price))
        return out

    def score(target: float, hedged: list[int]) -> tuple[float, int]:
        # what guaranteed(stakes_for(target, hedged)) is, and how many orders, without building them: the same
        # float operations in the same order (a hedge moves its runner's d and the common c)
        common = c
        low = None
        count = 0
        moved = set()
        for runner in hedged:
            delta = target - d[runner]
            if delta > 1e-9 and best_back.get(runner):
                price = best_back[runner]
                size = delta / price
                value = d[runner] + 1.0 * size * price
                common -= 1.0 * size
            elif delta < -1e-9 and best_lay.get(runner):
                price = best_lay[runner]
                size = -delta / price
                value = d[runner] + -1.0 * size * price
                common -= -1.0 * size
            else:
                continue
            count += 1
            moved.add(runner)
            low = value if low is None or value < low else low
        for runner, value in d.items():
            if runner not in moved and (low is None or value < low):
                low = value
        return round(low + common, 6), -count

    if selection_id is not None:
        target, hedged = 0.0, [selection_id]
    else:  # the first level with the best (guaranteed profit, fewest orders), as max() over the candidates picks
        hedged = runners
        levels = sorted(set(d.values()))
        target = max(levels, key=lambda level: score(level, runners)) if levels else 0.0
    best = stakes_for(target, hedged)
    smallest = max(min_stake, 0.01)  # a stake that rounds to 0.00 is no order at all
    rounded = tuple(
        HedgeOrder(o.selection_id, o.side, o.price, round(o.size, 2)) for o in best if round(o.size, 2) >= smallest
    )
    hedge_fills = [Fill(o.selection_id, o.side, o.price, o.size) for o in rounded]
    after = add_fills(dict(profit), hedge_fills, runners)
    return Greenup(orders=rounded, profit={k: round(v, 2) for k, v in after.items()})
