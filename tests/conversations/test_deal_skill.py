"""The deal skill in its place: the conversation's fallback, tried after every other skill; and the
conversation without it, which knows no feature."""

from __future__ import annotations

from bot.bootstrap import Core
from bot.conversation import NOT_UNDERSTOOD, Conversation
from bot.features.deals.skill import DealSkill
from tests.conftest import Chat, World


async def test_the_deal_skill_is_the_fallback_not_one_of_the_skills(core: Core) -> None:
    assert isinstance(core.conversation.fallback, DealSkill)
    assert not any(isinstance(s, DealSkill) for s in core.conversation.skills)


async def test_a_registration_saved_under_the_old_flow_name_goes_on(core: Core, world: World) -> None:
    alice = Chat(core, world.alice)
    assert "Which customer" in await alice.say("I'd like to register a deal")
    dialog = await core.conversation.dialogs.load(world.alice)
    assert dialog is not None and dialog.flow == "deal.register"
    await core.conversation.dialogs.save(world.alice, "register", dialog.state)  # as saved before
    assert "Which product" in await alice.say("Initech GmbH")
    dialog = await core.conversation.dialogs.load(world.alice)
    assert dialog is not None and dialog.flow == "deal.register"


async def test_a_conversation_without_skills_still_cancels_and_helps(core: Core, world: World) -> None:
    bare = Conversation(db=core.db, clock=core.clock)
    say = bare.handle_text
    assert [r.text for r in await say(world.alice, "register a deal")] == [NOT_UNDERSTOOD]
    assert [r.text for r in await say(world.alice, "help")] == ["• cancel - stop what we're doing"]
    assert [r.text for r in await bare.handle_action(world.alice, "deals.list")] == [
        "That button is no longer available."
    ]
    assert await bare.home(world.alice) == []
