"""Leads in Slack (issue #5): a lead offered by DM with Accept / Decline buttons, accepted with a click,
updated in plain words, and never shown to another partner."""

from __future__ import annotations

from tests.slack.conftest import Call, Slack


def last_dm(slack: Slack, user: str) -> Call:
    posts = slack.standin.posts(f"D{user}")
    assert posts, f"nothing was posted to {user}"
    return posts[-1]


async def test_a_lead_offered_accepted_and_updated_in_slack(slack: Slack) -> None:
    await slack.dm("UALICE", "help")  # Alice has written to the bot once, so it can reach her
    await slack.dm("UDANA", "new lead Initech GmbH, contact Jane Doe jane@initech.example, DE, Cloud Suite")
    await slack.click("UDANA", last_dm(slack, "UDANA"), "Confirm")
    assert "L-1" in last_dm(slack, "UDANA").dump

    offer = next(c for c in reversed(slack.standin.posts("DUALICE")) if "L-1" in c.dump)
    assert "Accept" in offer.dump and "Decline" in offer.dump
    assert "jane@initech.example" not in offer.dump, "contact details come after accepting"
    await slack.click("UALICE", offer, "Accept")
    updates = [c for c in slack.standin.of("chat.update") if c.body.get("ts") == offer.answer["ts"]]
    assert updates and "jane@initech.example" in updates[0].dump, (
        "the offer turns into the accepted lead in place"
    )

    await slack.dm("UALICE", "L-1 is qualified, meeting next Tuesday")
    assert "Saved. L-1 is qualified - meeting next Tuesday." in last_dm(slack, "UALICE").dump
    lead = await slack.core.conversation.handle_text(slack.world.dana, "L-1")
    assert "qualified" in " ".join(f.value for f in lead[0].facts)

    await slack.dm("UBOB", "L-1")
    assert "I can't find L-1 among your leads." in last_dm(slack, "UBOB").dump
