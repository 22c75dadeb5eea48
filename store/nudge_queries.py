"""Queries for the nudge sweep. They return light rows, not ORM objects, and work in bulk, so a sweep
over a million deals costs what is due, not what is stored."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.deal_models import Customer, Deal
from store.models import OutboxMessage, Partner, Person
from store.nudge_models import NudgeItem, NudgeMessage, Snooze
from store.queries import _insert

CHUNK = 500
DEAL_COLUMNS = (
    Deal.number,
    Deal.partner_id,
    Deal.registered_by_id,
    Deal.stage,
    Deal.status,
    Deal.updated_at,
    Deal.close_date,
    Deal.protection_until,
    Deal.in_conflict,
    Customer.name.label("customer"),
)


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), CHUNK):
        yield values[i : i + CHUNK]


async def stale_deals(
    session: AsyncSession, *, stage: str, updated_before: datetime, statuses: Sequence[str]
) -> Sequence[Any]:
    stmt = (
        select(*DEAL_COLUMNS)
        .join(Customer, Deal.customer_id == Customer.id)
        .where(Deal.status.in_(statuses), Deal.stage == stage, Deal.updated_at < updated_before)
    )
    return (await session.execute(stmt)).all()


async def close_date_passed(session: AsyncSession, *, today: date, statuses: Sequence[str]) -> Sequence[Any]:
    stmt = (
        select(*DEAL_COLUMNS)
        .join(Customer, Deal.customer_id == Customer.id)
        .where(Deal.status.in_(statuses), Deal.close_date < today)
    )
    return (await session.execute(stmt)).all()


async def protection_ending_on(session: AsyncSession, *, days: Sequence[date]) -> Sequence[Any]:
    stmt = (
        select(*DEAL_COLUMNS)
        .join(Customer, Deal.customer_id == Customer.id)
        .where(Deal.status == "approved", Deal.protection_until.in_(list(days)))
    )
    return (await session.execute(stmt)).all()


async def waiting_for_review(session: AsyncSession, *, updated_before: datetime) -> Sequence[Any]:
    stmt = (
        select(*DEAL_COLUMNS)
        .join(Customer, Deal.customer_id == Customer.id)
        .where(Deal.status == "pending", Deal.updated_at < updated_before)
    )
    return (await session.execute(stmt)).all()


async def channel_managers(session: AsyncSession) -> dict[int, int]:
    """partner id -> channel manager person id."""
    rows = await session.execute(
        select(Partner.id, Partner.channel_manager_id).where(Partner.channel_manager_id.is_not(None))
    )
    return {pid: cm for pid, cm in rows if cm is not None}


async def people_info(session: AsyncSession, person_ids: Sequence[int]) -> dict[int, Any]:
    """id -> (id, name, tz, active, kind, partner_id) for the people a sweep is about to contact."""
    out: dict[int, Any] = {}
    for chunk in _chunks(sorted(set(person_ids))):
        rows = await session.execute(
            select(Person.id, Person.name, Person.tz, Person.active, Person.kind, Person.partner_id).where(
                Person.id.in_(chunk)
            )
        )
        out.update({r.id: r for r in rows})
    return out


async def active_snoozes(
    session: AsyncSession, person_ids: Sequence[int], now: datetime
) -> dict[int, set[str]]:
    out: dict[int, set[str]] = defaultdict(set)
    for chunk in _chunks(sorted(set(person_ids))):
        rows = await session.execute(
            select(Snooze.person_id, Snooze.ref).where(Snooze.person_id.in_(chunk), Snooze.until > now)
        )
        for person_id, ref in rows:
            out[person_id].add(ref)
    return out


async def ledger(session: AsyncSession, pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], NudgeItem]:
    """The ledger rows of these (person, item key) pairs, answered or not."""
    out: dict[tuple[int, str], NudgeItem] = {}
    ordered = sorted(set(pairs))
    for chunk in _chunks(ordered):
        people = {p for p, _ in chunk}
        keys = {k for _, k in chunk}
        rows = await session.execute(
            select(NudgeItem).where(NudgeItem.person_id.in_(people), NudgeItem.item_key.in_(keys))
        )
        out.update({(r.person_id, r.item_key): r for r in rows.scalars()})
    return out


async def messages_since(session: AsyncSession, person_ids: Sequence[int], since: datetime) -> dict[int, int]:
    out: dict[int, int] = {}
    for chunk in _chunks(sorted(set(person_ids))):
        rows = await session.execute(
            select(NudgeMessage.person_id, func.count())
            .where(
                NudgeMessage.person_id.in_(chunk), NudgeMessage.sent_at >= since, NudgeMessage.kind == "nudge"
            )
            .group_by(NudgeMessage.person_id)
        )
        out.update({pid: int(n) for pid, n in rows})
    return out


async def claim_slot(
    session: AsyncSession, *, person_id: int, slot: str, kind: str, items: list[Any], now: datetime
) -> int | None:
    """Write the message row for (person, slot); None when it exists already (another replica, or an
    earlier run today)."""
    result = await session.execute(
        _insert(session, NudgeMessage)
        .values(person_id=person_id, slot=slot, kind=kind, items=items, sent_at=now)
        .on_conflict_do_nothing(index_elements=["person_id", "slot"])
        .returning(NudgeMessage.id)
    )
    return result.scalar_one_or_none()


async def claim_slots(
    session: AsyncSession, *, slots: Sequence[tuple[int, str, list[Any]]], kind: str, now: datetime
) -> dict[int, int]:
    """:func:`claim_slot` for many (person id, slot, items) at once: person id -> message id of the
    rows written; a person whose slot exists already (another replica, an earlier run) is left out.

    One executemany of a Core insert (not ORM-enabled: those cost ~1 ms a row here) with RETURNING:
    SQLAlchemy sends it as multi-row INSERTs ("insertmanyvalues") from one compiled statement - a
    ``values([...])`` of many rows was compiled anew for every batch."""
    if not slots:
        return {}
    table = NudgeMessage.__table__
    stmt = (
        _insert(session, table)
        .on_conflict_do_nothing(index_elements=["person_id", "slot"])
        .returning(table.c.id, table.c.person_id)
    )
    result = await session.execute(
        stmt,
        [{"person_id": p, "slot": s, "kind": kind, "items": items, "sent_at": now} for p, s, items in slots],
    )
    return {person_id: message_id for message_id, person_id in result}


async def add_items(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """New ledger rows (``NudgeItem`` columns as dicts) in one executemany."""
    if rows:
        await session.execute(insert(cast(Table, NudgeItem.__table__)), list(rows))


async def queue_messages(session: AsyncSession, rows: Sequence[dict[str, Any]], *, now: datetime) -> None:
    """Outbox rows for many messages at once - the rows :func:`store.queries.add_outbox` writes one
    at a time (pending, no attempt yet, due ``now``; a second write of a key is a no-op). ``rows`` hold
    ``idempotency_key``, ``recipient_kind``, ``recipient_id``, ``kind``, ``payload`` and
    ``replace_key``."""
    if not rows:
        return
    values = [
        {
            **row,
            "idempotency_key": row["idempotency_key"][:200],
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for row in rows
    ]
    stmt = _insert(session, OutboxMessage.__table__).on_conflict_do_nothing(
        index_elements=["idempotency_key"]
    )
    await session.execute(stmt, values)


async def message(session: AsyncSession, message_id: int) -> NudgeMessage | None:
    return await session.get(NudgeMessage, message_id)


async def mark_answered(
    session: AsyncSession, *, ref: str, now: datetime, outcome: str | None = None
) -> None:
    """Every open ledger row about ``ref`` counts as answered: the item was updated."""
    await session.execute(
        update(NudgeItem)
        .where(NudgeItem.ref == ref, NudgeItem.answered_at.is_(None))
        .values(answered_at=now, outcome=outcome)
        .execution_options(synchronize_session=False)
    )


async def set_snooze(session: AsyncSession, *, person_id: int, ref: str, until: datetime) -> None:
    existing = (
        await session.execute(select(Snooze).where(Snooze.person_id == person_id, Snooze.ref == ref))
    ).scalar_one_or_none()
    if existing is None:
        session.add(Snooze(person_id=person_id, ref=ref, until=until))
    else:
        existing.until = max(existing.until, until)


async def nudge_rows_since(session: AsyncSession, since: datetime) -> Sequence[Any]:
    rows = await session.execute(
        select(NudgeItem.person_id, NudgeItem.last_nudged_at, NudgeItem.answered_at).where(
            NudgeItem.last_nudged_at >= since
        )
    )
    return rows.all()


async def message_counts_since(session: AsyncSession, since: datetime) -> Sequence[Any]:
    rows = await session.execute(
        select(NudgeMessage.person_id, Person.name, func.count())
        .join(Person, Person.id == NudgeMessage.person_id)
        .where(NudgeMessage.sent_at >= since, NudgeMessage.kind == "nudge")
        .group_by(NudgeMessage.person_id, Person.name)
    )
    return rows.all()


async def open_deal_ages(session: AsyncSession, statuses: Sequence[str]) -> Sequence[Any]:
    rows = await session.execute(
        select(Deal.partner_id, Deal.stage, Deal.updated_at).where(Deal.status.in_(statuses))
    )
    return rows.all()


async def managed_partners(session: AsyncSession) -> Sequence[Any]:
    """(partner id, name, tier, channel manager id) for every active partner with a manager."""
    rows = await session.execute(
        select(Partner.id, Partner.name, Partner.tier, Partner.channel_manager_id).where(
            Partner.channel_manager_id.is_not(None), Partner.status == "active"
        )
    )
    return rows.all()


async def deal_changes_by_partner(session: AsyncSession, *, since: datetime) -> dict[int, dict[str, int]]:
    """partner id -> {"changes": n, "registered": n, "won": n, "lost": n} since ``since``."""
    from store.deal_models import DealHistory

    out: dict[int, dict[str, int]] = defaultdict(lambda: {"changes": 0, "registered": 0, "won": 0, "lost": 0})
    rows = await session.execute(
        select(Deal.partner_id, DealHistory.field, DealHistory.old_value, DealHistory.new_value, func.count())
        .join(Deal, Deal.id == DealHistory.deal_id)
        .where(DealHistory.at >= since)
        .group_by(Deal.partner_id, DealHistory.field, DealHistory.old_value, DealHistory.new_value)
    )
    for partner_id, field_name, old, new, n in rows:
        out[partner_id]["changes"] += int(n)
        if field_name == "status" and old is None:
            out[partner_id]["registered"] += int(n)
        if field_name == "status" and new in ("won", "lost"):
            out[partner_id][new] += int(n)
    return out


async def open_deals_by_partner(session: AsyncSession, statuses: Sequence[str]) -> Sequence[Any]:
    rows = await session.execute(
        select(Deal.partner_id, Deal.stage, Deal.updated_at).where(Deal.status.in_(statuses))
    )
    return rows.all()


async def idle_leads(
    session: AsyncSession, *, updated_before: datetime, statuses: Sequence[str]
) -> Sequence[Any]:
    """Leads a partner accepted and hasn't updated since ``updated_before``, with who accepted them."""
    from store.lead_models import Lead, LeadOffer

    stmt = (
        select(
            Lead.number,
            Lead.company,
            Lead.status,
            Lead.partner_id,
            Lead.updated_at,
            Lead.accepted_at,
            LeadOffer.decided_by_id.label("accepted_by"),
        )
        .join(
            LeadOffer,
            (LeadOffer.lead_id == Lead.id)
            & (LeadOffer.partner_id == Lead.partner_id)
            & (LeadOffer.outcome == "accepted"),
        )
        .where(
            Lead.status.in_(statuses), Lead.updated_at < updated_before, LeadOffer.decided_by_id.is_not(None)
        )
    )
    return (await session.execute(stmt)).all()
