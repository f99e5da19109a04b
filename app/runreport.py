"""A run's report on disk: the run folder written at the end of a run, and rendered (plots, report.html) from it."""

from __future__ import annotations

import json
from pathlib import Path

from app.analysis import Analysis, analyse
from app.htmlreport import render_html
from app.plots import write_plots
from app.report import Report
from app.reportformat import text_lines
from app.runfacts import RunFacts
from app.runfiles import RunFiles, read_run
from app.runfolder import SUMMARY, find_run_dir, new_run_dir, point_latest
from app.runmeta import run_metadata

HTML = "report.html"


def write_run(facts: RunFacts, report: Report, out: Path, started: float, ended: float) -> tuple[Path, list[Path]]:
    """A new run folder in out with the CSVs, summary.json (with metadata), plots and report.html."""
    run_dir = new_run_dir(out, started, prefix=facts.mode)
    written = report.write(run_dir)
    for name, frame in (("markets.csv", facts.markets), ("runners.csv", facts.runners)):
        frame.to_csv(run_dir / name, index=False, lineterminator="\n")
        written.append(run_dir / name)
    summary_path = run_dir / SUMMARY
    summary = json.loads(summary_path.read_text())
    summary["run"] = run_metadata(facts, started, ended)
    summary["strategies"] = _records(analyse(read_run(run_dir)))
    summary_path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    _, rendered = render(run_dir)
    point_latest(run_dir)
    return run_dir, written + rendered


def _records(analysis: Analysis) -> list[dict]:
    frame = analysis.strategies.astype(object).where(analysis.strategies.notna(), None)
    return frame.to_dict(orient="records")


def render(run_dir: Path) -> tuple[Analysis, list[Path]]:
    """Draw the plots and write report.html of a run folder from its files alone; returns what was written."""
    run = read_run(run_dir)
    analysis = analyse(run)
    plots = write_plots(analysis.curve, run.path)
    page = render_html(analysis, run.summary, plots, f"paddock report: {run.path.name}")
    (run.path / HTML).write_text(page)
    return analysis, [*plots, run.path / HTML]


def in_memory(facts: RunFacts, report: Report) -> RunFiles:
    """A finished run's files as they would be read back, without writing them (a run without --out)."""
    return RunFiles(
        path=Path("."),
        summary={},
        orders=report.orders,
        refusals=report.refusals,
        markets=report.summary,
        facts=facts.markets,
        runners=facts.runners,
    )


def print_run(facts: RunFacts, report: Report, out: str | None, started: float, ended: float) -> None:
    """Print the report's per-strategy tables; with out, write the run folder and say where it is."""
    if not out:
        analysis = analyse(in_memory(facts, report))
        print("\n".join(text_lines(analysis)))
        return
    run_dir, written = write_run(facts, report, Path(out), started, ended)
    print("\n".join(text_lines(analyse(read_run(run_dir)))))
    for path in written:
        print(f"wrote {path}")
    print(f"run folder: {run_dir}")
    print(f"report: {run_dir / HTML}")


def cmd_report(args) -> int:
    """`python main.py report RUN_DIR`: draw the plots and report.html again from the run's files, print the tables."""
    analysis, written = render(find_run_dir(args.run_dir))
    names = ("strategies", "markets", "by_day", "by_market_type", "refusals")
    print("\n".join(text_lines(analysis, names)).lstrip("\n"))
    for path in written:
        print(f"wrote {path}")
    return 0
