"""What every change writes with it, in the transaction of the change: the audit row, and an event that
other features react to in that same transaction (the nudges about a record are answered when someone
changes it: nobody is asked about what they just did).

A service gets the one :class:`ChangeLog` of the process from the composition root and calls
:meth:`ChangeLog.record` where it used to add an audit row; features subscribe in the composition root,
so the service that changes a record needs no import of the feature that reacts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.kernel.audit import audit_entry
from bot.kernel.messages import Actor


@dataclass(frozen=True, slots=True)
class RecordChanged:
    """``ref`` (D-3, L-7, M-2, Q-1, C-4, ...) was changed by ``action`` at ``at``."""

    ref: str
    action: str
    at: datetime


Subscriber = Callable[[AsyncSession, RecordChanged], Awaitable[None]]


class ChangeLog:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    async def record(
        self,
        session: AsyncSession,
        actor: Actor | None,
        *,
        action: str,
        entity: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        at: datetime,
        channel: str = "job",
    ) -> None:
        """The audit row of one change (``channel`` names the surface when there is no actor: ``job``
        for a sweep, ``cli`` for the command line), then every subscriber, in ``session``."""
        session.add(
            audit_entry(
                actor, action=action, entity=entity, before=before, after=after, at=at, channel=channel
            )
        )
        event = RecordChanged(ref=entity, action=action, at=at)
        for subscriber in self._subscribers:
            await subscriber(session, event)


def snapshot(record: object, fields: Sequence[str]) -> dict[str, Any]:
    """The audited ``fields`` of a record as JSON values (amounts as text, dates and times in ISO form),
    for an audit row's ``before``/``after``. Each feature names its audited fields next to its model."""
    return {name: _json_value(getattr(record, name)) for name in fields}


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value
