"""What a report needs to know of each market beyond its orders: names, start, close, runner names."""

from __future__ import annotations

import datetime as dt

import pandas as pd

MARKET_COLUMNS = ["market_id", "event_id", "market_type", "market_name", "event_name", "venue", "market_time",
                  "closed_at"]  # fmt: skip
RUNNER_COLUMNS = ["market_id", "selection_id", "runner_name"]


def _iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        value = dt.datetime.fromtimestamp(value, dt.UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds")


def _definition(market):
    book = market.market_book
    return book.market_definition if book is not None else None


def market_rows(markets, closed_at: dict[str, float | None]) -> pd.DataFrame:
    """One row per market: ids, type, names, the scheduled start and the market time it closed (ISO, UTC)."""
    rows = []
    for market in markets:
        definition = _definition(market)
        catalogue = market.market_catalogue
        name = getattr(catalogue, "market_name", None) or getattr(definition, "name", None)
        rows.append(
            {
                "market_id": market.market_id,
                "event_id": market.event_id,
                "market_type": market.market_type,
                "market_name": name,
                "event_name": market.event_name,
                "venue": market.venue,
                "market_time": _iso(getattr(definition, "market_time", None)),
                "closed_at": _iso(closed_at.get(market.market_id)),
            }
        )
    frame = pd.DataFrame(rows, columns=MARKET_COLUMNS)
    return frame.sort_values("market_id", kind="stable").reset_index(drop=True)


def runner_rows(markets) -> pd.DataFrame:
    """Every runner of every market with its name (the catalogue's, else the recording's; blank when neither has one)."""
    rows = []
    for market in markets:
        names: dict[int, str | None] = {}
        definition = _definition(market)
        for runner in getattr(definition, "runners", None) or []:
            names[runner.selection_id] = getattr(runner, "name", None)
        catalogue = market.market_catalogue
        for runner in getattr(catalogue, "runners", None) or []:
            names[runner.selection_id] = runner.runner_name or names.get(runner.selection_id)
        rows += [{"market_id": market.market_id, "selection_id": sid, "runner_name": n} for sid, n in names.items()]
    frame = pd.DataFrame(rows, columns=RUNNER_COLUMNS)
    return frame.sort_values(["market_id", "selection_id"], kind="stable").reset_index(drop=True)
