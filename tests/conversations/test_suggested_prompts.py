"""What a new assistant thread offers to send with one click (``Conversation.suggested_prompts``): at
most four prompts, fitted to the person's role, built from the skills' help examples - and each one,
sent as it is, gets a real answer, changes nothing and shows nothing of anyone else's."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.bootstrap import Core
from bot.conversation import MAX_PROMPTS, NOT_UNDERSTOOD
from store.models import AuditEntry, OutboxMessage
from tests.conftest import Chat, World

GLOBEX = "register a deal for Globex, 120k USD of Cloud Suite, closing end of March"


async def _count(core: Core, model: object) -> int:
    async with core.db.transaction() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())  # type: ignore[arg-type]


async def test_partners_and_staff_are_offered_what_their_role_does(core: Core, world: World) -> None:
    alice = core.conversation.suggested_prompts(world.alice)
    dana = core.conversation.suggested_prompts(world.dana)
    assert 0 < len(alice) <= MAX_PROMPTS and 0 < len(dana) <= MAX_PROMPTS
    assert ("Your open registrations", "show my deals") in alice
    assert ("Registrations waiting for review", "pending") in dana
    assert not {m for _, m in alice} & {m for _, m in dana}, "a partner is offered no staff work"
    for title, message in alice + dana:
        assert title and message and title[0].isupper()
        assert len(title) <= 75 and "…" not in message and "D-12" not in message
    # One prompt per skill: the four are four different things.
    assert len({m for _, m in alice}) == len(alice)
    # Every partner of every organisation is offered the same, nothing of anyone's records.
    assert core.conversation.suggested_prompts(world.bob) == alice


async def test_every_prompt_gets_an_answer_and_changes_nothing(core: Core, world: World) -> None:
    chat = Chat(core, world.bob)
    await chat.say(GLOBEX.replace("Globex", "Hooli"))
    assert "is registered" in await chat.say("yes")
    audit, outbox = await _count(core, AuditEntry), await _count(core, OutboxMessage)
    for actor in (world.alice, world.dana):
        for _title, message in core.conversation.suggested_prompts(actor):
            answer = await Chat(core, actor).say(message)
            assert answer and NOT_UNDERSTOOD not in answer and "not sure what you mean" not in answer, (
                message,
                answer,
            )
            if not actor.is_staff:
                assert "Hooli" not in answer and "Contoso" not in answer, (message, answer)
    assert (await _count(core, AuditEntry), await _count(core, OutboxMessage)) == (audit, outbox)
