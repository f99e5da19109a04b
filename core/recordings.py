"""Recording files: resolving paths, reading their headers, and replaying them with checked lines."""

from __future__ import annotations

import glob
import logging
from dataclasses import dataclass
from pathlib import Path

import smart_open
from betfairlightweight.compat import json

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


def read_headers(paths: list[Path], strict: bool = False) -> tuple[list[Recording], dict[str, str]]:
    """The headers of the recordings that can be read, and why each other file is left out (strict: raise).

    RecordingError when none can be read."""
    recordings: list[Recording] = []
    unreadable: dict[str, str] = {}
    for path in paths:
        try:
            recordings.append(read_header(path))
        except RecordingError as exc:
            if strict:
                raise
            logger.warning("%s; file left out", exc)
            unreadable[str(path)] = str(exc)
    if not recordings:
        raise RecordingError("no recording could be read:\n" + "\n".join(unreadable.values()))
    return recordings, unreadable
