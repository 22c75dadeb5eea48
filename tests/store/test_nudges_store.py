"""Replicas and restarts on SQLite and PostgreSQL: each nudge once, nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from decimal import Decimal

from bot.bootstrap import Core
from bot.features.deals.model import DealDraft
from bot.kernel.amounts import Money
from bot.kernel.outbox import DeliveryError
from store import queries
from store.nudge_models import NudgeMessage
from tests.conftest import FakeClock, RecordingNotifier, build_core, make_world, reachable


async def test_two_replicas_send_each_nudge_once(any_core: Core) -> None:
    world = await make_world(any_core)
    for actor in (world.alice, world.alex, world.bob):
        for i in range(3):
            view = await any_core.deals.register(
                actor,
                DealDraft(
                    customer=f"{actor.name} customer {i}",
                    product="Cloud Suite",
                    amount=Money(Decimal("1000"), "USD"),
                    close_date=date(2026, 12, 1),
                ),
            )
            await any_core.deals.approve(world.dana, view.ref)
    replica = await build_core(any_core.settings.database_url, FakeClock(any_core.clock()))
    at = datetime(2026, 12, 2, 15, 0)  # Wednesday: 16:00 Berlin, 10:00 New York
    try:
        reports = await asyncio.gather(any_core.nudges.sweep(now=at), replica.nudges.sweep(now=at))
    finally:
        await replica.db.dispose()
    assert sum(r.messages for r in reports) == 3
    async with any_core.db.transaction() as session:
        from sqlalchemy import select

        messages = (await session.execute(select(NudgeMessage))).scalars().all()
        rows = [r for r in await queries.outbox_for(session) if r.kind == "nudge"]
    assert sorted(m.person_id for m in messages) == sorted(
        [world.alice.person_id, world.alex.person_id, world.bob.person_id]
    )
    assert len(rows) == 3 and all(len(m.items) == 3 for m in messages)


async def test_outbox_survives_429_500_and_a_restart_with_one_delivery(any_core: Core) -> None:
    world = await make_world(any_core)
    await reachable(any_core, world.dana)
    await any_core.deals.register(
        world.alice,
        DealDraft(
            customer="Globex",
            product="Cloud Suite",
            amount=Money(Decimal("1000"), "USD"),
            close_date=date(2027, 1, 31),
        ),
    )
    await any_core.db.dispose()  # the process dies between the write and the delivery

    clock = FakeClock(any_core.clock())
    restarted = await build_core(any_core.settings.database_url, clock)
    notifier = RecordingNotifier()
    notifier.fail_next = [DeliveryError("429", retry_after=5), DeliveryError("500 internal error")]
    try:
        dispatcher = restarted.dispatcher({"console": notifier})
        assert (await dispatcher.deliver_due()).retried == 1
        clock.advance(seconds=6)
        assert (await dispatcher.deliver_due()).retried == 1
        clock.advance(minutes=5)
        assert (await dispatcher.deliver_due()).sent == 1
        clock.advance(hours=1)
        assert (await dispatcher.deliver_due()).sent == 0
    finally:
        await restarted.db.dispose()
    assert len(notifier.sent) == 1


async def test_a_delivery_killed_mid_way_is_retried_after_its_lease(any_core: Core, clock: FakeClock) -> None:
    world = await make_world(any_core)
    await reachable(any_core, world.dana)
    await any_core.deals.register(
        world.alice,
        DealDraft(
            customer="Globex",
            product="Cloud Suite",
            amount=Money(Decimal("1000"), "USD"),
            close_date=date(2027, 1, 31),
        ),
    )
    async with any_core.db.transaction() as session:  # a process claims the row, then dies
        claimed = await queries.claim_outbox(
            session, now=clock.now, lease_until=clock.now + timedelta(minutes=2), limit=10
        )
        assert len(claimed) == 1
    notifier = RecordingNotifier()
    dispatcher = any_core.dispatcher({"console": notifier})
    assert (await dispatcher.deliver_due()).sent == 0, "the lease still holds"
    clock.advance(minutes=3)
    assert (await dispatcher.deliver_due()).sent == 1
    assert (await dispatcher.deliver_due()).sent == 0
    assert len(notifier.sent) == 1
