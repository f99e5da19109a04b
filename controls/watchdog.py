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

    def connected(self, stream_id: int) -> None:
        """A stream's connection message arrived: it connected, or reconnected after a drop."""
        count = self.connections[stream_id] = self.connections.get(stream_id, 0) + 1
        if count == 1:
            return
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


def monitored_listener(monitor: StreamMonitor) -> type[StreamListener]:
    """A betfairlightweight StreamListener class that reports every message to the monitor."""

    class MonitoredListener(StreamListener):
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
                if '"connection"' in raw_data[:40]:  # {"op":"connection","connectionId":...}: (re)connected
                    monitor.connected(id(self))
                monitor.seen(id(self))
                if ('"con":true' in raw_data or '"con": true' in raw_data) and _conflated(raw_data):
                    monitor.notice(self.stream_unique_id, "conflated: the stream sent several updates as one")
            return super().on_data(raw_data)

    return MonitoredListener


def _conflated(raw_data: str) -> bool:
    """Whether a change message says `con: true` itself (what betfairlightweight calls unexpected conflation).

    A market change's own `con` (inside `mc`) is left alone: Betfair's historical data, and so the emulator's
    replays of it, carry it on nearly every change."""
    try:
        return bool(json.loads(raw_data).get("con"))
    except (ValueError, AttributeError):
        return False
