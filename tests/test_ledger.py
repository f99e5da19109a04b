"""The ledgers' positions equal a full rebuild from every order, after every update and at every placement."""

from __future__ import annotations

import pytest
from flumine.controls import BaseControl
from flumine.markets.middleware import Middleware
from flumine.order.orderpackage import OrderPackageType

from app.assembly import Mode, build
from app.plugins import discover
from core.config import load_config
from core.positions import close_out, exposure_with, positions, rebuilt, reduces_exposure
from tests.churn import Churn
from tests.conftest import ROOT, real, strategy_table, write_config

STRATEGIES = (
    strategy_table(Churn, "every = 5\npre_race_interval = 0.0\nmax_order_exposure = 100\nmax_selection_exposure = 1000")
    + '[[strategies]]\nname = "churn"\nlabel = "churn-money"\n[strategies.params]\nevery = 3\n'
    "pre_race_interval = 0.0\nprofit_target = 1.0\nstop_loss = 1.0\nmax_order_exposure = 100\n"
    "max_selection_exposure = 1000\n"
)
STRIDE = 7  # the real recordings' updates compared: every 7th (a prime, so no phase with the churn's 3 and 5)
LIMITS = '[risk]\nmax_market_exposure = 30.0\nmax_total_exposure = 60.0\n[cascade]\npolicy = "hedge"\n'


class Compare:
    """Compares every ledger with a rebuild of the same orders; counts what it compared."""

    def __init__(self, layer, strategies, stride: int = 1) -> None:
        self.layer = layer
        self.strategies = strategies
        self.stride = stride  # compare after every stride-th update (a rebuild costs every order of the market)
        self.updates = 0
        self.compared = 0
        self.placements = 0

    def market(self, market) -> None:
        """The market's ledger and each strategy's equal the rebuild: fills, runners, profit, exposure, close-out."""
        ledgers = self.layer.ledgers
        for strategy in [None, *self.strategies]:
            kept, full = ledgers.positions(market, strategy), rebuilt(market, strategy)
            assert kept == full, (market.market_id, strategy)
            assert kept.profit == full.profit
            assert kept.exposure == full.exposure
            assert close_out(market, kept) == close_out(market, full)
            if strategy is not None:
                assert (ledgers.strategy(market, strategy).sized > 0) == any(
                    o.size_matched for o in market.blotter.strategy_orders(strategy)
                )
        self.compared += 1

    def order(self, market, order) -> None:
        """What the controls compute for a new order is the same from the ledger as from the rebuild."""
        kept = self.layer.ledgers.positions(market)
        full = positions(market, [o for o in market.blotter if o is not order])
        assert kept == full
        assert exposure_with(kept, order) == exposure_with(full, order)
        assert reduces_exposure(kept, order) == reduces_exposure(full, order)
        self.placements += 1


class CompareAfterUpdate(Middleware):
    """Runs after the safety layer's middleware on every update."""

    def __init__(self, compare: Compare) -> None:
        self.compare = compare

    def __call__(self, market) -> None:
        """Compare this market (every stride-th update)."""
        self.compare.updates += 1
        if self.compare.updates % self.compare.stride == 0:
            self.compare.market(market)


class CompareAtPlacement(BaseControl):
    """A trading control run first: compares at every new order."""

    NAME = "COMPARE_LEDGERS"

    def __init__(self, flumine, compare: Compare) -> None:
        super().__init__(flumine)
        self.compare = compare

    def _validate(self, order, package_type: OrderPackageType) -> None:
        if package_type is OrderPackageType.PLACE:
            self.compare.order(self.flumine.markets.markets[order.market_id], order)


def run_compared(tmp_path, paths, extra: str = "", stride: int = 1):
    """Backtest the churn strategies over paths with the comparisons wired in."""
    registry = discover()
    registry.register(Churn, "tests/churn.py")
    config = load_config(write_config(tmp_path, STRATEGIES, extra))
    framework = build(Mode.BACKTEST, config, paths=paths, registry=registry, raise_hook_errors=True)
    compare = Compare(framework.safety, framework.strategies, stride)
    framework.flumine.add_market_middleware(CompareAfterUpdate(compare))
    framework.flumine.trading_controls.insert(0, CompareAtPlacement(framework.flumine, compare))
    framework.run()
    for market in framework.flumine.markets:  # and once more at the end: closed, settled, voided
        compare.market(market)
    return framework, compare


@pytest.mark.slow
@pytest.mark.parametrize(
    "names, extra",
    [
        (["PRO-1.170258213.bz2"], LIMITS),  # non-runners with reduction factors: voids and reduced prices
    ],
)
def test_ledgers_equal_a_rebuild_on_real_recordings(tmp_path, names, extra):
    framework, compare = run_compared(tmp_path, [real(name) for name in names], extra, stride=STRIDE)
    orders = [o for m in framework.flumine.markets for o in m.blotter]
    assert len(orders) > 100 and compare.placements > 100 and compare.compared > 1000 // STRIDE
    if names[0].startswith("PRO"):
        assert any(o.size_voided for o in orders), "no order was voided on a non-runner"
        reduced = [o for o in orders if o.size_matched and o.runner_status != "REMOVED"]
        assert reduced, "no matched order on the runners that stayed in"


def test_ledgers_equal_a_rebuild_on_generated_recordings(tmp_path):
    """race-1 is a WIN / PLACE pair whose suspensions cascade; football-1 suspends and reopens in play."""
    paths = [ROOT / "recordings" / name for name in ("race-1.gz", "football-1.gz")]
    framework, compare = run_compared(tmp_path, paths, LIMITS)
    orders = [o for m in framework.flumine.markets for o in m.blotter]
    assert any(o.size_voided for o in orders), "no order was voided on the race's non-runner"
    assert compare.placements > 50 and compare.compared > 500


def test_an_update_for_a_complete_order_is_read_when_told(tmp_path):
    """Live, the order stream can change a complete order (a void after a non-runner): the ledger reads it when
    the framework passes the update on (app/workers.py), not by reading every order on every update."""
    framework, _ = run_compared(tmp_path, [ROOT / "recordings" / "race-1.gz"])
    market = next(m for m in framework.flumine.markets if any(o.size_matched for o in m.blotter))
    ledger = framework.safety.ledgers.market(market)
    order = next(o for o in market.blotter if o.size_matched and o.complete)
    assert ledger.positions() == positions(market)
    order.simulated.size_matched = round(order.simulated.size_matched / 2, 2)  # what an order-stream update does
    assert ledger.positions() != positions(market)
    framework.safety.ledgers.touch(market.market_id, order.id)
    assert ledger.positions() == positions(market)
