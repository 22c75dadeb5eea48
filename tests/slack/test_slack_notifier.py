"""The outbox's Slack notifier and the configuration switches: where it posts, how Slack's failures map
to retries, and that nothing Slack-shaped exists when Slack is not configured."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_web_app
from bot.bootstrap import Core
from bot.kernel.messages import Reply
from bot.kernel.outbox import DeliveryError
from handlers.slack.app import SLACK_KEY, attach_slack
from handlers.slack.notifier import SlackNotifier, slack_notifier
from tests.conftest import FakeClock, build_core
from tests.slack.conftest import BOT_TOKEN, SIGNING_SECRET, VENDOR_CHANNEL, SlackStandIn, validate_call

CARD = Reply(title="D-1 · Globex", text="Approved", ref="D-1")


@pytest.fixture
async def notifier_core(sqlite_url: str, clock: FakeClock, standin: SlackStandIn) -> AsyncIterator[Core]:
    core = await build_core(
        sqlite_url,
        clock,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_API_URL=f"{standin.url}/api/",
        SLACK_VENDOR_CHANNEL=VENDOR_CHANNEL,
    )
    yield core
    await core.db.dispose()
    for call in standin.calls:
        validate_call(call)


def notifier_of(core: Core) -> SlackNotifier:
    notifier = slack_notifier(core)
    assert isinstance(notifier, SlackNotifier)
    return notifier


async def test_posts_to_the_vendor_channel_and_updates_in_place(
    notifier_core: Core, standin: SlackStandIn
) -> None:
    notifier = notifier_of(notifier_core)
    ref = await notifier.send(target={"vendor_channel": True}, reply=CARD, idempotency_key="k1")
    assert ref["channel"] == VENDOR_CHANNEL and ref["ts"]
    await notifier.update(message_ref=ref, reply=Reply(text="Approved by Dana Reyes"))
    post, update = standin.calls
    assert post.method == "chat.postMessage" and post.token == BOT_TOKEN
    assert update.method == "chat.update" and update.body["ts"] == ref["ts"] and "Dana" in update.dump


async def test_opens_a_dm_when_the_reference_has_no_channel(
    notifier_core: Core, standin: SlackStandIn
) -> None:
    notifier = notifier_of(notifier_core)
    target = {
        "platform": "slack",
        "workspace": "TNORTH",
        "external_id": "UALICE",
        "extras": {"team": "TNORTH", "user": "UALICE"},
        "person_id": 4,
    }
    ref = await notifier.send(target=target, reply=CARD, idempotency_key="k2")
    assert [c.method for c in standin.calls] == ["conversations.open", "chat.postMessage"]
    assert ref == {"channel": "DUALICE", "ts": standin.calls[1].answer["ts"], "team": "TNORTH"}
    await notifier.send(
        target={**target, "extras": {**target["extras"], "channel": "DUALICE"}},
        reply=CARD,
        idempotency_key="k3",
    )
    assert [c.method for c in standin.calls][2:] == ["chat.postMessage"]


@pytest.mark.parametrize(
    ("status", "error", "retry_after", "permanent"),
    [
        (429, "ratelimited", 17, False),
        (500, "internal_error", None, False),
        (503, "service_unavailable", None, False),
        (200, "channel_not_found", None, True),
        (200, "not_in_channel", None, True),
        (200, "account_inactive", None, True),
        (200, "user_not_found", None, True),
        (200, "is_archived", None, True),
        (200, "fatal_error", None, False),
    ],
)
async def test_slack_failures_map_to_retries(
    notifier_core: Core,
    standin: SlackStandIn,
    status: int,
    error: str,
    retry_after: int | None,
    permanent: bool,
) -> None:
    standin.fail("chat.postMessage", status=status, error=error, retry_after=retry_after)
    with pytest.raises(DeliveryError) as raised:
        await notifier_of(notifier_core).send(
            target={"vendor_channel": True}, reply=CARD, idempotency_key="k"
        )
    assert raised.value.permanent is permanent
    assert raised.value.retry_after == (float(retry_after) if retry_after else None)
    assert len(standin.calls) == 1  # the outbox path never retries inside the notifier


async def test_an_unreachable_slack_is_worth_a_retry(sqlite_url: str, clock: FakeClock) -> None:
    core = await build_core(
        sqlite_url,
        clock,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_API_URL="http://127.0.0.1:9/api/",
        SLACK_VENDOR_CHANNEL=VENDOR_CHANNEL,
    )
    try:
        with pytest.raises(DeliveryError) as raised:
            await notifier_of(core).send(target={"vendor_channel": True}, reply=CARD, idempotency_key="k")
        assert not raised.value.permanent
    finally:
        await core.db.dispose()


async def test_nothing_slack_without_configuration(sqlite_url: str, clock: FakeClock) -> None:
    core = await build_core(sqlite_url, clock)
    try:
        assert slack_notifier(core) is None
        app = build_web_app(core)
        assert SLACK_KEY not in app
        assert "slack" not in core.notifiers
        async with TestClient(TestServer(app, host="127.0.0.1")) as http:
            assert (await http.post("/slack/events", data="{}")).status in (404, 405)
    finally:
        await core.db.dispose()


async def test_an_existing_slack_notifier_is_kept(sqlite_url: str, clock: FakeClock) -> None:
    core = await build_core(sqlite_url, clock, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET)

    class Fake:
        platform = "slack"

    fake = Fake()
    core.notifiers["slack"] = fake  # type: ignore[assignment]
    try:
        from aiohttp import web

        attach_slack(web.Application(), core)
        assert core.notifiers["slack"] is fake
    finally:
        await core.db.dispose()
