"""The queries the deal feature needs (bot/features/deals/). Every function takes the session of the
caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.deal_models import Customer, Deal, DealConflict, DealHistory, DealNote

# The deal statuses SQL filters on; the deal feature's model (bot/features/deals/model.py) names the rest.
OPEN_DEAL_STATUSES = ("pending", "info_requested", "approved")


ACTIVE_DEAL_STATUSES = OPEN_DEAL_STATUSES  # a registration conflicts only with an open one


async def customers_of(session: AsyncSession, partner_id: int) -> Sequence[Customer]:
    return (await session.execute(select(Customer).where(Customer.partner_id == partner_id))).scalars().all()


async def customer_by_key(session: AsyncSession, *, partner_id: int, name_key: str) -> Customer | None:
    return (
        await session.execute(
            select(Customer).where(Customer.partner_id == partner_id, Customer.name_key == name_key)
        )
    ).scalar_one_or_none()


async def deal_by_number(session: AsyncSession, number: int, *, for_update: bool = False) -> Deal | None:
    stmt = select(Deal).where(Deal.number == number)
    if for_update:
        stmt = stmt.with_for_update(of=Deal)
    return (await session.execute(stmt)).unique().scalar_one_or_none()


def _visible(stmt: Select[Any], partner_id: int | None) -> Select[Any]:
    return stmt if partner_id is None else stmt.where(Deal.partner_id == partner_id)


async def deals_visible(
    session: AsyncSession,
    *,
    partner_id: int | None,
    statuses: Sequence[str] | None = None,
    in_conflict: bool | None = None,
    limit: int = 50,
) -> Sequence[Deal]:
    """Deals of one partner (``partner_id``) or of everyone (``None``, staff), newest change first."""
    stmt = _visible(select(Deal), partner_id)
    if statuses is not None:
        stmt = stmt.where(Deal.status.in_(statuses))
    if in_conflict is not None:
        stmt = stmt.where(Deal.in_conflict.is_(in_conflict))
    stmt = stmt.order_by(Deal.updated_at.desc(), Deal.id.desc()).limit(limit)
    deals: Sequence[Deal] = (await session.execute(stmt)).unique().scalars().all()
    return deals


async def active_registrations_of_others(
    session: AsyncSession, *, partner_id: int, name_keys: Sequence[str], domain: str | None
) -> Sequence[tuple[Deal, Customer]]:
    """Other partners' active registrations whose customer shares a name token prefix or the domain.

    The blocking keeps the fuzzy comparison to a small candidate set; see bot/features/deals/conflicts.py.
    """
    conditions: list[Any] = [Customer.name_key.like(f"{key}%") for key in name_keys if key]
    if domain:
        conditions.append(Customer.domain == domain)
    if not conditions:
        return []
    stmt = (
        select(Deal, Customer)
        .join(Customer, Deal.customer_id == Customer.id)
        .where(Deal.partner_id != partner_id, Deal.status.in_(ACTIVE_DEAL_STATUSES), or_(*conditions))
    )
    return [(d, c) for d, c in (await session.execute(stmt)).unique().all()]


async def conflicts_of(session: AsyncSession, deal_id: int) -> Sequence[tuple[DealConflict, Deal]]:
    """Conflicts in either direction, with the deal on the other side."""
    rows = await session.execute(
        select(DealConflict).where(
            or_(DealConflict.deal_id == deal_id, DealConflict.other_deal_id == deal_id)
        )
    )
    out = []
    for conflict in rows.scalars().all():
        other_id = conflict.other_deal_id if conflict.deal_id == deal_id else conflict.deal_id
        other = await session.get(Deal, other_id)
        if other is not None:
            out.append((conflict, other))
    return out


async def history_of(session: AsyncSession, deal_id: int) -> Sequence[DealHistory]:
    return (
        (
            await session.execute(
                select(DealHistory).where(DealHistory.deal_id == deal_id).order_by(DealHistory.id)
            )
        )
        .scalars()
        .all()
    )


async def notes_of(session: AsyncSession, deal_id: int) -> Sequence[DealNote]:
    """A deal's staff notes, oldest first - for staff readers only (the service decides)."""
    return (
        (await session.execute(select(DealNote).where(DealNote.deal_id == deal_id).order_by(DealNote.id)))
        .scalars()
        .all()
    )


async def approved_expiring(session: AsyncSession, *, before: Any) -> Sequence[Deal]:
    return (
        (
            await session.execute(
                select(Deal)
                .where(Deal.status == "approved", Deal.protection_until < before)
                .with_for_update()
            )
        )
        .unique()
        .scalars()
        .all()
    )
