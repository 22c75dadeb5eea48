"""The nudge sweep over a million deals: time and peak memory to fill the outbox.

The database holds ``Spec.deals`` deals (with their customers), the leads and the people; 1% of the
deals and leads is due at ``Spec.now``, and about 10% a day later (:mod:`bench.synthetic` plans both),
so the same table swept at the two times shows what the sweep's cost follows: what is due, not what
is stored. Each sweep runs in a fresh ``python -m bench.sweeps`` process, so that its peak resident
memory is its own (``VmHWM``; see :func:`bench.report.peak_rss_mb`): once timed, then - after the
nudge tables and the outbox are emptied again - once under :mod:`tracemalloc` for the peak of Python
allocations (tracemalloc slows allocation down, so that run's time is not the one reported; it runs
for the 1% case, the one with targets).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import tracemalloc
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bench.report import Report, peak_rss_mb
from bench.synthetic import Manifest, Spec, populate
from bot.bootstrap import Core
from bot.config import Settings
from store.db import sync_url

SPEC = Spec(
    partners=2_000,
    people=50_000,
    deals=1_000_000,
    leads=200_000,
    identities=0,
    due_share=0.01,
    later_share=0.09,
)
"""1M deals, 200k leads, 50k people: 1% due at ``now``, about 10% a day later."""


def reset(database_url: str) -> None:
    """Forget every nudge and queued message, so the same sweep can run again."""
    engine = create_engine(sync_url(database_url))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # DELETE would check nudge_items.message_id (no index) for every message it removes.
            conn.execute(text("TRUNCATE nudge_items, nudge_messages, outbox"))
        else:
            for table in ("nudge_items", "nudge_messages", "outbox"):
                conn.execute(text(f"DELETE FROM {table}"))
    engine.dispose()


def outbox_rows(database_url: str) -> int:
    engine = create_engine(sync_url(database_url))
    with engine.connect() as conn:
        count = int(conn.execute(text("SELECT COUNT(*) FROM outbox")).scalar_one())
    engine.dispose()
    return count


async def _sweep(database_url: str, now: datetime) -> dict[str, Any]:
    core = Core.build(Settings.from_env({"DATABASE_URL": database_url}), clock=lambda: now)
    try:
        started = time.perf_counter()
        report = await core.nudges.sweep(now=now)
        seconds = time.perf_counter() - started
    finally:
        await core.db.dispose()
    return {
        "seconds": round(seconds, 2),
        "messages": report.messages,
        "items": report.items,
        "deferred_quiet": report.deferred_quiet,
        "deferred_budget": report.deferred_budget,
    }


def child(database_url: str, now: datetime, *, trace: bool) -> dict[str, Any]:
    """One sweep in this (fresh) process."""
    if trace:
        tracemalloc.start()
    result = asyncio.run(_sweep(database_url, now))
    if trace:
        result["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
    result["maxrss_mb"] = peak_rss_mb()
    return result


def run_child(database_url: str, now: datetime, *, trace: bool) -> dict[str, Any]:
    args = [sys.executable, "-m", "bench.sweeps", "--url", database_url, "--now", now.isoformat()]
    if trace:
        args.append("--trace")
    root = Path(__file__).resolve().parents[1]  # where ``bench`` is importable from
    done = subprocess.run(args, capture_output=True, text=True, check=False, env={**os.environ}, cwd=root)
    if done.returncode != 0:
        raise RuntimeError(f"sweep child failed:\n{done.stderr[-4000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run(report: Report, urls: dict[str, str], *, spec: Spec = SPEC) -> None:
    """Populate every (empty) database in ``urls`` (backend -> URL) with ``spec``, then sweep each at
    ``spec.now`` (``due_share`` due) and a day later (about ``due_share + later_share`` due)."""
    started = time.perf_counter()
    manifest = populate(list(urls.values()), spec)
    print(f"  sweeps: {spec.deals:,} deals written in {time.perf_counter() - started:.0f} s", flush=True)
    for backend, url in urls.items():
        for when, due in ((spec.now, manifest.due), (spec.later, manifest.due_later)):
            timed = run_child(url, when, trace=False)
            queued = outbox_rows(url)
            reset(url)
            traced: dict[str, Any] = {"tracemalloc_peak_mb": None}
            if when == spec.now:  # the case with targets; tracemalloc makes a sweep several times slower
                traced = run_child(url, when, trace=True)
                reset(url)
            share = Manifest.deals_in(due) / spec.deals
            row = report.add(
                "nudge sweep",
                f"{backend}, {share:.1%} of deals due",
                deals=spec.deals,
                leads=spec.leads,
                people=manifest.counts["people"],
                due_deals=Manifest.deals_in(due),
                due_leads=due["lead_idle"],
                seconds=timed["seconds"],
                peak_rss_mb=timed["maxrss_mb"],
                py_peak_mb=traced["tracemalloc_peak_mb"],
                messages=timed["messages"],
                items=timed["items"],
                outbox_rows=queued,
                deferred_quiet=timed["deferred_quiet"],
            )
            row.note = f"at {when.isoformat(sep=' ')} UTC; due by reason {dict(due)}"
            if when == spec.now:
                report.target(f"sweep time at {spec.deals:,} deals, {backend}", timed["seconds"], 10.0, "s")
                report.target(
                    f"sweep peak memory (RSS) at {spec.deals:,} deals, {backend}",
                    timed["maxrss_mb"],
                    500.0,
                    "MB",
                )


def main() -> None:
    parser = argparse.ArgumentParser(description="one nudge sweep (run by python -m bench)")
    parser.add_argument("--url", required=True)
    parser.add_argument("--now", required=True)
    parser.add_argument("--trace", action="store_true")
    args = parser.parse_args()
    print(json.dumps(child(args.url, datetime.fromisoformat(args.now), trace=args.trace)))


if __name__ == "__main__":
    main()
