"""Logging for ``partnerbot``: one handler on the root logger, writing text (the default) or one JSON
object per line (``PARTNERBOT_LOG_FORMAT=json``), with two filters on it:

- :class:`ContextFilter` puts what the line is about on the record - the stored request, its platform
  and kind, the person (``bot.kernel.log_context``) - ids only, never the text of a message;
- :class:`SecretMask` replaces the value of every configured secret (``Settings.secret_values``) in the
  message, its arguments, the traceback and the stack with ``***``, whoever logged it.

The JSON format is a small ``logging.Formatter`` rather than python-json-logger: the fields are few and
fixed, and a dependency would be one more package to pin for ``json.dumps`` of a dict.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any

from bot.config import Settings
from bot.kernel.log_context import FIELDS, current

MASK = "***"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class ContextFilter(logging.Filter):
    """Copies the current log context (request id, platform, kind, person id) onto each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class SecretMask(logging.Filter):
    """Replaces every known secret value in a record with :data:`MASK` before any formatter sees it."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is masked whole.
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        masked = self.mask(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the context fields that
    are set (request_id, platform, kind, person_id) and, with an exception, its traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def handler_for(settings: Settings, *, stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler (standard error by default) in the configured format, with both filters."""
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter = JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    handler.addFilter(ContextFilter())
    handler.addFilter(SecretMask(settings.secret_values()))
    return handler


def configure_logging(
    settings: Settings, *, level: int, stream: IO[str] | None = None
) -> logging.Handler | None:
    """Put :func:`handler_for`'s handler on the root logger at ``level`` and quiet the chatty
    libraries - like ``logging.basicConfig``, only when the root logger has no handler yet: a program
    that embeds partnerbot (or a test runner) keeps the logging it set up. Returns the handler added."""
    for noisy in ("alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    root = logging.getLogger()
    if root.handlers:
        return None
    handler = handler_for(settings, stream=stream)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
