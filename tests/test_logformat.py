"""`--log-format json`: every line main.py logs is one JSON object, with market_id, strategy and bet_id where they apply."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # a main.py subprocess


def test_a_json_logged_backtest_writes_one_object_a_line_with_market_strategy_and_bet_id():
    command = [sys.executable, "main.py", "backtest", str(ROOT / "recordings" / "race-1.gz"), "--no-progress"]
    done = subprocess.run(
        [*command, "--log-format", "json", "--log-level", "INFO", "-v"],  # given after the command's name
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stderr.splitlines()
    records = [json.loads(line) for line in lines]  # every line parses, none is text
    assert len(records) > 20 and all(isinstance(r, dict) for r in records)
    assert all(list(r)[:4] == ["time", "level", "logger", "message"] for r in records)
    # a strategy's own line (logged inside its hook) names its market and strategy without being told
    skip = next(r for r in records if r["logger"] == "paddock.skips")
    assert skip["strategy"] == "weight_of_money" and skip["market_id"] == "1.260000011"
    # flumine's order lines: the bet id, the market and (from the order's trade) the strategy, at the top level
    placed = [r for r in records if r["message"].startswith("Order status update") and r.get("bet_id")]
    assert placed and all(r["market_id"] == "1.260000011" and r["strategy"] == "weight_of_money" for r in placed)
    assert "Client added" in {r["message"] for r in records}
    assert "kill switch: ACTIVE" in done.stdout  # the report is still text, on stdout


def test_an_unknown_log_format_is_refused():
    done = subprocess.run(
        [sys.executable, "main.py", "--log-format", "xml", "strategies"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 2 and "--log-format: invalid choice: 'xml'" in done.stderr
