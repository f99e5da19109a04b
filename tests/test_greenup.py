"""Green-up math: hand-worked cases and property tests over random books of backs and lays."""

from __future__ import annotations

import bisect

from flumine.utils import PRICES_FLOAT
from hypothesis import given, settings
from hypothesis import strategies as st

from core.greenup import Fill, green_up, outcome_profits

LADDER = [p for p in PRICES_FLOAT if p <= 200]


def test_single_back_is_greened_by_the_textbook_lay():
    # backed 10 at 4.0, now 3.0 to lay: lay 10 x 4.0 / 3.0 = 13.33
    result = green_up([Fill(1, "BACK", 4.0, 10.0)], {1: 2.98, 2: 1.5}, {1: 3.0, 2: 1.52}, selection_id=1)
    assert [(o.side, o.price, o.size) for o in result.orders] == [("LAY", 3.0, 13.33)]
    assert result.profit == {1: 3.34, 2: 3.33}


def test_flat_book_needs_no_hedge():
    fills = [Fill(1, "BACK", 3.0, 10.0), Fill(1, "LAY", 3.0, 10.0)]
    result = green_up(fills, {1: 2.9, 2: 1.9}, {1: 3.1, 2: 2.0})
    assert result.orders == ()
    assert result.spread == 0


def test_outcome_profits_by_hand():
    fills = [Fill(1, "BACK", 5.0, 2.0), Fill(2, "LAY", 2.0, 4.0)]
    # runner 1 wins: +8 (back) +4 (lay on 2 loses); runner 2 wins: -2 -4; runner 3 wins: -2 +4
    assert outcome_profits(fills, [1, 2, 3]) == {1: 12.0, 2: -6.0, 3: 2.0}


@st.composite
def books(draw):
    runners = draw(st.integers(min_value=2, max_value=20))
    ids = list(range(1, runners + 1))
    # a realistic book: best back at or below fair odds, best lay one tick above (no arbitrage)
    weights = draw(st.lists(st.floats(min_value=0.05, max_value=1.0), min_size=runners, max_size=runners))
    fair = {r: sum(weights) / w for r, w in zip(ids, weights, strict=True)}
    back_i = {r: max(0, min(bisect.bisect_right(LADDER, fair[r]) - 1, len(LADDER) - 2)) for r in ids}
    best_back = {r: LADDER[i] for r, i in back_i.items()}
    best_lay = {r: LADDER[i + 1] for r, i in back_i.items()}
    fills = draw(
        st.lists(
            st.builds(
                Fill,
                selection_id=st.sampled_from(ids),
                side=st.sampled_from(["BACK", "LAY"]),
                price=st.sampled_from(LADDER),
                size=st.floats(min_value=2.0, max_value=200.0).map(lambda x: round(x, 2)),
            ),
            min_size=1,
            max_size=12,
        )
    )
    return fills, best_back, best_lay


@settings(max_examples=300, deadline=None)
@given(books())
def test_after_the_hedge_every_outcome_pays_the_same_within_rounding(book):
    fills, best_back, best_lay = book
    result = green_up(fills, best_back, best_lay, min_stake=0.0)
    # each stake rounded to 0.01 moves an outcome by at most 0.005 x price, plus 0.01 from rounding profits
    tolerance = sum(0.005 * max(best_back[r], best_lay[r]) for r in best_back) + 0.02
    assert result.spread <= tolerance
    assert {o.price for o in result.orders} <= set(best_back.values()) | set(best_lay.values())
    for order in result.orders:
        expected = best_back[order.selection_id] if order.side == "BACK" else best_lay[order.selection_id]
        assert order.price == expected
        assert order.size > 0


def guaranteed_at_level(fills, best_back, best_lay, level):
    """Oracle: hedge every runner to the same win-minus-lose money `level`, return the worst outcome."""
    own = dict.fromkeys(best_back, 0.0)
    for f in fills:
        own[f.selection_id] += (1 if f.side == "BACK" else -1) * f.size * f.price
    hedge = []
    for runner, money in own.items():
        if level > money:
            hedge.append(Fill(runner, "BACK", best_back[runner], (level - money) / best_back[runner]))
        elif level < money:
            hedge.append(Fill(runner, "LAY", best_lay[runner], (money - level) / best_lay[runner]))
    return min(outcome_profits(fills + hedge, sorted(best_back)).values()), sorted(own.values())


@settings(max_examples=200, deadline=None)
@given(books(), st.floats(min_value=-500, max_value=500))
def test_green_up_guarantees_at_least_any_other_equal_profit_hedge(book, level):
    fills, best_back, best_lay = book
    result = green_up(fills, best_back, best_lay, min_stake=0.0)
    tolerance = sum(0.005 * best_lay[r] for r in best_back) + 0.02
    other, levels = guaranteed_at_level(fills, best_back, best_lay, level)
    assert min(result.profit.values()) >= other - tolerance
    for candidate in levels:
        assert min(result.profit.values()) >= guaranteed_at_level(fills, best_back, best_lay, candidate)[0] - tolerance


@settings(max_examples=200, deadline=None)
@given(books(), st.data())
def test_single_selection_hedge_equalises_that_runners_win_and_lose(book, data):
    fills, best_back, best_lay = book
    selection = data.draw(st.sampled_from(sorted(best_back)))
    result = green_up(fills, best_back, best_lay, selection_id=selection, min_stake=0.0)
    assert all(o.selection_id == selection for o in result.orders)
    own = [f for f in fills if f.selection_id == selection] + [
        Fill(o.selection_id, o.side, o.price, o.size) for o in result.orders
    ]
    win = sum((1 if f.side == "BACK" else -1) * f.size * (f.price - 1) for f in own)
    lose = sum((-1 if f.side == "BACK" else 1) * f.size for f in own)
    assert abs(win - lose) <= 0.005 * best_lay[selection] + 0.01
