"""The audit entry every service writes with a change: who (or which job), what, to which record,
before and after, when, and through which channel; and the columns every per-record history row
(deal, lead, MDF request) shares."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.kernel.messages import Actor
from store.models import AuditEntry


def audit_entry(
    actor: Actor | None,
    *,
    action: str,
    entity: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    at: datetime,
    channel: str = "job",
) -> AuditEntry:
    """``channel`` names the surface when there is no actor (a sweep: ``job``; the CLI: ``cli``)."""
    return AuditEntry(
        actor_id=actor.person_id if actor else None,
        action=action,
        entity=entity,
        before=before,
        after=after,
        channel=actor.channel if actor else channel,
        at=at,
    )


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
