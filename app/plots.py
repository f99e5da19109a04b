"""The report's plots as PNG files of a fixed size: cumulative P&L, drawdown, P&L per market (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: files only, the same on a server as on a desktop

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

WIDTH, HEIGHT, DPI = 960, 420, 100  # every plot is WIDTH x HEIGHT pixels
PLOTS = {
    "cumulative_pnl.png": "Cumulative net P&L over market time",
    "drawdown.png": "Drawdown from the running peak",
    "pnl_per_market.png": "Net P&L per market",
}
METADATA = {"Software": None}  # no matplotlib version in the file: the same figures give the same bytes
MAX_MARKET_LABELS = 40


def _figure():
    fig, ax = plt.subplots(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
    ax.grid(True, alpha=0.3)
    ax.axhline(0, color="#888888", linewidth=0.8)
    return fig, ax


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=DPI, metadata=METADATA)  # no bbox_inches: the size stays fixed
    plt.close(fig)
    return path


def _empty(ax) -> None:
    ax.text(0.5, 0.5, "no settled market with orders", ha="center", va="center", transform=ax.transAxes)


def _over_time(curve: pd.DataFrame, column: str, title: str, path: Path) -> Path:
    fig, ax = _figure()
    ax.set_title(title)
    ax.set_ylabel("net P&L" if column == "cumulative" else "drawdown")
    if curve.empty:
        _empty(ax)
    for strategy, mine in curve.groupby("strategy"):
        times = pd.to_datetime(mine["at"], utc=True).dt.tz_localize(None)
        xs, ys = [times.iloc[0], *times], [0.0, *mine[column]]  # from zero, before the first market closed
        ax.step(xs, ys, where="post", label=strategy, marker="o", markersize=3)
    if not curve.empty:
        ax.legend(loc="best", fontsize="small")
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
        ax.set_xlabel("market time (UTC), when each market closed")
    return _save(fig, path)


def _per_market(curve: pd.DataFrame, path: Path) -> Path:
    fig, ax = _figure()
    ax.set_title(PLOTS["pnl_per_market.png"])
    ax.set_ylabel("net P&L")
    if curve.empty:
        _empty(ax)
        return _save(fig, path)
    order = curve.drop_duplicates("market_id").sort_values(["at", "market_id"], kind="stable")
    position = {m: i for i, m in enumerate(order["market_id"])}
    strategies = sorted(curve["strategy"].unique())
    width = 0.8 / len(strategies)
    for n, strategy in enumerate(strategies):
        mine = curve[curve["strategy"] == strategy]
        xs = [position[m] + (n - (len(strategies) - 1) / 2) * width for m in mine["market_id"]]
        ax.bar(xs, mine["net"], width=width, label=strategy)
    if len(order) <= MAX_MARKET_LABELS:
        ax.set_xticks(range(len(order)), order["market_id"], rotation=60, ha="right", fontsize="x-small")
    else:
        ax.set_xlabel(f"{len(order)} markets in market-time order")
    ax.legend(loc="best", fontsize="small")
    return _save(fig, path)


def write_plots(curve: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Write the three plots of a report's curve (app.analysis) into out_dir; returns their paths."""
    names = list(PLOTS)
    return [
        _over_time(curve, "cumulative", PLOTS[names[0]], out_dir / names[0]),
        _over_time(curve, "drawdown", PLOTS[names[1]], out_dir / names[1]),
        _per_market(curve, out_dir / names[2]),
    ]


def write_heatmap(table: pd.DataFrame, axes: list[tuple[str, tuple]], title: str, path: Path) -> Path:
    """A heat map of the table's net P&L by one or two swept params (axes: each param and its values in order;
    the first across, the second up), each cell labelled with its net."""
    (x, xs), (y, ys) = axes[0], (axes[1] if len(axes) > 1 else (None, (None,)))
    cells = [[_cell_net(table, x, xv, y, yv) for xv in xs] for yv in ys]
    limit = max((abs(v) for row in cells for v in row if v is not None), default=0.0) or 1.0
    fig, ax = plt.subplots(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
    image = ax.imshow(
        [[float("nan") if v is None else v for v in row] for row in cells],
        cmap="RdYlGn",
        vmin=-limit,
        vmax=limit,
        aspect="auto",
        origin="lower",
    )
    for row, values in enumerate(cells):
        for col, value in enumerate(values):
            ax.text(col, row, "-" if value is None else f"{value:.2f}", ha="center", va="center", fontsize="small")
    ax.set_xticks(range(len(xs)), [str(v) for v in xs])
    ax.set_xlabel(x)
    ax.set_yticks(range(len(ys)), [str(v) for v in ys] if y else [""])
    if y:
        ax.set_ylabel(y)
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="net P&L")
    return _save(fig, path)


def _cell_net(table: pd.DataFrame, x: str, xv, y: str | None, yv) -> float | None:
    """The best net P&L of the rows with these two param values (over the other params), None if there is none."""
    rows = table[(table[x] == xv) & ((table[y] == yv) if y else True)]
    return float(rows["net"].max()) if len(rows) else None
