"""Issue #18's kinds of failure through the real Slack app (tests/understanding/failure_kinds.py)."""

from __future__ import annotations

from tests.conftest import Chat
from tests.slack.conftest import Slack
from tests.understanding.failure_kinds import REGISTER_FIRST, run_failure_kinds
from tests.understanding.test_understanding_transcripts import registered

SLACK_IDS = {"alice": "UALICE", "dana": "UDANA"}


async def test_each_kind_of_failure_in_slack(slack: Slack) -> None:
    assert await registered(slack.core, Chat(slack.core, slack.world.alice), REGISTER_FIRST) == "1"

    async def say(who: str, text: str) -> str:
        user = SLACK_IDS[who]
        before = len(slack.standin.to_user(user))
        await slack.dm(user, text)
        return " ".join(call.dump for call in slack.standin.to_user(user)[before:])

    await run_failure_kinds(say)
    view = await slack.core.deals.get(slack.world.alice, "D-1")
    assert view.status == "lost" and view.outcome_reason == "no budget"
