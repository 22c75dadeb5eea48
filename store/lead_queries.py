"""The queries the lead service needs (bot/features/leads/service.py). Every function takes the session of the caller's
unit of work and never commits."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.deal_models import Deal
from store.lead_models import (
    OPEN_LEAD_STATUSES,
    Lead,
    LeadHistory,
    LeadOffer,
    PartnerLeadProfile,
)
from store.models import OutboxMessage, Partner, Person

EXCLUDING_OUTCOMES = ("declined", "expired", "unreachable")


# -- leads ------------------------------------------------------------------------------------


async def lead_by_number(session: AsyncSession, number: int, *, for_update: bool = False) -> Lead | None:
    stmt = select(Lead).where(Lead.number == number)
    if for_update:
        stmt = stmt.with_for_update(of=Lead)
    return (await session.execute(stmt)).unique().scalar_one_or_none()


async def leads_visible(
    session: AsyncSession,
    *,
    partner_id: int | None,
    statuses: Sequence[str] | None = None,
    lead_ids: Collection[int] | None = None,
    limit: int = 50,
) -> Sequence[Lead]:
    """Leads of one partner (``partner_id``) or everyone's (``None``: staff), newest change first."""
    stmt = select(Lead)
    if partner_id is not None:
        stmt = stmt.where(Lead.partner_id == partner_id)
    if statuses is not None:
        stmt = stmt.where(Lead.status.in_(statuses))
    if lead_ids is not None:
        stmt = stmt.where(Lead.id.in_(list(lead_ids)))
    stmt = stmt.order_by(Lead.updated_at.desc(), Lead.id.desc()).limit(limit)
    return (await session.execute(stmt)).unique().scalars().all()


async def lead_ids_with_offers(
    session: AsyncSession, *, outcome: str, since: datetime, partner_id: int | None = None
) -> list[int]:
    """Leads with an offer that ended in ``outcome`` since ``since`` (e.g. the expired ones)."""
    stmt = select(LeadOffer.lead_id).where(LeadOffer.outcome == outcome, LeadOffer.decided_at >= since)
    if partner_id is not None:
        stmt = stmt.where(LeadOffer.partner_id == partner_id)
    return sorted({row[0] for row in await session.execute(stmt)})


async def due_offer_lead_ids(session: AsyncSession, *, now: datetime, limit: int = 200) -> list[int]:
    """Leads whose acceptance window ended before ``now`` while still offered."""
    stmt = (
        select(Lead.id)
        .where(Lead.status == "offered", Lead.accept_by < now)
        .order_by(Lead.accept_by, Lead.id)
        .limit(limit)
    )
    return [row[0] for row in await session.execute(stmt)]


async def claim_due_offer(session: AsyncSession, *, lead_id: int, now: datetime) -> Lead | None:
    """The lead, locked, if its offer is (still) past due; None when another sweep has it or did it.

    On PostgreSQL ``FOR UPDATE SKIP LOCKED`` keeps a second replica off a lead being expired; on SQLite
    the lead's version column makes the slower of two sweeps fail at flush instead (see Lead)."""
    stmt = (
        select(Lead)
        .where(Lead.id == lead_id, Lead.status == "offered", Lead.accept_by < now)
        .with_for_update(skip_locked=True, of=Lead)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).unique().scalar_one_or_none()


async def open_lead_counts(session: AsyncSession) -> dict[int, int]:
    """Open leads (offered or being worked) per partner id."""
    rows = await session.execute(
        select(Lead.partner_id, func.count(Lead.id))
        .where(Lead.status.in_(OPEN_LEAD_STATUSES), Lead.partner_id.is_not(None))
        .group_by(Lead.partner_id)
    )
    return {int(pid): int(n) for pid, n in rows if pid is not None}


async def open_lead_count(session: AsyncSession, partner_id: int) -> int:
    result = await session.execute(
        select(func.count(Lead.id)).where(Lead.partner_id == partner_id, Lead.status.in_(OPEN_LEAD_STATUSES))
    )
    return int(result.scalar_one())


async def lead_history(session: AsyncSession, lead_id: int) -> Sequence[LeadHistory]:
    return (
        (
            await session.execute(
                select(LeadHistory).where(LeadHistory.lead_id == lead_id).order_by(LeadHistory.id)
            )
        )
        .scalars()
        .all()
    )


# -- offers -----------------------------------------------------------------------------------


async def offers_of(session: AsyncSession, lead_id: int) -> Sequence[LeadOffer]:
    return (
        (await session.execute(select(LeadOffer).where(LeadOffer.lead_id == lead_id).order_by(LeadOffer.id)))
        .unique()
        .scalars()
        .all()
    )


