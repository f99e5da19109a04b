"""An assembled framework: the mode, flumine, and the project's parts wired into it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from flumine.baseflumine import BaseFlumine
from flumine.events.events import TerminationEvent

from app.lock import BotLock
from app.report import Report, Trip, build_report
from controls.layer import SafetyLayer
from core.alerts import LogAlerts
from core.clock import Clock
from core.config import LoadedConfig
from core.latency import StageLatency
from core.recordings import Recording
from middleware.signals import SignalBuffer
from middleware.state import MarketStateTracker
from strategies.base import ModalStrategy


class Mode(StrEnum):
    """How market data arrives and where orders go."""

    BACKTEST = "backtest"
    PAPER = "paper"
    LIVE = "live"


@dataclass
class Framework:
    """An assembled, ready-to-run flumine framework and the project's parts wired into it."""

    mode: Mode
    flumine: BaseFlumine
    clock: Clock
    tracker: MarketStateTracker
    signals: SignalBuffer
    strategies: list[ModalStrategy]
    config: LoadedConfig
    safety: SafetyLayer
    recordings: list[Recording] = field(default_factory=list)
    lock: BotLock | None = None  # live and paper: this bot's hold on its data directory
    unreadable: dict[str, str] = field(default_factory=dict)  # backtest: files left out, and why
    audit: object | None = None  # app.auditing.Audit when the audit store is on
    audit_rows: object | None = None  # an event group's worker: app.groupaudit.CollectingWriter
    alerts: LogAlerts | None = None  # live and paper: closed (Sentry and the webhook flushed) when the run ends
    latency: StageLatency | None = None  # live and paper: latency per stage of the order path
    metrics: object | None = None  # app.metrics.Metrics when served (--metrics-port)

    def skipped_lines(self) -> dict[str, dict[int, str]]:
        """Backtest: per recording, the lines left out and why (files that could not be read at all: line 0)."""
        out: dict[str, dict[int, str]] = {path: {0: why} for path, why in self.unreadable.items()}
        for stream in self.flumine.streams:
            reader = getattr(stream, "reader", None)
            if reader is not None and reader.skipped:
                out.setdefault(reader.path, {}).update(reader.skipped)
        return out

    def report(self) -> Report:
        """The report of the run so far: every market each strategy received, orders, refusals, trips."""
        trips = [
            Trip(change.at, event_id, str(change.state), change.source, change.reason)
            for event_id, change in self.safety.trips
        ]
        return build_report(
            self.flumine.markets,
            self.config.app.backtest.commission,
            self.safety.dispatcher.refusals,
            self.strategies,
            trips,
            self.skipped_lines(),
            [change.row() for change in self.safety.data_quality.changes],
        )

    def run(self) -> None:
        """Run until the recordings end (backtest) or the process is stopped (live, paper)."""
        outcome = "completed" if self.mode == Mode.BACKTEST else "stopped"
        try:
            self.flumine.run()
        except BaseException as exc:
            outcome = f"failed: {type(exc).__name__}"
            raise
        finally:
            if self.metrics is not None:
                self.metrics.close()
            if self.audit is not None:
                self.audit.close(outcome)
            if self.lock is not None:
                self.lock.release()
            if self.alerts is not None:
                self.alerts.close()

    def stop(self) -> None:
        """Ask a running live or paper framework to finish (from any thread or a signal handler)."""
        self.flumine.handler_queue.put(TerminationEvent(self.flumine))
