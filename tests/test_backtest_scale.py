"""Backtests at scale: event groups on a process pool or a Dask cluster give the same outputs and store rows as
in one process; --chronological makes cross-event limits exact; a failing group loses only itself."""

from __future__ import annotations

import json
import sqlite3
import textwrap
from pathlib import Path

import pytest
from distributed import LocalCluster

from app.cli import main
from app.scenarios.generate import generate
from tests.conftest import ROOT, real, run_folder

PLUGIN = '''
from flumine.order.order import LimitOrder
from flumine.order.trade import Trade

from strategies.base import ModalStrategy


class RestsOnce(ModalStrategy):
    """One resting back of 10 at 1000 on the first runner of every market, on its first pre-race book."""

    plugin_name = "rests_once"

    def process_pre_race(self, market, market_book) -> None:
        memo = market.context.setdefault(self.name, {})
        if memo:
            return
        memo["asked"] = True
        runner = market_book.runners[0]
        trade = Trade(market.market_id, runner.selection_id, runner.handicap, self)
        self.place_order(market, trade.create_order(side="BACK", order_type=LimitOrder(1000, 10.0)))


class FailsSecond(RestsOnce):
    """As rests_once, but raises where flumine does not catch it when a market of the second event closes."""

    plugin_name = "fails_second"

    def process_closed_market(self, market, market_book) -> None:
        if market.event_id == "36000002":
            raise SystemError("strategy bug in the second event")
        super().process_closed_market(market, market_book)


class TripsFirst(ModalStrategy):
    """Trips the kill switch on the very first book of the run, then asks for a resting order everywhere."""

    plugin_name = "trips_first"

    def process_pre_race(self, market, market_book) -> None:
        if market.event_id == "36000001" and not self.safety.kill_switch.history:
            self.safety.kill_switch.trip("test trip in the first event", source="manual")
        memo = market.context.setdefault(self.name, {})
        if memo:
            return
        memo["asked"] = True
        runner = market_book.runners[0]
        trade = Trade(market.market_id, runner.selection_id, runner.handicap, self)
        self.place_order(market, trade.create_order(side="BACK", order_type=LimitOrder(1000, 2.0)))
'''


@pytest.fixture(scope="module")
def cluster():
    """One real Dask cluster (two worker processes) for the module; tests send work to its tcp address."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local:
        yield local.scheduler_address


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with the test plugins and a data_dir for the store."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "scale_plugins.py").write_text(PLUGIN)
    return tmp_path


def config(tmp: Path, body: str) -> Path:
    path = tmp / "config.toml"
    path.write_text(f'data_dir = "data"\n{textwrap.dedent(body)}')
    return path


def backtest(tmp: Path, cfg: Path, name: str, paths: list, *flags: str, plugins: bool = True) -> tuple[int, Path]:
    out = tmp / name
    argv = ["backtest", "--no-progress", "--config", str(cfg), "--out", str(out)]
    if plugins:
        argv += ["--strategies-dir", str(tmp / "plugins")]
    code = main([*argv, *flags, *map(str, paths)])
    return code, run_folder(out)  # the run's own folder inside --out


def store_rows(db: Path, run_id: int) -> dict[str, list]:
    """The run's rows in the store, without what names the run or the machine's clock (ids, wall times)."""
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    seq = {r["order_id"]: r["seq"] for r in con.execute("select order_id, seq from orders where run_id=?", (run_id,))}
    drop = {"run_id", "id", "order_id", "bet_id", "customer_ref", "placed_wall", "at_wall", "note"}
    rows = {}
    for table in ("orders", "order_events", "markets", "pnl", "refusals", "kill_switch_events", "data_quality_events"):
        found = []
        for row in con.execute(f"select * from {table} where run_id=? order by rowid", (run_id,)):  # noqa: S608
            d = dict(row)
            if "order_id" in d:
                d["order"] = seq[d["order_id"]]
            found.append({k: v for k, v in d.items() if k not in drop})
        rows[table] = found
    con.close()
    return rows


def outputs(out: Path) -> dict[str, str]:
    """The run folder's files, summary.json without its run metadata (start, end, duration differ by nature)."""
    files = {name: (out / name).read_text() for name in ("orders.csv", "refused.csv", "markets.csv", "runners.csv")}
    summary = json.loads((out / "summary.json").read_text())
    summary.pop("run")
    return {**files, "summary.json": json.dumps(summary, sort_keys=True)}


