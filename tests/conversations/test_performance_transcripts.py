"""Scorecards in the conversation: a partner sees their own scorecard and no other ("scorecard for
Northwind" from Bob reads exactly like a partner that doesn't exist), staff ask "who is lagging?" and
get a scorecard with a chart, and the weekly digest carries its chart image."""

from __future__ import annotations

import base64
from datetime import date, datetime
from decimal import Decimal

from bot.bootstrap import Core, build_performance_skill
from bot.features.deals.model import DealChanges, DealDraft
from bot.features.performance.charts import MAX_PNG_BYTES, png_size
from bot.features.performance.intents import PERFORMANCE_INTENTS, split_period
from bot.features.performance.skill import PerformanceSkill
from bot.kernel.amounts import Money
from bot.kernel.messages import Actor
from scheduler.jobs import JOBS
from tests.conftest import Chat, FakeClock, RecordingNotifier, World, reachable

PERFORMANCE = {spec.name for spec in PERFORMANCE_INTENTS}


def with_performance(core: Core) -> None:
    """The performance skill in its place - before the question skill, which claims any question -
    unless the core's wiring has put it there already."""
    skills = core.conversation.skills
    if not any(s.prefix == "performance" for s in skills):
        at = next((i for i, s in enumerate(skills) if s.prefix == "question"), len(skills))
        skills.insert(at, build_performance_skill(core))


async def register(core: Core, actor: Actor, customer: str, amount: int) -> str:
    view = await core.deals.register(
        actor,
        DealDraft(
            customer=customer,
            product="Cloud Suite",
            amount=Money(Decimal(amount), "USD"),
            close_date=date(2027, 3, 31),
        ),
    )
    return view.ref


async def stale_contoso(core: Core, world: World, clock: FakeClock) -> None:
    """Northwind keeps its two deals fresh (one won); Contoso's only deal sits untouched for 25 days."""
    first = await register(core, world.alice, "Globex", 120_000)
    await register(core, world.alice, "Initech", 30_000)
    await register(core, world.bob, "Hooli", 5_000)
    await core.deals.approve(world.dana, first)
    clock.advance(days=2)
    await core.deals.close(world.alice, first, won=True)
    clock.advance(days=23)
    await core.deals.update(world.alice, "D-2", DealChanges(next_step="demo on Friday"))


async def test_partner_sees_their_own_scorecard(core: Core, world: World, clock: FakeClock) -> None:
    with_performance(core)
    await stale_contoso(core, world, clock)
    alice = Chat(core, world.alice)

    text = await alice.say("how am I doing?")
    assert "== Scorecard · Northwind Partners (Gold) · last 90 days ==" in text
    assert "Deals registered:         2" in text
    assert "Win rate:                 100% (1 of 1 closed)" in text
    assert "Open pipeline:            30,000 USD in 1 deal" in text
    assert "Won value:                120,000 USD" in text
    assert "No red flags." in text
    assert "median" not in text, "Northwind is alone in Gold: no median to compare with"
    assert "Contoso" not in text and "Hooli" not in text
    assert "(a chart is attached" not in text and alice.replies[0].image_png_b64 is None
    assert alice.buttons == []

    text = await alice.say("my scorecard last 24 days")
    assert "last 24 days ==" in text and "Deals registered:         0" in text
    assert "Won value:                120,000 USD" in text, "won 23 days ago"
    assert "how am I doing?" in await alice.say("help")


async def test_partner_cannot_see_another_partners_scorecard(
    core: Core, world: World, clock: FakeClock
) -> None:
    with_performance(core)
    await stale_contoso(core, world, clock)
    bob = Chat(core, world.bob)

    other = await bob.say("scorecard for Northwind")
    nobody = await bob.say("scorecard for Northwint")
    yours = " You can see your own: say 'my scorecard'."
    assert other == "I don't know a partner called 'Northwind'." + yours
    assert nobody == "I don't know a partner called 'Northwint'." + yours
    exact = await bob.say("scorecard for Northwind Partners last 30 days")
    assert exact == "I don't know a partner called 'Northwind Partners'." + yours
    assert (
        await bob.say("show me northwind's scorecard") == "I don't know a partner called 'northwind'." + yours
    )
    clicked = await core.conversation.handle_action(
        world.bob, "performance.show", {"partner": "Northwind Partners", "days": "90"}
    )
    assert [r.text for r in clicked] == ["I don't know a partner called 'Northwind Partners'." + yours]

    lagging = await bob.say("who is lagging?")
    assert "for vendor staff" in lagging and "Northwind" not in lagging and "Contoso" not in lagging

    own = await bob.say("scorecard for Contoso")
    assert "== Scorecard · Contoso Integrators (Silver) · last 90 days ==" in own
    assert "1 of 1 open deals stale (100%)" in own, "a partner sees their own red flags"
    assert "Northwind" not in own and "Globex" not in own and "120,000" not in own


