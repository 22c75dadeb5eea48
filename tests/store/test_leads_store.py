"""Leads on SQLite and PostgreSQL: the migration from empty and back, the lifecycle, performance figures
in the assignment reason, atomic notifications, and sweeps/assignments racing each other."""

from __future__ import annotations

import asyncio
import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from bot.bootstrap import Core, leads_for
from bot.features.leads.assignment import AssignmentEngine
from bot.features.leads.model import LeadInput
from bot.features.leads.service import Leads
from bot.kernel import outbox
from bot.kernel.amounts import Money
from bot.kernel.errors import Conflict
from store import lead_queries, queries
from store.db import downgrade, sync_url, upgrade
from store.lead_models import Lead
from store.models import Base
from tests.conftest import FakeClock, make_world

LEAD_TABLES = {"leads", "lead_offers", "lead_history", "partner_lead_profiles"}


def _lead_tables_only(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table in LEAD_TABLES


def test_lead_migration_from_empty_to_head_and_back(empty_database_url: str) -> None:
    from alembic.autogenerate import compare_metadata

    upgrade(empty_database_url)
    engine = create_engine(sync_url(empty_database_url))
    with engine.connect() as conn:
        assert LEAD_TABLES <= set(inspect(conn).get_table_names())
        context = MigrationContext.configure(conn, opts={"include_object": _lead_tables_only})
        diff = compare_metadata(context, Base.metadata)
        assert diff == [], f"lead models and revision 0003 disagree: {diff}"
    downgrade(empty_database_url, "0002")
    with engine.connect() as conn:
        assert not LEAD_TABLES & set(inspect(conn).get_table_names())
    downgrade(empty_database_url, "base")
    upgrade(empty_database_url)
    with engine.connect() as conn:
        assert LEAD_TABLES <= set(inspect(conn).get_table_names())
    engine.dispose()


def service(core: Core, seed: int = 1) -> Leads:
    return leads_for(core, rng=random.Random(seed))


def lead(company: str = "Initech GmbH", country: str = "DE") -> LeadInput:
    return LeadInput(
        company=company, country=country, contact_email="jane@initech.example", product="Cloud Suite"
    )


async def test_lifecycle_and_performance_in_the_reason(any_core: Core, clock: FakeClock) -> None:
    world = await make_world(any_core)
    leads = service(any_core)
    result = await leads.add_leads([lead(), lead("Umbrella Corp")], channel="cli")
    assert [(r.ref, r.partner) for r in result.leads] == [
        ("L-1", "Northwind Partners"),
        ("L-2", "Northwind Partners"),
    ]
    assert result.leads[0].reason == "EMEA (DE), Gold, 0 of 10 open leads, no lead offers in the last 90 days"
    assert result.leads[1].reason == "EMEA (DE), Gold, 1 of 10 open leads, no lead offers in the last 90 days"

    clock.advance(hours=2)
    await leads.accept(world.alice, "L-1")
    await leads.decline(world.alex, "L-2", reason="not our segment")
    contacted = await leads.set_status(world.alice, "L-1", "contacted", note="intro call done")
    assert (contacted.status, contacted.status_note) == ("contacted", "intro call done")
    view, deal = await leads.convert(
        world.alice, "L-1", amount=Money(Decimal("85000"), "EUR"), close_date=date(2027, 3, 31)
    )
    assert (view.status, view.converted_deal, deal.ref, deal.customer) == (
        "converted",
        "D-1",
        "D-1",
        "Initech GmbH",
    )

    third = await leads.add_leads([lead("Hooli")], channel="api")
    assert third.leads[0].reason == (
        "EMEA (DE), Gold, 0 of 10 open leads, 50% acceptance, accepts in 2h (median), 100% converted"
    )
    declined = await leads.get(world.dana, "L-2")
    assert declined.status == "unassigned" and declined.review_reason == (
        "no eligible partner: Northwind Partners declined it or let it expire"
    )
    async with any_core.db.transaction() as session:
        assert [a.action for a in await queries.audit_of(session, "L-1")] == [
            "lead.create",
            "lead.offer",
            "lead.accept",
            "lead.status",
            "lead.convert",
        ]
        assert [a.channel for a in await queries.audit_of(session, "L-3")] == ["api", "api"]


async def test_capacity_and_product_specialisation(any_core: Core) -> None:
    world = await make_world(any_core)
    leads = service(any_core)
    await leads.set_profile(world.dana, "Northwind", capacity=1, products=["cloud suite"])
    result = await leads.add_leads(
        [
            lead(),
            lead("Umbrella Corp"),
            LeadInput(company="Hooli", country="DE", contact_phone="+49 30 123456", product="Edge Gateway"),
        ],
        channel="cli",
    )
    assert [(r.partner, r.status) for r in result.leads] == [
        ("Northwind Partners", "offered"),
        (None, "unassigned"),
        (None, "unassigned"),
    ]
    assert result.leads[0].reason.endswith("specialises in Cloud Suite")
    assert (
        result.leads[1].reason == "no eligible partner: Northwind Partners is at capacity (1 of 1 open leads)"
    )
    assert (
        result.leads[2].reason == "no eligible partner: Northwind Partners doesn't specialise in Edge Gateway"
    )
    with pytest.raises(Exception, match="Only channel managers and approvers"):
        await leads.set_profile(world.ed, "Northwind", capacity=5)


async def test_notifications_are_written_with_the_lead_or_not_at_all(
    any_core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_world(any_core)
    leads = service(any_core)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(outbox, "queue_for_person", broken)
    with pytest.raises(RuntimeError):
        await leads.add_leads([lead()], channel="cli")
    async with any_core.db.transaction() as session:
        assert await lead_queries.leads_visible(session, partner_id=None) == []
        assert await queries.audit_of(session, "L-1") == []
    monkeypatch.undo()
    result = await leads.add_leads([lead()], channel="cli")
    assert result.leads[0].ref == "L-1", "the failed attempt used no reference number"


async def test_two_sweeps_at_once_expire_an_offer_once(any_database_url: str, clock: FakeClock) -> None:
    from tests.conftest import build_core

    one = await build_core(any_database_url, clock)
    two = Core.build(one.settings, clock=clock)
    try:
        await make_world(one)
        await one.people.add_partner(
            name="Fabrikam Solutions", tier="Silver", region="EMEA", countries=["DE"]
        )
        await one.people.add_user(
            email="fiona@fabrikam.example", name="Fiona Weber", partner="Fabrikam Solutions"
        )
        first = leads_for(one, rng=random.Random(5))
        await first.add_leads([lead(f"Company {i}") for i in range(4)], channel="cli")
        clock.advance(hours=49)
        results = await asyncio.gather(
            leads_for(one, rng=random.Random(1)).expire_due(now=clock.now),
            leads_for(two, rng=random.Random(2)).expire_due(now=clock.now),
        )
        moved = sorted(results[0] + results[1])
        assert [m.split(" ")[0] for m in moved] == ["L-1", "L-2", "L-3", "L-4"], moved
        async with one.db.transaction() as session:
            for number in range(1, 5):
                row = await lead_queries.lead_by_number(session, number)
                assert row is not None
                outcomes = [o.outcome for o in await lead_queries.offers_of(session, row.id)]
                assert outcomes == ["expired", "offered"], (number, outcomes)
        assert await leads_for(two).expire_due(now=clock.now) == []
    finally:
        await one.db.dispose()
        await two.db.dispose()


async def test_accept_racing_the_expiry_has_one_winner(any_database_url: str, clock: FakeClock) -> None:
    from tests.conftest import build_core

    one = await build_core(any_database_url, clock)
    two = Core.build(one.settings, clock=clock)
    try:
        world = await make_world(one)
        await leads_for(one).add_leads([lead()], channel="cli")
        clock.advance(hours=48)
        sweep_at = clock.now + timedelta(seconds=1)  # the sweep sees the offer as due; the accept does not

        async def accept() -> str:
            try:
                await leads_for(one).accept(world.alice, "L-1")
                return "accepted"
            except Conflict as exc:
                return str(exc)

        accepted, moved = await asyncio.gather(accept(), leads_for(two).expire_due(now=sweep_at))
        async with one.db.transaction() as session:
            row = await lead_queries.lead_by_number(session, 1)
            assert row is not None
            outcomes = [o.outcome for o in await lead_queries.offers_of(session, row.id)]
        if accepted == "accepted":
            assert moved == [] and row.status == "accepted" and outcomes == ["accepted"]
        else:
            assert "changed while I was saving" in accepted
            assert moved == ["L-1 → staff review"] and row.status == "unassigned" and outcomes == ["expired"]
    finally:
        await one.db.dispose()
        await two.db.dispose()


async def test_two_assignments_at_once_respect_the_last_free_slot(
    any_database_url: str, clock: FakeClock
) -> None:
    from tests.conftest import build_core

    one = await build_core(any_database_url, clock)
    two = Core.build(one.settings, clock=clock)
    try:
        world = await make_world(one)
        await leads_for(one).set_profile(world.dana, "Northwind Partners", capacity=1)
        results = await asyncio.gather(
            leads_for(one).add_leads([lead("Alpha")], channel="cli"),
            leads_for(two).add_leads([lead("Beta")], channel="api"),
        )
        partners = sorted(str(r.leads[0].partner) for r in results)
        assert partners == ["None", "Northwind Partners"]
        async with one.db.transaction() as session:
            assert await lead_queries.open_lead_count(session, world.alice.partner_id or 0) == 1
    finally:
        await one.db.dispose()
        await two.db.dispose()


async def test_lead_version_guards_a_stale_write(any_core: Core) -> None:
    world = await make_world(any_core)
    leads = service(any_core)
    await leads.add_leads([lead()], channel="cli")
    async with any_core.db.transaction() as session:
        row = await lead_queries.lead_by_number(session, 1)
        assert row is not None and row.version == 2, "created, then offered"
    await leads.accept(world.alice, "L-1")
    async with any_core.db.transaction() as session:
        row = await lead_queries.lead_by_number(session, 1)
        assert row is not None and row.version == 3 and isinstance(row, Lead)
    assert isinstance(leads.engine, AssignmentEngine)
