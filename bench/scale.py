"""``python -m bench scale [--quick] [--db sqlite|postgresql|both] [--json FILE]``: partnerbot run as a
service - ``partnerbot serve`` processes - measured from outside, the way a partner waits for it.

1. *Latency at a steady load*: ``RATE`` mixed ``/partner`` messages a second (help, my deals, the
   status of a deal, open deals, how many) for ``SECONDS``, open loop (each sent on schedule, whether or
   not the earlier ones are answered), to one ``serve``; the time from a message sent to its answer
   posted at the Slack stand-in (its ``response_url``), p50 and p99. SQLite and PostgreSQL.
2. *Two replicas against one*: a backlog of ``BURST`` messages sent as fast as they are acknowledged,
   to one ``serve``, then to two on the same PostgreSQL (alternating between them, as a load balancer
   would); work done per second = messages / (last answer - first send). Every answer is counted at the
   stand-in: a message with no answer is lost, one whose answer arrives more often than its single
   reply is doubled.

Each message carries a response URL of its own (``/slack/respond/N``), so an answer is matched to its
message without reading it. The load, the stand-in and the ``serve`` processes share the machine: on
two cores, two replicas compete with the load generator and PostgreSQL for the same CPUs.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web

from bench.ingress import SIGNING_SECRET, Request, StandIns, Traffic, _signed, bench_env
from bench.memory import free_port, partnerbot_command, wait_answering
from bench.report import quantile
from bench.synthetic import Spec, partner_of_user, populate, slack_team, slack_user

SPEC = Spec(partners=50, people=2_000, deals=20_000, leads=4_000, identities=400)
MESSAGE_IDS = itertools.count(1)
QUICK_SPEC = Spec(partners=10, people=300, deals=2_000, leads=400, identities=60)
assert SIGNING_SECRET  # the serve processes get it through bench_env


@dataclass(frozen=True)
class Load:
    rate: float  # messages a second, steady
    seconds: float
    burst: int  # messages in the backlog of the replica comparison
    warmup: int


FULL = Load(rate=20, seconds=60, burst=1_200, warmup=40)
QUICK = Load(rate=10, seconds=3, burst=60, warmup=10)


@dataclass
class Answers(StandIns):
    """The stand-ins of bench.ingress, noting when each response URL is posted to."""

    posted: dict[int, list[float]] = field(default_factory=dict)

    async def _respond(self, request: web.Request) -> web.Response:
        await request.read()
        self.posted.setdefault(int(request.match_info["n"]), []).append(time.perf_counter())
        return web.Response(text="ok")


class Messages:
    """Mixed typed messages from the synthetic partners' users, round robin, each with its own
    response URL; every one has a single reply."""

    def __init__(self, spec: Spec, *, database_url: str, standins: Answers) -> None:
        self.traffic = Traffic(spec, database_url=database_url, standins=standins, seed=21)
        self.traffic._ids = MESSAGE_IDS  # one numbering for the whole run: response URLs never repeat
        self.spec = spec
        self.rng = random.Random(21)
        self.users = itertools.cycle(range(min(spec.identities, spec.people)))

    def next(self) -> tuple[int, Request]:
        user = next(self.users)
        partner = partner_of_user(self.spec, user)
        ref = f"D-{self.rng.choice(self.traffic.refs[partner])}"
        words = self.rng.choice(
            ("help", "show my deals", f"status of {ref}", "show my open deals", "how many deals do I have?")
        )
        request = self.traffic._command(slack_team(partner), slack_user(user), words)
        response_url = parse_qs(request.body.decode())["response_url"][0]
        return int(response_url.rsplit("/", 1)[1]), request


async def start_serve(url: str, standins: Answers, logs: Path) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    env = {**os.environ, **bench_env(url, standins), "PARTNERBOT_LOG_FORMAT": "json"}
    env.pop("PARTNERBOT_TEAMS_EMULATOR", None)
    output = (logs / f"serve-{port}.log").open("w")
    process = await asyncio.create_subprocess_exec(
        *partnerbot_command(),
        *("serve", "--host", "127.0.0.1", "--port", str(port), "--no-scheduler"),
        env=env,
        cwd=tempfile.gettempdir(),  # a developer's .env must not apply
        stdout=output,
        stderr=asyncio.subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    async with asyncio.timeout(120):
        await wait_answering(base, process, path="/readyz", log=output.name)
    return process, base


async def stop_serve(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout=60)
        except TimeoutError:
            process.kill()
            await process.wait()


@dataclass
class Sent:
    at: dict[int, float] = field(default_factory=dict)
    refused: int = 0


async def send(session: aiohttp.ClientSession, base: str, n: int, request: Request, sent: Sent) -> None:
    sent.at[n] = time.perf_counter()
    try:
        async with session.post(base + request.path, data=request.body, headers=_signed(request)) as answer:
            await answer.read()
            if answer.status != 200:
                sent.refused += 1
    except (aiohttp.ClientError, TimeoutError):
        sent.refused += 1


async def settle(standins: Answers, sent: Sent, *, quiet: float = 3.0, most: float = 300.0) -> None:
    """Wait until every message has an answer, or nothing new arrived for ``quiet`` seconds."""
    deadline, last, seen = time.perf_counter() + most, time.perf_counter(), -1
    while time.perf_counter() < deadline:
        answered = sum(1 for n in sent.at if n in standins.posted)
        if answered == len(sent.at):
            return
        if answered != seen:
            seen, last = answered, time.perf_counter()
        elif time.perf_counter() - last > quiet:
            return
        await asyncio.sleep(0.05)


def outcome(standins: Answers, sent: Sent) -> dict[str, Any]:
    answered = [n for n in sent.at if n in standins.posted]
    return {
        "sent": len(sent.at),
        "refused": sent.refused,
        "answered": len(answered),
        "lost": len(sent.at) - len(answered),
        "doubled": sum(1 for n in answered if len(standins.posted[n]) > 1),
    }


async def warm(bases: list[str], messages: Messages, standins: Answers, count: int) -> None:
    sent = Sent()
    async with aiohttp.ClientSession() as session:
        for i in range(count):
            n, request = messages.next()
            await send(session, bases[i % len(bases)], n, request, sent)
    await settle(standins, sent)


async def steady(base: str, messages: Messages, standins: Answers, load: Load) -> dict[str, Any]:
    sent = Sent()
    total = int(load.rate * load.seconds)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
        start = time.perf_counter()
        tasks = []
        for i in range(total):
            delay = start + i / load.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            n, request = messages.next()
            tasks.append(asyncio.create_task(send(session, base, n, request, sent)))
        await asyncio.gather(*tasks)
    await settle(standins, sent)
    latencies = sorted(
        (standins.posted[n][0] - at) * 1000 for n, at in sent.at.items() if n in standins.posted
    )
    return {
        **outcome(standins, sent),
        "rate": load.rate,
        "seconds": load.seconds,
        "p50_ms": round(quantile(latencies, 0.5), 1) if latencies else None,
        "p99_ms": round(quantile(latencies, 0.99), 1) if latencies else None,
        "max_ms": round(latencies[-1], 1) if latencies else None,
    }


async def burst(bases: list[str], messages: Messages, standins: Answers, count: int) -> dict[str, Any]:
    sent = Sent()
    batch = [messages.next() for _ in range(count)]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=16)) as session:
        queue = iter(enumerate(batch))

        async def worker() -> None:
            for i, (n, request) in queue:
                await send(session, bases[i % len(bases)], n, request, sent)

        await asyncio.gather(*(worker() for _ in range(16)))
    await settle(standins, sent, quiet=10.0, most=900.0)
    first = min(sent.at.values())
    last = max((standins.posted[n][0] for n in sent.at if n in standins.posted), default=first)
    return {
        **outcome(standins, sent),
        "replicas": len(bases),
        "seconds": round(last - first, 2),
        "done_per_s": round(len(sent.at) / (last - first), 1) if last > first else None,
    }


async def run(urls: dict[str, str], *, spec: Spec, load: Load, logs: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"steady": {}, "replicas": {}}
    standins = Answers()
    await standins.start()
    try:
        for backend, url in urls.items():
            print(f"  {backend}: populating ...", flush=True)
            populate([url], spec)
            messages = Messages(spec, database_url=url, standins=standins)
            process, base = await start_serve(url, standins, logs)
            try:
                await warm([base], messages, standins, load.warmup)
                print(f"  {backend}: {load.rate:g} messages/s for {load.seconds:g} s ...", flush=True)
                results["steady"][backend] = await steady(base, messages, standins, load)
                if backend == "postgresql":
                    print(f"  {backend}: backlog of {load.burst} on one replica ...", flush=True)
                    results["replicas"]["one"] = await burst([base], messages, standins, load.burst)
            finally:
                await stop_serve(process)
            if backend == "postgresql":
                processes = [await start_serve(url, standins, logs) for _ in range(2)]
                try:
                    bases = [b for _, b in processes]
                    await warm(bases, messages, standins, load.warmup)
                    print(f"  {backend}: backlog of {load.burst} on two replicas ...", flush=True)
                    results["replicas"]["two"] = await burst(bases, messages, standins, load.burst)
                finally:
                    for process, _ in processes:
                        await stop_serve(process)
                one, two = results["replicas"]["one"], results["replicas"]["two"]
                if one["done_per_s"] and two["done_per_s"]:
                    results["replicas"]["ratio"] = round(two["done_per_s"] / one["done_per_s"], 2)
    finally:
        await standins.stop()
    return results


def machine() -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip(),
    }


def table(results: dict[str, Any]) -> str:
    lines = [
        "| run | sent | answered | lost | doubled | p50 | p99 | work/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for backend, r in results["steady"].items():
        lines.append(
            f"| {r['rate']:g}/s for {r['seconds']:g} s, {backend} | {r['sent']} | {r['answered']} | {r['lost']} "
            f"| {r['doubled']} | {r['p50_ms']} ms | {r['p99_ms']} ms | |"
        )
    for name in ("one", "two"):
        r = results["replicas"].get(name)
        if r:
            lines.append(
                f"| backlog, {r['replicas']} replica(s), postgresql | {r['sent']} | {r['answered']} | {r['lost']} "
                f"| {r['doubled']} | | | {r['done_per_s']} |"
            )
    if "ratio" in results["replicas"]:
        lines.append(f"\ntwo replicas / one: {results['replicas']['ratio']}x work done per second")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from bench.__main__ import Scratch

    parser = argparse.ArgumentParser(prog="python -m bench scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds per run: a smoke test")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--json", type=Path, default=Path("bench-scale.json"))
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    scratch = Scratch(backends)
    try:
        urls = scratch.new("scale")
        results = asyncio.run(
            run(
                urls,
                spec=QUICK_SPEC if args.quick else SPEC,
                load=QUICK if args.quick else FULL,
                logs=scratch.folder,
            )
        )
    finally:
        scratch.close()
    results["machine"] = machine()
    print(table(results))
    args.json.write_text(json.dumps(results, indent=2))
    print(f"results in {args.json}")
    return 0
