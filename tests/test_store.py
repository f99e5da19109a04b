"""The audit store: a real backtest of real recordings writes it, on SQLite and on a real PostgreSQL server;
the CLI reads it as a user would; errors a user can cause are one clear message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.assembly import Mode, build
from app.plugins import discover
from core.auditdb import HEAD_REVISION, open_store
from core.config import load_config
from tests.conftest import ROOT, real, run_folder, write_config
from tests.pgserver import PASSWORD, new_database, postgres_server

RECORDINGS = ("1.197931750.bz2", "1.197931751.bz2", "BASIC-1.132153978.gz")
STRATEGIES = """
[risk]
max_stake = 1.5
[[strategies]]
name = "weight_of_money"
label = "small"
[strategies.market_filter]
event_type_ids = ["7", "4339"]
market_types = ["WIN"]
[strategies.params]
stake = 1.0
threshold = 0.7
window = 20
seconds_before_off = 600
[[strategies]]
name = "weight_of_money"
label = "big"
[strategies.market_filter]
event_type_ids = ["7", "4339"]
market_types = ["WIN"]
[strategies.params]
stake = 2.0
threshold = 0.7
window = 20
seconds_before_off = 600
"""


@pytest.fixture(scope="session")
def pg_url():
    """A temporary PostgreSQL server for the session (fails under CI=true when it cannot start)."""
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def backtests(request, tmp_path_factory):
    """backtests(backend): one backtest of real recordings per backend with the store on, run once per session;
    (framework, store url)."""
    done: dict[str, tuple] = {}

    def run(backend: str) -> tuple:
        if backend not in done:
            tmp = tmp_path_factory.mktemp(f"store-{backend}")
            if backend == "postgresql":
                url = new_database(request.getfixturevalue("pg_url"), "stored")
                store = f'[store]\nurl = "{url}"\n'
            else:
                url, store = f"sqlite:///{tmp / 'data' / 'paddock.db'}", ""
            config = load_config(write_config(tmp, STRATEGIES, store))
            framework = build(Mode.BACKTEST, config, paths=[real(n) for n in RECORDINGS], registry=discover())
            framework.run()
            done[backend] = (framework, url)
        return done[backend]

    return run


@pytest.fixture(params=["sqlite", "postgresql"])
def stored(request, backtests):
    """The session's backtest on each backend."""
    return backtests(request.param)


def _rows(url: str, sql: str) -> list[dict]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(text(sql))]
    finally:
        engine.dispose()


def test_a_backtest_writes_runs_markets_orders_events_refusals_and_pnl(stored):
    framework, url = stored
    report = framework.report()
    (run,) = _rows(url, "SELECT * FROM runs")
    assert run["mode"] == "backtest" and run["outcome"] == "completed" and run["ended_wall"] >= run["started_wall"]
    assert sorted(Path(p).name for p in json.loads(run["sources"])) == sorted(RECORDINGS)
    assert "weight_of_money" in run["config_text"] and len(run["config_hash"]) == 64

    markets = {m["market_id"]: m for m in _rows(url, "SELECT * FROM markets")}
    assert set(markets) == {m.market_id for m in framework.flumine.markets}
    for market in framework.flumine.markets:
        row = markets[market.market_id]
        assert row["event_id"] == market.event_id and row["market_type"] == market.market_type
        assert row["closed"] and row["settled"]
        assert json.loads(row["runners"]) and json.loads(row["winners"])

    orders = pd.DataFrame(_rows(url, "SELECT * FROM orders ORDER BY seq"))
    assert len(orders) == len(report.orders) > 0
    assert set(orders["strategy"]) == {"small"}  # every order of "big" was refused (stake over max_stake)
    events = pd.DataFrame(_rows(url, "SELECT * FROM order_events ORDER BY id"))
    for order in orders.itertuples():
        mine = events[events["order_id"] == order.order_id]
        assert mine.iloc[0]["status"] == "Pending" and mine.iloc[-1]["status"] == order.status
        assert mine.iloc[-1]["size_matched"] == order.size_matched
    assert orders["customer_ref"].notna().all() and orders["placed_wall"].notna().all()

    refusals = _rows(url, "SELECT * FROM refusals")
    assert sum(r["count"] for r in refusals) == len(report.refusals) > 0
    assert {r["strategy"] for r in refusals} == {"big"} and all("#" in r["reason"] for r in refusals)

    pnl = _rows(url, "SELECT * FROM pnl")
    assert round(sum(r["net"] for r in pnl), 2) == report.totals["pnl"]
    assert round(sum(r["commission"] for r in pnl), 2) == report.totals["commission"]


