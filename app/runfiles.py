"""A run folder read back: summary.json and the CSVs, as the report and `compare` use them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from app.marketfacts import MARKET_COLUMNS, RUNNER_COLUMNS
from app.report import REFUSAL_COLUMNS, SUMMARY_COLUMNS
from app.runfolder import find_run_dir, read_summary
from core.errors import UserError
from core.orderrow import ORDER_COLUMNS

IDS = {"market_id": str, "event_id": str, "selection_id": "Int64"}  # market ids are text: 1.10 is not 1.1


@dataclass(frozen=True)
class RunFiles:
    """One run's files, read: its summary (with metadata), orders, refusals, per-market summary, market facts."""

    path: Path
    summary: dict
    orders: pd.DataFrame
    refusals: pd.DataFrame
    markets: pd.DataFrame  # summary.json's rows: per strategy and market
    facts: pd.DataFrame  # markets.csv: names, start, close
    runners: pd.DataFrame  # runners.csv: runner names

    @property
    def meta(self) -> dict:
        """The run's metadata (empty for a folder written before runs had it)."""
        return self.summary.get("run", {})


def _csv(path: Path, columns: list[str]) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame(columns=columns)
    try:
        frame = pd.read_csv(path, dtype={k: v for k, v in IDS.items() if k in columns})
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} cannot be read: {exc}") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UserError(f"{path} lacks column(s) {', '.join(missing)}")
    return frame


def read_run(path: str | Path) -> RunFiles:
    """The run folder at path (or DIR's LATEST run), read; a missing or damaged one is a UserError."""
    run_dir = find_run_dir(path)
    summary = read_summary(run_dir)
    markets = pd.DataFrame(summary["markets"], columns=SUMMARY_COLUMNS)
    markets = markets.astype({"market_id": str})
    return RunFiles(
        path=run_dir,
        summary=summary,
        orders=_csv(run_dir / "orders.csv", ORDER_COLUMNS),
        refusals=_csv(run_dir / "refused.csv", REFUSAL_COLUMNS),
        markets=markets,
        facts=_csv(run_dir / "markets.csv", MARKET_COLUMNS),
        runners=_csv(run_dir / "runners.csv", RUNNER_COLUMNS),
    )
