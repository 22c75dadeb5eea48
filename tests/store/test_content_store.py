"""Content on SQLite and PostgreSQL: targeted delivery (each person once, a Silver partner never gets a
Gold-only item), "what's new?" computed from the audience, one open per person and the open rate,
one organisation's content invisible to another, and validation that writes nothing."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from bot.bootstrap import Core, build_content
from bot.demo import seed_demo_content_and_mdf
from bot.features.content.model import ContentDraft
from bot.features.content.service import Content, publish_content
from bot.kernel.errors import InputError, NotAllowed, NotFound
from store import content_queries, queries
from store.content_models import ContentDelivery, ContentItem
from tests.conftest import FakeClock, RecordingNotifier, World, make_world, reachable


async def setup(core: Core) -> tuple[World, Content]:
    world = await make_world(core)
    await core.people.add_partner(name="Fabrikam Solutions", tier="Silver", region="EMEA", countries=["AT"])
    await core.people.add_user(
        email="fiona@fabrikam.example", name="Fiona Weber", partner="Fabrikam Solutions"
    )
    return world, build_content(core)


async def deliveries(core: Core, ref_number: int) -> dict[int, ContentDelivery]:
    async with core.db.transaction() as session:
        item = await content_queries.item_by_number(session, ref_number)
        assert item is not None
        rows = (
            await session.execute(select(ContentDelivery).where(ContentDelivery.item_id == item.id))
        ).scalars()
        return {d.person_id: d for d in rows}


async def person_id(core: Core, email: str) -> int:
    actor = await core.people.actor_by_email(email, channel="console")
    assert actor is not None
    return actor.person_id


async def test_targeted_delivery_reaches_each_person_once_and_never_a_silver_partner_with_a_gold_item(
    any_core: Core,
) -> None:
    world, content = await setup(any_core)
    fiona = await person_id(any_core, "fiona@fabrikam.example")
    gold = await content.publish(
        world.dana,
        ContentDraft(title="Gold price list", url="https://partners.example.com/gold", tiers=("gold",)),
    )
    assert gold.ref == "C-1" and gold.recipients == 2 and gold.audience == "tier Gold"
    assert set(await deliveries(any_core, 1)) == {world.alice.person_id, world.alex.person_id}

    emea = await content.publish(
        world.carl,
        ContentDraft(
            title="EMEA roadshow",
            url="https://partners.example.com/roadshow",
            regions=("emea",),
            tiers=("Gold",),
            partners=("Northwind Partners",),
            people=("alice@northwind.example", "ed@vendor.example"),
        ),
    )
    got = await deliveries(any_core, 2)
    assert set(got) == {world.alice.person_id, world.alex.person_id, fiona, world.ed.person_id}
    assert emea.recipients == 4, "the union of tiers, regions, partners and people, each person once"
    assert got[fiona].tier == "Silver" and got[world.ed.person_id].partner_id is None
    assert len({d.token for d in got.values()}) == 4 and all(len(d.token) >= 20 for d in got.values())

    async with any_core.db.transaction() as session:
        keys = sorted(m.idempotency_key for m in await queries.outbox_for(session))
        item = await content_queries.item_by_number(session, 2)
        assert item is not None
    assert len(keys) == 6 and len(set(keys)) == 6
    assert f"content:{item.id}:{fiona}" in keys

    await reachable(any_core, world.alice, world.alex, world.bob, world.ed)
    await any_core.people.console_actor("fiona@fabrikam.example")
    notifier = RecordingNotifier()
    await any_core.dispatcher({"console": notifier}).deliver_due()
    await any_core.dispatcher({"console": notifier}).deliver_due()
    assert notifier.texts_for(world.alice.person_id).count("New: Gold price list") == 1
    assert notifier.texts_for(world.alice.person_id).count("New: EMEA roadshow") == 1
    assert "Gold price list" not in notifier.texts_for(fiona), "Silver never gets a Gold-only item"
    assert notifier.texts_for(world.bob.person_id) == "", "Contoso (Silver, NA) is in neither audience"
    opens = [
        b for w, r in notifier.sent if w == world.alice.person_id for b in r.buttons if b.label == "Open"
    ]
    assert opens and all(b.url and b.url.startswith("http://localhost:3978/c/") for b in opens)


async def test_whats_new_is_computed_from_the_audience_newest_first_without_expired_items(
    any_core: Core, clock: FakeClock
) -> None:
    world, content = await setup(any_core)
    await content.publish(
        world.dana, ContentDraft(title="For Gold", url="https://x.example/1", tiers=("Gold",))
    )
    clock.advance(hours=1)
    await content.publish(
        world.dana,
        ContentDraft(
            title="Short-lived", url="https://x.example/2", regions=("EMEA",), expires=date(2026, 11, 30)
        ),
    )
    clock.advance(hours=1)
    await content.publish(
        world.dana, ContentDraft(title="For Bob", url="https://x.example/3", people=("bob@contoso.example",))
    )
    await any_core.people.add_user(
        email="nina@northwind.example", name="Nina New", partner="Northwind Partners"
    )
    nina = await any_core.people.actor_by_email("nina@northwind.example", channel="console")
    assert nina is not None

    assert [v.title for v in await content.whats_new(world.alice)] == ["Short-lived", "For Gold"]
    late = await content.whats_new(nina)
    assert [v.title for v in late] == ["Short-lived", "For Gold"], "people who join later find targeted items"
    assert not late[0].delivered and late[0].open_url == "https://x.example/2", "no token: the plain link"
    assert [v.title for v in await content.whats_new(world.bob)] == ["For Bob"]
    clock.now = datetime(2026, 12, 1, 0, 0)
    assert [v.title for v in await content.whats_new(world.alice)] == ["For Gold"], "expired items drop out"
    staff = await content.whats_new(world.dana)
    assert [v.title for v in staff] == ["For Bob", "For Gold"] and staff[0].audience == "bob@contoso.example"


async def test_one_open_per_person_keeps_the_first_time_and_feeds_the_open_rate(
    any_core: Core, clock: FakeClock
) -> None:
    world, content = await setup(any_core)
    fiona = await person_id(any_core, "fiona@fabrikam.example")
    await content.publish(
        world.dana, ContentDraft(title="Launch kit", url="https://x.example/kit", regions=("EMEA",))
    )
    await reachable(any_core, world.alice, world.alex)
    await any_core.people.console_actor("fiona@fabrikam.example")
    await any_core.dispatcher({"console": RecordingNotifier()}).deliver_due()
    got = await deliveries(any_core, 1)

    first_open = clock.now
    assert await content.open_link(got[world.alice.person_id].token) == "https://x.example/kit"
    clock.advance(hours=3)
    assert await content.open_link(got[world.alice.person_id].token) == "https://x.example/kit"
    assert await content.open_link(got[fiona].token) == "https://x.example/kit"
    assert await content.open_link("not-a-real-token-at-all") is None
    assert await content.open_link("../../etc/passwd") is None
    after = await deliveries(any_core, 1)
    assert after[world.alice.person_id].opened_at == first_open and after[world.alice.person_id].opens == 2
    assert after[world.alex.person_id].opened_at is None

    await content.acknowledge(world.alex, "C-1")
    await content.acknowledge(world.alex, "C-1")
    stats = await content.stats(world.carl, "C-1")
    assert (stats.total.audience, stats.total.delivered, stats.total.opened, stats.total.acknowledged) == (
        3,
        3,
        2,
        1,
    )
    assert stats.total.open_rate == pytest.approx(2 / 3)
    assert [(s.label, s.delivered, s.opened) for s in stats.by_tier] == [("Gold", 2, 1), ("Silver", 1, 1)]
    assert [(s.label, s.opened, s.open_rate) for s in stats.by_partner] == [
        ("Fabrikam Solutions", 1, 1.0),
        ("Northwind Partners", 1, 0.5),
    ]


async def test_delivered_counts_only_messages_that_went_out(any_core: Core) -> None:
    world, content = await setup(any_core)
    await content.publish(world.dana, ContentDraft(title="Kit", url="https://x.example/kit", tiers=("Gold",)))
    await reachable(any_core, world.alice)  # Alex has no chat identity yet: his message waits
    await any_core.dispatcher({"console": RecordingNotifier()}).deliver_due()
    stats = await content.stats(world.dana, "C-1")
    assert (stats.total.audience, stats.total.delivered, stats.total.opened) == (2, 1, 0)
    assert stats.total.open_rate == 0.0


async def test_another_partner_cannot_see_the_item_nor_its_statistics(any_core: Core) -> None:
    world, content = await setup(any_core)
    await content.publish(
        world.dana,
        ContentDraft(title="Northwind only", url="https://x.example/n", partners=("Northwind Partners",)),
    )
    assert (await content.get(world.alex, "C-1")).title == "Northwind only"
    with pytest.raises(NotFound) as missing:
        await content.get(world.bob, "C-9")
    with pytest.raises(NotFound) as foreign:
        await content.get(world.bob, "C-1")
    assert str(foreign.value).replace("C-1", "C-?") == str(missing.value).replace("C-9", "C-?")
    with pytest.raises(NotFound):
        await content.acknowledge(world.bob, "C-1")
    with pytest.raises(NotAllowed):
        await content.stats(world.alice, "C-1")
    assert await content.whats_new(world.bob) == []
    assert await content.titles(world.bob) == [] and await content.audience_choices(world.bob) == ([], [], [])
    assert (await content.get(world.alice, "C-1")).audience is None, "partners never see the audience"


async def test_bad_input_is_refused_with_what_is_accepted_and_nothing_is_written(any_core: Core) -> None:
    world, content = await setup(any_core)
    cases = [
        (
            ContentDraft(title="Kit", url="https://x.example", tiers=("Platinum",)),
            "tier",
            "tiers are Gold, Silver",
        ),
        (
            ContentDraft(title="Kit", url="https://x.example", regions=("LATAM",)),
            "region",
            "regions are EMEA, NA",
        ),
        (
            ContentDraft(title="Kit", url="https://x.example", partners=("Nobody Ltd",)),
            "partner",
            "Nobody Ltd",
        ),
        (
            ContentDraft(title="Kit", url="https://x.example", people=("zed@x.example",)),
            "person",
            "zed@x.example",
        ),
        (ContentDraft(title="Kit", url="ftp://x.example", tiers=("Gold",)), "url", "https://"),
        (
            ContentDraft(title="Kit", url="https://x.example"),
            "audience",
            "tiers, regions, partners or people",
        ),
        (ContentDraft(title="", url="https://x.example", tiers=("Gold",)), "title", "title"),
        (
            ContentDraft(title="Kit", url="https://x.example", tiers=("Gold",), expires=date(2026, 11, 26)),
            "expires",
            "after today",
        ),
    ]
    for draft, field, words in cases:
        with pytest.raises(InputError) as error:
            await content.publish(world.dana, draft)
        assert error.value.field == field and words in error.value.message, (field, error.value.message)
    with pytest.raises(NotAllowed):
        await content.publish(world.ed, ContentDraft(title="Kit", url="https://x.example", tiers=("Gold",)))
    with pytest.raises(NotAllowed):
        await content.publish(
            world.alice, ContentDraft(title="Kit", url="https://x.example", tiers=("Gold",))
        )
    async with any_core.db.transaction() as session:
        assert (await session.execute(select(func.count(ContentItem.id)))).scalar_one() == 0
        assert await queries.outbox_for(session) == []


async def test_the_cli_publishes_and_says_what_it_did(any_core: Core) -> None:
    world, _ = await setup(any_core)
    result = await publish_content(
        any_core.content,
        any_core.people,
        title="Q1 price list",
        url="https://partners.example.com/q1",
        summary="New prices from January",
        tiers=["Silver"],
        partners=["Northwind Partners"],
        expires="2027-03-31",
    )
    assert result.summary() == (
        "published C-1 'Q1 price list' to 4 people (tier Silver; Northwind Partners); "
        "expires 2027-04-01 00:00 UTC"
    )
    with pytest.raises(InputError) as not_staff:
        await publish_content(
            any_core.content,
            any_core.people,
            title="X",
            url="https://x.example",
            tiers=["Gold"],
            actor_email="bob@contoso.example",
        )
    assert not_staff.value.field == "as"
    with pytest.raises(InputError) as bad_date:
        await publish_content(
            any_core.content,
            any_core.people,
            title="X",
            url="https://x.example",
            tiers=["Gold"],
            expires="31/3",
        )
    assert bad_date.value.field == "expires"
    as_dana = await publish_content(
        any_core.content,
        any_core.people,
        title="From Dana",
        url="https://x.example/d",
        people=["bob@contoso.example"],
        actor_email="dana@vendor.example",
    )
    async with any_core.db.transaction() as session:
        audit = await queries.audit_of(session, as_dana.ref)
        assert [(a.action, a.actor_id, a.channel) for a in audit] == [
            ("content.publish", world.dana.person_id, "cli")
        ]


async def test_demo_content_and_mdf_are_idempotent(any_core: Core, clock: FakeClock) -> None:
    world = await make_world(any_core)
    first = await seed_demo_content_and_mdf(any_core)
    assert "content C-1 Partner price list 2027" in first and "MDF request M-1" in first
    assert (
        "MDF budget Northwind Partners 2026-Q4" in first and "MDF budget Contoso Integrators 2027-Q1" in first
    )
    clock.advance(days=1)
    assert await seed_demo_content_and_mdf(any_core) == []
    assert [v.title for v in await build_content(any_core).whats_new(world.bob)] == [
        "Security Pack launch kit"
    ]
