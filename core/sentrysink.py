"""Alerts sent to Sentry (sentry-sdk): events redacted before they leave, sent from Sentry's own thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from core.alerts import Alert

logger = logging.getLogger("paddock.alerts")


def redact_event(value: Any, redact: Callable[[str], str]) -> Any:
    """The value with every string in it (keys too) passed through redact; dicts and lists walked."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(k) if isinstance(k, str) else k: redact_event(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_event(v, redact) for v in value]
    return value


class SentrySink:
    """Each alert is one Sentry event (an exception's when the alert carries one), tagged with its context.

    Integrations are chosen, not auto-enabled: log lines become breadcrumbs only (an alert is the event),
    uncaught exceptions are captured, and no library instrumentation (HTTP, SQL) adds breadcrumbs or headers.
    Local variables are never sent; every string of an event is redacted before it is sent."""

    def __init__(self, dsn: str, redact: Callable[[str], str], environment: str | None = None) -> None:
        import sentry_sdk
        from sentry_sdk.integrations.dedupe import DedupeIntegration
        from sentry_sdk.integrations.excepthook import ExcepthookIntegration
        from sentry_sdk.integrations.logging import LoggingIntegration

        self._redact = redact
        sentry_sdk.init(
            dsn=dsn,
            environment=environment,
            default_integrations=False,
            auto_enabling_integrations=False,
            integrations=[
                LoggingIntegration(level=logging.INFO, event_level=None),
                ExcepthookIntegration(),
                DedupeIntegration(),
            ],
            include_local_variables=False,
            send_default_pii=False,
            before_send=self._before_send,
            before_breadcrumb=self._before_breadcrumb,
        )
        self._sentry = sentry_sdk
        self.client = sentry_sdk.get_client()

    def _before_send(self, event: dict, _hint: dict) -> dict:
        return redact_event(event, self._redact)

    def _before_breadcrumb(self, crumb: dict, _hint: dict) -> dict:
        return redact_event(crumb, self._redact)

    def deliver(self, alert: Alert) -> None:
        """Capture the alert (queued for Sentry's transport thread)."""
        with self._sentry.new_scope() as scope:
            scope.set_tag("alert", alert.title)
            for key, value in alert.context.items():
                if value is not None:
                    scope.set_tag(key, str(value))
            scope.fingerprint = ["paddock-alert", alert.title]
            if alert.error is not None:
                scope.set_extra("alert", alert.text())
                self._sentry.capture_exception(alert.error)
            else:
                self._sentry.capture_message(alert.text(), level="error")

    def close(self, timeout: float) -> None:
        """Send what is queued (waiting at most timeout seconds) and stop the client."""
        self.client.flush(timeout=timeout)
        self.client.close(timeout=timeout)
