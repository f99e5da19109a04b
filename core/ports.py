"""The narrow port a strategy trades through: place, cancel, hedge, positions (the safety layer implements it)."""

from __future__ import annotations

from typing import Protocol

from core.positions import Positions


class OrderPort(Protocol):
    """What a strategy may ask of the safety layer; orders are queued, checked, batched and rate-limited there."""

    def place(self, market, order, decision_price: float | None = None) -> None:
        """Queue a new order (decision_price: the book price the strategy decided on, for the stale-price guard)."""
        ...

    def cancel(self, market, order, size_reduction: float | None = None) -> None:
        """Queue a cancel of (part of) an order's unmatched size."""
        ...

    def hedge(self, market, strategy, selection_id: int | None = None, reason: str = "strategy") -> bool:
        """Green up the strategy's position in the market (or one selection); False if nothing was started."""
        ...

    def hedging(self, market_id: str, strategy) -> bool:
        """Whether a hedge of the strategy's position in the market is in progress."""
        ...

    def positions(self, market, strategy) -> Positions:
        """The strategy's positions in the market."""
        ...


class NotAssembled:
    """The port of a strategy built outside the assembly: every order request fails with a clear message."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _fail(self) -> None:
        raise RuntimeError(
            f"strategy {self.name!r} has no order path: build it with app.assembly.build (or `python main.py`)"
        )

    def place(self, market, order, decision_price: float | None = None) -> None:
        """Refuse: there is no safety layer to send through."""
        self._fail()

    def cancel(self, market, order, size_reduction: float | None = None) -> None:
        """Refuse: there is no safety layer to send through."""
        self._fail()

    def hedge(self, market, strategy, selection_id: int | None = None, reason: str = "strategy") -> bool:
        """Refuse: there is no safety layer to hedge with."""
        self._fail()
        return False

    def hedging(self, market_id: str, strategy) -> bool:
        """Nothing hedges without a safety layer."""
        return False

    def positions(self, market, strategy) -> Positions:
        """Positions from the strategy's orders in the market's blotter."""
        from core.positions import positions

        return positions(market, market.blotter.strategy_orders(strategy))
