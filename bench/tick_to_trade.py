"""Benchmark: tick to trade through the emulator, paddock's live stack against bare flumine, same strategy logic.

From an update's bytes leaving the emulator's stream socket to the placeOrders it caused arriving at the
emulator (emulator.probe.Probe). The strategy orders on chosen updates (publish time a multiple of --every ms,
market open): a back at the best price on a runner picked from the publish time, its stake telling which update
it answers. Each run is a bot process of its own against a fresh emulator in this process; paddock and bare are
paired and interleaved, their order rotated each round. Prints p50 and p99 of each, per round and the median
of the rounds, and the ratios to bare flumine with their spread.
Usage: python -m bench.tick_to_trade [--rounds N] [--orders N] [--speed X] [--max-gap S] [--every MS] [--no-store] [PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flumine import BaseStrategy  # noqa: E402
from flumine.order.ordertype import LimitOrder  # noqa: E402
from flumine.order.trade import Trade  # noqa: E402

from strategies.base import ModalStrategy, StrategyConfig  # noqa: E402

DEFAULT_PATH = ROOT.parent / "shared" / "recordings" / "PRO-1.170258213.bz2"
CREDENTIALS = {"BETFAIR_USERNAME": "bench", "BETFAIR_PASSWORD": "bench", "BETFAIR_APP_KEY": "bench"}
CODES = 500  # stakes 2.00 .. 6.99 name the update an order answers
LIMITS = """
[kill_switch]
max_daily_drawdown = 1000000.0
[risk]
max_stake = 100.0
max_market_exposure = 1000000.0
max_event_exposure = 1000000.0
max_total_exposure = 1000000.0
daily_loss_limit = 1000000.0
[rate_limit]
in_play = 1000
pre_race = 1000
"""


def chosen(market_book, every: int):
    """The order a chosen update asks for, (selection, handicap, price, size), or None."""
    pt = market_book.publish_time_epoch
    if pt % every or market_book.status != "OPEN":
        return None
    runners = [r for r in market_book.runners if r.status == "ACTIVE" and r.ex.available_to_back]
    if not runners:
        return None
    runner = runners[(pt // every) % len(runners)]
    size = 2.0 + ((pt // every) % CODES) / 100
    return runner.selection_id, runner.handicap, runner.ex.available_to_back[0]["price"], round(size, 2)


def code_of(pt: int, every: int) -> int:
    """The stake code of the update published at pt."""
    return (pt // every) % CODES


class BenchConfig(StrategyConfig):
    """Which updates to order on."""

    every: int = 50


class PaddockTaker(ModalStrategy):
    """The bench logic as a paddock strategy: every book pre-race and in play."""

    plugin_name = "bench_taker"
    Config = BenchConfig

    def _book(self, market, market_book) -> None:
        want = chosen(market_book, self.config.every)
        if want is not None:
            selection_id, handicap, price, size = want
            order = Trade(market.market_id, selection_id, handicap, self).create_order(
                side="BACK", order_type=LimitOrder(price, size, persistence_type="LAPSE")
            )
            self.place_order(market, order)

    process_pre_race = _book
    process_in_play = _book


class BareTaker(BaseStrategy):
    """The same logic as a bare flumine strategy."""

    every = 50

    def check_market_book(self, market, market_book) -> bool:
        return True

    def process_market_book(self, market, market_book) -> None:
        want = chosen(market_book, self.every)
        if want is not None:
            selection_id, handicap, price, size = want
            order = Trade(market.market_id, selection_id, handicap, self).create_order(
                side="BACK", order_type=LimitOrder(price, size, persistence_type="LAPSE")
            )
            market.place_order(order)


def bot(variant: str, url: str, market_id: str, every: int, folder: Path, store: bool = True) -> None:
    """Run one bot (in its own process) against the emulator until SIGTERM."""
    if variant == "paddock":
        from app.assembly import Mode, build
        from app.plugins import discover
        from core.config import load_config

        config = folder / "bench.toml"
        config.write_text(
            f'data_dir = "{folder / "data"}"\n{LIMITS}\n[exchange]\nstatus_interval = 0\n'
            f"[store]\nenabled = {str(store).lower()}\n"
            f'[[strategies]]\nname = "bench_taker"\n[strategies.market_filter]\nmarket_ids = ["{market_id}"]\n'
            f"[strategies.params]\nevery = {every}\npre_race_interval = 0.0\nmax_order_exposure = 1000\n"
            "max_selection_exposure = 1000000\n"
        )
        registry = discover()
        registry.register(PaddockTaker, "bench/tick_to_trade.py")
        framework = build(Mode.LIVE, load_config(config), environ=CREDENTIALS, exchange=url, registry=registry)
        signal.signal(signal.SIGTERM, lambda *_: framework.stop())
        framework.run()
        if framework.latency is not None:  # where paddock's time went, stage by stage (on the bot's stderr)
            from core.latency import format_summary

            print(format_summary(framework.latency.summary()), file=sys.stderr)
        return
    from betfairlightweight import APIClient, filters
    from flumine import Flumine, clients
    from flumine.streams.betfairmarketstream import BetfairMarketStream

    from core.exchange import ExchangeEndpoint, point_at

    trading = APIClient("bench", "bench", app_key="bench")
    point_at(trading, ExchangeEndpoint.parse(url))
    flumine = Flumine(client=clients.BetfairClient(trading, interactive_login=True))
    BareTaker.every = every
    stream = BetfairMarketStream(
        market_filter=filters.streaming_market_filter(market_ids=[market_id]),
        market_data_filter=filters.streaming_market_data_filter(
            fields=["EX_ALL_OFFERS", "EX_TRADED", "EX_TRADED_VOL", "EX_LTP", "EX_MARKET_DEF"]
        ),
    )
    flumine.add_strategy(
        BareTaker(streams=[stream], name="bench_bare", max_order_exposure=1000, max_selection_exposure=1e6)
    )
    from flumine.events.events import TerminationEvent

    signal.signal(signal.SIGTERM, lambda *_: flumine.handler_queue.put(TerminationEvent(flumine)))
    flumine.run()


def latencies(probe, every: int) -> list[float]:
    """Milliseconds from each chosen update's write to the placeOrders it caused (matched by stake code)."""
    latest: dict[int, int] = {}
    events = sorted(
        [(t, "sent", pt) for pt, t in probe.sent if pt % every == 0]
        + [(t, "call", body) for t, path, body in probe.calls if path.endswith("betting/json-rpc/v1")]
    )
    out = []
    for stamp, kind, what in events:
        if kind == "sent":
            latest[code_of(what, every)] = stamp
            continue
        request = json.loads(what)
        for call in request if isinstance(request, list) else [request]:
            if not call.get("method", "").endswith("placeOrders"):
                continue
            for instruction in call["params"]["instructions"]:
                code = round((instruction["limitOrder"]["size"] - 2.0) * 100)
                if code in latest:
                    out.append((stamp - latest.pop(code)) / 1e6)
    return out


