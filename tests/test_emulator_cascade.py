"""Suspension cascade end to end: live against the emulator replaying a generated football goal."""

from __future__ import annotations

import json

import pytest
import smart_open
from flumine.order.order import LimitOrder
from flumine.order.trade import Trade

from app.assembly import Mode
from emulator.server import Emulator
from strategies.base import ModalStrategy
from tests.live_helpers import LiveRun, calls, trimmed, wait_for

pytestmark = pytest.mark.slow  # live trading against the emulator: each test waits on a replay


class RestAndBack(ModalStrategy):
    """In play, once per market: a PERSIST lay at 1.01 that rests; on MATCH_ODDS also a matched back."""

    plugin_name = "rest_and_back"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.resting: dict[str, object] = {}
        self.reopened: list[str] = []

    def process_in_play(self, market, market_book) -> None:
        if market.market_id in self.resting or market_book.status != "OPEN":
            return
        priced = [r for r in market_book.runners if r.ex.available_to_back]
        runner = max(priced, key=lambda r: r.ex.available_to_back[0]["price"])  # the outsider, not the favourite
        trade = Trade(market.market_id, runner.selection_id, runner.handicap, self)
        order = trade.create_order(side="LAY", order_type=LimitOrder(1.01, 2.0, persistence_type="PERSIST"))
        self.resting[market.market_id] = order
        self.place_order(market, order)
        if market_book.market_definition.market_type == "MATCH_ODDS":
            fav = min(
                (r for r in market_book.runners if r.ex.available_to_back),
                key=lambda r: r.ex.available_to_back[0]["price"],
            )
            price = fav.ex.available_to_back[0]["price"]
            trade = Trade(market.market_id, fav.selection_id, fav.handicap, self)
            self.place_order(
                market, trade.create_order(side="BACK", order_type=LimitOrder(price, 5.0)), decision_price=price
            )

    def on_reopened(self, market, market_book, positions) -> None:
        self.reopened.append(market.market_id)


def _first_goal(path) -> int:
    with smart_open.open(str(path), "r") as f:
        for line in f:
            message = json.loads(line)
            for change in message["mc"]:
                d = change.get("marketDefinition") or {}
                if d.get("inPlay") and d.get("status") == "SUSPENDED":
                    return message["pt"]
    raise AssertionError("no in-play suspension in the generated match")


def test_goal_cancels_resting_orders_one_call_per_market_and_hedges_with_fill_or_kill(tmp_path, generated):
    goal = _first_goal(generated["football"])
    window = trimmed(generated["football"], tmp_path / "goal.gz", goal - 20_000, goal + 20_000)
    extra = '[cascade]\npolicy = "hedge"\n[risk]\nselection_cooldown = 0\n'
    with Emulator([window], speed=4) as emulator:
        with LiveRun(
            tmp_path, Mode.LIVE, RestAndBack, emulator, extra=extra, market_filter='event_type_ids = ["1"]'
        ) as run:
            strategy = run.strategy
            wait_for(
                lambda: len(strategy.resting) == 4 and all(o.bet_id for o in strategy.resting.values()),
                20,
                "resting orders",
            )
            wait_for(lambda: len(set(strategy.reopened)) == 4, 30, "all four markets to reopen")
            wait_for(
                lambda: all(o.size_remaining == 0 for o in strategy.resting.values()),
                15,
                "the resting orders cancelled",
            )
            wait_for(
                lambda: any(
                    i.get("limitOrder", {}).get("timeInForce") == "FILL_OR_KILL"
                    for p in calls(emulator, "placeOrders")
                    for i in p["instructions"]
                ),
                15,
                "a hedge",
            )
    cancels = calls(emulator, "cancelOrders")
    by_market: dict[str, int] = {}
    for params in cancels:
        by_market[params["marketId"]] = by_market.get(params["marketId"], 0) + 1
    # one call per market at the handling (the exchange refuses it while suspended), one retry after the reopen
    assert set(by_market) == set(strategy.resting) and all(n == 2 for n in by_market.values())
    resting_ids = {o.bet_id for o in strategy.resting.values()}
    placed = emulator.exchange.engine.orders
    assert all(placed[b].size_cancelled == 2.0 and placed[b].size_matched == 0 for b in resting_ids)
    hedges = [
        i
        for p in calls(emulator, "placeOrders")
        for i in p["instructions"]
        if i.get("limitOrder", {}).get("timeInForce") == "FILL_OR_KILL"
    ]
    assert hedges and all(h["limitOrder"]["persistenceType"] == "LAPSE" for h in hedges)
    assert not [o for o in placed.values() if o.time_in_force == "FILL_OR_KILL" and o.remaining > 0]
