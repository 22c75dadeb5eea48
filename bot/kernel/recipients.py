"""Who hears about a record, as named policies: a feature says which one its notices follow instead
of writing its own loop over channel managers and approvers.

Staff side (``staff_for``) answers with the people to message directly and whether the vendor channel
gets it as well; partner side, ``record_owner`` is the one person a notice about their own record goes
to, ``partner_users`` everyone of the organisation (a lead offer)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from enum import Enum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.kernel import outbox
from bot.kernel.messages import Reply
from store import queries
from store.models import Person


class StaffPolicy(Enum):
    # Reviews (deal registrations): the manager, plus every approver when no vendor channel shows it.
    MANAGER_AND_APPROVERS_WITHOUT_CHANNEL = "manager and approvers without a vendor channel"
    # Decisions with a budget (MDF): the manager, else every approver; the vendor channel as well.
    MANAGER_ELSE_APPROVERS = "manager, else approvers"
    # Work to hand out (leads): the manager, else the vendor channel, else every channel manager.
    MANAGER_ELSE_CHANNEL_ELSE_MANAGERS = "manager, else vendor channel, else channel managers"


async def channel_manager_of(session: AsyncSession, partner_id: int | None) -> Person | None:
    """The partner's channel manager while they are active."""
    if partner_id is None:
        return None
    partner = await queries.partner_by_id(session, partner_id)
    if partner is None or not partner.channel_manager_id:
        return None
    manager = await queries.person_by_id(session, partner.channel_manager_id)
    return manager if manager is not None and manager.active else None


async def staff_for(
    session: AsyncSession, policy: StaffPolicy, *, partner_id: int | None, vendor_channel: bool
) -> tuple[list[Person], bool]:
    """(people to message directly, whether the vendor channel gets it too) under ``policy``."""
    manager = await channel_manager_of(session, partner_id)
    people = [manager] if manager is not None else []
    if policy is StaffPolicy.MANAGER_AND_APPROVERS_WITHOUT_CHANNEL:
        if not vendor_channel:
            people += [p for p in await queries.staff_with_role(session, "approver") if p not in people]
        return people, vendor_channel
    if policy is StaffPolicy.MANAGER_ELSE_APPROVERS:
        return people or list(await queries.staff_with_role(session, "approver")), vendor_channel
    if people:
        return people, False
    if vendor_channel:
        return [], True
    return list(await queries.staff_with_role(session, "channel_manager")), False


async def tell_staff(
    session: AsyncSession,
    policy: StaffPolicy,
    *,
    partner_id: int | None,
    vendor_channel: bool,
    kind: str,
    key: Callable[[str], str],
    reply: Callable[[Person | None], Reply],
    now: datetime,
) -> None:
    """Queue a notice for the staff ``policy`` names, in ``session``: ``reply(person)`` to each person,
    ``reply(None)`` to the vendor channel; ``key(who)`` is the outbox key, ``who`` being ``vendor`` or
    ``p<person id>``."""
    people, channel = await staff_for(session, policy, partner_id=partner_id, vendor_channel=vendor_channel)
    if channel:
        await outbox.queue_for_vendor_channel(
            session, key=key("vendor"), reply=reply(None), kind=kind, now=now
        )
    for person in people:
        await outbox.queue_for_person(
            session, key=key(f"p{person.id}"), person_id=person.id, reply=reply(person), kind=kind, now=now
        )


async def record_owner(session: AsyncSession, *, owner_id: int | None, partner_id: int) -> list[Person]:
    """The person who registered or requested a record, while active and still with its partner; else
    the partner's first user (someone there hears about their organisation's record)."""
    owner = await queries.person_by_id(session, owner_id) if owner_id is not None else None
    if owner is not None and owner.active and owner.partner_id == partner_id:
        return [owner]
    return list(await queries.people_of_partner(session, partner_id))[:1]


async def partner_users(session: AsyncSession, partner_id: int) -> Sequence[Person]:
    """Every active user of the partner."""
    return await queries.people_of_partner(session, partner_id)
