"""The queries the core needs, kept in one place so bot/ never writes SQL.

Every function takes the session of the caller's unit of work and never commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import (
    AuditEntry,
    ChatIdentity,
    Counter,
    DeliveredMessage,
    DialogState,
    OutboxMessage,
    Partner,
    PartnerWorkspace,
    Person,
    ProcessedRequest,
    Product,
)


def _insert(session: AsyncSession, table: Any) -> Any:
    """An INSERT that supports ``on_conflict_do_nothing`` on both SQLite and PostgreSQL."""
    # The dialect's module is imported here, once its engine has imported it anyway: importing
    # SQLAlchemy's PostgreSQL dialect (with its asyncpg and pg8000 variants) slows down a SQLite start.
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


# -- references and idempotency ---------------------------------------------------------------


async def next_number(session: AsyncSession, name: str) -> int:
    """The next human reference number for ``name``; the row lock serialises concurrent callers."""
    await session.execute(
        _insert(session, Counter).values(name=name, value=0).on_conflict_do_nothing(index_elements=["name"])
    )
    result = await session.execute(
        update(Counter).where(Counter.name == name).values(value=Counter.value + 1).returning(Counter.value)
    )
    return int(result.scalar_one())


_CLAIM_REQUEST: dict[str, Any] = {}


async def claim_request(session: AsyncSession, key: str, now: datetime) -> bool:
    """Record that the request ``key`` is being applied. False if it already was (a retry). The
    statement is built once per dialect, on the table: it runs for nearly every request."""
    dialect = session.get_bind().dialect.name
    if dialect not in _CLAIM_REQUEST:
        table = ProcessedRequest.__table__
        _CLAIM_REQUEST[dialect] = (
            _insert(session, table).on_conflict_do_nothing(index_elements=["key"]).returning(table.c.key)
        )
    result = await session.execute(_CLAIM_REQUEST[dialect], {"key": key[:200], "at": now})
    return result.scalar_one_or_none() is not None


async def release_request(session: AsyncSession, key: str) -> None:
    """Forget a claimed request key: the request changed nothing (e.g. a form with field errors),
    so a corrected resubmission must go through."""
    await session.execute(delete(ProcessedRequest).where(ProcessedRequest.key == key[:200]))


async def request_answer(
    session: AsyncSession, key: str
) -> tuple[list[dict[str, Any]] | None, int, int] | None:
    """(answer, replies posted, failed attempts) of a claimed request key; None when it is unknown."""
    row = await session.get(ProcessedRequest, key[:200])
    return None if row is None else (row.answer, row.posted or 0, row.failures or 0)


async def keep_answer(session: AsyncSession, key: str, answer: list[dict[str, Any]]) -> None:
    """The answer the request's work produced, none of it posted yet."""
    await session.execute(
        update(ProcessedRequest).where(ProcessedRequest.key == key[:200]).values(answer=answer, posted=0)
    )


async def note_posted(session: AsyncSession, key: str) -> None:
    """One more reply of the kept answer is out."""
    await session.execute(
        update(ProcessedRequest)
        .where(ProcessedRequest.key == key[:200])
        .values(posted=ProcessedRequest.posted + 1)
    )


async def note_failed(session: AsyncSession, key: str) -> int:
    """The request's work raised: count it (the next attempt does the work again); how many times."""
    await session.execute(
        update(ProcessedRequest)
        .where(ProcessedRequest.key == key[:200])
        .values(failures=ProcessedRequest.failures + 1, answer=None)
    )
    row = await session.get(ProcessedRequest, key[:200], populate_existing=True)
    return row.failures if row is not None else 1


async def forget_requests(session: AsyncSession, *, before: datetime) -> int:
    """Forget request keys claimed before ``before``: no platform retries a request that old."""
    result = await session.execute(delete(ProcessedRequest).where(ProcessedRequest.at < before))
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]


# -- people and organisations -----------------------------------------------------------------


async def person_by_id(session: AsyncSession, person_id: int) -> Person | None:
    return await session.get(Person, person_id)


async def person_by_email(session: AsyncSession, email: str) -> Person | None:
    return (
        await session.execute(select(Person).where(func.lower(Person.email) == email.strip().lower()))
    ).scalar_one_or_none()


async def partner_by_name(session: AsyncSession, name: str) -> Partner | None:
    return (
        await session.execute(select(Partner).where(func.lower(Partner.name) == name.strip().lower()))
    ).scalar_one_or_none()


async def partner_by_id(session: AsyncSession, partner_id: int) -> Partner | None:
    return await session.get(Partner, partner_id)


