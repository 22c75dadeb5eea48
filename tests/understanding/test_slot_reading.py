"""Slots read from the way people type: dates as list items, quarters, countries and domains, a next
step and notes from what is left, the kind of record a typed reference names - and what the layer does
when a reading needs a record the message does not name."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from bot.bootstrap import Core
from bot.kernel.understanding.entities import Named
from bot.kernel.understanding.spec import Understood
from store.deal_models import Deal
from tests.conftest import Chat, World
from tests.understanding.test_understanding_transcripts import count, registered

TODAY = date(2026, 12, 3)
PRODUCTS = ["Cloud Suite", "Edge Gateway", "Security Pack"]


def read(core: Core, text: str, *, role: str = "partner") -> Understood:
    return core.conversation.understanding().read(text, role=role, today=TODAY, products=PRODUCTS)


def test_a_date_typed_as_an_item_of_a_list(core: Core) -> None:
    best = read(core, "register umbrella retail, cloud suite this time, 30k eur, march").best
    assert best is not None and best.intent == "deal.register"
    assert best.get("close_date") == date(2027, 3, 31)
    best = read(core, "reg pls sterling cooper, sec pack, 33k, 2 weeks").best
    assert best is not None and best.get("close_date") == TODAY + timedelta(weeks=2)
    best = read(core, "deal reg for Rekall - cloud suite - 2.4M - close 6/30").best
    assert best is not None and best.get("close_date") == date(2027, 6, 30)


def test_a_quarter_the_date_finder_saw_is_the_quarter_of_a_list(core: Core) -> None:
    best = read(core, "what deals do I have closing this quarter?").best
    assert best is not None and best.intent == "deal.list" and best.get("quarter") == "2026-Q4"


def test_a_new_customers_domain_and_country(core: Core) -> None:
    best = read(
        core, "opp for Dunder Mifflin (dundermifflin.example), Edge Gateway, 22k, close in 3 months, US"
    ).best
    assert best is not None and best.intent == "deal.register"
    assert best.get("customer") == "Dunder Mifflin"
    assert best.get("domain") == "dundermifflin.example" and best.get("country") == "US"


def test_a_typed_reference_says_which_kind_of_record(core: Core) -> None:
    best = read(core, "L-3 -> deal pls, 18k EUR, close 28.02.2027").best
    assert best is not None and best.intent == "lead.convert" and best.ref == "L-3"
    best = read(core, "approve M-1", role="staff").best
    assert best is not None and best.intent == "staff.mdf_decide" and best.ref == "M-1"


def test_a_reference_alone_shows_its_record(core: Core) -> None:
    for text, role, intent, ref in (
        ("L-1", "partner", "lead.status", "L-1"),
        ("l1?", "staff", "lead.status", "L-1"),
        ("D-3", "partner", "deal.status", "D-3"),
        ("d3 pls", "staff", "deal.status", "D-3"),
        ("M-2", "partner", "mdf.status", "M-2"),
    ):
        understood = read(core, text, role=role)
        assert understood.decision == "act" and understood.best is not None, text
        assert (understood.best.intent, understood.best.ref) == (intent, ref), text
    # a word more is read as before, and two references are no reference alone
    best = read(core, "L-1 contacted").best
    assert best is not None and best.intent == "lead.update"
    assert read(core, "L-1 L-2").decision != "act"


def test_a_message_about_one_record_that_nothing_fits_shows_the_record(core: Core) -> None:
    understood = read(core, "L-1 the customer rejected our first proposal")
    assert understood.decision == "act" and understood.best is not None
    assert (understood.best.intent, understood.best.ref) == ("lead.status", "L-1")


async def test_a_next_step_keeps_its_date_and_is_no_close_date(core: Core, world: World) -> None:
    alice = Chat(core, world.alice)
    number = await registered(
        core, alice, "register a deal for Globex, 120k USD of Cloud Suite, closing end of March"
    )
    understood = await core.conversation.understand(world.alice, "globex: demo done, sending proposal by fri")
    best = understood.best
    assert best is not None and best.intent == "deal.update" and best.ref == f"D-{number}"
    assert best.get("stage") == "demo" and best.get("next_step") == "sending proposal by fri"
    assert "close_date" not in best.slots, "the Friday is the proposal's, not the close date"
    understood = await core.conversation.understand(
        world.alice, f"D-{number} bump amount to 135k, they added 2 sites"
    )
    best = understood.best
    assert best is not None and best.get("amount") is not None and best.get("amount").amount == 135000
    assert "added 2 sites" in best.get("notes", "")


async def test_a_reading_without_the_record_it_needs_asks_which_and_writes_nothing(
    core: Core, world: World
) -> None:
    alice = Chat(core, world.alice)
    for customer in ("Globex", "Initech"):
        await registered(
            core, alice, f"register a deal for {customer}, 120k USD of Cloud Suite, closing end of March"
        )
    understood = await core.conversation.understand(world.alice, "they signed!")
    spec = core.conversation.understanding().specs["deal.won"]
    assert understood.best is not None and understood.best.intent == "deal.won" and spec.needs == ("ref",)
    out = await alice.say("they signed!")
    assert "Which deal" in out and "Globex" in out and "Initech" in out
    async with core.db.transaction() as session:
        statuses = set((await session.execute(select(Deal.status))).scalars())
    assert "won" not in statuses and await count(core, Deal) == 2


async def test_a_question_without_a_subject_is_asked_back_not_routed(core: Core, world: World) -> None:
    alice = Chat(core, world.alice)
    for vague in ("is it supported?", "what's the deadline?"):
        out = await alice.say(vague)
        assert "Q-" not in out, out
    assert "What is it about?" in await alice.say("is it supported?")
    assert "Q-1" in await alice.say("is cloud suite ISO 27001 certified? customer's asking")


def test_what_could_be_read_another_way_is_a_doubt(core: Core) -> None:
    swapped = read(core, "reg Hanso Foundation cloud suite 45k eur close 03/04/2027")
    assert swapped.decision == "ask" and swapped.best is not None
    assert swapped.best.doubts == ["03/04/2027 read as 3 Apr 2027, not 4 Mar 2027"]
    dotted = read(core, "register Monarch Solutions, Security Pack, 16k EUR, close 10.02.2027")
    assert dotted.decision == "act" and dotted.best is not None and not dotted.best.doubts
    ranged = read(core, "register Monsters Inc, security pack, 50-60k, close Q2").best
    assert ranged is not None and "amount" not in ranged.slots, "a range is no amount: the skill asks for it"
    ranged = read(core, "register Monsters Inc, security pack, 50k to 60k, close Q2").best
    assert ranged is not None and "the amount is a range - which amount?" in ranged.doubts
    two = read(
        core, "register Aperture Science, Cloud Suite + Security Pack bundle, 140k, close 4/15/2027"
    ).best
    assert two is not None and any("Cloud Suite and Security Pack" in d for d in two.doubts)


async def test_a_doubt_is_confirmed_before_anything_happens(core: Core, world: World) -> None:
    alice = Chat(core, world.alice)
    out = await alice.say("reg Hanso Foundation cloud suite 45k eur close 03/04/2027")
    assert "(03/04/2027 read as 3 Apr 2027, not 4 Mar 2027) - is that right?" in out
    assert "Register this deal?" in await alice.click("Yes")
    assert await count(core, Deal) == 0


def test_a_date_that_moves_the_deal_is_the_close_date_and_one_something_happens_on_is_a_step(
    core: Core,
) -> None:
    initech = [Named("D", "D-1", "Initech GmbH"), Named("L", "L-3", "Umbrella SA")]
    layer = core.conversation.understanding()
    moved = layer.read("initech slipped to april", role="partner", today=TODAY, names=initech).best
    assert (
        moved is not None and moved.get("close_date") == date(2027, 4, 30) and "next_step" not in moved.slots
    )
    step = layer.read(
        "umbrella SA is a good one, qualified! demo on 10.12.", role="partner", today=TODAY, names=initech
    ).best
    assert step is not None and step.intent == "lead.update" and step.get("next_step") == "demo on 10.12"


def test_a_typo_of_the_request_word_is_no_part_of_a_new_customers_name(core: Core) -> None:
    for text in (
        "regstr deal Woodgrove Bank / security pack / 120k",
        "registr Woodgrove Bank, security pack, 120k",
    ):
        best = read(core, text).best
        assert best is not None and best.intent == "deal.register", text
        assert best.get("customer") == "Woodgrove Bank", text


def test_a_new_customer_named_in_a_sentence_is_the_name_after_its_with(core: Core) -> None:
    best = read(
        core, "could you get me registration protection on an opportunity with Fabrikam Foods, 20k"
    ).best
    assert best is not None and best.intent == "deal.register"
    assert best.get("customer") == "Fabrikam Foods"
