"""When a placed order first meets the book: flumine's simulated latency model, counted from the request's arrival.

In a flumine backtest an order package created at market time T waits in FlumineSimulation's handler queue;
when the first book with publish time more than `config.place_latency` (0.12 s) after T arrives, the order is
placed against the market's book as it stood just before that update (`_check_pending_packages` runs before
the market takes the new book), and then that update's traded volume can fill it passively. In play it also
waits the market's betDelay; under a PASSIVE bet delay model an order that would not cross is placed after
the latency alone (SimulatedOrder.place answers DELAY only for aggressive ones). The emulator does the same
with T = A, the market time at which the placeOrders request arrived."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from flumine import config as flumine_config

from emulator.book import MarketState
from emulator.matching import InstructionError, MatchingEngine
from emulator.orders import Order, iso

LATENCY_MS = round(flumine_config.place_latency * 1000)  # flumine's simulated place latency (120 ms)
NEVER = 1 << 62  # a message time later than every message (the replay has ended)


@dataclass
class Placement:
    """One placeOrders call waiting for its orders to reach the book."""

    market_id: str
    instructions: list[dict]
    strategy_ref: str
    arrived_ms: int  # market ms (replay offset) when the request arrived
    delay_ms: int  # the in-play bet delay
    passive_delay: bool  # the market's betDelayModels has PASSIVE: orders that do not cross skip the delay
    reports: list[dict | None] = field(default_factory=list)  # per instruction, None until decided
    report_code: str | None = None  # the first failing instruction's report error code
    done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        if not self.reports:
            self.reports = [None] * len(self.instructions)

    @property
    def due_ms(self) -> int:
        """After this market ms every instruction has reached the book (latency and bet delay have passed)."""
        return self.arrived_ms + LATENCY_MS + self.delay_ms

    def reaches(self, message_ms: int) -> bool:
        """Whether flumine would try the orders on a message at message_ms (judged on the book before it).

        _check_pending_packages waits for elapsed > latency; execute_place then returns early while
        elapsed < latency + delay unless the bet delay model is PASSIVE."""
        passive_from = self.arrived_ms + LATENCY_MS + (0 if self.passive_delay else self.delay_ms)
        return message_ms > self.arrived_ms + LATENCY_MS and message_ms >= passive_from

    def pending(self) -> list[int]:
        """Indexes of the instructions not decided yet."""
        return [i for i, report in enumerate(self.reports) if report is None]


def crosses(market: MarketState, instruction: dict) -> bool:
    """Whether a LIMIT instruction would take offers now, as SimulatedOrder.place judges 'aggressive'."""
    runner = market.runner(int(instruction["selectionId"]), float(instruction.get("handicap") or 0.0))
    price = float(instruction["limitOrder"]["price"])
    if instruction.get("side") == "BACK":
        best = max(runner.available("atb"), default=1.01)
        return price <= best
    best = min(runner.available("atl"), default=1000.0)
    return price >= best


def delay_of(market: MarketState) -> tuple[int, bool]:
    """The bet delay an order placed now waits (ms), and whether the PASSIVE model lets passive orders skip it."""
    models = market.definition.get("betDelayModels") or ()
    return round(market.bet_delay * 1000), "PASSIVE" in models


def decide(
    placement: Placement, market: MarketState | None, engine: MatchingEngine, now_ms: int, message_ms: int | None = None
) -> list[Order]:
    """Put the placement's instructions that are due on the book now; returns the orders made.

    message_ms: the replayed message about to be applied (the book is the one before it), as flumine judges
    an order pending on that update; None: everything still waiting goes now (its time has passed quietly)."""
    made = []
    for index in placement.pending():
        instruction = placement.instructions[index]
        if message_ms is not None:
            if not placement.reaches(message_ms):
                continue
            delay_complete = message_ms > placement.due_ms
            if not delay_complete and _placeable(market, instruction) and crosses(market, instruction):
                continue  # SimulatedOrder.place answers DELAY: an aggressive order waits out the bet delay
        try:
            if market is None:
                raise InstructionError("INVALID_MARKET_ID", "INVALID_MARKET_ID")
            order = engine.place(market, instruction, placement.strategy_ref, now_ms)
        except InstructionError as exc:
            placement.report_code = placement.report_code or exc.report_code
            placement.reports[index] = failure(instruction, exc.instruction_code)
            continue
        made.append(order)
        killed = order.time_in_force == "FILL_OR_KILL" and order.size_matched == 0
        placement.reports[index] = {
            "status": "SUCCESS",
            "instruction": instruction,
            "betId": order.bet_id,
            "placedDate": iso(order.placed_ms),
            "averagePriceMatched": order.average_price,
            "sizeMatched": order.size_matched,
            "orderStatus": "EXPIRED" if killed else order.status,
        }
    if not placement.pending():
        placement.done.set()
    return made


def _placeable(market: MarketState | None, instruction: dict) -> bool:
    """Open market, runner not removed: what SimulatedOrder.place checks before it looks at the delay."""
    if market is None or market.status != "OPEN":
        return False
    return market.runner_status(int(instruction["selectionId"])) != "REMOVED"


def failure(instruction: dict, code: str) -> dict:
    """A failed instruction report."""
    return {"status": "FAILURE", "errorCode": code, "instruction": instruction}
