"""Backtest report: per strategy and market, orders and P&L after commission; CSV and JSON output."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from core.positions import is_hedge

ORDER_COLUMNS = [
    "strategy",
    "market_id",
    "event_id",
    "market_type",
    "selection_id",
    "side",
    "order_type",
    "persistence",
    "price",
    "size",
    "placed_at",
    "status",
    "size_matched",
    "average_price_matched",
    "size_cancelled",
    "size_lapsed",
    "size_voided",
    "runner_status",
    "profit",
    "hedge",
]
REFUSAL_COLUMNS = ["at", "strategy", "market_id", "selection_id", "side", "price", "size", "hedge", "reason"]
COUNT_COLUMNS = ("orders", "matched", "lapsed_or_cancelled", "voided", "hedges", "refused")
SUMMARY_COLUMNS = [
    "strategy",
    "market_id",
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
]


@dataclass(frozen=True)
class Report:
    """Orders and per strategy / market summary of a finished run."""

    orders: pd.DataFrame
    refusals: pd.DataFrame
    summary: pd.DataFrame
    totals: dict
    commission_rate: float

    def table(self) -> str:
        """The summary as a printable text table with a totals line."""
        if self.summary.empty:
            return "no orders were placed"
        frame = pd.concat([self.summary, pd.DataFrame([{"strategy": "TOTAL", "market_id": "", **self.totals}])])
        return frame.to_string(index=False, float_format=lambda v: f"{v:.2f}")

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
        self.orders.to_csv(orders_path, index=False, float_format="%.2f", lineterminator="\n")
        self.refusals.to_csv(refused_path, index=False, float_format="%.2f", lineterminator="\n")
        payload = {
            "commission_rate": self.commission_rate,
            "markets": self.summary.to_dict(orient="records"),
            "totals": self.totals,
        }
        summary_path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=_plain) + "\n")
        return [orders_path, refused_path, summary_path]


def _plain(value):
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not serialisable: {value!r}")


def _order_row(order, market) -> dict:
    order_type = order.order_type
    return {
        "strategy": order.trade.strategy.name,
        "market_id": order.market_id,
        "event_id": market.event_id,
        "market_type": market.market_type,
        "selection_id": order.selection_id,
        "side": order.side,
        "order_type": order_type.ORDER_TYPE.value,
        "persistence": getattr(order_type, "persistence_type", None),
        "price": getattr(order_type, "price", None),
        "size": getattr(order_type, "size", None) or getattr(order_type, "liability", None),
        "placed_at": order.date_time_created.isoformat(),
        "status": order.status.value if order.status else None,
        "size_matched": round(order.size_matched, 2),
        "average_price_matched": order.average_price_matched or None,
        "size_cancelled": round(order.size_cancelled, 2),
        "size_lapsed": round(order.size_lapsed, 2),
        "size_voided": round(order.size_voided, 2),
        "runner_status": order.runner_status,
        "profit": round(order.profit, 2),
        "hedge": is_hedge(order),
    }


def build_report(markets, commission_rate: float, refusals: Iterable = ()) -> Report:
    """Build a report from flumine's markets (each with a blotter) and the refused orders after a run."""
    rows = [_order_row(order, market) for market in markets for order in market.blotter]
    orders = pd.DataFrame(rows, columns=ORDER_COLUMNS)
    orders = orders.sort_values(
        ["strategy", "market_id", "placed_at", "selection_id", "side", "price", "size"], kind="stable"
    ).reset_index(drop=True)
    refused = pd.DataFrame([asdict(r) for r in refusals], columns=REFUSAL_COLUMNS)
    refused_count = refused.groupby(["strategy", "market_id"]).size().to_dict() if not refused.empty else {}
    keys = sorted(set(orders.groupby(["strategy", "market_id"]).groups) | set(refused_count))
    summary_rows = []
    for strategy, market_id in keys:
        group = orders[(orders["strategy"] == strategy) & (orders["market_id"] == market_id)]
        gross = round(float(group["profit"].sum()), 2)
        commission = round(max(gross, 0.0) * commission_rate, 2)
        summary_rows.append(
            {
                "strategy": strategy,
                "market_id": market_id,
                "orders": int(len(group)),
                "matched": int((group["size_matched"] > 0).sum()),
                "lapsed_or_cancelled": int(((group["size_cancelled"] + group["size_lapsed"]) > 0).sum()),
                "voided": int((group["size_voided"] > 0).sum()),
                "hedges": int(group["hedge"].sum()),
                "refused": int(refused_count.get((strategy, market_id), 0)),
                "matched_stake": round(float(group["size_matched"].sum()), 2),
                "gross_pnl": gross,
                "commission": commission,
                "pnl": round(gross - commission, 2),
            }
        )
    summary = pd.DataFrame(summary_rows, columns=SUMMARY_COLUMNS)
    totals = {
        key: (int(summary[key].sum()) if key in COUNT_COLUMNS else round(float(summary[key].sum()), 2))
        for key in SUMMARY_COLUMNS[2:]
    }
    return Report(orders=orders, refusals=refused, summary=summary, totals=totals, commission_rate=commission_rate)
