"""The assistant pane and threads, end to end (signed events into the real app, the Web API stand-in
out):

* ``assistant_thread_started`` gets suggested prompts from the core, fitted to the role: partner
  prompts for Alice, staff prompts for Dana; a stranger only the polite text.
* A message in the assistant thread gets a status while the core works, a title from the thread's first
  message (once), and its answer - a chart too - in its thread; a retried event says nothing twice.
* A channel mention written in a thread is answered (only to the person) in that thread.
* A decision on a review card shows up in the card's thread in the vendor channel.
* A staff member's reply in that thread (``@partnerbot note …``) is kept with the deal: in the deal's
  history for staff, never for the partner.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from bot.people import UNKNOWN_PERSON_TEXT
from store.deal_models import DealNote
from store.models import AuditEntry
from tests.conversations.test_performance_transcripts import stale_contoso, with_performance
from tests.slack.conftest import BOT_USER, USERS, VENDOR_CHANNEL, Call, Slack, SlackStandIn
from tests.slack.test_slack_flows import last, register_by_dm, vendor_review

THREAD = "1700000500.000100"


async def thread_started(
    slack: Slack, user: str, *, thread_ts: str = THREAD, event_id: str | None = None
) -> Any:
    team = USERS[user][0]
    event = {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": user,
            "context": {"channel_id": "CSHARED", "team_id": team, "enterprise_id": None},
            "channel_id": f"D{user}",
            "thread_ts": thread_ts,
        },
        "event_ts": f"{time.time():.6f}",
    }
    return await slack.event(event, team=team, event_id=event_id)


async def in_thread(
    slack: Slack,
    user: str,
    text: str,
    *,
    thread_ts: str = THREAD,
    event_id: str | None = None,
    retry: int | None = None,
) -> Any:
    """A message in a DM thread (the assistant pane's chats are threads of the DM with the bot)."""
    team = USERS[user][0]
    event = {
        "type": "message",
        "channel_type": "im",
        "user": user,
        "text": text,
        "team": team,
        "channel": f"D{user}",
        "ts": f"{time.time():.6f}",
        "thread_ts": thread_ts,
        "parent_user_id": BOT_USER,
        "event_ts": f"{time.time():.6f}",
    }
    return await slack.event(event, team=team, event_id=event_id, retry=retry)


async def mention_in_thread(slack: Slack, user: str, text: str, *, channel: str, thread_ts: str) -> Any:
    team = USERS[user][0]
    event = {
        "type": "app_mention",
        "user": user,
        "text": f"<@{BOT_USER}> {text}",
        "team": team,
        "channel": channel,
        "ts": f"{time.time():.6f}",
        "thread_ts": thread_ts,
        "event_ts": f"{time.time():.6f}",
    }
    return await slack.event(event, team=team)


def prompts_of(call: Call) -> list[tuple[str, str]]:
    return [(p["title"], p["message"]) for p in call.body["prompts"]]


# -- the assistant pane ----------------------------------------------------------------------------


async def test_a_new_assistant_thread_gets_prompts_for_the_persons_role(slack: Slack) -> None:
    standin = slack.standin
    await thread_started(slack, "UALICE")
    (alice,) = standin.of("assistant.threads.setSuggestedPrompts")
    assert alice.answer == {} and alice.body["channel_id"] == "DUALICE" and alice.body["thread_ts"] == THREAD
    assert prompts_of(alice) == slack.core.conversation.suggested_prompts(slack.world.alice)
    assert ("Your open registrations", "show my deals") in prompts_of(alice)

    await thread_started(slack, "UDANA", thread_ts="1700000500.000200")
    dana = last(standin.of("assistant.threads.setSuggestedPrompts", channel_id="DUDANA"))
    assert prompts_of(dana) == slack.core.conversation.suggested_prompts(slack.world.dana)
    assert ("Registrations waiting for review", "pending") in prompts_of(dana)
    assert not {m for _, m in prompts_of(alice)} & {m for _, m in prompts_of(dana)}

    # A stranger: the polite text in the thread, no prompts. The context event changes nothing.
    await thread_started(slack, "USTRANGER", thread_ts="1700000500.000300")
    assert not standin.of("assistant.threads.setSuggestedPrompts", channel_id="DUSTRANGER")
    (polite,) = standin.posts("DUSTRANGER")
    assert polite.body["thread_ts"] == "1700000500.000300"
    assert UNKNOWN_PERSON_TEXT.split(":")[0] in polite.dump
    before = len(standin.calls)
    changed = {
        "type": "assistant_thread_context_changed",
        "assistant_thread": {
            "user_id": "UALICE",
            "context": {"channel_id": "CGENERAL", "team_id": "TNORTH"},
            "channel_id": "DUALICE",
            "thread_ts": THREAD,
        },
        "event_ts": f"{time.time():.6f}",
    }
    response = await slack.event(changed, team="TNORTH")
    assert response.status == 200 and len(standin.calls) == before


async def test_a_message_in_the_thread_gets_a_status_a_title_and_its_answer_there(slack: Slack) -> None:
    standin = slack.standin
    await thread_started(slack, "UALICE")
    standin.calls.clear()
    await in_thread(slack, "UALICE", "show my deals", event_id="EvT1")

    methods = [c.method for c in standin.calls if c.method.startswith(("assistant.", "chat."))]
    assert methods == ["assistant.threads.setStatus", "assistant.threads.setTitle", "chat.postMessage"]
    (status,) = standin.of("assistant.threads.setStatus")
    assert status.body == {"channel_id": "DUALICE", "thread_ts": THREAD, "status": "is thinking…"}
    (title,) = standin.of("assistant.threads.setTitle")
    assert title.body["title"] == "show my deals" and title.body["thread_ts"] == THREAD
    (answer,) = standin.posts("DUALICE")
    assert answer.body["thread_ts"] == THREAD and "No open deals" in answer.dump

    # The same conversation as the DM: a registration goes on in the thread; the title stays.
    await in_thread(
        slack,
        "UALICE",
        "register a deal for Globex Corporation, 120k USD of Cloud Suite, closing end of March",
    )
    assert "Register this deal?" in last(standin.posts("DUALICE")).dump
    await in_thread(slack, "UALICE", "yes")
    assert "D-1 is registered" in last(standin.posts("DUALICE")).dump
    assert len(standin.of("assistant.threads.setTitle")) == 1
    assert len(standin.of("assistant.threads.setStatus")) == 3
    assert all(c.body.get("thread_ts") == THREAD for c in standin.posts("DUALICE"))

    # Slack retries the first event: nothing is said, titled or done twice.
    posts = len(standin.posts("DUALICE"))
    await in_thread(slack, "UALICE", "show my deals", event_id="EvT1", retry=1)
    assert len(standin.posts("DUALICE")) == posts
    assert len(standin.of("assistant.threads.setTitle")) == 1


async def test_a_thread_is_titled_from_its_first_message_and_a_refused_status_changes_nothing(
    slack: Slack,
) -> None:
    standin = slack.standin
    standin.fail("assistant.threads.setStatus", status=200, error="invalid_thread", retry_after=None, times=9)
    long = "what's the status of the Globex deal and when do I hear back from the vendor about it?"
    await in_thread(slack, "UALICE", long, thread_ts="1700000600.000100")
    (title,) = standin.of("assistant.threads.setTitle")
    assert len(title.body["title"]) <= 60 and title.body["title"].endswith("…")
    assert title.body["title"].startswith("what's the status of the Globex deal")
    (answer,) = standin.posts("DUALICE")
    assert answer.body["thread_ts"] == "1700000600.000100"


async def test_a_chart_answered_in_a_thread_goes_into_the_thread(slack: Slack, standin: SlackStandIn) -> None:
    with_performance(slack.core)
    await stale_contoso(slack.core, slack.world, slack.clock)
    standin.calls.clear()
    await in_thread(slack, "UDANA", "scorecard for Contoso", thread_ts="1700000700.000100")
    (post,) = [c for c in standin.posts("DUDANA") if "Scorecard" in c.body["text"]]
    assert post.body["thread_ts"] == "1700000700.000100"
    (complete,) = standin.of("files.completeUploadExternal")
    assert complete.body["channel_id"] == "DUDANA" and complete.body["thread_ts"] == "1700000700.000100"


# -- threads in channels ---------------------------------------------------------------------------


async def test_a_mention_in_a_channel_thread_is_answered_in_that_thread_to_the_person(slack: Slack) -> None:
    await mention_in_thread(slack, "UALICE", "help", channel="CSHARED", thread_ts="1700000800.000100")
    answer = last(slack.standin.of("chat.postEphemeral"))
    assert answer.body["channel"] == "CSHARED" and answer.body["user"] == "UALICE"
    assert answer.body["thread_ts"] == "1700000800.000100" and "Here's what I can do" in answer.dump
    assert not slack.standin.of("chat.postMessage", channel="CSHARED")


async def test_a_decision_on_a_review_card_is_told_in_the_cards_thread(slack: Slack) -> None:
    await register_by_dm(slack, "UALICE")
    review = vendor_review(slack, "D-1")
    await slack.click("UDANA", review, "Approve")
    (line,) = [c for c in slack.standin.posts(VENDOR_CHANNEL) if c.body.get("thread_ts")]
    assert line.body["thread_ts"] == review.answer["ts"]
    assert line.body["text"].startswith("Approved by Dana Reyes")
    assert not [b for b in line.body["blocks"] if b["type"] == "actions"], "a line, no buttons"
    # A second click decides nothing and tells the thread nothing more.
    await slack.click("UDANA", review, "Approve")
    assert len([c for c in slack.standin.posts(VENDOR_CHANNEL) if c.body.get("thread_ts")]) == 1


async def test_a_staff_reply_in_the_cards_thread_is_kept_with_the_deal_for_staff_only(slack: Slack) -> None:
    await register_by_dm(slack, "UALICE")
    review = vendor_review(slack, "D-1")
    card_ts = review.answer["ts"]
    await mention_in_thread(
        slack,
        "UDANA",
        "note customer confirmed the budget with their CFO",
        channel=VENDOR_CHANNEL,
        thread_ts=card_ts,
    )
    answer = last(slack.standin.of("chat.postEphemeral", user="UDANA"))
    assert answer.body["channel"] == VENDOR_CHANNEL and answer.body["thread_ts"] == card_ts
    assert "Noted on D-1" in answer.dump
    async with slack.core.db.transaction() as session:
        notes = (await session.execute(select(DealNote))).scalars().all()
        audit = (
            (await session.execute(select(AuditEntry).where(AuditEntry.action == "deal.note")))
            .scalars()
            .all()
        )
    assert [n.body for n in notes] == ["customer confirmed the budget with their CFO"]
    assert [(a.entity, a.channel) for a in audit] == [("D-1", "slack")]

    # Staff read it with the deal's history; the partner, whatever she asks, never does.
    await slack.dm("UCARL", "history D-1")
    assert (
        "staff note: customer confirmed the budget with their CFO" in last(slack.standin.posts("DUCARL")).dump
    )
    await slack.dm("UALICE", "history D-1")
    await slack.dm("UALICE", "D-1")
    await slack.click("UDANA", review, "Approve")
    await slack.home_opened("UALICE")
    seen_by_alice = slack.standin.to_user("UALICE")
    assert seen_by_alice and all("CFO" not in c.dump for c in seen_by_alice)
    assert any("History of D-1" in c.dump for c in slack.standin.posts("DUALICE")), "she did get her history"
