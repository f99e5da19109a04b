"""Backtest progress bars (terminal only): closed markets of one framework, or the recordings' bytes of event
groups done across all workers."""

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


class GroupProgress:
    """Advances a bar by a group's recording bytes as each event group finishes, on any worker."""

    def __init__(self, total_bytes: int) -> None:
        self.bar = tqdm(total=total_bytes, unit="B", unit_scale=True, desc="backtest", leave=False)

    def done(self, size: int) -> None:
        """One group finished: its recordings' size in bytes."""
        self.bar.update(size)

    def close(self) -> None:
        """Take the bar off the terminal."""
        self.bar.close()
