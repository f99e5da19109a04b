"""The report lists every replayed market, flags the unsettled, and charges commission per market as Betfair does."""

from __future__ import annotations

import json

import pytest
import smart_open
from flumine.order.order import LimitOrder
from flumine.order.trade import Trade

from app.assembly import Mode, build
from app.plugins import discover
from app.report import market_commission
from core.config import load_config
from strategies.base import ModalStrategy
from tests.conftest import ROOT, Probe, best_back, real, write_config


def test_commission_is_charged_on_a_markets_net_winnings_and_shared_by_the_winners():
    assert market_commission({"a": 10.0, "b": -4.0}, 0.05) == {"a": 0.30, "b": 0.0}  # net 6.00
    assert market_commission({"a": 10.0, "b": 5.0}, 0.05) == {"a": 0.50, "b": 0.25}
    assert market_commission({"a": -1.0, "b": -2.0}, 0.05) == {"a": 0.0, "b": 0.0}
    shares = market_commission({"a": 1.0, "b": 1.0, "c": 1.0}, 0.05)  # 0.15 in thirds: rounding adds up
    assert round(sum(shares.values()), 2) == 0.15


class Sided(ModalStrategy):
    """Pre-race, once per market, 2.00 on the favourite at the best price on offer: backs, or lays as 'layer'."""

    plugin_name = "sided"

    def process_pre_race(self, market, market_book) -> None:
        memo = market.context.setdefault(self.name, {})
        runners = [r for r in market_book.runners if best_back(market_book, r.selection_id)]
        if memo or not runners:
            return
        favourite = min(runners, key=lambda r: best_back(market_book, r.selection_id))
        ex = favourite.ex
        side, ladder = ("LAY", ex.available_to_lay) if self.name == "layer" else ("BACK", ex.available_to_back)
        if not ladder:
            return
        memo["done"] = True
        trade = Trade(market.market_id, favourite.selection_id, favourite.handicap, self)
        self.place_order(market, trade.create_order(side=side, order_type=LimitOrder(ladder[0]["price"], 2.0)))


TWO_SIDES = """
[[strategies]]
name = "sided"
label = "backer"
[[strategies]]
name = "sided"
label = "layer"
"""


def _run(tmp_path, strategies: str, paths, cls, extra: str = ""):
    """A finished backtest of the strategies (a test's class registered as a plugin)."""
    registry = discover()
    registry.register(cls, "tests")
    config = write_config(tmp_path, strategies, extra)
    framework = build(Mode.BACKTEST, load_config(config), paths=paths, registry=registry, raise_hook_errors=True)
    framework.run()
    return framework


def _backtest(tmp_path, strategies: str, paths, cls, extra: str = "") -> dict:
    out = tmp_path / "out"
    _run(tmp_path, strategies, paths, cls, extra).report().write(out)
    return json.loads((out / "summary.json").read_text())


def test_two_strategies_in_one_market_pay_commission_on_its_net_winnings_only(tmp_path):
    # the second strategy's order on the same runner goes while the first is in flight: allow it
    summary = _backtest(tmp_path, TWO_SIDES, [real("1.197931750.bz2")], Sided, "[risk]\none_in_flight = false\n")
    rows = summary["markets"]
    assert {r["strategy"] for r in rows} == {"backer", "layer"} and len({r["market_id"] for r in rows}) == 1
    gross = {r["strategy"]: r["gross_pnl"] for r in rows}
    assert gross["backer"] * gross["layer"] < 0, "one side wins what the other loses (less the spread)"
    net = round(sum(gross.values()), 2)
    charged = round(sum(r["commission"] for r in rows), 2)
    assert charged == round(max(net, 0.0) * 0.05, 2)  # per strategy it would be 5% of the winner's whole win
    loser = min(rows, key=lambda r: r["gross_pnl"])
    assert loser["commission"] == 0.0
    assert summary["totals"]["pnl"] == round(net - charged, 2)


def test_every_replayed_market_is_listed_even_without_orders(tmp_path):
    framework = _run(tmp_path, '[[strategies]]\nname = "probe"\n', [ROOT / "recordings" / "race-1.gz"], Probe)
    report = framework.report()
    assert report.orders.empty
    markets = {m.market_id for m in framework.flumine.markets}
    assert len(markets) == 2 and set(report.summary["market_id"]) == markets
    assert (report.summary["orders"] == 0).all() and report.summary["settled"].all()
    assert "no markets" not in report.table() and "1.260000011" in report.table()


def _cut(source, target, keep: float) -> None:
    """The first `keep` share of a recording's lines: the market never closes."""
    with smart_open.open(str(source), "r") as f:
        lines = [line for line in f if line.strip()]
    with smart_open.open(str(target), "w") as f:
        f.writelines(lines[: int(len(lines) * keep)])


def test_a_market_that_never_settles_says_so_with_its_open_exposure(tmp_path):
    cut = tmp_path / "cut-1.197931750.gz"
    _cut(real("1.197931750.bz2"), cut, 0.8)
    report = _run(tmp_path, '[[strategies]]\nname = "sided"\nlabel = "backer"\n', [cut], Sided).report()
    (row,) = report.summary.to_dict(orient="records")
    assert row["settled"] is False and row["matched_stake"] > 0
    assert row["pnl"] != row["pnl"]  # NaN: not 0.00, there is no P&L yet
    assert row["open_exposure"] == pytest.approx(2.0)  # a 2.00 back loses its stake at worst
    assert report.totals["unsettled_markets"] == 1 and report.totals["open_exposure"] == pytest.approx(2.0)
    assert "UNSETTLED" in report.table()
    report.write(tmp_path / "out")
    written = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert written["markets"][0]["pnl"] is None and written["markets"][0]["settled"] is False
