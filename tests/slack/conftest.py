"""The Slack harness: the real aiohttp app from ``bot.app.build_web_app`` on 127.0.0.1, correctly signed
requests, and a local stand-in for Slack's Web API (``SLACK_API_URL``) that records every call.

Every Block Kit payload the stand-in receives (messages, updates, ephemerals, ``response_url`` posts,
modals, Home views) is validated through ``slack_sdk.models`` and Slack's block limits when the test
ends, whatever the test itself checked.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from slack_sdk.signature import SignatureVerifier

from bot.app import build_web_app
from bot.bootstrap import Core
from handlers.slack.app import SLACK_KEY
from handlers.slack.listeners import SlackChannel
from tests.conftest import FakeClock, World, build_core, make_world

SIGNING_SECRET = (
    "test-signing-secret"  # distinctive: no log line of the run may contain it (tests/conftest.py)
)
BOT_TOKEN = "xoxb-test"
VENDOR_CHANNEL = "CVENDOR"
BOT_USER = "UBOT"

# Slack user id -> (workspace, e-mail, real name, tz)
USERS: dict[str, tuple[str, str, str, str]] = {
    "UALICE": ("TNORTH", "alice@northwind.example", "Alice Novak", "Europe/Berlin"),
    "UALEX": ("TNORTH", "alex@northwind.example", "Alex Roth", "Europe/Berlin"),
    "UBOB": ("TCONTOSO", "bob@contoso.example", "Bob Chen", "America/New_York"),
    "UDANA": ("TVENDOR", "dana@vendor.example", "Dana Reyes", "Europe/London"),
    "UCARL": ("TVENDOR", "carl@vendor.example", "Carl Meyer", "Europe/Berlin"),
    "USTRANGER": ("TSTRANGE", "stranger@nowhere.example", "Sam Stranger", "UTC"),
}

MESSAGE_METHODS = ("chat.postMessage", "chat.update", "chat.postEphemeral", "response_url")
VIEW_METHODS = ("views.open", "views.publish", "views.update", "views.push")


@dataclass
class Call:
    method: str
    body: dict[str, Any]
    token: str | None = None
    path: str = ""
    answer: dict[str, Any] = field(default_factory=dict)

    @property
    def dump(self) -> str:
        return json.dumps(self.body, ensure_ascii=False)


@dataclass
class Failure:
    method: str
    when: Callable[[dict[str, Any]], bool]
    status: int
    error: str
    retry_after: int | None
    times: int


@dataclass
class SlackStandIn:
    """Answers the Web API methods partnerbot uses, plausibly, and records every call."""

    calls: list[Call] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    _ts: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    url: str = ""
    uploads: dict[str, bytes] = field(default_factory=dict)
    """Bytes received at the upload URLs that ``files.getUploadURLExternal`` handed out, by file id."""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{user}/{n}", self._respond)
        app.router.add_route("*", "/upload/{file_id}", self._upload)
        return app

    def fail(
        self,
        method: str,
        *,
        status: int = 429,
        error: str = "ratelimited",
        retry_after: int | None = 30,
        times: int = 1,
        when: Callable[[dict[str, Any]], bool] = lambda body: True,
    ) -> None:
        self.failures.append(Failure(method, when, status, error, retry_after, times))

    def response_url(self, user: str) -> str:
        return f"{self.url}/respond/{user}/{next(self._ts)}"

    # -- what was called --------------------------------------------------------------------

    def of(self, method: str, **match: Any) -> list[Call]:
        return [
            c for c in self.calls if c.method == method and all(c.body.get(k) == v for k, v in match.items())
        ]

    def posts(self, channel: str) -> list[Call]:
        return self.of("chat.postMessage", channel=channel)

    def to_user(self, user: str) -> list[Call]:
        """Everything only ``user`` can see: their DM, ephemerals and response_url answers, their views."""
        return [
            c
            for c in self.calls
            if c.body.get("channel") == f"D{user}"
            or (c.method == "chat.postEphemeral" and c.body.get("user") == user)
            or (c.method == "response_url" and c.path.startswith(f"/respond/{user}/"))
            or (c.method == "views.publish" and c.body.get("user_id") == user)
            or (c.method == "views.open" and str(c.body.get("trigger_id", "")).startswith(f"trig-{user}-"))
        ]

    def files_in(self, channel: str) -> list[tuple[dict[str, Any], bytes]]:
        """Files shared into ``channel`` by ``files.completeUploadExternal``: (file entry, uploaded bytes)."""
        shared = []
        for call in self.of("files.completeUploadExternal", channel_id=channel):
            if not call.answer:
                continue  # refused
            for entry in json.loads(call.body["files"]):
                shared.append((entry, self.uploads.get(entry["id"], b"")))
        return shared

    # -- the server -------------------------------------------------------------------------

    async def _body(self, request: web.Request) -> dict[str, Any]:
        body: dict[str, Any] = dict(request.query)
        raw = await request.text()
        if raw:
            if request.content_type == "application/json":
                body.update(json.loads(raw))
            else:
                body.update(dict(parse_qsl(raw)))
        for key in ("blocks", "view"):
            if isinstance(body.get(key), str):
                body[key] = json.loads(body[key])
        return body

    async def _upload(self, request: web.Request) -> web.Response:
        """The upload URL (step 2 of ``files_upload_v2``): the raw file bytes, answered like Slack does."""
        file_id = request.match_info["file_id"]
        data = await request.read()
        self.calls.append(
            Call("upload", {"file_id": file_id, "size": len(data), "http": request.method}, path=request.path)
        )
        self.uploads[file_id] = data
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

    async def _respond(self, request: web.Request) -> web.Response:
        self.calls.append(Call("response_url", await self._body(request), path=request.path))
        return web.Response(text="ok", content_type="text/plain")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = await self._body(request)
        auth = request.headers.get("Authorization", "")
        call = Call(method, body, token=auth.removeprefix("Bearer ") or body.get("token"))
        self.calls.append(call)
        for failure in self.failures:
            if failure.method == method and failure.times > 0 and failure.when(body):
                failure.times -= 1
                headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
                return web.json_response(
                    {"ok": False, "error": failure.error}, status=failure.status, headers=headers
                )
        answer = getattr(self, "_" + method.replace(".", "_"), None)
        data = answer({**body, "_token": call.token}) if answer else {}
        call.answer = data
        return web.json_response({"ok": True, **data} if "ok" not in data else data)

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def _auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://vendor.slack.com/",
            "team": "Vendor",
            "user": "partnerbot",
            "team_id": "TVENDOR",
            "user_id": BOT_USER,
            "bot_id": "BBOT",
        }

    def _oauth_v2_access(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("code") != "good-code":
            return {"ok": False, "error": "invalid_code"}
        return {
            "app_id": "A1",
            "authed_user": {"id": "UALICE"},
            "scope": "chat:write,commands",
            "token_type": "bot",
            "access_token": "xoxb-north",
            "bot_user_id": "UBOTNORTH",
            "team": {"id": "TNORTH", "name": "Northwind"},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _users_info(self, body: dict[str, Any]) -> dict[str, Any]:
        user = body.get("user", "")
        if user not in USERS:
            return {"ok": False, "error": "user_not_found"}
        team, email, name, tz = USERS[user]
        return {
            "user": {
                "id": user,
                "team_id": team,
                "name": email.split("@")[0],
                "real_name": name,
                "tz": tz,
                "deleted": False,
                "is_bot": False,
                "profile": {"email": email, "real_name": name, "display_name": name.split()[0]},
            }
        }

    def _users_lookupByEmail(self, body: dict[str, Any]) -> dict[str, Any]:
        """Members are found by e-mail in their own workspace only (the installation's token names it)."""
        email = str(body.get("email") or "").lower()
        for user, (team, known, name, tz) in USERS.items():
            if known == email and self.team_of_token(body.get("_token")) in (None, team):
                return {"user": {"id": user, "team_id": team, "real_name": name, "tz": tz, "deleted": False}}
        return {"ok": False, "error": "users_not_found"}

    @staticmethod
    def team_of_token(token: str | None) -> str | None:
        """Which workspace a bot token belongs to (``xoxb-north`` is Northwind's installation); the
        single-workspace token of the harness answers for every workspace."""
        return {"xoxb-north": "TNORTH", "xoxb-contoso": "TCONTOSO", "xoxb-vendor": "TVENDOR"}.get(token or "")

    def _conversations_open(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"channel": {"id": f"D{body.get('users')}"}}

    def _chat_postMessage(self, body: dict[str, Any]) -> dict[str, Any]:
        ts = self._next_ts()
        return {
            "channel": body.get("channel"),
            "ts": ts,
            "message": {"type": "message", "ts": ts, "text": body.get("text"), "blocks": body.get("blocks")},
        }

    def _chat_update(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"channel": body.get("channel"), "ts": body.get("ts"), "text": body.get("text")}

    def _chat_postEphemeral(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"message_ts": self._next_ts()}

    def _files_getUploadURLExternal(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("filename") or not str(body.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._ts):06d}"
        return {"file_id": file_id, "upload_url": f"{self.url}/upload/{file_id}"}

    def _files_completeUploadExternal(self, body: dict[str, Any]) -> dict[str, Any]:
        files = json.loads(body.get("files") or "[]")
        if not files or any(f.get("id") not in self.uploads for f in files):
            return {"ok": False, "error": "file_not_found"}
        return {
            "files": [
                {
                    "id": f["id"],
                    "title": f.get("title"),
                    "name": "chart.png",
                    "size": len(self.uploads[f["id"]]),
                }
                for f in files
            ]
        }

    def _views_open(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"view": {**body.get("view", {}), "id": f"V{next(self._ts)}"}}

    _views_update = _views_open
    _views_push = _views_open

    def _views_publish(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"view": {**body.get("view", {}), "id": f"VHOME{body.get('user_id')}"}}

    # -- the assistant pane (assistant.threads.*), refused as Slack would refuse a bad call ----------

    @staticmethod
    def _in_a_thread(body: dict[str, Any]) -> bool:
        return str(body.get("channel_id", "")).startswith("D") and bool(body.get("thread_ts"))

    def _assistant_threads_setStatus(self, body: dict[str, Any]) -> dict[str, Any]:
        if not self._in_a_thread(body) or "status" not in body:
            return {"ok": False, "error": "invalid_arguments"}
        return {}

    def _assistant_threads_setTitle(self, body: dict[str, Any]) -> dict[str, Any]:
        if not self._in_a_thread(body) or not str(body.get("title") or "").strip():
            return {"ok": False, "error": "invalid_arguments"}
        return {}

    def _assistant_threads_setSuggestedPrompts(self, body: dict[str, Any]) -> dict[str, Any]:
        prompts = body.get("prompts")
        if (
            not self._in_a_thread(body)
            or not isinstance(prompts, list)
            or not 1 <= len(prompts) <= 4
            or any(not p.get("title") or not p.get("message") for p in prompts)
        ):
            return {"ok": False, "error": "invalid_arguments"}
        return {}


# -- validation of everything Slack would have rendered --------------------------------------------


def _text_objects(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
            yield node
        for value in node.values():
            yield from _text_objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _text_objects(value)


def validate_blocks(blocks: list[dict[str, Any]], *, limit: int) -> None:
    assert 0 < len(blocks) <= limit, f"{len(blocks)} blocks (limit {limit})"
    parsed = Block.parse_all(blocks)
    assert None not in parsed, f"unknown block type in {[b.get('type') for b in blocks]}"
    for block in parsed:
        block.to_dict()  # raises on any length/count violation slack_sdk knows
    action_ids = [
        e["action_id"]
        for b in blocks
        for e in b.get("elements", []) + [b.get("accessory") or {}]
        if isinstance(e, dict) and "action_id" in e
    ]
    assert len(action_ids) == len(set(action_ids)), f"duplicate action ids {action_ids}"
    for text in _text_objects(blocks):
        if text["type"] == "mrkdwn":
            # partnerbot never sends links or mentions: any '<' would be unescaped user text.
            assert "<" not in text["text"], text["text"]


def validate_call(call: Call) -> None:
    body = call.body
    if call.method in MESSAGE_METHODS and "blocks" in body:
        assert body.get("text"), f"{call.method} without a text fallback"
        assert "<" not in body["text"], body["text"]
        validate_blocks(body["blocks"], limit=50)
        assert body.get("response_type") != "in_channel"
    if call.method == "files.completeUploadExternal" and call.answer:
        # A file shared into a channel is seen by everyone there: charts go to DMs or the vendor channel.
        channel = str(body.get("channel_id") or "")
        assert channel.startswith("D") or channel == VENDOR_CHANNEL, f"file shared into {channel!r}"
    if call.method in VIEW_METHODS:
        view = body["view"]
        View(**view).to_dict()
        validate_blocks(view["blocks"], limit=100)
        if view["type"] == "modal":
            assert len(view["title"]["text"]) <= 24
            assert len(view.get("private_metadata", "")) <= 3000
            assert view["callback_id"] == "pb_form"


# -- the harness -----------------------------------------------------------------------------------


class Slack:
    """Drives the bot as Slack would, and waits for the work it acknowledged."""

    def __init__(
        self,
        *,
        http: TestClient,
        standin: SlackStandIn,
        core: Core,
        world: World,
        clock: FakeClock,
        channel: SlackChannel,
    ) -> None:
        self.http = http
        self.standin = standin
        self.core = core
        self.world = world
        self.clock = clock
        self.channel = channel
        self._ids = itertools.count(1)

    # -- signing ----------------------------------------------------------------------------

    def headers(
        self,
        body: str,
        *,
        timestamp: int | None = None,
        secret: str = SIGNING_SECRET,
        content_type: str = "application/json",
    ) -> dict[str, str]:
        ts = int(time.time()) if timestamp is None else timestamp
        signature = SignatureVerifier(secret).generate_signature(timestamp=str(ts), body=body)
        return {
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": signature,
            "Content-Type": content_type,
        }

    async def post(
        self,
        body: str,
        *,
        content_type: str,
        extra: dict[str, str] | None = None,
        timestamp: int | None = None,
        secret: str = SIGNING_SECRET,
    ) -> Any:
        headers = self.headers(body, timestamp=timestamp, secret=secret, content_type=content_type)
        response = await self.http.post(
            "/slack/events", data=body.encode(), headers={**headers, **(extra or {})}
        )
        await response.read()
        return response

    async def settle(self) -> None:
        """Everything acknowledged is done, and the outbox has delivered what is due."""
        for _ in range(3):
            await self.channel.drain()
            await self.core.settle()

    # -- Events API -------------------------------------------------------------------------

    def event_body(self, event: dict[str, Any], *, team: str, event_id: str | None = None) -> str:
        return json.dumps(
            {
                "token": "legacy",
                "team_id": team,
                "api_app_id": "A1",
                "type": "event_callback",
                "event": event,
                "event_id": event_id or f"Ev{next(self._ids):04d}",
                "event_time": int(time.time()),
                "authorizations": [{"team_id": team, "user_id": BOT_USER, "is_bot": True}],
            }
        )

    async def event(
        self,
        event: dict[str, Any],
        *,
        team: str,
        event_id: str | None = None,
        retry: int | None = None,
        settle: bool = True,
    ) -> Any:
        extra = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else None
        response = await self.post(
            self.event_body(event, team=team, event_id=event_id), content_type="application/json", extra=extra
        )
        if settle:
            await self.settle()
        return response

    async def dm(
        self,
        user: str,
        text: str,
        *,
        event_id: str | None = None,
        retry: int | None = None,
        settle: bool = True,
    ) -> Any:
        team = USERS[user][0]
        event = {
            "type": "message",
            "channel_type": "im",
            "user": user,
            "text": text,
            "team": team,
            "channel": f"D{user}",
            "ts": f"{time.time():.6f}",
            "event_ts": f"{time.time():.6f}",
        }
        return await self.event(event, team=team, event_id=event_id, retry=retry, settle=settle)

    async def home_opened(self, user: str) -> Any:
        event = {
            "type": "app_home_opened",
            "user": user,
            "channel": f"D{user}",
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        }
        return await self.event(event, team=USERS[user][0])

    async def mention(self, user: str, text: str, *, channel: str = "CSHARED") -> Any:
        team = USERS[user][0]
        event = {
            "type": "app_mention",
            "user": user,
            "text": f"<@{BOT_USER}> {text}",
            "team": team,
            "channel": channel,
            "ts": f"{time.time():.6f}",
            "event_ts": f"{time.time():.6f}",
        }
        return await self.event(event, team=team)

    # -- slash command ----------------------------------------------------------------------

    async def command(self, user: str, text: str = "", *, channel: str | None = None) -> Any:
        team = USERS[user][0]
        channel = channel or f"D{user}"
        form = {
            "token": "legacy",
            "team_id": team,
            "team_domain": team.lower(),
            "channel_id": channel,
            "channel_name": "directmessage" if channel.startswith("D") else "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/partner",
            "text": text,
            "api_app_id": "A1",
            "response_url": self.standin.response_url(user),
            "trigger_id": f"trig-{user}-{next(self._ids)}",
        }
        response = await self.post(urlencode(form), content_type="application/x-www-form-urlencoded")
        await self.settle()
        return response

    # -- interactivity ----------------------------------------------------------------------

    async def interact(self, payload: dict[str, Any], *, settle: bool = True) -> Any:
        response = await self.post(
            urlencode({"payload": json.dumps(payload)}), content_type="application/x-www-form-urlencoded"
        )
        if settle:
            await self.settle()
        return response

    async def click(
        self,
        user: str,
        message: Call,
        label: str,
        *,
        action_ts: str | None = None,
        channel: str | None = None,
        ts: str | None = None,
        settle: bool = True,
    ) -> Any:
        """Click the button labelled ``label`` in a message the stand-in received."""
        team = USERS[user][0]
        block_id, element = find_button(message.body["blocks"], label)
        channel = channel or message.body["channel"]
        ts = ts or message.body.get("ts") or message.answer["ts"]
        payload = {
            "type": "block_actions",
            "api_app_id": "A1",
            "token": "legacy",
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team},
            "team": {"id": team, "domain": team.lower()},
            "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
            "trigger_id": f"trig-{user}-{next(self._ids)}",
            "channel": {"id": channel, "name": "x"},
            "message": {
                "type": "message",
                "ts": ts,
                "text": message.body.get("text"),
                "blocks": message.body["blocks"],
            },
            "response_url": self.standin.response_url(user),
            "actions": [
                {
                    "type": "button",
                    "action_id": element["action_id"],
                    "block_id": block_id,
                    "text": element["text"],
                    "value": element.get("value"),
                    "action_ts": action_ts or f"{time.time():.6f}",
                }
            ],
        }
        return await self.interact(payload, settle=settle)

    async def click_home(self, user: str, view: dict[str, Any], label: str) -> Any:
        team = USERS[user][0]
        block_id, element = find_button(view["blocks"], label)
        payload = {
            "type": "block_actions",
            "api_app_id": "A1",
            "token": "legacy",
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team},
            "team": {"id": team, "domain": team.lower()},
            "container": {"type": "view", "view_id": f"VHOME{user}"},
            "trigger_id": f"trig-{user}-{next(self._ids)}",
            "view": {**view, "id": f"VHOME{user}"},
            "actions": [
                {
                    "type": "button",
                    "action_id": element["action_id"],
                    "block_id": block_id,
                    "text": element["text"],
                    "value": element.get("value"),
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return await self.interact(payload)

    async def submit(self, user: str, opened: Call, values: dict[str, str | None]) -> Any:
        """Submit the modal that ``opened`` (a views.open call) showed, with ``values`` by field name."""
        team = USERS[user][0]
        view = opened.body["view"]
        state: dict[str, Any] = {}
        for block in view["blocks"]:
            if block["type"] != "input":
                continue
            element = block["element"]
            initial = element.get("initial_value") or (element.get("initial_option") or {}).get("value")
            value = values.get(block["block_id"], initial)
            if element["type"] == "static_select":
                option = next((o for o in element["options"] if o["value"] == value), None)
                state[block["block_id"]] = {"value": {"type": "static_select", "selected_option": option}}
            else:
                state[block["block_id"]] = {"value": {"type": element["type"], "value": value}}
        payload = {
            "type": "view_submission",
            "api_app_id": "A1",
            "token": "legacy",
            "team": {"id": team, "domain": team.lower()},
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team},
            "trigger_id": f"trig-{user}-{next(self._ids)}",
            "view": {
                **view,
                "id": f"V{next(self._ids)}",
                "team_id": team,
                "state": {"values": state},
                "hash": "h1",
                "app_id": "A1",
            },
            "response_urls": [],
        }
        return await self.interact(payload)


def find_button(blocks: list[dict[str, Any]], label: str) -> tuple[str, dict[str, Any]]:
    for block in blocks:
        elements = list(block.get("elements", [])) if block.get("type") == "actions" else []
        if block.get("accessory"):
            elements.append(block["accessory"])
        for element in elements:
            if element.get("type") == "button" and element["text"]["text"] == label:
                return block.get("block_id", ""), element
    raise AssertionError(f"no button {label!r} in {json.dumps(blocks)[:2000]}")


StandIn = TypeVar("StandIn", bound=SlackStandIn)


@contextlib.asynccontextmanager
async def serving(fake: StandIn) -> AsyncIterator[StandIn]:
    """``fake`` served on a free loopback port, its ``url`` set, until the block ends."""
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    try:
        yield fake
    finally:
        await server.close()


@pytest.fixture
async def standin() -> AsyncIterator[SlackStandIn]:
    async with serving(SlackStandIn()) as fake:
        yield fake


@contextlib.asynccontextmanager
async def slack_app(database_url: str, clock: FakeClock, standin: SlackStandIn) -> AsyncIterator[Slack]:
    """The real app with Slack configured against ``standin``, on ``database_url``, and its harness;
    every Web API call it made is validated when the block ends."""
    core = await build_core(
        database_url,
        clock,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=f"{standin.url}/api/",
        SLACK_VENDOR_CHANNEL=VENDOR_CHANNEL,
    )
    world = await make_world(core)
    async with serving_app(core, world, clock, standin) as harness:
        yield harness


@contextlib.asynccontextmanager
async def serving_app(
    core: Core, world: World, clock: FakeClock, standin: SlackStandIn
) -> AsyncIterator[Slack]:
    """The real app of ``core`` on loopback, and its harness; every Web API call ``standin`` received
    is validated when the block ends."""
    app = build_web_app(core)
    http = TestClient(TestServer(app, host="127.0.0.1"))
    await http.start_server()
    harness = Slack(http=http, standin=standin, core=core, world=world, clock=clock, channel=app[SLACK_KEY])
    try:
        yield harness
        await harness.settle()
    finally:
        await http.close()
        await core.db.dispose()
    for call in standin.calls:
        validate_call(call)


@pytest.fixture
async def slack(sqlite_url: str, clock: FakeClock, standin: SlackStandIn) -> AsyncIterator[Slack]:
    async with slack_app(sqlite_url, clock, standin) as harness:
        yield harness
