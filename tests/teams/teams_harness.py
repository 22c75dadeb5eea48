"""Shared by the Teams channel tests: the real aiohttp app from ``bot.app.build_web_app`` on loopback,
Bot Framework activities posted to ``/api/messages`` the way Teams (or the Emulator) posts them, and a
stand-in Bot Connector on 127.0.0.1 that records every call the bot makes back (``serviceUrl`` points
at it).

The official Adaptive Card schema is read from the ``shared/schemas`` folder next to the repository
(or ``$PARTNERBOT_SHARED_DIR/schemas``), never copied and never fetched; ``$ref``s resolve locally.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from jsonschema.validators import validator_for
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import specification_with

from bot.app import build_web_app
from bot.bootstrap import Core
from tests.conftest import FakeClock, World, build_core, make_world

CARD_SCHEMA_NAME = "adaptive-card-1.5.json"
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_CARD_BYTES = 28 * 1024
BOT = {"id": "28:partnerbot-app", "name": "partnerbot"}


# --- the official schema ---------------------------------------------------------------------------


def shared_schemas_dir() -> Path:
    """``$PARTNERBOT_SHARED_DIR/schemas`` if set, else ``<repo root>/../shared/schemas``."""
    shared = os.environ.get("PARTNERBOT_SHARED_DIR")
    base = Path(shared) if shared else Path(__file__).resolve().parents[2].parent / "shared"
    return base / "schemas"


def card_schema_or_none() -> dict[str, Any] | None:
    path = shared_schemas_dir() / CARD_SCHEMA_NAME
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def load_card_schema() -> dict[str, Any]:
    """The Adaptive Card 1.5 schema; fail on CI when it is missing, skip elsewhere."""
    schema = card_schema_or_none()
    if schema is None:
        message = (
            f"schema {CARD_SCHEMA_NAME} not found in {shared_schemas_dir()} "
            "(set PARTNERBOT_SHARED_DIR to the shared folder)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return schema


def _refuse_remote(uri: str) -> Resource:
    # Every $ref must resolve inside the local file: a test never reaches the network.
    raise NoSuchResource(ref=uri)


def schema_errors(schema: dict[str, Any], document: Any) -> list[str]:
    """Every way ``document`` breaks ``schema``, with ``$ref``s resolved from the local file only."""
    cls = validator_for(schema)
    cls.check_schema(schema)
    resource = Resource.from_contents(
        schema, default_specification=specification_with(cls.META_SCHEMA["$schema"])
    )
    registry: Registry = Registry(retrieve=_refuse_remote)
    if resource.id():
        registry = registry.with_resource(resource.id(), resource)
    errors = sorted(cls(schema, registry=registry).iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]


def check_card(schema: dict[str, Any], card: dict[str, Any]) -> None:
    errors = schema_errors(schema, card)
    assert not errors, "card does not match the Adaptive Card 1.5 schema:\n" + "\n".join(errors)
    size = len(json.dumps(card, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    assert size < MAX_CARD_BYTES, f"card is {size} bytes"


# --- people as Teams knows them ---------------------------------------------------------------------


@dataclass(frozen=True)
class TeamsUser:
    key: str
    name: str
    email: str
    tenant: str

    @property
    def id(self) -> str:
        return f"29:{self.key}"

    @property
    def aad(self) -> str:
        return f"aad-{self.key}"

    @property
    def conversation(self) -> str:
        return f"a:dm-{self.key}"

    def account(self) -> dict[str, Any]:
        return {"id": self.id, "aadObjectId": self.aad, "name": self.name}


USERS = {
    u.key: u
    for u in (
        TeamsUser("alice", "Alice Novak", "alice@northwind.example", "tenant-northwind"),
        TeamsUser("alex", "Alex Roth", "alex@northwind.example", "tenant-northwind"),
        TeamsUser("bob", "Bob Chen", "bob@contoso.example", "tenant-contoso"),
        TeamsUser("dana", "Dana Reyes", "dana@vendor.example", "tenant-vendor"),
        TeamsUser("carl", "Carl Meyer", "carl@vendor.example", "tenant-vendor"),
        TeamsUser("mallory", "Mallory", "mallory@unknown.example", "tenant-unknown"),
    )
}


# --- the stand-in Bot Connector -------------------------------------------------------------------


@dataclass
class Call:
    kind: str  # send (new message), reply, update, create (conversation), member
    conversation: str
    activity_id: str | None
    body: dict[str, Any]
    status: int

    @property
    def ok(self) -> bool:
        return self.status < 300

    def cards(self) -> list[dict[str, Any]]:
        return [a["content"] for a in self.body.get("attachments") or [] if a.get("contentType") == CARD_TYPE]

    def images(self) -> list[dict[str, Any]]:
        """Inline images sent beside the card (``contentType`` image/*, a ``data:`` URI)."""
        return [
            a
            for a in self.body.get("attachments") or []
            if str(a.get("contentType", "")).startswith("image/")
        ]

    @property
    def card(self) -> dict[str, Any]:
        found = self.cards()
        assert len(found) == 1, f"expected one card in {self.body}"
        return found[0]

    @property
    def text(self) -> str:
        """Everything a person reads in this message, card or plain text, as one string."""
        parts = [self.body.get("text") or ""]
        for card in self.cards():
            parts += list(card_texts(card))
        return "\n".join(p for p in parts if p)


def card_texts(node: Any) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        for key in ("text", "title", "value", "label"):
            if isinstance(node.get(key), str) and node.get("type") not in ("Input.Choice",):
                out.append(node[key].replace("\\", ""))
        for value in node.values():
            if isinstance(value, dict | list):
                out += card_texts(value)
    elif isinstance(node, list):
        for item in node:
            out += card_texts(item)
    return out


def card_actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if str(node.get("type", "")).startswith("Action."):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card.get("body", []))
    walk(card.get("actions", []))
    return found


class StandInConnector:
    """What the bot sees as ``serviceUrl``: records calls, answers like the Bot Connector."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.fail_next: list[tuple[str, int, dict[str, str]]] = []  # (kind, status, headers)
        self.members = {u.id: u for u in USERS.values()}
        self.authorizations: list[str] = []  # the Authorization header of every call
        self._ids = itertools.count(1)
        self.url = ""
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{cid}/activities", self._send)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._reply)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._update)
        app.router.add_get("/v3/conversations/{cid}/members/{uid}", self._member)
        self.server = TestServer(app, host="127.0.0.1")

    def fail(self, kind: str, status: int, *, retry_after: int | None = None) -> None:
        """Answer the next ``kind`` call (send, reply, update, create) with ``status`` once."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self.fail_next.append((kind, status, headers))

    def _failure(self, kind: str) -> web.Response | None:
        for i, (k, status, headers) in enumerate(self.fail_next):
            if k == kind:
                del self.fail_next[i]
                return web.json_response(
                    {"error": {"code": "Throttled", "message": "stand-in failure"}},
                    status=status,
                    headers=headers,
                )
        return None

    async def _record(self, request: web.Request, kind: str) -> tuple[Call, web.Response | None]:
        body = await request.json() if request.can_read_body else {}
        self.authorizations.append(request.headers.get("Authorization", ""))
        failure = self._failure(kind)
        call = Call(
            kind,
            request.match_info.get("cid", ""),
            request.match_info.get("aid"),
            body,
            failure.status if failure else 200,
        )
        self.calls.append(call)
        return call, failure

    async def _create(self, request: web.Request) -> web.Response:
        call, failure = await self._record(request, "create")
        if failure:
            return failure
        member = (call.body.get("members") or [{}])[0]
        # Teams answers with the person's existing 1:1 chat with the bot when there is one.
        known = self.members.get(member.get("id", ""))
        return web.json_response({"id": known.conversation if known else f"a:1on1-{member.get('id', '?')}"})

    async def _send(self, request: web.Request) -> web.Response:
        call, failure = await self._record(request, "send")
        if failure:
            return failure
        call.activity_id = f"act-{next(self._ids)}"
        return web.json_response({"id": call.activity_id})

    async def _reply(self, request: web.Request) -> web.Response:
        call, failure = await self._record(request, "reply")
        if failure:
            return failure
        call.body["replyToId"] = call.activity_id
        call.activity_id = f"act-{next(self._ids)}"
        return web.json_response({"id": call.activity_id})

    async def _update(self, request: web.Request) -> web.Response:
        call, failure = await self._record(request, "update")
        return failure or web.json_response({"id": call.activity_id})

    async def _member(self, request: web.Request) -> web.Response:
        self.calls.append(
            Call("member", request.match_info["cid"], None, {"id": request.match_info["uid"]}, 200)
        )
        user = self.members.get(request.match_info["uid"])
        if user is None:
            return web.json_response({"error": {"code": "MemberNotFoundInConversation"}}, status=404)
        return web.json_response(
            {
                "id": user.id,
                "aadObjectId": user.aad,
                "email": user.email,
                "name": user.name,
                "userPrincipalName": user.email,
                "tenantId": user.tenant,
            }
        )

    # -- reading what was recorded --------------------------------------------------------------

    def to(self, user: TeamsUser | str, *, kinds: tuple[str, ...] = ("send", "reply")) -> list[Call]:
        conversation = user.conversation if isinstance(user, TeamsUser) else str(user)
        return [c for c in self.calls if c.conversation == conversation and c.kind in kinds and c.ok]

    def updates(self, activity_id: str) -> list[Call]:
        return [c for c in self.calls if c.kind == "update" and c.activity_id == activity_id and c.ok]

    def all_cards(self) -> list[dict[str, Any]]:
        return [
            card for c in self.calls if c.kind in ("send", "reply", "update", "invoke") for card in c.cards()
        ]

    def clear(self) -> None:
        self.calls.clear()


# --- the harness ----------------------------------------------------------------------------------


@dataclass
class Teams:
    core: Core
    world: World
    clock: FakeClock
    connector: StandInConnector
    url: str
    session: aiohttp.ClientSession
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def activity(
        self,
        user: TeamsUser,
        *,
        type: str = "message",
        conversation_type: str = "personal",
        conversation_id: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        activity: dict[str, Any] = {
            "type": type,
            "id": fields.pop("id", None) or f"in-{next(self.ids)}",
            "timestamp": self.clock().isoformat() + "Z",
            "serviceUrl": self.connector.url,
            "channelId": "msteams",
            "from": user.account(),
            "recipient": dict(BOT),
            "conversation": {
                "id": conversation_id or user.conversation,
                "conversationType": conversation_type,
                "tenantId": user.tenant,
            },
            "channelData": {"tenant": {"id": user.tenant}},
            "locale": "en-US",
        }
        activity.update({k: v for k, v in fields.items() if v is not None})
        return activity

    async def post(
        self, activity: dict[str, Any], *, headers: dict[str, str] | None = None
    ) -> aiohttp.ClientResponse:
        async with self.session.post(
            self.url + "/api/messages", json=activity, headers=headers or {}
        ) as response:
            await response.read()
        # The turn was answered once the activity was stored; its work runs from the inbox.
        await self.core.inbox.drain()
        return response

    async def say(self, user: TeamsUser, text: str, **fields: Any) -> list[Call]:
        """Send ``text`` as ``user``; the bot's answers in this turn."""
        activity = self.activity(user, text=text, **fields)
        before = len(self.connector.calls)
        response = await self.post(activity)
        assert response.status in (200, 201), response.status
        return self._answers(before, activity)

    async def click(
        self,
        user: TeamsUser,
        card_call: Call,
        title: str,
        *,
        inputs: dict[str, str] | None = None,
        **fields: Any,
    ) -> list[Call]:
        """Press the button ``title`` on the card posted in ``card_call``: an ``Action.Execute`` is the
        ``adaptiveCard/action`` invoke Teams sends, and the card it answers with - which Teams shows in
        place of the clicked one - comes first among the answers, as a call of kind ``invoke``; an
        ``Action.Submit`` (a card posted before Universal Actions) is a message with the payload."""
        action = find_action(card_call.card, title)
        value = {**action["data"], **(inputs or {})}
        if action["type"] == "Action.Execute":
            execute = {"type": "Action.Execute", "verb": action["verb"], "data": value}
            return await self.execute(user, card_call, execute, trigger="manual", **fields)
        activity = self.activity(user, value=value, replyToId=card_call.activity_id, **fields)
        before = len(self.connector.calls)
        response = await self.post(activity)
        assert response.status in (200, 201), response.status
        return self._answers(before, activity)

    async def execute(
        self, user: TeamsUser, card_call: Call, action: dict[str, Any], *, trigger: str, **fields: Any
    ) -> list[Call]:
        """Send the ``adaptiveCard/action`` invoke for ``action`` on the card of ``card_call``; the
        invoke's answer (a card, or a message) first, then what the bot posted during the turn."""
        activity = self.activity(
            user,
            type="invoke",
            name="adaptiveCard/action",
            value={"action": action, "trigger": trigger},
            replyToId=card_call.activity_id,
            **fields,
        )
        before = len(self.connector.calls)
        async with self.session.post(self.url + "/api/messages", json=activity) as response:
            status = response.status
            body = await response.json() if response.content_type == "application/json" else {}
        assert status == 200, (status, body)
        await self.core.inbox.drain()
        answers = self._answers(before, activity)
        if body.get("type") == CARD_TYPE:
            shown = Call(
                "invoke",
                activity["conversation"]["id"],
                card_call.activity_id,
                {"attachments": [{"contentType": CARD_TYPE, "content": body["value"]}]},
                200,
            )
            self.connector.calls.append(shown)  # what the client shows is checked like any card
        else:
            shown = Call("invoke", activity["conversation"]["id"], None, {"text": body.get("value")}, 200)
        return [shown, *answers]

    async def refresh(self, user: TeamsUser, card_call: Call, **fields: Any) -> Call:
        """What ``user`` sees of the card in ``card_call`` once Teams has refreshed it for them."""
        refresh = card_call.card["refresh"]
        (shown, *_) = await self.execute(user, card_call, refresh["action"], trigger="automatic", **fields)
        return shown

    def _answers(self, before: int, activity: dict[str, Any]) -> list[Call]:
        """What the bot posted or updated in the activity's conversation since call number ``before``."""
        conversation = activity["conversation"]["id"]
        return [
            c
            for c in self.connector.calls[before:]
            if c.kind in ("send", "reply", "update") and c.conversation == conversation
        ]

    async def settle(self) -> None:
        """Let the delivery the bot kicked off finish, then deliver whatever else is due."""
        await self.core.settle()
        await self.core.dispatcher().deliver_due()


def find_action(card: dict[str, Any], title: str) -> dict[str, Any]:
    for action in card_actions(card):
        if action.get("title") == title:
            return action
    raise AssertionError(
        f"no button {title!r} on the card; buttons: {[a.get('title') for a in card_actions(card)]}"
    )


APP_ID = "3f2b8c1e-7a4d-4e6b-9c0f-1a2b3c4d5e6f"


@contextlib.asynccontextmanager
async def secured_teams(
    sqlite_url: str, clock: FakeClock, connector: StandInConnector
) -> AsyncIterator[Teams]:
    """The real app with Teams credentials (``MICROSOFT_APP_ID``): every request needs a Bot Connector
    token."""
    harness, server = await start_teams(
        sqlite_url, clock, connector, MICROSOFT_APP_ID=APP_ID, MICROSOFT_APP_PASSWORD="not-a-real-secret"
    )
    try:
        yield harness
        await harness.core.settle()
    finally:
        await harness.session.close()
        await server.close()


async def start_teams(
    sqlite_url: str, clock: FakeClock, connector: StandInConnector, **settings: str
) -> tuple[Teams, TestServer]:
    core = await build_core(sqlite_url, clock, **settings)
    world = await make_world(core)
    server = TestServer(build_web_app(core), host="127.0.0.1")
    await server.start_server()
    session = aiohttp.ClientSession()
    return Teams(core, world, clock, connector, str(server.make_url("")).rstrip("/"), session), server
