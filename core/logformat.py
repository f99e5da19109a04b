"""How log lines look: text, or one JSON object a line (python-json-logger) with market, strategy and bet id fields."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any, TextIO

from pythonjsonlogger import jsonlogger

from core.redact import redactor

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = "%(levelname)s %(name)s %(message)s"
JSON_RENAMES = {"levelname": "level", "name": "logger"}
JSON_FIRST = ("time", "level", "logger", "message")  # then the record's extras

# the market and strategy a thread is working for (set around each strategy hook); read into every record
_WHERE: ContextVar[tuple[str | None, str | None] | None] = ContextVar("paddock_log_where", default=None)


def working_on(market_id: str | None, strategy: str | None) -> Token:
    """Log records of this thread name this market and strategy until `done(token)`."""
    return _WHERE.set((market_id, strategy))


def done(token: Token) -> None:
    """End what working_on began."""
    _WHERE.reset(token)


class ContextFilter(logging.Filter):
    """Adds market_id, strategy and bet_id where they apply: from the work in hand, or from flumine's order extras."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Set the fields on the record (never drops it)."""
        order = getattr(record, "order", None)  # flumine's controls log extra={"order": order.info}
        source = order if isinstance(order, dict) else record.__dict__  # flumine's order and trade logs: extra=info
        trade = source.get("trade")
        if isinstance(trade, dict) and trade.get("strategy") and not hasattr(record, "strategy"):
            record.strategy = trade["strategy"]
        for key in ("market_id", "bet_id"):
            if source.get(key) is not None and not hasattr(record, key):
                setattr(record, key, source[key])
        where = _WHERE.get()
        if where is not None:
            market_id, strategy = where
            if market_id is not None and not hasattr(record, "market_id"):
                record.market_id = market_id
            if strategy is not None and not hasattr(record, "strategy"):
                record.strategy = strategy
        return True


def _redacted(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(v, redact) for v in value]
    return value


class RedactingJsonFormatter(jsonlogger.JsonFormatter):
    """One JSON object a line; every string in it (extras too, which the record factory does not see) redacted."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__(JSON_FIELDS, rename_fields=JSON_RENAMES, timestamp="time", json_ensure_ascii=False)
        self._redact = redact

    def process_log_record(self, log_record: dict) -> dict:
        """Redact every string of the record before it is serialised; time, level, logger and message first."""
        ordered = {key: log_record.pop(key) for key in JSON_FIRST if key in log_record}
        return _redacted({**ordered, **log_record}, self._redact)

    def format(self, record: logging.LogRecord) -> str:
        """The JSON line, redacted again as text (values json turned into strings with str())."""
        return self._redact(super().format(record))


def json_logging() -> bool:
    """Whether the root logger writes JSON lines (then status lines go to the log too, as JSON)."""
    return any(isinstance(h.formatter, RedactingJsonFormatter) for h in logging.getLogger().handlers)


def configure_logging(level: int, log_format: str = "text", stream: TextIO | None = None) -> None:
    """The root logger's one handler: text or JSON lines to stderr, with the context fields and redaction."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if log_format == "json":
        handler.setFormatter(RedactingJsonFormatter(redactor()))
        logging.getLogger("paddock.status").setLevel(logging.INFO)  # the status line, shown at any --log-level
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(ContextFilter())
    logging.basicConfig(level=level, handlers=[handler])
