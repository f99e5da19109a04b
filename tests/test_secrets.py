"""No secret in any output: paper and live at DEBUG against the emulator, with known credentials, scanned whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from emulator.server import Emulator
from tests.conftest import ROOT, real
from tests.live_helpers import wait_for

pytestmark = pytest.mark.slow  # two bots against the emulator

SECRETS = {
    "BETFAIR_USERNAME": "scan-user-7f3a",
    "BETFAIR_PASSWORD": "scan-pass-9c1d",
    "BETFAIR_APP_KEY": "scan-key-2b8e",
}

PLUGIN = """
from flumine.order.order import LimitOrder
from flumine.order.trade import Trade

from strategies.base import ModalStrategy


class BackOnce(ModalStrategy):
    plugin_name = "back_once"

    def process_pre_race(self, market, market_book):
        if market.context.get("done"):
            return
        runners = [r for r in market_book.runners if r.status == "ACTIVE" and r.ex.available_to_back]
        if runners:
            market.context["done"] = True
            runner = min(runners, key=lambda r: r.ex.available_to_back[0]["price"])
            price = runner.ex.available_to_back[0]["price"]
            trade = Trade(market.market_id, runner.selection_id, runner.handicap, self)
            self.place_order(market, trade.create_order(side="BACK", order_type=LimitOrder(price, 2.0)))
"""


@pytest.mark.parametrize("mode", ["paper", "live"])
def test_debug_logs_of_paper_and_live_never_show_a_credential_or_session_token(tmp_path, mode):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "back_once.py").write_text(PLUGIN)
    config = tmp_path / "config.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[exchange]\nsettle_poll = 0.5\nstatus_interval = 1\n'
        '[[strategies]]\nname = "back_once"\n[strategies.market_filter]\nevent_type_ids = ["4339"]\n'
    )
    names = ("username", "password", "app_key")
    with Emulator([real("1.197931750.bz2")], speed=10, **dict(zip(names, SECRETS.values(), strict=True))) as emulator:
        proc = subprocess.Popen(
            [
                sys.executable,
                "main.py",
                mode,
                "--config",
                str(config),
                "--exchange",
                emulator.url,
                "--log-level",
                "DEBUG",
                "--strategies-dir",
                str(plugins),
                "--out",
                str(tmp_path / "out"),
            ],  # fmt: skip
            cwd=ROOT,
            env={**os.environ, **SECRETS},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            placed = (
                (lambda: emulator.exchange.engine.orders)
                if mode == "live"
                else (lambda: emulator.exchange.published > 40)
            )
            wait_for(lambda: placed() or proc.poll() is not None, 60, "the bot to trade")
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=60)
        finally:
            proc.kill()
        tokens = list(emulator.exchange.issued)
    assert proc.returncode == 0, stderr[-3000:]
    assert "DEBUG" in stderr and "authentication" in stderr  # the lines that used to carry them are there
    written = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".py")
    everything = stdout + stderr + written
    for secret in [*SECRETS.values(), *tokens]:
        assert secret not in everything
    assert "***" in stderr
