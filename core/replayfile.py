"""Replaying a recording file: each line read and parsed once, bad lines skipped (or, strict, refused) by number."""

from __future__ import annotations

import logging
import zlib
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import smart_open
from betfairlightweight.compat import json
from flumine.streams.betfairhistoricalstream import BetfairHistoricalStream

from core.errors import RecordingError

logger = logging.getLogger(__name__)

READ_ERRORS = (OSError, EOFError, zlib.error)
CHUNK = 4 << 20  # bytes of decompressed recording read at a time  # corrupt or cut-off compression, unreadable file


class RecordingReader:
    """One pass over a recording file: each line is read and parsed once and its changes handed out per market.

    Streams of the markets replayed from it say so with `want` before the replay starts. With one market
    wanted (or the whole file), lines go straight to that stream. With several, each market's changes wait
    in a queue until its stream asks for them; flumine interleaves an event's streams by publish time, so
    the queues hold a line or two at most. Markets nobody wants are dropped as they are read."""

    def __init__(self, path: str | Path, strict: bool = False) -> None:
        self.path = str(path)
        self.strict = strict  # a bad line stops the run (RecordingError) instead of being skipped
        self.wanted: list[str | None] = []
        self.lines_read = 0  # lines parsed so far, over every pass
        self.skipped: dict[int, str] = {}  # line number -> why it was left out
        self._queues: dict[str | None, deque] | None = None
        self._pass: Iterator[tuple[int, int, list[dict]]] | None = None

    def want(self, market_id: str | None) -> None:
        """A stream will read this market (None: every market of the file) in the coming replay."""
        if market_id not in self.wanted:
            self.wanted.append(market_id)

    def changes(self, market_id: str | None = None) -> Iterator[tuple[int, int, list[dict]]]:
        """(line number, publish time, market changes) of one market (or every market), in file order."""
        if len(self.wanted) <= 1 or None in self.wanted:
            return self._lines(market_id)
        return self._shared(market_id)

    def _shared(self, market_id: str | None) -> Iterator[tuple[int, int, list[dict]]]:
        if self._queues is None:
            self._queues = {m: deque() for m in self.wanted}
            self._pass = self._lines(None)
        queue = self._queues[market_id]
        while True:
            while not queue:
                item = next(self._pass, None)
                if item is None:
                    return
                number, publish_time, changes = item
                for change in changes:
                    target = self._queues.get(change.get("id")) if isinstance(change, dict) else None
                    if target is None:
                        continue
                    if target and target[-1][0] == number:
                        target[-1][2].append(change)  # several changes of one market in one line
                    else:
                        target.append((number, publish_time, [change]))
            yield queue.popleft()

    def skip(self, number: int, why: str) -> None:
        """Leave a line out (strict: stop here), saying so once per line."""
        if self.strict:
            raise RecordingError(f"{self.path}:{number}: {why}")
        if number not in self.skipped:
            self.skipped[number] = why
            logger.warning("%s:%s: %s; line skipped", self.path, number, why)

    def _lines(self, market_id: str | None) -> Iterator[tuple[int, int, list[dict]]]:
        # runs for every line of every replayed file: kept to one parse and a few tests (bench/backtest_overhead)
        number = 0
        loads = json.loads
        try:
            with smart_open.open(self.path, "rb") as f:
                for number, raw in enumerate(_chunked_lines(f), start=1):
                    try:
                        data = loads(raw.decode())  # str: json skips detecting the encoding of bytes
                        publish_time = data["pt"]
                        changes = data.get("mc")
                    except Exception:  # noqa: BLE001 - said precisely by _why
                        why = _why(raw)
                        if why:
                            self.skip(number, why)
                        continue
                    if not changes:
                        continue
                    if market_id is not None:
                        changes = [c for c in changes if isinstance(c, dict) and c.get("id") == market_id]
                        if not changes:
                            continue
                    yield number, publish_time, changes
        except READ_ERRORS:  # the file cannot be read to its end: take, line by line, what comes before that
            yield from self._salvage(market_id, number)
            return
        finally:
            self.lines_read += number

    def _salvage(self, market_id: str | None, done: int) -> Iterator[tuple[int, int, list[dict]]]:
        """After a read error: the lines after `done` up to where reading fails, then that failure as a skip."""
        number = 0
        try:
            with smart_open.open(self.path, "rb") as f:
                for number, raw in enumerate(f, start=1):
                    if number <= done:
                        continue
                    try:
                        data = json.loads(raw)
                        publish_time, changes = data["pt"], data.get("mc")
                    except Exception:  # noqa: BLE001
                        why = _why(raw)
                        if why:
                            self.skip(number, why)
                        continue
                    if changes and market_id is not None:
                        changes = [c for c in changes if isinstance(c, dict) and c.get("id") == market_id]
                    if changes:
                        yield number, publish_time, changes
        except READ_ERRORS as exc:
            self.skip(number + 1, f"cannot read the file from here on ({type(exc).__name__}: {exc})")


def _why(raw: bytes) -> str | None:
    """Why a line did not parse as a stream message (None: a blank line, nothing to say)."""
    if not raw.strip():
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return "not UTF-8 text"
    except ValueError:
        return "not a JSON stream message"
    return "message has no publish time 'pt'" if not isinstance(data, dict) or "pt" not in data else "unreadable"


def _chunked_lines(f, size: int = CHUNK) -> Iterator[bytes]:
    """The lines of a binary file, decompressed a few MB at a time.

    An event's files are replayed interleaved; read line by line, their bz2 decompressors would take turns
    on every line and thrash the CPU's caches (4x slower than reading a file whole, as flumine does)."""
    rest = b""
    while chunk := f.read1(size):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield from lines
    if rest:
        yield rest


class RecordingStream(BetfairHistoricalStream):
    """A flumine historical stream over one market of a recording (or all of a one-market file), fed by a reader."""

    def __init__(self, reader: RecordingReader | str, market_id: str | None = None, **kwargs) -> None:
        self.reader = reader if isinstance(reader, RecordingReader) else RecordingReader(reader)
        self.market_id = market_id
        super().__init__(self.reader.path, **kwargs)
        # flumine 3.3.2 workaround (DESIGN.md): FlumineSimulation.run logs `market_filter` of
        # event-grouped streams, which BetfairHistoricalStream lacks; give it the file path.
        self.market_filter = self.reader.path if market_id is None else f"{self.reader.path}#{market_id}"

    @property
    def stream_hash(self) -> int:
        """flumine shares streams of equal hash: one per market of a file."""
        return hash((super().stream_hash, self.market_id))

    def create_generator(self):
        """A generator of market-book lists, as flumine's own historical stream yields them."""
        listener = self._listener
        listener.update_clk = False  # not needed when simulating (as flumine does)

        def read():
            listener.register_stream(self.stream_id, self.operation)
            stream = listener.stream
            caches = stream._caches
            unique_id = self.stream_id
            for number, publish_time, changes in self.reader.changes(self.market_id):
                try:
                    active = stream._process(changes, publish_time)
                except Exception as exc:  # noqa: BLE001 - any malformed field in a user's file
                    self.reader.skip(number, f"malformed market change ({exc!r})")
                    continue
                if active:
                    yield [cache.create_resource(unique_id, snap=True) for cache in caches.values() if cache.active]

        return read
