"""(f) With Teams credentials configured, ``/api/messages`` only serves requests carrying a Bot
Connector token: anything else is answered 401 before a single row is read or written."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from store.models import AuditEntry, ChatIdentity, DialogState, OutboxMessage, ProcessedRequest
from tests.conftest import FakeClock
from tests.teams.teams_harness import USERS, StandInConnector, Teams, secured_teams


@pytest.fixture
async def secured(sqlite_url: str, clock: FakeClock, connector: StandInConnector) -> AsyncIterator[Teams]:
    async with secured_teams(sqlite_url, clock, connector) as harness:
        yield harness


async def _rows(teams: Teams) -> dict[str, int]:
    counts = {}
    async with teams.core.db.transaction() as session:
        for model in (ChatIdentity, ProcessedRequest, OutboxMessage, DialogState, AuditEntry):
            counts[model.__tablename__] = (
                await session.execute(select(func.count()).select_from(model))
            ).scalar_one()
    return counts


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer not-a-token", "Basic dXNlcjpwYXNz"])
async def test_request_without_a_valid_token_is_refused(secured: Teams, authorization: str | None) -> None:
    before = await _rows(secured)
    headers = {} if authorization is None else {"Authorization": authorization}
    for activity in (
        secured.activity(USERS["alice"], text="register a deal for Globex, 120k USD, closing end of March"),
        secured.activity(
            USERS["dana"], value={"pb": {"a": "deal.approve", "d": {"ref": "D-1"}}}, replyToId="act-1"
        ),
        secured.activity(
            USERS["alice"], type="conversationUpdate", membersAdded=[{"id": "28:partnerbot-app"}]
        ),
    ):
        response = await secured.post(activity, headers=headers)
        assert response.status == 401
    await secured.core.settle()
    assert secured.connector.calls == []
    assert await _rows(secured) == before


async def test_emulator_mode_needs_no_token(teams: Teams) -> None:
    response = await teams.post(teams.activity(USERS["alice"], text="help"))
    assert response.status in (200, 201)
    assert teams.connector.to(USERS["alice"])


async def test_not_json_is_refused(teams: Teams) -> None:
    async with teams.session.post(
        teams.url + "/api/messages", data="hello", headers={"Content-Type": "text/plain"}
    ) as response:
        assert response.status == 415
    async with teams.session.post(
        teams.url + "/api/messages", data="{nope", headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 400
    async with teams.session.post(teams.url + "/api/messages", json={"text": "no type"}) as response:
        assert response.status == 400
    assert teams.connector.calls == []
