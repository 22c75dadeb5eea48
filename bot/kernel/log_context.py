"""What a log line is about - the stored request being handled, its platform, the person - kept in a
context variable while the work runs, so every log record made meanwhile can carry it
(``bot.logs.ContextFilter``; the JSON log format writes it). Ids only: never message text.

Each inbox request is handled in a task of its own (a copy of the context), so what one request adds
is never seen by another.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar

FIELDS = ("request_id", "platform", "kind", "person_id")

_CONTEXT: ContextVar[Mapping[str, object] | None] = ContextVar("partnerbot_log_context", default=None)


def current() -> Mapping[str, object]:
    return _CONTEXT.get() or {}


@contextlib.contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """``fields`` (of :data:`FIELDS`) on every record logged inside the block."""
    token = _CONTEXT.set({**current(), **fields})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def add_to_log_context(**fields: object) -> None:
    """``fields`` on every record logged from here to the end of the current task (or block)."""
    _CONTEXT.set({**current(), **fields})
