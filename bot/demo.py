"""Demo data for ``partnerbot demo``: idempotent, so running it twice changes nothing the second time."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from bot.bootstrap import Core
from bot.features.content.model import ContentDraft
from bot.features.deals.model import DealDraft
from bot.features.leads.service import seed_demo_leads
from bot.features.mdf.model import MdfDraft
from bot.features.questions.service import seed_demo_kb
from bot.kernel.amounts import Money
from bot.kernel.dates import quarter_bounds, quarter_of
from store import content_queries, mdf_queries, queries
from store.models import Product

PRODUCTS = ("Cloud Suite", "Edge Gateway", "Security Pack")
STAFF = (
    ("dana@vendor.example", "Dana Reyes", ("approver", "channel_manager", "admin"), ("pricing",), "EMEA"),
    ("sam@vendor.example", "Sam Okafor", ("expert", "approver"), ("mdf", "technical"), "NA"),
)
PARTNERS = (
    ("Northwind Partners", "Gold", "EMEA", ("DE", "FR", "GB")),
    ("Contoso Integrators", "Silver", "NA", ("US", "CA")),
)
USERS = (
    ("alice@northwind.example", "Alice Novak", "Northwind Partners", "Europe/Berlin"),
    ("bob@contoso.example", "Bob Chen", "Contoso Integrators", "America/New_York"),
)


async def seed(core: Core) -> list[str]:
    """Create what is missing; returns a line per thing created."""
    created: list[str] = []
    async with core.db.transaction() as session:
        existing = set(await queries.product_names(session))
        for name in PRODUCTS:
            if name not in existing:
                session.add(Product(name=name, active=True))
                created.append(f"product {name}")
    for email, name, roles, topics, region in STAFF:
        _, new = await core.people.add_user(
            email=email, name=name, staff=True, roles=roles, topics=topics, region=region
        )
        if new:
            created.append(f"staff {email}")
    for name, tier, region, countries in PARTNERS:
        _, new = await core.people.add_partner(
            name=name, tier=tier, region=region, countries=countries, channel_manager_email=STAFF[0][0]
        )
        if new:
            created.append(f"partner {name}")
    for email, name, partner, tz in USERS:
        _, new = await core.people.add_user(email=email, name=name, partner=partner, tz=tz)
        if new:
            created.append(f"user {email}")
    created += await seed_demo_kb(core.questions)
    alice = await core.people.actor_by_email(USERS[0][0], channel="cli")
    bob = await core.people.actor_by_email(USERS[1][0], channel="cli")
    assert alice and bob
    today = core.deals.today_for(alice)
    if not await core.deals.list_deals(alice, scope="all"):
        for customer, domain, product, amount, days in (
            ("Initech GmbH", "initech.example", "Cloud Suite", "85000", 75),
            ("Umbrella Retail Ltd", "umbrella.example", "Security Pack", "42000", 40),
        ):
            view = await core.deals.register(
                alice,
                DealDraft(
                    customer=customer,
                    domain=domain,
                    product=product,
                    amount=Money(Decimal(amount), "EUR"),
                    close_date=today + timedelta(days=days),
                ),
            )
            created.append(f"deal {view.ref}")
    if not await core.deals.list_deals(bob, scope="all"):
        view = await core.deals.register(
            bob,
            DealDraft(
                customer="Stark Logistics Inc",
                domain="stark.example",
                product="Edge Gateway",
                amount=Money(Decimal("120000"), "USD"),
                close_date=today + timedelta(days=60),
            ),
        )
        created.append(f"deal {view.ref}")
    created += await seed_demo_leads(core.leads)
    created += await seed_demo_content_and_mdf(core)
    return created


CONTENT_ITEMS = (
    (
        "Partner price list 2027",
        "https://partners.example.com/price-list-2027",
        "New list prices and Gold discounts from 1 January.",
        ("Gold",),
    ),
    (
        "Security Pack launch kit",
        "https://partners.example.com/security-pack-kit",
        "Slides, a demo script and an e-mail template for the Security Pack launch.",
        ("Gold", "Silver"),
    ),
)
MDF_BUDGETS = (("Northwind Partners", "50000", "EUR"), ("Contoso Integrators", "30000", "USD"))


async def seed_demo_content_and_mdf(core: Core) -> list[str]:
    """Demo data for content and MDF (idempotent): two published items, MDF budgets for this quarter and
    the next for the demo partners, and one pending MDF request from the Northwind demo user. Returns a
    line per thing created; partners or people that don't exist are skipped."""
    created: list[str] = []
    content, mdf = core.content, core.mdf
    async with core.db.transaction() as session:
        existing = {i.title for i in await content_queries.recent_items(session, limit=500)}
        tiers = {t.lower() for t in await content_queries.partner_tiers(session)}
    for title, url, summary, item_tiers in CONTENT_ITEMS:
        wanted = tuple(t for t in item_tiers if t.lower() in tiers)
        if title in existing or not wanted:
            continue
        result = await content.publish(
            None, ContentDraft(title=title, url=url, summary=summary, tiers=wanted)
        )
        created.append(f"content {result.ref} {title}")
    today = mdf.today_for(None)
    this_quarter = quarter_of(today)
    next_quarter = quarter_of(quarter_bounds(this_quarter)[1] + timedelta(days=1))
    for partner, amount, currency in MDF_BUDGETS:
        async with core.db.transaction() as session:
            org = await queries.partner_by_name(session, partner)
            if org is None:
                continue
            missing = [
                q
                for q in (this_quarter, next_quarter)
                if await mdf_queries.budget_for(session, partner_id=org.id, quarter=q) is None
            ]
        for quarter in missing:
            await mdf.set_budget(
                None, partner=partner, quarter=quarter, amount=Money(Decimal(amount), currency)
            )
            created.append(f"MDF budget {partner} {quarter}")
    alice = await core.people.actor_by_email("alice@northwind.example", channel="cli")
    if alice is not None and alice.partner_id is not None and not await mdf.list_requests(alice, scope="all"):
        start = quarter_bounds(next_quarter)[0] + timedelta(days=9)
        if await mdf.balance_for(alice, quarter=next_quarter) is not None:
            view = await mdf.request(
                alice,
                MdfDraft(
                    activity="Webinar: Security Pack for retailers",
                    amount=Money(Decimal("5000"), "EUR"),
                    start_date=start,
                    end_date=start,
                    expected_results="40 leads, 5 opportunities",
                ),
            )
            created.append(f"MDF request {view.ref}")
    return created
