"""Vendor review in Teams, proactive notifications through the outbox, retries and idempotency."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bot.kernel.messages import Reply
from bot.kernel.outbox import DeliveryError
from handlers.teams.notifier import TeamsNotifier
from store import queries
from store.deal_models import Deal, DealHistory
from store.models import OutboxMessage
from tests.conftest import fail_first_call
from tests.teams.teams_harness import USERS, Call, Teams, card_actions

ALICE, DANA = USERS["alice"], USERS["dana"]
REGISTER = "register a deal for Globex, 120k USD of Cloud Suite, closing end of March"


async def _register_d1(teams: Teams) -> None:
    await teams.say(ALICE, REGISTER)
    (registered,) = await teams.say(ALICE, "yes")
    assert "D-1 is registered" in registered.text


async def _review_card(teams: Teams) -> Call:
    """Dana says hello (so the bot knows her chat), Alice registers D-1, the review card arrives."""
    await teams.say(DANA, "pending")
    await _register_d1(teams)
    await teams.settle()
    (review,) = [c for c in teams.connector.to(DANA) if c.kind == "send"]
    assert "New registration D-1 from Northwind Partners" in review.text
    return review


async def _outbox(teams: Teams) -> list[OutboxMessage]:
    async with teams.core.db.transaction() as session:
        rows = list(await queries.outbox_for(session))
        session.expunge_all()
        return rows


async def test_staff_approves_from_the_review_card_and_the_partner_is_told(teams: Teams) -> None:
    """(c) Dana approves on the review card in her Teams chat: that card becomes the outcome in place.
    (d) Alice gets a proactive message with the approval and the end of the protection."""
    review = await _review_card(teams)
    assert [a["title"] for a in card_actions(review.card)] == ["Approve", "Reject", "Ask for info"]
    assert review.body["summary"].startswith("New registration D-1")

    answers = await teams.click(DANA, review, "Approve")
    assert [a.kind for a in answers] == ["invoke"]
    (outcome,) = answers
    assert outcome.conversation == DANA.conversation and outcome.activity_id == review.activity_id
    assert "Approved by Dana Reyes: protected until 24 Feb 2027" in outcome.text
    assert [a["title"] for a in card_actions(outcome.card)] == ["Open"]

    await teams.settle()
    # The outbox replaces every copy of the review card too (here: the same message, again).
    assert all("Approved by Dana Reyes" in u.text for u in teams.connector.updates(review.activity_id))
    notices = [c for c in teams.connector.to(ALICE) if c.kind == "send"]
    assert len(notices) == 1
    (notice,) = notices
    assert "D-1 is approved: protected until 24 Feb 2027." in notice.text
    assert notice.body["summary"].startswith("D-1 · Globex")
    assert "replyToId" not in notice.body  # a new message in Alice's chat, not a reply to anything
    assert [a["title"] for a in card_actions(notice.card)] == ["Update", "Ask for extension"]

    (row,) = [r for r in await _outbox(teams) if r.kind == "deal"]
    assert row.status == "sent"


async def test_approval_from_slack_reaches_the_teams_partner(teams: Teams) -> None:
    """(e) Dana decides from Slack (the core call the Slack handler makes, with a Slack Actor); Alice,
    who uses Teams, is told in Teams, and Dana's Teams copy of the review card is updated too."""
    review = await _review_card(teams)
    dana_on_slack = await teams.core.people.actor_by_email("dana@vendor.example", channel="slack")
    assert dana_on_slack is not None and dana_on_slack.channel == "slack"
    (outcome,) = await teams.core.conversation.handle_action(dana_on_slack, "deal.approve", {"ref": "D-1"})
    assert "Approved by Dana Reyes" in outcome.text

    await teams.settle()
    (notice,) = [c for c in teams.connector.to(ALICE) if c.kind == "send"]
    assert notice.conversation == ALICE.conversation
    assert "D-1 is approved: protected until 24 Feb 2027." in notice.text
    (update,) = teams.connector.updates(review.activity_id)
    assert "Approved by Dana Reyes" in update.text
    deal = await teams.core.deals.get(teams.world.alice, "D-1", history=True)
    assert deal.status == "approved" and deal.history[-1].channel == "slack"


