"""Fixtures for the Teams channel tests; the stand-in Bot Connector and the harness live in
``tests/teams/teams_harness.py`` (imported by the tests too, so there is one copy of each class)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import FakeClock
from tests.teams.teams_harness import (
    USERS,
    StandInConnector,
    Teams,
    TeamsUser,
    card_schema_or_none,
    check_card,
    start_teams,
)


@pytest.fixture
async def connector() -> AsyncIterator[StandInConnector]:
    stand_in = StandInConnector()
    await stand_in.server.start_server()
    stand_in.url = str(stand_in.server.make_url("")).rstrip("/")
    yield stand_in
    await stand_in.server.close()


@pytest.fixture
async def teams(sqlite_url: str, clock: FakeClock, connector: StandInConnector) -> AsyncIterator[Teams]:
    harness, server = await start_teams(sqlite_url, clock, connector)
    yield harness
    await harness.core.settle()
    await harness.session.close()
    await server.close()
    # Every card any test made the bot send is checked against the official schema and the size limit.
    schema = card_schema_or_none()
    if schema is not None:
        for card in connector.all_cards():
            check_card(schema, card)


@pytest.fixture
def users() -> dict[str, TeamsUser]:
    return USERS
