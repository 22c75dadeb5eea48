"""Whole numbers that arrive as text from a button's data or a form: read once, the same way everywhere.

A button's data is whatever the client sends back, so a number in it can be absurd ("99999999999" days,
five thousand digits). It is read here without ever converting an unbounded string; the service that
uses it still checks its own range and says what it accepts.
"""

from __future__ import annotations

MAX_DIGITS = 9


def carried_number(raw: str | None, *, default: int | None) -> int | None:
    """The number in ``raw``: ``default`` when there is none (missing, empty, not all digits); a number
    of more than :data:`MAX_DIGITS` digits reads as ``10**MAX_DIGITS``, past any range a service
    accepts, so that service refuses it with its own message."""
    text = (raw or "").strip()
    if not text.isascii() or not text.isdigit():
        return default
    return int(text) if len(text) <= MAX_DIGITS else 10**MAX_DIGITS