async def test_redelivered_activity_applies_once(teams: Teams) -> None:
    """(h) Teams retries an activity (same id): the second delivery changes and says nothing."""
    await teams.say(DANA, "pending")
    await teams.say(ALICE, REGISTER)
    confirm = teams.activity(ALICE, text="yes", id="in-confirm-1")
    for _ in range(2):
        assert (await teams.post(confirm)).status in (200, 201)
    answers = [c for c in teams.connector.to(ALICE) if c.body.get("replyToId") == "in-confirm-1"]
    assert len(answers) == 1 and "D-1 is registered" in answers[0].text
    async with teams.core.db.transaction() as session:
        assert (await session.execute(select(func.count()).select_from(Deal))).scalar_one() == 1
    await teams.settle()
    assert len([c for c in teams.connector.to(DANA) if c.kind == "send"]) == 1


async def test_double_click_on_approve_applies_once(teams: Teams) -> None:
    """(h) Two clicks on the same Approve button (two activities): one approval, one notification; the
    second click gets a plain line and leaves the updated card alone."""
    review = await _review_card(teams)
    first = await teams.click(DANA, review, "Approve")
    await teams.core.settle()  # the outbox updates the card too; keep that apart from the second click
    second = await teams.click(DANA, review, "Approve")
    assert [c.kind for c in first] == ["invoke"]
    assert [c.kind for c in second] == ["invoke"]  # a plain line, answered in the invoke
    assert second[0].body["text"] == "D-1 is approved, so it can't be approved now."

    # A redelivery of the first click (same activity id) is silent.
    replay = teams.activity(
        DANA,
        value={"pb": {"a": "deal.approve", "d": {"ref": "D-1"}}},
        replyToId=review.activity_id,
        id="in-click-x",
    )
    await teams.post(replay)
    before = len(teams.connector.calls)
    await teams.post(replay)
    assert teams.connector.calls[before:] == []

    await teams.settle()
    async with teams.core.db.transaction() as session:
        approvals = (
            await session.execute(
                select(func.count())
                .select_from(DealHistory)
                .where(DealHistory.field == "status", DealHistory.new_value == "approved")
            )
        ).scalar_one()
    assert approvals == 1
    assert len([c for c in teams.connector.to(ALICE) if c.kind == "send"]) == 1


async def test_throttled_proactive_message_is_retried_later(teams: Teams) -> None:
    """(j) The Bot Connector answers 429 with Retry-After: the row stays pending, its next attempt is
    moved by Retry-After, and it is delivered exactly once later."""
    await teams.say(DANA, "pending")
    teams.connector.fail("send", 429, retry_after=7)
    await _register_d1(teams)
    await teams.settle()

    throttled = [c for c in teams.connector.calls if c.conversation == DANA.conversation and c.kind == "send"]
    assert [c.status for c in throttled] == [429]
    (row,) = [r for r in await _outbox(teams) if r.kind == "review"]
    assert row.status == "pending" and row.attempts == 1
    assert row.next_attempt_at == teams.clock() + timedelta(seconds=7)
    assert "429" in (row.last_error or "")

    report = await teams.core.dispatcher().deliver_due()
    assert report.sent == 0  # not due yet
    teams.clock.advance(seconds=7)
    report = await teams.core.dispatcher().deliver_due()
    assert report.sent == 1
    delivered = [c for c in teams.connector.to(DANA) if c.kind == "send"]
    assert len(delivered) == 1 and "New registration D-1" in delivered[0].text
    (row,) = [r for r in await _outbox(teams) if r.kind == "review"]
    assert row.status == "sent" and row.attempts == 2
    report = await teams.core.dispatcher().deliver_due()
    assert report.sent == 0


