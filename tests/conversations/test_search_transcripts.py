"""Finding records by reference or by name (the Teams message extension's search, a card refreshing for
its viewer), and a registration form filled in from a message. All of it goes through the records a
person may see: nothing of another partner's is found, shown or hinted at."""

from __future__ import annotations

from bot.bootstrap import Core
from tests.conftest import Chat, World

GLOBEX = "register a deal for Globex, 120k USD of Cloud Suite, closing end of March"
HOOLI = "register a deal for Hooli, 50k USD of Cloud Suite, closing end of May"


async def _deals(core: Core, world: World) -> None:
    for actor, text in ((world.alice, GLOBEX), (world.bob, HOOLI)):
        chat = Chat(core, actor)
        await chat.say(text)
        assert "is registered" in await chat.say("yes")


async def test_search_finds_by_name_and_reference_among_ones_own_records(core: Core, world: World) -> None:
    await _deals(core, world)
    await core.questions.ask(world.alice, "How do I claim MDF for a webinar?")
    assert [r.ref for r in await core.conversation.search(world.alice, "globx")] == ["D-1"]
    assert [r.ref for r in await core.conversation.search(world.alice, "d1")] == ["D-1"]
    assert [r.ref for r in await core.conversation.search(world.alice, "webinar")] == ["Q-1"]
    # The newest first, of every kind, without a query.
    assert [r.ref for r in await core.conversation.search(world.alice, "")] == ["D-1", "Q-1"]
    # Another partner's deal is never found, by name or by reference.
    assert await core.conversation.search(world.bob, "globex") == []
    assert await core.conversation.search(world.bob, "D-1") == []
    assert [r.ref for r in await core.conversation.search(world.bob, "")] == ["D-2"]
    # Staff find every partner's deals.
    assert {r.ref for r in await core.conversation.search(world.dana, "")} >= {"D-1", "D-2"}


async def test_a_records_view_depends_on_who_looks(core: Core, world: World) -> None:
    await _deals(core, world)
    (dana,) = await core.conversation.view(world.dana, "D-1")
    (carl,) = await core.conversation.view(world.carl, "D-1")
    (alice,) = await core.conversation.view(world.alice, "D-1")
    decisions = {"Approve", "Reject", "Ask for info"}
    assert decisions <= {b.label for b in dana.buttons}
    assert not decisions & {b.label for b in carl.buttons}
    assert not decisions & {b.label for b in alice.buttons}
    # The same words for a record that exists elsewhere and one that doesn't exist at all.
    (bob,) = await core.conversation.view(world.bob, "D-1")
    (nobody,) = await core.conversation.view(world.bob, "D-99")
    assert (
        bob.text == "I can't find D-1 among your deals."
        and nobody.text == "I can't find D-99 among your deals."
    )
    (junk,) = await core.conversation.view(world.bob, "hello")
    assert "not a reference" in junk.text


async def test_a_registration_form_filled_in_from_a_message(core: Core, world: World) -> None:
    (reply,) = await core.conversation.form_from_text(
        world.alice, "deal.register", "Initech wants 80k EUR of Cloud Suite, closing 30 June 2027"
    )
    assert reply.form is not None and reply.form.form_id == "deal.register"
    values = {f.name: f.value for f in reply.form.fields}
    assert (values["customer"], values["product"], values["amount"], values["close_date"]) == (
        "Initech",
        "Cloud Suite",
        "80,000 EUR",
        "2027-06-30",
    )
    assert await core.deals.list_deals(world.alice, scope="all") == []  # nothing written on a guess
    (empty,) = await core.conversation.form_from_text(world.alice, "deal.register", "thanks!")
    assert empty.form is not None and not any(f.value for f in empty.form.fields)
    (staff,) = await core.conversation.form_from_text(world.dana, "deal.register", "Initech 80k")
    assert staff.form is None and "partners" in staff.text


async def test_a_long_pickers_choices_are_only_what_the_person_may_pick(core: Core, world: World) -> None:
    choices = core.conversation.form_choices
    staff = {c.value for c in await choices(world.dana, "mdf.budget", "partner", "")}
    assert {"Northwind Partners", "Contoso Integrators"} <= staff
    assert [c.value for c in await choices(world.dana, "mdf.budget", "partner", "cont")] == [
        "Contoso Integrators"
    ]
    # A partner user is only ever offered their own organisation, whatever they type.
    assert [c.value for c in await choices(world.alice, "mdf.budget", "partner", "")] == [
        "Northwind Partners"
    ]
    assert await choices(world.alice, "mdf.budget", "partner", "contoso") == []
    assert await choices(world.alice, "lead.assign", "partner", "", data={"ref": "L-1"}) == []
    assert await choices(world.dana, "no.such.form", "partner", "") == []
