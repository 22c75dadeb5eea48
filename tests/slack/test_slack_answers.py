"""Every direct answer arrives, once (issue #15): the core keeps a request's answer with its key, the
handler counts each reply as it goes out, and when a post fails the inbox's next attempt posts what is
left - the work is not done again. If the work itself raises, nothing of it is kept, the person hears
"I'm trying it again" once, and the next attempt does the work. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.conversation import RETRYING_TEXT
from bot.kernel.messages import Reply
from store.deal_models import Deal
from tests.conftest import FakeClock, fail_first_call
from tests.slack.conftest import Slack, SlackStandIn, slack_app

REGISTER = "register a deal for Initech, 85k EUR of Cloud Suite, closing end of March"


@pytest.fixture
async def anyslack(any_database_url: str, clock: FakeClock, standin: SlackStandIn) -> AsyncIterator[Slack]:
    async with slack_app(any_database_url, clock, standin) as harness:
        yield harness


async def deals(slack: Slack) -> int:
    async with slack.core.db.transaction() as session:
        return int((await session.execute(select(func.count()).select_from(Deal))).scalar_one())


def delivered(slack: Slack, text: str, channel: str = "DUALICE") -> int:
    """Posts with ``text`` that Slack accepted (a refused call is recorded without an answer)."""
    return sum(1 for c in slack.standin.posts(channel) if c.answer and text in c.dump)


async def retries(slack: Slack, times: int = 4) -> None:
    """Let the inbox's backoff (5 s, 10 s, 20 s...) pass, and its next attempts run."""
    for _ in range(times):
        slack.clock.advance(minutes=1)
        await slack.settle()


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 500, "error": "internal_error"},
        {"status": 503, "error": "service_unavailable"},
        {"status": 200, "error": "fatal_error"},  # ok: false
        {
            "status": 429,
            "error": "ratelimited",
            "retry_after": 0,
            "times": 3,
        },  # past the client's own retries
    ],
    ids=["500", "503", "ok-false", "429x3"],
)
async def test_a_direct_answer_survives_a_failed_post_and_arrives_once(
    anyslack: Slack, failure: dict[str, Any]
) -> None:
    slack = anyslack
    await slack.dm("UALICE", REGISTER)
    slack.standin.fail(
        "chat.postMessage",
        when=lambda body: body.get("channel") == "DUALICE",
        **{"retry_after": None, **failure},
    )
    await slack.dm("UALICE", "yes")
    assert delivered(slack, "D-1 is registered") == 0, "the first post failed"
    assert await deals(slack) == 1, "the work is done"
    await retries(slack)
    assert delivered(slack, "D-1 is registered") == 1
    assert await deals(slack) == 1, "and not done again"


async def test_a_retry_posts_only_what_is_left_of_the_answer(anyslack: Slack) -> None:
    """An answer of two replies whose first one went out: the next attempt gives the second only."""
    conversation = anyslack.core.conversation
    work_done = {"n": 0}

    async def work() -> list[Reply]:
        work_done["n"] += 1
        return [Reply(text="first part"), Reply(text="second part")]

    assert [r.text for r in await conversation._once("req-2", work)] == ["first part", "second part"]
    await conversation.answer_posted("req-2")  # the first went out, then the process died
    assert [r.text for r in await conversation._once("req-2", work)] == ["second part"]
    await conversation.answer_posted("req-2")
    assert await conversation._once("req-2", work) == []
    assert work_done["n"] == 1


async def test_a_failure_in_the_core_is_retried_and_answered_once(
    anyslack: Slack, monkeypatch: pytest.MonkeyPatch
) -> None:
    slack = anyslack
    attempts = fail_first_call(monkeypatch, slack.core.deals, "register")
    await slack.dm("UALICE", REGISTER)
    await slack.dm("UALICE", "yes")
    assert delivered(slack, RETRYING_TEXT.split(",")[0]) == 1, "the person hears that it is being retried"
    assert await deals(slack) == 0
    await retries(slack)
    assert attempts["n"] == 2
    assert await deals(slack) == 1
    assert delivered(slack, "D-1 is registered") == 1
    assert delivered(slack, RETRYING_TEXT.split(",")[0]) == 1, "said once"
