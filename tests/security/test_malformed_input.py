"""No entrance answers 500 to a malformed body: 400 with a short reason (401 before authentication, 413
past the size limit), never a traceback, and nothing stored. Each case here answered 500 before."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.app import build_web_app
from bot.bootstrap import Core
from store.inbox_models import InboxRequest
from tests.conftest import FakeClock, build_core, make_world
from tests.slack.conftest import Slack
from tests.slack.test_socket_mode import SocketSlack, alice_command, socket_mode_app, wait_for
from tests.teams.teams_harness import USERS, StandInConnector, Teams, start_teams

DEEP_LIST = "[" * 50_000 + "]" * 50_000
DEEP_OBJECT = '{"type": "message", "value": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "}"
INVALID_UTF8 = b'{"type": "event_callback", "text": "\xff\xfe"}'


async def stored_requests(core: Core) -> int:
    async with core.db.transaction() as session:
        return int((await session.execute(select(func.count()).select_from(InboxRequest))).scalar_one())


async def assert_refused(response: aiohttp.ClientResponse | object, status: int) -> None:
    assert response.status == status, response.status  # type: ignore[attr-defined]
    text = await response.text()  # type: ignore[attr-defined]
    assert "Traceback" not in text and len(text) < 300
    assert json.loads(text)["error"]


# -- Slack ------------------------------------------------------------------------------------------


UNSIGNED_SLACK_BODIES = [
    ("application/json", b"[1, 2, 3]"),
    ("application/json", b"this is not json"),
    ("application/json", INVALID_UTF8),
    ("application/json", DEEP_LIST.encode()),
    ("application/x-www-form-urlencoded", urlencode({"payload": "{not json"}).encode()),
    ("application/x-www-form-urlencoded", urlencode({"payload": DEEP_LIST}).encode()),
    ("application/x-www-form-urlencoded", b"payload=%ff%fe"),
]


@pytest.mark.parametrize(("content_type", "body"), UNSIGNED_SLACK_BODIES)
async def test_slack_unsigned_malformed_bodies_are_refused_before_parsing(
    slack: Slack, content_type: str, body: bytes
) -> None:
    response = await slack.http.post("/slack/events", data=body, headers={"Content-Type": content_type})
    # Invalid UTF-8 is refused as such (400); everything else for its missing signature (401).
    await assert_refused(response, 400 if body == INVALID_UTF8 else 401)
    assert await stored_requests(slack.core) == 0


@pytest.mark.parametrize("timestamp", ["abc", "", "-1", "1e9", "9" * 40, " 12 "])
async def test_slack_a_timestamp_that_is_not_a_number_is_unauthenticated(
    slack: Slack, timestamp: str
) -> None:
    body = slack.event_body({"type": "app_home_opened", "user": "UALICE", "tab": "home"}, team="TNORTH")
    headers = slack.headers(body)
    headers["X-Slack-Request-Timestamp"] = timestamp
    response = await slack.http.post("/slack/events", data=body.encode(), headers=headers)
    await assert_refused(response, 401)


SIGNED_SLACK_BODIES = [
    ("application/json", "[1, 2, 3]"),
    ("application/json", '"just a string"'),
    ("application/json", "{not json"),
    ("application/json", DEEP_LIST),
    ("application/json", DEEP_OBJECT),
    ("application/x-www-form-urlencoded", urlencode({"payload": "{not json"})),
    ("application/x-www-form-urlencoded", urlencode({"payload": "[1]"})),
    ("application/x-www-form-urlencoded", urlencode({"payload": DEEP_LIST})),
    ("text/plain", "{also not json"),
]


@pytest.mark.parametrize(("content_type", "body"), SIGNED_SLACK_BODIES)
async def test_slack_signed_malformed_bodies_get_400(slack: Slack, content_type: str, body: str) -> None:
    response = await slack.post(body, content_type=content_type)
    await assert_refused(response, 400)
    assert await stored_requests(slack.core) == 0


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "block_actions", "user": "not-a-dict", "actions": "nope"},
        {"type": "view_submission", "user": {"id": "UALICE"}, "view": ["x"]},
        {"type": "event_callback", "event": "not-a-dict"},
    ],
)
async def test_slack_signed_objects_of_a_wrong_shape_never_answer_500(
    slack: Slack, payload: dict[str, object]
) -> None:
    response = await slack.post(
        urlencode({"payload": json.dumps(payload)}), content_type="application/x-www-form-urlencoded"
    )
    assert response.status < 500
    response = await slack.post(json.dumps(payload), content_type="application/json")
    assert response.status < 500
    await slack.settle()


async def test_slack_a_body_over_the_limit_gets_413(slack: Slack) -> None:
    body = json.dumps({"type": "event_callback", "pad": "x" * (1024 * 1024 + 10)})
    response = await slack.post(body, content_type="application/json")
    assert response.status == 413


async def test_slack_still_answers_after_all_that(slack: Slack) -> None:
    for content_type, body in SIGNED_SLACK_BODIES:
        await slack.post(body, content_type=content_type)
    await slack.dm("UALICE", "help")
    assert "Here's what I can do" in slack.standin.posts("DUALICE")[-1].dump


# -- Teams ------------------------------------------------------------------------------------------


TEAMS_BODIES = [
    b"[1, 2, 3]",
    b'"an activity"',
    b"{not json",
    INVALID_UTF8,
    DEEP_LIST.encode(),
    DEEP_OBJECT.encode(),
]


@pytest.mark.parametrize("body", TEAMS_BODIES)
async def test_teams_malformed_bodies_get_400_in_emulator_mode(teams: Teams, body: bytes) -> None:
    async with teams.session.post(
        teams.url + "/api/messages", data=body, headers={"Content-Type": "application/json"}
    ) as response:
        await assert_refused(response, 400)
    assert await stored_requests(teams.core) == 0 and teams.connector.calls == []


@pytest.fixture
async def secured(sqlite_url: str, clock: FakeClock, connector: StandInConnector) -> AsyncIterator[Teams]:
    harness, server = await start_teams(
        sqlite_url,
        clock,
        connector,
        MICROSOFT_APP_ID="3f2b8c1e-7a4d-4e6b-9c0f-1a2b3c4d5e6f",
        MICROSOFT_APP_PASSWORD="not-a-real-secret",
        PARTNERBOT_TEAMS_EMULATOR="",
    )
    yield harness
    await harness.session.close()
    await server.close()


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Bearer aaa.bbb.ccc"])
@pytest.mark.parametrize("body", TEAMS_BODIES)
async def test_teams_with_credentials_the_token_is_checked_before_the_body(
    secured: Teams, body: bytes, authorization: str | None
) -> None:
    headers = {"Content-Type": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    async with secured.session.post(secured.url + "/api/messages", data=body, headers=headers) as response:
        await assert_refused(response, 401)
    assert await stored_requests(secured.core) == 0 and secured.connector.calls == []


async def test_teams_invokes_of_a_wrong_shape_never_answer_500(teams: Teams) -> None:
    for value in ("text", ["x"], {"action": "x"}, {"action": {"type": "Action.Execute", "data": "x"}}):
        activity = teams.activity(USERS["alice"], type="invoke", name="adaptiveCard/action", value=value)
        response = await teams.post(activity)
        assert response.status < 500


# -- lead API and content links ------------------------------------------------------------------------


@pytest.fixture
async def lead_api(sqlite_url: str, clock: FakeClock) -> AsyncIterator[TestClient]:
    core = await build_core(sqlite_url, clock, PARTNERBOT_LEADS_TOKEN="lead-token")
    await make_world(core)
    client = TestClient(TestServer(build_web_app(core), host="127.0.0.1"))
    await client.start_server()
    yield client
    await client.close()
    await core.db.dispose()


@pytest.mark.parametrize("body", [DEEP_LIST.encode(), DEEP_OBJECT.encode(), INVALID_UTF8, b"{nope"])
async def test_lead_api_malformed_bodies_get_400_with_a_valid_token(
    lead_api: TestClient, body: bytes
) -> None:
    response = await lead_api.post(
        "/api/leads",
        data=body,
        headers={"Authorization": "Bearer lead-token", "Content-Type": "application/json"},
    )
    await assert_refused(response, 400)


@pytest.mark.parametrize("token", ["x" * 5000, "%ff%fe", "..%2f..%2fetc", "a" + "%00" * 10])
async def test_content_links_with_odd_tokens_are_404(lead_api: TestClient, token: str) -> None:
    response = await lead_api.get(f"/c/{token}", allow_redirects=False)
    assert response.status == 404


# -- Socket Mode ---------------------------------------------------------------------------------------


async def test_socket_mode_envelopes_of_a_wrong_shape_are_acknowledged_and_dropped(
    sqlite_url: str, socket_slack: SocketSlack
) -> None:
    async with socket_mode_app(sqlite_url, socket_slack) as core:
        nested: object = 1
        for _ in range(100):
            nested = {"a": nested}
        bad = [
            ("bad-1", "a string"),
            ("bad-2", [1, 2]),
            ("bad-3", nested),
            ("bad-4", {"type": "block_actions", "user": "x"}),
        ]
        for envelope_id, payload in bad:
            await socket_slack.push({"envelope_id": envelope_id, "type": "interactive", "payload": payload})
            await wait_for(
                lambda envelope_id=envelope_id: any(
                    a.get("envelope_id") == envelope_id for a in socket_slack.acks
                )
            )
        assert await stored_requests(core) == 0
        # The connection still serves: a real command after them is answered.
        command = alice_command(socket_slack, "good-1", "help", trigger_id="trig-socket-good")
        await socket_slack.push(command)
        await wait_for(lambda: any(a.get("envelope_id") == "good-1" for a in socket_slack.acks))
        await core.inbox.drain()
        assert socket_slack.posts("DUALICE")
