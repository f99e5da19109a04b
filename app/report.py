"""Backtest report: per strategy and market, orders and P&L after commission; CSV and JSON output."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from core.orderrow import ORDER_COLUMNS, order_row
from core.positions import positions
from core.settlement import market_commission, settled

REFUSAL_COLUMNS = ["at", "strategy", "market_id", "selection_id", "side", "price", "size", "hedge", "reason"]
TRIP_COLUMNS = ["at", "time", "event_id", "state", "source", "reason"]
COUNT_COLUMNS = ("orders", "matched", "lapsed_or_cancelled", "voided", "hedges", "refused")
SUMMARY_COLUMNS = [
    "strategy",
    "market_id",
    "event_id",
    "market_type",
    "settled",
    "orders",
    "matched",
    "lapsed_or_cancelled",
    "voided",
    "hedges",
    "refused",
    "matched_stake",
    "gross_pnl",
    "commission",
    "pnl",
    "open_exposure",
]
DATA_QUALITY_REFUSAL = "data_quality:"  # how a refusal by the data-quality guard starts its reason
MONEY_COLUMNS = ("matched_stake", "gross_pnl", "commission", "pnl", "open_exposure")


@dataclass(frozen=True)
class Trip:
    """A kill-switch trip during a run, and the event being traded when it came."""

    at: float
    event_id: str | None
    state: str
    source: str
    reason: str

    def row(self) -> dict:
        """As a report row, with a readable UTC time."""
        time = dt.datetime.fromtimestamp(self.at, dt.UTC).isoformat(timespec="milliseconds")
        return {"at": self.at, "time": time, "event_id": self.event_id, "state": self.state,
                "source": self.source, "reason": self.reason}  # fmt: skip


@dataclass(frozen=True)
class Report:
    """Orders, refusals, kill-switch trips and the per strategy / market summary of a finished run."""

    orders: pd.DataFrame
    refusals: pd.DataFrame
    summary: pd.DataFrame
    totals: dict
    commission_rate: float
    trips: tuple[Trip, ...] = ()
    skipped: dict[str, dict[int, str]] = field(default_factory=dict)  # recording -> line -> why it was left out
    quality: tuple[dict, ...] = ()  # every data-quality pause and resume (QualityChange rows), in order
    failed_groups: tuple[dict, ...] = ()  # event groups that failed: {"group", "paths", "error"}
    notes: tuple[str, ...] = ()  # how the run was made, where it changes what the figures mean

    def data_quality(self) -> dict:
        """Data-quality pauses: how many, on how many markets, the orders they refused, and every change."""
        pauses = [row for row in self.quality if row["action"] == "pause"]
        refused = 0
        if not self.refusals.empty:
            refused = int(self.refusals["reason"].str.contains(DATA_QUALITY_REFUSAL, regex=False).sum())
        return {
            "pauses": len(pauses),
            "markets": len({row["market_id"] for row in pauses}),
            "refused": refused,
            "changes": list(self.quality),
        }

    def quality_lines(self, limit: int = 10) -> list[str]:
        """The report's data-quality lines: the count, then the first pauses with their market, time and cause."""
        quality = self.data_quality()
        if not quality["pauses"]:
            return []
        lines = [
            f"data quality: {quality['pauses']} pause(s) on {quality['markets']} market(s), "
            f"{quality['refused']} order(s) refused"
        ]
        for row in [r for r in self.quality if r["action"] == "pause"][:limit]:
            time = dt.datetime.fromtimestamp(row["at"], dt.UTC).isoformat(timespec="milliseconds")
            lines.append(f"  paused {row['market_id']} at {time}: {row['reason']}")
        return lines

    def table(self) -> str:
        """The summary as a printable text table with a totals line (unsettled markets say so)."""
        if self.summary.empty:
            return "no markets were replayed"
        frame = self.summary.drop(columns=["event_id"]).copy()
        frame["settled"] = frame["settled"].map({True: "yes", False: "UNSETTLED"})
        total = {"strategy": "TOTAL", "market_id": "", "market_type": "", "settled": "", **self.totals}
        frame = pd.concat([frame, pd.DataFrame([total])[frame.columns]])
        return frame.to_string(index=False, na_rep="-", float_format=lambda v: f"{v:.2f}")

    def refusal_reasons(self) -> list[tuple[str, int]]:
        """Each kind of refusal reason (figures replaced by #) with how often it occurred."""
        if self.refusals.empty:
            return []
        counts = self.refusals["reason"].str.replace(r"-?\d+(\.\d+)?", "#", regex=True).value_counts()
        return sorted(((str(k), int(v)) for k, v in counts.items()), key=lambda kv: (-kv[1], kv[0]))

    def write(self, out_dir: Path) -> list[Path]:
        """Write orders.csv, refused.csv and summary.json into out_dir; returns the files written."""
        out_dir.mkdir(parents=True, exist_ok=True)
        orders_path = out_dir / "orders.csv"
        refused_path = out_dir / "refused.csv"
        summary_path = out_dir / "summary.json"
        write_orders_csv(self.orders, orders_path)
        self.refusals.to_csv(refused_path, index=False, float_format="%.2f", lineterminator="\n")
        payload = {
            "commission_rate": self.commission_rate,
            "markets": [_nulls(row) for row in self.summary.to_dict(orient="records")],
            "totals": self.totals,
            "kill_switch_trips": [trip.row() for trip in self.trips],
            "data_quality": self.data_quality(),
            "failed_groups": list(self.failed_groups),
            "notes": list(self.notes),
            "skipped_lines": {
                path: [{"line": n, "reason": why} for n, why in sorted(lines.items())]
                for path, lines in sorted(self.skipped.items())
            },
        }
        summary_path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=_plain) + "\n")
        return [orders_path, refused_path, summary_path]


