"""Prometheus metrics of one run, in a registry of its own, served over HTTP on 127.0.0.1 (--metrics-port)."""

from __future__ import annotations

import re
import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from core.errors import UserError
from core.latency import STAGES

HOST = "127.0.0.1"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
KILL_SWITCH_STATES = ("ACTIVE", "REDUCING", "HALTED")
_FIGURES = re.compile(r"-?\d+(\.\d+)?")


def reason_kind(reason: str) -> str:
    """A refusal reason with its figures replaced by '#' (as the report counts them), so labels stay few."""
    return _FIGURES.sub("#", reason)[:200]


class Metrics:
    """A run's metrics (record's: updates and reconnects) in a registry of its own, served over HTTP; thread-safe
    (prometheus-client locks each metric)."""

    def __init__(self, mode: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)  # never the global one: a process may hold several
        r = self.registry
        self.updates = Counter(
            "paddock_updates", "Market updates processed, per market type", ["market_type"], registry=r
        )
        self.reconnects = Counter("paddock_stream_reconnects", "Market stream reconnections", registry=r)
        self.info = Gauge("paddock_run_info", "The run's mode", ["mode"], registry=r)
        self.info.labels(mode).set(1)
        self._type_counters: dict[str, object] = {}
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def update(self, market_type: str | None) -> None:
        """One market update processed."""
        key = market_type or "UNKNOWN"
        child = self._type_counters.get(key)
        if child is None:
            child = self._type_counters[key] = self.updates.labels(key)
        child.inc()

    def serve(self, port: int) -> int:
        """Serve /metrics on 127.0.0.1:port (0: any free port) on a daemon thread; returns the port bound."""
        try:
            self._server, self._thread = start_http_server(port, addr=HOST, registry=self.registry)
        except OSError as exc:
            raise UserError(f"--metrics-port {port}: cannot listen on {HOST}:{port}: {exc.strerror}") from None
        return int(self._server.server_port)

    @property
    def port(self) -> int | None:
        """The port served on, or None."""
        return None if self._server is None else int(self._server.server_port)

    def close(self) -> None:
        """Stop serving (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()


class TradingMetrics(Metrics):
    """Paper and live: also orders, refusals, the kill switch, exposure, P&L and latency per stage."""

    def __init__(self, mode: str) -> None:
        super().__init__(mode)
        r = self.registry
        self.orders_placed = Counter(
            "paddock_orders_placed", "Orders that passed the controls and were sent, per strategy", ["strategy"],
            registry=r,
        )  # fmt: skip
        self.orders = Gauge("paddock_orders", "Orders of this run by strategy and status", ["strategy", "status"],
                            registry=r)  # fmt: skip
        self.refusals = Counter("paddock_refusals", "Orders refused by a control, per reason", ["reason"], registry=r)
        self.kill_switch = Gauge("paddock_kill_switch_state", "1 for the kill switch's current state", ["state"],
                                 registry=r)  # fmt: skip
        self.exposure = Gauge("paddock_open_exposure", "Worst-case loss of open markets with orders", registry=r)
        self.pnl = Gauge("paddock_pnl", "P&L: settled (this run's closed markets) and today (daily limit's view)",
                         ["kind"], registry=r)  # fmt: skip
        self.latency = Histogram(
            "paddock_stage_latency_seconds",
            "Latency per stage of the order path (wall seconds)",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        for stage in STAGES:  # every stage shows, with count 0, before its first sample
            self.latency.labels(stage)
        self._order_labels: set[tuple[str, str]] = set()

    def observe(self, stage: str, seconds: float) -> None:
        """One latency sample of a stage."""
        self.latency.labels(stage).observe(seconds)

    def refused(self, reason: str) -> None:
        """An order refused by a control."""
        self.refusals.labels(reason_kind(reason)).inc()

    def set_kill_switch(self, state: str) -> None:
        """The kill switch is now in this state."""
        for name in KILL_SWITCH_STATES:
            self.kill_switch.labels(name).set(1 if name == state else 0)

    def set_orders(self, counts: dict[tuple[str, str], int]) -> None:
        """Orders per (strategy, status) as they stand; a pair no longer present reads 0."""
        for key in self._order_labels - set(counts):
            self.orders.labels(*key).set(0)
        for key, count in counts.items():
            self.orders.labels(*key).set(count)
        self._order_labels |= set(counts)