async def partner_by_workspace(session: AsyncSession, *, platform: str, workspace: str) -> Partner | None:
    """The partner whose chat workspace ``(platform, workspace)`` is, if any."""
    return (
        await session.execute(
            select(Partner)
            .join(PartnerWorkspace, PartnerWorkspace.partner_id == Partner.id)
            .where(PartnerWorkspace.platform == platform, PartnerWorkspace.workspace == workspace)
        )
    ).scalar_one_or_none()


async def workspaces_of(session: AsyncSession, partner_id: int) -> list[tuple[str, str]]:
    """A partner's chat workspaces as ``(platform, workspace)``, by platform then workspace."""
    rows = await session.execute(
        select(PartnerWorkspace.platform, PartnerWorkspace.workspace)
        .where(PartnerWorkspace.partner_id == partner_id)
        .order_by(PartnerWorkspace.platform, PartnerWorkspace.workspace)
    )
    return [(platform, workspace) for platform, workspace in rows]


async def set_partner_workspace(
    session: AsyncSession, *, partner_id: int, platform: str, workspace: str
) -> None:
    """Make ``workspace`` the partner's workspace on ``platform`` (in place of the one it had there).
    The caller has checked that no other partner holds it."""
    await session.execute(
        delete(PartnerWorkspace).where(
            PartnerWorkspace.partner_id == partner_id,
            PartnerWorkspace.platform == platform,
            PartnerWorkspace.workspace != workspace,
        )
    )
    existing = (
        await session.execute(
            select(PartnerWorkspace).where(
                PartnerWorkspace.platform == platform, PartnerWorkspace.workspace == workspace
            )
        )
    ).scalar_one_or_none()
    if existing is None:
        session.add(PartnerWorkspace(partner_id=partner_id, platform=platform, workspace=workspace))
        await session.flush()


_LINKED = (
    select(ChatIdentity, Person, Partner)
    .join(Person, Person.id == ChatIdentity.person_id)
    .outerjoin(Partner, Partner.id == Person.partner_id)
    .where(
        ChatIdentity.platform == bindparam("platform"),
        ChatIdentity.workspace == bindparam("workspace"),
        ChatIdentity.external_id == bindparam("external_id"),
    )
)


async def linked_identity(
    session: AsyncSession, *, platform: str, workspace: str, external_id: str
) -> tuple[ChatIdentity, Person, Partner | None] | None:
    """A platform account's identity with its person and partner, in one query built once (it runs
    on every request)."""
    row = (
        await session.execute(
            _LINKED, {"platform": platform, "workspace": workspace, "external_id": external_id}
        )
    ).first()
    return (row[0], row[1], row[2]) if row is not None else None


async def identity(
    session: AsyncSession, *, platform: str, workspace: str, external_id: str
) -> ChatIdentity | None:
    return (
        await session.execute(
            select(ChatIdentity).where(
                ChatIdentity.platform == platform,
                ChatIdentity.workspace == workspace,
                ChatIdentity.external_id == external_id,
            )
        )
    ).scalar_one_or_none()


_IDENTITY = ChatIdentity.__table__.c
_ADDRESSES = (
    select(_IDENTITY.platform, _IDENTITY.conversation_ref, _IDENTITY.external_id, _IDENTITY.workspace)
    .where(_IDENTITY.person_id == bindparam("person_id"))
    .order_by(_IDENTITY.last_seen_at.desc().nulls_last(), _IDENTITY.id.desc())
)


async def identities_of(session: AsyncSession, person_id: int) -> Sequence[ChatIdentity]:
    """A person's chat identities, the one they used most recently first."""
    return (
        (
            await session.execute(
                select(ChatIdentity)
                .where(ChatIdentity.person_id == person_id)
                .order_by(ChatIdentity.last_seen_at.desc().nulls_last(), ChatIdentity.id.desc())
            )
        )
        .scalars()
        .all()
    )


async def addresses_of(session: AsyncSession, person_id: int) -> list[tuple[str, dict[str, Any], str, str]]:
    """A person's chat identities as (platform, conversation reference, external id, workspace), the
    one they used most recently first (a statement built once: the outbox asks for every message)."""
    rows = await session.execute(_ADDRESSES, {"person_id": person_id})
    return [
        (platform, dict(ref or {}), external_id, workspace) for platform, ref, external_id, workspace in rows
    ]


async def unreachable_recipients(session: AsyncSession, *, marker: str) -> list[tuple[Any, ...]]:
    """People with messages waiting because they could not be reached: (person, partner name or None,
    messages waiting, the oldest one's time, the latest reason), by e-mail."""
    rows = await session.execute(
        select(
            OutboxMessage.recipient_id,
            func.count(),
            func.min(OutboxMessage.created_at),
            func.max(OutboxMessage.last_error),
        )
        .where(OutboxMessage.status == "pending", OutboxMessage.last_error.like(marker + "%"))
        .group_by(OutboxMessage.recipient_id)
    )
    found = []
    for person_id, waiting, oldest, reason in rows:
        person = await session.get(Person, person_id)
        if person is None:
            continue
        partner = await session.get(Partner, person.partner_id) if person.partner_id else None
        found.append((person, partner.name if partner else None, int(waiting), oldest, reason))
    return sorted(found, key=lambda row: row[0].email)


