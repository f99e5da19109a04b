"""The replay: recorded messages published on the exchange at their market time, in the replay clock's time."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from emulator.book import MarketState
from emulator.orders import Order
from emulator.placement import NEVER
from emulator.replay import Message, shifted

if TYPE_CHECKING:
    from emulator.exchange import Exchange

logger = logging.getLogger("paddock.emulator")


def replay(exchange: Exchange) -> None:
    """Publish every message when the replay clock reaches its offset; the replay thread runs this."""
    stop = exchange.stopping
    for message in exchange.messages:
        with exchange.lock:
            exchange.next_ms = message.ms
        while not stop.is_set():
            remaining = exchange.clock.wall_due(message.offset) - time.monotonic()  # the speed may change meanwhile
            if remaining <= 0:
                break
            stop.wait(min(remaining, 0.05))
        if stop.is_set():
            return
        publish(exchange, message)
    with exchange.lock:
        exchange.next_ms = NEVER
        exchange.finished_at = time.monotonic()
        exchange.changed.notify_all()
    logger.info("replay finished: %d messages", len(exchange.messages))
    exchange.finished.set()


def publish(exchange: Exchange, message: Message) -> None:
    """Apply one replayed message to the book and the orders, and push it to subscribers.

    Placements due on it reach the book first, as it stood before the message. Its publish time is
    the replay's start plus its offset; times in its market definitions move by the same shift."""
    with exchange.lock:
        pt = exchange.clock.at(message.offset)
        if exchange.placements:
            exchange.decide(list(exchange.placements), message.ms)
        changes = shifted(message.changes, pt - message.pt)
        changed: dict[str, Order] = {}
        engine = exchange.engine
        for change in changes:
            market_id = str(change["id"])
            market = exchange.markets.get(market_id)
            if market is None:
                market = exchange.markets[market_id] = MarketState(market_id)
            before = (market.status, market.in_play)
            removed = market.removed()
            traded = market.apply(change)
            newly = {s: f for s, f in market.removed().items() if s not in removed}
            if newly:
                changed.update((o.bet_id, o) for o in engine.on_removals(market, newly, pt))
            changed.update((o.bet_id, o) for o in engine.on_change(market, change, traded, before, pt))
            if market.status == "CLOSED" and market_id not in exchange.settled:
                exchange.settled[market_id] = pt
        exchange.published += 1
        late_ms, conflated = exchange.message_faults.marks()
        for batch in exchange.message_faults.batches(changes):
            clk = exchange.clk()
            for sub in list(exchange.subscribers):
                sub.market_changes(batch, pt - late_ms, clk, conflated)
        if changed:
            exchange.push_orders(list(changed.values()), pt)
        exchange.changed.notify_all()
