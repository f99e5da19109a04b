"""`main.py sweep` as a user runs it: a grid of weight_of_money's params over the project's race recordings,
ranked by net P&L, each row checked against a plain backtest of that combination; the CSV, the heat map, the
store's runs, one worker against two, and bad grids."""

from __future__ import annotations

import csv
import itertools
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.cliparser import parser
from app.plots import HEIGHT, WIDTH
from tests.conftest import ROOT

RACES = [str(ROOT / "recordings" / "race-1.gz"), str(ROOT / "recordings" / "race-2.gz")]
GRID = ["--grid", "threshold=0.6,0.7", "--grid", "window=10,20"]
COMBINATIONS = set(itertools.product(("0.6", "0.7"), ("10", "20")))
COLUMNS = ["rank", "threshold", "window", "orders", "matched", "stake", "gross", "commission", "net", "roi",
           "max_drawdown", "run"]  # fmt: skip


def _config(folder: Path, threshold: str = "0.7", window: str = "20") -> Path:
    """The repo's config.toml (both example strategies) with its own store in folder and these two params."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "config.toml").read_text()
    text = re.sub(r"(?m)^threshold = .*$", f"threshold = {threshold}", text)
    text = re.sub(r"(?m)^window = .*$", f"window = {window}", text)
    path = folder / "config.toml"
    path.write_text(f'data_dir = "{folder / "data"}"\n{text}')
    return path


def _sweep(folder: Path, *flags: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "main.py", "sweep", "--config", str(_config(folder)), "--strategy", "weight_of_money",
               *GRID, "--out", str(folder / "out"), *flags, *RACES]  # fmt: skip
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


def _table(stdout: str) -> list[dict]:
    """The ranked table's rows as printed (its lines between the title and the first `wrote`)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Sweep of weight_of_money:"))
    header = lines[start + 1].split()
    assert header[:3] == ["rank", "threshold", "window"] and header[-1] == "run", header
    rows = []
    for line in lines[start + 2 :]:
        if line.startswith("wrote "):
            break
        rows.append(dict(zip(COLUMNS, line.split(), strict=True)))
    return rows


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """One sweep on two workers: (its folder, what it printed, the table's rows)."""
    folder = tmp_path_factory.mktemp("sweep")
    done = _sweep(folder, "--workers", "2")
    assert done.returncode == 0, done.stderr
    return folder, done.stdout, _table(done.stdout)


def _plain_backtests(tmp_path: Path, rows: list[dict]) -> dict[tuple[str, str], tuple[str, str]]:
    """(net, max drawdown) of a plain `main.py backtest` of each row's params, run side by side."""
    procs = {}
    for row in rows:
        key = (row["threshold"], row["window"])
        config = _config(tmp_path / f"plain-{key[0]}-{key[1]}", *key)
        command = [sys.executable, "main.py", "backtest", "--config", str(config), "--workers", "1", *RACES]
        procs[key] = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    figures = {}
    for key, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
        lines = stdout.splitlines()
        at = lines.index("Per strategy:")
        header, row = lines[at + 1], lines[at + 2].split()
        assert row[0] == "weight_of_money", lines[at:]
        net = row[header.split().index("net")]
        figures[key] = (net, row[-4])  # ... max drawdown, losing run, refused, unsettled
        assert header.split()[-6:-4] == ["max", "drawdown"], header
    return figures


def test_a_sweep_ranks_every_combination_by_net_and_each_net_is_that_combinations_backtest(swept, tmp_path):
    _, stdout, rows = swept
    assert "4 combinations of threshold x window over 2 event group(s)" in stdout
    assert {(r["threshold"], r["window"]) for r in rows} == COMBINATIONS and len(rows) == 4
    assert [int(r["rank"]) for r in rows] == [1, 2, 3, 4]
    ranked = [(-float(r["net"]), float(r["max_drawdown"])) for r in rows]
    assert ranked == sorted(ranked)  # net descending, then the smaller drawdown
    assert len({r["net"] for r in rows}) > 1  # the grid matters on these recordings: the order is a real one
    plain = _plain_backtests(tmp_path, rows)
    for row in rows:
        assert (row["net"], row["max_drawdown"]) == plain[(row["threshold"], row["window"])], row


