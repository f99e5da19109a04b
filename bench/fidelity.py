"""Fidelity: one strategy on one recording, as a backtest and live against the emulator; prints both and the gap.

python -m bench.fidelity [RECORDING] [--speed X]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from flumine.order.order import LimitOrder
from flumine.order.trade import Trade

from app.assembly import Mode, build
from app.plugins import discover
from app.report import build_report
from core.config import load_config
from emulator.server import Emulator
from strategies.base import ModalStrategy

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "recordings" / "1.197931750.bz2"
CREDENTIALS = {"BETFAIR_USERNAME": "fidelity", "BETFAIR_PASSWORD": "fidelity", "BETFAIR_APP_KEY": "fidelity"}


class FavouriteEveryMinute(ModalStrategy):
    """Pre-race, whenever the favourite changes: back the new favourite at the best back price on offer.

    Driven by prices only: live publish times run at the emulator's speed, so a time-driven rule would differ."""

    plugin_name = "fidelity_favourite"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.last: dict[str, int] = {}

    def process_pre_race(self, market, market_book) -> None:
        if market_book.status != "OPEN":
            return
        runners = [r for r in market_book.runners if r.status == "ACTIVE" and r.ex.available_to_back]
        if not runners:
            return
        runner = min(runners, key=lambda r: r.ex.available_to_back[0]["price"])
        if self.last.get(market.market_id) == runner.selection_id:
            return
        price = runner.ex.available_to_back[0]["price"]
        trade = Trade(market.market_id, runner.selection_id, runner.handicap, self)
        self.place_order(
            market, trade.create_order(side="BACK", order_type=LimitOrder(price, 2.0)), decision_price=price
        )
        self.last[market.market_id] = runner.selection_id


def _config(folder: Path) -> Path:
    path = folder / "fidelity.toml"
    path.write_text(
        f'data_dir = "{folder / "data"}"\n[exchange]\nsettle_poll = 0.5\n[risk]\none_in_flight = false\n'
        '[[strategies]]\nname = "fidelity_favourite"\n'
    )
    return path


def _registry():
    registry = discover()
    registry.register(FavouriteEveryMinute, "bench/fidelity.py")
    return registry


def _figures(markets) -> dict:
    report = build_report(markets, 0.05)
    orders = report.orders
    return {
        "orders": len(orders),
        "matched_stake": float(orders["size_matched"].sum()),
        "pnl": report.totals["gross_pnl"],
    }


def run(recording: Path, speed: float) -> tuple[dict, dict]:
    """Backtest and emulated-live figures for the recording."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = load_config(_config(folder))
        backtest = build(Mode.BACKTEST, config, paths=[recording], registry=_registry())
        backtest.run()
        with Emulator([recording], speed=speed) as emulator:
            live = build(Mode.LIVE, config, registry=_registry(), environ=CREDENTIALS, exchange=emulator.url)
            thread = threading.Thread(target=live.run, daemon=True)
            thread.start()
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                markets = list(live.flumine.markets)
                matched = [o for m in markets for o in m.blotter if o.size_matched > 0]
                if (
                    emulator.exchange.finished.is_set()
                    and markets
                    and all(m.closed for m in markets)
                    and all(o.cleared_order is not None for o in matched)
                ):
                    break
                time.sleep(0.2)
            live.stop()
        return _figures(backtest.flumine.markets), _figures(live.flumine.markets)


def main() -> None:
    """Print backtest vs emulated live."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("recording", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--speed", type=float, default=20.0)
    args = parser.parse_args()
    bt, live = run(args.recording, args.speed)
    print(f"fidelity on {args.recording.name} (emulator at {args.speed:g}x)")
    print(f"{'':14}{'backtest':>10}{'live':>10}{'difference':>12}")
    for key in ("orders", "matched_stake", "pnl"):
        print(f"{key:14}{bt[key]:>10.2f}{live[key]:>10.2f}{live[key] - bt[key]:>12.2f}")


if __name__ == "__main__":
    main()