def run_one(
    variant: str, path: Path, orders: int, speed: float, max_gap: float, every: int, store: bool = True
) -> list[float]:
    """One bot process against a fresh emulator until it has placed `orders` orders (or the replay ended)."""
    from core.recordings import read_header
    from emulator.probe import Probe
    from emulator.server import Emulator

    probe = Probe()
    market_id = read_header(path).markets[0].market_id
    with tempfile.TemporaryDirectory() as tmp, Emulator([path], speed=speed, max_gap=max_gap, probe=probe) as emulator:
        args = [sys.executable, "-m", "bench.tick_to_trade", "--bot", variant, "--url", emulator.url]
        args += ["--market", market_id, "--every", str(every), "--folder", tmp] + ([] if store else ["--no-store"])
        process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, env={**os.environ, **CREDENTIALS})
        try:
            while process.poll() is None and not emulator.exchange.finished.is_set():
                if len(latencies(probe, every)) >= orders:
                    break
                time.sleep(1.0)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return latencies(probe, every)[:orders]


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def main() -> None:
    """Paired, interleaved rounds of paddock and bare flumine; medians of the rounds with their spread."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--orders", type=int, default=1000, help="orders measured per run")
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--max-gap", type=float, default=0.1, help="market seconds idle gaps are cut to")
    parser.add_argument("--every", type=int, default=10, help="order on updates whose publish time (ms) divides by")
    parser.add_argument("--bot", choices=["paddock", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--market", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--no-store", action="store_true", help="paddock with the audit store off (what its durable wait costs)"
    )
    args = parser.parse_args()
    if args.bot:
        bot(args.bot, args.url, args.market, args.every, args.folder, store=not args.no_store)
        return
    figures: dict[str, list[tuple[float, float, int]]] = {"paddock": [], "bare": []}
    ratios: dict[str, list[float]] = {"p50": [], "p99": []}
    for number in range(args.rounds):
        order = ["paddock", "bare"] if number % 2 == 0 else ["bare", "paddock"]
        here = {}
        for variant in order:
            values = run_one(variant, args.path, args.orders, args.speed, args.max_gap, args.every, not args.no_store)
            here[variant] = (pct(values, 50), pct(values, 99), len(values))
            figures[variant].append(here[variant])
            print(f"round {number + 1} {variant:8} orders {len(values):5} p50 {here[variant][0]:.2f} ms "
                  f"p99 {here[variant][1]:.2f} ms", flush=True)  # fmt: skip
        ratios["p50"].append(here["paddock"][0] / here["bare"][0])
        ratios["p99"].append(here["paddock"][1] / here["bare"][1])
    for variant, rows in figures.items():
        p50 = statistics.median(r[0] for r in rows)
        p99 = statistics.median(r[1] for r in rows)
        print(f"{variant:8} p50 {p50:.2f} ms  p99 {p99:.2f} ms  (median of {len(rows)} rounds)")
    for q, values in ratios.items():
        print(f"ratio paddock/bare {q}: {statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})")


if __name__ == "__main__":
    main()
