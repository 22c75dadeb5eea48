"""The audit entry every service writes with a change: who (or which job), what, to which record,
before and after, when, and through which channel. Per-record history is in bot/kernel/history.py."""

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
