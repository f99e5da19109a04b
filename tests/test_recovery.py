"""Crash recovery: the real `main.py live` process killed with SIGKILL in the middle of a football match, with
orders resting and matched on the emulator, then started again: it reconciles with the exchange, places nothing
twice, the store holds every order as the emulator does, and the hedge at the next reopen still happens."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from flumine.utils import STRATEGY_NAME_HASH_LENGTH, create_cheap_hash
from sqlalchemy import create_engine, text

from emulator.betting import place_orders
from emulator.server import Emulator
from tests.conftest import ROOT
from tests.live_helpers import CREDENTIALS, trimmed, wait_for
from tests.pgserver import new_database, postgres_server

pytestmark = pytest.mark.slow  # real bot processes against the emulator

FOOTBALL = ROOT / "recordings" / "football-1.gz"
GOAL_AT = 3290.8  # seconds into football-1.gz: the first goal suspends every market; they reopen 10 s later
FULL_TIME = 6541.1  # the markets suspend at full time; they close (and settle) at 6661.2
MATCH_ODDS = "1.250000011"
STATUS = {"EXECUTABLE": "Executable", "EXECUTION_COMPLETE": "Execution complete"}

PROBE = '''
"""Backs the in-play favourite at any price (matched at the best) and the second favourite at 1000 (resting), once."""
from flumine.order.order import LimitOrder
from flumine.order.trade import Trade

from strategies.base import ModalStrategy


class RecoverProbe(ModalStrategy):
    plugin_name = "recover_probe"

    def process_in_play(self, market, market_book):
        if market.blotter.strategy_orders(self):  # what it placed before a restart is there again
            return
        runners = sorted(
            (r for r in market_book.runners if r.status == "ACTIVE" and r.ex.available_to_back),
            key=lambda r: r.ex.available_to_back[0]["price"],
        )
        if len(runners) < 2:
            return
        first, second = runners[0], runners[1]
        for runner, price in ((first, 1.01), (second, 1000.0)):  # taken at the best price now; never matched
            trade = Trade(market.market_id, runner.selection_id, runner.handicap, self)
            order = trade.create_order(side="BACK", order_type=LimitOrder(price, 2.0, persistence_type="LAPSE"))
            self.place_order(market, order)
'''

CONFIG = """data_dir = "{data}"
{store}
[exchange]
settle_poll = 0.5
session_check = 600
status_interval = 0
[cascade]
policy = "hedge"
[[strategies]]
name = "recover_probe"
[strategies.market_filter]
market_types = ["MATCH_ODDS"]
"""


@pytest.fixture(scope="module")
def pg_server():
    """A temporary PostgreSQL server for this module."""
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """The store's URL: SQLite in data_dir, or a fresh database on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'paddock.db'}"
    return new_database(request.getfixturevalue("pg_server"), f"recover_{os.getpid()}")


def _recording(tmp_path: Path, start: float = GOAL_AT - 80, end: float = GOAL_AT + 40) -> Path:
    """football-1.gz between two times (seconds into it), beginning with a full image."""
    with gzip.open(FOOTBALL, "rt") as f:
        first = json.loads(f.readline())["pt"]
    return trimmed(FOOTBALL, tmp_path / "window.gz", first + int(start * 1000), first + int(end * 1000))


class Bot:
    """`main.py live` as a user runs it, against the emulator."""

    def __init__(self, tmp_path: Path, emulator: Emulator, url: str) -> None:
        self.config = tmp_path / "config.toml"
        strategies = tmp_path / "strategies"
        strategies.mkdir(exist_ok=True)
        (strategies / "recover_probe.py").write_text(textwrap.dedent(PROBE))
        store = "" if url.startswith("sqlite") else f'[store]\nurl = "{url}"'
        self.config.write_text(CONFIG.format(data=tmp_path / "data", store=store))
        self.command = [sys.executable, "main.py", "live", "--config", str(self.config), "--exchange", emulator.url,
                        "--strategies-dir", str(strategies)]  # fmt: skip

    def start(self) -> subprocess.Popen:
        """A new bot process."""
        env = {**os.environ, **CREDENTIALS}
        env.pop("PADDOCK_DB_URL", None)
        return subprocess.Popen(
            self.command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )


def _rows(engine, sql: str) -> list:
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(sql)).mappings())
    except Exception:  # noqa: BLE001 - the bot may not have created the store yet
        return []


