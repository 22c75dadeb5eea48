"""Universal Actions: every button is an ``Action.Execute`` (an ``adaptiveCard/action`` invoke), and a
card about one record refreshes for each viewer - each sees the record as the core shows it to them:
the decision buttons of a review card only for an approver, the outcome for everyone once decided."""

from __future__ import annotations

from tests.teams.teams_harness import USERS, Call, Teams, card_actions

ALICE, DANA, CARL = USERS["alice"], USERS["dana"], USERS["carl"]
REGISTER = "register a deal for Globex, 120k USD of Cloud Suite, closing end of March"
DECISIONS = {"Approve", "Reject", "Ask for info"}


def _titles(call: Call) -> set[str]:
    return {a["title"] for a in card_actions(call.card)}


async def _review_card(teams: Teams) -> Call:
    await teams.say(DANA, "pending")
    await teams.say(CARL, "pending")
    await teams.say(ALICE, REGISTER)
    await teams.say(ALICE, "yes")
    await teams.settle()
    (review,) = [c for c in teams.connector.to(DANA) if c.kind == "send"]
    return review


async def test_buttons_and_forms_are_action_execute(teams: Teams) -> None:
    await teams.say(ALICE, "help")
    await teams.say(ALICE, REGISTER)
    await _review_card(teams)
    kinds = {a["type"] for card in teams.connector.all_cards() for a in card_actions(card)}
    assert "Action.Submit" not in kinds and "Action.Execute" in kinds
    executes = [
        a for card in teams.connector.all_cards() for a in card_actions(card) if a["type"] == "Action.Execute"
    ]
    assert all(a["verb"] == a["data"]["pb"].get("a", a["data"]["pb"].get("form")) for a in executes)


async def test_a_review_card_shows_its_decision_buttons_only_to_approvers(teams: Teams) -> None:
    review = await _review_card(teams)
    refresh = review.card["refresh"]
    assert refresh["userIds"] == [DANA.id] and refresh["action"]["type"] == "Action.Execute"

    dana_sees = await teams.refresh(DANA, review)
    assert DECISIONS <= _titles(dana_sees) and "D-1" in dana_sees.text
    # The same card, refreshed for someone else who looks at it (a channel manager who is no approver;
    # the partner who registered it): no decision buttons, and the partner no staff-only details.
    carl_sees = await teams.refresh(CARL, review)
    assert not DECISIONS & _titles(carl_sees) and "Northwind" in carl_sees.text
    alice_sees = await teams.refresh(ALICE, review)
    assert not DECISIONS & _titles(alice_sees) and "Possible conflict" not in alice_sees.text

    (decided, *_) = await teams.click(DANA, dana_sees, "Approve")
    assert decided.kind == "invoke" and "Approved by Dana Reyes" in decided.text
    await teams.settle()
    # Everyone sees the outcome: the message itself is updated for all, and every refresh shows it.
    assert any("Approved by Dana Reyes" in u.text for u in teams.connector.updates(review.activity_id))
    for viewer in (DANA, CARL):
        now = await teams.refresh(viewer, review)
        assert "approved, protected until" in now.text and not DECISIONS & _titles(now)


async def test_a_refresh_for_someone_who_may_not_see_the_record_shows_nothing_of_it(teams: Teams) -> None:
    review = await _review_card(teams)
    bob_sees = await teams.refresh(USERS["bob"], review)
    assert bob_sees.body.get("text") == "I can't find D-1 among your deals."
    assert not bob_sees.cards()


async def test_a_card_posted_before_universal_actions_still_works(teams: Teams) -> None:
    """Action.Submit cards already in people's chats send a message with the payload as ``value``."""
    review = await _review_card(teams)
    activity = teams.activity(
        DANA, value={"pb": {"a": "deal.approve", "d": {"ref": "D-1"}}}, replyToId=review.activity_id
    )
    response = await teams.post(activity)
    assert response.status in (200, 201)
    (update, *_) = teams.connector.updates(review.activity_id)
    assert "Approved by Dana Reyes" in update.text
