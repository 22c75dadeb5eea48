"""Conflict check for a new registration against other partners' active registrations.

A conflict is an exact match of the customer's web domain, or a normalised company name
(``bot.companies.normalize_company``: case, punctuation, legal suffixes) whose similarity reaches
``CONFLICT_THRESHOLD``. Candidates are narrowed in the database by a blocking key (the first
``BLOCK_PREFIX`` characters of the normalised name) before rapidfuzz compares them, so the check
costs what the candidates cost, not what the table holds. The price: a typo in the first characters
of a name is caught only through the domain.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.companies import CONFLICT_THRESHOLD, company_similarity
from store import queries
from store.models import Deal

BLOCK_PREFIX = 3


def blocking_keys(name_key: str) -> list[str]:
    return [name_key[:BLOCK_PREFIX]] if name_key else []


async def find_conflicts(
    session: AsyncSession, *, partner_id: int, name_key: str, domain: str | None
) -> list[tuple[Deal, float, str]]:
    """Other partners' active deals that look like the same customer, best match first."""
    found: list[tuple[Deal, float, str]] = []
    for deal, customer in await queries.active_registrations_of_others(
        session, partner_id=partner_id, name_keys=blocking_keys(name_key), domain=domain
    ):
        if domain and customer.domain == domain:
            found.append((deal, 100.0, f"same web domain {domain}"))
            continue
        score = company_similarity(name_key, customer.name_key)
        if score >= CONFLICT_THRESHOLD:
            found.append((deal, score, f"company name {score:.0f}% similar"))
    found.sort(key=lambda item: -item[1])
    return found
