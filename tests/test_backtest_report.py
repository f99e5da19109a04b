"""Backtests end to end through the CLI: real and generated recordings, report files, determinism."""

from __future__ import annotations

import csv
import json

import pytest

from app.assembly import Mode, build
from app.cli import main
from app.plots import PLOTS
from core.config import load_config
from tests.conftest import REAL, ROOT, real, run_folder, write_config

BOTH = """
[[strategies]]
name = "weight_of_money"
[strategies.market_filter]
market_types = ["WIN"]
[strategies.params]
max_order_exposure = 30

[[strategies]]
name = "inplay_favourite"
[strategies.market_filter]
event_type_ids = ["1"]
market_types = ["MATCH_ODDS"]
"""


def backtest(tmp_path, capsys, out: str, *paths) -> tuple[str, dict, list[dict]]:
    cfg = write_config(tmp_path, BOTH)
    code = main(["backtest", "--no-progress", "--config", str(cfg), "--out", str(tmp_path / out), *map(str, paths)])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    folder = run_folder(tmp_path / out)
    assert f"run folder: {folder}" in stdout
    summary = json.loads((folder / "summary.json").read_text())
    with open(folder / "orders.csv") as f:
        orders = list(csv.DictReader(f))
    return stdout, summary, orders


def test_default_backtest_runs_the_shipped_config(capsys):
    assert main(["backtest", "--no-progress"]) == 0
    out, _ = capsys.readouterr()
    assert "weight_of_money" in out and "inplay_favourite" in out and "TOTAL" in out


def test_report_totals_and_commission_follow_from_the_orders(tmp_path, capsys, generated):
    stdout, summary, orders = backtest(
        tmp_path, capsys, "a", generated["football"], generated["race"], real("SELF-1.181223994.bz2")
    )
    assert orders, "the strategies placed orders"
    assert {o["strategy"] for o in orders} == {"weight_of_money", "inplay_favourite"}
    assert summary["commission_rate"] == 0.05
    for row in summary["markets"]:
        mine = [o for o in orders if o["strategy"] == row["strategy"] and o["market_id"] == row["market_id"]]
        gross = round(sum(float(o["profit"]) for o in mine), 2)
        assert row["orders"] == len(mine)
        assert row["gross_pnl"] == gross
        assert row["commission"] == round(max(gross, 0) * 0.05, 2)
        assert row["pnl"] == round(gross - row["commission"], 2)
        assert row["matched_stake"] == round(sum(float(o["size_matched"]) for o in mine), 2)
    assert summary["totals"]["orders"] == len(orders)
    assert summary["totals"]["pnl"] == round(sum(r["pnl"] for r in summary["markets"]), 2)
    total_line = next(line for line in stdout.splitlines() if line.strip().startswith("TOTAL"))
    assert f"{summary['totals']['pnl']:.2f}" in total_line


@pytest.mark.slow
def test_two_backtests_give_identical_report_files(tmp_path, capsys, generated):
    paths = [generated["football"], generated["race"], real("SELF-1.181223994.bz2"), real("SELF-1.181223995.bz2")]
    backtest(tmp_path, capsys, "first", *paths)
    backtest(tmp_path, capsys, "second", *paths)
    first, second = run_folder(tmp_path / "first"), run_folder(tmp_path / "second")
    for name in ("orders.csv", "refused.csv", "markets.csv", "runners.csv", *PLOTS):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    a, b = (json.loads((folder / "summary.json").read_text()) for folder in (first, second))
    a.pop("run"), b.pop("run")  # metadata: wall times differ
    assert a == b  # every figure the same


@pytest.mark.slow
def test_all_real_recordings_in_one_backtest(tmp_path):
    real("SELF-1.181223994.bz2")
    cfg = write_config(
        tmp_path, '[[strategies]]\nname = "weight_of_money"\n[strategies.params]\nmax_order_exposure = 30\n'
    )
    framework = build(Mode.BACKTEST, load_config(cfg), paths=[REAL])
    framework.run()
    replayed = {m.market_id for m in framework.flumine.markets}
    # BASIC-1.132153978 and its .gz copy are one market: replayed once
    assert replayed == {
        "1.170258213",
        "1.181223994",
        "1.181223995",
        "1.200806927",
        "1.197931750",
        "1.197931751",
        "1.132153978",
    }
    assert all(state.status == "CLOSED" for state in framework.tracker.states.values())
    groups = {s.event_group for s in framework.flumine.streams}
    assert {"30388764", "31389771"} <= groups  # WIN/PLACE pairs are interleaved per event


def test_paper_and_live_assemble_with_credentials(tmp_path, monkeypatch):
    certs = tmp_path / "certs"
    certs.mkdir()
    env = {"BETFAIR_USERNAME": "u", "BETFAIR_PASSWORD": "p", "BETFAIR_APP_KEY": "k", "BETFAIR_CERTS": str(certs)}
    config = load_config(ROOT / "config.toml")
    paper = build(Mode.PAPER, config, environ=env)
    live = build(Mode.LIVE, config, environ=env)
    assert paper.flumine.clients.get_default().paper_trade is True
    assert live.flumine.clients.get_default().paper_trade is False
    assert [type(s) for s in paper.strategies] == [type(s) for s in live.strategies]
    filters = [s.streams[0].market_filter for s in live.strategies]
    assert filters[0]["eventTypeIds"] == ["7", "4339"] and filters[1]["marketTypes"] == ["MATCH_ODDS"]
    assert paper.tracker in paper.flumine._market_middleware


def test_global_options_are_taken_after_the_subcommand(tmp_path):
    import subprocess
    import sys

    race = ROOT / "recordings" / "race-1.gz"
    before = [sys.executable, "main.py", "--log-level", "INFO", "backtest", "--no-progress", str(race)]
    after = [sys.executable, "main.py", "backtest", "--no-progress", str(race), "--log-level", "INFO"]
    runs = [subprocess.run(c, cwd=ROOT, capture_output=True, text=True, timeout=120) for c in (before, after)]
    for run in runs:
        assert run.returncode == 0, run.stderr[-2000:]
        assert " INFO paddock.cascade: cascade #1" in run.stderr  # INFO lines appear only at --log-level INFO
    assert runs[0].stdout == runs[1].stdout and "TOTAL" in runs[0].stdout


def test_verbose_says_why_a_strategy_skips_a_market(capsys, caplog):
    import logging

    race = ROOT / "recordings" / "race-1.gz"
    assert main(["backtest", "--no-progress", str(race)]) == 0
    assert "skips market" not in caplog.text
    caplog.clear()
    assert main(["backtest", "--no-progress", "-v", str(race)]) == 0
    lines = [r.getMessage() for r in caplog.records if r.name == "paddock.skips"]
    assert (
        "strategy weight_of_money skips market 1.260000011 for now: more than seconds_before_off (600 s)"
        in "\n".join(lines)
    )
    assert len(lines) == len(set(lines))  # once per market and reason, not on every evaluation
    logging.getLogger("paddock.skips").setLevel(logging.NOTSET)
