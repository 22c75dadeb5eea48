"""GET /livez and GET /readyz: liveness asks only the process; readiness asks the database, its
migrations and this process's inbox, and says why not in a short JSON reason."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import create_engine, text

from bot.app import build_web_app
from bot.bootstrap import Core
from store.db import migration_heads, sync_url
from tests.conftest import FakeClock, build_core, make_settings


@pytest.fixture
async def http_for() -> AsyncIterator[Any]:
    clients: list[TestClient] = []

    async def start(core: Core) -> TestClient:
        http = TestClient(TestServer(build_web_app(core), host="127.0.0.1"))
        await http.start_server()
        clients.append(http)
        return http

    yield start
    for http in clients:
        await http.close()


async def get(http: TestClient, path: str) -> tuple[int, dict[str, Any]]:
    response = await http.get(path)
    assert response.content_type == "application/json"
    return response.status, await response.json()


async def test_live_and_ready_on_a_migrated_database(any_database_url: str, http_for: Any) -> None:
    core = await build_core(any_database_url, FakeClock())
    try:
        http = await http_for(core)
        assert await get(http, "/livez") == (200, {"status": "ok"})
        status, body = await get(http, "/readyz")
        assert status == 200, body
        assert body["status"] == "ok" and body["migrations"] == "head"
        assert body["database"] == core.db.dialect and body["inbox"]["waiting"] == 0
        assert (await get(http, "/healthz"))[0] == 200  # still there
    finally:
        await core.db.dispose()


@pytest.mark.parametrize(
    "url",
    ["sqlite:///{tmp}/missing/nowhere.db", "postgresql+psycopg://postgres@127.0.0.1:9/none"],
    ids=["sqlite", "postgresql"],
)
async def test_not_ready_but_live_when_the_database_does_not_answer(
    url: str, tmp_path: object, http_for: Any
) -> None:
    core = Core.build(make_settings(url.format(tmp=tmp_path)), clock=FakeClock())
    try:
        http = await http_for(core)
        assert await get(http, "/livez") == (200, {"status": "ok"})
        assert await get(http, "/readyz") == (
            503,
            {"status": "unavailable", "reason": "the database does not answer"},
        )
    finally:
        await core.db.dispose()


async def test_not_ready_when_migrations_are_not_at_head(any_database_url: str, http_for: Any) -> None:
    engine = create_engine(sync_url(any_database_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0008'"))
    core = await build_core(any_database_url, FakeClock())
    try:
        http = await http_for(core)
        status, body = await get(http, "/readyz")
        assert status == 503 and body["status"] == "unavailable"
        assert "at 0008, not at the newest migration" in body["reason"]
        assert "partnerbot db upgrade" in body["reason"]
        with engine.begin() as conn:
            (head,) = migration_heads()
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
        assert (await get(http, "/readyz"))[0] == 200
    finally:
        await core.db.dispose()
        engine.dispose()


async def test_not_ready_when_the_inbox_is_stuck(sqlite_url: str, http_for: Any) -> None:
    clock = FakeClock()
    core = await build_core(sqlite_url, clock, PARTNERBOT_INBOX_STUCK_SECONDS="60")
    release = asyncio.Event()

    async def hangs(payload: dict[str, Any]) -> None:
        await release.wait()

    core.inbox.register("t", hangs)
    try:
        http = await http_for(core)
        await core.inbox.accept(kind="t", dedupe_key="a", order_key="alice", payload={})
        await core.inbox.accept(kind="t", dedupe_key="b", order_key="alice", payload={})
        clock.advance(seconds=61)  # both have waited 61 s (one is being handled, one is behind it)
        status, body = await get(http, "/readyz")
        assert status == 200, body  # the workers finished something in the last 60 s: still moving
        core.inbox.last_progress = time.monotonic() - 61  # ...and now they have not for 61 s
        status, body = await get(http, "/readyz")
        assert status == 503 and body["reason"].startswith("the inbox is stuck: requests have waited 61 s")
        assert body["inbox"]["waiting"] == 2
        release.set()
        await core.inbox.drain()
        status, body = await get(http, "/readyz")
        assert status == 200 and body["inbox"]["waiting"] == 0

        await core.inbox.stop()  # the worker is gone: this replica takes no stored work
        assert await get(http, "/readyz") == (
            503,
            {
                "status": "unavailable",
                "reason": "the inbox worker of this process is not running",
                "inbox": {"waiting": 0, "oldest_waiting_s": 0.0, "failed_last_day": 0},
            },
        )
    finally:
        release.set()
        await core.db.dispose()
