"""Alert hooks: where an operator is told that something needs them (Sentry when SENTRY_DSN is set)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

logger = logging.getLogger("paddock.alerts")


class AlertHook(Protocol):
    """Sends an alert to the operator."""

    def send(self, title: str, message: str) -> None:
        """Deliver one alert."""
        ...


@dataclass
class LogAlerts:
    """Alerts written to the log at error level, and kept in memory (the default)."""

    sent: list[tuple[str, str]] = field(default_factory=list)

    def send(self, title: str, message: str) -> None:
        """Log the alert."""
        self.sent.append((title, message))
        logger.error("ALERT %s: %s", title, message)


class SentryAlerts(LogAlerts):
    """Alerts logged and sent to Sentry as messages."""

    def __init__(self, dsn: str) -> None:
        super().__init__()
        import sentry_sdk

        sentry_sdk.init(dsn=dsn)
        self._sentry = sentry_sdk

    def send(self, title: str, message: str) -> None:
        """Log the alert and capture it in Sentry."""
        super().send(title, message)
        self._sentry.capture_message(f"{title}: {message}", level="error")


def alerts_from(environ: Mapping[str, str]) -> LogAlerts:
    """Sentry alerts when SENTRY_DSN is set, log alerts otherwise."""
    dsn = environ.get("SENTRY_DSN")
    return SentryAlerts(dsn) if dsn else LogAlerts()
