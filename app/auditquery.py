"""Reading the audit store for the CLI: `runs`, `orders` and `pnl`."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Mapping

import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from app.report import ORDER_COLUMNS, sort_orders, write_orders_csv
from app.sweepconfig import swept
from core import auditschema as schema
from core.auditdb import describe, open_store, shown, store_url
from core.config import LoadedConfig
from core.errors import StoreError
from core.redact import redactor

RECENT_RUNS = 20
PNL_KEYS = {"market": ["market_id", "strategy"], "strategy": ["strategy"], "day": ["day"]}


class StoreReader:
    """The store a config points at, opened for reading (a missing SQLite file is an error, not created)."""

    def __init__(self, config: LoadedConfig, environ: Mapping[str, str] | None = None) -> None:
        self.url = store_url(config, environ if environ is not None else os.environ)
        redactor().add(self.url.password)
        self.where = shown(self.url)
        self.engine: Engine = open_store(self.url, create=False)

    def rows(self, statement) -> list[dict]:
        """The statement's rows as dicts; StoreError when the database fails."""
        try:
            with self.engine.connect() as connection:
                return [dict(r._mapping) for r in connection.execute(statement)]
        except SQLAlchemyError as exc:
            raise StoreError(f"audit store {self.where}: {describe(exc)}") from None

    def run_id(self, chosen: str) -> int:
        """The run `chosen` names: an id, or `last`."""
        runs = schema.runs
        if chosen == "last":
            found = self.rows(select(func.max(runs.c.id).label("id")))[0]["id"]
            if found is None:
                raise StoreError(f"no runs in the audit store {self.where} yet: run a backtest, paper or live first")
            return int(found)
        try:
            run_id = int(chosen)
        except ValueError:
            raise StoreError(f"--run {chosen!r}: give a run id (see `python main.py runs`) or 'last'") from None
        if not self.rows(select(runs.c.id).where(runs.c.id == run_id)):
            raise StoreError(f"no run {run_id} in the audit store {self.where} (see `python main.py runs`)")
        return run_id

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()


def print_runs(reader: StoreReader, limit: int = RECENT_RUNS) -> None:
    """The most recent runs, one line each, newest first."""
    runs, orders = schema.runs, schema.orders
    count = select(func.count()).where(orders.c.run_id == runs.c.id).scalar_subquery()
    rows = reader.rows(select(runs, count.label("orders")).order_by(runs.c.id.desc()).limit(limit))
    if not rows:
        raise StoreError(f"no runs in the audit store {reader.where} yet: run a backtest, paper or live first")
    for row in rows:
        started = _time(row["started_wall"])
        if row["ended_wall"] is None:
            took, outcome = "-", "running, or ended without closing the store (killed?)"
        else:
            took, outcome = f"{row['ended_wall'] - row['started_wall']:.1f}s", row["outcome"]
        combination = swept(row["config_text"])
        if combination:
            outcome += f"  sweep {combination}"
        print(f"{row['id']:>5}  {row['mode']:<8} {started}  {took:>8}  {row['orders']:>6} orders  {outcome}  "
              f"{_sources(row['sources'])}")  # fmt: skip


def print_orders(reader: StoreReader, run: str, market: str | None, strategy: str | None, csv: bool) -> None:
    """The run's orders as orders.csv has them (--csv), or as a table."""
    run_id = reader.run_id(run)
    t = schema.orders
    statement = select(t).where(t.c.run_id == run_id).order_by(t.c.seq)
    if market:
        statement = statement.where(t.c.market_id == market)
    if strategy:
        statement = statement.where(t.c.strategy == strategy)
    frame = sort_orders(pd.DataFrame(reader.rows(statement), columns=[*ORDER_COLUMNS, "seq"]))[ORDER_COLUMNS]
    if csv:
        write_orders_csv(frame, sys.stdout)
        return
    if frame.empty:
        print(f"run {run_id}: no orders" + (" matching the filters" if market or strategy else ""))
        return
    shown_columns = ["strategy", "market_id", "selection_id", "side", "price", "size", "placed_at", "status",
                     "size_matched", "average_price_matched", "profit", "hedge"]  # fmt: skip
    print(f"run {run_id}: {len(frame)} order(s)")
    print(frame[shown_columns].to_string(index=False, na_rep="-", float_format=lambda v: f"{v:.2f}"))


def print_pnl(reader: StoreReader, run: str, by: str) -> None:
    """Settled P&L of the run (gross, commission, net) by market, strategy or exchange day, with a total."""
    run_id = reader.run_id(run)
    t = schema.pnl
    frame = pd.DataFrame(reader.rows(select(t).where(t.c.run_id == run_id)))
    if frame.empty:
        print(f"run {run_id}: no settled markets")
        return
    keys = PNL_KEYS[by]
    table = frame.groupby(keys, as_index=False)[["gross", "commission", "net"]].sum().round(2).sort_values(keys)
    total = {**dict.fromkeys(keys, ""), "gross": frame["gross"].sum(), "commission": frame["commission"].sum(),
             "net": frame["net"].sum()}  # fmt: skip
    total[keys[0]] = "TOTAL"
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    print(f"run {run_id}: settled P&L by {by}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


def _time(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _sources(text: str) -> str:
    try:
        sources = json.loads(text)
    except ValueError:
        return ""
    if sources and all(isinstance(s, str) for s in sources):
        names = [os.path.basename(s) for s in sources]
        return ", ".join(names[:3]) + (f" (+{len(names) - 3} more)" if len(names) > 3 else "")
    return f"{len(sources)} market filter(s)"
