"""Shutdown: SIGTERM stops `partnerbot serve` cleanly, and the inbox's drain is bounded - what is
being handled gets the grace period, what is still running then goes back to the inbox at once (no
attempt used, no lease to wait out), so another replica handles it, once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from bot.bootstrap import Core
from bot.kernel.inbox import Inbox
from bot.kernel.metrics import METRICS
from store.inbox_models import InboxRequest
from tests.conftest import FakeClock

ROOT = Path(__file__).resolve().parents[2]


async def rows(core: Core) -> list[InboxRequest]:
    async with core.db.transaction() as session:
        return list((await session.execute(select(InboxRequest).order_by(InboxRequest.id))).scalars())


async def test_what_outlives_the_grace_period_goes_back_to_the_inbox(
    any_core: Core, clock: FakeClock
) -> None:
    quick_done: list[str] = []
    started = {"slow": asyncio.Event(), "quick": asyncio.Event()}

    async def work(payload: dict[str, Any]) -> None:
        started[payload["who"]].set()
        if payload["who"] == "slow":
            await asyncio.Event().wait()  # never finishes by itself
        await asyncio.sleep(0.2)
        quick_done.append(payload["who"])

    inbox = Inbox(db=any_core.db, clock=clock)
    inbox.register("slack.message", work)
    for who in ("slow", "quick"):
        await inbox.accept(kind="slack.message", dedupe_key=who, order_key=who, payload={"who": who})
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in started.values())), timeout=30)
    returned = (
        METRICS.registry.get_sample_value("partnerbot_requests_returned_total", {"platform": "slack"}) or 0
    )

    await asyncio.wait_for(inbox.stop(grace=1.0), timeout=60)  # the guard only stops a hang

    assert quick_done == ["quick"]  # finished within the grace period, and recorded
    slow, quick = await rows(any_core)
    assert (quick.status, slow.status) == ("done", "pending")
    assert slow.claimed_until is None and slow.attempts == 0  # given back, nothing used up
    assert METRICS.registry.get_sample_value("partnerbot_requests_returned_total", {"platform": "slack"}) == (
        returned + 1
    )

    # Another replica takes it at once - the clock has not moved past any lease - and handles it once.
    handled: list[str] = []

    async def finish(payload: dict[str, Any]) -> None:
        handled.append(payload["who"])

    replica = Inbox(db=any_core.db, clock=clock)
    replica.register("slack.message", finish)
    await replica.drain()
    await replica.stop()
    assert handled == ["slow"]
    assert [r.status for r in await rows(any_core)] == ["done", "done"]


async def test_stop_without_a_grace_period_waits_for_the_work(any_core: Core, clock: FakeClock) -> None:
    done: list[int] = []
    started = asyncio.Event()

    async def work(payload: dict[str, Any]) -> None:
        started.set()
        await asyncio.sleep(0.2)
        done.append(payload["n"])

    inbox = Inbox(db=any_core.db, clock=clock)
    inbox.register("t.work", work)
    await inbox.accept(kind="t.work", dedupe_key="a", order_key="a", payload={"n": 1})
    await asyncio.wait_for(started.wait(), timeout=30)
    await inbox.stop()
    assert done == [1] and [r.status for r in await rows(any_core)] == ["done"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_sigterm_stops_serve_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_", "PARTNERBOT_"))},
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "PARTNERBOT_LOG_FORMAT": "json",
        "PARTNERBOT_SHUTDOWN_GRACE_SECONDS": "2",
    }
    process = await asyncio.create_subprocess_exec(
        *[
            sys.executable,
            "-m",
            "bot.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-scheduler",
        ],
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        live = False
        async with aiohttp.ClientSession() as http:
            for _ in range(600):  # start-up migrates a new database: allow for a slow machine
                try:
                    async with http.get(f"http://127.0.0.1:{port}/livez") as response:
                        live = response.status == 200
                        break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            assert live, "serve did not answer /livez"
            async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                assert response.status == 200
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, "serve did not exit cleanly on SIGTERM"
    lines = [json.loads(line) for line in stderr.decode().splitlines() if line.strip()]  # JSON, line by line
    assert any(line["message"].startswith("partnerbot serving on") for line in lines), stderr[-2000:]
    assert not [line for line in lines if line["level"] in ("ERROR", "CRITICAL")], stderr[-2000:]
