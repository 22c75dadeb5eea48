"""MDF on SQLite and PostgreSQL: the balance after each step, concurrent requests that cannot overspend,
one organisation's requests invisible to another, the audit trail, reminders once per threshold, and
the figures the performance scorecards read."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.bootstrap import Core, build_mdf
from bot.features.mdf.model import MdfDraft
from bot.features.mdf.service import Mdf, set_mdf_budget
from bot.kernel.amounts import Money
from bot.kernel.errors import Conflict, InputError, NotAllowed, NotFound
from scheduler.jobs import remind_mdf
from store import mdf_queries, queries
from store.mdf_models import MdfReminder, MdfRequest
from store.models import AuditEntry
from tests.conftest import FakeClock, RecordingNotifier, World, make_world, reachable

EUR = "EUR"


def eur(amount: str) -> Money:
    return Money(Decimal(amount), EUR)


def draft(amount: str = "5000", *, start: date = date(2027, 3, 10), days: int = 10) -> MdfDraft:
    return MdfDraft(
        activity="webinar for retailers",
        amount=eur(amount),
        start_date=start,
        end_date=start + timedelta(days=days),
        expected_results="40 leads",
    )


async def setup(core: Core) -> tuple[World, Mdf]:
    world = await make_world(core)
    mdf = build_mdf(core)
    await mdf.set_budget(world.dana, partner="Northwind Partners", quarter="2027-Q1", amount=eur("10000"))
    return world, mdf


async def remaining(mdf: Mdf, actor, quarter: str = "2027-Q1") -> Decimal:  # type: ignore[no-untyped-def]
    balance = await mdf.balance_for(actor, quarter=quarter)
    assert balance is not None
    return balance.remaining.amount


async def test_balance_after_request_partial_approval_claim_and_payment(any_core: Core) -> None:
    world, mdf = await setup(any_core)
    assert await remaining(mdf, world.alice) == Decimal("10000.00")

    with pytest.raises(InputError) as refused:
        await mdf.request(world.alice, draft("12000"))
    assert refused.value.field == "amount"
    assert "more than your remaining 2027-Q1 balance of 10,000 EUR" in refused.value.message
    async with any_core.db.transaction() as session:
        assert await mdf_queries.requests_visible(session, partner_id=None) == [], "nothing half-written"

    view = await mdf.request(world.alice, draft("5000"))
    assert (view.ref, view.status, view.quarter) == ("M-1", "pending", "2027-Q1")
    assert view.activity == "Webinar for retailers"
    assert await remaining(mdf, world.alice) == Decimal("5000.00"), "a pending request reserves its amount"

    approved = await mdf.approve(world.dana, "M-1", amount=eur("3000"))
    assert approved.status == "approved" and approved.is_partial
    assert approved.approved_amount == eur("3000.00")
    assert approved.claim_by == date(2027, 3, 20) + timedelta(days=30)
    assert await remaining(mdf, world.alice) == Decimal("7000.00"), "only the approved part stays reserved"

    claimed = await mdf.claim(
        world.alice, "M-1", proof="https://files.example/invoice-123.pdf", results="38 leads, 120 attendees"
    )
    assert claimed.status == "claimed" and claimed.actual_results == "38 leads, 120 attendees"
    assert await remaining(mdf, world.alice) == Decimal("7000.00")

    paid = await mdf.mark_paid(world.dana, "M-1")
    assert paid.status == "paid" and paid.paid_amount == eur("3000.00")
    balance = await mdf.balance_for(world.alice, quarter="2027-Q1")
    assert balance is not None
    assert (balance.remaining.amount, balance.paid.amount, balance.pending.amount) == (
        Decimal("7000.00"),
        Decimal("3000.00"),
        Decimal("0.00"),
    )

    second = await mdf.request(world.alice, draft("7000"))
    assert await remaining(mdf, world.alice) == Decimal("0.00")
    await mdf.reject(world.dana, second.ref, reason="no budget for a second webinar")
    assert await remaining(mdf, world.alice) == Decimal("7000.00"), "a rejected request holds nothing"


async def test_a_request_in_another_currency_or_quarter_without_budget_is_refused(any_core: Core) -> None:
    world, mdf = await setup(any_core)
    with pytest.raises(InputError) as wrong_currency:
        await mdf.request(
            world.alice,
            MdfDraft(
                "webinar", Money(Decimal("5000"), "USD"), date(2027, 3, 1), date(2027, 3, 2), "40 leads"
            ),
        )
    assert wrong_currency.value.field == "amount" and "in EUR" in wrong_currency.value.message
    with pytest.raises(InputError) as no_budget:
        await mdf.request(world.alice, draft(start=date(2027, 4, 10)))
    assert no_budget.value.field == "dates" and "no MDF budget for 2027-Q2" in no_budget.value.message
    with pytest.raises(InputError) as past:
        await mdf.request(world.alice, draft(start=date(2026, 11, 1)))
    assert "in the past" in past.value.message
    with pytest.raises(NotAllowed):
        await mdf.request(world.dana, draft())


async def test_concurrent_requests_cannot_overspend_the_budget(any_core: Core) -> None:
    world, mdf = await setup(any_core)
    results = await asyncio.gather(
        mdf.request(world.alice, draft("6000")),
        mdf.request(world.alex, draft("6000")),
        mdf.request(world.alice, draft("6000")),
        return_exceptions=True,
    )
    written = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(written) == 1, results
    assert all(isinstance(r, InputError) and r.field == "amount" for r in refused), refused
    assert await remaining(mdf, world.alice) == Decimal("4000.00")
    async with any_core.db.transaction() as session:
        rows = await mdf_queries.requests_visible(session, partner_id=None)
    assert sum(Decimal(r.amount) for r in rows) <= Decimal("10000")


async def test_two_decisions_at_once_only_one_wins(any_core: Core) -> None:
    world, mdf = await setup(any_core)
    await mdf.request(world.alice, draft("5000"))
    results = await asyncio.gather(
        mdf.approve(world.dana, "M-1", amount=eur("2000")),
        mdf.reject(world.carl, "M-1", reason="out of scope"),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Conflict) for r in results) == 1, results
    view = await mdf.get(world.dana, "M-1", history=True)
    assert [h.field for h in view.history].count("status") == 2, "pending, then exactly one decision"


async def test_another_partner_sees_no_request_and_no_balance(any_core: Core) -> None:
    world, mdf = await setup(any_core)
    await mdf.set_budget(world.dana, partner="Contoso Integrators", quarter="2027-Q1", amount=eur("8000"))
    await mdf.request(world.alice, draft("5000"))
    missing_text = None
    with pytest.raises(NotFound) as missing:
        await mdf.get(world.bob, "M-99")
    missing_text = str(missing.value).replace("M-99", "M-?")
    for attempt in (
        mdf.get(world.bob, "M-1"),
        mdf.claim(world.bob, "M-1", proof="https://x.example/p.pdf", results="1 lead"),
    ):
        with pytest.raises(NotFound) as foreign:
            await attempt
        assert str(foreign.value).replace("M-1", "M-?") == missing_text
    assert await mdf.list_requests(world.bob, scope="all") == []
    balances = await mdf.balances(world.bob, partner="Northwind Partners")
    assert [b.partner for b in balances] == ["Contoso Integrators"], "a partner only ever gets its own"
    assert balances[0].remaining.amount == Decimal("8000.00")


async def test_every_step_is_audited_with_history(any_core: Core) -> None:
    world, mdf = await setup(any_core)
    await mdf.request(world.alice, draft("5000"))
    await mdf.approve(world.dana, "M-1")
    await mdf.claim(world.alice, "M-1", proof="file:F0123 invoice.pdf", results="41 leads")
    await mdf.mark_paid(world.carl, "M-1", amount=eur("4500"))
    async with any_core.db.transaction() as session:
        audit = await queries.audit_of(session, "M-1")
        assert [a.action for a in audit] == ["mdf.request", "mdf.approve", "mdf.claim", "mdf.paid"]
        assert [a.actor_id for a in audit] == [
            world.alice.person_id,
            world.dana.person_id,
            world.alice.person_id,
            world.carl.person_id,
        ]
        assert audit[-1].before["status"] == "claimed" and audit[-1].after["paid_amount"] == "4500.00"
        budget_audit = [
            a
            for a in (await session.execute(AuditEntry.__table__.select())).all()
            if a.action == "mdf.budget"
        ]
        assert len(budget_audit) == 1
    view = await mdf.get(world.dana, "M-1", history=True)
    assert [(h.field, h.new) for h in view.history] == [
        ("status", "pending"),
        ("status", "approved"),
        ("approved_amount", "5,000 EUR"),
        ("status", "claimed"),
        ("claim_proof", "file:F0123 invoice.pdf"),
        ("actual_results", "41 leads"),
        ("status", "paid"),
        ("paid_amount", "4,500 EUR"),
    ]
    assert view.balance is not None and view.balance.remaining.amount == Decimal("5500.00")


async def test_notifications_reach_the_right_people_and_nothing_when_refused(any_core: Core) -> None:
    world, mdf = await setup(any_core)
    await reachable(any_core, world.alice, world.bob, world.dana, world.carl)
    with pytest.raises(InputError):
        await mdf.request(world.alice, draft("20000"))
    async with any_core.db.transaction() as session:
        assert await queries.outbox_for(session) == []
    await mdf.request(world.alice, draft("5000"))
    await mdf.approve(world.dana, "M-1", amount=eur("4000"))
    notifier = RecordingNotifier()
    await any_core.dispatcher({"console": notifier}).deliver_due()
    assert "New MDF request M-1 from Northwind Partners: 5,000 EUR" in notifier.texts_for(
        world.dana.person_id
    )
    assert "M-1 is approved in part: 4,000 EUR of 5,000 EUR" in notifier.texts_for(world.alice.person_id)
    assert "M-1" not in notifier.texts_for(world.bob.person_id) + notifier.texts_for(world.carl.person_id)
    replaced = [r for _, r in notifier.updated if r.ref == "M-1"]
    assert replaced and "Approved by Dana Reyes" in replaced[0].text and not replaced[0].buttons


async def test_budget_rules(any_core: Core) -> None:
    world, mdf = await setup(any_core)
    await mdf.request(world.alice, draft("6000"))
    with pytest.raises(InputError, match="can't be less than that"):
        await mdf.set_budget(world.dana, partner="Northwind Partners", quarter="2027-Q1", amount=eur("5000"))
    with pytest.raises(InputError, match="give the new amount in EUR"):
        await mdf.set_budget(
            world.dana, partner="Northwind Partners", quarter="Q1 2027", amount=Money(Decimal("9000"), "USD")
        )
    with pytest.raises(NotAllowed):
        await mdf.set_budget(world.ed, partner="Northwind Partners", quarter="2027-Q1", amount=eur("9000"))
    with pytest.raises(NotAllowed):
        await mdf.set_budget(world.alice, partner="Northwind Partners", quarter="2027-Q1", amount=eur("9000"))
    with pytest.raises(InputError, match="quarter"):
        await mdf.set_budget(world.dana, partner="Northwind Partners", quarter="spring", amount=eur("9000"))
    line = await set_mdf_budget(
        any_core.mdf, partner="Northwind Partners", quarter="2027-q1", amount="12k EUR"
    )
    assert line == "MDF budget of Northwind Partners for 2027-Q1: 12,000 EUR (6,000 EUR left)"
    with pytest.raises(InputError) as unknown:
        await set_mdf_budget(any_core.mdf, partner="Nobody Ltd", quarter="2027-Q1", amount="1k EUR")
    assert unknown.value.field == "partner"


async def test_reminders_go_out_once_per_request_and_threshold(any_core: Core, clock: FakeClock) -> None:
    world, mdf = await setup(any_core)
    await reachable(any_core, world.alice)
    await mdf.request(world.alice, draft("5000", start=date(2027, 3, 10), days=10))  # ends 20 Mar
    await mdf.approve(world.dana, "M-1")  # claim by 19 Apr

    async def run(at: datetime) -> str:
        clock.now = at
        return await remind_mdf(any_core, at)

    assert await run(datetime(2027, 3, 1, 8)) == "sent 0 MDF reminder(s)"
    assert await run(datetime(2027, 3, 6, 8)) == "sent 1 MDF reminder(s): M-1 (activity end, 14 days)"
    assert await run(datetime(2027, 3, 6, 9)) == "sent 0 MDF reminder(s)"
    both = await asyncio.gather(run(datetime(2027, 3, 17, 8)), run(datetime(2027, 3, 17, 8)))
    assert sorted(both) == ["sent 0 MDF reminder(s)", "sent 1 MDF reminder(s): M-1 (activity end, 3 days)"]
    # First seen two days before the claim window closes: only the nearest threshold is sent.
    assert await run(datetime(2027, 4, 17, 8)) == "sent 1 MDF reminder(s): M-1 (claim window, 2 days)"
    assert await run(datetime(2027, 4, 18, 8)) == "sent 0 MDF reminder(s)"
    async with any_core.db.transaction() as session:
        ledger = (await session.execute(MdfReminder.__table__.select())).all()
        assert sorted((r.kind, r.days) for r in ledger) == [
            ("activity_end", 3),
            ("activity_end", 14),
            ("claim_window", 3),
            ("claim_window", 14),
        ]
        reminders = [m for m in await queries.outbox_for(session) if ":remind:" in m.idempotency_key]
        assert len(reminders) == 3 and all(m.recipient_id == world.alice.person_id for m in reminders)
    notifier = RecordingNotifier()
    await any_core.dispatcher({"console": notifier}).deliver_due(now=datetime(2027, 4, 18, 9))
    told = notifier.texts_for(world.alice.person_id)
    assert "The activity of M-1 (Webinar for retailers) ends in 14 days, on 20 Mar 2027" in told
    assert "The claim window of M-1 (Webinar for retailers) closes in 2 days, on 19 Apr 2027" in told

    await mdf.claim(world.alice, "M-1", proof="https://x.example/i.pdf", results="40 leads")
    with pytest.raises(Conflict, match="claimed"):
        await mdf.claim(world.alice, "M-1", proof="https://x.example/i.pdf", results="40 leads")


async def test_a_claim_after_the_window_closed_is_refused(any_core: Core, clock: FakeClock) -> None:
    world, mdf = await setup(any_core)
    await mdf.request(world.alice, draft("5000"))
    await mdf.approve(world.dana, "M-1")
    clock.now = datetime(2027, 4, 21, 12)
    with pytest.raises(Conflict, match="claim window of M-1 closed on 19 Apr 2027"):
        await mdf.claim(world.alice, "M-1", proof="https://x.example/i.pdf", results="40 leads")
    with pytest.raises(InputError) as bad_proof:
        await mdf.claim(world.alice, "M-1", proof="the invoice is in the mail", results="40 leads")
    assert bad_proof.value.field == "proof"


async def test_figures_for_the_scorecards(any_core: Core, clock: FakeClock) -> None:
    world, mdf = await setup(any_core)
    await mdf.set_budget(world.dana, partner="Contoso Integrators", quarter="2027-Q1", amount=eur("8000"))
    await mdf.request(world.alice, draft("5000"))
    await mdf.request(world.bob, draft("2000"))
    await mdf.request(world.alice, draft("1000"))
    clock.now = datetime(2026, 12, 1, 9)
    await mdf.approve(world.dana, "M-1", amount=eur("4000"))
    await mdf.approve(world.dana, "M-2")
    await mdf.reject(world.dana, "M-3", reason="duplicate")
    await mdf.claim(world.alice, "M-1", proof="https://x.example/i.pdf", results="40 leads")
    clock.now = datetime(2027, 1, 5, 9)
    await mdf.mark_paid(world.dana, "M-1", amount=eur("3500.50"))
    northwind = world.alice.partner_id
    contoso = world.bob.partner_id
    async with any_core.db.transaction() as session:
        december = dict(since=datetime(2026, 12, 1), until=datetime(2027, 1, 1))
        assert await mdf_queries.mdf_approved_by_partner(session, **december) == {
            northwind: {"EUR": Decimal("4000.00")},
            contoso: {"EUR": Decimal("2000.00")},
        }
        assert await mdf_queries.mdf_paid_by_partner(session, **december) == {}
        january = dict(since=datetime(2027, 1, 1), until=datetime(2027, 2, 1))
        assert await mdf_queries.mdf_paid_by_partner(session, **january) == {
            northwind: {"EUR": Decimal("3500.50")}
        }
        assert await mdf_queries.mdf_approved_by_partner(session, **january) == {}
        row = (await session.execute(MdfRequest.__table__.select().where(MdfRequest.number == 1))).one()
        assert row.status == "paid"
        kinds = {m.recipient_kind for m in await queries.outbox_for(session)}
        assert kinds == {"person", "replace"}, "no vendor channel is configured, so nothing is queued for one"


async def test_the_audit_names_the_surface_a_reminder_is_a_job_and_a_budget_from_the_cli_is_cli(
    any_core: Core, clock: FakeClock
) -> None:
    world, mdf = await setup(any_core)
    await reachable(any_core, world.alice)
    await mdf.request(world.alice, draft("5000", start=date(2027, 3, 10), days=10))
    await mdf.approve(world.dana, "M-1")
    clock.now = datetime(2027, 3, 6, 8)
    await remind_mdf(any_core, clock.now)
    await set_mdf_budget(any_core.mdf, partner="Northwind Partners", quarter="2027-Q2", amount="1k EUR")
    async with any_core.db.transaction() as session:
        channels = {row.action: row.channel for row in await queries.audit_of(session, "M-1")}
        budget = (
            (await session.execute(select(AuditEntry).where(AuditEntry.action == "mdf.budget")))
            .scalars()
            .all()
        )
    assert channels["mdf.remind.activity_end"] == "job"
    assert channels["mdf.approve"] == world.dana.channel
    assert budget[-1].channel == "cli"
