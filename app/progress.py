"""Backtest progress bars (terminal only): closed markets of one framework, or the recordings' bytes of event
groups done across all workers (with the updates they replayed per second)."""

from __future__ import annotations

import sys

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


def wanted(quiet: bool) -> bool:
    """Whether to show a bar: stdout is a terminal and --quiet (--no-progress) was not given."""
    return sys.stdout.isatty() and not quiet


class GroupProgress:
    """Advances a bar by a group's recording bytes as each event group finishes, on any worker; shows updates/s."""

    def __init__(self, total_bytes: int, desc: str = "backtest") -> None:
        self.bar = tqdm(total=total_bytes, unit="B", unit_scale=True, desc=desc, leave=False)
        self.updates = 0

    def done(self, size: int, updates: int = 0) -> None:
        """One group finished: its recordings' size in bytes and the stream updates it replayed."""
        self.updates += updates
        self.bar.update(size)
        elapsed = self.bar.format_dict["elapsed"]
        if elapsed > 0 and self.updates:  # drawn at once: a group's end is rare enough to redraw every time
            self.bar.set_postfix_str(f"{tqdm.format_sizeof(self.updates / elapsed)} updates/s", refresh=True)

    def close(self) -> None:
        """Take the bar off the terminal."""
        self.bar.close()
