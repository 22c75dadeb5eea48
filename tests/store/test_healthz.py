"""GET /healthz: the database's health for load balancers, the inbox's backlog for operators."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_web_app
from bot.bootstrap import Core
from tests.conftest import FakeClock, build_core, make_settings


async def get_health(core: Core) -> tuple[int, dict[str, object]]:
    http = TestClient(TestServer(build_web_app(core), host="127.0.0.1"))
    await http.start_server()
    try:
        response = await http.get("/healthz")
        return response.status, await response.json()
    finally:
        await http.close()


async def test_healthz_shows_the_database_and_the_inbox_backlog(any_database_url: str) -> None:
    clock = FakeClock()
    core = await build_core(any_database_url, clock)
    try:
        status, body = await get_health(core)
        assert status == 200 and body["status"] == "ok"
        assert body["database"] in ("sqlite", "postgresql")
        assert body["inbox"] == {"waiting": 0, "oldest_waiting_s": 0.0, "failed_last_day": 0}

        async def never(payload: dict[str, object]) -> None:
            raise RuntimeError("Slack is down")

        core.inbox.register("t", never)
        core.inbox.start = lambda: None  # type: ignore[method-assign]  # no worker: requests wait
        await core.inbox.accept(kind="t", dedupe_key="a", order_key="alice", payload={})
        clock.advance(seconds=90)
        await core.inbox.accept(kind="t", dedupe_key="b", order_key="bob", payload={})
        status, body = await get_health(core)
        assert body["inbox"] == {"waiting": 2, "oldest_waiting_s": 90.0, "failed_last_day": 0}

        for _ in range(6):  # every attempt fails; after the last one the requests are given up
            await core.inbox.drain()
            clock.advance(minutes=5)
        status, body = await get_health(core)
        assert status == 200  # a backlog is for people to look at; the replica still serves
        assert body["inbox"] == {"waiting": 0, "oldest_waiting_s": 0.0, "failed_last_day": 2}
        clock.advance(days=1, minutes=1)
        assert (await get_health(core))[1]["inbox"] == {
            "waiting": 0,
            "oldest_waiting_s": 0.0,
            "failed_last_day": 0,
        }
    finally:
        await core.db.dispose()


async def test_healthz_is_503_when_the_database_does_not_answer(tmp_path: object) -> None:
    core = Core.build(make_settings(f"sqlite:///{tmp_path}/missing/nowhere.db"), clock=FakeClock())
    status, body = await get_health(core)
    assert status == 503 and body["status"] == "unavailable" and "inbox" not in body
    await core.db.dispose()
