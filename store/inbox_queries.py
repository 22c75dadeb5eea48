"""The inbox's reads and writes (see :mod:`store.inbox_models`)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, delete, exists, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from store.inbox_models import InboxRequest

_TABLE = cast(Table, InboxRequest.__table__)
_EARLIER = _TABLE.alias("earlier")


@dataclass(frozen=True, slots=True)
class NewRequest:
    dedupe_key: str
    order_key: str
    kind: str
    payload: dict[str, Any]


_INSERT_COLUMNS = (
    "dedupe_key",
    "order_key",
    "kind",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "received_at",
)
ROWS_PER_INSERT = 100
"""Rows per INSERT statement (8 parameters a row: far below SQLite's oldest limit of 999)."""


@functools.lru_cache(maxsize=256)
def _insert_sql(rows: int, paramstyle: str) -> str:
    mark = "?" if paramstyle == "qmark" else "%s"
    row = "(" + ", ".join([mark] * len(_INSERT_COLUMNS)) + ")"
    return (
        f"INSERT INTO {_TABLE.name} ({', '.join(_INSERT_COLUMNS)}) VALUES "
        + ", ".join([row] * rows)
        + " ON CONFLICT (dedupe_key) DO NOTHING"
    )


def add_requests(conn: Connection, requests: Sequence[NewRequest], *, now: datetime) -> None:
    """Store acknowledged requests; one whose ``dedupe_key`` is already there is skipped (a retried
    delivery). ``conn`` is in autocommit mode (``store.db.AutocommitWriter``: a synchronous connection
    on SQLite's writer thread, or an async one's synchronous facade on PostgreSQL), so this is one
    multi-row ``INSERT ... ON CONFLICT DO NOTHING`` per :data:`ROWS_PER_INSERT` requests - each atomic
    and durable on its own, with no BEGIN and COMMIT round trips. Written as SQL text with the columns' own bind processing
    (the stored values are the ORM's): SQLAlchemy's multi-row VALUES costs more CPU than the
    database does."""
    dialect = conn.dialect
    columns = _TABLE.c
    as_json = columns.payload.type._cached_bind_processor(dialect)
    as_time = columns.received_at.type._cached_bind_processor(dialect)
    stamp = as_time(now) if as_time else now
    for start in range(0, len(requests), ROWS_PER_INSERT):
        chunk = requests[start : start + ROWS_PER_INSERT]
        params: list[Any] = []
        for r in chunk:
            payload = as_json(r.payload) if as_json else r.payload
            params += (r.dedupe_key[:200], r.order_key[:200], r.kind, payload, "pending", 0, stamp, stamp)
        conn.exec_driver_sql(_insert_sql(len(chunk), dialect.paramstyle), tuple(params))


def _claimable(now: datetime) -> list[Any]:
    t, earlier = _TABLE.c, _EARLIER.c
    return [
        t.status == "pending",
        t.next_attempt_at <= now,
        or_(t.claimed_until.is_(None), t.claimed_until < now),
        # One person's requests in order: only the oldest unfinished one of an order key is handled.
        ~exists().where(earlier.order_key == t.order_key, earlier.status == "pending", earlier.id < t.id),
    ]


async def claim_requests(
    session: AsyncSession, *, now: datetime, lease_until: datetime, limit: int
) -> Sequence[Row[Any]]:
    """Lease up to ``limit`` requests to handle, oldest first, none whose order key has an earlier
    request unfinished; rows of ``(id, kind, attempts, payload, received_at)``.

    As with the outbox, ``FOR UPDATE SKIP LOCKED`` lets replicas claim disjoint rows on PostgreSQL and
    the conditional UPDATE is the claim itself on SQLite; the lease returns a row to the pool when the
    process that claimed it dies. Core statements on the table: this runs for every few requests."""
    t = _TABLE.c
    found = await session.execute(
        select(t.id)
        .where(*_claimable(now))
        .order_by(t.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=_TABLE)
    )
    ids = [row[0] for row in found]
    if not ids:
        return []
    claimed = await session.execute(
        update(_TABLE)
        .where(
            t.id.in_(ids),
            t.status == "pending",
            or_(t.claimed_until.is_(None), t.claimed_until < now),
        )
        .values(claimed_until=lease_until)
        .returning(t.id, t.kind, t.attempts, t.payload, t.received_at)
    )
    return sorted(claimed.all(), key=lambda row: row[0])


async def finish_requests(session: AsyncSession, ids: Sequence[int], *, now: datetime) -> None:
    if ids:
        await session.execute(
            update(InboxRequest)
            .where(InboxRequest.id.in_(list(ids)))
            .values(status="done", done_at=now, claimed_until=None)
            .execution_options(synchronize_session=False)
        )


async def release_requests(session: AsyncSession, ids: Sequence[int]) -> None:
    """Give claimed requests back unfinished (a process shutting down): their lease ends now, so any
    replica - or this one after its restart - takes them up at once. No attempt is used up."""
    if ids:
        await session.execute(
            update(InboxRequest)
            .where(InboxRequest.id.in_(list(ids)), InboxRequest.status == "pending")
            .values(claimed_until=None)
            .execution_options(synchronize_session=False)
        )


async def fail_request(
    session: AsyncSession, request_id: int, *, error: str, retry_at: datetime | None, now: datetime
) -> None:
    """One failed attempt: tried again at ``retry_at``, or given up (``failed``) when that is None."""
    values: dict[str, Any] = {
        "attempts": InboxRequest.attempts + 1,
        "last_error": error[:2000],
        "claimed_until": None,
    }
    if retry_at is None:
        values.update(status="failed", done_at=now)
    else:
        values["next_attempt_at"] = retry_at
    await session.execute(
        update(InboxRequest)
        .where(InboxRequest.id == request_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def purge_requests(session: AsyncSession, *, before: datetime) -> int:
    """Forget finished requests received before ``before`` (their keys no longer stop a retry)."""
    result = await session.execute(
        delete(InboxRequest).where(InboxRequest.status != "pending", InboxRequest.received_at < before)
    )
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]


async def backlog(session: AsyncSession, *, failed_since: datetime) -> tuple[int, datetime | None, int]:
    """(requests waiting, when the oldest waiting one arrived, requests given up since ``failed_since``)."""
    t = _TABLE.c
    waiting, oldest = (
        await session.execute(select(func.count(), func.min(t.received_at)).where(t.status == "pending"))
    ).one()
    failed = await session.scalar(
        select(func.count()).where(t.status == "failed", t.done_at >= failed_since).select_from(_TABLE)
    )
    return int(waiting), oldest, int(failed or 0)
