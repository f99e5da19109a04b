"""The audit recorder: turns what happens to orders, markets, refusals and the kill switch into rows for the store.

It runs where things happen (flumine's main thread) and only snapshots and queues; the writer
(controls/auditwriter.py) writes on the logging-control thread. An order's row is queued when flumine accepts
it, inside the transaction that sends it, so it precedes the placeOrders in the queue; live, the execution
waits for that row to be committed before the request goes (`durable`)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections import defaultdict

from flumine.markets.middleware import Middleware
from flumine.order.order import OrderStatus

from controls.auditwriter import AuditWriter
from controls.dataquality import QualityChange
from controls.dispatch import Refusal
from controls.killswitch import Change
from core.clock import Clock
from core.orderrow import STATE_COLUMNS, order_row
from core.settlement import market_commission, settled

logger = logging.getLogger("paddock.store")

DURABLE_TIMEOUT = 5.0  # seconds a live placeOrders waits for its order rows before it goes anyway (logged)
_DONE = (OrderStatus.EXECUTION_COMPLETE, OrderStatus.VIOLATION, OrderStatus.EXPIRED)
_FIGURES = re.compile(r"-?\d+(\.\d+)?")


def _day(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).date().isoformat()


class AuditRecorder(Middleware):
    """Queues the store's rows: a market middleware (markets seen, order state changes per update) and the
    listener of the order path, the kill switch and market closes."""

    def __init__(self, writer: AuditWriter, clock: Clock, wall: Clock, commission_rate: float) -> None:
        self.writer = writer
        self.clock = clock  # market time
        self.wall = wall
        self.commission_rate = commission_rate
        self._watched: dict[str, dict[str, list]] = defaultdict(dict)  # market id -> order id -> [order, snapshot]
        self._seq: dict[str, int] = {}  # order id -> the sequence number of its row (until it is durable)
        self._markets: dict[str, object] = {}  # market id -> flumine's market
        self._closed_day: dict[str, str] = {}  # market id -> the day it closed on (live: settled later)
        self._placed = 0
        self._settled: set[str] = set()  # markets whose P&L rows are written (live: cleared orders may rewrite)
        self._known: set[str] = set()  # order ids with a row: placed by this run, or carried over a restart
        self._counted: dict[str, int] = {}  # market id -> blotter size when its orders were last looked over
        self.origins: dict[str, int] = {}  # order id -> the earlier run whose row it is (set by reconciliation)
        writer.extra_handlers["CLEARED_ORDERS_META"] = self._cleared

    # --- flumine middleware ---

    def add_market(self, market) -> None:
        """A market seen for the first time."""
        self._markets[market.market_id] = market
        self.writer.put(("market", self._market_row(market)))

    def __call__(self, market) -> None:
        """Per update: a row for each state change of the market's open orders (a dict lookup when none)."""
        watched = self._watched.get(market.market_id)
        if watched:
            self._check(watched)

    # --- the order path, the kill switch, the framework ---

    def placed(self, market, order) -> None:
        """flumine accepted an order and is about to send it: its row, then its first state."""
        row = order_row(order, market)
        self._placed += 1
        row.update(
            seq=self._placed,
            order_id=str(order.id),
            bet_id=order.bet_id,
            customer_ref=_safe(lambda: order.customer_order_ref),
            handicap=order.handicap,
            placed_wall=self.wall.now(),
            note=json.dumps(order.notes, default=str) if getattr(order, "notes", None) else None,
        )
        self._known.add(str(order.id))
        self._seq[str(order.id)] = self.writer.put(("order", row))
        snapshot = _snapshot(order)
        self._watched[market.market_id][str(order.id)] = [order, snapshot]
        self._event(order, snapshot)

    def durable(self, order_package) -> None:
        """Live, on the execution's thread: wait until the package's order rows are committed."""
        seqs = [self._seq.pop(str(order.id), 0) for order in order_package]
        last = max(seqs, default=0)
        if last and not self.writer.wait_committed(last, DURABLE_TIMEOUT):
            logger.error(
                "audit store: order rows of package %s not committed after %ss; sending it anyway",
                order_package.id,
                DURABLE_TIMEOUT,
            )

    def refused(self, refusal: Refusal) -> None:
        """A control refused an order: counted per market, strategy and kind of reason."""
        kind = _FIGURES.sub("#", refusal.reason)[:300]
        self.writer.put(
            (
                "refusal",
                {
                    "market_id": refusal.market_id,
                    "strategy": refusal.strategy,
                    "reason": kind,
                    "example": refusal.reason,
                    "at": refusal.at,
                },
            )
        )

    def kill_switch(self, change: Change, event_id: str | None) -> None:
        """A trip or reset of the kill switch."""
        row = {
            "at": change.at,
            "action": change.action,
            "state": str(change.state),
            "source": change.source,
            "reason": change.reason,
            "event_id": event_id,
        }
        self.writer.put(("kill", row))

    def data_quality(self, change: QualityChange) -> None:
        """A market's new orders paused or resumed (the data-quality guard)."""
        self.writer.put(("quality", {**change.row(), "at_wall": self.wall.now()}))

    def orders_changed(self, markets) -> None:
        """Live: the order stream moved some orders; a row for each state change. An order on the exchange this
        run did not place (flumine took it in at a restart) is carried: written on."""
        for market in markets:
            if len(market.blotter) != self._counted.get(market.market_id, 0):
                self._counted[market.market_id] = len(market.blotter)
                for order in list(market.blotter):
                    if order.bet_id and str(order.id) not in self._known:
                        self.carry(market, order)
            self(market)

    def carry(self, market, order) -> None:
        """An order from before a restart: its row stays in the run that placed it (`origins`); one the store does
        not know gets a row in this run as adopted. Then its state changes are written as for any order."""
        order_id = str(order.id)
        self._known.add(order_id)
        origin = self.origins.get(order_id)
        if origin is not None:
            self.writer.origin[order_id] = origin
        else:
            row = order_row(order, market)
            self._placed += 1
            row.update(
                seq=self._placed,
                order_id=order_id,
                bet_id=order.bet_id,
                customer_ref=_safe(lambda: order.customer_order_ref),
                handicap=order.handicap,
                placed_wall=self.wall.now(),
                origin="adopted",
            )
            self.writer.put(("order", row))
        self._watched[market.market_id][order_id] = [order, None]  # its state as it stands is written next

    def market_closed(self, market) -> None:
        """A market closed: its orders' final states, winners, and its P&L once settled."""
        self._closed_day[market.market_id] = _day(self.clock.now())
        self._final(market, market.blotter)
        self.writer.put(("market", self._market_row(market)))

    def finish(self, markets) -> None:
        """The run ends: every order's state as it stands (markets that never closed too)."""
        for market in list(markets):
            self._final(market, market.blotter)

    # --- parts ---

    def _check(self, watched: dict[str, list]) -> None:
        for order_id, entry in list(watched.items()):
            order = entry[0]
            snapshot = _snapshot(order)
            if snapshot != entry[1]:
                entry[1] = snapshot
                self._event(order, snapshot)
                self.writer.put(
                    (
                        "order_state",
                        order_id,
                        {
                            "status": snapshot[0],
                            "size_matched": snapshot[1],
                            "average_price_matched": snapshot[2],
                            "bet_id": order.bet_id,
                        },
                    )
                )
            if order.status in _DONE:
                del watched[order_id]

    def _event(self, order, snapshot: tuple) -> None:
        status, size_matched, average = snapshot
        response = _safe(lambda: order.responses.place_response)
        error_code = getattr(response, "error_code", None)
        reason = order.violation_msg if order.status is OrderStatus.VIOLATION else None
        self.writer.put(
            (
                "event",
                {
                    "order_id": str(order.id),
                    "at": self.clock.now(),
                    "at_wall": self.wall.now(),
                    "status": status,
                    "size_matched": size_matched,
                    "average_price_matched": average,
                    "error_code": error_code,
                    "reason": reason,
                },
            )
        )

    def _final(self, market, orders) -> None:
        watched = self._watched.get(market.market_id)
        if watched:
            self._check(watched)
        for order in orders:
            row = order_row(order, market)
            fields = {k: row[k] for k in STATE_COLUMNS}
            fields["bet_id"] = order.bet_id
            self.writer.put(("order_state", str(order.id), fields))
        if market.closed and market.market_id not in self._settled and settled(market):
            self._settled.add(market.market_id)
            for op in self._settle(market):
                self.writer.put(op)

    def _settle(self, market) -> list[tuple]:
        """The P&L rows of a settled market, per strategy with its share of the commission."""
        gross: dict[str, float] = {}
        for order in market.blotter:
            name = order.trade.strategy.name
            gross[name] = gross.get(name, 0.0) + round(order.profit, 2)
        gross = {name: round(value, 2) for name, value in gross.items()}
        commission = market_commission(gross, self.commission_rate)
        now = self.clock.now()
        day = self._closed_day.get(market.market_id) or _day(now)
        ops: list[tuple] = [
            (
                "pnl",
                {
                    "market_id": market.market_id,
                    "strategy": name,
                    "day": day,
                    "gross": value,
                    "commission": commission.get(name, 0.0),
                    "net": round(value - commission.get(name, 0.0), 2),
                    "settled_at": now,
                },
            )
            for name, value in gross.items()
        ]
        ops.append(("market", {"market_id": market.market_id, "settled": True}))
        return ops

    def _cleared(self, event) -> list[tuple]:
        """Live, on the writer's thread: cleared orders came (settled, so final); their rows and the P&L."""
        by_market: dict[str, list] = defaultdict(list)
        for order in event.event:
            by_market[order.market_id].append(order)
        ops: list[tuple] = []
        for market_id, orders in by_market.items():
            for order in orders:
                fields = {
                    "profit": round(order.profit, 2),
                    "runner_status": order.runner_status,
                    "size_matched": round(order.size_matched, 2),
                    "size_voided": round(order.size_voided, 2),
                }
                ops.append(("order_state", str(order.id), fields))
            market = self._markets.get(market_id)
            if market is not None and market.closed and settled(market):
                ops.extend(self._settle(market))
        return ops

    def _market_row(self, market) -> dict:
        book = market.market_book
        definition = getattr(book, "market_definition", None)
        row: dict = {
            "market_id": market.market_id,
            "event_id": market.event_id,
            "event_type_id": market.event_type_id,
            "market_type": market.market_type,
            "closed": bool(market.closed),
        }
        if definition is not None:
            start = getattr(definition, "market_time", None)
            row.update(
                event_name=_safe(lambda: market.event_name) or getattr(definition, "event_name", None),
                market_name=getattr(definition, "name", None),
                market_start=start.replace(tzinfo=dt.UTC).timestamp() if start else None,
                runners=json.dumps({str(r.selection_id): getattr(r, "name", None) for r in definition.runners}),
            )
        if market.closed and book is not None:
            row["winners"] = json.dumps([r.selection_id for r in book.runners if r.status == "WINNER"])
        return row


def _snapshot(order) -> tuple:
    return (
        order.status.value if order.status else None,
        round(order.size_matched, 2),
        order.average_price_matched or None,
    )


def _safe(get):
    try:
        return get()
    except Exception:  # noqa: BLE001 - optional attributes of flumine objects
        return None
