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
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.assembly import Mode, build  # noqa: E402
from app.report import settled  # noqa: E402
from bench.gapcap import gap_capped  # noqa: E402
from core.config import load_config  # noqa: E402
from core.recordings import resolve_paths  # noqa: E402
from emulator.server import Emulator  # noqa: E402

DEFAULT_PATHS = [ROOT.parent / "shared" / "recordings" / "1.197931750.bz2"]
CREDENTIALS = {"BETFAIR_USERNAME": "fidelity", "BETFAIR_PASSWORD": "fidelity", "BETFAIR_APP_KEY": "fidelity"}
SETTLE_WAIT = 20.0  # wall seconds after the replay ends for the exchange to settle what it can


def _config(source: Path, folder: Path) -> Path:
    """The config with its own data dir and quick settlement polls (everything else as the user wrote it)."""
    path = folder / "fidelity.toml"
    text = source.read_text()
    path.write_text(f'data_dir = "{folder / "data"}"\n[exchange]\nsettle_poll = 0.5\nstatus_interval = 0\n{text}')
    return path


def _figures(framework) -> dict[str, dict]:
    """Per market: orders, matched stake, gross P&L (None when unsettled)."""
    out: dict[str, dict] = {}
    for market in framework.flumine.markets:
        orders = list(market.blotter)
        done = settled(market)
        out[market.market_id] = {
            "orders": len(orders),
            "matched": round(sum(o.size_matched for o in orders), 2),
            "pnl": round(sum(o.profit for o in orders), 2) if done else None,
        }
    return out


def backtest(config: Path, recording: Path) -> dict[str, dict]:
    """The recording as a backtest."""
    framework = build(Mode.BACKTEST, load_config(config), paths=[recording])
    framework.run()
    return _figures(framework)


def emulated(config: Path, recording: Path, mode: Mode, speed: float, max_gap: float | None) -> dict[str, dict]:
    """The recording replayed by the emulator, traded live or paper until it has ended and settled."""
    with Emulator([recording], speed=speed, max_gap=max_gap) as emulator:
        framework = build(mode, load_config(config), environ=CREDENTIALS, exchange=emulator.url)
        thread = threading.Thread(target=framework.run, daemon=True)
        thread.start()
        exchange = emulator.exchange
        ended_at = None
        while thread.is_alive():
            markets = list(framework.flumine.markets)
            if exchange.finished.is_set():
                ended_at = ended_at or time.monotonic()
                if (markets and all(m.closed and settled(m) for m in markets)) or (
                    time.monotonic() - ended_at > SETTLE_WAIT
                ):
                    break
            time.sleep(0.2)
        framework.stop()
        thread.join(timeout=10)
        return _figures(framework)


def _difference(bt: dict, live: dict) -> tuple[float | None, float | None]:
    """Absolute and percent P&L difference (percent of the larger absolute P&L); None if either is unsettled."""
    if bt.get("pnl") is None or live.get("pnl") is None:
        return None, None
    diff = round(abs(live["pnl"] - bt["pnl"]), 2)
    larger = max(abs(live["pnl"]), abs(bt["pnl"]))
    return diff, (0.0 if diff == 0 else round(100.0 * diff / larger, 2))


def compare(paths: list[Path], config: Path, mode: Mode, speed: float, max_gap: float | None) -> dict:
    """Backtest and emulated figures for every market of every recording."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        run_config = _config(config, folder)
        for recording in paths:
            replayed = gap_capped(recording, folder / f"capped-{recording.name}", max_gap) if max_gap else recording
            bt, live = backtest(run_config, replayed), emulated(run_config, recording, mode, speed, max_gap)
            for market_id in sorted(set(bt) | set(live)):
                b = bt.get(market_id, {"orders": 0, "matched": 0.0, "pnl": 0.0})
                lv = live.get(market_id, {"orders": 0, "matched": 0.0, "pnl": 0.0})
                diff, pct = _difference(b, lv)
                rows.append(
                    {
                        "market_id": market_id,
                        "file": recording.name,
                        "backtest": b,
                        "live": lv,
                        "pnl_diff": diff,
                        "pnl_diff_pct": pct,
                    }  # fmt: skip
                )
    diffs = [r for r in rows if r["pnl_diff"] is not None]
    return {
        "mode": str(mode),
        "speed": speed,
        "max_gap": max_gap,
        "markets": rows,
        "unsettled": [r["market_id"] for r in rows if r["pnl_diff"] is None],
        "max_pnl_diff": max((r["pnl_diff"] for r in diffs), default=0.0),
        "max_pnl_diff_pct": max((r["pnl_diff_pct"] for r in diffs), default=0.0),
        "orders_backtest": sum(r["backtest"]["orders"] for r in rows),
        "orders_live": sum(r["live"]["orders"] for r in rows),
    }


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
