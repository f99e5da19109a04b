"""Market stream liveness: every message (data or heartbeat) is seen; silence longer than a timeout is reported,
and so is a storm of reconnects."""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable

from betfairlightweight import StreamListener

from core.alerts import RECONNECT_STORM, AlertHook, LogAlerts
from core.clock import Clock

logger = logging.getLogger("paddock.watchdog")


class StreamMonitor:
    """When each stream last delivered a message that shows it is alive."""

    def __init__(self, clock: Clock, alerts: AlertHook | None = None, storm: int = 3, window: float = 300.0) -> None:
        self.clock = clock
        self.alerts = alerts or LogAlerts()
        self.storm = storm  # this many reconnects within `window` seconds is a storm: one alert
        self.window = window
        self.started_at = clock.now()
        self.last_seen: dict[int, float] = {}
        self.statuses: list[tuple[float, int | None, str]] = []
        self.error_listeners: list[Callable[[str], None]] = []
        self.notice_listeners: list[Callable[[int | None, str], None]] = []  # (stream unique id, what): 503, con
        self.connections: dict[int, int] = {}  # stream -> connections made (the first is not a reconnect)
        self._reconnects: deque[float] = deque()  # times of recent reconnects, over every stream
        self.storms = 0
        # (received at, publish time ms, market ids) of each market change message, on the stream's thread
        self.data_listeners: list[Callable[[float, int, list[str]], None]] = []
        self.reconnect_listeners: list[Callable[[], None]] = []
        self.reconnects = 0

    def connected(self, stream_id: int) -> None:
        """A stream's connection message arrived: it connected, or reconnected after a drop."""
        count = self.connections[stream_id] = self.connections.get(stream_id, 0) + 1
        if count == 1:
            return
        self.reconnects += 1
        for listener in self.reconnect_listeners:
            listener()
        now = self.clock.now()
        self.status(stream_id, "reconnected")
        self._reconnects.append(now)
        while now - self._reconnects[0] > self.window:
            self._reconnects.popleft()
        logger.warning(
            "market stream reconnected (%s reconnect(s) in the last %.0f s)", len(self._reconnects), self.window
        )
        if len(self._reconnects) >= self.storm:
            count, self._reconnects = len(self._reconnects), deque()  # the next storm counts afresh
            self.storms += 1
            self.alerts.send(
                RECONNECT_STORM,
                f"the market stream reconnected {count} times within {self.window:.0f} s (limit {self.storm})",
            )

    def seen(self, stream_id: int) -> None:
        """A data message or heartbeat arrived."""
        self.last_seen[stream_id] = self.clock.now()

    def status(self, stream_id: int | None, what: str) -> None:
        """A status event (503, connection lost, ...) that is not a sign of life."""
        self.statuses.append((self.clock.now(), stream_id, what))

    def notice(self, stream_unique_id: int | None, what: str) -> None:
        """The stream said its data may be stale (503) or conflated: the data-quality guard is told."""
        for listener in self.notice_listeners:
            listener(stream_unique_id, what)

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
                monitor.notice(self.stream_unique_id, "503: stream data may be stale")
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
            if data.get("con"):  # the message's own con (a market change's con is on nearly every historical one)
                monitor.notice(self.stream_unique_id, "conflated: the stream sent several updates as one")
            if monitor.data_listeners and data.get("mc") and data.get("ct") != "HEARTBEAT":
                received_at = monitor.last_seen.get(id(self), monitor.clock.now())  # set by on_data just now
                market_ids = [change.get("id") for change in data["mc"]]
                for listener in monitor.data_listeners:
                    listener(received_at, data.get("pt", 0), market_ids)
            super()._on_change_message(data, unique_id)

    return MonitoredListener
