"""POST /api/leads over a real aiohttp server: the bearer token, bad bodies named by field, and leads
created and distributed only when everything is right."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.bootstrap import Core
from handlers.lead_api import attach_lead_api
from store import lead_queries
from tests.conftest import FakeClock, build_core, make_world

TOKEN = "s3cret-token-for-tests"
GOOD = {
    "company": "Initech GmbH",
    "contact_name": "Jane Doe",
    "contact_email": "jane@initech.example",
    "country": "DE",
    "product": "Cloud Suite",
    "source": "hubspot",
}


async def serve(core: Core) -> TestClient[Any, Any]:
    app = web.Application()
    attach_lead_api(app, core)
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def api(sqlite_url: str, clock: FakeClock) -> AsyncIterator[tuple[Core, TestClient[Any, Any]]]:
    core = await build_core(sqlite_url, clock, PARTNERBOT_LEADS_TOKEN=TOKEN)
    await make_world(core)
    client = await serve(core)
    yield core, client
    await client.close()
    await core.settle()
    await core.db.dispose()


async def lead_count(core: Core) -> int:
    async with core.db.transaction() as session:
        return len(await lead_queries.leads_visible(session, partner_id=None, limit=1000))


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_without_a_configured_token_the_endpoint_is_disabled(sqlite_url: str, clock: FakeClock) -> None:
    core = await build_core(sqlite_url, clock)
    await make_world(core)
    client = await serve(core)
    try:
        response = await client.post("/api/leads", json=GOOD, headers=bearer())
        assert response.status == 404
        assert (
            "disabled" in (await response.json())["error"]
            and "PARTNERBOT_LEADS_TOKEN" in (await response.json())["error"]
        )
        assert await lead_count(core) == 0
    finally:
        await client.close()
        await core.db.dispose()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer("wrong"),
        bearer(TOKEN + "x"),
        bearer(""),
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
    ],
)
async def test_a_missing_or_wrong_token_is_refused_and_nothing_written(
    api: tuple[Core, TestClient[Any, Any]], headers: dict[str, str]
) -> None:
    core, client = api
    response = await client.post("/api/leads", json=GOOD, headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "bearer token" in (await response.json())["error"]
    assert await lead_count(core) == 0


@pytest.mark.parametrize(
    ("body", "field", "index", "says"),
    [
        ({**GOOD, "contact_email": "jane@"}, "contact_email", None, "is not an e-mail address"),
        ({**GOOD, "country": "Germany"}, "country", None, "two-letter code"),
        ({**GOOD, "budget": "10k"}, "budget", None, "unknown field 'budget'"),
        ({**GOOD, "company": 42}, "company", None, "company must be text"),
        ([GOOD, {**GOOD, "country": "ZZ"}], "country", 1, "lead 1: country: 'ZZ' is not a country code"),
        ([GOOD, "Initech"], "leads", 1, "each lead is a JSON object"),
        ([], "leads", None, "The list is empty"),
        ("just a string", "body", None, "Send one lead object or a list of them"),
    ],
)
async def test_a_bad_body_is_refused_naming_the_field(
    api: tuple[Core, TestClient[Any, Any]], body: Any, field: str, index: int | None, says: str
) -> None:
    core, client = api
    response = await client.post("/api/leads", json=body, headers=bearer())
    assert response.status == 400
    answer = await response.json()
    assert answer["field"] == field and answer.get("index") == index and says in answer["error"], answer
    assert await lead_count(core) == 0


async def test_a_body_that_is_not_json(api: tuple[Core, TestClient[Any, Any]]) -> None:
    core, client = api
    response = await client.post(
        "/api/leads", data=b"company=Initech", headers={**bearer(), "Content-Type": "application/json"}
    )
    assert response.status == 400
    assert (await response.json())["field"] == "body"
    assert await lead_count(core) == 0


async def test_leads_are_created_and_the_answer_says_where_they_went(
    api: tuple[Core, TestClient[Any, Any]],
) -> None:
    core, client = api
    response = await client.post("/api/leads", json=GOOD, headers=bearer())
    assert response.status == 201
    assert await response.json() == {
        "leads": [
            {
                "ref": "L-1",
                "company": "Initech GmbH",
                "status": "offered",
                "partner": "Northwind Partners",
                "reason": "EMEA (DE), Gold, 0 of 10 open leads, no lead offers in the last 90 days",
            }
        ]
    }
    response = await client.post(
        "/api/leads",
        json=[
            {"company": "Hooli", "country": "us", "contact_phone": "+1 415 555 0100"},
            {"company": "Brasil Ltda", "country": "BR", "contact_email": "ana@brasil.example"},
        ],
        headers=bearer(),
    )
    assert response.status == 201
    answer = await response.json()
    assert [(x["ref"], x["status"], x["partner"]) for x in answer["leads"]] == [
        ("L-2", "offered", "Contoso Integrators"),
        ("L-3", "unassigned", None),
    ]
    assert answer["leads"][1]["reason"] == "no eligible partner: no active partner covers BR (LATAM)"
    assert await lead_count(core) == 3
