"""Wiring the audit store into a framework: the run's row, the writer (a flumine logging control) and the
recorder (a market middleware and listener of the order path), in every mode alike."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Engine, insert, update
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from app.driver import LayerDriver
from app.framework import Framework
from controls.audit import AuditRecorder
from controls.auditwriter import AuditWriter
from controls.execution import CallLog
from core import auditschema as schema
from core.auditdb import describe, open_store, paddock_version, shown, store_url
from core.clock import WallClock
from core.config import LoadedConfig
from core.errors import StoreError
from core.latency import StageLatency
from core.redact import MASK, redactor

logger = logging.getLogger("paddock.store")


@dataclass
class Audit:
    """A run's link to the audit store."""

    engine: Engine
    url: URL
    run_id: int
    writer: AuditWriter
    recorder: AuditRecorder
    latency: StageLatency | None = None  # live and paper: stored with the run's end

    def close(self, outcome: str) -> None:
        """After flumine stopped: write what is still queued, then the run's end, outcome and latency per stage."""
        writer = self.writer
        if writer.is_alive():
            writer.logging_queue.put(None)
            writer.join(10)
        if not writer.is_alive() and not writer.logging_queue.empty():
            writer.logging_queue.put(None)
            writer.run()  # flumine never started it (or stopped it early): write the rest on this thread
        end_run(self.engine, self.url, self.run_id, outcome, self.latency)


def end_run(engine: Engine, url: URL, run_id: int, outcome: str, latency: StageLatency | None = None) -> None:
    """Write the run's end, outcome (and latency per stage), logging rather than raising; then let go of the
    database."""
    try:
        with engine.begin() as connection:
            connection.execute(
                update(schema.runs)
                .where(schema.runs.c.id == run_id)
                .values(ended_wall=WallClock().now(), outcome=outcome[:200])
            )
            if latency is not None:
                rows = [{"run_id": run_id, **s.row()} for s in latency.summary()]
                connection.execute(insert(schema.run_latency), rows)
    except SQLAlchemyError as exc:
        logger.error("audit store %s: the end of run %s not written: %s", shown(url), run_id, describe(exc))
    engine.dispose()


def attach_audit(
    framework: Framework,
    driver: LayerDriver,
    call_log: CallLog,
    environ: Mapping[str, str],
    sources: list,
) -> Audit | None:
    """Open the store (unless `[store] enabled = false`), start the run's row and wire the writer and recorder."""
    config = framework.config
    if not config.app.store.enabled:
        return None
    url = store_url(config, environ)
    redactor().add(url.password)  # never in a log line, whatever prints the URL
    engine = open_store(url)
    run_id = start_run(engine, url, config, str(framework.mode), sources)
    writer = AuditWriter(engine, run_id)
    recorder = wire_recorder(framework, driver, call_log, writer)
    audit = Audit(engine, url, run_id, writer, recorder, framework.latency)
    framework.audit = audit
    return audit


def wire_recorder(framework: Framework, driver: LayerDriver, call_log: CallLog, writer: AuditWriter) -> AuditRecorder:
    """The recorder of the store's rows, listening to the framework; the writer is flumine's logging control."""
    recorder = AuditRecorder(writer, framework.clock, WallClock(), framework.config.app.backtest.commission)
    flumine = framework.flumine
    layer = framework.safety
    flumine.add_logging_control(writer)
    flumine.add_market_middleware(recorder)
    layer.dispatcher.placed_listeners.append(recorder.placed)
    layer.dispatcher.refusal_listeners.append(recorder.refused)
    layer.kill_switch.change_listeners.append(lambda change: recorder.kill_switch(change, layer.current_event))
    layer.closed_listeners.append(recorder.market_closed)
    layer.data_quality.change_listeners.append(recorder.data_quality)
    call_log.before_place.append(recorder.durable)  # live: the order rows are committed before placeOrders goes
    driver.finish_listeners.append(lambda: recorder.finish(flumine.markets))
    if hasattr(flumine, "order_listeners"):  # live and paper: the order stream's updates
        flumine.order_listeners.append(lambda: recorder.orders_changed(flumine.markets))
    return recorder


def start_run(engine: Engine, url: URL, config: LoadedConfig, mode: str, sources: list) -> int:
    """Insert the run's row; returns its id (StoreError when the database refuses)."""
    raw = config.path.read_bytes()
    text = raw.decode("utf-8", errors="replace")
    if url.password:
        text = text.replace(str(url.password), MASK)
    row = {
        "mode": mode,
        "config_text": text,
        "config_hash": hashlib.sha256(raw).hexdigest(),
        "version": paddock_version(),
        "sources": json.dumps(sources, default=str),
        "started_wall": WallClock().now(),
    }
    try:
        with engine.begin() as connection:
            return int(connection.execute(insert(schema.runs).returning(schema.runs.c.id), row).scalar_one())
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"audit store {shown(url)}: {describe(exc)}") from None
