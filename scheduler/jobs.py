"""The sweeps: thin functions taking ``now``. What is due lives in the database, so running a job
twice, late, or in two replicas at once loses and duplicates nothing.

``JOBS`` maps a job name to its function and its cadence; ``partnerbot jobs list`` prints it and
``partnerbot jobs run NAME [--at ISO]`` runs one (and delivers what it produced).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from bot.bootstrap import Core
from scheduler.lead_jobs import expire_lead_offers
from scheduler.mdf_jobs import remind_mdf
from scheduler.question_jobs import escalate_questions


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


async def nudge_sweep(core: Core, now: datetime) -> str:
    return str(await core.nudges.sweep(now=now))


async def purge_inbox(core: Core, now: datetime) -> str:
    from bot.inbox import purge

    return f"forgot {await purge(core.db, now=now)} handled request(s)"


async def weekly_digest(core: Core, now: datetime) -> str:
    from bot.features.performance.digest import Digests

    queued = await Digests(db=core.db, clock=core.clock, policy=core.nudges.policy).weekly(now=now)
    return f"queued {queued} digest(s)"


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
        Job(
            "nudge_sweep",
            nudge_sweep,
            "interval",
            {"minutes": 30},
            "batched, polite reminders about stale deals, passed close dates and ending protections",
        ),
        Job(
            "expire_lead_offers",
            expire_lead_offers,
            "interval",
            {"minutes": 5},
            "offer leads not accepted in time to the next eligible partner",
        ),
        Job(
            "escalate_questions",
            escalate_questions,
            "interval",
            {"minutes": 15},
            "escalate questions unanswered past their SLA: channel manager, then vendor channel",
        ),
        Job(
            "remind_mdf",
            remind_mdf,
            "cron",
            {"hour": 8, "minute": 15},
            "remind partners before approved MDF activities end unclaimed and before claim windows close",
        ),
        Job(
            "purge_inbox",
            purge_inbox,
            "cron",
            {"minute": 40},
            "forget platform requests and request keys of more than a day ago (no retry comes that late)",
        ),
        Job(
            "weekly_digest",
            weekly_digest,
            "cron",
            {"day_of_week": "mon", "hour": 7},
            "each channel manager's weekly digest: partner changes, stale deals, red flags",
        ),
    )
}
