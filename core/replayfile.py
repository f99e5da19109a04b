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

READ_ERRORS = (OSError, EOFError, zlib.error)  # corrupt or cut-off compression, unreadable file


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
        self._shared: Iterator[tuple[int, int, list[dict]]] | None = None

    def want(self, market_id: str | None) -> None:
        """A stream will read this market (None: every market of the file) in the coming replay."""
        if market_id not in self.wanted:
            self.wanted.append(market_id)

    def changes(self, market_id: str | None = None) -> Iterator[tuple[int, int, list[dict]]]:
        """(line number, publish time, market changes) of one market (or every market), in file order."""
        if len(self.wanted) <= 1 or None in self.wanted:
            yield from self._lines(market_id)
            return
        if self._queues is None:
            self._queues = {m: deque() for m in self.wanted}
            self._shared = self._lines(None)
        queue = self._queues[market_id]
        while True:
            while not queue:
                item = next(self._shared, None)
                if item is None:
                    return
                number, publish_time, changes = item
                for change in changes:
                    target = self._queues.get(change.get("id"))
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
        number = 0
        try:
            with smart_open.open(self.path, "rb") as f:
                for number, raw in enumerate(f, start=1):
                    self.lines_read += 1
                    parsed = self._parse(number, raw)
                    if parsed is None:
                        continue
                    publish_time, changes = parsed
                    if market_id is not None:
                        changes = [c for c in changes if isinstance(c, dict) and c.get("id") == market_id]
                        if not changes:
                            continue
                    yield number, publish_time, changes
        except READ_ERRORS as exc:  # the rest of the file cannot be read: this file ends here
            self.skip(number + 1, f"cannot read the file from here on ({type(exc).__name__}: {exc})")

    def _parse(self, number: int, raw: bytes) -> tuple[int, list[dict]] | None:
        if not raw.strip():
            return None
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            self.skip(number, "not UTF-8 text")
            return None
        except ValueError:
            self.skip(number, "not a JSON stream message")
            return None
        if not isinstance(data, dict) or "pt" not in data:
            self.skip(number, "message has no publish time 'pt'")
            return None
        changes = data.get("mc")
        if not changes:
            return None
        if (
            not isinstance(changes, list)
            or not isinstance(data["pt"], int)
            or not all(isinstance(c, dict) for c in changes)
        ):
            self.skip(number, "not a market change message ('pt' a number, 'mc' a list)")
            return None
        return data["pt"], changes


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
