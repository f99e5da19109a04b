"""Secrets never reach a log: every log record, from any logger to any handler, has known secret values masked."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

MASK = "***"
MIN_LENGTH = 4  # shorter values are not masked: they would mangle every line that holds those letters


class Redactor:
    """Knows the secret values (fixed ones, and sources read at each record such as a live session token)."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._sources: list[Callable[[], Iterable[str | None]]] = []

    def add(self, *values: str | None) -> None:
        """Mask these values from now on."""
        self._values.update(v for v in values if v and len(v) >= MIN_LENGTH)

    def watch(self, source: Callable[[], Iterable[str | None]]) -> None:
        """Mask whatever `source()` returns at the time of each record (e.g. a session token that is renewed)."""
        self._sources.append(source)

    def secrets(self) -> list[str]:
        """Every value to mask, longest first (so a secret containing another is masked whole)."""
        values = set(self._values)
        for source in self._sources:
            values.update(v for v in source() if v and len(v) >= MIN_LENGTH)
        return sorted(values, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """The text with every secret masked."""
        for secret in self.secrets():
            if secret in text:
                text = text.replace(secret, MASK)
        return text


def redactor() -> Redactor:
    """The process's redactor, installed into logging's record factory on first use (before any client exists)."""
    factory = logging.getLogRecordFactory()
    existing = getattr(factory, "redactor", None)
    if existing is not None:
        return existing
    redact = Redactor()
    formatter = logging.Formatter()

    def masked_record(*args, **kwargs) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(formatter.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record

    masked_record.redactor = redact  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masked_record)
    return redact
