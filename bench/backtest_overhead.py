"""Benchmark: the project's full backtest stack vs bare flumine on the same recordings, in one run.

Runs them in turn over several rounds (order rotated each round) and prints updates per CPU second of
each and the median of each round's ratio to bare flumine, with the spread (target >= 0.95). With
--processes every run is a whole process of its own (the figures the README quotes). CPU time
(time.process_time) is used because these machines are shared.
Usage: python -m bench.backtest_overhead [--processes] [--rounds N] [PATH ...]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from flumine import BaseStrategy, FlumineSimulation, clients
from flumine.streams.betfairhistoricalstream import BetfairHistoricalStream

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.assembly import Mode, build  # noqa: E402
from app.plugins import discover  # noqa: E402
from core.config import load_config  # noqa: E402
from core.recordings import read_header, resolve_paths  # noqa: E402
from strategies.base import ModalStrategy  # noqa: E402

DEFAULT_PATHS = [
    ROOT.parent / "shared" / "recordings" / n
    for n in ("SELF-1.181223994.bz2", "SELF-1.181223995.bz2", "PRO-1.170258213.bz2")
]


class BareNoop(BaseStrategy):
    """Bare flumine strategy that looks at every book and does nothing."""

    updates = 0

    def check_market_book(self, market, market_book):
        return True

    def process_market_book(self, market, market_book):
        BareNoop.updates += 1


class ModalNoop(ModalStrategy):
    """The project's strategy base with no-op hooks, as a user writes it (updates are counted by the tracker)."""

    plugin_name = "bench_noop"


def run_bare(paths: list[Path]) -> tuple[float, int]:
    """Bare flumine: one historical stream per file, grouped by event like the project does."""
    BareNoop.updates = 0
    events = {}
    for path in paths:
        events.setdefault(read_header(path).event_id, []).append(path)
    streams = []
    for event_id, files in events.items():
        for path in files:
            grouped = len(files) > 1
            stream = BetfairHistoricalStream(
                str(path), event_processing=grouped, event_group=event_id if grouped else None
            )
            stream.market_filter = str(path)  # flumine 3.3.2 workaround, as in core/recordings.py
            streams.append(stream)
    framework = FlumineSimulation(client=clients.SimulatedClient())
    framework.add_strategy(BareNoop(streams=streams))
    start = time.process_time()
    framework.run()
    return time.process_time() - start, BareNoop.updates


class ModalNoopSignals(ModalNoop):
    """As ModalNoop, but declares it uses signals, so the signal buffer observes every runner."""

    plugin_name = "bench_noop_signals"
    uses_signals = True


ALL_CONTROLS = """
[kill_switch]
max_daily_drawdown = 100
[risk]
max_stake = 10
max_market_exposure = 50
max_event_exposure = 100
max_total_exposure = 200
daily_loss_limit = 50
selection_cooldown = 5
blacklist_event_types = ["99"]
blacklist_market_types = ["ASIAN_HANDICAP"]
blacklist_competitions = ["1"]
max_price_drift = 2
[rate_limit]
in_play = 5
pre_race = 5
[cascade]
policy = "hedge"
reopen_settle = 0.5
[[strategies]]
name = "bench_noop"
"""


def run_full(paths: list[Path], config_path: Path) -> tuple[float, int]:
    """The full stack: assembly, tracker, signal buffer, safety layer, ModalStrategy dispatch."""
    registry = discover()
    registry.register(ModalNoop, "bench")
    registry.register(ModalNoopSignals, "bench")
    framework = build(Mode.BACKTEST, load_config(config_path), paths=paths, registry=registry)
    start = time.process_time()
    framework.run()
    seconds = time.process_time() - start
    return seconds, sum(state.updates for state in framework.tracker.states.values())


VARIANTS = ("bare", "full", "full+controls", "full+signals")
LABELS = {
    "bare": "bare flumine, no-op BaseStrategy",
    "full": "full stack, no-op ModalStrategy",
    "full+controls": "full stack, every control configured",
    "full+signals": "full stack + signal buffer observing",
}


def run_variant(name: str, paths: list[Path]) -> tuple[float, int]:
    """CPU seconds and updates of one variant, in this process."""
    if name == "bare":
        return run_bare(paths)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.toml"
        config.write_text(
            {
                "full": '[[strategies]]\nname = "bench_noop"\n',
                "full+controls": ALL_CONTROLS,
                "full+signals": '[[strategies]]\nname = "bench_noop_signals"\n',
            }[name]
        )
        return run_full(paths, config)


def in_subprocess(name: str, paths: list[Path]) -> float:
    """Updates per CPU second of one variant run as a whole process of its own."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.backtest_overhead", "--one", name, *map(str, paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(out.strip().splitlines()[-1])


def main() -> int:
    """Run the benchmark and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=[str(p) for p in DEFAULT_PATHS])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--processes", action="store_true", help="each run a whole process of its own (paired)")
    parser.add_argument("--one", choices=VARIANTS, help=argparse.SUPPRESS)  # a child of --processes
    args = parser.parse_args()
    paths = resolve_paths(args.paths)
    if args.one:
        seconds, updates = run_variant(args.one, paths)
        print(f"{updates / seconds:.1f}")
        return 0
    rates: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for round_no in range(args.rounds):
        # rotate the order each round, so no variant always runs right after another
        shift = round_no % len(VARIANTS)
        for name in VARIANTS[shift:] + VARIANTS[:shift]:
            if args.processes:
                rates[name].append(in_subprocess(name, paths))
            else:
                seconds, updates = run_variant(name, paths)
                rates[name].append(updates / seconds)
        print(f"round {round_no + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in rates.items()), flush=True)
    how = "whole processes, paired and interleaved" if args.processes else "in one process"
    print(f"files: {', '.join(p.name for p in paths)} ({how})")
    print(f"{'':38}{'best':>12}{'median':>12}  (updates per CPU second over {args.rounds} rounds)")
    for name, label in LABELS.items():
        print(f"{label:38}{max(rates[name]):>12,.0f}{statistics.median(rates[name]):>12,.0f}")
    for name in VARIANTS[1:]:
        paired = [r / b for r, b in zip(rates[name], rates["bare"], strict=True)]
        target = "  (target >= 0.95)" if name != "full+signals" else ""
        print(
            f"ratio {name}/bare: median of rounds {statistics.median(paired):.3f} "
            f"(spread {min(paired):.3f}-{max(paired):.3f}){target}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
