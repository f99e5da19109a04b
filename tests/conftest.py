"""Shared fixtures: paths to the real recordings, generated scenarios, configs and a probe strategy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import smart_open

from app.assembly import Framework, Mode, build
from app.plugins import PluginRegistry, discover
from app.scenarios.generate import generate
from core.config import load_config
from strategies.base import ModalStrategy

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
REAL = SHARED / "recordings"


def real(name: str) -> Path:
    """Path of a real recording in ../shared, skipping the test when ../shared is absent."""
    path = REAL / name
    if not path.exists():
        pytest.skip(f"real recording {path} is not available (../shared is absent)")
    return path


def run_folder(out: Path) -> Path:
    """The one run folder `--out out` made (asserting there is exactly one, and LATEST names it)."""
    folders = [p for p in out.iterdir() if p.is_dir()]
    assert len(folders) == 1, folders
    assert (out / "LATEST").read_text().strip() == folders[0].name
    return folders[0]


def read_messages(path: Path) -> list[dict]:
    """Every stream message of a recording."""
    with smart_open.open(str(path), "r") as f:
        return [json.loads(line) for line in f if line.strip()]


class Probe(ModalStrategy):
    """Records every hook call with the book's publish time, status and in-play flag."""

    plugin_name = "probe"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[str, str, int, str, bool]] = []

    def _record(self, hook: str, market, book) -> None:
        self.calls.append((hook, book.market_id, book.publish_time_epoch, book.status, book.inplay))

    def process_pre_race(self, market, market_book):
        self._record("process_pre_race", market, market_book)

    def process_in_play(self, market, market_book):
        self._record("process_in_play", market, market_book)

    def on_in_play(self, market, market_book):
        self._record("on_in_play", market, market_book)

    def on_suspended(self, market, market_book):
        self._record("on_suspended", market, market_book)

    def on_reopened(self, market, market_book, positions):
        self._record("on_reopened", market, market_book)

    def on_closed(self, market, market_book):
        self._record("on_closed", market, market_book)

    def hooks(self, name: str, market_id: str | None = None) -> list[tuple]:
        """Calls of one hook, optionally for one market."""
        return [c for c in self.calls if c[0] == name and (market_id is None or c[1] == market_id)]


def write_config(tmp_path: Path, strategies: str, extra: str = "") -> Path:
    """Write a config file with the given [[strategies]] tables."""
    path = tmp_path / "config.toml"
    backtest = "" if "[backtest]" in extra else "[backtest]\ncommission = 0.05\n"
    path.write_text(f"{extra}\n{backtest}{strategies}\n")  # extra first: it may hold top-level keys
    return path


PROBE_CONFIG = """
[[strategies]]
name = "probe"
[strategies.params]
pre_race_interval = 0.5
"""


def run_probe(tmp_path: Path, paths: list[Path], strategies: str = PROBE_CONFIG) -> Framework:
    """Backtest the probe strategy (plus the shipped plugins) over the paths, re-raising hook errors."""
    registry = discover()
    registry.register(Probe, "tests/conftest.py")
    framework = build(
        Mode.BACKTEST,
        load_config(write_config(tmp_path, strategies)),
        paths=paths,
        registry=registry,
        raise_hook_errors=True,
    )
    framework.run()
    return framework


@pytest.fixture(scope="session")
def probe_runs(tmp_path_factory):
    """probe_runs(*names): the probe's backtest of these real recordings, run once per session and shared."""
    runs: dict[tuple[str, ...], Framework] = {}

    def run(*names: str) -> Framework:
        if names not in runs:
            paths = [real(name) for name in names]
            runs[names] = run_probe(tmp_path_factory.mktemp("probe"), paths)
        return runs[names]

    return run


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> dict[str, Path]:
    """Generated recordings: two football matches and a race."""
    out = tmp_path_factory.mktemp("generated")
    return {
        "football": generate("football", out / "football-1.gz", seed=1),
        "football2": generate("football", out / "football-7.bz2", seed=7),
        "race": generate("race", out / "race-3.gz", seed=3),
    }


@pytest.fixture
def registry_with_probe() -> PluginRegistry:
    """Discovered plugins plus the probe strategy."""
    registry = discover()
    registry.register(Probe, "tests/conftest.py")
    return registry


def strategy_table(cls: type[ModalStrategy], params: str = "", market_filter: str = "") -> str:
    """The [[strategies]] table that runs one strategy class with params and a market filter."""
    table = f'[[strategies]]\nname = "{cls.plugin_name}"\n'
    if market_filter:
        table += f"[strategies.market_filter]\n{market_filter}\n"
    return table + f"[strategies.params]\n{params}\n"


def run_strategy(
    tmp_path: Path,
    cls: type[ModalStrategy],
    paths: list[Path],
    params: str = "",
    extra: str = "",
    market_filter: str = "",
) -> Framework:
    """Backtest one strategy class defined in a test, with extra config sections (e.g. [risk])."""
    registry = discover()
    registry.register(cls, "tests")
    config = load_config(write_config(tmp_path, strategy_table(cls, params, market_filter), extra))
    framework = build(Mode.BACKTEST, config, paths=paths, registry=registry, raise_hook_errors=True)
    framework.run()
    return framework


def best_back(market_book, selection_id: int) -> float | None:
    """Best available back price of a runner."""
    for runner in market_book.runners:
        if runner.selection_id == selection_id and runner.ex.available_to_back:
            return runner.ex.available_to_back[0]["price"]
    return None


def all_orders(framework: Framework) -> list:
    """Every order in every market's blotter."""
    return [order for market in framework.flumine.markets for order in market.blotter]
