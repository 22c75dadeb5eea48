"""Queries of the registration conflict check (``bot/features/deals/conflicts.py``).

The check keeps an in-process index of customers' names; these queries feed it (customers added since
it last looked) and confirm what it finds against the database, which stays the truth: whether a
registration is active, and whose it is, is always read here, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Subquery, and_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from store.deal_models import Customer, Deal
from store.deal_queries import ACTIVE_DEAL_STATUSES

CHUNK = 500


def _chunks(values: Sequence[int]) -> list[Sequence[int]]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]


def _ids_of(*, after: int, ids: Sequence[int], domain: str | None = None) -> Subquery:
    """Ids of the customers above ``after``, in ``ids`` or with ``domain``: a union of index lookups,
    not one OR - SQLite's planner scans the whole table for an OR of a range and a list (178 ms at
    1M customers under the check's outer join)."""
    parts = [select(Customer.id).where(Customer.id > after)]
    parts += [select(Customer.id).where(Customer.id.in_(list(chunk))) for chunk in _chunks(sorted(set(ids)))]
    if domain:
        parts.append(select(Customer.id).where(Customer.domain == domain))
    return union(*parts).subquery()


async def customers_after(
    session: AsyncSession, *, after: int, also: Sequence[int] = (), limit: int | None = None
) -> Sequence[Any]:
    """``(id, partner_id, name_key)`` of customers with an id above ``after`` or in ``also``, by id."""
    stmt = select(Customer.id, Customer.partner_id, Customer.name_key)
    if also:
        picked = _ids_of(after=after, ids=also)
        stmt = stmt.join(picked, picked.c.id == Customer.id)
    else:  # a page of the load: the range alone
        stmt = stmt.where(Customer.id > after)
    stmt = stmt.order_by(Customer.id)
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
    picked = _ids_of(after=after, ids=[*also, *customer_ids], domain=domain)
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
