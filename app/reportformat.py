"""How the report's tables read: money to the penny, ratios as percentages, blanks as '-'; as text for the terminal."""

from __future__ import annotations

import math

import pandas as pd

from app.analysis import Analysis

PERCENT = ("roi", "strike_rate")
MONEY = ("stake", "gross", "commission", "net", "max_drawdown", "cumulative", "drawdown")
TITLES = {
    "strategies": "Per strategy",
    "markets": "Per strategy and market",
    "runners": "Per strategy, market and runner",
    "by_day": "P&L by day (UTC, the day each market closed)",
    "by_market_type": "P&L by market type",
    "refusals": "Refusals by reason (figures as #)",
}
HEADERS = {"roi": "ROI", "strike_rate": "strike", "average_odds": "avg odds", "longest_losing_run": "losing run",
           "max_drawdown": "max drawdown", "unsettled_markets": "unsettled", "market_id": "market id",
           "selection_id": "selection", "market_type": "type", "market_time": "start", "closed_at": "closed"}  # fmt: skip


def cell(column: str, value) -> str:
    """One value as the report prints it, by its column (money, percentage, settled flag)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "-"
    if column in PERCENT:
        return f"{value * 100:.1f}%"
    if column in MONEY or column == "average_odds":
        return f"{value:.2f}"
    if isinstance(value, bool):
        return "yes" if value else "UNSETTLED"
    return str(value)


def shown(frame: pd.DataFrame) -> pd.DataFrame:
    """A table's cells as the report prints them, with short headers."""
    cells = {c: [cell(c, v) for v in frame[c]] for c in frame.columns}
    return pd.DataFrame(cells, columns=list(frame.columns)).rename(columns=HEADERS)


def text_lines(analysis: Analysis, names: tuple[str, ...] = ("strategies", "by_market_type", "refusals")) -> list[str]:
    """The chosen tables as text, each under its title (an empty table is left out)."""
    lines: list[str] = []
    for name in names:
        frame = analysis.tables()[name]
        if frame.empty:
            continue
        lines += ["", TITLES[name] + ":", shown(frame).to_string(index=False)]
    return lines
