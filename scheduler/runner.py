"""APScheduler wiring: *when* the sweeps in ``scheduler.jobs`` run inside ``partnerbot serve``."""

from __future__ import annotations

import logging
import time

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.bootstrap import Core
from bot.kernel.metrics import METRICS
from scheduler.jobs import JOBS, Job

log = logging.getLogger(__name__)


def _runner(core: Core, job: Job):  # type: ignore[no-untyped-def]
    async def run() -> None:
        started, ok = time.monotonic(), False
        try:
            summary = await job.run(core, core.clock())
            log.debug("%s: %s", job.name, summary)
            ok = True
        except Exception:
            log.exception("job %s failed", job.name)
        finally:
            METRICS.job_ran(job.name, ok=ok, seconds=time.monotonic() - started)

    return run


def build_scheduler(core: Core) -> AsyncIOScheduler:
    """One scheduler per process. ``coalesce`` folds missed runs into one, ``max_instances=1`` keeps a
    slow sweep from overlapping itself; replicas coordinate through the database."""
    scheduler = AsyncIOScheduler(
        timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}
    )
    for job in JOBS.values():
        scheduler.add_job(_runner(core, job), job.trigger, id=job.name, name=job.description, **job.every)
    return scheduler
