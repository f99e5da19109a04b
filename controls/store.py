"""A small durable JSON store with atomic writes, and an in-memory one for backtests."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from core.errors import ConfigError


class StateStore(Protocol):
    """Where a component keeps state that must survive a restart."""

    def load(self) -> dict[str, Any] | None:
        """The stored state, or None when nothing was stored yet."""
        ...

    def update(self, change: Callable[[dict[str, Any] | None], dict[str, Any]]) -> dict[str, Any]:
        """Read, change and write the state as one step; returns what was written."""
        ...

    def version(self) -> object:
        """A token that changes whenever the stored state changes."""
        ...

    def quarantine(self) -> str | None:
        """Set an unreadable stored state aside (kept for the operator); returns where, if anywhere."""
        ...


class MemoryStore:
    """State kept in memory only (backtests must not read or leave state behind)."""

    def __init__(self) -> None:
        self._data: dict[str, Any] | None = None
        self._version = 0

    def load(self) -> dict[str, Any] | None:
        """The state, or None."""
        return json.loads(json.dumps(self._data)) if self._data is not None else None

    def update(self, change: Callable[[dict[str, Any] | None], dict[str, Any]]) -> dict[str, Any]:
        """Apply a change."""
        self._data = change(self.load())
        self._version += 1
        return self._data

    def version(self) -> object:
        """Counts the updates."""
        return self._version

    def quarantine(self) -> str | None:
        """Forget the state."""
        self._data = None
        return None


class JsonFileStore:
    """State in one JSON file, written atomically (temp file + rename) under a lock file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"data_dir: cannot create {self.path.parent} ({exc.strerror})") from None

    @contextmanager
    def _locked(self):
        with open(self.path.with_suffix(self.path.suffix + ".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def load(self) -> dict[str, Any] | None:
        """The stored state, or None when the file does not exist."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{self.path}: not valid JSON ({exc}); fix or remove the file") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{self.path}: expected a JSON object")
        return data

    def update(self, change: Callable[[dict[str, Any] | None], dict[str, Any]]) -> dict[str, Any]:
        """Read, change and atomically replace the file, holding the lock throughout."""
        with self._locked():
            data = change(self.load())
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(data, f, indent=2, sort_keys=True)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            return data

    def quarantine(self) -> str | None:
        """Move the damaged file aside as NAME.damaged-<utc time>; returns its path."""
        if not self.path.exists():
            return None
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        kept = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        os.replace(self.path, kept)
        return str(kept)

    def version(self) -> object:
        """The file's modification time and size (None when absent)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)
