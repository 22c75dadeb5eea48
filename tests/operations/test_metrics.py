"""GET /metrics: Prometheus text format, the series of issue #21 moving as the real app handles
requests, the database's gauges read at the scrape, and the optional bearer token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from bot.app import build_web_app
from bot.bootstrap import Core
from bot.conversation import CHOOSE, CONFIRM
from bot.features.deals.model import DealDraft
from bot.kernel.amounts import Money
from bot.kernel.messages import Reply
from bot.kernel.outbox import queue_for_vendor_channel
from scheduler.jobs import JOBS, Job
from scheduler.runner import _runner
from tests.conftest import FakeClock, build_core, make_settings, make_world
from tests.slack.conftest import Slack, SlackStandIn, slack, standin  # noqa: F401  (fixtures)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(http: TestClient, **headers: str) -> Samples:
    response = await http.get("/metrics", headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_requests_inbox_outbox_and_understanding_series_move(slack: Slack) -> None:  # noqa: F811
    before = await scrape(slack.http)
    assert value(before, "partnerbot_database_up") == 1
    clarified = 0
    texts = ("show my deals", "blorf zing quux", "close", "what about leads and deals", "Northwind")
    for n, text in enumerate(texts):
        await slack.dm("UALICE", text, event_id=f"EvM{n}")
        dialog = await slack.core.conversation.dialogs.load(slack.world.alice)
        clarified += dialog is not None and dialog.flow in (CHOOSE, CONFIRM)
        await slack.dm("UALICE", "cancel", event_id=f"EvX{n}")
    after = await scrape(slack.http)

    message = {"platform": "slack", "kind": "slack.message"}
    assert moved(before, after, "partnerbot_requests_acknowledged_total", **message) == 10
    assert moved(before, after, "partnerbot_requests_handled_total", **message) == 10
    assert moved(before, after, "partnerbot_request_handling_seconds_count", platform="slack") == 10
    assert moved(before, after, "partnerbot_understanding_fallbacks_total") >= 1  # "blorf zing quux"
    assert clarified >= 1, "one of the ambiguous messages should be answered with a question"
    assert (
        moved(before, after, "partnerbot_understanding_clarifications_total", kind="choices")
        + moved(before, after, "partnerbot_understanding_clarifications_total", kind="confirm")
        == clarified
    )
    assert value(after, "partnerbot_inbox_waiting") == 0

    # The inbox's gauges come from the database: a request nobody handles yet is waiting, and ages.
    await slack.core.inbox.stop()
    slack.core.inbox.start = lambda: None  # type: ignore[method-assign]
    await slack.dm("UALICE", "show my deals", event_id="EvWait", settle=False)
    slack.clock.advance(seconds=42)
    waiting = await scrape(slack.http)
    assert value(waiting, "partnerbot_inbox_waiting") == 1
    assert value(waiting, "partnerbot_inbox_oldest_waiting_seconds") == 42
    assert value(waiting, "partnerbot_inbox_given_up_last_day") == 0

    # The outbox: a delivery that Slack refuses is retrying, then sent; both counted by outcome.
    async with slack.core.db.transaction() as session:
        await queue_for_vendor_channel(
            session, key="metrics-1", reply=Reply(text="hello staff"), kind="note", now=slack.clock()
        )
    assert value(await scrape(slack.http), "partnerbot_outbox_messages", status="pending") == 1
    slack.standin.fail("chat.postMessage", status=200, error="internal_error", retry_after=None)
    report = await slack.core.dispatcher().deliver_due(now=slack.clock())
    assert report.retried == 1
    retrying = await scrape(slack.http)
    assert value(retrying, "partnerbot_outbox_messages", status="retrying") == 1
    slack.clock.advance(minutes=5)
    assert (await slack.core.dispatcher().deliver_due(now=slack.clock())).sent == 1
    done = await scrape(slack.http)
    assert moved(before, done, "partnerbot_outbox_deliveries_total", platform="slack", outcome="retry") == 1
    assert moved(before, done, "partnerbot_outbox_deliveries_total", platform="slack", outcome="sent") >= 1
    assert value(done, "partnerbot_outbox_messages", status="retrying") == 0
    assert value(done, "partnerbot_unreachable_recipients") == 0


@pytest.fixture
async def served(sqlite_url: str) -> AsyncIterator[tuple[Core, TestClient]]:
    core = await build_core(sqlite_url, FakeClock(), PARTNERBOT_METRICS_TOKEN="metrics-token-1234")
    http = TestClient(TestServer(build_web_app(core), host="127.0.0.1"))
    await http.start_server()
    try:
        yield core, http
    finally:
        await http.close()
        await core.db.dispose()


async def test_the_token_guards_the_endpoint(served: tuple[Core, TestClient]) -> None:
    _, http = served
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "metrics-token-1234"}):
        response = await http.get("/metrics", headers=headers)
        assert response.status == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "PARTNERBOT_METRICS_TOKEN" in (await response.json())["error"]
    samples = await scrape(http, Authorization="Bearer metrics-token-1234")
    assert value(samples, "partnerbot_database_up") == 1


async def test_nudges_and_scheduler_runs_are_counted(served: tuple[Core, TestClient]) -> None:
    core, http = served
    world = await make_world(core)
    view = await core.deals.register(
        world.alice,
        DealDraft(
            customer="Initech",
            product="Cloud Suite",
            amount=Money(Decimal("50000"), "EUR"),
            close_date=date(2027, 3, 31),
        ),
    )
    await core.deals.approve(world.dana, view.ref)
    before = await scrape(http, Authorization="Bearer metrics-token-1234")
    clock: FakeClock = core.clock  # type: ignore[assignment]
    clock.advance(days=23)  # Saturday 2026-12-19: the deal has gone stale, and it is the weekend
    await _runner(core, JOBS["nudge_sweep"])()
    deferred = await scrape(http, Authorization="Bearer metrics-token-1234")
    assert moved(before, deferred, "partnerbot_nudges_deferred_total", reason="quiet_hours") == 1
    assert moved(before, deferred, "partnerbot_nudges_sent_total") == 0
    clock.advance(days=2)  # Monday, 11:00 in Berlin
    await _runner(core, JOBS["nudge_sweep"])()

    async def broken(core: Core, now: Any) -> str:
        raise RuntimeError("the sweep broke")

    await _runner(core, Job("broken", broken, "interval", {"seconds": 1}, "a job that fails"))()
    after = await scrape(http, Authorization="Bearer metrics-token-1234")
    assert moved(deferred, after, "partnerbot_nudges_sent_total") == 1
    assert moved(before, after, "partnerbot_scheduler_job_runs_total", job="nudge_sweep", outcome="ok") == 2
    assert moved(before, after, "partnerbot_scheduler_job_duration_seconds_count", job="nudge_sweep") == 2
    assert moved(before, after, "partnerbot_scheduler_job_runs_total", job="broken", outcome="failed") == 1


async def test_the_database_gauges_say_when_the_database_is_down(tmp_path: object) -> None:
    core = Core.build(make_settings(f"sqlite:///{tmp_path}/missing/nowhere.db"), clock=FakeClock())
    http = TestClient(TestServer(build_web_app(core), host="127.0.0.1"))
    await http.start_server()
    try:
        samples = await scrape(http)
        assert value(samples, "partnerbot_database_up") == 0
        assert not [name for name, _ in samples if name.startswith("partnerbot_inbox_waiting")]
        assert ("partnerbot_requests_acknowledged_total", frozenset()) not in samples
    finally:
        await http.close()
        await core.db.dispose()
