"""The Slack channel end to end: signed requests into the real aiohttp app, the Web API stand-in out.

Acceptance of issue #3: (a) registration through the modal, (b) in a DM conversation, (c) approval from
the vendor channel updates the review message in place, (d) the partner is told by DM, (e) a conflict
reaches staff but never the other partner, (f) retries and double clicks apply once, (g) forged or stale
requests are refused untouched, (h) strangers get the polite text only, (i) App Home, (j) 429 on the
outbox path. (k) every payload is validated by the ``slack`` fixture; (l) is in test_manifest.py.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bot.people import UNKNOWN_PERSON_TEXT
from store.deal_models import Deal
from store.models import ChatIdentity, DialogState, OutboxMessage, ProcessedRequest
from tests.slack.conftest import VENDOR_CHANNEL, Call, Slack

REGISTER_SENTENCE = "register a deal for Globex Corporation, 120k USD of Cloud Suite, closing end of March"


async def deal_count(slack: Slack) -> int:
    return await rows(slack, Deal)


async def rows(slack: Slack, model: Any) -> int:
    async with slack.core.db.transaction() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


def text_objects(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if node.get("type") in ("plain_text", "mrkdwn") and "text" in node else []
        return found + [t for value in node.values() for t in text_objects(value)]
    if isinstance(node, list):
        return [t for value in node for t in text_objects(value)]
    return []


def last(calls: list[Call]) -> Call:
    assert calls, "expected at least one call"
    return calls[-1]


def vendor_review(slack: Slack, ref: str) -> Call:
    posts = [c for c in slack.standin.posts(VENDOR_CHANNEL) if ref in c.dump]
    assert len(posts) == 1, [c.dump[:200] for c in slack.standin.posts(VENDOR_CHANNEL)]
    return posts[0]


async def register_by_dm(slack: Slack, user: str, sentence: str = REGISTER_SENTENCE) -> Call:
    await slack.dm(user, sentence)
    summary = last(slack.standin.posts(f"D{user}"))
    assert "Register this deal?" in summary.dump
    await slack.dm(user, "yes")
    return last(slack.standin.posts(f"D{user}"))


# -- (a) the modal ---------------------------------------------------------------------------------


async def test_a_partner_registers_through_the_modal(slack: Slack) -> None:
    response = await slack.command("UALICE", "register", channel="CGENERAL")
    assert response.status == 200
    opened = last(slack.standin.of("views.open"))
    view = opened.body["view"]
    assert view["callback_id"] == "pb_form"
    assert opened.body["trigger_id"].startswith("trig-UALICE-")
    fields = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert set(fields) == {"customer", "domain", "country", "product", "amount", "close_date", "notes"}
    assert fields["product"]["element"]["type"] == "static_select"
    assert fields["notes"]["element"]["multiline"] is True
    assert fields["domain"]["optional"] is True and fields["customer"]["optional"] is False
    assert "end of March" in json.dumps(fields["close_date"])  # free text with a hint, not a datepicker
    meta = json.loads(view["private_metadata"])
    assert meta["form_id"] == "deal.register" and meta["by"] == "TNORTH:UALICE" and meta["sig"]

    # A bad amount comes back as a field error; nothing is posted, nothing registered.
    posts_before = len(slack.standin.of("chat.postMessage"))
    response = await slack.submit(
        "UALICE",
        opened,
        {
            "customer": "Globex Corporation",
            "product": "Cloud Suite",
            "amount": "lots",
            "close_date": "end of March",
        },
    )
    answer = await response.json()
    assert answer["response_action"] == "errors" and set(answer["errors"]) == {"amount"}
    assert len(slack.standin.of("chat.postMessage")) == posts_before

    response = await slack.submit(
        "UALICE",
        opened,
        {
            "customer": "Globex Corporation",
            "product": "Cloud Suite",
            "amount": "120k USD",
            "close_date": "end of March",
            "notes": "<!channel> *urgent*",
        },
    )
    assert response.status == 200 and (await response.text()) == ""  # the modal closes
    # The modal is the review: its submit registers, with no second "Register this deal?".
    registered = last(slack.standin.posts("DUALICE"))
    assert "D-1 is registered" in registered.dump and "Register this deal?" not in registered.dump
    assert not any("Register this deal?" in c.dump for c in slack.standin.posts("DUALICE"))
    # What the partner typed shows literally: no @channel ping.
    assert "<!channel>" not in registered.body["text"]
    assert await deal_count(slack) == 1
    # The vendor channel got the review card through the outbox.
    review = vendor_review(slack, "D-1")
    assert "Approve" in review.dump and "Northwind" in review.dump


async def test_slash_command_answers_only_the_person(slack: Slack) -> None:
    await slack.command("UALICE", "", channel="CSHARED")  # help in a (possibly shared) channel
    answer = last(slack.standin.of("response_url"))
    assert answer.path.startswith("/respond/UALICE/")
    assert answer.body["response_type"] == "ephemeral"
    assert "Here's what I can do" in answer.dump
    assert not slack.standin.of("chat.postMessage", channel="CSHARED")

    await slack.command("UALICE", "show my deals")  # in the DM with the bot: a real DM message
    assert "No open deals" in last(slack.standin.posts("DUALICE")).dump


async def test_app_mention_is_answered_ephemerally(slack: Slack) -> None:
    await slack.mention("UALICE", "help")
    answer = last(slack.standin.of("chat.postEphemeral"))
    assert answer.body["channel"] == "CSHARED" and answer.body["user"] == "UALICE"
    assert "Here's what I can do" in answer.dump
    assert not slack.standin.of("chat.postMessage", channel="CSHARED")


# -- (b) the DM conversation -----------------------------------------------------------------------


async def test_b_partner_registers_in_a_dm_conversation(slack: Slack) -> None:
    await slack.dm("UALICE", "register a deal for Globex Corporation")
    assert "Which product" in last(slack.standin.posts("DUALICE")).dump
    await slack.dm("UALICE", "Cloud Suite")
    await slack.dm("UALICE", "120k USD")
    await slack.dm("UALICE", "end of March")
    assert "Register this deal?" in last(slack.standin.posts("DUALICE")).dump
    await slack.dm("UALICE", "yes")
    assert "D-1 is registered" in last(slack.standin.posts("DUALICE")).dump
    assert await deal_count(slack) == 1
    # The identity now remembers the DM channel for notifications.
    async with slack.core.db.transaction() as session:
        identity = (
            await session.execute(
                select(ChatIdentity).where(
                    ChatIdentity.platform == "slack", ChatIdentity.external_id == "UALICE"
                )
            )
        ).scalar_one()
    assert identity.workspace == "TNORTH" and identity.external_id == "UALICE"
    assert identity.conversation_ref["extras"] == {"team": "TNORTH", "user": "UALICE", "channel": "DUALICE"}


async def test_bot_messages_and_edits_are_ignored(slack: Slack) -> None:
    base = {"type": "message", "channel_type": "im", "channel": "DUALICE", "team": "TNORTH", "ts": "1.1"}
    await slack.event({**base, "subtype": "message_changed", "message": {"text": "x"}}, team="TNORTH")
    await slack.event({**base, "bot_id": "BBOT", "user": "UBOT", "text": "hello"}, team="TNORTH")
    assert not slack.standin.of("chat.postMessage")


# -- (c), (d) approval from the vendor channel -----------------------------------------------------


async def test_c_d_approver_approves_in_the_vendor_channel(slack: Slack) -> None:
    await register_by_dm(slack, "UALICE")
    review = vendor_review(slack, "D-1")
    review_ts = review.answer["ts"]
    dana_before = len(slack.standin.posts("DUDANA"))  # her own copy of the review, as channel manager

    await slack.click("UDANA", review, "Approve")
    updates = slack.standin.of("chat.update", channel=VENDOR_CHANNEL, ts=review_ts)
    assert updates, "the review message was not updated in place"
    assert all("Approved by Dana" in u.dump for u in updates)
    assert 'Approve"' not in json.dumps(updates[-1].body["blocks"])  # the decision buttons are gone
    # Nothing new at the top of the vendor channel, nothing in Dana's DM: the card itself shows the
    # outcome, and its thread keeps the decision (tests/slack/test_slack_threads.py).
    assert [c for c in slack.standin.posts(VENDOR_CHANNEL) if not c.body.get("thread_ts")] == [review]
    assert len(slack.standin.posts("DUDANA")) == dana_before

    # (d) Alice hears about it in her DM, through the outbox.
    notice = last(slack.standin.posts("DUALICE"))
    assert "D-1 is approved" in notice.dump and "protected until" in notice.dump


async def test_only_approvers_decide(slack: Slack) -> None:
    await register_by_dm(slack, "UALICE")
    review = vendor_review(slack, "D-1")
    await slack.click("UCARL", review, "Approve")  # a channel manager, not an approver
    assert not slack.standin.of("chat.update", channel=VENDOR_CHANNEL)
    assert "approver" in last(slack.standin.posts("DUCARL")).dump.lower()
    assert "approved" not in last(slack.standin.posts("DUALICE")).dump


async def test_reject_opens_a_modal_and_replaces_the_card(slack: Slack) -> None:
    await register_by_dm(slack, "UALICE")
    review = vendor_review(slack, "D-1")
    await slack.click("UDANA", review, "Reject")
    opened = last(slack.standin.of("views.open"))
    meta = json.loads(opened.body["view"]["private_metadata"])
    assert meta["origin"] == {"channel": VENDOR_CHANNEL, "ts": review.answer["ts"]}
    response = await slack.submit("UDANA", opened, {"reason": "Customer is a named account"})
    assert response.status == 200
    updates = slack.standin.of("chat.update", channel=VENDOR_CHANNEL, ts=review.answer["ts"])
    assert updates and "Rejected by Dana" in updates[0].dump
    assert "not approved" in last(slack.standin.posts("DUALICE")).dump


# -- (e) conflicts stay with staff -----------------------------------------------------------------


async def test_e_conflict_reaches_staff_but_not_the_other_partner(slack: Slack) -> None:
    await register_by_dm(slack, "UALICE", REGISTER_SENTENCE)
    await slack.command("UBOB", "register")
    opened = last(slack.standin.of("views.open"))
    await slack.submit(
        "UBOB",
        opened,
        {
            "customer": "Globex Corp.",
            "product": "Cloud Suite",
            "amount": "90k USD",
            "close_date": "end of April",
        },
    )
    assert "D-2 is registered" in last(slack.standin.posts("DUBOB")).dump
    await slack.dm("UBOB", "show my deals")
    await slack.dm("UBOB", "show all deals")
    await slack.dm("UBOB", "what's the status of the Globex deal?")
    await slack.home_opened("UBOB")

    conflict = vendor_review(slack, "D-2")
    assert "Possible conflict" in conflict.dump and "D-1" in conflict.dump and "Northwind" in conflict.dump

    seen_by_bob = slack.standin.to_user("UBOB")
    assert len(seen_by_bob) >= 6
    for call in seen_by_bob:
        for secret in ("Northwind", "Alice", "D-1"):
            assert secret not in call.dump, f"{call.method} to Bob shows {secret}: {call.dump[:300]}"


# -- (f) retries and double clicks -----------------------------------------------------------------


async def test_f_a_retried_event_applies_once(slack: Slack) -> None:
    await slack.dm("UALICE", REGISTER_SENTENCE, event_id="Ev100")
    assert len(slack.standin.posts("DUALICE")) == 1
    response = await slack.dm("UALICE", REGISTER_SENTENCE, event_id="Ev100", retry=1)
    assert response.status == 200
    assert len(slack.standin.posts("DUALICE")) == 1  # the retry said nothing twice
    await slack.dm("UALICE", "yes", event_id="Ev101")
    await slack.dm("UALICE", "yes", event_id="Ev101", retry=2)
    assert await deal_count(slack) == 1
    assert sum("is registered" in c.dump for c in slack.standin.posts("DUALICE")) == 1
    assert len(slack.standin.posts(VENDOR_CHANNEL)) == 1


async def test_f_a_double_click_applies_once(slack: Slack) -> None:
    await slack.dm("UALICE", REGISTER_SENTENCE)
    summary = last(slack.standin.posts("DUALICE"))
    await slack.click("UALICE", summary, "Confirm", action_ts="1700000001.000001")
    await slack.click("UALICE", summary, "Confirm", action_ts="1700000001.000001")  # the same click again
    await slack.click("UALICE", summary, "Confirm", action_ts="1700000001.000002")  # a second click
    assert await deal_count(slack) == 1
    posts = slack.standin.posts("DUALICE")
    assert sum("is registered" in c.dump for c in posts) == 1
    assert "already sent" in posts[-1].dump

    review = vendor_review(slack, "D-1")
    await slack.click("UDANA", review, "Approve")
    await slack.click("UDANA", review, "Approve")
    assert sum("is approved" in c.dump for c in slack.standin.posts("DUALICE")) == 1


# -- (g) forged and stale requests -----------------------------------------------------------------


async def test_g_forged_or_stale_requests_are_refused_untouched(slack: Slack) -> None:
    identities = await rows(slack, ChatIdentity)
    body = slack.event_body(
        {
            "type": "message",
            "channel_type": "im",
            "user": "UALICE",
            "text": REGISTER_SENTENCE,
            "channel": "DUALICE",
            "team": "TNORTH",
            "ts": "1.2",
        },
        team="TNORTH",
    )
    forged = await slack.post(body, content_type="application/json", secret="not-the-secret")
    stale = await slack.post(body, content_type="application/json", timestamp=int(time.time()) - 6 * 60)
    unsigned = await slack.http.post("/slack/events", data=body, headers={"Content-Type": "application/json"})
    command = await slack.post(
        "command=%2Fpartner&text=register&user_id=UALICE&team_id=TNORTH",
        content_type="application/x-www-form-urlencoded",
        secret="wrong",
    )
    await slack.settle()
    assert [forged.status, stale.status, unsigned.status, command.status] == [401, 401, 401, 401]
    assert slack.standin.calls == []
    assert await deal_count(slack) == 0
    assert await rows(slack, ChatIdentity) == identities
    assert await rows(slack, ProcessedRequest) == 0
    assert await rows(slack, DialogState) == 0
    assert await rows(slack, OutboxMessage) == 0


# -- (h) strangers ---------------------------------------------------------------------------------


async def test_h_an_unknown_person_gets_the_polite_text_and_no_data(slack: Slack) -> None:
    await register_by_dm(slack, "UALICE")
    calls_before = len(slack.standin.calls)
    await slack.dm("USTRANGER", "show all deals")
    await slack.command("USTRANGER", "D-1", channel="CGENERAL")
    await slack.home_opened("USTRANGER")
    new = slack.standin.calls[calls_before:]
    shown = [c for c in new if c.method in ("chat.postMessage", "response_url", "views.publish")]
    assert len(shown) == 3
    for call in shown:
        assert UNKNOWN_PERSON_TEXT.split(":")[0] in call.dump
        assert "D-1" not in call.dump and "Globex" not in call.dump
    assert {c.method for c in new} <= {
        "users.info",
        "conversations.open",
        "chat.postMessage",
        "response_url",
        "views.publish",
    }
    async with slack.core.db.transaction() as session:
        strangers = (
            await session.execute(select(ChatIdentity).where(ChatIdentity.external_id == "USTRANGER"))
        ).all()
    assert strangers == []  # the stranger is linked to nobody


# -- (i) App Home ----------------------------------------------------------------------------------


async def test_i_app_home_shows_the_persons_deals_and_queues(slack: Slack) -> None:
    await register_by_dm(slack, "UALICE")
    await slack.home_opened("UALICE")
    home = last(slack.standin.of("views.publish", user_id="UALICE"))
    assert home.body["view"]["type"] == "home"
    assert "Your open deals" in home.dump and "D-1" in home.dump

    await slack.home_opened("UDANA")
    staff_home = last(slack.standin.of("views.publish", user_id="UDANA"))
    assert "Waiting for review" in staff_home.dump and "D-1" in staff_home.dump

    # A button on the Home tab answers by DM and refreshes the Home tab.
    published = len(slack.standin.of("views.publish", user_id="UDANA"))
    await slack.click_home("UDANA", staff_home.body["view"], "Open")
    assert "D-1 · Globex Corporation" in last(slack.standin.posts("DUDANA")).dump
    assert len(slack.standin.of("views.publish", user_id="UDANA")) == published + 1


# -- (j) rate limits on the outbox path ------------------------------------------------------------


async def test_j_a_429_on_the_outbox_path_waits_for_retry_after(slack: Slack) -> None:
    slack.standin.fail(
        "chat.postMessage",
        status=429,
        retry_after=30,
        when=lambda body: body.get("channel") == VENDOR_CHANNEL,
    )
    await register_by_dm(slack, "UALICE")
    assert len(slack.standin.of("chat.postMessage", channel=VENDOR_CHANNEL)) == 1  # the refused attempt
    async with slack.core.db.transaction() as session:
        row = (
            await session.execute(
                select(OutboxMessage).where(OutboxMessage.recipient_kind == "vendor_channel")
            )
        ).scalar_one()
    assert row.status == "pending" and row.attempts == 1
    assert row.next_attempt_at == slack.clock.now + timedelta(seconds=30)
    assert "rate limit" in (row.last_error or "").lower()

    report = await slack.core.dispatcher().deliver_due()  # not due yet
    assert report.sent == 0
    slack.clock.advance(seconds=31)
    report = await slack.core.dispatcher().deliver_due()
    assert report.sent == 1
    assert len(slack.standin.of("chat.postMessage", channel=VENDOR_CHANNEL)) == 2
    async with slack.core.db.transaction() as session:
        row = await session.get(OutboxMessage, row.id)
        assert row is not None and row.status == "sent"


async def test_a_429_on_the_interactive_path_is_retried_after_retry_after(slack: Slack) -> None:
    slack.standin.fail(
        "chat.postMessage", status=429, retry_after=1, when=lambda body: body.get("channel") == "DUALICE"
    )
    started = time.monotonic()
    await slack.dm("UALICE", "help")
    attempts = slack.standin.posts("DUALICE")
    assert len(attempts) == 2 and "Here's what I can do" in attempts[-1].dump
    assert time.monotonic() - started >= 1


async def test_url_verification_answers_the_challenge(slack: Slack) -> None:
    body = json.dumps({"token": "legacy", "challenge": "c-123", "type": "url_verification"})
    response = await slack.post(body, content_type="application/json")
    assert response.status == 200 and "c-123" in await response.text()
