"""Demo data for ``partnerbot demo``: idempotent, so running it twice changes nothing the second time."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from bot.bootstrap import Core
from bot.features.deals.service import DealDraft
from bot.kernel.amounts import Money
from store import queries
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
    from bot.features.leads.service import seed_demo_leads
    from bot.features.questions.service import seed_demo_kb

    created += await seed_demo_kb(core)
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
    created += await seed_demo_leads(core)
    from bot.features.content.service import seed_demo_content_and_mdf

    created += await seed_demo_content_and_mdf(core)
    return created
