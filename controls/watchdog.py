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
        self.notice_listeners: list[Callable[[int | None, str], None]] = []  # (stream unique id, what): 503, con

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
