"""An opt-in record of when market updates leave the emulator's stream sockets and when calls arrive."""

from __future__ import annotations

import threading
import time


class Probe:
    """Monotonic nanosecond times (comparable across processes on one machine): each market-change message
    written to a stream socket (by its publish time) and each REST call that arrives (by its path and body)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: list[tuple[int, int]] = []  # (pt, monotonic ns) of each mcm with market changes written
        self.calls: list[tuple[int, str, bytes]] = []  # (monotonic ns, path, body) of each REST call

    def wrote(self, message: dict) -> None:
        """A stream message was handed to the socket (on the event loop, right after the write)."""
        if message.get("op") == "mcm" and message.get("mc"):
            stamp = time.monotonic_ns()
            with self.lock:
                self.sent.append((message["pt"], stamp))

    def arrived(self, path: str, body: bytes) -> None:
        """A REST call arrived (its body read, before it runs)."""
        stamp = time.monotonic_ns()
        with self.lock:
            self.calls.append((stamp, path, body))
