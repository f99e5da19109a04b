"""Alert hooks: where an operator is told that something needs them (the log, Sentry, a webhook)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from core.clock import Clock, WallClock
from core.config import LoadedConfig
from core.errors import ConfigError
from core.redact import redactor

logger = logging.getLogger("paddock.alerts")

# Titles of the alerts the framework sends (a kill switch trip is titled "kill switch <STATE>")
ORDER_PATH_ERROR = "order path exception"
RECONNECT_STORM = "reconnect storm"
RECONCILIATION = "reconciliation surprise"
HEDGE_FAILED = "hedge failed"

WEBHOOK_VARIABLE = "PADDOCK_WEBHOOK_URL"  # the webhook URL from the environment (wins over [alerts] webhook_url_file)


@dataclass(frozen=True)
class Alert:
    """One alert: a short title, what happened, where (market_id, strategy, bet_id ...) and the exception if any."""

    title: str
    message: str
    context: Mapping[str, object] = field(default_factory=dict)
    error: BaseException | None = None

    def text(self) -> str:
        """One line for a person: title, message and context."""
        where = ", ".join(f"{k}={v}" for k, v in self.context.items() if v is not None)
        return f"{self.title}: {self.message}" + (f" ({where})" if where else "")


class AlertHook(Protocol):
    """Sends an alert to the operator (never blocks, never raises)."""

    def send(self, title: str, message: str, *, error: BaseException | None = None, **context: object) -> None:
        """Deliver one alert; context names where it happened (market_id, strategy, bet_id ...)."""
        ...


class AlertSink(Protocol):
    """A destination alerts are passed on to (Sentry, a webhook); deliver must return at once."""

    def deliver(self, alert: Alert) -> None:
        """Hand the alert over for sending."""
        ...

    def close(self, timeout: float) -> None:
        """Send what is still queued, waiting at most timeout seconds."""
        ...


class LogAlerts:
    """Alerts written to the log at error level, kept in memory, and passed on to each sink.

    An alert identical to one passed on less than `repeat_interval` seconds before is logged but not passed on
    (an exception repeating on every order call pages once a minute, not on every call); the next one that is
    passed on says how many were held back."""

    def __init__(self, sinks: Iterable[AlertSink] = (), clock: Clock | None = None, repeat_interval: float = 60.0):
        self.sent: list[tuple[str, str]] = []
        self.alerts: list[Alert] = []
        self.sinks: list[AlertSink] = list(sinks)
        self.clock = clock or WallClock()
        self.repeat_interval = repeat_interval
        self._passed: dict[tuple[str, str], float] = {}  # (title, message) -> when last passed on
        self.held_back = 0

    def send(self, title: str, message: str, *, error: BaseException | None = None, **context: object) -> None:
        """Log the alert and hand it to every sink (a sink that fails is logged, the others still get it)."""
        alert = Alert(title, message, dict(context), error)
        self.sent.append((title, message))
        self.alerts.append(alert)
        logger.error("ALERT %s", alert.text(), extra={k: v for k, v in context.items() if v is not None})
        if not self.sinks:
            return
        now, key = self.clock.now(), (title, message)
        if now - self._passed.get(key, -self.repeat_interval) < self.repeat_interval:
            self.held_back += 1
            return
        self._passed[key] = now
        if self.held_back:
            alert = Alert(title, f"{message} [{self.held_back} repeated alert(s) held back]", alert.context, error)
            self.held_back = 0
        for sink in self.sinks:
            try:
                sink.deliver(alert)
            except Exception:
                logger.exception("alert sink %s failed", type(sink).__name__)

    def close(self, timeout: float = 5.0) -> None:
        """Flush and close every sink (at shutdown)."""
        for sink in self.sinks:
            try:
                sink.close(timeout)
            except Exception:
                logger.exception("alert sink %s failed to close", type(sink).__name__)


def webhook_url(environ: Mapping[str, str], url_file: Path | None) -> str | None:
    """The webhook URL: PADDOCK_WEBHOOK_URL, else the first line of the file named in config, else none."""
    url = environ.get(WEBHOOK_VARIABLE)
    if not url and url_file is not None:
        try:
            url = url_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"[alerts] webhook_url_file {url_file}: cannot read it ({exc.__class__.__name__})"
            ) from None
        if not url:
            raise ConfigError(f"[alerts] webhook_url_file {url_file}: the file is empty")
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError("the alert webhook URL must start with http:// or https:// (its value is not shown)")
    return url or None


def alerts_from(
    environ: Mapping[str, str],
    url_file: Path | None = None,
    webhook_timeout: float = 5.0,
    redact: Callable[[str], str] | None = None,
) -> LogAlerts:
    """Log alerts, also sent to Sentry when SENTRY_DSN is set and to the webhook when one is configured."""
    masks = redactor()
    dsn = environ.get("SENTRY_DSN")
    url = webhook_url(environ, url_file)
    masks.add(dsn, url)  # whichever way they came, neither is ever logged
    redact = redact or masks
    sinks: list[AlertSink] = []
    if dsn:
        from core.sentrysink import SentrySink

        sinks.append(SentrySink(dsn, redact))
    if url:
        from core.webhook import WebhookSink

        sinks.append(WebhookSink(url, timeout=webhook_timeout, redact=redact))
    return LogAlerts(sinks)


def alerts_for(config: LoadedConfig, environ: Mapping[str, str]) -> LogAlerts:
    """The alerts a config's bot sends: alerts_from with the [alerts] section."""
    cfg = config.app.alerts
    url_file = config.resolve(cfg.webhook_url_file) if cfg.webhook_url_file else None
    return alerts_from(environ, url_file, cfg.webhook_timeout)
