"""Each risk limit refuses the order that would breach it, in a backtest, with the reason in the report."""

from __future__ import annotations

import gzip
import json

import pytest
from flumine.order.order import LimitOrder
from flumine.order.trade import Trade
from flumine.utils import price_ticks_away

from app.report import build_report
from strategies.base import ModalStrategy, StrategyConfig
from tests.conftest import all_orders, best_back, run_strategy


class AttemptsConfig(StrategyConfig):
    """Which breach to attempt."""

    case: str = ""


class Attempts(ModalStrategy):
    """Pre-race, places one order that is within the limits and one that breaches the limit under test."""

    plugin_name = "attempts"
    Config = AttemptsConfig

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.good: list = []
        self.bad: list = []
        self.first_at: float | None = None

    def _order(self, market, runner, price, size=2.0):
        trade = Trade(market.market_id, runner.selection_id, runner.handicap, self)
        return trade.create_order(side="BACK", order_type=LimitOrder(price, size, persistence_type="LAPSE"))

    def _send(self, market, order, good: bool, decision_price=None) -> None:
        (self.good if good else self.bad).append(order)
        self.place_order(market, order, decision_price=decision_price)

    def process_pre_race(self, market, market_book) -> None:
        memo = market.context.setdefault(self.name, {"calls": 0})
        memo["calls"] += 1
        case, kind = self.config.case, market.market_type
        a, b = market_book.runners[0], market_book.runners[1]
        if memo["calls"] == 1:
            if kind == "MATCH_ODDS":
                self.first_at = self.clock.now()
                if case == "max_stake":
                    self._send(market, self._order(market, a, 1000, 5.0), False)
                    self._send(market, self._order(market, b, 1000, 2.0), True)
                elif case == "market_exposure":
                    self._send(market, self._order(market, a, 1000, 4.0), True)
                    self._send(market, self._order(market, b, 1000, 4.0), False)
                elif case in ("event_exposure", "total_exposure"):
                    self._send(market, self._order(market, a, 1000, 4.0), True)
                elif case == "daily_loss":  # back and lay at once: a locked-in loss of the spread
                    trade = Trade(
                        market.market_id, a.selection_id, a.handicap, self
                    )  # flumine: one live trade a runner
                    for side, ladder in (("BACK", a.ex.available_to_back), ("LAY", a.ex.available_to_lay)):
                        order = trade.create_order(side=side, order_type=LimitOrder(ladder[0]["price"], 5.0))
                        self._send(market, order, True)
                elif case in ("cooldown", "in_flight", "competition", "market_type", "event_type"):
                    self._send(
                        market, self._order(market, a, 1000), case not in ("competition", "market_type", "event_type")
                    )
                    if case == "in_flight":
                        self._send(market, self._order(market, a, 1000), False)
                elif case == "stale_price":
                    price = best_back(market_book, a.selection_id)
                    self._send(market, self._order(market, a, price), True, decision_price=price)
                    seen = price_ticks_away(best_back(market_book, b.selection_id), 3)  # a price that has gone since
                    self._send(market, self._order(market, b, seen), False, decision_price=seen)
            elif kind == "OVER_UNDER_25":
                if case in ("event_exposure", "total_exposure"):
                    self._send(market, self._order(market, a, 1000, 4.0), False)
                elif case == "market_type":
                    self._send(market, self._order(market, a, 1000), True)
        elif kind == "MATCH_ODDS" and self.clock.now() - self.first_at >= 2 and not memo.get("second"):
            if case == "cooldown":
                memo["second"] = True
                self._send(market, self._order(market, a, 1000), False)
            elif case == "daily_loss" and all(o.size_matched for o in self.good):
                memo["second"] = True
                self._send(market, self._order(market, b, 1000), False)


