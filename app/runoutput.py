"""What a finished run prints: the report's table, refusals, skipped lines, trips, failed groups, and files."""

from __future__ import annotations

import sys

from app.report import Report


def show(report: Report, switch_state: str, hook_errors: dict[str, int]) -> None:
    """Print the report of a finished run (app/runreport.py prints its tables and writes its run folder)."""
    print(report.table())
    unsettled = report.totals["unsettled_markets"]
    if unsettled:
        print(f"{unsettled} market(s) not settled: no P&L yet; open exposure {report.totals['open_exposure']:.2f}")
    for reason, count in report.refusal_reasons()[:10]:
        print(f"refused {count}x: {reason}")
    for path, lines in sorted(report.skipped.items()):
        first = min(lines)
        where = "the whole file" if first == 0 else f"{len(lines)} line(s), first line {first}"
        print(f"skipped in {path}: {where}: {lines[first]}", file=sys.stderr)
    for trip in report.trips:
        event = f" on event {trip.event_id}" if trip.event_id else ""
        print(f"kill switch {trip.state} at {trip.row()['time']}{event} by {trip.source}: {trip.reason}")
    for line in report.quality_lines():
        print(line)
    print(f"kill switch: {switch_state}")
    for name, count in hook_errors.items():
        print(f"warning: strategy {name}: {count} hook call(s) raised; see the log", file=sys.stderr)
    for note in report.notes:
        print(f"note: {note}")
    for failed in report.failed_groups:
        print(f"FAILED {failed['group']} ({', '.join(failed['paths'])}): {failed['error']}", file=sys.stderr)
