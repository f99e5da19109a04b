"""An order on the emulated exchange and how it reads on the order stream, in current and cleared orders."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

SIDE_CODE = {"BACK": "B", "LAY": "L"}
PERSISTENCE_CODE = {"LAPSE": "L", "PERSIST": "P", "MARKET_ON_CLOSE": "MOC"}


def iso(ms: int | None) -> str | None:
    """Milliseconds since the epoch as Betfair's ISO time."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@dataclass
class Order:
    """One bet: its instruction, its fills and what happened to the rest."""

    bet_id: str
    market_id: str
    selection_id: int
    handicap: float
    side: str
    price: float
    size: float
    persistence: str
    time_in_force: str | None
    min_fill_size: float | None
    rfo: str
    rfs: str
    placed_ms: int
    fills: list[tuple[float, float]] = field(default_factory=list)
    size_cancelled: float = 0.0
    size_lapsed: float = 0.0
    size_voided: float = 0.0
    queue_ahead: float = 0.0
    matched_ms: int | None = None
    cancelled_ms: int | None = None
    lapsed_ms: int | None = None
    price_reduced: bool = False  # fills repriced by a non-runner's reduction factor

    @property
    def size_matched(self) -> float:
        """Stake matched so far."""
        return round(sum(size for _, size in self.fills), 2)

    @property
    def average_price(self) -> float:
        """Average price matched (0 when nothing matched)."""
        matched = sum(size for _, size in self.fills)
        return round(sum(p * s for p, s in self.fills) / matched, 2) if matched else 0.0

    @property
    def remaining(self) -> float:
        """Stake still waiting in the market."""
        left = self.size - self.size_matched - self.size_cancelled - self.size_lapsed - self.size_voided
        return round(max(left, 0.0), 2)

    @property
    def complete(self) -> bool:
        """Nothing left to match."""
        return self.remaining <= 0

    @property
    def status(self) -> str:
        """EXECUTABLE or EXECUTION_COMPLETE."""
        return "EXECUTION_COMPLETE" if self.complete else "EXECUTABLE"

    def fill(self, price: float, size: float, now_ms: int) -> None:
        """Match part of the order at a price."""
        size = round(min(size, self.remaining), 2)
        if size > 0:
            self.fills.append((price, size))
            self.matched_ms = now_ms

    def cancel(self, now_ms: int, reduction: float | None = None) -> float:
        """Cancel all or part of what remains; returns the size cancelled."""
        size = self.remaining if reduction is None else round(min(reduction, self.remaining), 2)
        self.size_cancelled = round(self.size_cancelled + size, 2)
        self.cancelled_ms = now_ms
        return size

    def lapse(self, now_ms: int) -> float:
        """Lapse what remains; returns the size lapsed."""
        size = self.remaining
        if size > 0:
            self.size_lapsed = round(self.size_lapsed + size, 2)
            self.lapsed_ms = now_ms
        return size

    def reduce(self, factor: float) -> None:
        """Reprice the fills so far by a removed runner's reduction factor (percent), never below 1.01."""
        self.fills = [(max(round(price * (1 - factor / 100), 2), 1.01), size) for price, size in self.fills]
        self.price_reduced = True

    def void(self, now_ms: int) -> None:
        """Void the matched part (runner removed) and lapse the rest."""
        self.lapse(now_ms)
        self.size_voided = round(self.size_voided + self.size_matched, 2)
        self.fills.clear()

    def uo(self) -> dict:
        """This order as an order-stream 'uo' entry."""
        data = {
            "id": self.bet_id,
            "p": self.price,
            "s": self.size,
            "side": SIDE_CODE[self.side],
            "status": "EC" if self.complete else "E",
            "pt": PERSISTENCE_CODE.get(self.persistence, "L"),
            "ot": "L",
            "pd": self.placed_ms,
            "sm": self.size_matched,
            "sr": self.remaining,
            "sl": self.size_lapsed,
            "sc": self.size_cancelled,
            "sv": self.size_voided,
            "avp": self.average_price,
            "rac": "",
            "rc": "REG_GGC",
            "rfo": self.rfo,
            "rfs": self.rfs,
        }
        if self.matched_ms is not None:
            data["md"] = self.matched_ms
        if self.cancelled_ms is not None:
            data["cd"] = self.cancelled_ms
        if self.lapsed_ms is not None:
            data["ld"] = self.lapsed_ms
        return data

    def current(self) -> dict:
        """This order as a listCurrentOrders entry."""
        return {
            "betId": self.bet_id,
            "marketId": self.market_id,
            "selectionId": self.selection_id,
            "handicap": self.handicap,
            "priceSize": {"price": self.price, "size": self.size},
            "bspLiability": 0.0,
            "side": self.side,
            "status": self.status,
            "persistenceType": self.persistence,
            "orderType": "LIMIT",
            "placedDate": iso(self.placed_ms),
            "matchedDate": iso(self.matched_ms),
            "averagePriceMatched": self.average_price,
            "sizeMatched": self.size_matched,
            "sizeRemaining": self.remaining,
            "sizeLapsed": self.size_lapsed,
            "sizeCancelled": self.size_cancelled,
            "sizeVoided": self.size_voided,
            "regulatorCode": "GIBRALTAR REGULATOR",
            "customerOrderRef": self.rfo,
            "customerStrategyRef": self.rfs,
        }

    def profit(self, runner_status: str) -> float:
        """Settled profit of the matched part (before commission)."""
        won = runner_status == "WINNER"
        total = 0.0
        for price, size in self.fills:
            back = size * (price - 1.0) if won else -size
            total += back if self.side == "BACK" else -back
        return round(total, 2)

    def cleared(self, runner_status: str, event_type_id: str, event_id: str, settled_ms: int) -> dict:
        """This order as a SETTLED listClearedOrders entry."""
        won = runner_status == "WINNER"
        outcome = "WON" if (won and self.side == "BACK") or (not won and self.side == "LAY") else "LOST"
        return {
            "eventTypeId": event_type_id,
            "eventId": event_id,
            "marketId": self.market_id,
            "selectionId": self.selection_id,
            "handicap": self.handicap,
            "betId": self.bet_id,
            "placedDate": iso(self.placed_ms),
            "persistenceType": self.persistence,
            "orderType": "LIMIT",
            "side": self.side,
            "betOutcome": outcome,
            "priceRequested": self.price,
            "settledDate": iso(settled_ms),
            "lastMatchedDate": iso(self.matched_ms),
            "betCount": 1,
            "priceMatched": self.average_price,
            "priceReduced": self.price_reduced,
            "sizeSettled": self.size_matched,
            "profit": self.profit(runner_status),
            "customerOrderRef": self.rfo,
            "customerStrategyRef": self.rfs,
        }


def order_changes(orders: list[Order], closed_markets: set[str]) -> list[dict]:
    """Orders as the order stream's `oc` entries: by market, then by runner (and handicap)."""
    by_market: dict[str, dict[tuple, list[dict]]] = {}
    for order in orders:
        by_market.setdefault(order.market_id, {}).setdefault((order.selection_id, order.handicap), []).append(
            order.uo()
        )
    oc = []
    for market_id, runners in by_market.items():
        orc = []
        for (selection_id, handicap), uo in runners.items():
            entry = {"id": selection_id, "uo": uo}
            if handicap:
                entry["hc"] = handicap
            orc.append(entry)
        market_entry = {"id": market_id, "orc": orc}
        if market_id in closed_markets:
            market_entry["closed"] = True
        oc.append(market_entry)
    return oc
