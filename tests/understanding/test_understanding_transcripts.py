"""Issue #18 in transcripts: what people type when they never saw the code, in the terminal, Slack and
Teams - registration phrased any other way, records by customer name, status in other words, staff
phrasing, a reason after a dash; unsure readings offered as choices, inferred writes confirmed, and a
question goes to a person only when nothing else fits."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.bootstrap import Core
from store.deal_models import Deal
from store.question_models import Question
from tests.conftest import Chat, World


async def count(core: Core, model: type) -> int:
    async with core.db.transaction() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def registered(core: Core, chat: Chat, text: str) -> str:
    out = await chat.say(text)
    assert "Register this deal?" in out, out
    out = await chat.click("Confirm")
    return out.split("D-", 1)[1].split()[0].strip(".:")


async def test_registration_phrased_any_other_way(core: Core, world: World) -> None:
    alice = Chat(core, world.alice)
    out = await alice.say("reg new opp: globex / cloud suite / 120k usd / close end of March")
    assert "Register this deal?" in out and "Customer:   Globex" in out and "120,000 USD" in out
    await alice.say("cancel")
    out = await alice.say("got a new one - Tailwind Traders | edge gateway | 40k eur | end of april")
    assert "Customer:   Tailwind Traders" in out and "Edge Gateway" in out and "40,000 EUR" in out
    await alice.say("cancel")
    out = await alice.say("register contoso pharma 40k")
    assert "Which product" in out, "the customer was given: the product is what is missing"
    await alice.say("cancel")
    out = await alice.say("can I register a deal for Duff Brewery? cloud suite, 50k eur, closing 31.12.2027")
    assert "Customer:   Duff Brewery\n" in out, "the question mark is not part of the name"
    await alice.say("cancel")
    assert await count(core, Deal) == 0, "nothing is written before the partner confirms"


async def test_records_by_customer_name_are_confirmed_before_a_write(core: Core, world: World) -> None:
    alice = Chat(core, world.alice)
    number = await registered(
        core, alice, "register a deal for Globex, 120k USD of Cloud Suite, closing end of March"
    )
    out = await alice.say("any news on globex?")
    assert f"D-{number}" in out and "Globex" in out
    out = await alice.say("we lost globex on price")
    assert f"Mark D-{number} as lost (Globex): price - is that right?" in out
    out = await alice.click("Yes")
    assert "lost" in out.lower()
    view = await core.deals.get(world.alice, f"D-{number}")
    assert view.status == "lost" and "price" in (view.outcome_reason or "")


async def test_a_reason_after_a_dash_is_kept(core: Core, world: World) -> None:
    alice = Chat(core, world.alice)
    number = await registered(
        core, alice, "register a deal for Globex, 120k USD of Cloud Suite, closing end of March"
    )
    out = await alice.say(f"mark D-{number} lost - no budget")
    assert "Why was" not in out
    view = await core.deals.get(world.alice, f"D-{number}")
    assert view.status == "lost" and view.outcome_reason == "no budget"


async def test_status_checks_and_lists_are_not_questions_for_an_expert(core: Core, world: World) -> None:
    alice = Chat(core, world.alice)
    number = await registered(
        core, alice, "register a deal for Globex, 120k USD of Cloud Suite, closing end of March"
    )
    assert f"D-{number}" in await alice.say("is my globex registration protected?")
    assert "Globex" in await alice.say("list my open regs")
    await alice.say("did anyone answer me?")
    assert await count(core, Question) == 0
    out = await alice.say("is there a partner discount for schools?")
    assert "Q-1" in out, "a real question for the vendor still reaches one"


async def test_staff_phrasing(core: Core, world: World) -> None:
    alice = Chat(core, world.alice)
    number = await registered(
        core, alice, "register a deal for Globex, 120k USD of Cloud Suite, closing end of March"
    )
    dana = Chat(core, world.dana)
    out = await dana.say("show me the globex deal")
    assert f"D-{number}" in out and "Globex" in out
    out = await dana.say("approve the globex registration")
    assert "is that right?" in out, "a name, not a reference: confirmed first"
    assert "Approved by Dana" in await dana.click("Yes")


async def test_unsure_readings_are_offered_and_nonsense_is_not_understood(core: Core, world: World) -> None:
    alice = Chat(core, world.alice)
    assert "I didn't catch that" in await alice.say("can you book me a meeting room for 3pm")
    before = await count(core, Deal)
    await alice.say("register deal for Pied Piper amount lots close soon")
    assert await count(core, Deal) == before, "bad input writes nothing"