def write_orders_csv(orders: pd.DataFrame, target) -> None:
    """Orders as orders.csv has them (a path or an open text file), so the store's `orders --csv` reads alike."""
    orders.to_csv(target, index=False, float_format="%.2f", lineterminator="\n")


def sort_orders(orders: pd.DataFrame) -> pd.DataFrame:
    """Orders in the report's order: by strategy, market, placement time, then the order's own fields."""
    return orders.sort_values(
        ["strategy", "market_id", "placed_at", "selection_id", "side", "price", "size"], kind="stable"
    ).reset_index(drop=True)


def summary_totals(summary: pd.DataFrame) -> dict:
    """The totals line of a summary: counts, money, markets and unsettled markets."""
    totals = {key: int(summary[key].sum()) for key in COUNT_COLUMNS}
    totals.update({key: round(float(summary[key].sum(skipna=True)), 2) for key in MONEY_COLUMNS})
    totals["markets"] = int(summary["market_id"].nunique())
    totals["unsettled_markets"] = int(summary.loc[~summary["settled"].astype(bool), "market_id"].nunique())
    return totals


def _nulls(row: dict) -> dict:
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}


def _plain(value):
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not serialisable: {value!r}")


def build_report(
    markets,
    commission_rate: float,
    refusals: Iterable = (),
    strategies: Iterable = (),
    trips: Iterable = (),
    skipped: dict[str, dict[int, str]] | None = None,
    quality: Iterable[dict] = (),
) -> Report:
    """A report from flumine's markets (each with a blotter), the refused orders and trips after a run.

    Every market a strategy received is listed, with or without orders; `strategies` are the flumine
    strategies of the run (their stream ids say which markets each received)."""
    markets = list(markets)
    rows = [order_row(order, market) for market in markets for order in market.blotter]
    orders = pd.DataFrame(rows, columns=ORDER_COLUMNS)
    orders = sort_orders(orders)
    refused = pd.DataFrame([asdict(r) for r in refusals], columns=REFUSAL_COLUMNS)
    refused_count = refused.groupby(["strategy", "market_id"]).size().to_dict() if not refused.empty else {}
    by_id = {m.market_id: m for m in markets}
    keys = set(orders.groupby(["strategy", "market_id"]).groups) | set(refused_count)
    for strategy in strategies:
        ids = set(strategy.stream_ids)
        keys |= {
            (strategy.name, m.market_id) for m in markets if m.market_book and m.market_book.streaming_unique_id in ids
        }
    keys = sorted(k for k in keys if k[1] in by_id)
    empty = orders.iloc[0:0]
    groups = {key: frame for key, frame in orders.groupby(["strategy", "market_id"])}
    gross = {key: round(float(groups.get(key, empty)["profit"].sum()), 2) for key in keys}
    per_market: dict[str, dict[str, float]] = {}
    for name, market_id in keys:
        per_market.setdefault(market_id, {})[name] = gross[(name, market_id)]
    commission = {
        (name, market_id): value
        for market_id, here in per_market.items()
        if settled(by_id[market_id])
        for name, value in market_commission(here, commission_rate).items()
    }
    summary_rows = []
    for strategy, market_id in keys:
        market = by_id[market_id]
        group = groups.get((strategy, market_id), empty)
        done = settled(market)
        own = [o for o in market.blotter if o.trade.strategy.name == strategy]
        summary_rows.append(
            {
                "strategy": strategy,
                "market_id": market_id,
                "event_id": market.event_id,
                "market_type": market.market_type,
                "settled": done,
                "orders": int(len(group)),
                "matched": int((group["size_matched"] > 0).sum()),
                "lapsed_or_cancelled": int(((group["size_cancelled"] + group["size_lapsed"]) > 0).sum()),
                "voided": int((group["size_voided"] > 0).sum()),
                "hedges": int(group["hedge"].sum()),
                "refused": int(refused_count.get((strategy, market_id), 0)),
                "matched_stake": round(float(group["size_matched"].sum()), 2),
                "gross_pnl": gross[(strategy, market_id)] if done else math.nan,
                "commission": commission.get((strategy, market_id), 0.0) if done else math.nan,
                "pnl": round(gross[(strategy, market_id)] - commission.get((strategy, market_id), 0.0), 2)
                if done
                else math.nan,
                "open_exposure": 0.0 if done else round(positions(market, own).exposure, 2),
            }
        )
    summary = pd.DataFrame(summary_rows, columns=SUMMARY_COLUMNS)
    return Report(
        orders=orders,
        refusals=refused,
        summary=summary,
        totals=summary_totals(summary),
        commission_rate=commission_rate,
        trips=tuple(trips),
        skipped=dict(skipped or {}),
        quality=tuple(quality),
    )
