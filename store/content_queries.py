"""The queries the content service needs (bot/features/content/service.py). Every function takes the session of the
caller's unit of work and never commits."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.content_models import ContentAudience, ContentDelivery, ContentItem
from store.models import OutboxMessage, Partner, Person

# -- items ------------------------------------------------------------------------------------


async def item_by_number(session: AsyncSession, number: int) -> ContentItem | None:
    return (
        await session.execute(select(ContentItem).where(ContentItem.number == number))
    ).scalar_one_or_none()


async def recent_items(session: AsyncSession, *, limit: int = 20) -> Sequence[ContentItem]:
    """Everything published, newest first (staff)."""
    return (
        (
            await session.execute(
                select(ContentItem)
                .order_by(ContentItem.published_at.desc(), ContentItem.id.desc())
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )


async def audience_of(session: AsyncSession, item_id: int) -> Sequence[ContentAudience]:
    return (
        (
            await session.execute(
                select(ContentAudience).where(ContentAudience.item_id == item_id).order_by(ContentAudience.id)
            )
        )
        .scalars()
        .all()
    )


def _targets(*, person_id: int, partner_id: int | None, tier: str | None, region: str | None) -> Any:
    """The audience rows that reach one person: named, their partner, their partner's tier or region.
    Tier and region compare case-insensitively."""
    conditions = [and_(ContentAudience.kind == "person", ContentAudience.value == str(person_id))]
    if partner_id is not None:
        conditions.append(and_(ContentAudience.kind == "partner", ContentAudience.value == str(partner_id)))
    if tier:
        conditions.append(
            and_(ContentAudience.kind == "tier", func.lower(ContentAudience.value) == tier.strip().lower())
        )
    if region:
        conditions.append(
            and_(
                ContentAudience.kind == "region", func.lower(ContentAudience.value) == region.strip().lower()
            )
        )
    return or_(*conditions)


async def items_for_person(
    session: AsyncSession,
    *,
    person_id: int,
    partner_id: int | None,
    tier: str | None,
    region: str | None,
    now: datetime,
    limit: int = 10,
) -> Sequence[ContentItem]:
    """Items targeted at this person (computed from the audience, so it holds for people who joined
    after publication) or delivered to them, not expired at ``now``, newest first."""
    targeted = exists().where(
        ContentAudience.item_id == ContentItem.id,
        _targets(person_id=person_id, partner_id=partner_id, tier=tier, region=region),
    )
    delivered = exists().where(
        ContentDelivery.item_id == ContentItem.id, ContentDelivery.person_id == person_id
    )
    stmt = (
        select(ContentItem)
        .where(
            or_(targeted, delivered),
            or_(ContentItem.expires_at.is_(None), ContentItem.expires_at > now),
        )
        .order_by(ContentItem.published_at.desc(), ContentItem.id.desc())
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()


async def item_reaches(
    session: AsyncSession,
    *,
    item_id: int,
    person_id: int,
    partner_id: int | None,
    tier: str | None,
    region: str | None,
) -> bool:
    """Whether the item is targeted at or was delivered to this person (expired or not)."""
    targeted = await session.execute(
        select(ContentAudience.id)
        .where(
            ContentAudience.item_id == item_id,
            _targets(person_id=person_id, partner_id=partner_id, tier=tier, region=region),
        )
        .limit(1)
    )
    if targeted.first() is not None:
        return True
    return await delivery_for(session, item_id=item_id, person_id=person_id) is not None


# -- audience resolution ----------------------------------------------------------------------


async def partner_tiers(session: AsyncSession) -> list[str]:
    rows = await session.execute(select(Partner.tier).where(Partner.status == "active").distinct())
    return sorted({r[0] for r in rows if r[0]})


async def partner_regions(session: AsyncSession) -> list[str]:
    rows = await session.execute(select(Partner.region).where(Partner.status == "active").distinct())
    return sorted({r[0] for r in rows if r[0]})


async def partner_names(session: AsyncSession) -> list[str]:
    rows = await session.execute(
        select(Partner.name).where(Partner.status == "active").order_by(Partner.name)
    )
    return [r[0] for r in rows]


async def partners_matching(
    session: AsyncSession,
    *,
    tiers: Collection[str] = (),
    regions: Collection[str] = (),
    partner_ids: Collection[int] = (),
) -> Sequence[Partner]:
    """Active partners in any of ``tiers`` or ``regions`` (case-insensitive) or named by id."""
    conditions: list[Any] = []
    if tiers:
        conditions.append(func.lower(Partner.tier).in_([t.lower() for t in tiers]))
    if regions:
        conditions.append(func.lower(Partner.region).in_([r.lower() for r in regions]))
    if partner_ids:
        conditions.append(Partner.id.in_(list(partner_ids)))
    if not conditions:
        return []
    return (
        (
            await session.execute(
                select(Partner).where(Partner.status == "active", or_(*conditions)).order_by(Partner.id)
            )
        )
        .scalars()
        .all()
    )


async def active_people_of(session: AsyncSession, partner_ids: Collection[int]) -> Sequence[Person]:
    if not partner_ids:
        return []
    return (
        (
            await session.execute(
                select(Person)
                .where(Person.partner_id.in_(list(partner_ids)), Person.active.is_(True))
                .order_by(Person.id)
            )
        )
        .unique()
        .scalars()
        .all()
    )


# -- deliveries and opens ---------------------------------------------------------------------


async def delivery_for(session: AsyncSession, *, item_id: int, person_id: int) -> ContentDelivery | None:
    return (
        await session.execute(
            select(ContentDelivery).where(
                ContentDelivery.item_id == item_id, ContentDelivery.person_id == person_id
            )
        )
    ).scalar_one_or_none()


async def deliveries_for_person(
    session: AsyncSession, *, person_id: int, item_ids: Collection[int]
) -> dict[int, ContentDelivery]:
    """item id -> this person's delivery, for the items that have one."""
    if not item_ids:
        return {}
    rows = await session.execute(
        select(ContentDelivery).where(
            ContentDelivery.person_id == person_id, ContentDelivery.item_id.in_(list(item_ids))
        )
    )
    return {d.item_id: d for d in rows.scalars().all()}


