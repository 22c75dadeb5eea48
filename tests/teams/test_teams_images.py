"""Charts in Teams: the staff scorecard and the weekly digest go out as an Adaptive Card (checked
against the official 1.5 schema and the size limit by the ``teams`` fixture) plus a second attachment on
the same activity, the chart as an inline PNG (``data:image/png;base64,…``); a partner's scorecard has
no chart, and a click that brings a chart sends a new message instead of updating the card in place."""

from __future__ import annotations

import base64
from datetime import datetime

from bot.features.performance.charts import MAX_PNG_BYTES, png_size
from bot.kernel.messages import Reply
from handlers.teams import cards
from handlers.teams.activities import message_activity
from scheduler.jobs import JOBS
from tests.conversations.test_performance_transcripts import stale_contoso, with_performance
from tests.teams.teams_harness import CARD_TYPE, USERS, Call, Teams, card_texts

ALICE, DANA = USERS["alice"], USERS["dana"]
DATA_URI = "data:image/png;base64,"


def chart_of(call: Call) -> bytes:
    (image,) = call.images()
    assert image["contentType"] == "image/png" and image["name"] == "chart.png"
    assert image["contentUrl"].startswith(DATA_URI)
    png = base64.b64decode(image["contentUrl"].removeprefix(DATA_URI), validate=True)
    assert png_size(png) == (640, 360) and 2_000 < len(png) < MAX_PNG_BYTES
    return png


def no_image_in(card: dict) -> bool:
    return "data:image" not in str(card)


async def test_staff_scorecard_carries_the_chart_beside_the_card(teams: Teams) -> None:
    with_performance(teams.core)
    await stale_contoso(teams.core, teams.world, teams.clock)
    (answer,) = await teams.say(DANA, "scorecard for Contoso")
    assert [a["contentType"] for a in answer.body["attachments"]] == [CARD_TYPE, "image/png"]
    chart_of(answer)
    assert "Scorecard · Contoso Integrators (Silver) · last 90 days" in answer.text
    assert "1 of 1 open deals stale (100%)" in answer.text, "the card keeps the figures as text"
    assert no_image_in(answer.card)


async def test_a_chart_from_a_click_comes_as_a_new_message(teams: Teams) -> None:
    with_performance(teams.core)
    await stale_contoso(teams.core, teams.world, teams.clock)
    (laggards,) = await teams.say(DANA, "who is lagging?")
    assert not laggards.images() and "Contoso Integrators (Silver)" in laggards.text
    answers = await teams.click(DANA, laggards, "Scorecard")
    (scorecard,) = [a for a in answers if "Scorecard · Contoso Integrators" in a.text]
    assert scorecard.kind == "reply" and teams.connector.updates(laggards.activity_id or "") == []
    chart_of(scorecard)


async def test_partner_scorecard_has_no_chart(teams: Teams) -> None:
    with_performance(teams.core)
    await stale_contoso(teams.core, teams.world, teams.clock)
    (answer,) = await teams.say(ALICE, "how am I doing?")
    assert "Scorecard · Northwind Partners (Gold)" in answer.text
    assert answer.images() == [] and len(answer.cards()) == 1


async def test_weekly_digest_is_delivered_with_its_chart(teams: Teams) -> None:
    await teams.say(DANA, "help")  # Dana's Teams conversation: where the outbox reaches her
    await stale_contoso(teams.core, teams.world, teams.clock)
    monday = datetime(2027, 1, 4, 7, 0)
    assert await JOBS["weekly_digest"].run(teams.core, monday) == "queued 2 digest(s)"
    await teams.core.settle()
    await teams.core.dispatcher().deliver_due(now=monday)
    (digest,) = [c for c in teams.connector.to(DANA, kinds=("send",)) if "Your partners this week" in c.text]
    chart_of(digest)
    assert "Northwind Partners (Gold)" in digest.text and no_image_in(digest.card)


def test_a_chart_that_is_not_a_png_is_left_out() -> None:
    reply = Reply(title="Chart", text="figures", image_png_b64=base64.b64encode(b"GIF89a").decode())
    activity = message_activity(reply)
    assert [a.content_type for a in activity.attachments] == [cards.CARD_CONTENT_TYPE]
    assert "figures" in card_texts(activity.attachments[0].content)
