"""Backtests at scale: the shipped strategies over ../shared/recordings in one process, on 2 worker processes and
on a local Dask cluster (2 workers), each a whole process (`python main.py backtest`, store off).

The variants are interleaved (their order rotates every round) for --rounds rounds; prints each round's wall
seconds and the machine's load average, then per variant the median speedup over serial with its spread
(target: >= 1.8x on 2 cores). A machine shared with other work shows in the load and the spread.

    python -m bench.backtest_scale [--rounds N] [--workers N] [PATH ...]"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORDINGS = ROOT.parent / "shared" / "recordings"


def _config(folder: Path) -> Path:
    path = folder / "config.toml"
    path.write_text(f'data_dir = "{folder / "data"}"\n[store]\nenabled = false\n' + (ROOT / "config.toml").read_text())
    return path


def _wall_seconds(config: Path, paths: list[str], flags: list[str]) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PADDOCK_DB_URL"}
    command = [sys.executable, "main.py", "backtest", "--no-progress", "--config", str(config), *flags, *paths]
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def main() -> None:
    """Run the rounds and print the speedups."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("paths", nargs="*", default=[str(RECORDINGS)])
    args = parser.parse_args()
    n = str(args.workers)
    variants = {
        "serial": ["--workers", "1"],
        f"{n} workers": ["--workers", n],
        "dask local": ["--dask", "local", "--workers", n],
    }
    print(f"{os.cpu_count()} cores; {args.rounds} round(s); paths: {' '.join(args.paths)}")
    times: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as tmp:
        config = _config(Path(tmp))
        names = list(variants)
        for round_ in range(args.rounds):
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:
                times[name].append(_wall_seconds(config, args.paths, variants[name]))
            load = os.getloadavg()[0]
            print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()) +
                  f" (load {load:.2f})")  # fmt: skip
    serial = times["serial"]
    print(f"serial: median {statistics.median(serial):.2f}s (spread {min(serial):.2f}-{max(serial):.2f}s)")
    for name in names[1:]:
        speedups = [s / t for s, t in zip(serial, times[name], strict=True)]  # paired: the same round
        print(f"{name}: median speedup {statistics.median(speedups):.2f}x over serial "
              f"(spread {min(speedups):.2f}-{max(speedups):.2f}x, {args.rounds} paired rounds)")  # fmt: skip


if __name__ == "__main__":
    main()