def test_a_sweep_writes_its_table_as_csv_a_heat_map_and_one_config_and_store_run_per_combination(swept, capsys):
    folder, stdout, rows = swept
    (run_dir,) = (folder / "out").iterdir()
    assert f"run folder: {run_dir}" in stdout
    with open(run_dir / "sweep.csv") as f:
        table = list(csv.DictReader(f))
    assert [(t["rank"], t["threshold"], t["window"], f"{float(t['net']):.2f}", t["run_id"]) for t in table] == [
        (r["rank"], r["threshold"], r["window"], r["net"], r["run"]) for r in rows
    ]
    data = (run_dir / "heatmap.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (WIDTH, HEIGHT) and len(data) > 5000
    for t in table:  # only the swept strategy, with the combination's params and the config's others
        text = Path(t["config"]).read_text()
        assert text.count("[[strategies]]") == 1 and 'name = "weight_of_money"' in text
        assert f"threshold = {t['threshold']}\n" in text and f"window = {t['window']}\n" in text
        assert "seconds_before_off = 600\n" in text
    assert main(["runs", "--config", str(folder / "config.toml")]) == 0
    runs = capsys.readouterr().out.splitlines()
    assert len(runs) == 4
    listed = {re.search(r"sweep weight_of_money threshold=(\S+) window=(\S+)", line).groups() for line in runs}
    assert listed == COMBINATIONS
    assert {line.split()[0] for line in runs} == {r["run"] for r in rows}
    assert all("completed" in line for line in runs)


def test_one_worker_and_two_workers_give_the_same_table(swept, tmp_path):
    _, stdout, _ = swept
    done = _sweep(tmp_path, "--workers", "1")
    assert done.returncode == 0, done.stderr

    def table(text: str) -> list[str]:
        lines = text.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("Sweep of"))
        return lines[start : next(i for i, line in enumerate(lines) if line.startswith("wrote "))]

    assert table(done.stdout) == table(stdout)  # a fresh store each: the run ids too


def test_a_bad_grid_is_one_line_naming_the_option_and_exit_2(tmp_path):
    done = subprocess.run(
        [sys.executable, "main.py", "sweep", "--config", str(_config(tmp_path)), "--strategy", "weight_of_money",
         "--grid", "threshold=0.6,high", "--out", str(tmp_path / "out"), *RACES],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        'error: --grid "threshold=0.6,high": threshold=high: Input should be a valid number, unable to parse string '
        "as a number"
    ]
    assert not (tmp_path / "out").exists() and not (tmp_path / "data").exists()  # nothing written, no run stored


@pytest.mark.parametrize(
    ("grid", "said"),
    [
        ("thresold=0.6", "strategy weight_of_money has no param 'thresold' (its params: "),
        ("window=10,10.5", "window=10.5: Input should be a valid integer"),
        ("threshold=0.6,1.2", "threshold=1.2: Input should be less than 1"),
        ("threshold", "give a param and its values"),
        ("window=10,,20", "an empty value"),
        ("window=10,010", "window=010 is given twice"),
    ],
)
def test_each_bad_grid_names_its_option(tmp_path, capsys, grid, said):
    argv = ["sweep", "--config", str(_config(tmp_path)), "--strategy", "weight_of_money", "--grid", "stake=2,3",
            "--grid", grid, "--out", str(tmp_path / "out"), *RACES]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f'error: --grid "{grid}": ') and said in err and len(err.splitlines()) == 1, err


def test_a_sweep_of_a_strategy_the_config_does_not_run_says_which_it_runs(tmp_path, capsys):
    argv = ["sweep", "--config", str(_config(tmp_path)), "--strategy", "nope", "--grid", "a=1", *RACES]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --strategy nope: ") and "(it runs: weight_of_money, inplay_favourite)" in err


def test_no_progress_is_another_name_for_quiet():
    for command in (["backtest"], ["sweep", "--strategy", "s", "--grid", "a=1"]):
        for flags, quiet in ((["--quiet"], True), (["--no-progress"], True), ([], False)):
            assert parser().parse_args([*command, *flags]).quiet is quiet, (command, flags)