async def test_connector_answers_map_to_retry_or_give_up(teams: Teams) -> None:
    """One connector call per attempt (no hidden SDK retries); 5xx/412 retry, 403/404 give up."""
    await teams.say(ALICE, "hello")
    async with teams.core.db.transaction() as session:
        (identity,) = await queries.identities_of(session, teams.world.alice.person_id)
        target = {
            **identity.conversation_ref,
            "person_id": identity.person_id,
            "external_id": identity.external_id,
        }
    notifier = teams.core.notifiers["teams"]
    assert isinstance(notifier, TeamsNotifier)
    reply = Reply(title="D-1 · Globex", text="Something happened.")

    for status, permanent in ((502, False), (504, False), (412, False), (403, True), (404, True)):
        teams.connector.fail("send", status, retry_after=3)
        before = len(teams.connector.calls)
        try:
            await notifier.send(target=target, reply=reply, idempotency_key=f"k-{status}")
        except DeliveryError as exc:
            assert exc.permanent is permanent, status
            assert exc.retry_after == (None if permanent else 3.0)
        else:
            raise AssertionError(f"{status} should fail")
        assert len(teams.connector.calls) - before == 1, f"{status}: the SDK retried on its own"

    ref = await notifier.send(target=target, reply=reply, idempotency_key="k-ok")
    assert ref["conversation_id"] == ALICE.conversation and ref["activity_id"].startswith("act-")
    assert (
        ref["service_url"] == teams.connector.url
        and ref["reference"]["conversation"]["id"] == ALICE.conversation
    )

    # Updating a message that is gone is not an error worth retrying; throttling is.
    teams.connector.fail("update", 404)
    await notifier.update(message_ref=ref, reply=Reply(text="new"))
    teams.connector.fail("update", 429, retry_after=2)
    try:
        await notifier.update(message_ref=ref, reply=Reply(text="new"))
    except DeliveryError as exc:
        assert not exc.permanent and exc.retry_after == 2.0
    else:
        raise AssertionError("429 on update should be retried")


async def test_unreachable_connector_is_retried_and_vendor_channel_is_not_teams(teams: Teams) -> None:
    notifier = teams.core.notifiers["teams"]
    reference = {
        "serviceUrl": "http://127.0.0.1:9/",
        "channelId": "msteams",
        "conversation": {"id": "a:dm-x"},
        "bot": {"id": "28:partnerbot-app"},
        "user": {"id": "29:x"},
    }
    try:
        await notifier.send(
            target={"extras": {"reference": reference}, "person_id": 1},
            reply=Reply(text="hi"),
            idempotency_key="k1",
        )
    except DeliveryError as exc:
        assert not exc.permanent
    else:
        raise AssertionError("a closed port should fail")
    for target in ({"vendor_channel": True}, {"person_id": 1, "extras": {}}):
        try:
            await notifier.send(target=target, reply=Reply(text="hi"), idempotency_key="k2")
        except DeliveryError as exc:
            assert exc.permanent
        else:
            raise AssertionError(f"{target} is not deliverable on Teams")


async def test_same_activity_id_in_two_chats_is_two_requests(teams: Teams) -> None:
    """Teams activity ids are unique per conversation only (personal-chat ids are timestamps)."""
    alex = USERS["alex"]
    for user in (ALICE, alex):
        response = await teams.post(teams.activity(user, text="show my deals", id="1732615200000"))
        assert response.status in (200, 201)
    assert len(teams.connector.to(ALICE)) == 1 and len(teams.connector.to(alex)) == 1


async def test_a_failed_reply_is_sent_again_by_the_next_attempt(teams: Teams) -> None:
    """The connector refuses the answer: the turn fails, the inbox tries it again after its backoff,
    and the answer - kept by the core, not worked out again - arrives once (issue #15)."""
    teams.connector.fail("reply", 502)
    response = await teams.post(teams.activity(ALICE, text="show my deals"))
    assert response.status in (200, 201)
    assert [c.status for c in teams.connector.calls if c.kind == "reply"] == [502]
    teams.clock.advance(minutes=1)
    await teams.core.inbox.drain()
    replies = [c for c in teams.connector.calls if c.kind == "reply"]
    assert [c.status for c in replies] == [502, 200]
    assert "Sorry" not in json.dumps(replies[1].body) and "deal" in json.dumps(replies[1].body).lower()


async def test_a_failure_in_the_core_is_retried_and_answered_once(teams: Teams, monkeypatch: Any) -> None:
    """The work raises once: the person hears it is being retried, the inbox's next attempt registers
    the deal once and answers once."""
    attempts = fail_first_call(monkeypatch, teams.core.deals, "register")
    await teams.say(ALICE, "register a deal for Initech, 85k EUR of Cloud Suite, closing end of March")
    await teams.say(ALICE, "yes")
    texts = lambda: [json.dumps(c.body) for c in teams.connector.to(ALICE)]  # noqa: E731
    assert sum("trying it again" in t for t in texts()) == 1
    # The Agents SDK's own turn-error handler would post "Exception caught : ..." to the person.
    assert not any("the database went away" in t or "Exception" in t for t in texts())
    teams.clock.advance(minutes=1)
    await teams.core.inbox.drain()
    assert attempts["n"] == 2
    assert sum("D-1 is registered" in t for t in texts()) == 1
    assert sum("trying it again" in t for t in texts()) == 1
