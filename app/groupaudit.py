"""The store in a backtest run as event groups: workers collect the rows they would write, the parent owns the
run's one row and writes every group's rows under it, in group order, so they match whatever ran them."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from app.auditing import end_run, start_run, wire_recorder
from app.driver import LayerDriver
from app.framework import Framework
from controls.auditwriter import AuditWriter
from controls.execution import CallLog
from core.auditdb import open_store, shown, store_url
from core.config import LoadedConfig
from core.redact import redactor

logger = logging.getLogger("paddock.store")


class CollectingWriter(AuditWriter):
    """An audit writer that keeps the row operations in order instead of writing them (no database)."""

    def __init__(self) -> None:
        super().__init__(engine=None, run_id=0)  # type: ignore[arg-type] - never written with
        self.ops: list[tuple] = []

    def _write(self, ops: list[tuple], last_seq: int) -> None:
        self.ops.extend(ops)

    def drain(self) -> list[tuple]:
        """After flumine stopped: every row operation queued, in order."""
        if self.is_alive():
            self.logging_queue.put(None)
            self.join(30)
        if not self.is_alive() and not self.logging_queue.empty():
            self.logging_queue.put(None)
            self.run()  # flumine never started it: collect the rest on this thread
        return self.ops


def collect_audit(framework: Framework, driver: LayerDriver, call_log: CallLog, sources: list[str]) -> None:
    """Wire the recorder to a collecting writer (an audit sink for build_backtest); framework.audit_rows holds it."""
    writer = CollectingWriter()
    framework.flumine.add_logging_control(writer)
    wire_recorder(framework, driver, call_log, writer)
    framework.audit_rows = writer


def renumber(groups: list[list[tuple]]) -> list[tuple]:
    """The groups' row operations as one run: orders numbered on from the groups before (placement order)."""
    merged: list[tuple] = []
    offset = 0
    for ops in groups:
        placed = 0
        for op in ops:
            if op[0] == "order":
                row = dict(op[1])
                row["seq"] = offset + row["seq"]
                placed = max(placed, op[1]["seq"])
                op = ("order", row)
            merged.append(op)
        offset += placed
    return merged


class RunStore:
    """The parent's link to the store for a grouped backtest: the run's row, then the merged rows."""

    def __init__(self, config: LoadedConfig, environ: Mapping[str, str], sources: list[str]) -> None:
        self.url = store_url(config, environ)
        redactor().add(self.url.password)
        self.engine = open_store(self.url)
        self.run_id = start_run(self.engine, self.url, config, "backtest", sources)
        self.engine.dispose()  # no connection is held while workers are forked

    def finish(self, groups: list[list[tuple]], outcome: str) -> None:
        """Write every group's rows under the run, then its end and outcome."""
        writer = AuditWriter(self.engine, self.run_id)
        if not writer.write_now(renumber(groups)):
            logger.error("audit store %s: the rows of run %s could not all be written", shown(self.url), self.run_id)
        end_run(self.engine, self.url, self.run_id, outcome)
