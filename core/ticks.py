"""Tick arithmetic on Betfair's price ladder: how far prices moved, and a position's move in its favour."""

from __future__ import annotations

from flumine.utils import PRICES_FLOAT

from core.positions import Positions


def ticks_between(entry: float, now: float) -> int | None:
    """Ladder ticks from entry to now (positive when now is higher); None off the ladder."""
    try:
        return PRICES_FLOAT.index(now) - PRICES_FLOAT.index(entry)
    except ValueError:
        return None


def nearest_tick(price: float) -> float:
    """The ladder price closest to a price (an average matched price need not be on the ladder)."""
    return min(PRICES_FLOAT, key=lambda p: abs(p - price))


def tick_moves(pos: Positions, backs: dict[int, float], lays: dict[int, float]) -> dict[int, int]:
    """Per selection with a net position: ticks the price moved in its favour (back: lay price fell)."""
    out: dict[int, int] = {}
    for selection_id in {f.selection_id for f in pos.matched}:
        fills = [f for f in pos.matched if f.selection_id == selection_id]
        backed = sum(f.size for f in fills if f.side == "BACK")
        laid = sum(f.size for f in fills if f.side == "LAY")
        if abs(backed - laid) < 0.01:
            continue
        side = "BACK" if backed > laid else "LAY"
        same = [f for f in fills if f.side == side]
        entry = nearest_tick(sum(f.price * f.size for f in same) / sum(f.size for f in same))
        exit_price = lays.get(selection_id) if side == "BACK" else backs.get(selection_id)
        if exit_price is None:
            continue
        moved = ticks_between(entry, exit_price)
        if moved is not None:
            out[selection_id] = -moved if side == "BACK" else moved
    return out
