"""``/api/messages`` authenticates by default. Before, without ``MICROSOFT_APP_ID`` (every Slack-only
deployment) it took unauthenticated activities: a client claiming any tenant, with a ``serviceUrl`` it
controlled that answered the member lookup with a staff e-mail, got the staff view of every partner's
pipeline, posted to that ``serviceUrl``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from unittest import mock

import pytest
from aiohttp.test_utils import make_mocked_request

from bot.app import build_web_app
from bot.cli import main
from bot.config import Settings
from bot.kernel.messages import Reply
from bot.kernel.outbox import DeliveryError
from handlers.teams.connector import build_adapter, check_serving, service_url_allowed
from handlers.teams.notifier import TeamsNotifier
from tests.conftest import FakeClock
from tests.teams.teams_harness import USERS, StandInConnector, Teams, TeamsUser, start_teams

APP_ID = "3f2b8c1e-7a4d-4e6b-9c0f-1a2b3c4d5e6f"


@pytest.fixture
async def slack_only(sqlite_url: str, clock: FakeClock, connector: StandInConnector) -> AsyncIterator[Teams]:
    """A deployment that configured nothing for Teams (the test harness's emulator switch off)."""
    harness, server = await start_teams(sqlite_url, clock, connector, PARTNERBOT_TEAMS_EMULATOR="")
    yield harness
    await harness.session.close()
    await server.close()


async def test_without_credentials_the_teams_endpoint_is_not_served(slack_only: Teams) -> None:
    # The attack of the report: a made-up tenant and a serviceUrl that answers with a staff e-mail.
    impostor = TeamsUser("eve", "Eve", "dana@vendor.example", "tenant-vendor")
    slack_only.connector.members[impostor.id] = impostor
    activity = slack_only.activity(impostor, text="pending")
    response = await slack_only.post(activity)
    assert response.status == 404
    await slack_only.core.settle()
    assert slack_only.connector.calls == []
    assert "teams" not in slack_only.core.notifiers  # and nothing is ever sent to a stored Teams address


def test_the_emulator_only_binds_to_loopback(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    emulator = Settings.from_env({"DATABASE_URL": sqlite_url, "PARTNERBOT_TEAMS_EMULATOR": "1"})
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        check_serving(emulator, host=host)
    for host in ("0.0.0.0", "10.0.0.5", "::", "partnerbot.example"):
        with pytest.raises(SystemExit, match="loopback"):
            check_serving(emulator, host=host)
    # With credentials the endpoint authenticates, so any address will do.
    check_serving(
        Settings.from_env({"MICROSOFT_APP_ID": APP_ID, "PARTNERBOT_TEAMS_EMULATOR": "1"}), host="0.0.0.0"
    )
    # `partnerbot serve` refuses to start (before touching the database) on the default 0.0.0.0.
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("PARTNERBOT_TEAMS_EMULATOR", "1")
    monkeypatch.delenv("MICROSOFT_APP_ID", raising=False)
    with pytest.raises(SystemExit, match="loopback"):
        main(["serve", "--no-scheduler"])


def test_service_urls_must_be_microsofts_bot_connector() -> None:
    production = Settings.from_env({"MICROSOFT_APP_ID": APP_ID})
    for url in (
        "https://smba.trafficmanager.net/emea/",
        "https://smba.trafficmanager.net/teams/",
        "https://smba.infra.gcc.teams.microsoft.com/teams",
        "https://smba.infra.gov.teams.microsoft.us/teams",
        "https://smba.infra.dod.teams.microsoft.us/teams",
        "https://webchat.botframework.com/",
        "https://SMBA.trafficmanager.net:443/amer/",
    ):
        assert service_url_allowed(url, production), url
    for url in (
        "http://smba.trafficmanager.net/emea/",
        "https://smba.trafficmanager.net.evil.example/",
        "https://evil.example/smba.trafficmanager.net/",
        "https://botframework.com.evil.example/",
        "https://evilbotframework.com/",
        "https://smba.trafficmanager.net@evil.example/",
        "https://smba.trafficmanager.net:8443/",
        "http://127.0.0.1:3978/",
        "",
        None,
    ):
        assert not service_url_allowed(url, production), url
    sovereign = Settings.from_env(
        {"MICROSOFT_APP_ID": APP_ID, "PARTNERBOT_TEAMS_SERVICE_URLS": "https://connector.sov.example/"}
    )
    assert service_url_allowed("https://connector.sov.example/teams", sovereign)
    assert service_url_allowed("http://127.0.0.1:1/", Settings.from_env({"PARTNERBOT_TEAMS_EMULATOR": "1"}))


async def test_a_stored_reference_to_another_host_is_never_used() -> None:
    settings = Settings.from_env({"MICROSOFT_APP_ID": APP_ID, "MICROSOFT_APP_PASSWORD": "x"})
    notifier = TeamsNotifier(adapter=build_adapter(settings), settings=settings)
    reference = {
        "serviceUrl": "https://attacker.example/",
        "conversation": {"id": "a:dm-alice"},
        "user": {"id": "29:alice"},
        "bot": {"id": "28:bot"},
        "channelId": "msteams",
    }
    with pytest.raises(DeliveryError, match="not a Bot Connector host") as raised:
        await notifier.send(
            target={"person_id": 1, "extras": {"reference": reference}},
            reply=Reply(text="your pipeline"),
            idempotency_key="k",
        )
    assert raised.value.permanent


async def test_emulator_mode_refuses_activities_without_a_service_url(teams: Teams) -> None:
    activity = teams.activity(USERS["alice"], text="help")
    del activity["serviceUrl"]
    response = await teams.post(activity)
    assert response.status == 400
    assert teams.connector.calls == []


async def test_emulator_mode_answers_only_this_machine(teams: Teams) -> None:
    response = await teams.post(teams.activity(USERS["alice"], text="help"))
    assert response.status in (200, 201)  # the harness talks over loopback
    # The same endpoint asked from another address (a port forwarded, a proxy in front) says no.
    app = build_web_app(teams.core)
    (route,) = [r for r in app.router.routes() if r.resource and r.resource.canonical == "/api/messages"]
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        ("192.0.2.7", 40000) if name == "peername" else default
    )
    request = make_mocked_request(
        "POST", "/api/messages", headers={"Content-Type": "application/json"}, transport=transport, app=app
    )
    answer = await route.handler(request)
    assert answer.status == 403
