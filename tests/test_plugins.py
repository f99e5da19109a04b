"""Strategy plugins: discovery from strategies/ and entry points, broken plugins, new-strategy."""

from __future__ import annotations

import csv
import sys
import textwrap

from app.cli import main
from app.plugins import ENTRY_POINT_GROUP, discover
from tests.conftest import ROOT, run_folder, write_config


def test_shipped_strategies_are_discovered_with_their_params():
    registry = discover()
    assert {"weight_of_money", "inplay_favourite"} <= set(registry.plugins)
    params = registry.plugins["weight_of_money"].params()
    assert params["threshold"]["default"] == 0.7
    assert params["pre_race_interval"]["default"] == 0.5
    assert registry.failures == []


def test_broken_plugin_is_reported_and_does_not_stop_the_others(tmp_path, capsys):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "broken.py").write_text("import nonexistent_module_xyz\n")
    (plugins / "syntax.py").write_text("def oops(:\n")
    (plugins / "fine.py").write_text(
        textwrap.dedent(
            """
            from strategies.base import ModalStrategy

            class FinePlugin(ModalStrategy):
                plugin_name = "fine_plugin"
            """
        )
    )
    code = main(["strategies", "--strategies-dir", str(plugins)])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "fine_plugin" in out
    assert "failed to load" in out
    assert f"{plugins / 'broken.py'}: ModuleNotFoundError" in out
    assert f"{plugins / 'syntax.py'}: SyntaxError" in out and "(line 1)" in out

    cfg = write_config(tmp_path, '[[strategies]]\nname = "broken"\n')
    code = main(["backtest", "--config", str(cfg), "--strategies-dir", str(plugins), str(ROOT / "recordings")])
    _, err = capsys.readouterr()
    assert code == 2
    assert "unknown strategy 'broken'" in err
    assert f"{plugins / 'broken.py'}: ModuleNotFoundError" in err


def test_new_strategy_is_listed_and_backtests(tmp_path, capsys):
    plugins = tmp_path / "plugins"
    assert main(["new-strategy", "my_edge", "--strategies-dir", str(plugins)]) == 0
    assert (plugins / "my_edge.py").exists()
    assert main(["strategies", "--strategies-dir", str(plugins)]) == 0
    out, _ = capsys.readouterr()
    assert "my_edge" in out and "seconds_before_off" in out
    assert main(["new-strategy", "my_edge", "--strategies-dir", str(plugins)]) == 2
    assert "already exists" in capsys.readouterr().err

    cfg = write_config(tmp_path, '[[strategies]]\nname = "my_edge"\n')
    out_dir = tmp_path / "out"
    code = main(
        [
            "backtest",
            "--config",
            str(cfg),
            "--strategies-dir",
            str(plugins),
            "--out",
            str(out_dir),
            str(ROOT / "recordings"),
        ]
    )
    out, _ = capsys.readouterr()
    assert code == 0
    assert "my_edge" in out
    out_dir = run_folder(out_dir)
    assert (out_dir / "orders.csv").read_text().count("my_edge") >= 2  # one order per market at least
    # what its docstring says it does: back the current favourite, each runner at most once
    assert "Each runner is backed at most once" in (plugins / "my_edge.py").read_text()
    with open(out_dir / "orders.csv") as f:
        mine = [row for row in csv.DictReader(f) if row["strategy"] == "my_edge"]
    backed = [(row["market_id"], row["selection_id"]) for row in mine]
    assert {row["side"] for row in mine} == {"BACK"} and len(backed) == len(set(backed))


def test_new_strategy_rejects_bad_names(tmp_path, capsys):
    assert main(["new-strategy", "Bad-Name", "--strategies-dir", str(tmp_path)]) == 2
    assert "lower case" in capsys.readouterr().err


def test_entry_point_plugins_from_installed_packages(tmp_path, monkeypatch):
    site = tmp_path / "site"
    package = site / "thirdparty_strats"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            from strategies.base import ModalStrategy

            class Installed(ModalStrategy):
                plugin_name = "installed_one"
            """
        )
    )
    dist = site / "thirdparty_strats-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-strats\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\ninstalled_one = thirdparty_strats:Installed\nbroken_one = thirdparty_strats:Missing\n"
    )
    monkeypatch.syspath_prepend(str(site))
    registry = discover()
    assert registry.plugins["installed_one"].cls.__name__ == "Installed"
    assert any("broken_one" in f.source and "AttributeError" in f.error for f in registry.failures)
    sys.modules.pop("thirdparty_strats", None)
