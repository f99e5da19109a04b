"""Backtest progress bar: a flumine logging control counting closed markets (terminal only)."""

from __future__ import annotations

from flumine.controls.loggingcontrols import LoggingControl
from tqdm import tqdm


class ProgressControl(LoggingControl):
    """Advances a progress bar each time a market closes."""

    def __init__(self, total_markets: int) -> None:
        super().__init__()
        self.bar = tqdm(total=total_markets, unit="market", desc="backtest", leave=False)

    def _process_closed_market(self, event) -> None:
        self.bar.update(1)

    def _process_end_flumine(self, event) -> None:
        self.bar.close()
