"""Leads in Teams (issue #5): the offer arrives proactively as a card, Accept replaces it in place, and
the partner updates the lead in plain words; another partner can't see it."""

from __future__ import annotations

from tests.teams.teams_harness import USERS, Teams, card_actions

ALICE, BOB, DANA = USERS["alice"], USERS["bob"], USERS["dana"]


async def test_a_lead_offered_accepted_and_updated_in_teams(teams: Teams) -> None:
    await teams.say(ALICE, "help")  # the bot learns Alice's chat
    answers = await teams.say(
        DANA, "new lead Initech GmbH, contact Jane Doe jane@initech.example, DE, Cloud Suite"
    )
    summary = next(a for a in answers if a.cards and "Confirm" in {x["title"] for x in card_actions(a.card)})
    answers = await teams.click(DANA, summary, "Confirm")
    assert any("L-1" in a.text for a in answers)
    await teams.settle()

    offers = [c for c in teams.connector.to(ALICE) if c.kind == "send" and "L-1" in c.text]
    assert offers, "the offer reaches Alice proactively"
    offer = offers[-1]
    assert {"Accept", "Decline"} <= {a["title"] for a in card_actions(offer.card)}
    assert "jane@initech.example" not in offer.text

    accepted = await teams.click(ALICE, offer, "Accept")
    assert accepted and accepted[0].kind == "invoke" and accepted[0].activity_id == offer.activity_id
    assert "jane@initech.example" in accepted[0].text

    saved = await teams.say(ALICE, "L-1 is qualified, meeting next Tuesday")
    assert any("Saved. L-1 is qualified - meeting next Tuesday." in a.text for a in saved)

    foreign = await teams.say(BOB, "L-1")
    assert [a.text for a in foreign] == ["I can't find L-1 among your leads."]
