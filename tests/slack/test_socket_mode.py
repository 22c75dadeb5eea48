"""Socket Mode (``SLACK_APP_TOKEN``): Slack's envelopes over a websocket instead of signed HTTP requests.

A stand-in answers ``apps.connections.open`` with the address of its own websocket, pushes envelopes the
way Slack does and records the acknowledgements and the Web API calls the bot makes afterwards. The
bot under test is the real aiohttp app; its Socket Mode client connects when the app starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.app import build_web_app
from bot.bootstrap import Core
from tests.conftest import FakeClock, build_core, make_world
from tests.slack.conftest import BOT_TOKEN, USERS, SlackStandIn, serving

APP_TOKEN = "xapp-1-test"


@dataclass
class SocketSlack(SlackStandIn):
    """The Web API stand-in of the other Slack tests, plus Socket Mode: ``apps.connections.open``
    hands out the address of a websocket on which the test pushes envelopes."""

    acks: list[dict[str, Any]] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    socket: web.WebSocketResponse | None = None

    def app(self) -> web.Application:
        app = super().app()
        app.router.add_get("/socket", self._socket)
        return app

    def _apps_connections_open(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.url.replace("http://", "ws://") + "/socket"}

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self.socket = socket
        await socket.send_json({"type": "hello", "num_connections": 1})
        self.connected.set()
        async for message in socket:
            if message.type == aiohttp.WSMsgType.TEXT:
                self.acks.append(json.loads(message.data))
        return socket

    async def push(self, envelope: dict[str, Any]) -> None:
        assert self.socket is not None
        await self.socket.send_json(envelope)


@pytest.fixture
async def socket_slack() -> AsyncIterator[SocketSlack]:
    async with serving(SocketSlack()) as fake:
        yield fake
        if fake.socket is not None:
            await fake.socket.close()


async def wait_for(condition: Any, *, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out waiting")


def alice_command(
    socket_slack: SocketSlack, envelope_id: str, text: str, *, trigger_id: str
) -> dict[str, Any]:
    """A ``/partner`` slash command from Alice in her DM, as a Socket Mode envelope."""
    team = USERS["UALICE"][0]
    return {
        "envelope_id": envelope_id,
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": {
            "token": "legacy",
            "team_id": team,
            "team_domain": team.lower(),
            "channel_id": "DUALICE",
            "channel_name": "directmessage",
            "user_id": "UALICE",
            "user_name": "alice",
            "command": "/partner",
            "text": text,
            "api_app_id": "A1",
            "response_url": f"{socket_slack.url}/respond/1",
            "trigger_id": trigger_id,
        },
    }


@contextlib.asynccontextmanager
async def socket_mode_app(database_url: str, socket_slack: SocketSlack) -> AsyncIterator[Core]:
    """The real app in Socket Mode against ``socket_slack``, connected (the client connects as the app
    starts); its core."""
    core = await build_core(
        database_url,
        FakeClock(),
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_API_URL=f"{socket_slack.url}/api/",
    )
    await make_world(core)
    server = TestServer(build_web_app(core), host="127.0.0.1")
    await server.start_server()
    try:
        await asyncio.wait_for(socket_slack.connected.wait(), timeout=10)
        yield core
    finally:
        await server.close()
        await core.db.dispose()


async def test_a_slash_command_over_socket_mode_is_acknowledged_then_answered(
    sqlite_url: str, socket_slack: SocketSlack
) -> None:
    async with socket_mode_app(sqlite_url, socket_slack) as core:
        (opened,) = socket_slack.of("apps.connections.open")
        assert opened.token == APP_TOKEN  # asked for with the app-level token, not the bot's
        command = alice_command(socket_slack, "env-1", "show my deals", trigger_id="trig-socket-1")
        await socket_slack.push(command)
        await wait_for(lambda: any(a.get("envelope_id") == "env-1" for a in socket_slack.acks))
        # Slack sends it again (it thinks the ack was lost): acknowledged again, handled once.
        await socket_slack.push(
            {**command, "envelope_id": "env-2", "retry_attempt": 1, "retry_reason": "timeout"}
        )
        await wait_for(lambda: any(a.get("envelope_id") == "env-2" for a in socket_slack.acks))
        await core.inbox.drain()
        (post,) = socket_slack.posts("DUALICE")
        assert "deal" in post.dump.lower() and post.token == BOT_TOKEN
