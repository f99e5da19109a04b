"""Fidelity: each recording as a backtest and as live (or paper) trading against the emulator, compared per market.

python -m bench.fidelity [PATH ...] [--config FILE] [--speed X] [--max-gap S] [--mode live|paper] [--out DIR]

The strategies are the config's (default: the shipped config.toml). With --max-gap the backtest replays the
same gap-capped market time as the emulator. Prints, per market, the orders, matched stake and P&L of both
and the difference; writes DIR/fidelity.json; the last line is
`fidelity: N markets, orders X/Y, max P&L difference Z% (W)`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.fidelity import compare  # noqa: E402
from app.framework import Mode  # noqa: E402
from core.recordings import resolve_paths  # noqa: E402

DEFAULT_PATHS = [ROOT.parent / "shared" / "recordings" / "1.197931750.bz2"]


def _money(value) -> str:
    return "unsettled" if value is None else f"{value:.2f}"


def main(argv: list[str] | None = None) -> int:
    """Print backtest vs emulated figures per market; write fidelity.json with --out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=[str(p) for p in DEFAULT_PATHS])
    parser.add_argument("--config", type=Path, default=ROOT / "config.toml")
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--max-gap", type=float, default=None)
    parser.add_argument("--mode", choices=["live", "paper"], default="live")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    result = compare(resolve_paths(args.paths), args.config, Mode(args.mode), args.speed, args.max_gap)
    print(
        f"{'market':14}{'file':24}{'orders bt/live':>16}{'matched bt/live':>18}{'P&L bt':>11}{'P&L live':>11}{'diff':>8}"
    )
    for r in result["markets"]:
        b, lv = r["backtest"], r["live"]
        print(
            f"{r['market_id']:14}{r['file'][:23]:24}{b['orders']:>8}/{lv['orders']:<7}"
            f"{b['matched']:>9.2f}/{lv['matched']:<8.2f}{_money(b['pnl']):>11}{_money(lv['pnl']):>11}"
            f"{_money(r['pnl_diff']):>8}"
        )
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "fidelity.json").write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out / 'fidelity.json'}")
    print(
        f"fidelity: {len(result['markets'])} markets, orders {result['orders_backtest']}/{result['orders_live']}, "
        f"max P&L difference {result['max_pnl_diff_pct']:.2f}% ({result['max_pnl_diff']:.2f})"
        + (f", {len(result['unsettled'])} unsettled" if result["unsettled"] else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
