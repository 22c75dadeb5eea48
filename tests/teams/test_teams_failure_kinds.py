"""Issue #18's kinds of failure through the real Teams endpoint (tests/understanding/failure_kinds.py)."""

from __future__ import annotations

from tests.conftest import Chat
from tests.teams.teams_harness import USERS, Teams
from tests.understanding.failure_kinds import REGISTER_FIRST, run_failure_kinds
from tests.understanding.test_understanding_transcripts import registered


async def test_each_kind_of_failure_in_teams(teams: Teams) -> None:
    assert await registered(teams.core, Chat(teams.core, teams.world.alice), REGISTER_FIRST) == "1"

    async def say(who: str, text: str) -> str:
        return " ".join(call.text for call in await teams.say(USERS[who], text))

    await run_failure_kinds(say)
    view = await teams.core.deals.get(teams.world.alice, "D-1")
    assert view.status == "lost" and view.outcome_reason == "no budget"
