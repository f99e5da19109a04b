"""No secret in any output: paper and live at DEBUG against the emulator, with known credentials, scanned whole:
every line printed, every file written, and the alerts it sends to Sentry and the webhook."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from emulator.faults import Fault
from emulator.server import Emulator
from tests.conftest import ROOT, real
from tests.httpsink import HttpSink
from tests.live_helpers import wait_for

pytestmark = pytest.mark.slow  # two bots against the emulator

# the catalogue exists before the stream subscribes, so reconciliation at start asks about the recording's market
RECONCILED = "reconciliation: 0 adopted, 0 closed, 0 unchanged, 0 external (1 market(s) asked)"

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


@pytest.mark.parametrize(("mode", "log_format"), [("paper", "text"), ("paper", "json"), ("live", "json")])
def test_debug_logs_and_alerts_of_paper_and_live_never_show_a_credential_or_session_token(tmp_path, mode, log_format):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "back_once.py").write_text(PLUGIN)
    config = tmp_path / "config.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[exchange]\nsettle_poll = 0.5\nstatus_interval = 1\n'
        "[kill_switch]\nstream_timeout = 1\n[alerts]\nreconnect_storm = 1\n"  # a stream drop: a trip and a storm
        '[[strategies]]\nname = "back_once"\n[strategies.market_filter]\nevent_type_ids = ["4339"]\n'
    )
    names = ("username", "password", "app_key")
    credentials = dict(zip(names, SECRETS.values(), strict=True))
    with (
        HttpSink() as sentry,
        HttpSink() as hook,
        Emulator([real("1.197931750.bz2")], speed=10, **credentials) as emulator,
    ):
        routes = {"SENTRY_DSN": f"http://public@127.0.0.1:{sentry.port}/1", "PADDOCK_WEBHOOK_URL": hook.url}
        out, err = (
            tmp_path / "stdout.txt",
            tmp_path / "stderr.txt",
        )  # files: a DEBUG run fills a pipe long before its end
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
                "--log-format",
                log_format,
                "--strategies-dir",
                str(plugins),
                "--out",
                str(tmp_path / "out"),
            ],  # fmt: skip
            cwd=ROOT,
            env={**os.environ, **SECRETS, **routes},
            stdout=out.open("w"),
            stderr=err.open("w"),
        )
        try:
            placed = (
                (lambda: emulator.exchange.engine.orders)
                if mode == "live"
                else (lambda: emulator.exchange.published > 40)
            )
            wait_for(lambda: placed() or proc.poll() is not None, 60, "the bot to trade")
            emulator.exchange.add_faults([Fault(kind="drop_stream")])
            texts = lambda: [r.json()["text"] for r in hook.received]  # noqa: E731
            hook.wait(lambda _: any(t.startswith("kill switch HALTED") for t in texts()), 30, "the trip alert")
            hook.wait(lambda _: any(t.startswith("reconnect storm") for t in texts()), 30, "the storm alert")
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
        finally:
            proc.kill()
        stdout, stderr = out.read_text(), err.read_text()
        tokens = list(emulator.exchange.issued)
        sent = [r.body.decode(errors="replace") for r in [*sentry.received, *hook.received]]
        events = sentry.events()
    assert proc.returncode == 0, stderr[-3000:]
    assert "DEBUG" in stderr and "authentication" in stderr  # the lines that used to carry them are there
    assert any(e.get("message", "").startswith("kill switch HALTED: stream:") for e in events)  # flushed at exit
    if log_format == "json":
        lines = stderr.splitlines()
        said = [line for line in lines if not line.startswith("{")]  # what the CLI says to a person
        stopping = "stopping: finishing open work (a few seconds); signal again to quit at once"
        assert said == ([] if mode == "paper" else [RECONCILED]) + [stopping]  # live reconciles at start
        records = [json.loads(line) for line in lines if line.startswith("{")]
        assert any(r["message"] == "Client added" and r["username"] == "***" for r in records)
        assert any(r["logger"] == "paddock.status" and r["kill_switch"] == "HALTED" for r in records)
    written = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".py")
    everything = stdout + stderr + written + "".join(sent)
    for secret in [*SECRETS.values(), *tokens, *routes.values()]:
        assert secret not in everything
    assert "***" in stderr
