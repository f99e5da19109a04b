"""Helpers for tests that run the live and paper builds against the emulator over real sockets."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import smart_open

from app.assembly import Framework, Mode, build
from app.plugins import discover
from core.config import load_config
from emulator.book import MarketState
from emulator.server import Emulator
from strategies.base import ModalStrategy
from tests.conftest import strategy_table, write_config

CREDENTIALS = {"BETFAIR_USERNAME": "rehearsal", "BETFAIR_PASSWORD": "secret", "BETFAIR_APP_KEY": "app-key-1"}
FAST_POLLS = "[exchange]\nsettle_poll = 0.5\nsession_check = 600\n"


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll until condition() holds; fail the test naming what did not happen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class LiveRun:
    """A live or paper framework built from a config and running on a background thread."""

    def __init__(
        self,
        tmp_path: Path,
        mode: Mode,
        cls: type[ModalStrategy],
        emulator: Emulator,
        params: str = "",
        extra: str = "",
        market_filter: str = "",
        environ: dict | None = None,
        metrics_port: int | None = None,
    ) -> None:
        registry = discover()
        registry.register(cls, "tests")
        extra = f'data_dir = "{tmp_path / "data"}"\n{FAST_POLLS}{extra}'
        self.config = load_config(write_config(tmp_path, strategy_table(cls, params, market_filter), extra))
        self.framework: Framework = build(
            mode,
            self.config,
            registry=registry,
            environ=environ or CREDENTIALS,
            exchange=emulator.url,
            raise_hook_errors=True,
            metrics_port=metrics_port,
        )
        self.emulator = emulator
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="live-run", daemon=True)

    def _run(self) -> None:
        try:
            self.framework.run()
        except BaseException as exc:  # noqa: BLE001 - reported by stop()
            self.error = exc

    @property
    def strategy(self):
        """The one strategy under test."""
        return self.framework.strategies[0]

    def orders(self) -> list:
        """Every order in every market's blotter."""
        return [o for m in list(self.framework.flumine.markets) for o in list(m.blotter)]

    def __enter__(self) -> LiveRun:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the framework; re-raise what its thread raised.

        flumine's shutdown joins each background worker for up to 4 s while it sleeps out its interval,
        so the rest of it finishes on the (daemon) thread after the test has its answers."""
        if self.thread.is_alive():
            self.framework.stop()
            self.thread.join(timeout=2)
        if self.error is not None:
            raise self.error


def calls(emulator: Emulator, operation: str, after: float = 0.0) -> list[dict]:
    """Params of every call the emulator received for a REST method (after a wall time), in order."""
    with emulator.exchange.lock:
        return [params for at, op, params in emulator.exchange.requests if op == operation and at > after]


def trimmed(source: Path, target: Path, start_ms: int, end_ms: int) -> Path:
    """A recording of source between two publish times; its first line is a full image of every market."""
    markets: dict[str, MarketState] = {}
    lines: list[str] = []
    with smart_open.open(str(source), "r") as f:
        for raw in f:
            if not raw.strip():
                continue
            message = json.loads(raw)
            if message["pt"] < start_ms:
                for change in message["mc"]:
                    markets.setdefault(change["id"], MarketState(change["id"])).apply(change)
                continue
            if message["pt"] > end_ms:
                break
            if not lines and markets:
                lines.append(
                    json.dumps({"op": "mcm", "clk": None, "pt": start_ms, "mc": [m.image() for m in markets.values()]})
                )
            lines.append(raw.strip())
    with gzip.open(target, "wt") as out:
        out.write("\n".join(lines) + "\n")
    return target