async def where_to_look_up(
    session: AsyncSession, person_id: int
) -> tuple[str, str, dict[str, list[str]]] | None:
    """For a person the bot may look up by e-mail: (e-mail, kind, {platform: their organisation's
    workspaces there}) - a partner user's partner's Slack workspace / Teams tenant; none for staff (the
    caller knows the vendor's own). None for someone inactive or unknown."""
    person = await session.get(Person, person_id)
    if person is None or not person.active:
        return None
    places: dict[str, list[str]] = {}
    if person.partner_id is not None:
        partner = await session.get(Partner, person.partner_id)
        if partner is None or partner.status != "active":
            return None
        for platform, workspace in await workspaces_of(session, partner.id):
            places.setdefault(platform, []).append(workspace)
    return person.email, person.kind, places


async def link_identity(
    session: AsyncSession, *, person_id: int, platform: str, workspace: str, external_id: str
) -> bool:
    """Record that ``external_id`` in ``workspace`` is this person (found by e-mail); False when that
    account is already linked to someone else, and nothing is written."""
    existing = await identity(session, platform=platform, workspace=workspace, external_id=external_id)
    if existing is not None:
        return existing.person_id == person_id
    session.add(
        ChatIdentity(person_id=person_id, platform=platform, workspace=workspace, external_id=external_id)
    )
    await session.flush()
    return True


async def staff_with_role(session: AsyncSession, role: str) -> Sequence[Person]:
    people = (
        (await session.execute(select(Person).where(Person.kind == "staff", Person.active.is_(True))))
        .scalars()
        .all()
    )
    return [p for p in people if role in (p.roles or [])]


async def people_of_partner(session: AsyncSession, partner_id: int) -> Sequence[Person]:
    return (
        (
            await session.execute(
                select(Person)
                .where(Person.partner_id == partner_id, Person.active.is_(True))
                .order_by(Person.id)
            )
        )
        .scalars()
        .all()
    )


async def product_names(session: AsyncSession) -> list[str]:
    rows = await session.execute(select(Product.name).where(Product.active.is_(True)).order_by(Product.name))
    return [r[0] for r in rows]


# -- customers and deals ----------------------------------------------------------------------


async def audit_of(session: AsyncSession, entity: str) -> Sequence[AuditEntry]:
    return (
        (await session.execute(select(AuditEntry).where(AuditEntry.entity == entity).order_by(AuditEntry.id)))
        .scalars()
        .all()
    )


# -- dialogs ----------------------------------------------------------------------------------


async def dialog_of(session: AsyncSession, person_id: int) -> DialogState | None:
    return await session.get(DialogState, person_id)


_DIALOG_UPSERT: dict[str, Any] = {}


def _dialog_upsert(session: AsyncSession) -> Any:
    """The dialog upsert, built once per dialect: building ``ON CONFLICT ... excluded`` costs more
    than running it, and it runs on every turn of every dialog."""
    dialect = session.get_bind().dialect.name
    if dialect not in _DIALOG_UPSERT:
        stmt = _insert(session, DialogState.__table__)
        _DIALOG_UPSERT[dialect] = stmt.on_conflict_do_update(
            index_elements=["person_id"],
            set_={
                "flow": stmt.excluded.flow,
                "state": stmt.excluded.state,
                "updated_at": stmt.excluded.updated_at,
            },
        )
    return _DIALOG_UPSERT[dialect]


async def save_dialog(
    session: AsyncSession, *, person_id: int, flow: str, state: dict[str, Any], now: datetime
) -> None:
    """Upsert, not read-modify-write: two overlapping requests of one person (a double click after
    the ack) must not fail on a row the other just changed or removed; the last write wins."""
    await session.execute(
        _dialog_upsert(session),
        {"person_id": person_id, "flow": flow, "state": dict(state), "updated_at": now},
    )


async def clear_dialog(session: AsyncSession, person_id: int) -> None:
    await session.execute(delete(DialogState).where(DialogState.person_id == person_id))


# -- outbox -----------------------------------------------------------------------------------


