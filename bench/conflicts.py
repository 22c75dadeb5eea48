"""The registration conflict check at 10k, 100k and 1M active registrations.

One database per backend grows from the smallest size to the largest (the generator's rows are the
same whatever the size). At each size, with a fresh engine, so a fresh in-process index:

- ``index``: :func:`bot.features.deals.conflicts.find_conflicts`, the product's check, as a registration runs it: in
  a transaction that has begun, rolled back after (only the check is timed; the index is loaded
  first and that time is reported apart). Each query is also checked in a transaction of its own,
  all of it timed - session, connection, BEGIN, rollback - (``p50/p99_own_transaction_ms``: how
  this line was measured until 2026-11-27);
- ``prefix``: the method it replaced - candidates whose name key starts with the same three letters
  (or share the domain), from SQL, scored with ``company_similarity``;
- ``naive``: :func:`rapidfuzz.process.extractOne` over every name, in memory (the baseline: its
  list of names comes for free).

Queries are new registrations by another partner: the planted near-duplicates of the first customers
(the same queries at every size, so only the haystack grows) and as many names of no existing
customer. Recall is the share of planted duplicates whose original is found; the naive scan counts a
hit when its single best match is the original.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import select

from bench.report import Report, Row, latency_summary
from bench.synthetic import Planted, Spec, fresh_names, planted, populate
from bot.features.deals import conflicts
from bot.kernel.companies import CONFLICT_THRESHOLD, company_similarity, normalize_company
from store import deal_queries
from store.db import Database
from store.deal_models import Customer

SPEC = Spec(partners=500, people=2_000, deals=10_000, leads=0, active_share=1.0, due_share=0.0, identities=0)


@dataclass(frozen=True)
class Query:
    name_key: str
    partner_id: int
    original_id: int | None  # None: a name no customer has


def queries_for(spec: Spec, count: int) -> list[Query]:
    """``count`` planted near-duplicates (from the first customers) and ``count // 2`` fresh names."""
    dupes: list[Planted] = planted(spec, min(spec.deals, 40 * count), limit=count)
    fresh = fresh_names(spec, count // 2)
    out: list[Query] = []
    for i, p in enumerate(dupes):  # two planted duplicates, then a fresh name
        out.append(Query(normalize_company(p.name), p.partner_id, p.original_id))
        if i % 2 == 1 and fresh:
            out.append(Query(normalize_company(fresh.pop()), i % spec.partners + 1, None))
    return out


async def _index_check(db: Database, query: Query) -> list[int]:
    """The check in a transaction of its own, all of it timed (how this line was measured until
    2026-11-27): opening the session, checking out and pinging the connection, BEGIN, the rollback."""
    async with db.sessions() as session:
        found = await conflicts.find_conflicts(
            session, partner_id=query.partner_id, name_key=query.name_key, domain=None
        )
        await session.rollback()
    return [match.customer_id for match in found]


async def _index_check_in_registration(db: Database, query: Query) -> tuple[int, list[int]]:
    """The check as a registration runs it: in a transaction that has begun (the registration has
    written its customer and deal by then), so only the check is timed. Returns (ns, found)."""
    async with db.sessions() as session:
        await session.execute(select(Customer.id).where(Customer.id == 0))  # BEGIN, connection ready
        start = time.perf_counter_ns()
        found = await conflicts.find_conflicts(
            session, partner_id=query.partner_id, name_key=query.name_key, domain=None
        )
        elapsed = time.perf_counter_ns() - start
        await session.rollback()
    return elapsed, [match.customer_id for match in found]


async def _prefix_check(db: Database, query: Query) -> list[int]:
    """The conflict check as it was before the index (``bot/features/deals/conflicts.py`` at the start of #9)."""
    async with db.sessions() as session:
        rows = await deal_queries.active_registrations_of_others(
            session, partner_id=query.partner_id, name_keys=[query.name_key[:3]], domain=None
        )
        found = [
            deal.customer_id
            for deal, customer in rows
            if company_similarity(query.name_key, customer.name_key) >= CONFLICT_THRESHOLD
        ]
        await session.rollback()
    return found


def planted_seen_all(qs: list[Query]) -> int:
    return sum(1 for q in qs if q.original_id is not None)


def _recall(found: dict[int, list[int]], qs: list[Query], subset: range | None = None) -> float:
    picked = [i for i in (subset or range(len(qs))) if qs[i].original_id is not None and i in found]
    if not picked:
        return float("nan")
    return round(sum(1 for i in picked if qs[i].original_id in found[i]) / len(picked), 4)


async def _measure(
    db: Database, qs: list[Query], method: Any, limit: int
) -> tuple[list[int], dict[int, list[int]]]:
    samples: list[int] = []
    found: dict[int, list[int]] = {}
    for i, q in enumerate(qs[:limit]):
        start = time.perf_counter_ns()
        found[i] = await method(db, q)
        samples.append(time.perf_counter_ns() - start)
    return samples, found


async def _measure_index(db: Database, qs: list[Query]) -> tuple[list[int], list[int], dict[int, list[int]]]:
    """Each query checked both ways, in turn first (so that neither way has the warmer caches):
    samples in the registration's transaction, samples in a transaction of its own, what was found."""
    inside: list[int] = []
    own: list[int] = []
    found: dict[int, list[int]] = {}
    for i, q in enumerate(qs):
        for way in (0, 1) if i % 2 else (1, 0):
            if way:
                start = time.perf_counter_ns()
                found[i] = await _index_check(db, q)
                own.append(time.perf_counter_ns() - start)
            else:
                elapsed, found[i] = await _index_check_in_registration(db, q)
                inside.append(elapsed)
    return inside, own, found


async def _names(db: Database) -> tuple[list[str], list[int]]:
    async with db.sessions() as session:
        rows = (await session.execute(select(Customer.id, Customer.name_key).order_by(Customer.id))).all()
    return [r[1] for r in rows], [r[0] for r in rows]


async def run(
    report: Report,
    urls: dict[str, str],
    *,
    sizes: list[int],
    count: int,
    prefix_limit: dict[int, int],
    naive_limit: dict[int, int],
) -> None:
    """Measure at each of ``sizes`` on every database in ``urls`` (backend -> URL, empty databases)."""
    qs = queries_for(SPEC.scaled(deals=max(sizes)), count)
    done = 0
    for size in sorted(sizes):
        spec = SPEC.scaled(deals=size)
        started = time.perf_counter()
        populate(list(urls.values()), spec, deals_from=done, leads=False, migrate=done == 0)
        print(
            f"  conflicts: {size:,} registrations written in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        done = size
        usable = [q for q in qs if q.original_id is None or q.original_id <= size]
        names: list[str] = []
        ids: list[int] = []
        index_rows: dict[str, Row] = {}
        for backend, url in urls.items():
            db = Database.from_url(url)
            try:
                started = time.perf_counter()
                index = await conflicts.warm(db)
                load_s = time.perf_counter() - started
                await _index_check(db, usable[0])  # first refresh after the load
                samples, own, found = await _measure_index(db, usable)
                n_naive = min(naive_limit.get(size, 50), len(usable))
                index_rows[backend] = report.add(
                    "conflict check",
                    f"{size:,} active, {backend}, index",
                    registrations=size,
                    **latency_summary(samples),
                    p50_own_transaction_ms=latency_summary(own)["p50_ms"],
                    p99_own_transaction_ms=latency_summary(own)["p99_ms"],
                    recall=_recall(found, usable),
                    recall_on_naive_subset=_recall(found, usable, range(n_naive)),
                    queries=len(samples),
                    flagged_fresh=sum(1 for i, q in enumerate(usable) if q.original_id is None and found[i]),
                    load_s=round(load_s, 1),
                    index_mb=round(index.nbytes / 2**20, 1),
                )
                limit = min(prefix_limit.get(size, 50), len(usable))
                samples, found = await _measure(db, usable, _prefix_check, limit)
                report.add(
                    "conflict check",
                    f"{size:,} active, {backend}, prefix (before)",
                    registrations=size,
                    **latency_summary(samples),
                    recall=_recall(found, usable, range(limit)),
                    recall_on_naive_subset=_recall(found, usable, range(min(limit, n_naive))),
                    queries=len(samples),
                    flagged_fresh=sum(
                        1 for i, q in enumerate(usable[:limit]) if q.original_id is None and found[i]
                    ),
                )
                if not names:
                    names, ids = await _names(db)
            finally:
                await db.dispose()
        # The naive scan, once per size (it reads no database).
        n_naive = min(naive_limit.get(size, 50), len(usable))
        samples = []
        hits = 0
        planted_seen = 0
        for q in usable[:n_naive]:
            start = time.perf_counter_ns()
            best = process.extractOne(q.name_key, names, scorer=fuzz.WRatio, score_cutoff=CONFLICT_THRESHOLD)
            samples.append(time.perf_counter_ns() - start)
            if q.original_id is not None:
                planted_seen += 1
                hits += int(best is not None and ids[best[2]] == q.original_id)
        naive_recall = round(hits / planted_seen, 4) if planted_seen else float("nan")
        report.add(
            "conflict check",
            f"{size:,} active, naive extractOne (baseline)",
            registrations=size,
            **latency_summary(samples),
            recall=naive_recall,
            recall_on_naive_subset=naive_recall,
            queries=len(samples),
        )
        if size == max(sizes):
            for backend, row in index_rows.items():
                report.target(
                    f"conflict check p99 at {size:,} active, {backend}", row.metrics["p99_ms"], 20.0, "ms"
                )
                report.target(
                    f"conflict recall vs naive scan at {size:,} active, {backend}",
                    row.metrics["recall_on_naive_subset"],
                    naive_recall,
                    "",
                    higher_is_better=True,
                    detail=f"same {planted_seen} planted duplicates; over all {planted_seen_all(usable)}: "
                    f"{row.metrics['recall']}",
                )
