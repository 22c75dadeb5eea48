"""Token hygiene through the real app and the Slack stand-in: with Slack's token rotation on, an expired
bot token is refreshed (``oauth.v2.access``, ``grant_type=refresh_token``) and saved before it is used -
by the outbox, by incoming requests (bolt's authorize) and by several deliveries at once, which refresh
it once; a refused refresh is retried by the outbox and breaks nothing else; and an org-wide (Enterprise
Grid) installation answers for the workspaces of its organisation."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from sqlalchemy import select

from bot.kernel.messages import Actor, Reply
from bot.kernel.outbox import queue_for_person
from handlers.slack.app import BOT_SCOPES
from handlers.slack.notifier import SlackNotifier
from handlers.slack.web_api import ROTATE_WITHIN_MINUTES, installation_store_for
from store.models import OutboxMessage
from tests.conftest import FakeClock, build_core, make_world
from tests.slack.conftest import BOT_USER, SIGNING_SECRET, Slack, SlackStandIn, serving, serving_app
from tests.slack.test_manifest import load_slack_manifest

pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")  # slack_sdk

CLIENT_ID = "111.222"
CLIENT_SECRET = "test-client-secret"
TWELVE_HOURS = 12 * 3600


@dataclass
class RotatingSlack(SlackStandIn):
    """The stand-in with token rotation on: a refresh spends the refresh token (a second use is
    ``invalid_refresh_token``, as are unknown ones) and hands out a 12-hour bot token and a new refresh
    token: ``xoxe-1-north-1`` becomes ``xoxe.xoxb-north-2`` and ``xoxe-1-north-2``."""

    live_refresh_tokens: set[str] = field(default_factory=set)
    _issued: Iterator[int] = field(default_factory=lambda: itertools.count(2))

    def _oauth_v2_access(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("grant_type") != "refresh_token":
            return super()._oauth_v2_access(body)
        spent = str(body.get("refresh_token") or "")
        if spent not in self.live_refresh_tokens:
            return {"ok": False, "error": "invalid_refresh_token"}
        self.live_refresh_tokens.discard(spent)
        name, n = spent.split("-")[2], next(self._issued)
        self.live_refresh_tokens.add(f"xoxe-1-{name}-{n}")
        return {
            "app_id": "A1",
            "token_type": "bot",
            "access_token": f"xoxe.xoxb-{name}-{n}",
            "refresh_token": f"xoxe-1-{name}-{n}",
            "expires_in": TWELVE_HOURS,
            "scope": ",".join(BOT_SCOPES),
            "bot_user_id": BOT_USER,
        }

    def refreshes(self) -> list[str]:
        """The refresh tokens ``oauth.v2.access`` was called with, in order."""
        return [
            str(c.body.get("refresh_token")) for c in self.of("oauth.v2.access", grant_type="refresh_token")
        ]


@pytest.fixture
async def rotating() -> AsyncIterator[RotatingSlack]:
    async with serving(RotatingSlack()) as fake:
        yield fake


@pytest.fixture
async def slack(any_database_url: str, clock: FakeClock, rotating: RotatingSlack) -> AsyncIterator[Slack]:
    """The real app with the multi-workspace install only (no SLACK_BOT_TOKEN: every token comes from
    a stored installation), on SQLite and PostgreSQL."""
    core = await build_core(
        any_database_url,
        clock,
        SLACK_CLIENT_ID=CLIENT_ID,
        SLACK_CLIENT_SECRET=CLIENT_SECRET,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=f"{rotating.url}/api/",
        SLACK_VENDOR_CHANNEL="CVENDOR",
    )
    world = await make_world(core)
    # Alice and Alex (Northwind, TNORTH) and Bob (Contoso, TCONTOSO) are linked to their Slack accounts.
    for email, user, team in (
        ("alice@northwind.example", "UALICE", "TNORTH"),
        ("alex@northwind.example", "UALEX", "TNORTH"),
        ("bob@contoso.example", "UBOB", "TCONTOSO"),
    ):
        actor = getattr(world, email.split("@")[0])
        partner = "Northwind Partners" if team == "TNORTH" else "Contoso Integrators"
        await core.people.add_user(
            email=email, name=actor.name, partner=partner, identities=[("slack", team, user)]
        )
    async with serving_app(core, world, clock, rotating) as harness:
        yield harness


def store_of(slack: Slack) -> AsyncSQLAlchemyInstallationStore:
    return installation_store_for(slack.core)


async def install(
    slack: Slack,
    *,
    team: str | None,
    name: str,
    expires_in: int | None,
    rotating: bool = True,
    enterprise: str | None = None,
) -> None:
    """Store an installation as the OAuth flow would: token ``xoxe.xoxb-<name>-1`` with refresh token
    ``xoxe-1-<name>-1`` that Slack will accept once (or a never-expiring ``xoxb-<name>`` without
    rotation). ``enterprise`` with no ``team`` is an org-wide installation."""
    now = time.time()
    await store_of(slack).async_save(
        Installation(
            app_id="A1",
            enterprise_id=enterprise,
            team_id=team,
            bot_token=f"xoxe.xoxb-{name}-1" if rotating else f"xoxb-{name}",
            bot_id=f"B{name.upper()}",
            bot_user_id=BOT_USER,
            bot_scopes=list(BOT_SCOPES),
            bot_refresh_token=f"xoxe-1-{name}-1" if rotating else None,
            bot_token_expires_at=int(now + expires_in) if rotating and expires_in is not None else None,
            user_id="UINSTALLER",
            is_enterprise_install=team is None,
            token_type="bot",
            installed_at=now - 3600,
        )
    )
    if rotating:
        assert isinstance(slack.standin, RotatingSlack)
        slack.standin.live_refresh_tokens.add(f"xoxe-1-{name}-1")


async def queue(slack: Slack, person: Actor, text: str) -> None:
    async with slack.core.db.transaction() as session:
        await queue_for_person(
            session,
            key=f"tokens:{text}",
            person_id=person.person_id,
            reply=Reply(text=text),
            kind="test",
            now=slack.core.clock(),
        )


async def outbox_row(slack: Slack, text: str) -> OutboxMessage:
    async with slack.core.db.transaction() as session:
        row = (
            await session.execute(
                select(OutboxMessage).where(OutboxMessage.idempotency_key == f"tokens:{text}")
            )
        ).scalar_one()
        session.expunge(row)
        return row


def posted(slack: Slack, text: str) -> list[Any]:
    return [c for c in slack.standin.of("chat.postMessage") if text in c.dump]


# -- the outbox --------------------------------------------------------------------------------------


async def test_an_expired_token_is_refreshed_and_saved_before_an_outbox_delivery(slack: Slack) -> None:
    rotating = slack.standin
    assert isinstance(rotating, RotatingSlack)
    await install(slack, team="TNORTH", name="north", expires_in=-60)
    await queue(slack, slack.world.alice, "Your deal D-1 was approved")

    report = await slack.core.dispatcher().deliver_due()

    assert report.sent == 1
    assert [c.method for c in rotating.calls] == ["oauth.v2.access", "conversations.open", "chat.postMessage"]
    refresh = rotating.calls[0]
    assert refresh.body["grant_type"] == "refresh_token" and refresh.body["refresh_token"] == "xoxe-1-north-1"
    # ...with the app's own credentials (HTTP Basic), as Slack asks.
    assert refresh.token == "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert [c.token for c in rotating.calls[1:]] == ["xoxe.xoxb-north-2"] * 2
    assert rotating.calls[2].body["channel"] == "DUALICE"

    # Both of the store's rows hold the new token: bolt's authorize reads one, the outbox the other.
    store = store_of(slack)
    bot = await store.async_find_bot(enterprise_id=None, team_id="TNORTH")
    installation = await store.async_find_installation(enterprise_id=None, team_id="TNORTH")
    assert bot is not None and installation is not None
    for saved in (bot, installation):
        assert saved.bot_token == "xoxe.xoxb-north-2" and saved.bot_refresh_token == "xoxe-1-north-2"
        assert saved.bot_token_expires_at is not None
        assert abs(saved.bot_token_expires_at - (time.time() + TWELVE_HOURS)) < 60

    # The next delivery uses the saved token as it is.
    await queue(slack, slack.world.alex, "Lead L-3 is yours")
    assert (await slack.core.dispatcher().deliver_due()).sent == 1
    assert rotating.refreshes() == ["xoxe-1-north-1"]
    assert [c.token for c in posted(slack, "Lead L-3")] == ["xoxe.xoxb-north-2"]


async def test_a_token_not_about_to_expire_is_used_as_it_is(slack: Slack) -> None:
    await install(slack, team="TNORTH", name="north", expires_in=ROTATE_WITHIN_MINUTES * 60 + 300)
    await install(slack, team="TCONTOSO", name="contoso", expires_in=None, rotating=False)  # rotation off
    await queue(slack, slack.world.alice, "for Alice")
    await queue(slack, slack.world.bob, "for Bob")

    assert (await slack.core.dispatcher().deliver_due()).sent == 2

    assert not slack.standin.of("oauth.v2.access")
    assert [c.token for c in posted(slack, "for Alice")] == ["xoxe.xoxb-north-1"]
    assert [c.token for c in posted(slack, "for Bob")] == ["xoxb-contoso"]


async def test_a_refused_refresh_is_retried_later_and_breaks_nothing_else(slack: Slack) -> None:
    rotating = slack.standin
    assert isinstance(rotating, RotatingSlack)
    await install(slack, team="TNORTH", name="north", expires_in=-60)
    rotating.live_refresh_tokens.clear()  # e.g. spent by another replica a moment ago
    await install(slack, team="TCONTOSO", name="contoso", expires_in=None, rotating=False)
    await queue(slack, slack.world.alice, "for Alice")
    await queue(slack, slack.world.bob, "for Bob")

    report = await slack.core.dispatcher().deliver_due()

    # Bob's workspace is not affected; Alice's message waits for another attempt, not lost.
    assert (report.sent, report.retried, report.failed) == (1, 1, 0)
    assert [c.token for c in posted(slack, "for Bob")] == ["xoxb-contoso"]
    assert not posted(slack, "for Alice")
    row = await outbox_row(slack, "for Alice")
    assert row.status == "pending" and row.attempts == 1
    assert row.last_error is not None and "invalid_refresh_token" in row.last_error
    bot = await store_of(slack).async_find_bot(enterprise_id=None, team_id="TNORTH")
    assert bot is not None and bot.bot_token == "xoxe.xoxb-north-1"  # nothing half-saved

    # The other replica's refreshed installation is in the store when the retry comes: it is used.
    installation = await store_of(slack).async_find_installation(enterprise_id=None, team_id="TNORTH")
    assert installation is not None
    installation.bot_token, installation.bot_refresh_token = "xoxe.xoxb-north-9", "xoxe-1-north-9"
    installation.bot_token_expires_at = int(time.time()) + TWELVE_HOURS
    await store_of(slack).async_save(installation)
    slack.clock.advance(minutes=1)
    assert (await slack.core.dispatcher().deliver_due()).sent == 1
    assert [c.token for c in posted(slack, "for Alice")] == ["xoxe.xoxb-north-9"]
    assert rotating.refreshes() == ["xoxe-1-north-1"]

    # The app still answers requests, from either workspace.
    assert (await slack.http.get("/healthz")).status == 200
    await slack.dm("UBOB", "help")
    assert [c.token for c in posted(slack, "Here's what I can do")] == ["xoxb-contoso"]


async def test_deliveries_at_the_same_time_refresh_once(slack: Slack) -> None:
    rotating = slack.standin
    assert isinstance(rotating, RotatingSlack)
    await install(slack, team="TNORTH", name="north", expires_in=-60)
    notifier = slack.core.notifiers["slack"]
    assert isinstance(notifier, SlackNotifier)

    def target(user: str) -> dict[str, Any]:
        return {"workspace": "TNORTH", "external_id": user, "extras": {"team": "TNORTH", "user": user}}

    await asyncio.gather(
        notifier.send(target=target("UALICE"), reply=Reply(text="one"), idempotency_key="k1"),
        notifier.send(target=target("UALEX"), reply=Reply(text="two"), idempotency_key="k2"),
        notifier.send(target=target("UALICE"), reply=Reply(text="three"), idempotency_key="k3"),
    )

    assert rotating.refreshes() == ["xoxe-1-north-1"]
    assert {c.token for c in rotating.of("chat.postMessage")} == {"xoxe.xoxb-north-2"}
    assert len(rotating.of("chat.postMessage")) == 3


# -- incoming requests -------------------------------------------------------------------------------


async def test_an_incoming_event_is_answered_with_the_refreshed_token(slack: Slack) -> None:
    rotating = slack.standin
    assert isinstance(rotating, RotatingSlack)
    await install(slack, team="TNORTH", name="north", expires_in=-60)

    response = await slack.dm("UALICE", "help")

    assert response.status == 200
    # bolt's authorize refreshed it (through the same SlackTokens) before asking auth.test who the bot is;
    # the work the inbox did afterwards found the saved token.
    assert rotating.refreshes() == ["xoxe-1-north-1"]
    assert rotating.calls[0].method == "oauth.v2.access"
    assert [c.token for c in rotating.of("auth.test")] == ["xoxe.xoxb-north-2"]
    (answer,) = rotating.posts("DUALICE")
    assert answer.token == "xoxe.xoxb-north-2" and "Here's what I can do" in answer.dump
    assert {c.token for c in rotating.calls[1:]} == {"xoxe.xoxb-north-2"}


# -- org-wide installation (Enterprise Grid) -------------------------------------------------------


def org_event(user: str, text: str, *, team: str, enterprise: str) -> str:
    """A DM as Slack sends it to an app installed on a whole Enterprise Grid organisation."""
    return json.dumps(
        {
            "team_id": team,
            "enterprise_id": enterprise,
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": f"EvOrg{user}",
            "event_time": int(time.time()),
            "is_ext_shared_channel": False,
            "event": {
                "type": "message",
                "channel_type": "im",
                "user": user,
                "text": text,
                "team": team,
                "channel": f"D{user}",
                "ts": f"{time.time():.6f}",
            },
            "authorizations": [
                {
                    "enterprise_id": enterprise,
                    "team_id": team,
                    "user_id": BOT_USER,
                    "is_bot": True,
                    "is_enterprise_install": True,
                }
            ],
        }
    )


async def test_an_org_wide_installation_answers_for_the_workspaces_of_its_organisation(slack: Slack) -> None:
    assert load_slack_manifest()["settings"]["org_deploy_enabled"] is True  # admins may install it so
    rotating = slack.standin
    assert isinstance(rotating, RotatingSlack)
    # Installed on the whole organisation E1 (Northwind's workspace TNORTH is one of its workspaces), with
    # a token that has just expired.
    await install(slack, team=None, enterprise="E1", name="org", expires_in=-60)

    response = await slack.post(
        org_event("UALICE", "help", team="TNORTH", enterprise="E1"), content_type="application/json"
    )
    await slack.settle()

    assert response.status == 200
    assert rotating.refreshes() == ["xoxe-1-org-1"]
    (answer,) = rotating.posts("DUALICE")
    assert answer.token == "xoxe.xoxb-org-2" and "Here's what I can do" in answer.dump
    org_bot = await store_of(slack).async_find_bot(
        enterprise_id="E1", team_id=None, is_enterprise_install=True
    )
    assert org_bot is not None and org_bot.bot_token == "xoxe.xoxb-org-2"

    # The outbox reaches her through the organisation's installation too, and edits in place with it.
    notifier = slack.core.notifiers["slack"]
    assert isinstance(notifier, SlackNotifier)
    extras = {"team": "TNORTH", "user": "UALICE", "channel": "DUALICE", "enterprise": "E1"}
    ref = await notifier.send(
        target={"workspace": "TNORTH", "external_id": "UALICE", "extras": extras},
        reply=Reply(text="D-1 approved"),
        idempotency_key="org-1",
    )
    assert ref["enterprise"] == "E1"
    await notifier.update(message_ref=ref, reply=Reply(text="D-1 approved and registered"))
    assert [c.token for c in posted(slack, "D-1 approved")] == ["xoxe.xoxb-org-2"]
    assert [c.token for c in rotating.of("chat.update")] == ["xoxe.xoxb-org-2"]
    assert rotating.refreshes() == ["xoxe-1-org-1"]
