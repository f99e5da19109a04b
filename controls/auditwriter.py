"""The audit store's writer: a flumine logging control whose thread drains a queue into the database, in batches.

Nothing here runs on the strategy thread: the recorder (controls/audit.py) only puts rows on the queue. Each
pass takes what is queued (waiting at most a second), writes it in one transaction and commits, so rows are
committed at least every second; `wait_committed` lets the live execution hold a placeOrders until its order
rows are committed (written to the database: a bot killed after that still has them), doing the pass itself."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable
from typing import Any

from flumine.controls.loggingcontrols import LoggingControl
from sqlalchemy import Connection, Engine, and_, bindparam, insert, update
from sqlalchemy.exc import SQLAlchemyError

from core import auditschema as schema
from core.auditdb import describe

logger = logging.getLogger("paddock.store")

MAX_BATCH = 5000  # rows written in one transaction at most
YIELD = 0.005  # seconds the writer waits after an item arrives before it writes (see run)
MAX_BACKLOG = 200_000  # rows kept for a retry while the database is away; the oldest go beyond that


class _Queue(queue.Queue):
    """flumine's logging queue, whose reader can wait for an item without taking it (so that a pass takes every
    item it writes under one lock)."""

    def wait(self, timeout: float) -> None:
        """Return when an item is queued or timeout seconds have passed."""
        with self.not_empty:
            if not self._qsize():
                self.not_empty.wait(timeout)


class AuditWriter(LoggingControl):
    """Writes what the recorder queues; flumine starts it with its other logging controls and stops it at exit."""

    NAME = "PADDOCK_AUDIT_STORE"

    def __init__(self, engine: Engine, run_id: int) -> None:
        super().__init__(daemon=True)
        self.engine = engine
        self.run_id = run_id
        self._seq = 0  # rows put so far
        self._committed = 0  # rows committed so far
        self._lock = threading.Lock()
        self._pass = threading.Lock()  # held by whoever drains and writes: one pass at a time, rows in queue order
        self._connection: Connection | None = None  # kept between passes (used under _pass only, by any thread)
        self._stopped = False  # the queue's end (None, after flumine's termination event) was taken
        self.logging_queue = _Queue()
        self._backlog: list[tuple] = []  # a batch the database refused, written again on the next pass
        self._markets: set[str] = set()  # market ids with a row
        self._refusals: set[tuple] = set()  # refusal keys with a row
        self._pnl: set[tuple] = set()
        self.failures = 0  # passes that failed in a row
        self.extra_handlers: dict[str, Any] = {}  # flumine event type name -> handler run on this thread
        self.origin: dict[str, int] = {}  # order id -> the earlier run holding its row (orders carried over a restart)

    # --- any thread ---

    def put(self, item: tuple) -> int:
        """Queue one row operation; returns its sequence number (see wait_committed)."""
        with self._lock:
            self._seq += 1
            seq = self._seq
        self.logging_queue.put((seq, item))
        return seq

    def wait_committed(self, seq: int, timeout: float) -> bool:
        """Return once the row `seq` is committed (True), writing what is queued on this thread if no pass has yet;
        False when that fails or another pass holds the database for timeout seconds.

        The live execution calls it before a placeOrders: writing here rather than waiting for the writer's
        thread saves two thread switches on the order path (the rows and their order are the same)."""
        if self._committed >= seq:
            return True
        if not self._pass.acquire(timeout=timeout):
            return self._committed >= seq
        try:
            if self._committed < seq:
                self._drain_and_write(until=seq)
        finally:
            self._pass.release()
        return self._committed >= seq

    def write_now(self, ops: list[tuple]) -> bool:
        """Write row operations on this thread, in batches (a backtest's parent writing its workers' rows)."""
        for start in range(0, len(ops), MAX_BATCH):
            self._write(ops[start : start + MAX_BATCH], 0)
            if self._backlog:
                self.close()
                return False
        self.close()
        return True

    # --- the logging-control thread ---

    def run(self) -> None:
        """Drain the queue until flumine's termination event, then write what is left."""
        self._stopped = False
        while not self._stopped:
            self.logging_queue.wait(1.0)
            # let a placement that queued its order row go first: its execution writes the row itself at once,
            # rather than waiting for the interpreter lock while this thread writes (rows still go within 1 s)
            time.sleep(YIELD)
            with self._pass:
                self._drain_and_write()
        if self._backlog:
            logger.error("audit store: %s row(s) could not be written before exit", len(self._backlog))
        self.close()

    def _drain_and_write(self, until: int | None = None) -> None:
        """One pass (holding _pass, on whichever thread): take what is queued, in order (up to and including row
        `until` when given: the rest is the writer's), and write it."""
        items: list = []
        while len(items) < MAX_BATCH:
            try:
                item = self.logging_queue.get_nowait()
            except queue.Empty:
                break
            items.append(item)
            if until is not None and isinstance(item, tuple) and item[0] >= until:
                break
        ops, last_seq = [], 0
        for item in items:
            if item is None:
                self._stopped = True
            elif isinstance(item, tuple):
                last_seq = max(last_seq, item[0])
                ops.append(item[1])
            else:  # a flumine event
                ops.extend(self._flumine_event(item))
        self._write(ops, last_seq)

    def _flumine_event(self, event) -> Iterable[tuple]:
        if getattr(event, "EVENT_TYPE", None) is not None and event.EVENT_TYPE.name == "TERMINATOR":
            self.logging_queue.put(None)
            return ()
        handler = self.extra_handlers.get(getattr(getattr(event, "EVENT_TYPE", None), "name", ""))
        if handler is None:
            return ()
        try:
            return list(handler(event))
        except Exception:
            logger.exception("audit store: handling %s failed", event)
            return ()

    def _write(self, ops: list[tuple], last_seq: int) -> None:
        batch = self._backlog + ops
        if batch:
            try:
                connection = self._connection
                if connection is None:
                    connection = self._connection = self.engine.connect()
                with connection.begin():
                    seen = self._apply(connection, batch)
            except SQLAlchemyError as exc:
                self._drop_connection()
                self.failures += 1
                if self.failures == 1:
                    logger.error("audit store: writing failed, retrying every second: %s", describe(exc))
                if len(batch) > MAX_BACKLOG:
                    logger.error("audit store: %s row(s) dropped (the database is away)", len(batch) - MAX_BACKLOG)
                    batch = batch[-MAX_BACKLOG:]
                self._backlog = batch
                return
            if self.failures:
                logger.error("audit store: writing works again after %s failed attempt(s)", self.failures)
            self.failures = 0
            self._backlog = []
            markets, refusals, pnl = seen
            self._markets.update(markets)
            self._refusals.update(refusals)
            self._pnl.update(pnl)
        if last_seq:
            with self._lock:
                self._committed = max(self._committed, last_seq)

    def _drop_connection(self) -> None:
        """Forget the pass connection (after a failure: the next pass connects again)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.invalidate()
                connection.close()
            except SQLAlchemyError:
                pass

    def close(self) -> None:
        """Give the pass connection back (the run is over)."""
        with self._pass:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _apply(self, connection, batch: list[tuple]) -> tuple[set, set, set]:
        """Write one batch: new rows first, then the changes to them, each kind in one executemany."""
        run = self.run_id
        markets, orders, events, kills, order_updates, market_updates = {}, {}, [], [], {}, {}
        quality: list[dict] = []
        refusals: dict[tuple, dict] = {}
        pnl: dict[tuple, dict] = {}
        for op in batch:
            kind = op[0]
            if kind == "market":
                row = op[1]
                if row["market_id"] in self._markets or row["market_id"] in markets:
                    market_updates.setdefault(row["market_id"], {}).update(row)
                else:
                    markets[row["market_id"]] = {"run_id": run, **row}
            elif kind == "order":
                orders[op[1]["order_id"]] = {"run_id": run, **op[1]}
            elif kind == "order_state":
                order_id, fields = op[1], op[2]
                if order_id in orders:
                    orders[order_id].update(fields)
                else:
                    order_updates.setdefault((self.origin.get(order_id, run), order_id), {}).update(fields)
            elif kind == "event":
                events.append({"run_id": self.origin.get(op[1]["order_id"], run), **op[1]})
            elif kind == "kill":
                kills.append({"run_id": run, **op[1]})
            elif kind == "quality":
                quality.append({"run_id": run, **op[1]})
            elif kind == "refusal":
                row = op[1]
                key = (row["market_id"], row["strategy"], row["reason"])
                seen = refusals.get(key)
                if seen is None:
                    refusals[key] = {**row, "count": 1, "first_at": row["at"], "last_at": row["at"]}
                else:
                    seen.update(count=seen["count"] + 1, example=row["example"], last_at=row["at"])
            elif kind == "pnl":
                row = op[1]
                pnl[(row["market_id"], row["strategy"])] = row
        for market_id, fields in list(market_updates.items()):
            if market_id in markets:
                markets[market_id].update(fields)
                del market_updates[market_id]
        if markets:
            connection.execute(insert(schema.markets), list(markets.values()))
        if orders:
            _insert_compiled(connection, schema.orders, _uniform(orders.values()))
        if events:
            connection.execute(insert(schema.order_events), _uniform(events))
        if kills:
            connection.execute(insert(schema.kill_switch_events), kills)
        if quality:
            connection.execute(insert(schema.data_quality_events), quality)
        for market_id, fields in market_updates.items():
            t = schema.markets
            connection.execute(update(t).where(and_(t.c.run_id == run, t.c.market_id == market_id)).values(fields))
        _update_orders(connection, order_updates)
        self._write_refusals(connection, refusals)
        self._write_pnl(connection, pnl)
        return set(markets), set(refusals), set(pnl)  # keys with rows once this commits

    def _write_refusals(self, connection, refusals: dict[tuple, dict]) -> None:
        t = schema.refusals
        new = [
            {"run_id": self.run_id, **{k: v for k, v in r.items() if k != "at"}}
            for k, r in refusals.items()
            if k not in self._refusals
        ]
        if new:
            connection.execute(insert(t), new)
        for key, row in refusals.items():
            if key in self._refusals:
                connection.execute(
                    update(t)
                    .where(
                        and_(
                            t.c.run_id == self.run_id,
                            t.c.market_id == key[0],
                            t.c.strategy == key[1],
                            t.c.reason == key[2],
                        )
                    )
                    .values(count=t.c.count + row["count"], example=row["example"], last_at=row["last_at"])
                )

    def _write_pnl(self, connection, pnl: dict[tuple, dict]) -> None:
        t = schema.pnl
        for key, row in pnl.items():
            if key in self._pnl:  # settled again (live: cleared orders after the close): the later figures win
                where = and_(t.c.run_id == self.run_id, t.c.market_id == key[0], t.c.strategy == key[1])
                connection.execute(update(t).where(where).values(row))
        new = [{"run_id": self.run_id, **row} for key, row in pnl.items() if key not in self._pnl]
        if new:
            connection.execute(insert(t), new)


_COMPILED: dict[tuple, tuple[str, list[str] | None]] = {}  # (dialect, table, keys) -> SQL and positional keys


def _insert_compiled(connection, table, rows: list[dict]) -> None:
    """INSERT rows with the statement compiled once per dialect and key set (the order rows on the order path: a
    placement waits for them; SQLAlchemy's per-call compile-cache lookup and parameter processing cost ~4x the
    SQLite insert itself). The rows' values are plain floats, strings, ints and bools, which every driver takes."""
    keys = tuple(sorted(rows[0]))
    cache_key = (connection.dialect.name, table.name, keys)
    compiled = _COMPILED.get(cache_key)
    if compiled is None:
        statement = insert(table).compile(dialect=connection.dialect, column_keys=list(keys))
        positions = list(statement.positiontup) if statement.positional else None
        compiled = _COMPILED[cache_key] = (str(statement), positions)
    sql, positions = compiled
    params = [tuple(row[k] for k in positions) for row in rows] if positions is not None else rows
    connection.exec_driver_sql(sql, params if len(params) > 1 else params[0])


def _uniform(rows: Iterable[dict]) -> list[dict]:
    """Rows with the same keys (executemany needs them): a missing key is None."""
    rows = list(rows)
    keys = {k for row in rows for k in row}
    return [{k: row.get(k) for k in keys} for row in rows]


def _update_orders(connection, updates: dict[tuple[int, str], dict]) -> None:
    """Changes to orders written earlier (keyed by run and order id), grouped by the fields they set (one
    executemany per shape)."""
    t = schema.orders
    shapes: dict[tuple, list[dict]] = {}
    for (run_id, order_id), fields in updates.items():
        shapes.setdefault(tuple(sorted(fields)), []).append(
            {"b_run_id": run_id, "b_order_id": order_id, **{f"v_{k}": v for k, v in fields.items()}}
        )
    for keys, rows in shapes.items():
        statement = (
            update(t)
            .where(and_(t.c.run_id == bindparam("b_run_id"), t.c.order_id == bindparam("b_order_id")))
            .values({k: bindparam(f"v_{k}") for k in keys})
        )
        connection.execute(statement, rows)
