"""Bad recordings never crash a run: each unusable line is skipped and named; --strict stops at the first."""

from __future__ import annotations

import bz2
import gzip
import json

import pytest

from app.cli import main
from tests.conftest import ROOT, real, run_folder, write_config

CONFIG = '[[strategies]]\nname = "weight_of_money"\n[strategies.market_filter]\nmarket_types = ["WIN"]\n'


def _lines() -> list[bytes]:
    """A real greyhound race, big enough that compressed readers return it in several pieces."""
    return bz2.decompress(real("1.197931750.bz2").read_bytes()).splitlines(keepends=True)


def _truncated_gz(path):
    data = gzip.compress(b"".join(_lines()))
    path.write_bytes(data[: len(data) // 2])


def _corrupt_gz(path):
    data = bytearray(gzip.compress(b"".join(_lines())))
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))


def _truncated_bz2(path):
    data = bz2.compress(b"".join(_lines()))
    path.write_bytes(data[: len(data) // 2])


def _not_utf8(path):
    lines = _lines()
    lines[40] = lines[40][:30] + b"\xff\xfe" + lines[40][30:]
    path.write_bytes(b"".join(lines))


def _garbage_line(path):
    lines = _lines()
    lines.insert(40, b"this is not a stream message\n")
    path.write_bytes(gzip.compress(b"".join(lines)))


CASES = {  # what the first skip says (a bz2 block this small is all or nothing: the whole file is left out)
    "truncated.gz": (_truncated_gz, "cannot read the file from here on"),
    "corrupt.gz": (_corrupt_gz, "not a JSON stream message"),  # zeros decompress to garbage, then the CRC fails
    "truncated.bz2": (_truncated_bz2, "cannot read recording"),
    "not-utf8.txt": (_not_utf8, "not UTF-8 text"),
    "garbage-line.gz": (_garbage_line, "not a JSON stream message"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_damaged_recording_beside_a_good_one_is_skipped_where_damaged_and_the_run_goes_on(tmp_path, capsys, name):
    make, reason = CASES[name]
    damaged = tmp_path / name
    make(damaged)
    good = ROOT / "recordings" / "race-2.gz"
    cfg = write_config(tmp_path, CONFIG)
    out = tmp_path / "out"
    code = main(["backtest", "--no-progress", "--config", str(cfg), "--out", str(out), str(good), str(damaged)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Traceback" not in captured.err
    assert f"skipped in {damaged}" in captured.err and reason in captured.err
    summary = json.loads((run_folder(out) / "summary.json").read_text())
    assert {r["market_id"] for r in summary["markets"]} >= {"1.260000021"}  # race-2's WIN: the good file
    (skips,) = [lines for path, lines in summary["skipped_lines"].items() if path == str(damaged)]
    first = skips[0]
    assert reason in first["reason"] and (first["line"] > 1 or name == "truncated.bz2")
    if name == "corrupt.gz":
        assert "CRC check failed" in skips[-1]["reason"]  # and then the file ends
    # strict: the first bad line stops the run with one message naming the file and the line
    code = main(["backtest", "--no-progress", "--strict", "--config", str(cfg), str(good), str(damaged)])
    err = capsys.readouterr().err
    where = f"{damaged}:{first['line']}: " if first["line"] else f"{damaged}: "
    assert code == 2 and err.startswith("error: ") and where in err and reason in err
    assert "Traceback" not in err
