"""Live start: what the exchange holds against what the audit store knows, settled before the first book.

The exchange is asked (listCurrentOrders, listClearedOrders) about every market the store has open orders in
or the strategies subscribe to. An exchange order of a configured strategy (flumine's strategy-name hash in its
customerOrderRef) the store does not know is adopted into that strategy's position (`[recovery] adopt`; else it
is external, like every order naming no strategy of ours); an order the store knows is taken in again with its
row kept in the run that placed it; a store order gone from the exchange's current orders gets its final state
from the cleared orders. The outcome is one line, printed and stored."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TextIO

from flumine.events.events import CurrentOrdersEvent
from flumine.utils import STRATEGY_NAME_HASH_LENGTH
from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError

from app.framework import Framework
from app.storestate import StoredOrder, StoreState
from controls.daybook import day_of
from core import auditschema as schema
from core.auditdb import describe, shown
from core.errors import StoreError
from core.settlement import market_commission

logger = logging.getLogger("paddock.recovery")

CHUNK = 100  # market ids per listCurrentOrders / listClearedOrders call
PAGE = 1000  # records per page
CLEARED_STATUSES = ("SETTLED", "VOIDED", "LAPSED", "CANCELLED")


@dataclass
class Tally:
    """What one reconciliation found."""

    markets: int = 0
    adopted: list[str] = field(default_factory=list)  # bet ids
    closed: list[str] = field(default_factory=list)  # order ids
    unchanged: list[str] = field(default_factory=list)  # order ids
    external: list[str] = field(default_factory=list)  # bet ids
    missing: list[str] = field(default_factory=list)  # order ids

    def line(self) -> str:
        """The one line a start prints and stores."""
        text = (
            f"reconciliation: {len(self.adopted)} adopted, {len(self.closed)} closed, {len(self.unchanged)} unchanged, "
            f"{len(self.external)} external"
        )
        if self.missing:
            text += f", {len(self.missing)} missing from the exchange"
        return f"{text} ({self.markets} market(s) asked)"


class Reconciler:
    """Runs once on flumine's main thread when it starts: logged in, before its streams start."""

    def __init__(self, framework: Framework, client, state: StoreState | None, out: TextIO | None = None) -> None:
        self.framework = framework
        self.client = client
        self.state = state
        self.out = out or sys.stderr
        self.betting = client.betting_client.betting

    def run(self) -> Tally:
        """Ask, compare, take orders in, write the store; returns the tally (its line printed and stored)."""
        flumine = self.framework.flumine
        audit = self.framework.audit
        open_orders = self.state.open_orders() if self.state else []
        markets = {o.market_id for o in open_orders} | self._subscribed()
        current = self._current(markets)
        known = self.state.known(markets | {c.market_id for c in current}) if self.state else {}
        tally = Tally(markets=len(markets))
        hashes = flumine.strategies.hashes
        adopt = self.framework.config.app.recovery.adopt
        taken, seen = [], set()
        for order in current:
            ref = order.customer_order_ref or ""
            order_id = ref[STRATEGY_NAME_HASH_LENGTH + 1 :]
            seen.update((order_id, order.bet_id))
            stored = known.get(order_id)
            if ref[:STRATEGY_NAME_HASH_LENGTH] not in hashes or (stored is None and not adopt):
                tally.external.append(order.bet_id)
                if ref:
                    flumine.ignored_refs.add(ref)
                continue
            if stored is not None:
                _check_same(stored, order, self.state)
                tally.unchanged.append(order_id)
            else:
                tally.adopted.append(order.bet_id)
            taken.append(order)
        if audit is not None:
            audit.recorder.origins.update({oid: s.run_id for oid, s in known.items()})
        gone = [o for o in open_orders if o.order_id not in seen and (o.bet_id is None or o.bet_id not in seen)]
        self._close(gone, tally, {c.market_id for c in current})
        if taken:
            resource = _Resource(taken, self.client)
            flumine._process_current_orders(CurrentOrdersEvent([resource]))
        self._report(tally)
        return tally

    # --- the exchange ---

    def _subscribed(self) -> set[str]:
        ids: set[str] = set()
        for entry in self.framework.config.app.strategies:
            catalogues = self.betting.list_market_catalogue(filter=entry.market_filter.rest(), max_results=1000)
            ids.update(c.market_id for c in catalogues)
        return ids

    def _current(self, markets: set[str]) -> list:
        orders = []
        for chunk in _chunks(markets):
            start = 0
            while True:
                page = self.betting.list_current_orders(market_ids=chunk, from_record=start, record_count=PAGE)
                orders.extend(page.orders)
                if not page.more_available or not page.orders:
                    break
                start += len(page.orders)
        return orders

    def _cleared(self, markets: set[str]) -> dict[str, list]:
        """bet id -> its cleared entries (a matched part SETTLED, the rest LAPSED or CANCELLED ...)."""
        found: dict[str, list] = {}
        for chunk in _chunks(markets):
            for status in CLEARED_STATUSES:
                start = 0
                while True:
                    page = self.betting.list_cleared_orders(
                        bet_status=status, market_ids=chunk, from_record=start, record_count=PAGE
                    )
                    for order in page.orders:
                        found.setdefault(order.bet_id, []).append((status, order))
                        if order.customer_order_ref:  # a row killed before its bet id was written is found by ref
                            ref = order.customer_order_ref[STRATEGY_NAME_HASH_LENGTH + 1 :]
                            found.setdefault(f"ref:{ref}", []).append((status, order))
                    if not page.more_available or not page.orders:
                        break
                    start += len(page.orders)
        return found

    # --- the store ---

    def _close(self, gone: list[StoredOrder], tally: Tally, current_markets: set[str]) -> None:
        if not gone:
            return
        cleared = self._cleared({o.market_id for o in gone})
        self._settle([o for o in gone if o.market_id not in current_markets], cleared)
        audit = self.framework.audit
        for stored in gone:
            entries = _entries(cleared, stored)
            if not entries:
                tally.missing.append(stored.order_id)
                reason = "reconciliation: neither current nor cleared on the exchange"
                fields = None
            else:
                tally.closed.append(stored.order_id)
                reason = "reconciliation: closed while no bot ran (cleared orders)"
                fields = _final_fields(entries) | {"bet_id": entries[0][1].bet_id}
            if audit is None:
                continue
            audit.writer.origin[stored.order_id] = stored.run_id
            if fields is not None:
                audit.writer.put(("order_state", stored.order_id, fields))
            event = {
                "order_id": stored.order_id,
                "at": self.framework.clock.now(),
                "at_wall": audit.recorder.wall.now(),
                "status": fields["status"] if fields else stored.status,
                "size_matched": fields["size_matched"] if fields else stored.size_matched,
                "average_price_matched": fields.get("average_price_matched") if fields else None,
                "error_code": None,
                "reason": reason,
            }
            audit.writer.put(("event", event))

    def _settle(self, gone: list[StoredOrder], cleared: dict[str, list]) -> None:
        """Markets settled while no bot ran (none of their orders is current): their P&L per strategy, written to
        the store and, when settled today, counted in today's P&L (the daily loss limit, the drawdown)."""
        gross: dict[str, dict[str, float]] = {}
        days: dict[str, str] = {}
        unfound = {o.market_id for o in gone if not _entries(cleared, o)}
        for stored in gone:
            for status, order in _entries(cleared, stored):
                if status != "SETTLED":
                    continue
                by_strategy = gross.setdefault(stored.market_id, {})
                by_strategy[stored.strategy] = round(by_strategy.get(stored.strategy, 0.0) + (order.profit or 0.0), 2)
                at = order.settled_date.replace(tzinfo=dt.UTC).timestamp() if order.settled_date else None
                days[stored.market_id] = day_of(at if at is not None else self.framework.clock.now())
        layer, audit = self.framework.safety, self.framework.audit
        today = day_of(self.framework.clock.now())
        rate = self.framework.config.app.backtest.commission
        if audit is not None:  # every order found cleared: the market is done (not asked about again)
            for market_id in {o.market_id for o in gone} - unfound - set(gross):
                audit.writer.put(("market", {"market_id": market_id, "closed": True, "settled": True}))
        for market_id, by_strategy in gross.items():
            if market_id in unfound:
                continue  # some of its orders are not cleared yet: settled later, by the run that sees it
            total = round(sum(by_strategy.values()), 2)
            counted = "counted in today's P&L" if days[market_id] == today else f"settled on {days[market_id]}"
            print(f"market {market_id} settled while no bot ran: P&L {total:+.2f} ({counted})", file=self.out)
            if days[market_id] == today:
                layer.pnl.carried[market_id] = round(sum(by_strategy.values()), 2)
                layer.daybook.settled[market_id] = layer.pnl.carried[market_id]
            if audit is None:
                continue
            commission = market_commission(by_strategy, rate)
            for name, value in by_strategy.items():
                row = {"market_id": market_id, "strategy": name, "day": days[market_id], "gross": value,
                       "commission": commission.get(name, 0.0), "net": round(value - commission.get(name, 0.0), 2),
                       "settled_at": self.framework.clock.now()}  # fmt: skip
                audit.writer.put(("pnl", row))
            audit.writer.put(("market", {"market_id": market_id, "closed": True, "settled": True}))

    def _report(self, tally: Tally) -> None:
        line = tally.line()
        print(line, file=self.out, flush=True)
        logger.warning("%s", line)
        alerts = self.framework.safety.kill_switch.alerts
        if tally.external:
            alerts.send(
                "reconciliation: external orders",
                f"{len(tally.external)} order(s) on the exchange in this bot's markets are not its own (bet ids "
                f"{', '.join(tally.external[:10])}); they are left alone and out of its positions",
            )
        if tally.missing:
            alerts.send(
                "reconciliation: orders gone from the exchange",
                f"{len(tally.missing)} order(s) the store has open are neither current nor cleared on the exchange "
                f"(order ids {', '.join(tally.missing[:10])})",
            )
        audit = self.framework.audit
        if audit is None:
            return
        row = {
            "run_id": audit.run_id,
            "at_wall": audit.recorder.wall.now(),
            "markets": tally.markets,
            "adopted": len(tally.adopted),
            "closed": len(tally.closed),
            "unchanged": len(tally.unchanged),
            "external": len(tally.external),
            "missing": len(tally.missing),
            "line": line,
        }
        try:
            with audit.engine.begin() as connection:
                connection.execute(insert(schema.reconciliations), row)
        except SQLAlchemyError as exc:
            raise StoreError(
                f"audit store {shown(audit.url)}: the reconciliation not written: {describe(exc)}"
            ) from None


