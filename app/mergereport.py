"""One report from the reports of a run's event groups, in group order: the same whatever ran the groups."""

from __future__ import annotations

import pandas as pd

from app.report import REFUSAL_COLUMNS, SUMMARY_COLUMNS, Report, sort_orders, summary_totals
from core.orderrow import ORDER_COLUMNS


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    full = [f for f in frames if not f.empty]
    if not full:
        return frames[0].iloc[0:0] if frames else pd.DataFrame(columns=columns)
    return pd.concat(full, ignore_index=True)[columns]


def merge_reports(
    reports: list[Report],
    commission_rate: float,
    unreadable: dict[str, str],
    failed: list[dict],
    notes: list[str],
) -> Report:
    """The groups' reports (in group order) as one run's: markets and orders sorted as one report sorts them."""
    orders = sort_orders(_concat([r.orders for r in reports], ORDER_COLUMNS))
    refusals = _concat([r.refusals for r in reports], REFUSAL_COLUMNS).reset_index(drop=True)
    summary = _concat([r.summary for r in reports], SUMMARY_COLUMNS)
    summary = summary.sort_values(["strategy", "market_id"], kind="stable").reset_index(drop=True)
    skipped: dict[str, dict[int, str]] = {path: {0: why} for path, why in unreadable.items()}
    for report in reports:
        for path, lines in report.skipped.items():
            skipped.setdefault(path, {}).update(lines)
    return Report(
        orders=orders,
        refusals=refusals,
        summary=summary,
        totals=summary_totals(summary),
        commission_rate=commission_rate,
        trips=tuple(t for r in reports for t in r.trips),
        skipped=skipped,
        quality=tuple(q for r in reports for q in r.quality),
        failed_groups=tuple(failed),
        notes=tuple(notes),
    )
