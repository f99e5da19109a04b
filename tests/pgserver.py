"""A temporary real PostgreSQL server for the store's tests: initdb and pg_ctl in a temp dir, a free port.

initdb refuses to run as root: as root, the cluster belongs to the `postgres` user (the Debian package's) or
`nobody`, and the server runs as that user through runuser. With CI=true a missing server fails the test."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

PASSWORD = "s3cret-pg-Pass"  # trust authentication ignores it; the tests check it is never printed


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def unavailable(reason: str):
    """Fail under CI (the server must be there), else skip with the reason."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a throwaway cluster; yields the URL of its `postgres` database (user paddock, with a password)."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not initdb or not pg_ctl:
        unavailable("initdb / pg_ctl not found (install postgresql)")
    prefix: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="paddock-pg-"))
    if os.geteuid() == 0:
        user = next((u for u in ("postgres", "nobody") if _has_user(u)), None)
        if user is None or not shutil.which("runuser"):
            unavailable("running as root without a postgres/nobody user and runuser")
        prefix = ["runuser", "-u", user, "--"]
        info = pwd.getpwnam(user)
        os.chown(root, info.pw_uid, info.pw_gid)
    data, port = root / "data", _free_port()
    try:
        run = [*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "paddock", "-E", "UTF8", "--no-sync"]
        subprocess.run(run, check=True, capture_output=True, timeout=120)
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        start = [*prefix, pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"]
        subprocess.run(start, check=True, capture_output=True, timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        log = (root / "log").read_text(errors="replace") if (root / "log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        detail = getattr(exc, "stderr", b"") or b""
        unavailable(f"PostgreSQL did not start: {detail.decode(errors='replace')[-500:]} {log[-500:]}")
    try:
        yield f"postgresql+psycopg://paddock:{PASSWORD}@127.0.0.1:{port}/postgres"
    finally:
        stop = [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]
        subprocess.run(stop, capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def new_database(server_url: str, name: str) -> str:
    """Create an empty database on the server; returns its URL."""
    import psycopg

    plain = server_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"
