"""Small hand-made recordings, replayed message by message through the emulator's exchange and through flumine's
backtest with the same orders placed on the same books, so the two can be compared order by order."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

from flumine import BaseStrategy, FlumineSimulation, clients
from flumine.order.order import LimitOrder
from flumine.order.trade import Trade

from core.replayfile import RecordingStream
from emulator.betting import answer_placement, submit_placement
from emulator.exchange import Exchange
from emulator.placement import NEVER
from emulator.replay import timeline
from emulator.replayer import publish

MARKET = "1.900000001"
T = 1_700_000_000_000  # the first message's publish time
DEFINITION = {
    "bspMarket": False,
    "turnInPlayEnabled": True,
    "persistenceEnabled": True,
    "marketBaseRate": 5.0,
    "eventId": "90000001",
    "eventTypeId": "7",
    "numberOfWinners": 1,
    "bettingType": "ODDS",
    "marketType": "WIN",
    "marketTime": "2023-11-14T22:30:00.000Z",
    "suspendTime": "2023-11-14T22:30:00.000Z",
    "bspReconciled": False,
    "complete": True,
    "inPlay": False,
    "crossMatching": True,
    "runnersVoidable": False,
    "numberOfActiveRunners": 3,
    "betDelay": 0,
    "status": "OPEN",
    "runners": [{"status": "ACTIVE", "sortPriority": i + 1, "id": sid} for i, sid in enumerate((11, 12, 13))],
    "regulators": ["MR_INT"],
    "countryCode": "GB",
    "discountAllowed": True,
    "timezone": "Europe/London",
    "openDate": "2023-11-14T22:30:00.000Z",
    "version": 1,
}


def definition(runners: dict[int, dict] | None = None, **fields) -> dict:
    """The scenario market's definition with some fields changed (runners: per selection id, fields to change)."""
    out = copy.deepcopy(DEFINITION) | fields
    for runner in out["runners"]:
        runner.update((runners or {}).get(runner["id"], {}))
    out["version"] = fields.get("version", 1)
    return out


def write(path: Path, messages: list[tuple[int, dict]]) -> Path:
    """A recording of (ms after T, market change) messages."""
    lines = [
        json.dumps({"op": "mcm", "clk": str(i), "pt": T + ms, "mc": [{"id": MARKET, **mc}]})
        for i, (ms, mc) in enumerate(messages)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def instruction(selection_id: int, side: str, price: float, size: float, **limit) -> dict:
    """A LIMIT instruction as flumine sends it."""
    return {
        "selectionId": selection_id,
        "handicap": 0,
        "side": side,
        "orderType": "LIMIT",
        "limitOrder": {"price": price, "size": size, "persistenceType": "LAPSE"} | limit,
        "customerOrderRef": f"{side}-{selection_id}-{price}",
    }


@dataclass
class Emulated:
    """What the emulator did with the orders: the answers, and on which message each placement reached the book."""

    exchange: Exchange
    answers: list[dict] = field(default_factory=list)
    reached: list[int | None] = field(default_factory=list)  # index of the message it was decided on (before it)


def emulate(path: Path, orders: dict[int, list[dict]], subscriber=None) -> Emulated:
    """Replay the recording message by message; after message i, place orders[i] (each its own placeOrders)."""
    messages = timeline([path])
    exchange = Exchange(messages)
    if subscriber is not None:
        exchange.subscribe(subscriber)
    exchange.clock.start()
    placements = []
    reached: list[int | None] = []
    for index, message in enumerate(messages):
        exchange.next_ms = message.ms
        publish(exchange, message)
        for n, (_, placement) in enumerate(placements):
            if reached[n] is None and placement.done.is_set():
                reached[n] = index
        for one in orders.get(index, ()):
            params = {"marketId": MARKET, "instructions": [one], "customerStrategyRef": "test"}
            placements.append((params, submit_placement(exchange, params, arrived_ms=message.ms)))
            reached.append(None)
    exchange.next_ms = NEVER
    answers = [answer_placement(exchange, params, placement) for params, placement in placements]
    return Emulated(exchange, answers, reached)


class _Placer(BaseStrategy):
    """Places the given instructions on the book of the given publish times."""

    def __init__(self, orders: dict[int, list[dict]], *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.orders = orders
        self.placed: list = []

    def check_market_book(self, market, market_book) -> bool:
        return True

    def process_market_book(self, market, market_book) -> None:
        for one in self.orders.pop(market_book.publish_time_epoch, ()):
            limit = one["limitOrder"]
            trade = Trade(market.market_id, one["selectionId"], 0, self)
            kind = LimitOrder(
                limit["price"],
                limit["size"],
                persistence_type=limit.get("persistenceType", "LAPSE"),
                time_in_force=limit.get("timeInForce"),
                min_fill_size=limit.get("minFillSize"),
            )
            order = trade.create_order(side=one["side"], order_type=kind)
            market.place_order(order)
            self.placed.append(order)


def backtest(path: Path, orders: dict[int, list[dict]]) -> list:
    """flumine's backtest of the recording with orders[i] placed on the book of message i; the orders placed."""
    pts = [json.loads(line)["pt"] for line in path.read_text().splitlines()]
    strategy = _Placer(
        {pts[i]: list(o) for i, o in orders.items()},
        streams=[RecordingStream(str(path))],
        max_live_trade_count=100,  # flumine's default of 1 per runner would refuse a scenario's second order
        max_trade_count=100,
    )
    framework = FlumineSimulation(client=clients.SimulatedClient())
    framework.add_strategy(strategy)
    framework.run()
    return strategy.placed


class Listening:
    """A stand-in stream connection (the edge of the exchange): keeps every order change it is sent."""

    def __init__(self) -> None:
        self.orders: list[dict] = []

    def market_changes(self, changes: list[dict], pt: int, clk: str, conflated: bool = False) -> None:
        """Market data is not looked at."""

    def order_changes(self, oc: list[dict], pt: int, clk: str) -> None:
        """Keep every uo entry."""
        self.orders.extend(uo for market in oc for runner in market["orc"] for uo in runner["uo"])

    def status_503(self, pt: int, clk: str) -> None:
        """Not used."""

    def close(self) -> None:
        """Not used."""
