"""Queries of the registration conflict check (``bot/conflicts.py``).

The check keeps an in-process index of customers' names; these queries feed it (customers added since
it last looked) and confirm what it finds against the database, which stays the truth: whether a
registration is active, and whose it is, is always read here, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, or_, select, union
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


async def news_and_registrations(
    session: AsyncSession,
    *,
    after: int,
    also: Sequence[int],
    customer_ids: Sequence[int],
    domain: str | None,
    other_than_partner: int,
) -> Sequence[Any]:
    """One round trip for a check: the customers the index has not taken in yet (an id above ``after``
    or in ``also``), the customers it found similar (``customer_ids``) and those with ``domain`` - each
    with other partners' active registrations of it.

    Rows ``(customer id, partner id, name key, domain, deal id)``, by customer id then deal id; a
    customer with no such registration comes once, with ``None`` for the deal."""
    # A union of the ways in, not one OR: SQLite's planner scans the whole table for an OR of a range
    # and lists under an outer join (97 ms at 1M), and each part here is an index lookup.
    parts = [select(Customer.id).where(Customer.id > after)]
    picked_ids = sorted(set(also) | set(customer_ids))
    parts += [select(Customer.id).where(Customer.id.in_(list(chunk))) for chunk in _chunks(picked_ids)]
    if domain:
        parts.append(select(Customer.id).where(Customer.domain == domain))
    picked = union(*parts).subquery()
    active = and_(
        Deal.customer_id == Customer.id,
        Deal.partner_id != other_than_partner,
        Deal.status.in_(ACTIVE_DEAL_STATUSES),
    )
    stmt = (
        select(Customer.id, Customer.partner_id, Customer.name_key, Customer.domain, Deal.id)
        .select_from(Customer)
        .join(picked, picked.c.id == Customer.id)
        .outerjoin(Deal, active)
        .order_by(Customer.id, Deal.id)
    )
    return (await session.execute(stmt)).all()
