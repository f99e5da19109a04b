"""record against the emulator: the recording backtests to the same books as the original; SIGINT leaves whole files."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from flumine import BaseStrategy, FlumineSimulation, clients
from flumine.order.order import LimitOrder
from flumine.order.trade import Trade

from app.assembly import Mode, build, build_recorder
from app.gapcap import gap_capped
from app.plugins import discover
from core.config import load_config
from core.replayfile import RecordingStream
from emulator.server import Emulator
from strategies.base import ModalStrategy
from tests.conftest import ROOT, real, write_config
from tests.live_helpers import CREDENTIALS, wait_for

pytestmark = pytest.mark.slow  # live trading against the emulator: each test waits on a replay


class Books(BaseStrategy):
    """Every market book as (status, inPlay, last traded, best three back and lay levels per runner)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rows: list[tuple] = []

    def check_market_book(self, market, market_book) -> bool:
        return True

    def process_market_book(self, market, market_book) -> None:
        runners = tuple(
            (
                r.selection_id,
                r.last_price_traded,
                tuple((p["price"], p["size"]) for p in r.ex.available_to_back[:3]),
                tuple((p["price"], p["size"]) for p in r.ex.available_to_lay[:3]),
            )
            for r in market_book.runners
        )
        self.rows.append((market_book.status, market_book.inplay, runners))


def backtest_books(path: Path) -> list[tuple]:
    """The market books flumine builds from a recording."""
    strategy = Books(streams=[RecordingStream(str(path))])
    framework = FlumineSimulation(client=clients.SimulatedClient())
    framework.add_strategy(strategy)
    framework.run()
    return strategy.rows


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "record.toml"
    path.write_text('[record.market_filter]\nevent_type_ids = ["4339", "7"]\n')
    return path


def test_a_recording_made_from_the_emulator_backtests_to_the_same_books(tmp_path):
    original = real("1.197931750.bz2")
    with Emulator([original], speed=80) as emulator:
        run = build_recorder(
            load_config(_config(tmp_path), require_strategies=False),
            out_dir=tmp_path / "out",
            environ=CREDENTIALS,
            exchange=emulator.url,
        )
        thread = threading.Thread(target=run.run, daemon=True)
        thread.start()
        wait_for(lambda: run.recorder.written, 60, "the market to close and its file to be written")
        run.stop()
    recorded = tmp_path / "out" / "1.197931750.gz"
    assert run.recorder.written == [recorded] and not list((tmp_path / "out" / ".partial").iterdir())
    ours, theirs = backtest_books(recorded), backtest_books(original)
    assert len(ours) == len(theirs) > 100
    assert ours == theirs


def test_sigint_finishes_open_recordings_and_never_leaves_half_a_file(tmp_path):
    with Emulator([real("PRO-1.170258213.bz2")], speed=50, max_gap=1.0) as emulator:
        env = {**os.environ, **CREDENTIALS}
        out = tmp_path / "out"
        proc = subprocess.Popen(
            [
                sys.executable,
                "main.py",
                "record",
                "--config",
                str(_config(tmp_path)),
                "--exchange",
                emulator.url,
                "--out",
                str(out),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for(lambda: emulator.exchange.published > 300, 30, "the recorder to receive data")
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=60)
        finally:
            proc.kill()
        published = emulator.exchange.published
    assert proc.returncode == 0, stderr[-2000:]
    recording = out / "1.170258213.gz"
    assert f"wrote {recording}" in stdout
    assert not list((out / ".partial").iterdir())
    with gzip.open(recording, "rt") as f:
        lines = [json.loads(line) for line in f]
    assert 300 <= len(lines) <= published and lines[0]["mc"][0]["img"] is True
    assert all(line["op"] == "mcm" and "pt" in line for line in lines)


class NewFavourite(ModalStrategy):
    """Pre-race: whenever the favourite changes, back the new one for 2.00 at the best price on offer."""

    plugin_name = "new_favourite"

    def process_pre_race(self, market, market_book) -> None:
        runners = [r for r in market_book.runners if r.status == "ACTIVE" and r.ex.available_to_back]
        if not runners:
            return
        favourite = min(runners, key=lambda r: r.ex.available_to_back[0]["price"])
        memo = market.context.setdefault(self.name, {})
        if memo.get("favourite") == favourite.selection_id:
            return
        memo["favourite"] = favourite.selection_id
        price = favourite.ex.available_to_back[0]["price"]
        trade = Trade(market.market_id, favourite.selection_id, favourite.handicap, self)
        order = trade.create_order(side="BACK", order_type=LimitOrder(price, 2.0))
        self.place_order(market, order, decision_price=price)


ROUND_TRIP = """
[risk]
one_in_flight = false
[[strategies]]
name = "new_favourite"
[[strategies]]
name = "weight_of_money"
"""


def _trades(tmp_path: Path, path: Path) -> tuple[list[tuple], float]:
    registry = discover()
    registry.register(NewFavourite, "tests")
    framework = build(Mode.BACKTEST, load_config(write_config(tmp_path, ROUND_TRIP)), paths=[path], registry=registry)
    framework.run()
    report = framework.report()
    orders = report.orders[["strategy", "selection_id", "side", "price", "size", "size_matched", "profit"]]
    return [tuple(row) for row in orders.itertuples(index=False)], report.totals["gross_pnl"]


@pytest.mark.parametrize(("speed", "max_gap"), [(1.0, 0.1), (10.0, 1.0)])
def test_record_then_backtest_gives_the_orders_and_pnl_of_the_original(tmp_path, speed, max_gap):
    original = real("1.197931750.bz2")
    # at speed 1 idle gaps are cut to keep the test short; the original is backtested with the same cut
    compared = gap_capped(original, tmp_path / "capped.gz", max_gap) if max_gap else original
    with Emulator([original], speed=speed, max_gap=max_gap) as emulator:
        run = build_recorder(
            load_config(_config(tmp_path), require_strategies=False),
            out_dir=tmp_path / "out",
            environ=CREDENTIALS,
            exchange=emulator.url,
        )
        thread = threading.Thread(target=run.run, daemon=True)
        thread.start()
        wait_for(lambda: run.recorder.written, 120, "the market to close and its file to be written")
        run.stop()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ours, theirs = _trades(tmp_path / "a", tmp_path / "out" / "1.197931750.gz"), _trades(tmp_path / "b", compared)
    assert theirs[0], "the strategies trade the original"
    assert ours == theirs
