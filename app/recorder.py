"""Recording live markets in Betfair's format: raw mcm lines with pt, one compressed file per market."""

from __future__ import annotations

import gzip
import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from betfairlightweight.compat import json
from flumine import BaseStrategy
from flumine.baseflumine import BaseFlumine
from flumine.events.events import TerminationEvent
from flumine.streams.betfairdatastream import BetfairDataStream, FlumineListener
from flumine.worker import BackgroundWorker

from app.live import MARKET_DATA_FILTER
from app.metrics import Metrics
from app.telemetry import attach_recorder_metrics
from app.watch import offers_more
from app.workers import PaddockFlumine
from controls.watchdog import StreamMonitor, monitored_listener
from core.clock import WallClock
from core.config import LoadedConfig
from core.exchange import ExchangeEndpoint
from core.session import betfair_client

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
        self.market_types: dict[str, str] = {}
        self.update_listeners: list[Callable[[str | None], None]] = []  # the market type of each change written

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
        if "marketType" in definition:
            self.market_types[market_id] = definition["marketType"]
        for listener in self.update_listeners:
            listener(self.market_types.get(market_id))
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

    @property
    def open_markets(self) -> int:
        """Markets whose file is still being written."""
        return len(self._files)

    def finish(self, flumine) -> None:
        """On stop (SIGINT/SIGTERM or the end of a run): finish every open market's file."""
        for market_id in list(self._files):
            self.finish_market(market_id)


@dataclass
class RecorderRun:
    """An assembled market recorder: flumine in recording mode with one raw-data recorder strategy."""

    flumine: BaseFlumine
    recorder: MarketRecorder
    monitor: StreamMonitor | None = None  # the market stream's liveness and reconnects
    metrics: Metrics | None = None  # when served (--metrics-port)

    def run(self) -> None:
        """Record until stopped; every open market's file is finished on the way out."""
        try:
            self.flumine.run()
        finally:
            if self.metrics is not None:
                self.metrics.close()

    def stop(self) -> None:
        """Ask the recorder to finish (from any thread or a signal handler)."""
        self.flumine.handler_queue.put(TerminationEvent(self.flumine))


def build_recorder(
    config: LoadedConfig,
    endpoint: ExchangeEndpoint | None,
    environ: Mapping[str, str],
    out_dir: str | Path | None = None,
    until_closed: bool = False,
    metrics_port: int | None = None,
) -> RecorderRun:
    """Assemble `record`: subscribe to `[record] market_filter` and write one recording per market.

    With until_closed it stops once every market recorded has closed and the exchange offers no new one; with
    metrics_port, updates per market type and stream reconnects are served on 127.0.0.1:metrics_port."""
    client = betfair_client(environ, endpoint, market_recording_mode=True)
    flumine = PaddockFlumine(client=client)
    out = Path(out_dir) if out_dir else config.resolve(config.app.record.out)
    monitor = StreamMonitor(WallClock())
    stream_class = type(
        "MonitoredDataStream", (BetfairDataStream,), {"LISTENER": monitored_listener(monitor, FlumineListener)}
    )
    stream = stream_class(
        market_filter=config.app.record.market_filter.streaming(), market_data_filter=MARKET_DATA_FILTER
    )
    recorder = MarketRecorder(name="paddock_recorder", streams=[stream], out_dir=out)
    flumine.add_strategy(recorder)
    run = RecorderRun(flumine=flumine, recorder=recorder, monitor=monitor)
    if metrics_port is not None:
        run.metrics = attach_recorder_metrics(recorder, monitor, metrics_port)
    if until_closed:
        market_filter = config.app.record.market_filter

        def check(*_) -> None:
            done = {path.name.removesuffix(".gz") for path in recorder.written}
            if done and not recorder.open_markets and not offers_more(client, [market_filter], done):
                print("every market recorded has closed and the exchange offers no new one: stopping", file=sys.stderr)
                run.stop()

        flumine.add_worker(
            BackgroundWorker(flumine, function=check, interval=2.0, start_delay=2.0, name="paddock_until")
        )
    return run
