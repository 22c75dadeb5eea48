"""Resident memory of ``partnerbot serve``: idle, and after the ingress runs, with 100k deals.

``partnerbot serve --port <free> --no-scheduler`` runs as a child process on the ingress database (the
same data :mod:`bench.ingress` uses), configured for Slack (signing secret, ``SLACK_API_URL`` on the
stand-in this process serves) and Teams (local mode; ``serviceUrl`` on the stand-in). ``VmRSS`` is
read from /proc once ``/healthz`` answers and the process has been idle for a moment, and again after
the Slack and Teams request scripts of :mod:`bench.ingress` (warm-up and run) have gone through it and
it has been idle again; ``VmHWM`` is its peak.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path

import aiohttp

from bench.ingress import SPEC, StandIns, Traffic, bench_env, drive
from bench.report import Report, rss_mb
from bench.synthetic import Spec


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def partnerbot_command() -> list[str]:
    script = Path(sys.executable).with_name("partnerbot")
    if script.exists():
        return [str(script)]
    found = shutil.which("partnerbot")
    if found:
        return [found]
    return [sys.executable, "-m", "bot.cli"]


async def wait_answering(
    base: str, process: asyncio.subprocess.Process, *, path: str = "/healthz", log: str = ""
) -> None:
    """Until a ``partnerbot serve`` answers 200 at ``path``; RuntimeError when it exits first."""
    async with aiohttp.ClientSession() as session:
        while True:
            if process.returncode is not None:
                see = f"; see {log}" if log else ""
                raise RuntimeError(f"partnerbot serve exited with {process.returncode}{see}")
            try:
                async with session.get(base + path) as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)


async def run(
    report: Report,
    urls: dict[str, str],
    *,
    requests: int,
    concurrency: int,
    warmup: int,
    spec: Spec = SPEC,
    idle_s: float = 3.0,
) -> None:
    """``partnerbot serve`` on each database in ``urls`` (populated with ``spec``)."""
    standins = StandIns()
    await standins.start()
    try:
        for backend, url in urls.items():
            port = free_port()
            env = {**os.environ, **bench_env(url, standins)}
            log = Path(os.environ.get("TMPDIR", "/tmp")) / f"partnerbot-serve-{backend}-{port}.log"
            with log.open("w") as output:
                # In a folder of its own: a developer's .env (say, a Teams app id) must not apply.
                process = await asyncio.create_subprocess_exec(
                    *partnerbot_command(),
                    *("serve", "--host", "127.0.0.1", "--port", str(port), "--no-scheduler"),
                    env=env,
                    cwd=tempfile.gettempdir(),
                    stdout=output,
                    stderr=asyncio.subprocess.STDOUT,
                )
            base = f"http://127.0.0.1:{port}"
            try:
                async with asyncio.timeout(120):
                    await wait_answering(base, process)
                await asyncio.sleep(idle_s)
                idle_rss, _ = rss_mb(process.pid)
                traffic = Traffic(spec, database_url=url, standins=standins, seed=11)
                served = 0
                for platform in ("slack", "teams"):
                    for offset, count in ((1, warmup), (2, requests)):
                        scripts = traffic.scripts(
                            platform, workers=concurrency, requests=count, offset=offset
                        )
                        served += (await drive(base, scripts)).requests
                await asyncio.sleep(idle_s)  # let acknowledged work and outbox deliveries finish
                after_rss, peak = rss_mb(process.pid)
                report.add(
                    "serve memory",
                    f"{backend}, {spec.deals:,} deals",
                    idle_rss_mb=idle_rss,
                    after_ingress_rss_mb=after_rss,
                    peak_rss_mb=peak,
                    requests_served=served,
                )
            finally:
                if process.returncode is None:
                    process.send_signal(signal.SIGINT)
                try:
                    async with asyncio.timeout(30):
                        await process.wait()
                except TimeoutError:
                    process.kill()
                    await process.wait()
            log.unlink()  # kept only when something above failed
    finally:
        await standins.stop()
