"""`main.py paper` against the emulator as a user runs it: Ctrl-C prints the report, a second Ctrl-C quits at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.latency import STAGES
from emulator.faults import Fault
from emulator.server import Emulator
from tests.conftest import ROOT, real, run_folder
from tests.live_helpers import CREDENTIALS, wait_for

pytestmark = pytest.mark.slow  # live trading against the emulator: each test waits on a replay

CONFIG = """data_dir = "{data}"
[exchange]
settle_poll = 0.5
session_check = 600
[[strategies]]
name = "weight_of_money"
[strategies.market_filter]
event_type_ids = ["4339"]
"""


@dataclass
class Paper:
    """A `main.py paper` process and the emulator it trades on."""

    proc: subprocess.Popen
    emulator: Emulator


@pytest.fixture
def paper(tmp_path):
    """A `main.py paper` process against the emulator replaying a greyhound race, once it receives data."""
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data"))
    with Emulator([real("1.197931750.bz2"), real("1.197931751.bz2")], speed=2) as emulator:
        command = [sys.executable, "main.py", "paper", "--config", str(config), "--exchange", emulator.url]
        proc = subprocess.Popen(
            [*command, "--out", str(tmp_path / "out")],
            cwd=ROOT,
            env={**os.environ, **CREDENTIALS},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for(lambda: emulator.exchange.published > 20 or proc.poll() is not None, 60, "market data to flow")
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            yield Paper(proc, emulator)
        finally:
            proc.kill()
            proc.wait()


def test_ctrl_c_stops_paper_trading_and_prints_the_report(paper, tmp_path):
    asked = time.monotonic()
    paper.proc.send_signal(signal.SIGINT)
    stdout, stderr = paper.proc.communicate(timeout=90)
    assert time.monotonic() - asked < 5  # flumine's workers no longer sleep out their intervals
    assert paper.proc.returncode == 0, stderr[-2000:]
    assert "stopping: finishing open work" in stderr and "Traceback" not in stderr
    assert "kill switch: ACTIVE" in stdout
    written = {Path(line.removeprefix("wrote ")).name for line in stdout.splitlines() if line.startswith("wrote ")}
    assert {"orders.csv", "refused.csv", "summary.json", "report.html", "cumulative_pnl.png"} <= written
    folder = run_folder(tmp_path / "out")
    assert folder.name.startswith("paper-") and f"run folder: {folder}" in stdout
    assert json.loads((folder / "summary.json").read_text())["run"]["mode"] == "paper"


def test_a_second_ctrl_c_quits_at_once(paper):
    # a stop that takes long: the exchange answers the logout after 30 s
    # (a delay fault is in market seconds, wall = seconds / speed: 60 at the fixture's 2x is 30 wall seconds)
    paper.emulator.exchange.add_faults([Fault(kind="delay", operation="logout", seconds=60)])
    proc = paper.proc
    proc.send_signal(signal.SIGINT)
    for line in proc.stderr:  # the first one is being handled
        if "stopping: finishing open work" in line:
            break
    assert proc.poll() is None
    asked = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGINT, stderr[-2000:]
    assert "stopping now, without finishing" in stderr
    assert time.monotonic() - asked < 5


def test_paper_until_closed_shows_its_status_and_stops_by_itself_with_the_report(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data").replace("session_check = 600", "status_interval = 1"))
    with Emulator([real("1.197931750.bz2"), real("1.197931751.bz2")], speed=40) as emulator:
        command = [sys.executable, "main.py", "paper", "--config", str(config), "--exchange", emulator.url]
        proc = subprocess.run(
            [*command, "--until-closed", "--out", str(tmp_path / "out"), "--metrics-port", "0"],
            cwd=ROOT,
            env={**os.environ, **CREDENTIALS},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    status = [line for line in proc.stderr.splitlines() if line.startswith("paddock paper ")]
    assert status and "kill switch ACTIVE" in status[-1] and "2 closed" in status[-1]
    assert "every market has closed and settled, and the exchange offers no new one: stopping" in proc.stderr
    assert "TOTAL" in proc.stdout and "UNSETTLED" not in proc.stdout
    assert "metrics on http://127.0.0.1:" in proc.stderr
    table = proc.stdout.split("latency (ms)")[1].splitlines()[1:6]  # the end-of-run latency report, every stage
    assert [line.split()[0] for line in table] == list(STAGES)
    assert int(table[0].split()[1]) > 0  # market messages received
    assert (run_folder(tmp_path / "out") / "summary.json").is_file()
