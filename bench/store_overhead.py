"""What the audit store costs a backtest: the shipped strategies over ../shared/recordings, store on and off.

Each variant is a whole process (`python main.py backtest`), paired and alternated for --rounds rounds; prints
the CPU seconds of each and the median ratio on / off (target: at most 1.05).

    python -m bench.store_overhead [--rounds N] [PATH ...]"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORDINGS = ROOT.parent / "shared" / "recordings"


def _config(folder: Path, enabled: bool) -> Path:
    text = (ROOT / "config.toml").read_text().replace('paths = ["recordings"]', f'paths = ["{ROOT / "recordings"}"]')
    path = folder / f"config-{'on' if enabled else 'off'}.toml"
    path.write_text(f'data_dir = "{folder / "data"}"\n[store]\nenabled = {str(enabled).lower()}\n' + text)
    return path


def _cpu_seconds(config: Path, paths: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {k: v for k, v in os.environ.items() if k != "PADDOCK_DB_URL"}
    command = [sys.executable, "main.py", "backtest", "--no-progress", "--config", str(config), *paths]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    """Run the rounds and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("paths", nargs="*", default=[str(RECORDINGS)])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        on, off = _config(folder, True), _config(folder, False)
        ratios = []
        for round_ in range(args.rounds):
            order = [(on, True), (off, False)] if round_ % 2 == 0 else [(off, False), (on, True)]
            seconds = {enabled: _cpu_seconds(config, args.paths) for config, enabled in order}
            ratios.append(seconds[True] / seconds[False])
            print(f"round {round_ + 1}: store on {seconds[True]:.2f}s, off {seconds[False]:.2f}s CPU, "
                  f"ratio {ratios[-1]:.3f}")  # fmt: skip
    print(f"store on / off, median of {args.rounds} round(s): {statistics.median(ratios):.3f} "
          f"(spread {min(ratios):.3f}-{max(ratios):.3f})")  # fmt: skip


if __name__ == "__main__":
    main()