CASES = {
    "max_stake": ("max_stake = 3", "above max_stake 3"),
    "market_exposure": ("max_market_exposure = 5", "above max_market_exposure 5"),
    "event_exposure": ("max_event_exposure = 6", "above max_event_exposure 6"),
    "total_exposure": ("max_total_exposure = 6", "above max_total_exposure 6"),
    "daily_loss": ("daily_loss_limit = 0.01\none_in_flight = false", "below the daily loss limit"),
    "cooldown": ("selection_cooldown = 300", "is cooling down"),
    "event_type": ('blacklist_event_types = ["1"]', "event type 1 is blacklisted"),
    "market_type": ('blacklist_market_types = ["MATCH_ODDS"]', "market type MATCH_ODDS is blacklisted"),
    "competition": ('blacklist_competitions = ["12345"]', "competition 12345 is blacklisted"),
    "stale_price": ("max_price_drift = 1", "stale price"),
    "in_flight": ("", "already in flight"),
}


def with_competition(path, tmp_path):
    """The generated football recording with a competition id on the match odds market (made here)."""
    out = tmp_path / "football-competition.gz"
    with gzip.open(path, "rt") as src, gzip.open(out, "wt") as dst:
        for line in src:
            message = json.loads(line)
            for change in message.get("mc", []):
                definition = change.get("marketDefinition")
                if definition and definition["marketType"] == "MATCH_ODDS":
                    definition["competitionId"] = "12345"
            dst.write(json.dumps(message, separators=(",", ":")) + "\n")
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_limit_refuses_the_breaching_order(tmp_path, generated, case):
    setting, reason = CASES[case]
    path = with_competition(generated["football"], tmp_path) if case == "competition" else generated["football"]
    framework = run_strategy(
        tmp_path,
        Attempts,
        [path],
        params=f'case = "{case}"',
        extra=f"[risk]\n{setting}\n",
        market_filter='market_types = ["MATCH_ODDS", "OVER_UNDER_25"]',
    )
    strategy = framework.strategies[0]
    assert strategy.bad, "the breaching order was never attempted"
    placed = {id(o) for o in all_orders(framework)}
    for order in strategy.bad:
        assert id(order) not in placed
        assert reason in order.violation_msg
    for order in strategy.good:
        assert id(order) in placed, order.violation_msg
    refusals = framework.safety.dispatcher.refusals
    assert [r.reason for r in refusals] == [o.violation_msg for o in strategy.bad]
    report = build_report(framework.flumine.markets, 0.05, refusals)
    assert report.totals["refused"] == len(strategy.bad)
    assert all(reason in r for r in report.refusals["reason"])


def test_a_refused_order_reaches_the_strategy_and_the_shipped_strategy_backs_off(tmp_path):
    from app.assembly import Mode, build
    from app.plugins import discover
    from core.config import load_config
    from tests.conftest import real, write_config

    config = write_config(
        tmp_path,
        '[[strategies]]\nname = "weight_of_money"\n[strategies.params]\nmax_order_exposure = 30\n',
        "[risk]\nmax_stake = 1.5\n",  # every 2.00 order is refused
    )
    framework = build(Mode.BACKTEST, load_config(config), paths=[real("SELF-1.181223994.bz2")], registry=discover())
    told: list[tuple[float, int, str]] = []
    strategy = framework.strategies[0]
    strategy.on_refused = lambda market, order, reason: told.append((strategy.clock.now(), order.selection_id, reason))
    framework.run()
    refusals = framework.safety.dispatcher.refusals
    assert refusals and all("above max_stake" in r.reason for r in refusals)
    # the strategy heard of each refusal, when it happened
    assert [(t, s) for t, s, _ in told] == [(r.at, r.selection_id) for r in refusals]
    # and left the runner alone for refusal_backoff (30 s) before asking again
    last: dict[int, float] = {}
    for r in refusals:
        if r.selection_id in last:
            assert r.at - last[r.selection_id] >= 30.0
        last[r.selection_id] = r.at
    assert len(refusals) < 200, "without backing off it asks on every evaluation (every 0.5 s)"
