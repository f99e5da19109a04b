"""What the exchange pushes to: a stream connection, as seen from the replay, the REST calls and the faults."""

from __future__ import annotations

from typing import Protocol


class Subscriber(Protocol):
    """A stream connection the exchange pushes to."""

    def market_changes(self, changes: list[dict], pt: int, clk: str, conflated: bool = False) -> None: ...

    def order_changes(self, oc: list[dict], pt: int, clk: str) -> None: ...

    def status_503(self, pt: int, clk: str) -> None: ...

    def close(self) -> None: ...
