"""`python main.py config show`: the effective config as TOML, defaults filled in, no password shown."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def show(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the command as the README does."""
    return subprocess.run(
        [sys.executable, "main.py", "config", "show", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_config_show_prints_the_effective_config_and_masks_the_store_password(tmp_path):
    path = tmp_path / "bot.toml"
    path.write_text(
        '[store]\nurl = "postgresql+psycopg://trader:hunter2-secret@db.example:5432/paddock"\n[risk]\nmax_stake = 7.5\n'
    )
    done = show("--config", str(path))
    assert done.returncode == 0, done.stderr
    assert "hunter2-secret" not in done.stdout + done.stderr
    assert "audit store: postgresql+psycopg://trader:***@db.example:5432/paddock (from [store] url)" in done.stdout
    shown = tomllib.loads(done.stdout)  # the output is TOML a user can copy into a config
    assert shown["risk"]["max_stake"] == 7.5
    assert shown["risk"]["one_in_flight"] is True  # a default, filled in
    assert shown["kill_switch"]  # a section the file does not have, with its defaults
    unset = next(line for line in done.stdout.splitlines() if line.startswith("# not set (off): "))
    assert "risk.daily_loss_limit" in unset and "risk.max_market_exposure" in unset  # limits that are off
    assert shown["store"]["url"] == "postgresql+psycopg://trader:***@db.example:5432/paddock"


def test_config_show_names_the_environment_store_url_without_its_password(tmp_path):
    path = tmp_path / "bot.toml"
    path.write_text("")
    env = {"PATH": "/usr/bin:/bin", "PADDOCK_DB_URL": "postgresql://ops:pa55word-x@10.0.0.9/audit"}
    done = show("--config", str(path), env=env)
    assert done.returncode == 0, done.stderr
    assert "pa55word-x" not in done.stdout + done.stderr
    assert "postgresql+psycopg://ops:***@10.0.0.9/audit (from PADDOCK_DB_URL)" in done.stdout


def test_config_show_of_a_bad_config_names_the_key(tmp_path):
    path = tmp_path / "bot.toml"
    path.write_text("[risk]\nmax_stake = 'lots'\n")
    done = show("--config", str(path))
    assert done.returncode == 2
    assert "risk.max_stake" in done.stderr
    assert "Traceback" not in done.stderr
