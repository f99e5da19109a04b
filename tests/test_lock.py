"""One bot per data directory and mode: a second one is refused with one message; a killed one leaves no lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from app.assembly import Mode, build
from app.cli import main
from core.config import load_config
from core.errors import UserError
from tests.conftest import ROOT, write_config

CREDENTIALS = {"BETFAIR_USERNAME": "user", "BETFAIR_PASSWORD": "pass", "BETFAIR_APP_KEY": "key1"}


def _config(tmp_path):
    return write_config(tmp_path, '[[strategies]]\nname = "inplay_favourite"\n', 'data_dir = "data"\n')


def test_a_second_bot_on_the_same_data_directory_and_mode_is_refused(tmp_path, capsys, monkeypatch):
    config = load_config(_config(tmp_path))
    first = build(Mode.LIVE, config, environ=CREDENTIALS)
    with pytest.raises(
        UserError, match=rf"{tmp_path / 'data' / 'live'} is in use by another bot \(process {os.getpid()}"
    ):
        build(Mode.LIVE, config, environ=CREDENTIALS)
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    assert main(["live", "--config", str(config.path), "--exchange", "http://127.0.0.1:9"]) == 2
    assert "one bot per data directory and mode" in capsys.readouterr().err
    build(Mode.PAPER, config, environ=CREDENTIALS)  # paper has a directory of its own
    first.lock.release()
    build(Mode.LIVE, config, environ=CREDENTIALS)  # free again


HOLD = """
import sys
from app.assembly import Mode, build
from core.config import load_config
framework = build(Mode.LIVE, load_config(sys.argv[1]), environ={"BETFAIR_USERNAME": "user",
                  "BETFAIR_PASSWORD": "pass", "BETFAIR_APP_KEY": "key1"})
print("holding", flush=True)
sys.stdin.read()
"""


def test_a_bot_killed_with_sigkill_leaves_no_lock_behind(tmp_path):
    config = _config(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(config)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(UserError, match=f"process {holder.pid}"):
            build(Mode.LIVE, load_config(config), environ=CREDENTIALS)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        holder.kill()
    assert build(Mode.LIVE, load_config(config), environ=CREDENTIALS).lock is not None
