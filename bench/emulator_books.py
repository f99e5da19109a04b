"""Books through the emulator against betfairlightweight's books from the file, for every message of each recording.

python -m bench.emulator_books [PATH...] [--speed X] [--max-gap S]

Prints per file and in total how many streamed books differ (the target is 0) and in which fields, and as many
for the images a client subscribing after every Nth message would be sent (--image-every, default 10)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from core.recordings import resolve_paths
from emulator.bookcheck import check

SHARED = Path(__file__).resolve().parents[2] / "shared" / "recordings"


def main(argv: list[str] | None = None) -> int:
    """Check each recording and print the differing books; exit status 1 when any differ."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "paths", nargs="*", type=Path, default=[SHARED], help="recordings (default ../shared/recordings)"
    )
    parser.add_argument("--speed", type=float, default=2000.0, help="replay speed (default 2000)")
    parser.add_argument("--max-gap", type=float, default=1.0, help="idle gaps cut to S market seconds (default 1)")
    parser.add_argument("--image-every", type=int, default=10, help="check the image after every Nth message (0: no)")
    args = parser.parse_args(argv)
    totals = [0, 0, 0, 0]
    print(
        f"{'recording':24}{'messages':>9}{'books':>9}{'differing':>10}{'images':>8}{'differing':>10}{'seconds':>9}  fields"
    )
    for path in resolve_paths(args.paths):
        started = time.monotonic()
        r = check([path], speed=args.speed, max_gap=args.max_gap, image_every=args.image_every)
        fields = ", ".join(f"{name} {count}" for name, count in r.fields.most_common())
        seconds = time.monotonic() - started
        print(
            f"{path.name:24}{r.messages:>9}{r.books:>9}{r.differing:>10}{r.images:>8}{r.images_differing:>10}"
            f"{seconds:>9.1f}  {fields}"
        )
        for example in r.examples:
            print(f"{'':26}{example}")
        for i, n in enumerate((r.books, r.differing, r.images, r.images_differing)):
            totals[i] += n
    print(f"{'total':24}{'':>9}{totals[0]:>9}{totals[1]:>10}{totals[2]:>8}{totals[3]:>10}")
    return 1 if totals[1] or totals[3] else 0


if __name__ == "__main__":
    raise SystemExit(main())