def test_migrations_run_on_open_and_leave_a_current_store_alone(stored):
    from core.auditdb import HEAD_REVISION

    _, url = stored
    engine = open_store(make_url(url))  # the second open: already at the head revision
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == HEAD_REVISION
    engine.dispose()


def test_the_head_revision_constant_is_the_newest_migration():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from core.auditdb import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION


def test_store_off_writes_nothing(tmp_path):
    config = load_config(write_config(tmp_path, STRATEGIES, "[store]\nenabled = false\n"))
    framework = build(Mode.BACKTEST, config, paths=[real("BASIC-1.132153978.gz")], registry=discover())
    framework.run()
    assert framework.audit is None and not (tmp_path / "data").exists()


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, **(env or {})}
    if "PADDOCK_DB_URL" not in (env or {}):
        environ.pop("PADDOCK_DB_URL", None)
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=environ)  # fmt: skip


@pytest.mark.slow
def test_cli_runs_orders_and_pnl_read_a_backtest_as_orders_csv_has_it(tmp_path):
    config = str(write_config(tmp_path, STRATEGIES))
    out = tmp_path / "out"
    done = _cli("backtest", "--no-progress", "--config", config, "--out", str(out), *(str(real(n)) for n in RECORDINGS))
    assert done.returncode == 0, done.stderr
    out = run_folder(out)
    runs = _cli("runs", "--config", config)
    assert runs.returncode == 0 and runs.stdout.count("\n") == 1
    assert "backtest" in runs.stdout and "completed" in runs.stdout and "1.197931750.bz2" in runs.stdout
    csv = _cli("orders", "--run", "last", "--csv", "--config", config)
    assert csv.returncode == 0 and csv.stdout == (out / "orders.csv").read_text()
    one = _cli("orders", "--run", "1", "--csv", "--strategy", "small", "--market", "1.197931750", "--config", config)
    expected = pd.read_csv(out / "orders.csv", dtype=str)
    assert one.returncode == 0 and one.stdout.count("\n") - 1 == (expected["market_id"] == "1.197931750").sum() > 0
    table = _cli("orders", "--config", config)
    assert table.returncode == 0 and f"run 1: {len(expected)} order(s)" in table.stdout
    summary = json.loads((out / "summary.json").read_text())
    for by in ("market", "strategy", "day"):
        pnl = _cli("pnl", "--by", by, "--config", config)
        assert pnl.returncode == 0, pnl.stderr
        total = pnl.stdout.strip().splitlines()[-1].split()
        assert total[0] == "TOTAL" and float(total[-1]) == pytest.approx(summary["totals"]["pnl"])


@pytest.mark.slow
def test_cli_reads_postgresql_from_the_environment_without_showing_the_password(backtests, tmp_path):
    framework, url = backtests("postgresql")
    config = str(write_config(tmp_path, STRATEGIES))
    env = {"PADDOCK_DB_URL": url}
    runs = _cli("runs", "--config", config, "--log-level", "DEBUG", env=env)
    assert runs.returncode == 0, runs.stderr
    assert "backtest" in runs.stdout and PASSWORD not in runs.stdout + runs.stderr
    csv = _cli("orders", "--csv", "--config", config, env=env)
    assert csv.returncode == 0 and csv.stdout.count("\n") == len(framework.report().orders) + 1


