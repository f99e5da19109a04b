"""Pre-race signals against values worked out by hand from a real recording (1.197931750, runner 42930960)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.signals import order_flow_imbalance, weight_of_money
from tests.conftest import Probe, real

SELECTION = 42930960


class SignalProbe(Probe):
    """Takes the signal buffer's view of one runner after each of the first four books."""

    plugin_name = "signal_probe"
    uses_signals = True
    seen: list = []

    def process_pre_race(self, market, market_book):
        if len(SignalProbe.seen) < 4:
            SignalProbe.seen.append(self.signals.runner(market.market_id, SELECTION))


def test_buffer_signals_on_the_first_four_lines(tmp_path):
    from app.assembly import Mode, build
    from app.plugins import discover
    from core.config import load_config
    from tests.conftest import write_config

    SignalProbe.seen = []
    registry = discover()
    registry.register(SignalProbe, "test")
    cfg = write_config(tmp_path, '[[strategies]]\nname = "signal_probe"\n[strategies.params]\npre_race_interval = 0\n')
    framework = build(Mode.BACKTEST, load_config(cfg), paths=[real("1.197931750.bz2")], registry=registry)
    framework.run()
    first, _, _, fourth = SignalProbe.seen
    # line 1 (image): back 8.8@18.62, 8.6@4.83, 8.4@12.66; lay 9@5.45, 9.2@5.49, 9.4@10.39; ltp 8.8
    assert first.observations == 1
    assert first.weight_of_money == pytest.approx(36.11 / (36.11 + 21.33))
    assert first.last_traded_price == 8.8
    assert first.order_flow_imbalance == 0.0
    # line 2: best back 8.8 grows to 20.62 (e = +2.00); line 3: best levels unchanged (e = 0);
    # line 4: best back moves up to 9.2@4.32 (+4.32), best lay 9@5.45 is taken, now 9.4 (+5.45)
    assert fourth.observations == 4
    assert fourth.order_flow_imbalance == pytest.approx(2.0 + 0.0 + 4.32 + 5.45)
    assert (fourth.best_back, fourth.best_lay, fourth.last_traded_price) == (9.2, 9.4, 9.2)


def test_weight_of_money_edges():
    assert weight_of_money(30.0, 10.0) == 0.75
    assert math.isnan(weight_of_money(0.0, 0.0))


def test_order_flow_imbalance_by_hand():
    # back price falls: the previous best back size leaves (-10); lay price falls: new lay size arrives (-7)
    ofi = order_flow_imbalance(np.array([3.0, 2.9]), np.array([10.0, 4.0]), np.array([3.1, 3.0]), np.array([6.0, 7.0]))
    assert ofi == pytest.approx(-10.0 - 7.0)
    assert order_flow_imbalance(np.array([3.0]), np.array([1.0]), np.array([3.1]), np.array([1.0])) == 0.0
