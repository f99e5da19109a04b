"""Fidelity: a recording as a backtest and as live (or paper) trading against the emulator, compared per market."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from app.assembly import Framework, Mode, build
from app.gapcap import gap_capped
from app.report import settled
from core.config import load_config
from emulator.server import Emulator

CREDENTIALS = {"BETFAIR_USERNAME": "fidelity", "BETFAIR_PASSWORD": "fidelity", "BETFAIR_APP_KEY": "fidelity"}
SETTLE_WAIT = 20.0  # wall seconds after the replay ends for the exchange to settle what it can


def run_config(source: Path, folder: Path) -> Path:
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


def backtest(config: Path, recording: Path, registry=None) -> Framework:
    """The recording as a finished backtest."""
    framework = build(Mode.BACKTEST, load_config(config), paths=[recording], registry=registry)
    framework.run()
    return framework


def emulated(
    config: Path, recording: Path, mode: Mode, speed: float, max_gap: float | None, registry=None
) -> Framework:
    """The recording replayed by the emulator, traded live or paper until it has ended and settled."""
    with Emulator([recording], speed=speed, max_gap=max_gap) as emulator:
        framework = build(mode, load_config(config), environ=CREDENTIALS, exchange=emulator.url, registry=registry)
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
        return framework


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
        for number, recording in enumerate(paths):
            run_folder = folder / str(number)  # each recording a fresh bot: its own kill switch and day book
            run_folder.mkdir()
            run = run_config(config, run_folder)
            replayed = gap_capped(recording, run_folder / f"capped-{recording.name}", max_gap) if max_gap else recording
            bt = _figures(backtest(run, replayed))
            live = _figures(emulated(run, recording, mode, speed, max_gap))
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