def test_outputs_and_store_rows_are_identical_in_one_process_on_two_workers_and_on_dask(project, capsys):
    paths = [real("1.197931750.bz2"), real("1.197931751.bz2"), ROOT / "recordings"]
    cfg = config(project, (ROOT / "config.toml").read_text())
    runs = {}
    for run_id, flags in enumerate([("--workers", "1"), ("--workers", "2"), ("--dask", "local")], start=1):
        code, out = backtest(project, cfg, flags[1], paths, *flags, plugins=False)
        printed = capsys.readouterr()
        assert code == 0, printed.err
        assert main(["orders", "--config", str(cfg), "--run", "last", "--csv"]) == 0
        assert capsys.readouterr().out == (out / "orders.csv").read_text()  # the store holds the same orders
        runs[flags] = (outputs(out), store_rows(project / "data" / "paddock.db", run_id))
    (first_out, first_rows), *others = runs.values()
    summary = json.loads(first_out["summary.json"])
    assert summary["totals"]["orders"] > 5 and summary["totals"]["markets"] >= 4  # a run with something in it
    assert len({m["event_id"] for m in summary["markets"]}) >= 3  # several event groups
    assert first_rows["orders"] and first_rows["pnl"] and first_rows["order_events"]
    assert [r["order"] for r in first_rows["orders"]] == list(range(1, len(first_rows["orders"]) + 1))
    for out, rows in others:
        assert out == first_out
        assert rows == first_rows


def test_a_total_exposure_limit_spans_overlapping_events_only_when_chronological(project, capsys):
    paths = [generate("race", project / "a.gz", seed=1), generate("race", project / "b.gz", seed=2)]
    cfg = config(
        project,
        """
        [risk]
        max_total_exposure = 25.0
        [[strategies]]
        name = "rests_once"
        """,
    )
    code, grouped = backtest(project, cfg, "grouped", paths, "--workers", "1")
    assert code == 0, capsys.readouterr().err
    code, chrono = backtest(project, cfg, "chrono", paths, "--chronological")
    assert code == 0, capsys.readouterr().err
    per_group, exact = (json.loads((d / "summary.json").read_text()) for d in (grouped, chrono))
    events = {m["event_id"]: m for m in per_group["markets"]}
    assert set(events) == {"36000001", "36000002"}  # two events, at the same times
    # each event's WIN and PLACE hold 10 + 10: within 25 on their own, not beside the other event's 20
    assert per_group["totals"]["orders"] == 4 and per_group["totals"]["refused"] == 0
    assert any("applied per event group" in note for note in per_group["notes"])
    assert exact["totals"]["orders"] == 2 and exact["totals"]["refused"] == 2
    refused = (chrono / "refused.csv").read_text().splitlines()[1:]
    assert all("above max_total_exposure 25.0" in line and ",1.26000002" in line for line in refused), refused
    assert exact["notes"] == []


@pytest.mark.parametrize("scope", ["event", "run"])
def test_the_kill_switch_scope_gives_the_same_run_on_any_worker_count(project, capsys, cluster, scope):
    paths = [generate("race", project / "a.gz", seed=1), generate("race", project / "b.gz", seed=2)]
    cfg = config(project, f'[backtest]\nkill_switch_scope = "{scope}"\n[[strategies]]\nname = "trips_first"\n')
    results = []
    for name, flags in [("one", ("--workers", "1")), ("two", ("--workers", "2")), ("dask", ("--dask", cluster))]:
        code, out = backtest(project, cfg, name, paths, *flags)
        assert code == 0, capsys.readouterr().err
        results.append(outputs(out))
    assert results[0] == results[1] == results[2]
    summary = json.loads(results[0]["summary.json"])
    assert [(t["event_id"], t["source"]) for t in summary["kill_switch_trips"]] == [("36000001", "manual")]
    assert summary["totals"]["orders"] == (2 if scope == "event" else 0)  # "run": the second event is halted too


def test_a_failing_group_is_named_and_the_others_are_kept(project, capsys, cluster):
    paths = [generate("race", project / "a.gz", seed=1), generate("race", project / "b.gz", seed=2)]
    cfg = config(project, '[[strategies]]\nname = "fails_second"\n')
    for name, flags in [("two", ("--workers", "2")), ("dask", ("--dask", cluster))]:
        code, out = backtest(project, cfg, name, paths, *flags)
        err = capsys.readouterr().err
        assert code == 3
        assert "FAILED event 36000002" in err and "strategy bug in the second event" in err
        summary = json.loads((out / "summary.json").read_text())
        assert {m["event_id"] for m in summary["markets"]} == {"36000001"}  # the first group's results are kept
        (failed,) = summary["failed_groups"]
        assert failed["group"] == "event 36000002" and failed["paths"] == [str(paths[1].resolve())]
        assert "SystemError: strategy bug in the second event" in failed["error"]


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--workers", "0"], "--workers: 0: give 1 or more"),
        (["--workers", "two"], "--workers: 'two' is not a whole number"),
        (["--dask", "nohost:1"], "give a scheduler address such as tcp://HOST:8786"),
        (["--dask", "tcp://127.0.0.1:9"], "cannot reach a Dask scheduler there"),
        (["--chronological", "--workers", "2"], "leave out --workers and --dask"),
    ],
)
def test_bad_workers_or_dask_address_is_one_message_and_exit_2(project, capsys, flags, said):
    cfg = config(project, (ROOT / "config.toml").read_text())
    try:
        code = main(["backtest", "--no-progress", "--config", str(cfg), *flags, str(ROOT / "recordings" / "race-1.gz")])
    except SystemExit as exc:  # argparse's own usage error
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and said in err and "Traceback" not in err
    assert not (project / "data" / "paddock.db").exists() or "--chronological" in flags  # no run was started
