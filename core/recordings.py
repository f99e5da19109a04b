"""Recording files: resolving paths, reading their headers, and replaying them with checked lines."""

from __future__ import annotations

import glob
import logging
from dataclasses import dataclass
from pathlib import Path

import smart_open
from betfairlightweight.compat import json
from flumine.streams.betfairhistoricalstream import BetfairHistoricalStream, HistoricListener

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


class CheckedListener(HistoricListener):
    """Historic listener that names the file and line of a bad message and can keep one market only."""

    def __init__(self, file_path: str = "", market_id: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.file_path = file_path
        self.market_id = market_id
        self.line = 0

    def on_data(self, raw_data: str) -> bool | None:
        """Process one line of a recording."""
        self.line += 1
        try:
            data = json.loads(raw_data)
        except ValueError:
            if not raw_data.strip():
                return False
            raise RecordingError(f"{self.file_path}:{self.line}: not a JSON stream message") from None
        try:
            publish_time = data["pt"]
            changes = data.get("mc")
        except (TypeError, KeyError, AttributeError):
            raise RecordingError(f"{self.file_path}:{self.line}: message has no publish time 'pt'") from None
        if not changes:
            return False
        if self.market_id is not None:
            changes = [c for c in changes if c.get("id") == self.market_id]
            if not changes:
                return False
        try:
            return self.stream._process(changes, publish_time)
        except RecordingError:
            raise
        except Exception as exc:  # noqa: BLE001 - any malformed field in a user's file
            raise RecordingError(f"{self.file_path}:{self.line}: malformed market change ({exc!r})") from None


class RecordingStream(BetfairHistoricalStream):
    """A flumine historical stream over one market of a recording file."""

    LISTENER = CheckedListener

    def __init__(self, file_path: str, market_id: str | None = None, **kwargs) -> None:
        listener_kwargs = {"file_path": file_path, "market_id": market_id}
        super().__init__(file_path, listener_kwargs=listener_kwargs, **kwargs)
        # flumine 3.3.2 workaround (DESIGN.md): FlumineSimulation.run logs `market_filter` of
        # event-grouped streams, which BetfairHistoricalStream lacks; give it the file path.
        self.market_filter = file_path if market_id is None else f"{file_path}#{market_id}"

    def create_generator(self):
        """A fresh generator over the file, counting lines from 1."""
        self._listener.line = 0
        return super().create_generator()
