"""The sweeps: thin functions taking ``now``. What is due lives in the database, so running a job
twice, late, or in two replicas at once loses and duplicates nothing.

``JOBS`` maps a job name to its function and its cadence; ``partnerbot jobs list`` prints it and
``partnerbot jobs run NAME [--at ISO]`` runs one (and delivers what it produced).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from bot.core import Core


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    run: Callable[[Core, datetime], Awaitable[str]]
    trigger: str  # "interval" or "cron"
    every: dict[str, int | str]
    description: str


async def deliver_outbox(core: Core, now: datetime) -> str:
    report = await core.dispatcher().deliver_due(now=now)
    return f"sent {report.sent}, retrying {report.retried}, failed {report.failed}, waiting {report.waiting}"


async def expire_registrations(core: Core, now: datetime) -> str:
    expired = await core.deals.expire_due(now=now)
    return f"expired {len(expired)} registration(s)" + (f": {', '.join(expired)}" if expired else "")


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job(
            "deliver_outbox",
            deliver_outbox,
            "interval",
            {"seconds": 5},
            "deliver queued notifications with retries",
        ),
        Job(
            "expire_registrations",
            expire_registrations,
            "cron",
            {"minute": 5},
            "end the protection of approved registrations past their end date",
        ),
    )
}
