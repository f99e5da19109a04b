"""Benchmark: backtesting multi-market football recordings, each file read once vs once per market (as before).

The scenario generator writes one file per match with its four markets. paddock's reader parses such a file
once and hands each market its changes; before, every market's stream read and parsed the whole file. Both
are timed here in one run, as whole backtests of the shipped in-play strategy trading all four markets of
every match (CPU seconds, median of rounds).
Usage: python -m bench.multimarket_read [--rounds N] [--matches N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.assembly import Mode, build  # noqa: E402
from app.scenarios.generate import generate  # noqa: E402
from core.config import load_config  # noqa: E402
from core.replayfile import RecordingReader  # noqa: E402

CONFIG = """
[[strategies]]
name = "inplay_favourite"
[strategies.market_filter]
event_type_ids = ["1"]
"""


def backtest(config: Path, paths: list[Path], once_per_market: bool) -> tuple[float, int]:
    """CPU seconds of a backtest, and the updates it processed."""
    framework = build(Mode.BACKTEST, load_config(config), paths=paths)
    if once_per_market:  # the old way: every market's stream reads the file on its own
        for stream in framework.flumine.streams:
            stream.reader = RecordingReader(stream.reader.path)
            stream.reader.want(stream.market_id)
    start = time.process_time()
    framework.run()
    return time.process_time() - start, sum(s.updates for s in framework.tracker.states.values())


def main() -> int:
    """Print both timings and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--matches", type=int, default=6, help="generated football matches (4 markets each)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = [generate("football", Path(tmp) / f"match-{n}.gz", seed=n) for n in range(1, args.matches + 1)]
        config = Path(tmp) / "config.toml"
        config.write_text(CONFIG)
        times: dict[bool, list[float]] = {False: [], True: []}
        updates = {}
        for round_no in range(args.rounds):
            for per_market in (round_no % 2 == 0, round_no % 2 == 1):  # alternate which goes first
                seconds, updates[per_market] = backtest(config, paths, per_market)
                times[per_market].append(seconds)
    assert updates[False] == updates[True], "both ways must replay the same updates"
    once, per = statistics.median(times[False]), statistics.median(times[True])
    spread = {k: f"{min(v):.3f}-{max(v):.3f}" for k, v in times.items()}
    print(f"{args.matches} generated football files, 4 markets each, {updates[False]} updates, {args.rounds} rounds")
    print(f"each file read once         {once:.3f} s  (range {spread[False]})")
    print(f"each market reads the file  {per:.3f} s  (range {spread[True]})")
    print(f"ratio once / per market     {once / per:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