async def delivery_by_token(session: AsyncSession, token: str) -> tuple[ContentDelivery, ContentItem] | None:
    row = (
        await session.execute(
            select(ContentDelivery, ContentItem)
            .join(ContentItem, ContentItem.id == ContentDelivery.item_id)
            .where(ContentDelivery.token == token)
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


async def record_open(session: AsyncSession, *, delivery_id: int, now: datetime) -> bool:
    """Count an open; the first one sets ``opened_at`` (a conditional update, so two simultaneous first
    opens keep one time). True when this was the first open."""
    first = await session.execute(
        update(ContentDelivery)
        .where(ContentDelivery.id == delivery_id, ContentDelivery.opened_at.is_(None))
        .values(opened_at=now, opens=ContentDelivery.opens + 1)
        .returning(ContentDelivery.id)
        .execution_options(synchronize_session=False)
    )
    if first.scalar_one_or_none() is not None:
        return True
    await session.execute(
        update(ContentDelivery)
        .where(ContentDelivery.id == delivery_id)
        .values(opens=ContentDelivery.opens + 1)
        .execution_options(synchronize_session=False)
    )
    return False


async def acknowledge(session: AsyncSession, *, delivery_id: int, now: datetime) -> bool:
    """Record "Got it" once; True when this was the first time."""
    result = await session.execute(
        update(ContentDelivery)
        .where(ContentDelivery.id == delivery_id, ContentDelivery.acknowledged_at.is_(None))
        .values(acknowledged_at=now)
        .returning(ContentDelivery.id)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none() is not None


@dataclass(frozen=True, slots=True)
class DeliveryGroup:
    """Counts for one (partner, tier) group of an item's deliveries."""

    partner_id: int | None
    partner: str | None
    tier: str | None
    audience: int
    delivered: int
    opened: int
    acknowledged: int


async def delivery_groups(session: AsyncSession, *, item_id: int) -> list[DeliveryGroup]:
    """An item's deliveries grouped by the partner and tier of the recipient at publication. Delivered
    means the outbox message went out; opened counts people (one open per person)."""
    rows = await session.execute(
        select(
            ContentDelivery.partner_id,
            Partner.name,
            ContentDelivery.tier,
            func.count(ContentDelivery.id),
            func.sum(case((OutboxMessage.status == "sent", 1), else_=0)),
            func.sum(case((ContentDelivery.opened_at.is_not(None), 1), else_=0)),
            func.sum(case((ContentDelivery.acknowledged_at.is_not(None), 1), else_=0)),
        )
        .select_from(ContentDelivery)
        .outerjoin(OutboxMessage, OutboxMessage.idempotency_key == ContentDelivery.outbox_key)
        .outerjoin(Partner, Partner.id == ContentDelivery.partner_id)
        .where(ContentDelivery.item_id == item_id)
        .group_by(ContentDelivery.partner_id, Partner.name, ContentDelivery.tier)
    )
    return [
        DeliveryGroup(
            partner_id=partner_id,
            partner=name,
            tier=tier,
            audience=int(total or 0),
            delivered=int(delivered or 0),
            opened=int(opened or 0),
            acknowledged=int(acked or 0),
        )
        for partner_id, name, tier, total, delivered, opened, acked in rows.all()
    ]