async def test_staff_ask_who_is_lagging(core: Core, world: World, clock: FakeClock) -> None:
    with_performance(core)
    await stale_contoso(core, world, clock)
    dana = Chat(core, world.dana)

    text = await dana.say("who is lagging?")
    assert "== Partners lagging · last 90 days ==" in text
    assert "1 partner with red flags, worst first." in text
    assert "Contoso Integrators (Silver)" in text and "• 1 of 1 open deals stale (100%)" in text
    assert "Northwind" not in text

    text = await dana.click("Scorecard")
    assert "== Scorecard · Contoso Integrators (Silver) · last 90 days ==" in text
    assert "(a chart is attached in Slack and Teams)" in text
    png = base64.b64decode(dana.replies[0].image_png_b64 or "")
    assert png_size(png) == (640, 360) and len(png) < MAX_PNG_BYTES

    text = await dana.say("scorecard Northwind last 30 days")
    assert "== Scorecard · Northwind Partners (Gold) · last 30 days ==" in text
    assert dana.replies[0].image_png_b64, "the staff scorecard includes a chart image"
    assert [b.label for b in dana.buttons] == ["Last 90 days", "Last 365 days", "Pipeline", "Who is lagging?"]
    assert "== Open pipeline by partner ==" in await dana.click("Pipeline")

    assert "I don't know a partner called 'Acme'." in await dana.say("scorecard for Acme")
    assert "scorecard for Northwind" in await dana.say("how am I doing?")
    assert "Partners lagging · last 14 days" in await dana.say("laggards over the last 2 weeks")


async def test_messages_it_leaves_to_others(core: Core, world: World) -> None:
    """What is about a deal, or a how-to question, gets no scorecard: the layer reads it as something
    else, or the performance skill declines a reading that names another record."""
    with_performance(core)
    skill = next(s for s in core.conversation.skills if isinstance(s, PerformanceSkill))
    alice = Chat(core, world.alice)
    for text in (
        "how is the Globex deal doing?",
        "show my deals",
        "performance of D-12",
        "how do I claim MDF?",
    ):
        understood = await core.conversation.understand(world.alice, text)
        best = understood.best
        if understood.decision == "act" and best is not None and best.intent in PERFORMANCE:
            assert await skill.on_intent(world.alice, best) is None, text
        assert "Scorecard ·" not in await alice.say(text), text
    assert split_period("scorecard Northwind last 30 days") == ("scorecard Northwind", 30)
    assert split_period("how am I doing this week") == ("how am I doing this week", None)
    assert split_period("my scorecard, past 6 weeks?") == ("my scorecard", 42)
    assert split_period("laggards last quarter") == ("laggards", 91)


async def test_weekly_digest_carries_a_chart(core: Core, world: World, clock: FakeClock) -> None:
    await reachable(core, world.dana, world.carl)
    await stale_contoso(core, world, clock)
    monday = datetime(2027, 1, 4, 7, 0)
    assert await JOBS["weekly_digest"].run(core, monday) == "queued 2 digest(s)"
    notifier = RecordingNotifier()
    await core.dispatcher({"console": notifier}).deliver_due(now=monday)
    digests = {
        who: reply for who, reply in notifier.sent if getattr(reply, "title", "").startswith("Your partners")
    }
    assert set(digests) == {world.dana.person_id, world.carl.person_id}
    for reply in digests.values():
        png = base64.b64decode(reply.image_png_b64 or "")
        assert png_size(png) == (640, 360) and 2_000 < len(png) < MAX_PNG_BYTES
    assert digests[world.dana.person_id].image_png_b64 != digests[world.carl.person_id].image_png_b64, (
        "each manager's chart shows their own partners"
    )
    assert "(a chart is attached in Slack and Teams)" in notifier.texts_for(world.carl.person_id)


async def test_the_open_pipeline_by_partner_for_staff_only(core: Core, world: World) -> None:
    """Staff see every partner's open deals summed by currency, for one partner or those closing in a
    quarter; a partner is told it is staff's view, and sees none of it."""
    with_performance(core)
    alice, bob, dana = Chat(core, world.alice), Chat(core, world.bob), Chat(core, world.dana)
    await alice.say("register a deal for Globex Corporation, 120k EUR of Cloud Suite, closing 2027-02-15")
    await alice.say("yes")
    await bob.say("register a deal for Initrode Inc, 30k USD of Edge Gateway, closing 2027-05-20")
    await bob.say("yes")
    out = await dana.say("pipeline by partner")
    assert "== Open pipeline by partner ==" in out
    assert (
        "Northwind Partners:  120,000 EUR in 1 deal" in out
        and "Contoso Integrators: 30,000 USD in 1 deal" in out
    )
    out = await dana.say("pipeline for contoso")
    assert "Contoso Integrators: 30,000 USD in 1 deal" in out and "Northwind" not in out
    out = await dana.say("total pipeline for 2027-Q1")
    assert "closing in 2027-Q1" in out and "120,000 EUR" in out and "Contoso" not in out
    out = await alice.say("pipeline by partner")
    assert "for vendor staff" in out and "Contoso" not in out and "30,000" not in out
