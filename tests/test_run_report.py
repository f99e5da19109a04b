"""Run folders and their report: figures checked against orders.csv on real recordings, plots, report.html,
`report RUN_DIR` and `compare RUN_A RUN_B`, through the CLI as a user runs it (one backtest for the module)."""

from __future__ import annotations

import base64
import contextlib
import csv
import datetime as dt
import io
import json
import re
import struct

import matplotlib.image
import pytest

from app.cli import main
from app.plots import HEIGHT, PLOTS, WIDTH
from app.runfolder import new_run_dir
from tests.conftest import ROOT, real, run_folder, write_config

STRATEGIES = """
[risk]
max_market_exposure = 8.0

[[strategies]]
name = "weight_of_money"
[strategies.market_filter]
market_types = ["WIN", "PLACE"]
[strategies.params]
max_order_exposure = 30
"""
RECORDINGS = ("1.197931750.bz2", "1.197931751.bz2", "SELF-1.181223994.bz2")
RACE = ROOT / "recordings" / "race-1.gz"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One backtest of real recordings with --out: (its run folder, what it printed)."""
    paths = [str(real(name)) for name in RECORDINGS]
    tmp = tmp_path_factory.mktemp("run")
    config = write_config(tmp, STRATEGIES)
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["backtest", "--no-progress", "--config", str(config), "--out", str(tmp / "out"), *paths])
    assert code == 0, stderr.getvalue()
    return run_folder(tmp / "out"), stdout.getvalue()


def _orders(folder) -> list[dict]:
    with open(folder / "orders.csv") as f:
        return list(csv.DictReader(f))


def _markets_in_close_order(folder) -> list[str]:
    with open(folder / "markets.csv") as f:
        rows = list(csv.DictReader(f))
    return [r["market_id"] for r in sorted(rows, key=lambda r: (r["closed_at"], r["market_id"]))]


def test_the_report_figures_follow_from_orders_csv(run):
    folder, stdout = run
    orders = _orders(folder)
    summary = json.loads((folder / "summary.json").read_text())
    rate = summary["commission_rate"]
    (mine,) = summary["strategies"]
    assert mine["strategy"] == "weight_of_money" and orders
    nets = {}  # one strategy: each market's commission is 5% of its winnings there
    for market_id in _markets_in_close_order(folder):
        here = [o for o in orders if o["market_id"] == market_id]
        if here:
            gross = round(sum(float(o["profit"]) for o in here), 2)
            nets[market_id] = round(gross - round(max(gross, 0.0) * rate, 2), 2)
    matched = [o for o in orders if float(o["size_matched"]) > 0]
    stake = round(sum(float(o["size_matched"]) for o in matched), 2)
    assert mine["orders"] == len(orders) and mine["matched"] == len(matched) and mine["stake"] == stake
    assert mine["gross"] == round(sum(float(o["profit"]) for o in orders), 2)
    assert mine["net"] == round(sum(nets.values()), 2) and mine["roi"] == round(mine["net"] / stake, 4)
    assert mine["strike_rate"] == round(sum(float(o["profit"]) > 0 for o in matched) / len(matched), 4)
    odds = sum(float(o["average_price_matched"]) * float(o["size_matched"]) for o in matched) / stake
    assert mine["average_odds"] == round(odds, 2)
    cumulative, peak, drawdown, run_, longest = 0.0, 0.0, 0.0, 0, 0
    for net in nets.values():  # in the market time each market closed
        cumulative += net
        peak = max(peak, cumulative)
        drawdown = max(drawdown, peak - cumulative)
        run_ = run_ + 1 if net < 0 else 0
        longest = max(longest, run_)
    assert mine["max_drawdown"] == round(drawdown, 2) > 0 and mine["longest_losing_run"] == longest
    with open(folder / "refused.csv") as f:
        refused = list(csv.DictReader(f))
    assert mine["refused"] == len(refused) > 0  # the tight market exposure limit refuses some
    # the printed report says the same, and refusal times read as ISO
    line = next(row for row in stdout.splitlines() if row.strip().startswith("weight_of_money") and "%" in row)
    assert f"{mine['net']:.2f}" in line and f"{mine['max_drawdown']:.2f}" in line
    assert re.search(r"Refusals by reason.*\n.*\n.*market exposure would be #.* \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", stdout)


def test_per_market_and_runner_tables_name_the_markets_and_runners(run):
    folder, _ = run
    page = (folder / "report.html").read_text()
    with open(folder / "runners.csv") as f:
        names = {(r["market_id"], r["selection_id"]): r["runner_name"] for r in csv.DictReader(f)}
    traded = {(o["market_id"], o["selection_id"]) for o in _orders(folder)}
    for key in traded:  # these recordings carry no runner names: a runner is shown by its selection id
        assert (names.get(key) or f"#{key[1]}") in page
    assert "Warwick" in page and "Sheffield" in page  # markets are named by venue when the event has no name
    for title in ("Per strategy", "Per strategy and market", "Per strategy, market and runner", "P&amp;L by day",
                  "P&amp;L by market type", "Refusals by reason"):  # fmt: skip
        assert f">{title}" in page


def test_each_plot_is_a_png_of_the_stated_size_and_not_blank(run):
    folder, _ = run
    for name in PLOTS:
        data = (folder / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
        assert struct.unpack(">II", data[16:24]) == (WIDTH, HEIGHT), name
        pixels = matplotlib.image.imread(folder / name)
        assert pixels.std() > 0.05, f"{name} is one colour"  # lines and bars were drawn


def test_report_html_is_one_self_contained_page(run):
    folder, _ = run
    page = (folder / "report.html").read_text()
    images = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', page)
    assert [base64.b64decode(i) for i in images] == [(folder / name).read_bytes() for name in PLOTS]
    assert page.count("<table") == 6 and "<style>" in page
    assert not re.search(r"https?://|<link|<script|src=\"(?!data:)", page)  # nothing to fetch


def test_two_runs_into_one_dir_make_two_folders_with_identical_figures(run, tmp_path, capsys):
    config = write_config(tmp_path, '[[strategies]]\nname = "weight_of_money"\n')
    out = tmp_path / "out"
    for _ in range(2):
        assert main(["backtest", "--no-progress", "--config", str(config), "--out", str(out), str(RACE)]) == 0
    printed = re.findall(r"^run folder: (.+)$", capsys.readouterr().out, re.M)
    folders = sorted(p for p in out.iterdir() if p.is_dir())
    assert len(folders) == 2 and sorted(printed) == [str(f) for f in folders]
    assert (out / "LATEST").read_text().strip() == folders[-1].name == printed[-1].rsplit("/", 1)[-1]
    for name in ("orders.csv", "markets.csv", "runners.csv", *PLOTS):  # deterministic, plots byte for byte
        assert (folders[0] / name).read_bytes() == (folders[1] / name).read_bytes(), name
    a, b = (json.loads((f / "summary.json").read_text()) for f in folders)
    assert a.pop("run")["files"] == b.pop("run")["files"] == [str(RACE)] and a == b
    # the same second: a third folder, not the first one again
    started = json.loads((folders[0] / "summary.json").read_text())["run"]["start"]
    again = new_run_dir(out, dt.datetime.fromisoformat(started).timestamp(), prefix="backtest")
    assert again not in folders and again.name.startswith(folders[0].name)


def test_report_re_renders_a_run_identically(run, capsys):
    folder, _ = run
    before = {name: (folder / name).read_bytes() for name in (*PLOTS, "report.html")}
    (folder / "report.html").unlink()
    assert main(["report", str(folder)]) == 0
    out = capsys.readouterr().out
    assert {name: (folder / name).read_bytes() for name in before} == before
    assert "Per strategy and market:" in out and f"wrote {folder / 'report.html'}" in out
    assert main(["report", str(folder.parent)]) == 0  # an --out DIR: its LATEST run
    assert f"wrote {folder / 'report.html'}" in capsys.readouterr().out


def test_report_of_a_missing_or_wrong_folder_is_one_message_and_exit_2(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert (
        capsys.readouterr().err
        == f"error: {tmp_path / 'nope'} does not exist: give a run folder (made by backtest, paper or live with --out)\n"
    )
    assert main(["compare", str(tmp_path), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a run folder" in err and "Traceback" not in err


def test_compare_shows_what_changed_between_runs_with_different_params(run, tmp_path, capsys):
    folder, _ = run
    config = write_config(
        tmp_path, STRATEGIES.replace("max_order_exposure = 30", "max_order_exposure = 30\nstake = 4.0")
    )
    paths = [str(real(name)) for name in RECORDINGS[:2]]
    assert main(["backtest", "--no-progress", "--config", str(config), "--out", str(tmp_path / "b"), *paths]) == 0
    other = run_folder(tmp_path / "b")
    capsys.readouterr()
    assert main(["compare", str(folder), str(other)]) == 0
    out = capsys.readouterr().out
    assert "strategies[0].params.stake: (not set) -> 4.0" in out  # the default, 2.0, was not written in A
    assert f"files only in A: {real(RECORDINGS[2])}" in out
    a, b = (json.loads((f / "summary.json").read_text())["strategies"][0] for f in (folder, other))
    row = next(line for line in out.splitlines() if line.strip().startswith("weight_of_money")).split()
    assert row[1:4] == [str(a["orders"]), str(b["orders"]), str(b["orders"] - a["orders"])]
    assert row[4:7] == [f"{a['net']:.2f}", f"{b['net']:.2f}", f"{b['net'] - a['net']:.2f}"]
    assert row[10:13] == [
        f"{a['max_drawdown']:.2f}",
        f"{b['max_drawdown']:.2f}",
        f"{b['max_drawdown'] - a['max_drawdown']:.2f}",
    ]