def _killed_with_orders_resting_and_matched(bot: Bot, emulator: Emulator) -> list:
    """Start the bot, SIGKILL it once one order is matched and one rests; the emulator's orders then."""
    first = bot.start()
    try:
        wait_for(
            lambda: (
                first.poll() is not None
                or {o.status for o in _exchange_orders(emulator)} == {"EXECUTABLE", "EXECUTION_COMPLETE"}
            ),
            60,
            "one order matched and one resting",
        )
        assert first.poll() is None, first.communicate()[1][-3000:]
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate()
    assert first.returncode == -signal.SIGKILL
    placed = _exchange_orders(emulator)
    assert len(placed) == 2
    return placed


def _exchange_orders(emulator: Emulator) -> list:
    with emulator.exchange.lock:
        return list(emulator.exchange.engine.orders.values())


def _placed_by_hand(emulator: Emulator, refs: list[str], selection_id: int) -> None:
    """Orders placed while no bot runs (resting), as another program of the account would."""
    instructions = [
        {"selectionId": selection_id, "handicap": 0, "side": "BACK", "orderType": "LIMIT",
         "limitOrder": {"size": 2.0, "price": 1000.0, "persistenceType": "LAPSE"}, "customerOrderRef": ref}
        for ref in refs
    ]  # fmt: skip
    report = place_orders(emulator.exchange, {"marketId": MATCH_ODDS, "instructions": instructions})
    assert report["status"] == "SUCCESS", report


def test_a_live_bot_killed_mid_market_recovers_its_orders_positions_and_hedge(tmp_path, store_url):
    with Emulator([_recording(tmp_path)], speed=2) as emulator:
        bot = Bot(tmp_path, emulator, store_url)
        placed = _killed_with_orders_resting_and_matched(bot, emulator)

        # while no bot runs: an order of its strategy the store never saw, and one of somebody else's
        name_hash = create_cheap_hash("recover_probe", STRATEGY_NAME_HASH_LENGTH)
        selection = placed[0].selection_id
        _placed_by_hand(emulator, [f"{name_hash}-by-hand-1", "someone-else"], selection)

        engine = create_engine(store_url)
        second = bot.start()
        try:
            wait_for(
                lambda: second.poll() is not None or len(_rows(engine, "SELECT * FROM reconciliations")) == 2,
                60,
                "the second run's reconciliation",
            )
            assert second.poll() is None, second.communicate()[1][-3000:]
            before, reconciled = _rows(engine, "SELECT * FROM reconciliations ORDER BY run_id")
            assert before["line"].startswith("reconciliation: 0 adopted, 0 closed, 0 unchanged, 0 external")
            assert reconciled["line"].startswith("reconciliation: 1 adopted, 0 closed, 2 unchanged, 1 external")
            emulator.exchange.set_speed(20)  # on to the goal: suspension, reopen, hedge
            wait_for(
                lambda: (
                    second.poll() is not None
                    or any(o.side == "LAY" and o.size_matched > 0 for o in _exchange_orders(emulator))
                ),
                60,
                "the hedge after the reopen",
            )
            assert second.poll() is None, second.communicate()[1][-3000:]
            ours = [o for o in _exchange_orders(emulator) if o.rfo != "someone-else"]

            def stored_as_exchange() -> bool:
                rows = {r["bet_id"]: r for r in _rows(engine, "SELECT * FROM orders")}
                return all(
                    o.bet_id in rows
                    and rows[o.bet_id]["status"] == STATUS[o.status]
                    and abs(rows[o.bet_id]["size_matched"] - round(o.size_matched, 2)) < 0.005
                    for o in ours
                )

            wait_for(lambda: stored_as_exchange() or second.poll() is not None, 30, "the store to agree")
            assert stored_as_exchange()
        finally:
            second.send_signal(signal.SIGTERM)
            _, stderr = second.communicate(timeout=60)
        assert "Traceback" not in stderr, stderr[-3000:]
        assert "reconciliation: 1 adopted, 0 closed, 2 unchanged, 1 external" in stderr
        assert "ALERT reconciliation: external orders: 1 order(s)" in stderr  # through the framework's alerts hook

        orders = _exchange_orders(emulator)
        backs = [o for o in orders if o.side == "BACK" and o.rfo not in ("someone-else", f"{name_hash}-by-hand-1")]
        assert len(backs) == 2  # nothing placed twice
        hedges = [o for o in orders if o.side == "LAY"]
        assert len(hedges) == 1 and hedges[0].selection_id in {o.selection_id for o in placed if o.size_matched}
        rows = {r["bet_id"]: r for r in _rows(engine, "SELECT * FROM orders")}
        assert "someone-else" not in {r["customer_ref"] for r in rows.values()}
        runs = {r["id"] for r in _rows(engine, "SELECT id FROM runs")}
        assert len(runs) == 2
        for order in placed:  # the first run's rows, written on by the second
            assert rows[order.bet_id]["run_id"] == min(runs)
        assert rows[hedges[0].bet_id]["hedge"] and rows[hedges[0].bet_id]["run_id"] == max(runs)
        adopted = [r for r in rows.values() if r["origin"] == "adopted"]
        assert [r["customer_ref"] for r in adopted] == [f"{name_hash}-by-hand-1"]
        # positions: the store's matched stakes and prices per runner are the emulator's
        by_runner = {}
        for order in orders:
            if order.rfo != "someone-else" and order.size_matched:
                by_runner.setdefault((order.selection_id, order.side), []).append(
                    (round(order.size_matched, 2), round(order.average_price, 2))
                )
        stored = {}
        for row in rows.values():
            if row["size_matched"]:
                stored.setdefault((row["selection_id"], row["side"]), []).append(
                    (round(row["size_matched"], 2), round(row["average_price_matched"], 2))
                )
        assert {k: sorted(v) for k, v in stored.items()} == {k: sorted(v) for k, v in by_runner.items()}
        engine.dispose()


