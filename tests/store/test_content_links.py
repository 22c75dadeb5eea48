"""GET /c/<token> over a real aiohttp server: a 302 to the document, one recorded open per person
(later opens keep the first time), a 404 page with no data for an unknown token, and an expired item
that still opens and is still recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.bootstrap import Core, build_content
from bot.features.content.model import ContentDraft
from handlers.content_links import attach_content_links
from store.content_models import ContentDelivery
from tests.conftest import FakeClock, World, build_core, make_world


@pytest.fixture
async def served(
    sqlite_url: str, clock: FakeClock
) -> AsyncIterator[tuple[Core, World, TestClient[Any, Any]]]:
    core = await build_core(sqlite_url, clock)
    world = await make_world(core)
    app = web.Application()
    attach_content_links(app, core)
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    yield core, world, client
    await client.close()
    await core.db.dispose()


async def tokens(core: Core) -> dict[int, ContentDelivery]:
    async with core.db.transaction() as session:
        return {d.person_id: d for d in (await session.execute(select(ContentDelivery))).scalars()}


async def test_the_link_redirects_and_records_one_open_per_person(
    served: tuple[Core, World, TestClient[Any, Any]], clock: FakeClock
) -> None:
    core, world, client = served
    await build_content(core).publish(
        world.dana,
        ContentDraft(title="Gold kit", url="https://partners.example.com/kit?x=1", tiers=("Gold",)),
    )
    mine = await tokens(core)
    alice = mine[world.alice.person_id]
    first = clock.now

    response = await client.get(f"/c/{alice.token}", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "https://partners.example.com/kit?x=1"
    assert response.headers["Cache-Control"] == "no-store"
    clock.advance(hours=5)
    again = await client.get(f"/c/{alice.token}", allow_redirects=False)
    assert again.status == 302

    after = await tokens(core)
    assert after[world.alice.person_id].opened_at == first, "later opens keep the first open time"
    assert after[world.alice.person_id].opens == 2
    assert after[world.alex.person_id].opened_at is None, "one person's open is not another's"
    stats = await build_content(core).stats(world.dana, "C-1")
    assert stats.total.opened == 1


@pytest.mark.parametrize("token", ["unknown-token-123456", "x", "a" * 200, "%2e%2e%2fsecret"])
async def test_an_unknown_token_gets_a_404_page_with_no_data(
    served: tuple[Core, World, TestClient[Any, Any]], token: str
) -> None:
    core, world, client = served
    await build_content(core).publish(
        world.dana,
        ContentDraft(title="Secret roadmap", url="https://partners.example.com/roadmap", tiers=("Gold",)),
    )
    response = await client.get(f"/c/{token}", allow_redirects=False)
    assert response.status == 404
    body = await response.text()
    assert "Link not found" in body
    assert (
        "roadmap" not in body.lower()
        and "partners.example.com" not in body
        and "Location" not in response.headers
    )
    assert all(d.opened_at is None for d in (await tokens(core)).values())


async def test_an_expired_item_still_redirects_and_the_open_is_recorded(
    served: tuple[Core, World, TestClient[Any, Any]], clock: FakeClock
) -> None:
    core, world, client = served
    content = build_content(core)
    await content.publish(
        world.dana,
        ContentDraft(
            title="Promo",
            url="https://partners.example.com/promo",
            tiers=("Gold",),
            expires=date(2026, 11, 30),
        ),
    )
    clock.now = datetime(2026, 12, 15, 9)
    assert await content.whats_new(world.alice) == [], "expired: no longer listed"
    token = (await tokens(core))[world.alice.person_id].token
    response = await client.get(f"/c/{token}", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "https://partners.example.com/promo"
    assert (await tokens(core))[world.alice.person_id].opened_at == datetime(2026, 12, 15, 9)
