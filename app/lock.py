"""One bot per data directory and mode: a lock held for the life of the process (the OS drops it on a crash)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import TextIO

from core.errors import UserError

LOCK_NAME = "bot.lock"


class BotLock:
    """An exclusive lock on DIR/bot.lock, held while the bot runs; a second bot on DIR gets one clear error."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / LOCK_NAME
        self._file: TextIO | None = None

    def acquire(self) -> BotLock:
        """Take the lock or raise UserError naming the directory and the process holding it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.path, "a+")  # noqa: SIM115 - held open for the life of the bot
        except OSError as exc:
            raise UserError(f"data_dir: cannot create {self.path} ({exc.strerror})") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise UserError(
                f"{self.path.parent} is in use by another bot (process {holder}, lock {self.path}): "
                "one bot per data directory and mode; stop that one, or give this one another data_dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return self

    def release(self) -> None:
        """Let the next bot in."""
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