def test_orders_of_a_market_settled_while_no_bot_ran_are_closed_from_cleared_orders(tmp_path):
    store_url = f"sqlite:///{tmp_path / 'data' / 'paddock.db'}"
    with Emulator([_recording(tmp_path, FULL_TIME - 60, FULL_TIME + 125)], speed=2) as emulator:
        bot = Bot(tmp_path, emulator, store_url)
        placed = _killed_with_orders_resting_and_matched(bot, emulator)
        emulator.exchange.set_speed(100)  # on to full time and the settlement, with no bot running
        wait_for(lambda: MATCH_ODDS in emulator.exchange.settled, 30, "the market to settle")
        engine = create_engine(store_url)
        second = bot.start()
        try:
            wait_for(
                lambda: (
                    second.poll() is not None
                    or len(_rows(engine, "SELECT * FROM pnl")) == 1
                    and all(r["status"] == "Execution complete" for r in _rows(engine, "SELECT * FROM orders"))
                ),
                60,
                "the orders closed and the market's P&L written",
            )
            assert second.poll() is None, second.communicate()[1][-3000:]
        finally:
            second.send_signal(signal.SIGTERM)
            _, stderr = second.communicate(timeout=60)
        assert "Traceback" not in stderr, stderr[-3000:]
        assert "reconciliation: 0 adopted, 2 closed, 0 unchanged, 0 external" in stderr
        with emulator.exchange.lock:
            market = emulator.exchange.markets[MATCH_ODDS]
            profit = {o.bet_id: round(o.profit(market.runner_status(o.selection_id)), 2) for o in placed}
        rows = {r["bet_id"]: r for r in _rows(engine, "SELECT * FROM orders")}
        assert set(rows) == set(profit)
        for order in placed:
            row = rows[order.bet_id]
            assert row["size_matched"] == round(order.size_matched, 2) and row["profit"] == profit[order.bet_id]
        assert [r["size_lapsed"] for r in rows.values() if not r["size_matched"]] == [2.0]
        (pnl,) = _rows(engine, "SELECT * FROM pnl")
        assert pnl["gross"] == round(sum(profit.values()), 2) and pnl["market_id"] == MATCH_ODDS
        assert (
            f"market {MATCH_ODDS} settled while no bot ran: P&L {pnl['gross']:+.2f} (counted in today's P&L)" in stderr
        )
        events = _rows(engine, "SELECT reason FROM order_events WHERE reason LIKE 'reconciliation:%'")
        assert len(events) == 2
        third = bot.start()  # a settled market is done with: nothing is closed twice
        try:
            wait_for(
                lambda: third.poll() is not None or len(_rows(engine, "SELECT * FROM reconciliations")) == 3,
                60,
                "the third run's reconciliation",
            )
        finally:
            third.send_signal(signal.SIGTERM)
            third.communicate(timeout=60)
        last = _rows(engine, "SELECT line FROM reconciliations ORDER BY run_id")[-1]["line"]
        assert last == "reconciliation: 0 adopted, 0 closed, 0 unchanged, 0 external (0 market(s) asked)"
        assert len(_rows(engine, "SELECT * FROM pnl")) == 1
        engine.dispose()
