"""Timing the path from a market message to a matched order: wall times of each step, turned into stage samples.

Told by the parts that see each step: the market stream's listener (a message received), the order dispatcher
(a strategy queued an order), the execution (placeOrders sent, answered) and the order stream (matched). All
times are wall time (the exchange's publish time is its wall clock), read through one clock."""

from __future__ import annotations

import threading
from collections import OrderedDict

from core.clock import Clock
from core.latency import ACKNOWLEDGED, DECISION, MATCHED, PUBLISH, SENT, StageLatency

RECEIPTS_KEPT = 1024  # per market: receipts of recent messages, for a strategy still working through a backlog
# (64 was too few: on a busy machine, a bot 80 messages behind on one market timed no decision at all)


class OrderTimings:
    """Wall times of each order's steps; each step completed records the stage since the one before."""

    def __init__(self, wall: Clock, latency: StageLatency | None = None) -> None:
        self.wall = wall
        self.latency = latency or StageLatency()
        self._lock = threading.Lock()
        self._receipts: dict[str, OrderedDict[int, float]] = {}  # market id -> publish time (ms) -> received
        self._decided: dict[str, float] = {}  # order id -> when queued
        self._sent: dict[str, float] = {}
        self._acknowledged: dict[str, float] = {}
        self._matched: set[str] = set()

    def received(self, received_at: float, publish_time_ms: int, market_ids: list[str]) -> None:
        """A market change message was read from the stream socket at received_at (the stream's thread)."""
        self.latency.record(PUBLISH, received_at - publish_time_ms / 1000.0)
        with self._lock:
            for market_id in market_ids:
                kept = self._receipts.get(market_id)
                if kept is None:
                    kept = self._receipts[market_id] = OrderedDict()
                kept.setdefault(publish_time_ms, received_at)  # the first copy of a message is when it arrived
                if len(kept) > RECEIPTS_KEPT:
                    kept.popitem(last=False)

    def decided(self, market, order) -> None:
        """A strategy (or the hedger) queued an order while its market's latest book is the one in hand."""
        now = self.wall.now()
        self._decided[order.id] = now
        book = market.market_book
        if book is None:
            return
        with self._lock:
            received = self._receipts.get(market.market_id, {}).get(book.publish_time_epoch)
        if received is not None:
            self.latency.record(DECISION, now - received)

    def sent(self, order_package) -> None:
        """A placeOrders request is about to go (an execution thread)."""
        now = self.wall.now()
        for order in order_package:
            decided = self._decided.pop(order.id, None)
            if decided is not None:
                self._sent[order.id] = now
                self.latency.record(SENT, now - decided)

    def answered(self, order_package) -> None:
        """The placeOrders answer came back (an execution thread)."""
        now = self.wall.now()
        for order in order_package:
            with self._lock:  # against order_update on the main thread: a match is counted once, either way round
                sent = self._sent.pop(order.id, None)
                if sent is None:
                    continue
                matched_first = order.id in self._matched
                if matched_first:
                    self._matched.discard(order.id)
                else:
                    self._acknowledged[order.id] = now
            self.latency.record(ACKNOWLEDGED, now - sent)
            if matched_first:  # the order stream told of the match before the answer came
                self.latency.record(MATCHED, 0.0)

    def order_update(self, order) -> None:
        """The order stream reported on an order (flumine's main thread, after it took the update in)."""
        if order.size_matched <= 0:
            return
        with self._lock:
            acknowledged = self._acknowledged.pop(order.id, None)
            if acknowledged is None and order.id in self._sent:
                self._matched.add(order.id)  # matched before the answer: counted as 0 when it comes
        if acknowledged is not None:
            self.latency.record(MATCHED, max(0.0, self.wall.now() - acknowledged))
