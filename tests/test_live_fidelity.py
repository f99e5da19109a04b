"""The shipped strategies, with the shipped config, trade paper and live against the emulator as in the backtest."""

from __future__ import annotations

import pytest

from app.fidelity import backtest, emulated, run_config
from app.framework import Mode
from app.gapcap import gap_capped
from tests.conftest import ROOT, real

pytestmark = pytest.mark.slow  # each test replays a whole market through the emulator

COLUMNS = ["strategy", "market_id", "selection_id", "side", "price", "size", "size_matched", "profit"]


def _orders(framework) -> list[tuple]:
    return [tuple(row) for row in framework.report().orders[COLUMNS].itertuples(index=False)]


CASES = {
    # weight_of_money (the signal buffer) on a greyhound race; inplay_favourite on the generated football match
    "greyhounds": (lambda: real("1.197931750.bz2"), 40.0, None),
    "football": (lambda: ROOT / "recordings" / "football-1.gz", 10.0, 0.5),
}


# Paper is live for the in-play football only at speed 1: flumine's paper execution waits its latency and the
# 5 s in-play bet delay in wall time, so at 50x a paper order meets the book 250 market seconds late.
RUNS = [("greyhounds", Mode.PAPER), ("greyhounds", Mode.LIVE), ("football", Mode.LIVE)]


@pytest.mark.parametrize(("case", "mode"), RUNS)
def test_the_shipped_strategies_place_the_backtests_orders(tmp_path, case, mode):
    path, speed, max_gap = CASES[case]
    recording = path()
    config = run_config(ROOT / "config.toml", tmp_path)
    compared = gap_capped(recording, tmp_path / f"capped-{recording.name}", max_gap) if max_gap else recording
    expected = _orders(backtest(config, compared))
    assert expected, "the shipped strategies trade this recording in a backtest"
    assert _orders(emulated(config, recording, mode, speed, max_gap)) == expected