async def open_offer(session: AsyncSession, lead_id: int) -> LeadOffer | None:
    """The offer the lead is under now (``offered`` or ``accepted``), newest first."""
    stmt = (
        select(LeadOffer)
        .where(LeadOffer.lead_id == lead_id, LeadOffer.outcome.in_(("offered", "accepted")))
        .order_by(LeadOffer.id.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).unique().scalar_one_or_none()


async def excluded_partner_ids(session: AsyncSession, lead_id: int) -> set[int]:
    """Partners that declined this lead or let it expire."""
    rows = await session.execute(
        select(LeadOffer.partner_id).where(
            LeadOffer.lead_id == lead_id, LeadOffer.outcome.in_(EXCLUDING_OUTCOMES)
        )
    )
    return {row[0] for row in rows}


async def offers_since(
    session: AsyncSession, *, since: datetime
) -> Sequence[tuple[int, str, datetime, datetime | None, str]]:
    """(partner id, outcome, offered at, decided at, lead status) of every offer made since ``since``:
    the raw material of the engine's performance figures."""
    rows = await session.execute(
        select(
            LeadOffer.partner_id, LeadOffer.outcome, LeadOffer.offered_at, LeadOffer.decided_at, Lead.status
        )
        .join(Lead, Lead.id == LeadOffer.lead_id)
        .where(LeadOffer.offered_at >= since)
    )
    return [(int(r[0]), str(r[1]), r[2], r[3], str(r[4])) for r in rows]


# -- partners ---------------------------------------------------------------------------------


async def partners_with_users(session: AsyncSession) -> Sequence[tuple[Partner, int]]:
    """Every partner with its number of active users."""
    counts = dict(
        (
            await session.execute(
                select(Person.partner_id, func.count(Person.id))
                .where(Person.partner_id.is_not(None), Person.active.is_(True))
                .group_by(Person.partner_id)
            )
        ).all()
    )
    partners = (await session.execute(select(Partner).order_by(Partner.id))).scalars().all()
    return [(p, int(counts.get(p.id, 0))) for p in partners]


async def lock_partner(session: AsyncSession, partner_id: int) -> Partner | None:
    """Serialises assignments to one partner (PostgreSQL), so two at once can't both take its last
    free slot."""
    stmt = select(Partner).where(Partner.id == partner_id).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def partner_names(session: AsyncSession, *, active_only: bool = True) -> list[str]:
    stmt = select(Partner.name).order_by(Partner.name)
    if active_only:
        stmt = stmt.where(Partner.status == "active")
    return [row[0] for row in await session.execute(stmt)]


async def lead_profiles(session: AsyncSession) -> dict[int, PartnerLeadProfile]:
    rows = (await session.execute(select(PartnerLeadProfile))).scalars().all()
    return {row.partner_id: row for row in rows}


async def lead_profile(session: AsyncSession, partner_id: int) -> PartnerLeadProfile | None:
    return await session.get(PartnerLeadProfile, partner_id)


# -- deals ------------------------------------------------------------------------------------


async def deal_numbers(session: AsyncSession, deal_ids: Collection[int]) -> dict[int, int]:
    if not deal_ids:
        return {}
    rows = await session.execute(select(Deal.id, Deal.number).where(Deal.id.in_(list(deal_ids))))
    return {int(i): int(n) for i, n in rows}


async def offer_messages(session: AsyncSession, key_prefix: str) -> Sequence[tuple[str, str | None]]:
    """(status, last error) of the outbox messages an offer sent, one per user of the partner."""
    rows = await session.execute(
        select(OutboxMessage.status, OutboxMessage.last_error).where(
            OutboxMessage.idempotency_key.like(key_prefix + "%")
        )
    )
    return [(status, error) for status, error in rows]


async def drop_offer_messages(session: AsyncSession, key_prefix: str, *, why: str) -> None:
    """The offer is over: its messages still waiting are not to be delivered any more."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.idempotency_key.like(key_prefix + "%"), OutboxMessage.status == "pending")
        .values(status="failed", last_error=why[:500])
    )


async def offer_by_id(session: AsyncSession, offer_id: int, *, for_update: bool = False) -> LeadOffer | None:
    stmt = select(LeadOffer).where(LeadOffer.id == offer_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).unique().scalar_one_or_none()


async def lead_by_id(session: AsyncSession, lead_id: int, *, for_update: bool = False) -> Lead | None:
    stmt = select(Lead).where(Lead.id == lead_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).unique().scalar_one_or_none()
