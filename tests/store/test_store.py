"""The store on SQLite and PostgreSQL: migrations from empty, deal lifecycle, atomic notifications,
the outbox's retries and claims."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from bot.bootstrap import Core
from bot.features.deals.model import DealChanges, DealDraft
from bot.kernel.amounts import Money
from bot.kernel.errors import NotFound
from bot.kernel.outbox import DeliveryError
from store import deal_queries, queries
from store.db import downgrade, include_object, sync_url, upgrade
from store.models import Base
from tests.conftest import (
    FakeClock,
    RecordingNotifier,
    build_core,
    make_world,
    reachable,
)


def test_migrations_go_from_empty_to_head_and_back(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    engine = create_engine(sync_url(empty_database_url))
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        assert {t.name for t in Base.metadata.sorted_tables} <= tables
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"include_object": include_object}), Base.metadata
        )
        assert diff == [], f"models and migrations disagree: {diff}"
    downgrade(empty_database_url, "base")
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}, "downgrade leaves nothing behind"
    upgrade(empty_database_url)
    engine.dispose()


def _draft(customer: str, *, domain: str | None = None, amount: str = "120000") -> DealDraft:
    return DealDraft(
        customer=customer,
        product="Cloud Suite",
        amount=Money(Decimal(amount), "USD"),
        close_date=date(2027, 3, 31),
        domain=domain,
    )


async def test_deal_lifecycle_and_conflict(any_core: Core) -> None:
    world = await make_world(any_core)
    first = await any_core.deals.register(world.alice, _draft("Globex Corporation"))
    second = await any_core.deals.register(world.bob, _draft("Globex Corp."))
    third = await any_core.deals.register(world.bob, _draft("Totally Different Ltd", domain="globex.com"))
    fourth = await any_core.deals.register(world.bob, _draft("Initech"))
    assert (first.ref, second.ref, third.ref, fourth.ref) == ("D-1", "D-2", "D-3", "D-4")
    flagged = [
        (await any_core.deals.get(world.dana, v.ref)).in_conflict for v in (first, second, third, fourth)
    ]
    assert flagged[:2] == [False, True] and not flagged[3]
    assert not flagged[2], "D-1 has no domain, so a domain match can't be made"
    assert not second.in_conflict, "the partner registering is not told (tests/security/test_no_oracles.py)"
    seen = await any_core.deals.get(world.dana, "D-2")
    assert [(c.ref, c.partner) for c in seen.conflicts] == [("D-1", "Northwind Partners")]
    assert (await any_core.deals.get(world.bob, "D-2")).conflicts == ()

    approved = await any_core.deals.approve(world.dana, "D-1")
    assert approved.protection_until == date(2026, 11, 26) + timedelta(days=90)
    updated = await any_core.deals.update(
        world.alice, "D-1", DealChanges(stage="proposal", amount=Money(Decimal("150000"), "USD"))
    )
    assert (updated.stage, updated.amount.amount) == ("proposal", Decimal("150000.00"))
    with pytest.raises(NotFound):
        await any_core.deals.update(world.bob, "D-1", DealChanges(stage="commit"))
    history = (await any_core.deals.get(world.dana, "D-1", history=True)).history
    assert [h.field for h in history] == ["status", "status", "stage", "amount"]


async def test_domain_conflict(any_core: Core) -> None:
    world = await make_world(any_core)
    await any_core.deals.register(world.alice, _draft("Globex Corporation", domain="globex.com"))
    other = await any_core.deals.register(
        world.bob, _draft("GX Holdings", domain="https://www.globex.com/en")
    )
    assert (await any_core.deals.get(world.dana, other.ref)).in_conflict


async def test_notifications_are_written_with_the_change_or_not_at_all(
    any_core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await make_world(any_core)
    from bot.features.deals import service as deals_module

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(deals_module.outbox, "queue_for_person", broken)
    with pytest.raises(RuntimeError):
        await any_core.deals.register(world.alice, _draft("Globex"))
    monkeypatch.undo()
    async with any_core.db.transaction() as session:
        assert await deal_queries.deals_visible(session, partner_id=None) == []
        assert await queries.outbox_for(session) == []
    await any_core.deals.register(world.alice, _draft("Globex"))
    async with any_core.db.transaction() as session:
        assert (
            len(await queries.outbox_for(session)) == 1
        )  # Northwind's channel manager (Dana, also approver)
        assert (await deal_queries.deals_visible(session, partner_id=None))[0].number == 1, (
            "the failed try used no number"
        )


async def test_outbox_retries_then_delivers_once(any_core: Core, clock: FakeClock) -> None:
    world = await make_world(any_core)
    await reachable(any_core, world.dana)
    notifier = RecordingNotifier()
    notifier.fail_next = [DeliveryError("rate limited", retry_after=30), DeliveryError("server error")]
    dispatcher = any_core.dispatcher({"console": notifier})
    await any_core.deals.register(world.alice, _draft("Globex"))

    report = await dispatcher.deliver_due()
    assert (report.sent, report.retried) == (0, 1)
    async with any_core.db.transaction() as session:
        (row,) = await queries.outbox_for(session)
        assert row.status == "pending" and row.next_attempt_at == clock.now + timedelta(seconds=30)
    assert (await dispatcher.deliver_due()).sent == 0, "not due before Retry-After"
    clock.advance(seconds=31)
    assert (await dispatcher.deliver_due()).retried == 1
    clock.advance(minutes=2)
    assert (await dispatcher.deliver_due()).sent == 1
    assert (await dispatcher.deliver_due()).sent == 0
    assert len(notifier.sent) == 1


async def test_outbox_gives_up_visibly_on_permanent_errors(any_core: Core) -> None:
    world = await make_world(any_core)
    await reachable(any_core, world.dana)
    notifier = RecordingNotifier()
    notifier.fail_next = [DeliveryError("user_not_found", permanent=True)]
    await any_core.deals.register(world.alice, _draft("Globex"))
    await any_core.dispatcher({"console": notifier}).deliver_due()
    async with any_core.db.transaction() as session:
        failed = await queries.outbox_for(session, status="failed")
        assert len(failed) == 1 and failed[0].last_error == "user_not_found"


async def test_two_dispatchers_deliver_each_message_once(any_core: Core) -> None:
    world = await make_world(any_core)
    await reachable(any_core, world.dana)
    for i in range(12):
        await any_core.deals.register(world.alice, _draft(f"Customer {i} Ltd"))
    other = await build_core(any_core.settings.database_url, FakeClock(any_core.clock()))
    notifier = RecordingNotifier()
    try:
        await asyncio.gather(
            any_core.dispatcher({"console": notifier}).deliver_due(limit=3),
            other.dispatcher({"console": notifier}).deliver_due(limit=3),
        )
    finally:
        await other.db.dispose()
    refs = sorted(r.ref or "" for _, r in notifier.sent)
    assert len(refs) == 12 and len(set(refs)) == 12


async def test_reference_numbers_are_unique_under_concurrency(any_core: Core) -> None:
    world = await make_world(any_core)
    views = await asyncio.gather(
        *(any_core.deals.register(world.alice, _draft(f"Parallel {i} GmbH")) for i in range(8))
    )
    assert sorted(int(v.ref[2:]) for v in views) == list(range(1, 9))


async def test_request_keys_are_claimed_once(any_core: Core) -> None:
    async with any_core.db.transaction() as session:
        assert await queries.claim_request(session, "slack:event:Ev1", any_core.clock())
    async with any_core.db.transaction() as session:
        assert not await queries.claim_request(session, "slack:event:Ev1", any_core.clock())


async def test_overlapping_dialog_writes_of_one_person_never_fail(any_core: Core) -> None:
    world = await make_world(any_core)
    dialogs = any_core.conversation.dialogs

    async def save(i: int) -> None:
        await dialogs.save(world.alice, "register", {"slots": {"n": i}})

    async def clear() -> None:
        await dialogs.clear(world.alice)

    await asyncio.gather(*(save(i) if i % 3 else clear() for i in range(12)))
    await save(99)
    loaded = await dialogs.load(world.alice)
    assert loaded is not None and loaded.state == {"slots": {"n": 99}}
