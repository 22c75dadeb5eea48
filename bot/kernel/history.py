"""Per-record history (deals, leads, MDF requests): the row every change writes, the view a reader
gets, and the one way it is rendered."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.kernel.dates import utc_stamp
from bot.kernel.messages import Actor, Reply
from store import queries


@dataclass(frozen=True, slots=True)
class HistoryView:
    """One change of one field: from what to what, by whom (or ``partnerbot`` for a job), how, when."""

    field: str
    old: str | None
    new: str | None
    by: str
    channel: str
    at: datetime


class HistoryRow(Protocol):
    """What every ``*_history`` table has (store.models.DealHistory, LeadHistory, MdfHistory)."""

    field: str
    old_value: str | None
    new_value: str | None
    changed_by_id: int | None
    channel: str
    at: datetime


def history_fields(actor: Actor | None, name: str, old: Any, new: Any, *, at: datetime) -> dict[str, Any]:
    """A history row's shared columns: which field went from what to what, who changed it (or a job),
    through which channel, when. The caller adds the record's id."""
    return {
        "field": name,
        "old_value": None if old is None else str(old),
        "new_value": None if new is None else str(new),
        "changed_by_id": actor.person_id if actor else None,
        "channel": actor.channel if actor else "job",
        "at": at,
    }


class PersonNames:
    """Names of people by id within one transaction, each read once: None for no one (a job), "?" for
    someone who no longer exists."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._names: dict[int, str] = {}

    async def __call__(self, person_id: int | None) -> str | None:
        if person_id is None:
            return None
        if person_id not in self._names:
            person = await queries.person_by_id(self.session, person_id)
            self._names[person_id] = person.name if person else "?"
        return self._names[person_id]


async def history_views(rows: Iterable[HistoryRow], names: PersonNames) -> tuple[HistoryView, ...]:
    return tuple(
        [
            HistoryView(
                field=row.field,
                old=row.old_value,
                new=row.new_value,
                by=await names(row.changed_by_id) or "partnerbot",
                channel=row.channel,
                at=row.at,
            )
            for row in rows
        ]
    )


def history_line(h: HistoryView) -> str:
    """One change as a line of a record's history: ``<when> · <who> (<channel>) · <field>: <old> → <new>``."""
    return f"{utc_stamp(h.at)} · {h.by} ({h.channel}) · {h.field}: {h.old or '—'} → {h.new or '—'}"


def history_reply(ref: str, history: Sequence[HistoryView], *, more: Sequence[str] = ()) -> Reply:
    """``History of D-3``: one line per change, oldest first, then ``more`` (e.g. a lead's offers)."""
    lines = [history_line(h) for h in history]
    lines += more
    return Reply(title=f"History of {ref}", text="\n".join(lines) or "No changes yet.", ref=ref)
