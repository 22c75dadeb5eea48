"""The inbox's reads and writes (see :mod:`store.inbox_models`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, delete, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
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


def add_requests(conn: Connection, requests: Sequence[NewRequest], *, now: datetime) -> None:
    """Write acknowledged requests in one statement (a synchronous connection: the inbox writes from a
    thread of its own, see ``store.db.BlockingWriter``); one whose ``dedupe_key`` is already there is
    skipped (a retried delivery)."""
    if not requests:
        return
    rows = [
        {
            "dedupe_key": r.dedupe_key[:200],
            "order_key": r.order_key[:200],
            "kind": r.kind,
            "payload": r.payload,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "received_at": now,
        }
        for r in requests
    ]
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert(_TABLE).on_conflict_do_nothing(index_elements=["dedupe_key"]), rows)


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
    request unfinished; rows of ``(id, kind, attempts, payload)``.

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
        .returning(t.id, t.kind, t.attempts, t.payload)
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
