"""User errors through the CLI: exit code 2 and one message that names the file, line or key."""

from __future__ import annotations

import bz2
import gzip

import pytest

from app.cli import main
from tests.conftest import ROOT, write_config

GOOD_STRATEGY = '[[strategies]]\nname = "weight_of_money"\n'


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2
    assert err.startswith("error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def test_unknown_key_names_file_and_key(tmp_path, capsys):
    cfg = write_config(tmp_path, GOOD_STRATEGY, extra="[backtest.extra]\n")
    cfg.write_text(cfg.read_text().replace("commission = 0.05", "commision = 0.05"))
    code, _, err = run_cli(capsys, "backtest", "--config", str(cfg), str(ROOT / "recordings"))
    assert_one_error(code, err, str(cfg), "unknown key 'backtest.commision'")


def test_wrong_type_names_key_and_expectation(tmp_path, capsys):
    cfg = write_config(tmp_path, GOOD_STRATEGY)
    cfg.write_text(cfg.read_text().replace("commission = 0.05", 'commission = "five"'))
    code, _, err = run_cli(capsys, "backtest", "--config", str(cfg))
    assert_one_error(code, err, str(cfg), "key 'backtest.commission'", "valid number", "'five'")


def test_missing_strategies_section(tmp_path, capsys):
    cfg = tmp_path / "empty.toml"
    cfg.write_text("[backtest]\n")
    code, _, err = run_cli(capsys, "backtest", "--config", str(cfg))
    assert_one_error(code, err, str(cfg), "missing key 'strategies'")


def test_bad_toml_names_line(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[backtest]\ncommission = = 1\n")
    code, _, err = run_cli(capsys, "backtest", "--config", str(cfg))
    assert_one_error(code, err, str(cfg), "not valid TOML", "line 2")


def test_missing_config_file(tmp_path, capsys):
    code, _, err = run_cli(capsys, "backtest", "--config", str(tmp_path / "nope.toml"))
    assert_one_error(code, err, "nope.toml", "not found")


def test_unknown_strategy_lists_available(tmp_path, capsys):
    cfg = write_config(tmp_path, '[[strategies]]\nname = "no_such_strategy"\n')
    code, _, err = run_cli(capsys, "backtest", "--config", str(cfg), str(ROOT / "recordings"))
    assert_one_error(code, err, "unknown strategy 'no_such_strategy'", "weight_of_money", "inplay_favourite")


def test_bad_strategy_param_names_index_and_param(tmp_path, capsys):
    strategies = GOOD_STRATEGY + "[strategies.params]\nthreshold = 2.5\nstaek = 1\n"
    cfg = write_config(tmp_path, strategies)
    code, _, err = run_cli(capsys, "backtest", "--config", str(cfg), str(ROOT / "recordings"))
    assert_one_error(code, err, str(cfg), "strategies[0].params.threshold", "unknown key 'strategies[0].params.staek'")


def test_duplicate_strategy_names(tmp_path, capsys):
    cfg = write_config(tmp_path, GOOD_STRATEGY + GOOD_STRATEGY)
    code, _, err = run_cli(capsys, "backtest", "--config", str(cfg))
    assert_one_error(code, err, "strategies", "label")


def test_missing_recording_path(tmp_path, capsys):
    code, _, err = run_cli(capsys, "backtest", str(tmp_path / "missing.bz2"))
    assert_one_error(code, err, "missing.bz2", "no such file")


def test_glob_matching_nothing(tmp_path, capsys):
    code, _, err = run_cli(capsys, "backtest", str(tmp_path / "*.bz2"))
    assert_one_error(code, err, "no recording matches")


@pytest.mark.parametrize(
    ("line", "expected"),
    [("{not json", "not a JSON stream message"), ('{"op":"mcm","mc":[]}', "no publish time")],
)
def test_bad_recording_line_names_file_and_line_and_strict_stops_there(tmp_path, capsys, line, expected):
    lines = gzip.decompress((ROOT / "recordings" / "race-1.gz").read_bytes()).decode().splitlines()
    lines.insert(5, line)
    bad = tmp_path / "bad-race.bz2"
    bad.write_bytes(bz2.compress(("\n".join(lines) + "\n").encode()))
    code, _, err = run_cli(capsys, "backtest", "--no-progress", "--strict", str(bad))
    assert_one_error(code, err, f"{bad}:6", expected)


def test_recording_whose_first_line_is_not_a_market_change(tmp_path, capsys):
    bad = tmp_path / "notes.txt"
    bad.write_text('{"hello": 1}\n')
    code, _, err = run_cli(capsys, "backtest", str(bad))
    assert_one_error(code, err, f"{bad}:1", "not a market change")


def test_paper_without_credentials_names_missing_variables(tmp_path, capsys, monkeypatch):
    for name in ("BETFAIR_USERNAME", "BETFAIR_PASSWORD", "BETFAIR_APP_KEY", "BETFAIR_CERTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BETFAIR_USERNAME", "someone")
    cfg = write_config(tmp_path, GOOD_STRATEGY)
    code, _, err = run_cli(capsys, "paper", "--config", str(cfg))
    assert_one_error(code, err, "BETFAIR_PASSWORD", "BETFAIR_APP_KEY")
    assert "BETFAIR_CERTS" not in err  # optional: interactive login without it
    assert "BETFAIR_USERNAME" not in err
