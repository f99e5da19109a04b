"""A betfairlightweight stream that can be stopped from another thread without harming the next socket opened."""

from __future__ import annotations

import socket
import threading

from betfairlightweight.streaming import BetfairStream

STOP_WAIT = 2.0  # seconds stop() waits for the reading thread to leave its read before closing the socket


class StoppableStream(BetfairStream):
    """BetfairStream whose stop() from another thread wakes the reader and lets it finish before closing.

    betfairlightweight 2.24 closes the TLS socket under a thread still inside its read: CPython's TLS read
    then goes on reading the closed descriptor's number, which the next socket opened gets (flumine's
    logout, right after it stops its streams). That read takes the first 5 bytes of the answer ("HTTP/")
    and writes a TLS alert into the request, so the logout fails with BadStatusLine('1.1 200 OK')."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._reader: threading.Thread | None = None
        self._read_done = threading.Event()
        self._read_done.set()

    def start(self) -> None:
        """Connect, authenticate and read until stopped, on the calling thread."""
        self._reader = threading.current_thread()
        self._read_done.clear()
        try:
            super().start()
        finally:
            self._read_done.set()

    def stop(self) -> None:
        """Stop reading and close the socket once the reading thread has left its read."""
        sock = self._socket
        if sock is not None and not self._read_done.is_set() and threading.current_thread() is not self._reader:
            self._running = False
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the reader: its recv returns and it sees it should stop
            except OSError:
                pass
            self._read_done.wait(STOP_WAIT)
        super().stop()
