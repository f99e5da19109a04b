"""Market stream liveness: every message (data or heartbeat) is seen; silence longer than a timeout is reported."""

from __future__ import annotations

import json
from collections.abc import Callable

from betfairlightweight import StreamListener

from core.clock import Clock


class StreamMonitor:
    """When each stream last delivered a message that shows it is alive."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.started_at = clock.now()
        self.last_seen: dict[int, float] = {}
        self.statuses: list[tuple[float, int | None, str]] = []
        self.error_listeners: list[Callable[[str], None]] = []
        # (received at, publish time ms, market ids) of each market change message, on the stream's thread
        self.data_listeners: list[Callable[[float, int, list[str]], None]] = []
        self.reconnect_listeners: list[Callable[[], None]] = []
        self.reconnects = 0
        self._connected: set[int] = set()

    def seen(self, stream_id: int) -> None:
        """A data message or heartbeat arrived."""
        self.last_seen[stream_id] = self.clock.now()

    def status(self, stream_id: int | None, what: str) -> None:
        """A status event (503, connection lost, ...) that is not a sign of life."""
        self.statuses.append((self.clock.now(), stream_id, what))

    def connected(self, stream_id: int) -> None:
        """The exchange greeted a stream's connection; every greeting after a stream's first is a reconnect."""
        if stream_id not in self._connected:
            self._connected.add(stream_id)
            return
        self.reconnects += 1
        for listener in self.reconnect_listeners:
            listener()

    def error(self, stream_id: int | None, code: str, message: str) -> None:
        """A request the stream refused (e.g. authentication with an expired session)."""
        self.status(stream_id, message or code)
        for listener in self.error_listeners:
            listener(code)

    def silence(self, stream_ids: list[int] | None = None) -> float:
        """Longest time any watched stream has been silent (since start if it never spoke)."""
        now = self.clock.now()
        ids = stream_ids if stream_ids is not None else list(self.last_seen)
        if not ids:
            return now - self.started_at
        return max(now - self.last_seen.get(i, self.started_at) for i in ids)


def monitored_listener(monitor: StreamMonitor, base: type[StreamListener] = StreamListener) -> type[StreamListener]:
    """A betfairlightweight StreamListener class (or subclass of `base`) that reports every message to the monitor."""

    class MonitoredListener(base):
        """StreamListener that tells the monitor about each message before processing it.

        flumine keeps one listener per stream across reconnects while the subscription id changes with each
        one, so the listener (not the subscription id) is what the monitor tracks."""

        def on_data(self, raw_data: str):
            if '"status":503' in raw_data or '"status": 503' in raw_data:
                monitor.status(id(self), "503: stream data may be stale")
            elif '"FAILURE"' in raw_data and '"statusCode"' in raw_data:  # a status reply that failed
                answer = json.loads(raw_data)
                monitor.error(id(self), answer.get("errorCode", "FAILURE"), answer.get("errorMessage", ""))
            else:
                monitor.seen(id(self))
            return super().on_data(raw_data)

        # betfairlightweight's listener hooks per operation, overridden as flumine's FlumineListener does its own
        def _on_connection(self, data: dict, unique_id: int) -> None:
            monitor.connected(id(self))
            super()._on_connection(data, unique_id)

        def _on_change_message(self, data: dict, unique_id: int) -> None:
            if monitor.data_listeners and data.get("mc") and data.get("ct") != "HEARTBEAT":
                received_at = monitor.last_seen.get(id(self), monitor.clock.now())  # set by on_data just now
                market_ids = [change.get("id") for change in data["mc"]]
                for listener in monitor.data_listeners:
                    listener(received_at, data.get("pt", 0), market_ids)
            super()._on_change_message(data, unique_id)

    return MonitoredListener
