"""What Slack acknowledged is done, even if the process that acknowledged it dies first (bot.kernel.inbox)."""

from __future__ import annotations

import json

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.app import build_web_app
from store.deal_models import Deal
from store.inbox_models import InboxRequest
from tests.conftest import build_core
from tests.slack.conftest import BOT_TOKEN, SIGNING_SECRET, VENDOR_CHANNEL, Slack

REGISTER_SENTENCE = "register a deal for Globex Corporation, 120k USD of Cloud Suite, closing end of March"


async def stop_working(slack: Slack) -> None:
    """This process's inbox worker stops and never starts again (as if the process had died)."""
    await slack.core.inbox.stop()
    slack.core.inbox.start = lambda: None  # type: ignore[method-assign]


async def pending(slack: Slack) -> list[InboxRequest]:
    async with slack.core.db.transaction() as session:
        return list(
            (await session.execute(select(InboxRequest).where(InboxRequest.status == "pending"))).scalars()
        )


async def test_a_request_acknowledged_before_a_crash_is_answered_after_the_restart(
    slack: Slack,
) -> None:
    # The process acknowledges and dies before its worker gets to the request.
    await stop_working(slack)
    response = await slack.dm("UALICE", REGISTER_SENTENCE, event_id="EvCrash", settle=False)
    assert response.status == 200
    assert slack.standin.posts("DUALICE") == []
    [stored] = await pending(slack)
    assert stored.kind == "slack.message" and stored.dedupe_key == "slack:event:EvCrash"

    # Slack retries the event while the process is down and a replica answers: stored once.
    await slack.dm("UALICE", REGISTER_SENTENCE, event_id="EvCrash", retry=1, settle=False)
    assert len(await pending(slack)) == 1

    # The restart: a new process on the same database takes the stored request up.
    core = await build_core(
        slack.core.settings.database_url,
        slack.clock,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=f"{slack.standin.url}/api/",
        SLACK_VENDOR_CHANNEL=VENDOR_CHANNEL,
    )
    http = TestClient(TestServer(build_web_app(core), host="127.0.0.1"))
    await http.start_server()  # starting the app starts its inbox worker
    try:
        await core.inbox.drain()
    finally:
        await http.close()
    [summary] = slack.standin.posts("DUALICE")
    assert "Globex Corporation" in summary.dump and "Confirm" in summary.dump
    assert await pending(slack) == []


async def test_a_click_acknowledged_is_stored_before_the_ack(slack: Slack) -> None:
    await slack.dm("UALICE", REGISTER_SENTENCE)
    summary = slack.standin.posts("DUALICE")[-1]
    await stop_working(slack)
    await slack.click("UALICE", summary, "Confirm", settle=False)
    async with slack.core.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Deal)) == 0
    [stored] = await pending(slack)
    assert stored.kind == "slack.action" and stored.payload["action"] == "deal.register.confirm"
    await slack.settle()  # a worker (here: drain) takes it up
    async with slack.core.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Deal)) == 1


GOOD_VALUES = {
    "customer": "Globex Corporation",
    "product": "Cloud Suite",
    "amount": "120k USD",
    "close_date": "end of March",
}


async def test_what_the_core_refuses_after_the_ack_opens_the_form_again(slack: Slack) -> None:
    await slack.command("UALICE", "register", channel="CGENERAL")
    opened = slack.standin.of("views.open")[-1]
    # "Germany" is not a two-letter code: only the core knows (the values-only precheck passes it).
    response = await slack.submit("UALICE", opened, {**GOOD_VALUES, "country": "Germany"})
    assert response.status == 200 and (await response.text()) == ""  # the modal closed at once
    again = slack.standin.of("views.open")[-1]
    assert again is not opened
    view = again.body["view"]
    assert view["callback_id"] == "pb_form" and again.body["trigger_id"] != opened.body["trigger_id"]
    shown = json.dumps(view)
    assert "it was not saved" in shown and "two-letter code" in shown
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    # What was typed is still there, so only the wrong field needs typing again.
    assert inputs["customer"]["initial_value"] == "Globex Corporation"
    assert inputs["amount"]["initial_value"] == "120k USD"
    assert inputs["country"]["initial_value"] == "Germany"
    assert inputs["product"]["initial_option"]["value"] == "Cloud Suite"
    assert json.loads(view["private_metadata"])["form_id"] == "deal.register"
    assert not any("Register this deal?" in c.dump for c in slack.standin.posts("DUALICE"))

    # Corrected and submitted again from the re-opened form: it registers.
    await slack.submit("UALICE", again, {"country": "DE"})
    assert "D-1 is registered" in slack.standin.posts("DUALICE")[-1].dump


async def test_when_the_trigger_has_expired_the_reasons_come_by_message(slack: Slack) -> None:
    await slack.command("UALICE", "register", channel="CGENERAL")
    opened = slack.standin.of("views.open")[-1]
    slack.standin.fail("views.open", status=200, error="expired_trigger_id", retry_after=None)
    await slack.submit("UALICE", opened, {**GOOD_VALUES, "country": "Germany"})
    message = slack.standin.posts("DUALICE")[-1]
    assert "it was not saved" in message.dump and "two-letter code" in message.dump
    assert "Open the form" in message.dump
    async with slack.core.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Deal)) == 0
