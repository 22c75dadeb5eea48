"""Charts in Slack: the staff scorecard's PNG and the weekly digest's are uploaded with
``files_upload_v2`` (``files.getUploadURLExternal``, the bytes to the upload URL, then
``files.completeUploadExternal``) into the reader's DM, right after the message that carries the text;
partners' scorecards carry no chart, a chart is never shared into a channel, and a refused upload
leaves the message delivered."""

from __future__ import annotations

import base64
from datetime import datetime

from bot.features.performance.charts import MAX_PNG_BYTES, png_size
from bot.kernel.messages import Reply
from handlers.slack.notifier import SlackNotifier, slack_notifier, upload_chart
from handlers.slack.web_api import web_client
from scheduler.jobs import JOBS
from tests.conversations.test_performance_transcripts import stale_contoso, with_performance
from tests.slack.conftest import BOT_TOKEN, Slack, SlackStandIn


def _is_chart(png: bytes) -> bool:
    return png_size(png) == (640, 360) and 2_000 < len(png) < MAX_PNG_BYTES


async def test_staff_scorecard_chart_is_uploaded_after_its_message(
    slack: Slack, standin: SlackStandIn
) -> None:
    with_performance(slack.core)
    await stale_contoso(slack.core, slack.world, slack.clock)
    standin.calls.clear()
    await slack.dm("UDANA", "scorecard for Contoso")

    # (Notifications the deal changes queued are delivered along the way; only this answer matters.)
    steps = [
        c.method
        for c in standin.calls
        if c.method.startswith("files.") or c.method == "upload" or "Scorecard" in str(c.body.get("text"))
    ]
    assert steps == [
        "chat.postMessage",
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    (post,) = [c for c in standin.posts("DUDANA") if "Scorecard" in c.body["text"]]
    assert "Scorecard · Contoso Integrators (Silver)" in post.body["text"], "the text fallback stays"
    assert "1 of 1 open deals stale" in post.dump
    ask = standin.of("files.getUploadURLExternal")[0]
    ((entry, png),) = standin.files_in("DUDANA")
    assert ask.body["filename"] == "chart.png" and int(ask.body["length"]) == len(png)
    assert entry["title"].startswith("Scorecard · Contoso Integrators") and _is_chart(png)
    assert standin.of("upload")[0].body["http"] == "POST"


async def test_asked_in_a_channel_the_chart_still_goes_to_the_dm(slack: Slack, standin: SlackStandIn) -> None:
    with_performance(slack.core)
    await stale_contoso(slack.core, slack.world, slack.clock)
    standin.calls.clear()
    await slack.mention("UDANA", "scorecard for Northwind", channel="CSHARED")

    (ephemeral,) = standin.of("chat.postEphemeral")
    assert ephemeral.body["channel"] == "CSHARED" and "Northwind Partners" in ephemeral.dump
    assert standin.files_in("CSHARED") == []
    ((_, png),) = standin.files_in("DUDANA")
    assert _is_chart(png)


async def test_partners_scorecard_has_no_upload(slack: Slack, standin: SlackStandIn) -> None:
    with_performance(slack.core)
    await stale_contoso(slack.core, slack.world, slack.clock)
    await slack.dm("UALICE", "how am I doing?")
    assert any("Scorecard · Northwind Partners" in c.body["text"] for c in standin.posts("DUALICE"))
    assert standin.of("files.getUploadURLExternal") == [] and standin.uploads == {}


async def test_weekly_digest_chart_is_uploaded_by_the_notifier(slack: Slack, standin: SlackStandIn) -> None:
    await slack.dm("UDANA", "help")  # Dana's Slack identity: the outbox reaches her there
    await stale_contoso(slack.core, slack.world, slack.clock)
    monday = datetime(2027, 1, 4, 7, 0)
    assert await JOBS["weekly_digest"].run(slack.core, monday) == "queued 2 digest(s)"
    standin.calls.clear()
    await slack.core.dispatcher().deliver_due(now=monday)

    digest = [c for c in standin.posts("DUDANA") if "Your partners this week" in c.body["text"]]
    assert len(digest) == 1 and "Northwind Partners (Gold)" in digest[0].dump
    ((entry, png),) = standin.files_in("DUDANA")
    assert entry["title"] == "Your partners this week (2027-W01)" and _is_chart(png)
    order = [c.method for c in standin.calls]
    assert order.index("chat.postMessage") < order.index("files.completeUploadExternal")


async def test_a_refused_upload_leaves_the_message_delivered(slack: Slack, standin: SlackStandIn) -> None:
    with_performance(slack.core)
    await stale_contoso(slack.core, slack.world, slack.clock)
    (reply,) = await slack.core.conversation.handle_text(slack.world.dana, "scorecard for Contoso")
    assert reply.image_png_b64
    notifier = slack_notifier(slack.core)
    assert isinstance(notifier, SlackNotifier)
    standin.calls.clear()
    standin.fail("files.completeUploadExternal", status=200, error="missing_scope", retry_after=None)
    target = {
        "platform": "slack",
        "workspace": "TVENDOR",
        "external_id": "UDANA",
        "extras": {"channel": "DUDANA"},
    }
    ref = await notifier.send(target=target, reply=reply, idempotency_key="k-chart")
    assert ref["channel"] == "DUDANA", "the message counts as delivered: no retry repeats its text"
    assert [c.method for c in standin.calls] == [
        "chat.postMessage",
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    assert standin.files_in("DUDANA") == []

    standin.calls.clear()
    client = web_client(slack.core.settings, token=BOT_TOKEN)
    not_png = Reply(title="x", image_png_b64=base64.b64encode(b"GIF89a").decode())
    assert not await upload_chart(client, channel="DUDANA", reply=not_png), "what is not a PNG is left out"
    assert standin.calls == []