async def outbox_counts(session: AsyncSession) -> tuple[int, int, int]:
    """(messages pending that have not failed yet, pending ones retrying after a failure, failed ones),
    for the metrics. Sent messages are not counted."""
    o = OutboxMessage
    pending, retrying, failed = (
        await session.execute(
            select(
                func.count().filter(o.status == "pending", o.attempts == 0),
                func.count().filter(o.status == "pending", o.attempts > 0),
                func.count().filter(o.status == "failed"),
            ).where(o.status != "sent")
        )
    ).one()
    return int(pending), int(retrying), int(failed)


async def add_outbox(
    session: AsyncSession,
    *,
    idempotency_key: str,
    recipient_kind: str,
    recipient_id: int | None,
    kind: str,
    payload: dict[str, Any],
    replace_key: str | None,
    now: datetime,
) -> None:
    """Queue a message; a second call with the same key is a no-op."""
    await session.execute(
        _insert(session, OutboxMessage)
        .values(
            idempotency_key=idempotency_key[:200],
            recipient_kind=recipient_kind,
            recipient_id=recipient_id,
            kind=kind,
            payload=payload,
            replace_key=replace_key,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )


async def claim_outbox(
    session: AsyncSession, *, now: datetime, lease_until: datetime, limit: int
) -> Sequence[OutboxMessage]:
    """Claim due messages for delivery. On PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets several
    replicas claim disjoint rows; the lease (``claimed_until``) returns a row to the pool if the
    process that claimed it dies before recording the outcome."""
    stmt = (
        select(OutboxMessage)
        .where(
            OutboxMessage.status == "pending",
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = [row.id for row in (await session.execute(stmt)).scalars().all()]
    if not ids:
        return []
    # The conditional UPDATE is the claim itself: on SQLite (no row locks) a second process that read
    # the same rows finds them leased once the first commits, and claims nothing.
    claimed = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.status == "pending",
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        )
        .values(claimed_until=lease_until)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    claimed_ids = sorted(r[0] for r in claimed)
    if not claimed_ids:
        return []
    rows = await session.execute(
        select(OutboxMessage)
        .where(OutboxMessage.id.in_(claimed_ids))
        .order_by(OutboxMessage.id)
        .execution_options(populate_existing=True)
    )
    return rows.scalars().all()


async def record_outbox(
    session: AsyncSession,
    row_id: int,
    *,
    status: str,
    attempts: int,
    error: str | None,
    next_attempt_at: datetime | None,
    sent_at: datetime | None,
    delivered: Sequence[Mapping[str, Any]] = (),
) -> None:
    """The outcome of one delivery attempt, and where a message with a replace key landed
    (``delivered``: rows of ``delivered_messages`` without ``at``: ``replace_key``, ``platform``,
    ``message_ref``, and ``recipient_kind``, ``record``, ``locator`` when known). Core statements: one
    per message."""
    values: dict[str, Any] = {
        "status": status,
        "attempts": attempts,
        "last_error": error,
        "claimed_until": None,
    }
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    if sent_at is not None:
        values["sent_at"] = sent_at
    outbox = cast(Table, OutboxMessage.__table__)
    await session.execute(update(outbox).where(outbox.c.id == row_id).values(**values))
    if delivered:
        assert sent_at is not None, "only a sent message has landed somewhere"
        await session.execute(
            insert(cast(Table, DeliveredMessage.__table__)),
            [
                {"recipient_kind": None, "record": None, "locator": None, **row, "at": sent_at}
                for row in delivered
            ],
        )


async def outbox_for(session: AsyncSession, *, status: str | None = None) -> Sequence[OutboxMessage]:
    stmt = select(OutboxMessage).order_by(OutboxMessage.id)
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    return (await session.execute(stmt)).scalars().all()


async def delivered_for(
    session: AsyncSession, replace_key: str, *, recipient_kind: str | None = None
) -> Sequence[DeliveredMessage]:
    """Where the messages with ``replace_key`` landed, oldest first; only those that went to
    ``recipient_kind`` (e.g. the vendor channel) when given."""
    stmt = select(DeliveredMessage).where(DeliveredMessage.replace_key == replace_key)
    if recipient_kind is not None:
        stmt = stmt.where(DeliveredMessage.recipient_kind == recipient_kind)
    return (await session.execute(stmt.order_by(DeliveredMessage.id))).scalars().all()


async def record_of_delivered(
    session: AsyncSession, *, platform: str, locator: str, recipient_kind: str
) -> str | None:
    """The record (``D-3``) that the message ``locator`` names on ``platform`` is about, when that
    message went to ``recipient_kind``; None for any other message."""
    return (
        await session.execute(
            select(DeliveredMessage.record)
            .where(
                DeliveredMessage.platform == platform,
                DeliveredMessage.locator == locator,
                DeliveredMessage.recipient_kind == recipient_kind,
                DeliveredMessage.record.is_not(None),
            )
            .order_by(DeliveredMessage.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
