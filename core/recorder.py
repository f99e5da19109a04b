"""Recording live markets in Betfair's format: raw mcm lines with pt, one compressed file per market."""

from __future__ import annotations

import gzip
import logging
import os
from pathlib import Path

from betfairlightweight.compat import json
from flumine import BaseStrategy

logger = logging.getLogger("paddock.recorder")

PARTIAL_DIR = ".partial"


class MarketRecorder(BaseStrategy):
    """A flumine strategy on a raw data stream that writes each market's messages to OUT/<market id>.gz.

    Lines go to OUT/.partial/<market id> while the market runs; when it closes, or the recorder stops, the
    file is compressed to a temporary name and moved into place in one step, so OUT never holds half a file."""

    def __init__(self, *args, out_dir: Path, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.out_dir = Path(out_dir)
        self.partial_dir = self.out_dir / PARTIAL_DIR
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, object] = {}
        self.written: list[Path] = []

    def check_market_book(self, market, market_book) -> bool:
        """The recorder takes raw data only."""
        return False

    def process_raw_data(self, clk: str, publish_time: int, data: dict) -> None:
        """Append one market change as a one-market mcm line; finish the file when the market closes."""
        market_id = data.get("id")
        if not market_id:
            return
        handle = self._files.get(market_id)
        if handle is None:
            handle = self._files[market_id] = open(self.partial_dir / market_id, "a", encoding="utf-8")  # noqa: SIM115
        line = json.dumps({"op": "mcm", "clk": clk, "pt": publish_time, "mc": [data]})
        handle.write((line.decode() if isinstance(line, bytes) else line) + "\n")
        definition = data.get("marketDefinition") or {}
        if definition.get("status") == "CLOSED":
            self.finish_market(market_id)

    def finish_market(self, market_id: str) -> Path | None:
        """Compress a market's lines into OUT/<market id>.gz atomically; returns the file written."""
        handle = self._files.pop(market_id, None)
        if handle is None:
            return None
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        partial = self.partial_dir / market_id
        final = self.out_dir / f"{market_id}.gz"
        temporary = self.partial_dir / f"{market_id}.gz.tmp"
        with open(partial, "rb") as src, gzip.open(temporary, "wb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                dst.write(chunk)
        os.replace(temporary, final)
        partial.unlink()
        self.written.append(final)
        logger.info("recorded %s", final)
        return final

    def finish(self, flumine) -> None:
        """On stop (SIGINT/SIGTERM or the end of a run): finish every open market's file."""
        for market_id in list(self._files):
            self.finish_market(market_id)
