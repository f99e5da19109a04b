"""The backtest's progress bar on a terminal: the recordings' bytes of the event groups done, on every worker."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from tqdm import tqdm

from tests.conftest import ROOT, real

pytestmark = pytest.mark.slow  # two backtests as processes


def on_a_terminal(*args: str) -> str:
    """Run main.py with its output on a pseudo-terminal 120 columns wide; everything it wrote there."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen([sys.executable, "main.py", *args], cwd=ROOT, stdout=follower, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process has gone
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=120) == 0
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


def test_a_grouped_backtest_shows_its_progress_in_bytes_and_quiet_turns_it_off(tmp_path):
    paths = [str(real("1.197931750.bz2")), str(real("1.197931751.bz2")), str(ROOT / "recordings")]
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n' + (ROOT / "config.toml").read_text())
    shown = on_a_terminal("backtest", "--config", str(config), "--workers", "2", *paths)
    files = [p for p in map(Path, paths) for p in (sorted(p.iterdir()) if p.is_dir() else [p])]
    total = tqdm.format_sizeof(sum(p.stat().st_size for p in files))
    assert "backtest:" in shown and f"/{total} [" in shown and "B/s" in shown  # the bar counts every group's bytes
    assert re.search(r"backtest: +[1-9][0-9]*%", shown)  # it moved as groups finished
    assert re.search(r"[0-9.]+k? updates/s", shown)  # and the rate of the updates the finished groups replayed
    assert "TOTAL" in shown
    quiet = on_a_terminal("backtest", "--config", str(config), "--workers", "2", "--quiet", *paths)
    assert "B/s" not in quiet and "updates/s" not in quiet and "TOTAL" in quiet


def test_a_sweep_shows_the_same_bar_over_all_its_combinations_and_quiet_turns_it_off(tmp_path):
    races = [str(ROOT / "recordings" / "race-1.gz"), str(ROOT / "recordings" / "race-2.gz")]
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n' + (ROOT / "config.toml").read_text())
    sweep = ["sweep", "--config", str(config), "--strategy", "weight_of_money", "--grid", "window=10,20",
             "--grid", "threshold=0.6,0.7", "--out", str(tmp_path / "out"), "--workers", "2"]  # fmt: skip
    shown = on_a_terminal(*sweep, *races)
    total = tqdm.format_sizeof(4 * sum(Path(p).stat().st_size for p in races))  # every group of every combination
    assert "sweep:" in shown and f"/{total} [" in shown and "B/s" in shown and "updates/s" in shown
    assert "Sweep of weight_of_money: 4 combinations" in shown
    quiet = on_a_terminal(*sweep, "--quiet", *races)
    assert "B/s" not in quiet and "updates/s" not in quiet and "Sweep of weight_of_money: 4 combinations" in quiet
