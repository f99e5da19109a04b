"""report.html: one self-contained page (inline CSS, plots as data URIs, nothing fetched) with every table."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from app.analysis import Analysis
from app.plots import PLOTS
from app.reportformat import TITLES, shown

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { padding: 0.25em 0.6em; border-bottom: 1px solid #ddd; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; font-size: 0.9em; }
dt { font-weight: bold; } img { max-width: 100%; display: block; margin: 0.5em 0; }
.empty { color: #777; }
"""
META = ("version", "mode", "start", "end", "duration_seconds", "updates", "config_path")


def _table(name: str, analysis: Analysis) -> str:
    frame = analysis.tables()[name]
    body = '<p class="empty">none</p>' if frame.empty else shown(frame).to_html(index=False, border=0)
    return f'<h2 id="{name}">{html.escape(TITLES[name])}</h2>\n{body}'


def _image(path: Path, title: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<h2>{html.escape(title)}</h2>\n<img alt="{html.escape(title)}" src="data:image/png;base64,{data}">'


def _meta(meta: dict, summary: dict) -> str:
    rows = [(key, meta[key]) for key in META if key in meta]
    rows.append(("commission rate", summary.get("commission_rate")))
    rows.append(("files", ", ".join(meta.get("files", [])) or "-"))
    for note in summary.get("notes", []):
        rows.append(("note", note))
    cells = "".join(f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(str(v))}</dd>" for k, v in rows)
    return f"<dl>{cells}</dl>"


def render_html(analysis: Analysis, summary: dict, plots: list[Path], title: str) -> str:
    """The page: run metadata, the per-strategy table, the plots, then every other table."""
    meta = summary.get("run", {})
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        _meta(meta, summary),
        _table("strategies", analysis),
        *(_image(path, PLOTS[path.name]) for path in plots),
        *(_table(name, analysis) for name in ("by_day", "by_market_type", "markets", "runners", "refusals")),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