class _Resource:
    """Current orders as flumine's order handling takes them from the order stream (a list with its client)."""

    def __init__(self, orders: list, client) -> None:
        self.orders = orders
        self.client = client


def _check_same(stored: StoredOrder, current, state: StoreState | None) -> None:
    """An order the store knows must be the same bet on the exchange; anything else is a damaged store."""
    same = (
        stored.market_id == current.market_id
        and stored.selection_id == current.selection_id
        and stored.side == current.side
        and (stored.bet_id is None or stored.bet_id == current.bet_id)
    )
    if not same:
        where = shown(state.url) if state else "?"
        raise StoreError(
            f"audit store {where} is inconsistent with the exchange: order {stored.order_id} (run {stored.run_id}) "
            f"is bet {stored.bet_id} on {stored.market_id}/{stored.selection_id} {stored.side} in the store but bet "
            f"{current.bet_id} on {current.market_id}/{current.selection_id} {current.side} on the exchange"
        )


def _entries(cleared: dict[str, list], stored: StoredOrder) -> list:
    """The cleared entries of a store order: by its bet id, else by its order id in the customer ref."""
    return cleared.get(stored.bet_id or "") or cleared.get(f"ref:{stored.order_id}", [])


def _final_fields(entries: list[tuple[str, object]]) -> dict:
    """An order's final state from its cleared entries."""
    fields: dict = {"status": "Execution complete", "size_matched": 0.0, "size_voided": 0.0}
    for status, order in entries:
        if status == "SETTLED":
            fields["size_matched"] = round(order.size_settled or 0.0, 2)
            fields["average_price_matched"] = order.price_matched
            fields["profit"] = round(order.profit or 0.0, 2)
        elif status == "VOIDED":
            fields["size_voided"] = round(order.size_settled or 0.0, 2)
        elif status == "LAPSED":
            fields["size_lapsed"] = round(order.size_cancelled or 0.0, 2)
        else:
            fields["size_cancelled"] = round(order.size_cancelled or 0.0, 2)
    return fields


def _chunks(ids: Iterable[str]) -> list[list[str]]:
    ordered = sorted(ids)
    return [ordered[i : i + CHUNK] for i in range(0, len(ordered), CHUNK)]


def reconcile_at_start(framework: Framework, client, state: StoreState | None) -> Callable[[], None]:
    """The work for flumine's start: reconcile, and on any failure trip the switch (an exchange that cannot be
    asked, or a store that disagrees with it, is no state to trade in)."""

    def work() -> None:
        try:
            Reconciler(framework, client, state).run()
        except Exception as exc:  # noqa: BLE001 - fail closed, with one clear reason
            reason = str(exc) if isinstance(exc, StoreError) else f"{type(exc).__name__}: {exc}"
            print(f"reconciliation failed: {reason}", file=sys.stderr, flush=True)
            framework.safety.kill_switch.trip(f"reconciliation at start failed: {reason}", source="recovery")

    return work
