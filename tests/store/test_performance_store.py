"""Scorecards on SQLite and PostgreSQL: every figure computed from known fixture data (deals, lead offers
and MDF payments made at explicit times by moving the clock), the tier medians, and red flags for a
planted laggard - with their reasons and the thresholds that move them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import pytest

from bot.bootstrap import Core, leads_for
from bot.features.deals.model import DealChanges, DealDraft
from bot.features.leads.model import LeadInput
from bot.features.leads.service import Leads
from bot.features.performance.service import FlagThresholds, Performance
from bot.kernel.amounts import Money
from bot.kernel.errors import NotAllowed, NotFound
from bot.kernel.messages import Actor
from store import performance_queries as pq
from store.mdf_models import MdfBudget, MdfRequest
from tests.conftest import FakeClock, World, make_world

DEC_1 = datetime(2026, 12, 1, 10, 0)
NOW = datetime(2026, 12, 21, 10, 0)  # a Monday: the trend's last week starts now


@dataclass
class Gold:
    world: World
    fiona: Actor  # Fabrikam (Gold)
    larry: Actor  # Litware (Gold) - the planted laggard


async def _partner(core: Core, name: str, tier: str, email: str, person: str) -> Actor:
    await core.people.add_partner(
        name=name, tier=tier, region="EMEA", countries=["DE"], channel_manager_email="dana@vendor.example"
    )
    await core.people.add_user(email=email, name=person, partner=name)
    actor = await core.people.actor_by_email(email, channel="console")
    assert actor is not None
    return actor


async def _deal(core: Core, actor: Actor, customer: str, amount: int, currency: str = "USD") -> str:
    view = await core.deals.register(
        actor,
        DealDraft(
            customer=customer,
            product="Cloud Suite",
            amount=Money(Decimal(amount) * 1000, currency),
            close_date=date(2027, 3, 31),
        ),
    )
    return view.ref


async def _offer(leads: Leads, dana: Actor, company: str, partner: str) -> str:
    created = await leads.create(dana, LeadInput(company=company, country="DE", product="Cloud Suite"))
    if created.partner != partner:
        await leads.assign(dana, created.ref, partner=partner)
    return created.ref


async def _mdf_paid(core: Core, partner: str, amount: int, currency: str, paid_at: datetime, n: int) -> None:
    async with core.db.transaction() as session:
        found = [p for p in await pq.partners(session) if p.name == partner][0]
        budget = MdfBudget(
            partner_id=found.id,
            quarter=f"q{n}",
            amount=Decimal(amount),
            currency=currency,
            created_at=paid_at,
            updated_at=paid_at,
        )
        session.add(budget)
        await session.flush()
        session.add(
            MdfRequest(
                number=900 + n,
                partner_id=found.id,
                budget_id=budget.id,
                requested_by_id=1,
                activity="Webinar",
                expected_results="20 leads",
                amount=Decimal(amount),
                currency=currency,
                start_date=paid_at.date(),
                end_date=paid_at.date(),
                quarter=f"q{n}",
                status="paid",
                approved_amount=Decimal(amount),
                paid_amount=Decimal(amount),
                paid_at=paid_at,
                channel="cli",
                created_at=paid_at,
                updated_at=paid_at,
            )
        )


async def plant(core: Core, clock: FakeClock) -> Gold:
    """Three Gold partners and one Silver one, with activity between 1 and 20 December 2026.

    Northwind: 5 registered, 4 decided (3 approved), 2 won (150k USD) and 1 lost, 1 open (40k USD);
    2 offers accepted after 2 h and 6 h, one lead contacted since; 10,000 USD MDF paid.
    Fabrikam: 3 registered and approved, 1 won (80k USD), 1 lost, 1 open (60k USD); 1 offer accepted
    after 10 h, 1 declined; 5,000 EUR MDF paid.
    Litware (the laggard): 7 registered and approved, 1 won (10k USD), 4 lost, 2 open deals left in
    negotiation since 1 December; 3 offers expired unaccepted on 3 December.
    """
    world = await make_world(core)
    fiona = await _partner(core, "Fabrikam Resellers", "Gold", "fiona@fabrikam.example", "Fiona Park")
    larry = await _partner(core, "Litware Systems", "Gold", "larry@litware.example", "Larry Lo")
    clock.now = DEC_1
    dana, alice, bob = world.dana, world.alice, world.bob
    leads = leads_for(core)

    north = [await _deal(core, alice, f"North {i}", amount) for i, amount in enumerate((100, 50, 30, 20, 40))]
    for ref in north[:3]:
        await core.deals.approve(dana, ref)
    await core.deals.reject(dana, north[3], reason="duplicate")
    fab = [await _deal(core, fiona, f"Fab {i}", amount) for i, amount in enumerate((80, 70, 60))]
    lit = [
        await _deal(core, larry, f"Lit {i}", amount) for i, amount in enumerate((10, 11, 12, 13, 14, 15, 16))
    ]
    for ref in fab + lit:
        await core.deals.approve(dana, ref)
    for ref in lit[5:]:
        await core.deals.update(larry, ref, DealChanges(stage="negotiation"))
    await _deal(core, bob, "Hooli", 5)

    offers = {
        "north": [await _offer(leads, dana, f"Lead N{i}", "Northwind Partners") for i in range(2)],
        "fab": [await _offer(leads, dana, f"Lead F{i}", "Fabrikam Resellers") for i in range(2)],
        "lit": [await _offer(leads, dana, f"Lead L{i}", "Litware Systems") for i in range(3)],
    }
    clock.advance(hours=2)
    await leads.accept(alice, offers["north"][0])
    clock.advance(hours=4)
    await leads.accept(alice, offers["north"][1])
    clock.advance(hours=4)
    await leads.accept(fiona, offers["fab"][0])
    await leads.decline(fiona, offers["fab"][1], reason="out of territory")

    clock.now = datetime(2026, 12, 3, 11, 0)
    for ref in north[:2] + fab[:1] + lit[:1]:
        await core.deals.close(dana, ref, won=True)
    for ref in north[2:3] + fab[1:2] + lit[1:5]:
        await core.deals.close(dana, ref, won=False, reason="price")
    expired = await leads.expire_due(now=clock.now)
    assert len(expired) == 3, expired

    await _mdf_paid(core, "Northwind Partners", 10_000, "USD", datetime(2026, 12, 5, 9, 0), 1)
    await _mdf_paid(core, "Northwind Partners", 99_999, "USD", datetime(2026, 8, 1, 9, 0), 2)  # before
    await _mdf_paid(core, "Fabrikam Resellers", 5_000, "EUR", datetime(2026, 12, 6, 9, 0), 3)

    clock.now = datetime(2026, 12, 20, 10, 0)
    await leads.set_status(alice, offers["north"][0], "contacted")
    await leads.set_status(fiona, offers["fab"][0], "contacted")
    clock.now = NOW
    return Gold(world=world, fiona=fiona, larry=larry)


@pytest.mark.postgres
async def test_scorecard_numbers_from_known_data(any_core: Core, clock: FakeClock) -> None:
    gold = await plant(any_core, clock)
    performance = Performance(db=any_core.db, clock=clock, policy=any_core.nudges.policy)

    north = await performance.scorecard(gold.world.dana, "Northwind", days=90)
    m = north.metrics
    assert (north.partner, north.tier, north.days) == ("Northwind Partners", "Gold", 90)
    assert (m.registered, m.decided, m.approved, m.approval_rate) == (5, 4, 3, 0.75)
    assert (m.won, m.lost) == (2, 1) and m.win_rate == pytest.approx(2 / 3)
    assert m.won_value == {"USD": Decimal("150000.00")}
    assert (m.open_deals, m.pipeline, m.stale_deals) == (1, {"USD": Decimal("40000.00")}, 0)
    assert (m.offers_decided, m.offers_accepted, m.acceptance_rate) == (2, 2, 1.0)
    assert m.hours_to_accept == pytest.approx(4.0)
    assert (m.working_leads, m.stale_leads, m.expired_leads) == (2, 1, 0)
    assert m.mdf_paid == {"USD": Decimal("10000.00")}, "only MDF paid inside the period counts"
    assert (m.mdf_return.ratio, m.mdf_return.currency) == (Decimal("15.0"), "USD")
    assert north.flags == ()

    fab = (await performance.scorecard(gold.world.dana, "Fabrikam Resellers")).metrics
    assert (fab.registered, fab.approval_rate, fab.win_rate, fab.acceptance_rate) == (3, 1.0, 0.5, 0.5)
    assert fab.hours_to_accept == pytest.approx(10.0)
    assert fab.mdf_return.ratio is None and fab.mdf_return.note == "n/a (currencies differ)"

    lit = await performance.scorecard(gold.world.dana, "litware")
    m = lit.metrics
    assert (m.registered, m.decided, m.approved, m.won, m.lost) == (7, 7, 7, 1, 4)
    assert (m.offers_decided, m.offers_accepted, m.expired_leads, m.expired_this_month) == (3, 0, 3, 3)
    assert (m.open_deals, m.stale_deals) == (2, 2)
    assert m.mdf_return.note == "no MDF paid"

    med = lit.medians
    assert med.tier == "Gold"
    assert med.number("win_rate") == pytest.approx(0.5)  # 67%, 50%, 20%
    assert med.number("acceptance_rate") == pytest.approx(0.5)  # 100%, 50%, 0%
    assert med.number("registered") == 5
    assert med.number("hours_to_accept") == pytest.approx(7.0)  # Northwind 4 h, Fabrikam 10 h
    assert med.amounts["won_value"] == {"USD": Decimal("80000.00")}
    assert [f.reason for f in lit.flags] == [
        "win rate 20% vs Gold median 50% over 90 days",
        "lead acceptance 0% vs Gold median 50% over 90 days",
        "3 leads expired unaccepted this month",
        "2 of 2 open deals stale (100%)",
    ]

    # The chart's numbers: Litware's open deals by stage and its 12 ISO weeks.
    assert lit.chart is not None
    assert {s.stage: s.deals for s in lit.chart.stages} == {
        "prospecting": 0,
        "qualification": 0,
        "discovery": 0,  # the stages partners name (see bot/features/deals/intents.py)
        "demo": 0,
        "evaluation": 0,
        "proposal": 0,
        "negotiation": 2,
        "commit": 0,
    }
    weeks = lit.chart.weeks
    assert len(weeks) == 12 and weeks[-1].start == NOW.date() and weeks[0].start == date(2026, 10, 5)
    assert [w.registered for w in weeks] == [0] * 8 + [7, 0, 0, 0]  # week of 30 November
    assert weeks[8].won_value == {"USD": Decimal("10000.00")}

    laggards = await performance.laggards(gold.world.dana, days=90)
    assert [c.partner for c in laggards] == ["Litware Systems"]

    # A shorter period leaves the early-December activity out; the expiry flag counts the month.
    short = await performance.scorecard(gold.world.dana, "Litware Systems", days=14)
    assert (short.metrics.registered, short.metrics.won, short.metrics.expired_this_month) == (0, 0, 3)


@pytest.mark.postgres
async def test_thresholds_come_from_settings(any_core: Core, clock: FakeClock) -> None:
    gold = await plant(any_core, clock)
    lenient = FlagThresholds.from_settings(
        {
            "PARTNERBOT_FLAG_WIN_RATE_RATIO": "0.3",  # 20% is not under 30% of 50%
            "PARTNERBOT_FLAG_EXPIRED_LEADS": "4",
            "PARTNERBOT_FLAG_STALE_SHARE": "1",
            "PARTNERBOT_FLAG_ACCEPTANCE_RATIO": "0.5",
        }
    )
    performance = Performance(db=any_core.db, clock=clock, policy=any_core.nudges.policy, thresholds=lenient)
    card = await performance.scorecard(gold.world.dana, "Litware Systems")
    assert [f.reason for f in card.flags] == ["lead acceptance 0% vs Gold median 50% over 90 days"]

    strict = FlagThresholds.from_settings({"PARTNERBOT_FLAG_MIN_PEERS": "4"})
    performance = Performance(db=any_core.db, clock=clock, policy=any_core.nudges.policy, thresholds=strict)
    card = await performance.scorecard(gold.world.dana, "Litware Systems")
    assert "win rate" not in " ".join(f.reason for f in card.flags), "only 3 Gold partners to compare with"

    with pytest.raises(ValueError, match="PARTNERBOT_FLAG_STALE_SHARE"):
        FlagThresholds.from_settings({"PARTNERBOT_FLAG_STALE_SHARE": "lots"})
    with pytest.raises(ValueError, match="PARTNERBOT_FLAG_EXPIRED_LEADS"):
        FlagThresholds.from_settings({"PARTNERBOT_FLAG_EXPIRED_LEADS": "0"})


async def test_partners_see_only_their_own(core: Core, clock: FakeClock) -> None:
    gold = await plant(core, clock)
    performance = Performance(db=core.db, clock=clock, policy=core.nudges.policy)
    own = await performance.scorecard(gold.larry, None)
    assert own.partner == "Litware Systems" and own.chart is None, "charts are for staff scorecards"
    assert own.flags, "a partner sees their own red flags"
    with pytest.raises(NotFound) as other:
        await performance.scorecard(gold.larry, "Northwind Partners")
    with pytest.raises(NotFound) as nobody:
        await performance.scorecard(gold.larry, "Northwind Partnerz")
    yours = " You can see your own: say 'my scorecard'."  # the same for one that isn't theirs and none
    assert str(other.value) == "I don't know a partner called 'Northwind Partners'." + yours
    assert str(nobody.value) == "I don't know a partner called 'Northwind Partnerz'." + yours
    with pytest.raises(NotAllowed):
        await performance.laggards(gold.larry)

    # Bob's tier (Silver) has one partner: its medians are withheld from him, not shown as his own.
    bob = await performance.scorecard(gold.world.bob, "Contoso")
    assert bob.partner == "Contoso Integrators"
    assert all(m.value is None for m in bob.medians.numbers.values())
    assert not any(bob.medians.amounts.values())
