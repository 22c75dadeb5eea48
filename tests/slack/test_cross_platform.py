"""Slack and Teams in one process, on one deal or question: a Teams partner approved from Slack (issue #4),
and answers relayed across platforms both ways (issue #6) - through both real channels."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.slack import conftest as slack_conftest
from tests.slack.conftest import VENDOR_CHANNEL, Slack
from tests.teams import teams_harness
from tests.teams.teams_harness import USERS, StandInConnector, Teams, TeamsUser

ALICE_T, ED_T = USERS["alice"], TeamsUser("ed", "Ed Expert", "ed@vendor.example", "tenant-vendor")


@pytest.fixture
async def both(slack: Slack, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Slack, Teams]]:
    """The Slack harness's app also serves /api/messages; a Bot Connector stand-in records the Teams side."""
    # pytest may load the harness module under another name than ``tests.slack.conftest`` (both
    # harness folders have a conftest.py): patch the dictionary the harness's own code reads.
    harness_users = type(slack).dm.__globals__["USERS"]
    monkeypatch.setitem(harness_users, "UED", ("TVENDOR", "ed@vendor.example", "Ed Expert", "UTC"))
    monkeypatch.setitem(slack_conftest.USERS, "UED", ("TVENDOR", "ed@vendor.example", "Ed Expert", "UTC"))
    monkeypatch.setitem(teams_harness.USERS, "ed", ED_T)
    connector = StandInConnector()
    connector.members[ED_T.id] = ED_T
    await connector.server.start_server()
    connector.url = str(connector.server.make_url("")).rstrip("/")
    session = aiohttp.ClientSession()
    teams = Teams(
        slack.core, slack.world, slack.clock, connector, str(slack.http.make_url("")).rstrip("/"), session
    )
    try:
        yield slack, teams
        await teams.settle()
    finally:
        await session.close()
        await connector.server.close()


async def test_a_teams_partners_registration_approved_from_slack(both: tuple[Slack, Teams]) -> None:
    slack, teams = both
    await teams.say(ALICE_T, "register a deal for Globex, 120k USD of Cloud Suite, closing end of March")
    (registered,) = await teams.say(ALICE_T, "yes")
    assert "D-1 is registered" in registered.text
    await slack.settle()

    review = next(c for c in slack.standin.posts(VENDOR_CHANNEL) if "D-1" in c.dump)
    await slack.click("UDANA", review, "Approve")
    await slack.settle()
    await teams.settle()

    updated = [c for c in slack.standin.of("chat.update") if c.body.get("ts") == review.answer["ts"]]
    assert updated and "Approved by Dana Reyes" in updated[-1].dump
    told = [c for c in teams.connector.to(ALICE_T) if c.kind == "send"]
    assert any("D-1 is approved: protected until 24 Feb 2027" in c.text for c in told)


async def test_a_teams_question_answered_by_a_slack_expert_and_the_reverse(both: tuple[Slack, Teams]) -> None:
    slack, teams = both
    await teams.say(ED_T, "hello")  # the expert has the bot in Teams...
    await slack.dm("UED", "questions")  # ...and wrote to it in Slack last

    await teams.say(ALICE_T, "how do I get marketing funds for a webinar with 40 attendees?")
    await teams.settle()
    await slack.settle()
    asked = [c for c in slack.standin.posts("DUED") if "Q-1" in c.dump]
    assert asked, "the question reaches the expert where the expert was last seen"

    # Ed answers in Slack; Alice gets it in Teams, where she asked.
    await slack.dm("UED", "answer Q-1: Request MDF in chat with the activity, amount and dates.")
    await slack.settle()
    await teams.settle()
    relayed = [c for c in teams.connector.to(ALICE_T) if c.kind == "send" and "Request MDF in chat" in c.text]
    assert relayed and "Helpful" in relayed[-1].text

    # The reverse: Bob asks in Slack, Ed answers from Teams, Bob reads it in Slack.
    await slack.dm("UBOB", "how do I claim marketing funds after the event?")
    await slack.settle()
    await teams.settle()
    await teams.say(ED_T, "answer Q-2: Claim with a link to the proof and the actual results.")
    await teams.settle()
    await slack.settle()
    assert any("Claim with a link to the proof" in c.dump for c in slack.standin.posts("DUBOB"))
    assert not any("Claim with a link to the proof" in c.text for c in teams.connector.to(ALICE_T))
