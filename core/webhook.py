"""Alerts posted to a webhook (Slack compatible: a JSON body with a "text" field) from a background thread."""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from collections.abc import Callable

from core.alerts import Alert

logger = logging.getLogger("paddock.alerts")

CAPACITY = 100  # alerts waiting to be posted; more are dropped (and counted) rather than held in memory
_STOP = object()


class WebhookSink:
    """Queues each alert and posts it from its own thread with a timeout; a failed post is logged, not raised."""

    def __init__(self, url: str, timeout: float = 5.0, redact: Callable[[str], str] = str) -> None:
        self._url = url
        self.timeout = timeout
        self._redact = redact
        self._queue: queue.Queue = queue.Queue(CAPACITY)
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="paddock-alert-webhook", daemon=True)
        self._thread.start()

    def deliver(self, alert: Alert) -> None:
        """Queue the alert for posting (returns at once; a full queue drops it with a warning)."""
        body = {"text": self._redact(alert.text())}
        try:
            self._queue.put_nowait(body)
        except queue.Full:
            self.dropped += 1
            logger.warning("alert webhook: %s alert(s) waiting; dropped: %s", CAPACITY, body["text"])

    def _run(self) -> None:
        while True:
            body = self._queue.get()
            if body is _STOP:
                return
            self._post(body)

    def _post(self, body: dict) -> None:
        request = urllib.request.Request(
            self._url,
            data=json.dumps(body).encode("utf-8"),
            headers={"Content-Type": "application/json", "User-Agent": "paddock-alerts"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            self.failed += 1
            logger.warning("alert webhook answered HTTP %s; alert not delivered: %s", exc.code, body["text"])
        except (OSError, ValueError) as exc:  # URLError, a timeout, a refused or reset connection
            self.failed += 1
            reason = getattr(exc, "reason", exc)
            logger.warning("alert webhook failed (%s); alert not delivered: %s", reason, body["text"])
        else:
            self.delivered += 1

    def close(self, timeout: float) -> None:
        """Post what is queued, waiting at most timeout seconds (a hung post is left to its daemon thread)."""
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)
