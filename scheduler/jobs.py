"""The cadence table: when each feature's due work runs. Each job is a thin function taking ``now``
that calls one feature's due-work method; what is due lives in the database (due dates, snoozes,
ledgers), so running a job twice, late, or in two replicas at once loses and duplicates nothing.

``JOBS`` maps a job name to its function and its cadence; ``partnerbot jobs list`` prints it and
``partnerbot jobs run NAME [--at ISO]`` runs one (and delivers what it produced).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from bot.bootstrap import Core
from bot.kernel.inbox import purge


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


async def expire_lead_offers(core: Core, now: datetime) -> str:
    moved = await core.leads.expire_due(now=now)
    return f"expired {len(moved)} lead offer(s)" + (f": {', '.join(moved)}" if moved else "")


async def escalate_questions(core: Core, now: datetime) -> str:
    escalated = await core.questions.escalate_due(now=now)
    return f"escalated {len(escalated)} question(s)" + (f": {', '.join(escalated)}" if escalated else "")


async def remind_mdf(core: Core, now: datetime) -> str:
    sent = await core.mdf.remind_due(now=now)
    return f"sent {len(sent)} MDF reminder(s)" + (f": {', '.join(sent)}" if sent else "")


async def purge_inbox(core: Core, now: datetime) -> str:
    return f"forgot {await purge(core.db, now=now)} handled request(s)"


async def weekly_digest(core: Core, now: datetime) -> str:
    queued = await core.digests.weekly(now=now)
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
