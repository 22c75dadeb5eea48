"""Issue #18's kinds of failure, in the terminal's conversation (tests/understanding/failure_kinds.py)."""

from __future__ import annotations

from bot.bootstrap import Core
from store.deal_models import Deal
from tests.conftest import Chat, World
from tests.understanding.failure_kinds import REGISTER_FIRST, run_failure_kinds
from tests.understanding.test_understanding_transcripts import count, registered


async def test_each_kind_of_failure_in_the_terminal(core: Core, world: World) -> None:
    chats = {"alice": Chat(core, world.alice), "dana": Chat(core, world.dana)}
    assert await registered(core, chats["alice"], REGISTER_FIRST) == "1"

    async def say(who: str, text: str) -> str:
        return await chats[who].say(text)

    await run_failure_kinds(say)
    assert await count(core, Deal) == 1, "only the registration confirmed before the transcript"
    assert (await core.deals.get(world.alice, "D-1")).outcome_reason == "no budget"
