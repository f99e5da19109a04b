"""What paper and live restore from the audit store at start: the kill switch (the store against the state file,
in doubt tripped), today's realised P&L (the larger loss where the day book differs), paper's open exposure; a
damaged store is one clear error. Real frameworks are built on a real store (SQLite); rows an earlier run would
have written are written with the store's own schema."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine, insert, select

from app.assembly import Mode, build, kill_switch_path
from app.plugins import discover
from core import auditschema as schema
from core.config import load_config
from tests.conftest import ROOT, write_config
from tests.live_helpers import CREDENTIALS

EXCHANGE = "http://127.0.0.1:9"  # never called: building does not log in
CONFIG = """data_dir = "{data}"
[risk]
max_market_exposure = 10
[[strategies]]
name = "inplay_favourite"
"""


@pytest.fixture
def config(tmp_path):
    """A paper/live config on a fresh data directory (its store: data/paddock.db)."""
    return load_config(write_config(tmp_path, "", CONFIG.format(data=tmp_path / "data")))


def _build(config, mode=Mode.PAPER):
    return build(mode, config, registry=discover(), environ=CREDENTIALS, exchange=EXCHANGE)


def _ended(framework) -> int:
    """End a framework that never ran, as a killed one leaves its store rows; returns its run id."""
    framework.audit.close("stopped")
    framework.lock.release()
    return framework.audit.run_id


def _engine(config):
    return create_engine(f"sqlite:///{config.resolve(config.app.data_dir) / 'paddock.db'}")


def test_a_trip_the_state_file_lost_is_restored_from_the_store(config, capsys):
    first = _build(config)
    first.safety.kill_switch.trip("drawdown beyond the limit", source="drawdown")
    _ended(first)
    kill_switch_path(config, Mode.PAPER).unlink()  # the data directory's file is lost; the store has the trip

    second = _build(config)
    switch = second.safety.kill_switch
    assert switch.state == "HALTED"
    assert switch.history[-1].source == "store" and "drawdown beyond the limit" in switch.reason
    assert "missing from the state file; it stays HALTED" in capsys.readouterr().err
    _ended(second)


@pytest.mark.slow  # the kill-switch command as a process
def test_a_reset_made_while_no_bot_ran_wins_and_the_store_learns_of_it(config):
    first = _build(config)
    first.safety.kill_switch.trip("by hand", source="manual")
    _ended(first)
    reset = subprocess.run(
        [sys.executable, "main.py", "kill-switch", "reset", "--config", str(config.path), "--mode", "paper"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert reset.returncode == 0, reset.stderr

    second = _build(config)
    assert second.safety.kill_switch.state == "ACTIVE"
    run_id = _ended(second)
    engine = _engine(config)
    with engine.connect() as connection:
        rows = connection.execute(select(schema.kill_switch_events).order_by(schema.kill_switch_events.c.at)).all()
    engine.dispose()
    assert [(r.action, r.state) for r in rows] == [("trip", "HALTED"), ("reset", "ACTIVE")]
    assert rows[-1].run_id == run_id


def test_todays_pnl_comes_from_the_store_and_the_larger_loss_counts(config, capsys):
    first = _build(config)
    run_id = _ended(first)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    engine = _engine(config)
    with engine.begin() as connection:
        rows = [("1.1", -30.0), ("1.2", 4.0)]
        for market_id, gross in rows:
            connection.execute(
                insert(schema.pnl),
                {
                    "run_id": run_id,
                    "market_id": market_id,
                    "strategy": "inplay_favourite",
                    "day": today,
                    "gross": gross,
                    "commission": 0.0,
                    "net": gross,
                    "settled_at": time.time(),
                },  # fmt: skip
            )
    engine.dispose()
    daybook = kill_switch_path(config, Mode.PAPER).parent / "daybook.json"
    daybook.write_text(f'{{"day": "{today}", "settled": {{"1.1": -10.0, "1.2": 1.0, "1.3": -5.0}}, "cooldowns": {{}}}}')

    second = _build(config)
    assert second.safety.pnl.settled_today() == {"1.1": -30.0, "1.2": 1.0, "1.3": -5.0}
    assert second.safety.pnl.today() == -34.0
    err = capsys.readouterr().err
    assert "realised P&L from the audit store: -34.00 over 3 market(s)" in err and "differs on 2 market(s)" in err
    _ended(second)


def test_paper_counts_the_open_positions_of_the_last_run_against_its_exposure_limits(config):
    first = _build(config)
    run_id = _ended(first)
    engine = _engine(config)
    common = {"run_id": run_id, "strategy": "inplay_favourite", "market_id": "1.5", "selection_id": 7,
              "order_type": "LIMIT", "hedge": False, "placed_at": "2026-12-02T12:00:00", "placed_wall": 0.0,
              "size_cancelled": 0.0, "size_lapsed": 0.0, "size_voided": 0.0, "profit": 0.0}  # fmt: skip
    with engine.begin() as connection:
        connection.execute(
            insert(schema.orders),
            [  # a lay matched at 5.0 (loses 8 if 7 wins) and a back resting at 3.0 (loses 2 otherwise)
                {**common, "order_id": "a", "seq": 1, "side": "LAY", "price": 5.0, "size": 2.0,
                 "status": "Execution complete", "size_matched": 2.0, "average_price_matched": 5.0},
                {**common, "order_id": "b", "seq": 2, "side": "BACK", "price": 3.0, "size": 2.0,
                 "status": "Executable", "size_matched": 0.0, "average_price_matched": None},
            ],
        )  # fmt: skip
    engine.dispose()

    second = _build(config)
    (risk,) = [c for c in second.flumine.trading_controls if type(c).__name__ == "RiskControl"]
    assert risk.carried == {"1.5": 8.0}  # 7 wins: the lay loses 8 (the resting back would win; it is not counted)
    _ended(second)
    live = _build(config, Mode.LIVE)  # live takes its positions from the exchange instead
    (risk,) = [c for c in live.flumine.trading_controls if type(c).__name__ == "RiskControl"]
    assert risk.carried == {}
    _ended(live)


@pytest.mark.slow  # main.py paper as a process
def test_a_damaged_store_is_one_clear_error_and_the_bot_does_not_start(config, tmp_path):
    first = _build(config)
    run_id = _ended(first)
    engine = _engine(config)
    with engine.begin() as connection:
        connection.execute(
            insert(schema.kill_switch_events),
            {"run_id": run_id, "at": time.time(), "action": "trip", "state": "SIDEWAYS", "source": "?", "reason": "?"},
        )
    engine.dispose()
    proc = subprocess.run(
        [sys.executable, "main.py", "paper", "--config", str(config.path), "--exchange", EXCHANGE],
        cwd=ROOT,
        env={**os.environ, **CREDENTIALS},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    (line,) = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert "paddock.db" in line and "kill_switch_events" in line and "SIDEWAYS" in line
