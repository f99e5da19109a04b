"""Recording files: resolving paths, reading their headers, and replaying them with checked lines."""

from __future__ import annotations

import glob
import logging
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import smart_open
from betfairlightweight.compat import json
from flumine.streams.betfairhistoricalstream import BetfairHistoricalStream

from core.errors import RecordingError

logger = logging.getLogger(__name__)

NOT_RECORDING_SUFFIXES = {".md", ".py", ".toml", ".csv", ".html", ".yaml", ".yml", ".zip", ".tar"}


@dataclass(frozen=True)
class MarketHeader:
    """A market as described by the first line of a recording."""

    market_id: str
    event_id: str
    event_type_id: str | None
    market_type: str | None
    country_code: str | None
    competition_id: str | None


@dataclass(frozen=True)
class Recording:
    """A recording file and the markets its first line describes."""

    path: Path
    markets: tuple[MarketHeader, ...]

    @property
    def event_id(self) -> str:
        """Event of the recording's first market."""
        return self.markets[0].event_id


def _looks_like_recording(path: Path) -> bool:
    name = path.name.lower()
    return not name.startswith((".", "readme")) and path.suffix.lower() not in NOT_RECORDING_SUFFIXES


def resolve_paths(paths: list[str | Path]) -> list[Path]:
    """Expand files, directories (their recordings) and globs into a sorted list of files."""
    files: list[Path] = []
    for raw in paths:
        text = str(raw)
        if any(ch in text for ch in "*?["):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            matches = [m for m in matches if m.is_file()]
            if not matches:
                raise RecordingError(f"{text}: no recording matches this pattern")
            files.extend(matches)
            continue
        path = Path(text).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and _looks_like_recording(p))
            if not found:
                raise RecordingError(f"{path}: directory holds no recordings")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise RecordingError(f"{path}: no such file or directory")
    unique: dict[Path, None] = {}
    for f in files:
        unique[f.resolve()] = None
    return list(unique)


def read_header(path: Path) -> Recording:
    """Read the first market-change line of a recording; raises RecordingError naming file and line."""
    try:
        with smart_open.open(str(path), "r", encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                return Recording(path=path, markets=_parse_header(path, number, line))
    except RecordingError:
        raise
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as exc:
        raise RecordingError(f"{path}: cannot read recording ({exc})") from None
    raise RecordingError(f"{path}: empty recording")


def _parse_header(path: Path, number: int, line: str) -> tuple[MarketHeader, ...]:
    try:
        data = json.loads(line)
    except ValueError:
        raise RecordingError(f"{path}:{number}: not a JSON stream message") from None
    if not isinstance(data, dict) or not isinstance(data.get("mc"), list) or "pt" not in data:
        raise RecordingError(f"{path}:{number}: not a market change message (needs 'pt' and 'mc')")
    headers = []
    for change in data["mc"]:
        definition = change.get("marketDefinition")
        if not definition or "id" not in change:
            continue
        headers.append(
            MarketHeader(
                market_id=str(change["id"]),
                event_id=str(definition.get("eventId")),
                event_type_id=_opt_str(definition.get("eventTypeId")),
                market_type=definition.get("marketType"),
                country_code=definition.get("countryCode"),
                competition_id=_opt_str(definition.get("competitionId")),
            )
        )
    if not headers:
        raise RecordingError(f"{path}:{number}: first message has no market definition")
    return tuple(headers)


def _opt_str(value) -> str | None:
    return None if value is None else str(value)


class RecordingReader:
    """One pass over a recording file: each line is read and parsed once and its changes handed out per market.

    Streams of the markets replayed from it say so with `want` before the replay starts. With one market
    wanted (or the whole file), lines go straight to that stream. With several, each market's changes wait
    in a queue until its stream asks for them; flumine interleaves an event's streams by publish time, so
    the queues hold a line or two at most. Markets nobody wants are dropped as they are read."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.wanted: list[str | None] = []
        self.lines_read = 0  # lines parsed so far, over every pass
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

    def _lines(self, market_id: str | None) -> Iterator[tuple[int, int, list[dict]]]:
        with smart_open.open(self.path, "r", encoding="utf-8") as f:
            for number, raw in enumerate(f, start=1):
                self.lines_read += 1
                try:
                    data = json.loads(raw)
                except ValueError:
                    if not raw.strip():
                        continue
                    raise RecordingError(f"{self.path}:{number}: not a JSON stream message") from None
                try:
                    publish_time = data["pt"]
                    changes = data.get("mc")
                except (TypeError, KeyError, AttributeError):
                    raise RecordingError(f"{self.path}:{number}: message has no publish time 'pt'") from None
                if not changes:
                    continue
                if market_id is not None:
                    changes = [c for c in changes if c.get("id") == market_id]
                    if not changes:
                        continue
                yield number, publish_time, changes


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
                    raise RecordingError(f"{self.reader.path}:{number}: malformed market change ({exc!r})") from None
                if active:
                    yield [cache.create_resource(unique_id, snap=True) for cache in caches.values() if cache.active]

        return read