@pytest.mark.slow
def test_store_errors_are_one_clear_message_and_exit_2(tmp_path, pg_url):
    config = str(write_config(tmp_path, STRATEGIES))
    cases = [
        (_cli("runs", "--config", config), "no audit store at"),
    ]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "paddock.db").write_bytes(b"this is not a database file at all" * 200)
    cases.append((_cli("orders", "--config", config), "file is not a database"))
    unreachable = f"postgresql+psycopg://paddock:{PASSWORD}@127.0.0.1:1/nowhere"
    cases.append((_cli("pnl", "--config", config, env={"PADDOCK_DB_URL": unreachable}), "connection"))
    cases.append((_cli("runs", "--config", config, env={"PADDOCK_DB_URL": "mysql://u:" + PASSWORD + "@h/db"}),
                  "PADDOCK_DB_URL: database 'mysql' is not supported"))  # fmt: skip
    (tmp_path / "bad").mkdir()
    bad = write_config(tmp_path / "bad", STRATEGIES, f'[store]\nurl = "oracle://u:{PASSWORD}@h/x"\n')
    cases.append((_cli("runs", "--config", str(bad)), "key 'store.url'"))
    empty = new_database(pg_url, "empty")
    cases.append((_cli("runs", "--config", config, env={"PADDOCK_DB_URL": empty}), "no runs in the audit store"))
    cases.append((_cli("orders", "--run", "9", "--config", config, env={"PADDOCK_DB_URL": empty}), "no run"))
    for done, expected in cases:
        assert done.returncode == 2, (done.args, done.stdout, done.stderr)
        assert done.stderr.startswith("error: ") and expected in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and PASSWORD not in done.stdout + done.stderr


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_placement_commits_its_order_row_itself_and_only_the_rows_before_it(backend, tmp_path, request):
    """The live execution's wait for its order row writes the queue up to that row on its own thread (the writer's
    thread is not even running here); what was queued after it is left to the writer, in order."""
    from app.auditing import start_run
    from controls.auditwriter import AuditWriter

    if backend == "postgresql":
        url = make_url(new_database(request.getfixturevalue("pg_url"), "placement"))
    else:
        url = make_url(f"sqlite:///{tmp_path / 'paddock.db'}")
    engine = open_store(url)
    config = load_config(write_config(tmp_path, STRATEGIES, ""))
    run_id = start_run(engine, url, config, "live", [])
    writer = AuditWriter(engine, run_id)
    row = {
        "seq": 1, "order_id": "o1", "bet_id": None, "customer_ref": "ref", "strategy": "s", "market_id": "1.1",
        "event_id": "e", "market_type": "WIN", "selection_id": 7, "handicap": 0.0, "side": "BACK",
        "order_type": "LIMIT", "persistence": "LAPSE", "price": 2.0, "size": 2.0, "hedge": False, "placed_at": 1.0,
        "placed_wall": 1.0, "note": None, "status": "PENDING", "size_matched": 0.0, "average_price_matched": 0.0,
        "size_cancelled": 0.0, "size_lapsed": 0.0, "size_voided": 0.0, "runner_status": None, "profit": 0.0,
    }  # fmt: skip
    seq = writer.put(("order", row))
    writer.put(("order_state", "o1", {"status": "EXECUTION_COMPLETE", "size_matched": 2.0}))
    try:
        assert writer.wait_committed(seq, timeout=5.0)
        sql = f"SELECT status, size_matched, hedge FROM orders WHERE run_id = {run_id}"
        assert _rows(url.render_as_string(hide_password=False), sql) == [
            {"status": "PENDING", "size_matched": 0.0, "hedge": False}
        ]
        writer.logging_queue.put(None)
        writer.run()  # the writer's pass: the change queued after the row
        assert _rows(url.render_as_string(hide_password=False), sql) == [
            {"status": "EXECUTION_COMPLETE", "size_matched": 2.0, "hedge": False}
        ]
    finally:
        engine.dispose()
