"""Pre-race signals computed with numpy: weight of money, last traded price, order flow imbalance."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np


def weight_of_money(back_volume: float, lay_volume: float) -> float:
    """Share of available-to-back volume in the top levels of both sides (0..1; nan if empty)."""
    total = back_volume + lay_volume
    return back_volume / total if total > 0 else math.nan


def order_flow_imbalance(
    back_price: np.ndarray, back_size: np.ndarray, lay_price: np.ndarray, lay_size: np.ndarray
) -> float:
    """Cont-Kukanov-Stoikov order flow imbalance summed over a series of best-level observations.

    Available-to-back is the bid side and available-to-lay the ask side (in odds, best back < best lay):
    e_n = b_n*1[B_n >= B_n-1] - b_n-1*1[B_n <= B_n-1] - l_n*1[L_n <= L_n-1] + l_n-1*1[L_n >= L_n-1].
    Positive values mean pressure towards the back side growing. Needs two observations or more.
    """
    bp, bs, lp, ls = (np.asarray(a, dtype=float) for a in (back_price, back_size, lay_price, lay_size))
    if bp.size < 2:
        return 0.0
    e = (
        bs[1:] * (bp[1:] >= bp[:-1])
        - bs[:-1] * (bp[1:] <= bp[:-1])
        - ls[1:] * (lp[1:] <= lp[:-1])
        + ls[:-1] * (lp[1:] >= lp[:-1])
    )
    return float(e.sum())


@dataclass(frozen=True)
class RunnerSignals:
    """Signals of one runner over the latest window of observations."""

    selection_id: int
    observations: int
    weight_of_money: float
    order_flow_imbalance: float
    last_traded_price: float | None
    best_back: float | None
    best_lay: float | None


def compute_signals(selection_id: int, rows: np.ndarray) -> RunnerSignals:
    """Signals from an (n, 7) array of observations as kept by the signal buffer."""
    last = rows[-1]
    ltp = rows[:, 6][~np.isnan(rows[:, 6])]
    return RunnerSignals(
        selection_id=selection_id,
        observations=len(rows),
        weight_of_money=weight_of_money(last[4], last[5]),
        order_flow_imbalance=order_flow_imbalance(rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]),
        last_traded_price=float(ltp[-1]) if ltp.size else None,
        best_back=None if math.isnan(last[0]) else float(last[0]),
        best_lay=None if math.isnan(last[2]) else float(last[2]),
    )


class SignalReader(Protocol):
    """Where a strategy reads its runners' signals (the signal buffer middleware implements it)."""

    def runner(self, market_id: str, selection_id: int, window: int | None = None) -> RunnerSignals | None:
        """Signals over the last `window` observations of a runner, or None if none were recorded."""
        ...


class NoSignals:
    """The signal reader of a strategy that declares no use of signals: nothing is observed."""

    def runner(self, market_id: str, selection_id: int, window: int | None = None) -> RunnerSignals | None:
        """Always None."""
        return None
