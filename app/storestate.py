"""What the audit store says a restart inherits, read once at the start of paper and live: the kill switch's
last change, today's realised P&L per market, and the orders that were still open."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Engine, and_, func, or_, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from core import auditschema as schema
from core.auditdb import describe, shown
from core.errors import StoreError
from core.greenup import Fill

T = TypeVar("T")
LIVE_STATUSES = ("Pending", "Cancelling", "Updating", "Replacing", "Executable")  # flumine's LIVE_STATUS values
TRIPPED = ("HALTED", "REDUCING")


@dataclass(frozen=True)
class StoredOrder:
    """An order row of an earlier run that may still be open on the exchange."""

    run_id: int
    order_id: str
    bet_id: str | None
    strategy: str
    market_id: str
    selection_id: int
    side: str
    status: str | None
    size_matched: float


@dataclass(frozen=True)
class StoredChange:
    """The latest kill-switch event of the mode's runs."""

    run_id: int
    at: float
    action: str
    state: str
    source: str
    reason: str


class StoreState:
    """Read-only questions about the earlier runs of one mode; any failure is one StoreError naming the store."""

    def __init__(self, engine: Engine, url: URL, mode: str, run_id: int) -> None:
        self.engine = engine
        self.url = url
        self.mode = mode
        self.run_id = run_id  # this run: left out of every answer

    def _runs(self):
        r = schema.runs
        return select(r.c.id).where(and_(r.c.mode == self.mode, r.c.id != self.run_id))

    def _read(self, what: str, query: Callable[[object], T]) -> T:
        try:
            with self.engine.connect() as connection:
                return query(connection)
        except SQLAlchemyError as exc:
            raise StoreError(f"audit store {shown(self.url)}: cannot read {what}: {describe(exc)}") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise StoreError(f"audit store {shown(self.url)}: {what} is damaged: {exc}") from None

    def last_kill_change(self) -> StoredChange | None:
        """The newest trip or reset the store holds for this mode, or None."""
        k = schema.kill_switch_events

        def query(connection) -> StoredChange | None:
            row = connection.execute(
                select(k).where(k.c.run_id.in_(self._runs())).order_by(k.c.at.desc(), k.c.id.desc()).limit(1)
            ).first()
            if row is None:
                return None
            if row.state not in (*TRIPPED, "ACTIVE"):
                raise ValueError(f"kill_switch_events row {row.id} has state {row.state!r}")
            return StoredChange(row.run_id, float(row.at), row.action, row.state, row.source, row.reason)

        return self._read("the kill switch's history (kill_switch_events)", query)

    def realised(self, day: str) -> dict[str, float]:
        """Gross realised P&L per market settled on the exchange day `day` (the latest run that settled it)."""
        p = schema.pnl

        def query(connection) -> dict[str, float]:
            rows = connection.execute(
                select(p.c.run_id, p.c.market_id, func.sum(p.c.gross))
                .where(and_(p.c.day == day, p.c.run_id.in_(self._runs())))
                .group_by(p.c.run_id, p.c.market_id)
                .order_by(p.c.run_id)
            ).all()
            return {str(market_id): round(float(gross), 2) for _, market_id, gross in rows}  # later runs win

        return self._read(f"today's P&L (pnl, day {day})", query)

    def open_orders(self) -> list[StoredOrder]:
        """Orders that were executable (or matched in a market not settled) when their run ended."""
        o, m = schema.orders, schema.markets
        settled = select(m.c.market_id).where(m.c.settled.is_(True))
        condition = and_(
            o.c.run_id.in_(self._runs()),
            or_(
                o.c.status.in_(LIVE_STATUSES),
                o.c.status.is_(None),
                and_(o.c.size_matched > 0, ~o.c.market_id.in_(settled)),
            ),
        )
        return self._read("the orders of earlier runs (orders)", lambda c: self._orders(c, condition))

    def open_positions(self) -> dict[str, tuple[list[Fill], list[Fill], list[int]]]:
        """Per market not closed: the matched and unmatched parts of the earlier runs' orders, and its runners."""
        o, m = schema.orders, schema.markets
        closed = select(m.c.market_id).where(m.c.closed.is_(True))

        def query(connection) -> dict[str, tuple[list[Fill], list[Fill], list[int]]]:
            rows = connection.execute(
                select(
                    o.c.market_id,
                    o.c.selection_id,
                    o.c.side,
                    o.c.price,
                    o.c.size,
                    o.c.status,
                    o.c.size_matched,
                    o.c.average_price_matched,
                    o.c.size_cancelled,
                    o.c.size_lapsed,
                    o.c.size_voided,
                )  # fmt: skip
                .where(and_(o.c.run_id.in_(self._runs()), ~o.c.market_id.in_(closed)))
                .order_by(o.c.run_id, o.c.seq)
            ).all()
            runners = connection.execute(select(m.c.market_id, m.c.runners).where(m.c.run_id.in_(self._runs()))).all()
            out: dict[str, tuple[list[Fill], list[Fill], list[int]]] = {}
            for r in rows:
                matched, unmatched, ids = out.setdefault(str(r[0]), ([], [], []))
                ids.append(int(r[1]))
                if r[6] and r[7]:
                    matched.append(Fill(int(r[1]), str(r[2]), float(r[7]), float(r[6])))
                rest = float(r[4] or 0) - float(r[6] or 0) - float(r[8] or 0) - float(r[9] or 0) - float(r[10] or 0)
                if r[5] in LIVE_STATUSES and rest > 0.005 and r[3]:
                    unmatched.append(Fill(int(r[1]), str(r[2]), float(r[3]), round(rest, 2)))
            for market_id, text in runners:
                if str(market_id) in out and text:
                    out[str(market_id)][2].extend(int(k) for k in json.loads(text))
            return {k: (v[0], v[1], sorted(set(v[2]))) for k, v in out.items()}

        return self._read("the open positions of earlier runs (orders)", query)

    def known(self, market_ids: Iterable[str]) -> dict[str, StoredOrder]:
        """Every order of earlier runs in these markets, by order id (the newest run's row when two have it)."""
        ids = sorted(set(market_ids))
        if not ids:
            return {}
        o = schema.orders
        condition = and_(o.c.run_id.in_(self._runs()), o.c.market_id.in_(ids))
        rows = self._read("the orders of earlier runs (orders)", lambda c: self._orders(c, condition))
        return {row.order_id: row for row in rows}

    @staticmethod
    def _orders(connection, condition) -> list[StoredOrder]:
        o = schema.orders
        columns = (o.c.run_id, o.c.order_id, o.c.bet_id, o.c.strategy, o.c.market_id, o.c.selection_id, o.c.side,
                   o.c.status, o.c.size_matched)  # fmt: skip
        rows = connection.execute(select(*columns).where(condition).order_by(o.c.run_id, o.c.seq)).all()
        return [
            StoredOrder(int(r[0]), str(r[1]), r[2], str(r[3]), str(r[4]), int(r[5]), str(r[6]), r[7], float(r[8]))
            for r in rows
        ]
