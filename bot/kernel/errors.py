"""Errors the core raises; each carries a message fit to show to the person who caused it."""

from __future__ import annotations

from typing import Any


class PartnerbotError(Exception):
    """Base class: ``str(error)`` is a reply the person can act on."""


class InputError(PartnerbotError):
    """Bad input for one field. ``field`` names it; the message says what is accepted."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class NotFound(PartnerbotError):
    """A record does not exist *or* the actor may not see it: both read exactly the same."""


class NotAllowed(PartnerbotError):
    """The actor may see the record but not do this to it (e.g. a partner approving a deal)."""


class Conflict(PartnerbotError):
    """The record changed state under the request (e.g. approving an already rejected deal)."""


class RequestFailed(Exception):
    """A request's work raised something unexpected (a bug, the database going away). Nothing of it
    was kept and its request key is free again, so the inbox's next attempt does the work anew;
    ``replies`` is what to tell the person now (said on the first failure only). Not a
    :class:`PartnerbotError`: the platform handler posts ``replies`` and raises it on."""

    def __init__(self, replies: list[Any]) -> None:
        super().__init__("the request's work failed; it will be tried again")
        self.replies = replies
