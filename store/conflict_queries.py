"""Queries of the registration conflict check (``bot/conflicts.py``).

The check keeps an in-process index of customers' names; these queries feed it (customers added since
it last looked) and confirm what it finds against the database, which stays the truth: whether a
registration is active, and whose it is, is always read here, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Customer, Deal
from store.queries import ACTIVE_DEAL_STATUSES

CHUNK = 500


def _chunks(values: Sequence[int]) -> list[Sequence[int]]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]


async def customers_after(
    session: AsyncSession, *, after: int, also: Sequence[int] = (), limit: int | None = None
) -> Sequence[Any]:
    """``(id, partner_id, name_key)`` of customers with an id above ``after`` or in ``also``, by id."""
    condition: Any = Customer.id > after
    if also:
        condition = or_(condition, Customer.id.in_(list(also)))
    stmt = select(Customer.id, Customer.partner_id, Customer.name_key).where(condition).order_by(Customer.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return (await session.execute(stmt)).all()


async def active_registrations(
    session: AsyncSession, *, other_than_partner: int, customer_ids: Sequence[int], domain: str | None
) -> Sequence[tuple[Deal, Customer]]:
    """Other partners' active registrations of these customers, or of any customer with ``domain``."""
    conditions: list[Any] = [Customer.id.in_(list(chunk)) for chunk in _chunks(sorted(set(customer_ids)))]
    if domain:
        conditions.append(Customer.domain == domain)
    if not conditions:
        return []
    stmt = (
        select(Deal, Customer)
        .join(Customer, Deal.customer_id == Customer.id)
        .where(
            Deal.partner_id != other_than_partner,
            Deal.status.in_(ACTIVE_DEAL_STATUSES),
            or_(*conditions),
        )
        .order_by(Deal.id)
    )
    return [(d, c) for d, c in (await session.execute(stmt)).unique().all()]
