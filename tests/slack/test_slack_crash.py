"""A ``partnerbot serve`` killed (SIGKILL) after the work committed and before its answer was posted
answers once after a restart (issue #15): the request is stored before its ack, its work and answer are
kept with its key, and the restarted process takes the request over when the dead one's lease ends."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, select

from store.db import upgrade
from store.deal_models import Deal
from tests.conftest import FakeClock, build_core, make_world
from tests.slack.conftest import BOT_TOKEN, SIGNING_SECRET, SlackStandIn, serving

EXE = Path(sys.executable).with_name("partnerbot")
ANSWER = "D-1 is registered"


class KillingStandIn(SlackStandIn):
    """The Slack stand-in; the first post of the answer kills the bot's process before it is made."""

    victim: int | None = None
    killed: bool = False

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["method"] == "chat.postMessage" and not self.killed and self.victim:
            body = await self._body(request)
            if ANSWER in json.dumps(body):
                self.killed = True
                os.kill(self.victim, signal.SIGKILL)
                await asyncio.sleep(0.5)
                return web.json_response({"ok": False, "error": "the sender died"}, status=500)
        return await super()._api(request)


def tail(log: Path) -> str:
    return log.read_text()[-3000:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def killing() -> AsyncIterator[KillingStandIn]:
    async with serving(KillingStandIn()) as fake:
        yield fake


async def serve(env: dict[str, str], port: int, log: Path) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        str(EXE),
        *("serve", "--host", "127.0.0.1", "--port", str(port), "--no-scheduler"),
        env=env,
        stdout=log.open("ab"),
        stderr=asyncio.subprocess.STDOUT,
    )
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return process
            except aiohttp.ClientError:
                pass
            if process.returncode is not None:
                break
            await asyncio.sleep(0.1)
    raise AssertionError("partnerbot serve did not start: " + tail(log))


async def dm(http: aiohttp.ClientSession, port: int, text: str, event_id: str) -> None:
    body = json.dumps(
        {
            "team_id": "TNORTH",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": "TNORTH", "user_id": "UBOT", "is_bot": True}],
            "event": {
                "type": "message",
                "channel_type": "im",
                "user": "UALICE",
                "text": text,
                "team": "TNORTH",
                "channel": "DUALICE",
                "ts": f"{time.time():.6f}",
            },
        }
    )
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": SignatureVerifier(SIGNING_SECRET).generate_signature(
            timestamp=timestamp, body=body
        ),
    }
    async with http.post(f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers) as response:
        assert response.status == 200


async def wait_for(condition: Any, seconds: float) -> None:
    for _ in range(int(seconds / 0.1)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.skipif(not EXE.exists(), reason="the partnerbot console script is not installed")
async def test_a_sigkill_between_the_work_and_its_answer_ends_with_one_answer(
    tmp_path: Path, killing: KillingStandIn
) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    await asyncio.to_thread(upgrade, url)
    core = await build_core(url, FakeClock())
    await make_world(core)
    await core.db.dispose()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": f"{killing.url}/api/",
        "PARTNERBOT_SLACK_VENDOR_TEAM": "TVENDOR",
        "PARTNERBOT_INBOX_LEASE_SECONDS": "2",
    }
    log = tmp_path / "serve.log"
    port = free_port()
    first = await serve(env, port, log)
    killing.victim = first.pid
    async with aiohttp.ClientSession() as http:
        await dm(
            http, port, "register a deal for Initech, 85k EUR of Cloud Suite, closing end of March", "Ev1"
        )
        await wait_for(lambda: any("Register this deal?" in c.dump for c in killing.posts("DUALICE")), 20)
        await dm(http, port, "yes", "Ev2")
        await asyncio.wait_for(first.wait(), 20)
    assert first.returncode == -signal.SIGKILL and killing.killed

    check = await build_core(url, FakeClock())
    async with check.db.transaction() as session:
        assert (await session.execute(select(func.count()).select_from(Deal))).scalar_one() == 1, (
            "work committed"
        )
    await check.db.dispose()
    assert not [c for c in killing.posts("DUALICE") if c.answer and ANSWER in c.dump], (
        "no answer before restart"
    )

    second = await serve(env, port, log)
    try:
        await wait_for(lambda: any(c.answer and ANSWER in c.dump for c in killing.posts("DUALICE")), 30)
        await asyncio.sleep(1.0)  # anything more would come now
    finally:
        second.terminate()
        await second.wait()
    answers = [c for c in killing.posts("DUALICE") if c.answer and ANSWER in c.dump]
    assert len(answers) == 1, tail(log)
    check = await build_core(url, FakeClock())
    async with check.db.transaction() as session:
        assert (await session.execute(select(func.count()).select_from(Deal))).scalar_one() == 1, "done once"
    await check.db.dispose()
