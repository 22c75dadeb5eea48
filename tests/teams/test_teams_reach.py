"""Reaching a Teams person who never wrote (issue #15): someone with an AAD object id and a tenant but
no conversation gets the app installed for them through Microsoft Graph, then the message through the
Bot Connector; without the Graph permission they are listed as unreachable with that reason."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.features.deals.model import DealDraft
from bot.kernel.amounts import Money
from bot.kernel.outbox import unreachable_people
from scheduler.jobs import JOBS
from tests.conftest import START, Chat, FakeClock
from tests.teams.teams_harness import USERS, StandInConnector, Teams, start_teams

NINA_AAD = "aad-nina"


@dataclass
class StandInGraph:
    """Microsoft Graph and the token endpoint, as far as installing the app for a user goes."""

    users: dict[str, str] = field(default_factory=lambda: {"nina@northwind.example": NINA_AAD})
    deny: bool = False
    calls: list[tuple[str, str]] = field(default_factory=list)
    installed: set[str] = field(default_factory=set)
    url: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_get("/appCatalogs/teamsApps", self._catalog)
        app.router.add_post("/users/{user}/teamwork/installedApps", self._install)
        app.router.add_get("/users/{user}/teamwork/installedApps", self._installations)
        app.router.add_get("/users/{user}/teamwork/installedApps/{id}/chat", self._chat)
        app.router.add_get("/users/{user}", self._user)
        return app

    def _note(self, request: web.Request) -> None:
        self.calls.append((request.method, request.path))

    async def _token(self, request: web.Request) -> web.Response:
        self._note(request)
        form = await request.post()
        assert form.get("grant_type") == "client_credentials"
        return web.json_response(
            {"access_token": f"graph-{request.match_info['tenant']}", "expires_in": 3600}
        )

    async def _catalog(self, request: web.Request) -> web.Response:
        self._note(request)
        return web.json_response({"value": [{"id": "catalog-partnerbot", "externalId": "app"}]})

    async def _install(self, request: web.Request) -> web.Response:
        self._note(request)
        if self.deny:
            return web.json_response({"error": {"code": "Forbidden"}}, status=403)
        body = await request.json()
        assert body["teamsApp@odata.bind"].endswith("/appCatalogs/teamsApps/catalog-partnerbot")
        user = request.match_info["user"]
        if user in self.installed:
            return web.json_response({"error": {"code": "Conflict"}}, status=409)
        self.installed.add(user)
        return web.Response(status=201)

    async def _installations(self, request: web.Request) -> web.Response:
        self._note(request)
        user = request.match_info["user"]
        return web.json_response({"value": [{"id": f"inst-{user}"}] if user in self.installed else []})

    async def _chat(self, request: web.Request) -> web.Response:
        self._note(request)
        return web.json_response({"id": f"19:{request.match_info['user']}_partnerbot@unq.gbl.spaces"})

    async def _user(self, request: web.Request) -> web.Response:
        self._note(request)
        aad = self.users.get(request.match_info["user"])
        return web.json_response({"id": aad}) if aad else web.json_response({"error": {}}, status=404)


@pytest.fixture
async def graph() -> AsyncIterator[StandInGraph]:
    fake = StandInGraph()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    yield fake
    await server.close()


@pytest.fixture
async def teams_graph(
    any_database_url: str, clock: FakeClock, connector: StandInConnector, graph: StandInGraph
) -> AsyncIterator[Teams]:
    harness, server = await start_teams(
        any_database_url,
        clock,
        connector,
        MICROSOFT_GRAPH_URL=graph.url,
        MICROSOFT_LOGIN_URL=graph.url,
        PARTNERBOT_TEAMS_SERVICE_URL=connector.url,
    )
    yield harness
    await harness.session.close()
    await server.close()
    await harness.core.db.dispose()


async def add_nina(teams: Teams, *, linked: bool = True, tz: str | None = None) -> None:
    """Nina of Northwind, who never wrote: with her AAD object id and tenant, or known by e-mail only."""
    await teams.core.people.add_user(
        email="nina@northwind.example",
        name="Nina Berg",
        partner="Northwind Partners",
        identities=[("teams", "tenant-northwind", NINA_AAD)] if linked else [],
        tz=tz,
    )


async def offer_a_lead(teams: Teams) -> None:
    dana = Chat(teams.core, teams.world.dana)
    await dana.say("new lead Initech GmbH, contact Jane Doe jane@initech.example, DE, Cloud Suite")
    await dana.click("Confirm")
    await teams.settle()


async def test_a_teams_user_without_a_conversation_gets_the_app_installed_then_the_message(
    teams_graph: Teams, graph: StandInGraph
) -> None:
    teams = teams_graph
    await add_nina(teams)
    await offer_a_lead(teams)
    assert ("POST", f"/users/{NINA_AAD}/teamwork/installedApps") in graph.calls
    assert ("POST", "/tenant-northwind/oauth2/v2.0/token") in graph.calls, "a token of Nina's tenant"
    chat = f"19:{NINA_AAD}_partnerbot@unq.gbl.spaces"
    offers = [c for c in teams.connector.calls if c.conversation == chat and c.kind == "send" and c.ok]
    assert offers and "L-1" in offers[0].text
    assert all(p.email != "nina@northwind.example" for p in await unreachable_people(teams.core.db))


async def test_someone_known_by_email_is_found_in_their_tenant(
    teams_graph: Teams, graph: StandInGraph
) -> None:
    teams = teams_graph
    await add_nina(teams, linked=False)
    await offer_a_lead(teams)
    assert ("GET", "/users/nina@northwind.example") in graph.calls
    chat = f"19:{NINA_AAD}_partnerbot@unq.gbl.spaces"
    assert any(c.conversation == chat and c.ok and "L-1" in c.text for c in teams.connector.calls)


async def test_without_the_graph_permission_the_person_is_unreachable_with_that_reason(
    teams_graph: Teams, graph: StandInGraph
) -> None:
    teams = teams_graph
    graph.deny = True
    await teams.say(USERS["dana"], "help")  # the channel manager has a chat with the bot
    await add_nina(teams)
    await offer_a_lead(teams)
    assert not [c for c in teams.connector.calls if c.conversation.startswith("19:")]
    # Nobody at Northwind can be reached: the offer ends at once instead of eating its 48 hours, the
    # waiting offer messages are dropped, and the channel manager is told who and why.
    lead = await teams.core.leads.get(teams.world.dana, "L-1")  # type: ignore[union-attr]
    assert lead.status != "offered" or lead.partner != "Northwind Partners"
    told = [c.text for c in teams.connector.to(USERS["dana"]) if "could be reached" in c.text]
    assert len(told) == 1 and "Nobody at Northwind Partners could be reached for L-1" in told[0]
    assert "TeamsAppInstallation.ReadWriteSelfForUser.All" in told[0]
    assert all(p.email != "nina@northwind.example" for p in await unreachable_people(teams.core.db))
    await teams.settle()
    assert len([c for c in teams.connector.to(USERS["dana"]) if "could be reached" in c.text]) == 1, "once"


async def test_a_teams_user_who_never_wrote_gets_the_app_installed_then_the_nudge(
    teams_graph: Teams, graph: StandInGraph
) -> None:
    """The issue's case: Nina's deal goes stale; the nudge sweep's message installs the app for her
    through Graph and reaches her 1:1 chat through the Bot Connector."""
    teams = teams_graph
    core = teams.core
    await add_nina(teams, tz="Europe/Berlin")
    nina = await core.people.actor_by_email("nina@northwind.example", channel="teams")
    assert nina is not None
    view = await core.deals.register(
        nina,
        DealDraft(
            customer="Initech",
            product="Cloud Suite",
            amount=Money(Decimal("50000"), "EUR"),
            close_date=date(2027, 3, 31),
        ),
    )
    await core.deals.approve(teams.world.dana, view.ref)
    at = START + timedelta(days=22)  # a Friday morning; prospecting goes stale after 21 days
    await JOBS["nudge_sweep"].run(core, at)
    await core.dispatcher().deliver_due(now=at)
    assert ("POST", f"/users/{NINA_AAD}/teamwork/installedApps") in graph.calls
    chat = f"19:{NINA_AAD}_partnerbot@unq.gbl.spaces"
    sent = [c for c in teams.connector.calls if c.conversation == chat and c.kind == "send" and c.ok]
    nudges = [c for c in sent if "Remind me next week" in json.dumps(c.body)]
    assert nudges and view.ref in nudges[0].text
