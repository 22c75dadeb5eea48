"""Slack and Teams ingress: the real aiohttp app over loopback against bare apps, same harness.

Slack. Correctly signed requests - ``/partner`` commands, direct-message events, button clicks, and
registrations (the modal submitted, then its Confirm clicked) - go to ``POST /slack/events`` of
:func:`bot.app.build_web_app` at a fixed concurrency, from one process that also serves a stand-in for
Slack's Web API (``SLACK_API_URL``, as in ``tests/slack/conftest.py``). The baseline is a bare
slack-bolt ``AsyncApp`` with the same signing secret whose listeners only ``ack()``, served by aiohttp
the same way, receiving the same requests. The ack latency is the time to the HTTP answer (what Slack
waits for); partnerbot then finishes the work in background tasks, so the end-to-end throughput also
counts the time until that work is done (:meth:`handlers.slack.listeners.SlackChannel.drain`).

Teams. Bot Framework activities - messages, card button clicks, registration forms and their Confirm -
go to ``POST /api/messages`` with ``serviceUrl`` on a stand-in Bot Connector (as in
``tests/teams/teams_harness.py``). Teams waits for the whole turn, replies included, so the latency is
the turn's. The baseline is a bare Agents SDK ``ActivityHandler`` that echoes each message through the
SDK's own aiohttp ``CloudAdapter``, as it comes.

Each worker owns its users, so a registration's two requests arrive in order; a warm-up round (not
measured) loads what a running server has loaded, e.g. the conflict index.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import re
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import ActivityHandler, AgentAuthConfiguration, MessageFactory, TurnContext
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import create_engine, text

from bench.report import Report, latency_summary
from bench.synthetic import (
    Spec,
    fresh_names,
    partner_of_user,
    planted,
    slack_team,
    slack_user,
    teams_tenant,
    teams_user,
)
from bot.app import build_core, build_web_app
from bot.config import Settings
from bot.features.deals import views
from handlers.slack import blocks
from handlers.slack.security import metadata_key
from store.db import sync_url

SIGNING_SECRET = "bench-signing-secret"
# Modal metadata sealed the way partnerbot seals it for the submitter (handlers.slack.security.metadata_key).
METADATA_KEY = metadata_key(Settings(slack_signing_secret=SIGNING_SECRET))
BOT_TOKEN = "xoxb-bench"
VENDOR_CHANNEL = "CVENDOR"
PRODUCT = "Cloud Suite"
PAIRS = 3
SPEC = Spec(partners=200, people=5_000, deals=100_000, leads=20_000, identities=400)
"""The database behind the ingress runs (and ``partnerbot serve`` in the memory benchmark)."""


# -- stand-ins for the platforms ------------------------------------------------------------------


@dataclass
class StandIns:
    """Slack's Web API and the Bot Connector, answering plausibly and counting calls."""

    calls: dict[str, int] = field(default_factory=dict)
    slack_url: str = ""
    connector_url: str = ""
    _runner: web.AppRunner | None = None
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    async def _slack(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self._count("slack:" + method)
        await request.read()
        ts = f"1700000000.{next(self._ts):06d}"
        answers: dict[str, dict[str, Any]] = {
            "auth.test": {"team_id": "TVENDOR", "user_id": "UBOT", "bot_id": "BBOT", "user": "partnerbot"},
            "conversations.open": {"channel": {"id": "DBENCH"}},
            "chat.postMessage": {"channel": "DBENCH", "ts": ts},
            "chat.update": {"channel": "DBENCH", "ts": ts},
            "chat.postEphemeral": {"message_ts": ts},
            "views.open": {"view": {"id": f"V{ts}"}},
            "views.update": {"view": {"id": f"V{ts}"}},
            "views.publish": {"view": {"id": f"V{ts}"}},
            "users.info": {"ok": False, "error": "user_not_found"},
        }
        answer = answers.get(method, {})
        return web.json_response({"ok": True, **answer} if "ok" not in answer else answer)

    async def _respond(self, request: web.Request) -> web.Response:
        self._count("slack:response_url")
        await request.read()
        return web.Response(text="ok")

    async def _connector(self, request: web.Request) -> web.Response:
        self._count(f"teams:{request.method}")
        await request.read()
        if request.method == "GET":
            return web.json_response({"error": {"code": "MemberNotFoundInConversation"}}, status=404)
        return web.json_response({"id": f"act-{next(self._ts)}"})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/slack/api/{method}", self._slack)
        app.router.add_post("/slack/respond/{n}", self._respond)
        app.router.add_route("*", "/teams/{tail:.*}", self._connector)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = _port(self._runner)
        self.slack_url = f"http://127.0.0.1:{port}/slack"
        self.connector_url = f"http://127.0.0.1:{port}/teams"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def _port(runner: web.AppRunner) -> int:
    for site in runner.sites:
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            return int(server.sockets[0].getsockname()[1])
    raise RuntimeError("no listening socket")


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on a free loopback port, the way ``partnerbot serve`` does (aiohttp)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{_port(runner)}"


def bench_env(database_url: str, standins: StandIns) -> dict[str, str]:
    """The environment of the partnerbot under test (in-process, or ``partnerbot serve``)."""
    return {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": standins.slack_url + "/api/",
        "SLACK_VENDOR_CHANNEL": VENDOR_CHANNEL,
        "PARTNERBOT_TIMEZONE": "Europe/Berlin",
        # The Teams stand-in is a local Bot Connector, spoken to without credentials.
        "PARTNERBOT_TEAMS_EMULATOR": "1",
    }


# -- the requests -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One HTTP request; Slack ones are signed when sent (the timestamp must be fresh)."""

    path: str
    body: bytes
    content_type: str
    kind: str


def _deal_refs(database_url: str, partners: int) -> dict[int, list[int]]:
    """Some deal numbers of each partner, so that clicks show deals their reader may see."""
    engine = create_engine(sync_url(database_url))
    out: dict[int, list[int]] = {}
    with engine.connect() as conn:
        for partner in range(1, partners + 1):
            rows = conn.execute(
                text("SELECT number FROM deals WHERE partner_id = :p ORDER BY number LIMIT 20"),
                {"p": partner},
            )
            out[partner] = [r[0] for r in rows] or [1]
    engine.dispose()
    return out


class Traffic:
    """Deterministic request scripts, one per worker, for Slack or Teams."""

    def __init__(self, spec: Spec, *, database_url: str, standins: StandIns, seed: int = 9) -> None:
        self.spec = spec
        self.standins = standins
        self.seed = seed
        self.refs = _deal_refs(database_url, spec.partners)
        dupes = planted(spec, min(spec.deals, 20_000), limit=300)
        self.customers = [p.name for p in dupes] + fresh_names(spec, 300)
        self._ids = itertools.count(1)

    def _company(self, rng: random.Random) -> str:
        return rng.choice(self.customers)

    def _users(self, worker: int, workers: int) -> list[int]:
        users = [u for u in range(min(self.spec.identities, self.spec.people)) if u % workers == worker]
        if not users:
            raise ValueError("more workers than users with identities")
        return users

    def scripts(self, platform: str, *, workers: int, requests: int, offset: int = 0) -> list[list[Request]]:
        """``requests`` requests in ``workers`` scripts; ``offset`` varies the choice (warm-up vs run)."""
        make = self._slack_interaction if platform == "slack" else self._teams_interaction
        out: list[list[Request]] = []
        per_worker = [requests // workers + (1 if w < requests % workers else 0) for w in range(workers)]
        for worker in range(workers):
            rng = random.Random(self.seed * 7919 + offset * 104_729 + worker)
            users = self._users(worker, workers)
            rng.shuffle(users)
            script: list[Request] = []
            # Round robin: a person's next request comes after everyone else of this worker has had
            # one, as people do not click ten times a second (Slack's work runs after the ack).
            for user in itertools.cycle(users):
                if len(script) >= per_worker[worker]:
                    break
                script += make(rng, user)
            out.append(script[: per_worker[worker]])
        return out

    # -- Slack ------------------------------------------------------------------------------------

    def _slack_interaction(self, rng: random.Random, user: int) -> list[Request]:
        partner = partner_of_user(self.spec, user)
        team, uid = slack_team(partner), slack_user(user)
        ref = f"D-{rng.choice(self.refs[partner])}"
        roll = rng.random()
        if roll < 0.30:
            words = rng.choice(
                ("help", "show my deals", f"status of {ref}", "show my open deals", "register")
            )
            return [self._command(team, uid, words)]
        if roll < 0.65:
            words = rng.choice(
                (
                    "show my deals",
                    "help",
                    f"what's the status of {ref}?",
                    f"{ref} moved to proposal",
                    "how many deals do I have?",
                )
            )
            return [self._dm(team, uid, words)]
        if roll < 0.90:
            return [self._click(team, uid, "deal.show", {"ref": ref})]
        return [
            self._submit_registration(team, uid, self._company(rng)),
            self._click(team, uid, "deal.register.confirm", {}),
        ]

    def _event_body(self, team: str, event: dict[str, Any]) -> bytes:
        return json.dumps(
            {
                "token": "legacy",
                "team_id": team,
                "api_app_id": "A1",
                "type": "event_callback",
                "event": event,
                "event_id": f"EvBench{next(self._ids):08d}",
                "event_time": int(time.time()),
                "authorizations": [{"team_id": team, "user_id": "UBOT", "is_bot": True}],
            }
        ).encode()

    def _dm(self, team: str, user: str, words: str) -> Request:
        now = f"{time.time():.6f}"
        event = {
            "type": "message",
            "channel_type": "im",
            "user": user,
            "text": words,
            "team": team,
            "channel": f"D{user}",
            "ts": now,
            "event_ts": now,
        }
        return Request("/slack/events", self._event_body(team, event), "application/json", "dm")

    def _command(self, team: str, user: str, words: str) -> Request:
        n = next(self._ids)
        form = {
            "token": "legacy",
            "team_id": team,
            "team_domain": team.lower(),
            "channel_id": f"D{user}",
            "channel_name": "directmessage",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/partner",
            "text": words,
            "api_app_id": "A1",
            "response_url": f"{self.standins.slack_url}/respond/{n}",
            "trigger_id": f"trig-bench-{n}",
        }
        return Request(
            "/slack/events", urlencode(form).encode(), "application/x-www-form-urlencoded", "command"
        )

    def _interaction(self, payload: dict[str, Any], kind: str) -> Request:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return Request("/slack/events", body, "application/x-www-form-urlencoded", kind)

    def _who(self, team: str, user: str) -> dict[str, Any]:
        return {
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team},
            "team": {"id": team, "domain": team.lower()},
        }

    def _click(self, team: str, user: str, action: str, data: dict[str, str]) -> Request:
        n = next(self._ids)
        ts = f"1700000000.{n:06d}"
        payload = {
            "type": "block_actions",
            "api_app_id": "A1",
            "token": "legacy",
            **self._who(team, user),
            "container": {
                "type": "message",
                "message_ts": ts,
                "channel_id": f"D{user}",
                "is_ephemeral": False,
            },
            "trigger_id": f"trig-bench-{n}",
            "channel": {"id": f"D{user}", "name": "directmessage"},
            "message": {"type": "message", "ts": ts, "text": "partnerbot", "blocks": []},
            "response_url": f"{self.standins.slack_url}/respond/{n}",
            "actions": [
                {
                    "type": "button",
                    "action_id": f"pb_{n}",
                    "block_id": "b1",
                    "text": {"type": "plain_text", "text": "Show"},
                    "value": blocks.encode_value(action, data),
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return self._interaction(payload, "click")

    def _submit_registration(self, team: str, user: str, customer: str) -> Request:
        form = views.registration_form([PRODUCT])
        view = blocks.render_modal(
            form,
            private_metadata=blocks.modal_metadata(
                form_id=form.form_id, data={}, key=METADATA_KEY, submitter=f"{team}:{user}"
            ),
        )
        values = {
            "customer": customer,
            "country": "DE",
            "product": PRODUCT,
            "amount": "120k USD",
            "close_date": "end of March",
        }
        state: dict[str, Any] = {}
        for block in view["blocks"]:
            if block.get("type") != "input":
                continue
            element = block["element"]
            value = values.get(block["block_id"])
            if element["type"] == "static_select":
                option = next((o for o in element["options"] if o["value"] == value), None)
                state[block["block_id"]] = {"value": {"type": "static_select", "selected_option": option}}
            else:
                state[block["block_id"]] = {"value": {"type": element["type"], "value": value}}
        n = next(self._ids)
        payload = {
            "type": "view_submission",
            "api_app_id": "A1",
            "token": "legacy",
            **self._who(team, user),
            "trigger_id": f"trig-bench-{n}",
            "view": {
                **view,
                "id": f"VBENCH{n}",
                "team_id": team,
                "state": {"values": state},
                "hash": "h",
                "app_id": "A1",
            },
            "response_urls": [],
        }
        return self._interaction(payload, "submission")

    # -- Teams ------------------------------------------------------------------------------------

    def _teams_interaction(self, rng: random.Random, user: int) -> list[Request]:
        partner = partner_of_user(self.spec, user)
        ref = f"D-{rng.choice(self.refs[partner])}"
        roll = rng.random()
        if roll < 0.60:
            words = rng.choice(
                (
                    "show my deals",
                    "help",
                    f"what's the status of {ref}?",
                    f"{ref} moved to proposal",
                    "pending",
                )
            )
            return [self._activity(user, partner, text=words, kind="message")]
        if roll < 0.85:
            value = {"pb": {"a": "deal.show", "d": {"ref": ref}}}
            return [self._activity(user, partner, value=value, kind="click")]
        submit = {
            "pb": {"form": "deal.register", "d": {}},
            "customer": self._company(rng),
            "country": "DE",
            "product": PRODUCT,
            "amount": "120k USD",
            "close_date": "end of March",
        }
        return [
            self._activity(user, partner, value=submit, kind="submission"),
            self._activity(
                user, partner, value={"pb": {"a": "deal.register.confirm", "d": {}}}, kind="click"
            ),
        ]

    def _activity(self, user: int, partner: int, *, kind: str, **fields: Any) -> Request:
        aad, tenant = teams_user(user), teams_tenant(partner)
        activity = {
            "type": "message",
            "id": f"in-{next(self._ids)}",
            "timestamp": "2026-12-02T14:00:00Z",
            "serviceUrl": self.standins.connector_url,
            "channelId": "msteams",
            "from": {"id": f"29:{aad}", "aadObjectId": aad, "name": f"user {user}"},
            "recipient": {"id": "28:partnerbot", "name": "partnerbot"},
            "conversation": {"id": f"a:dm-{user}", "conversationType": "personal", "tenantId": tenant},
            "channelData": {"tenant": {"id": tenant}},
            "locale": "en-US",
            **fields,
        }
        if "value" in fields:
            activity["replyToId"] = f"act-{next(self._ids)}"
        return Request("/api/messages", json.dumps(activity).encode(), "application/json", kind)


# -- the apps ---------------------------------------------------------------------------------------


def bare_slack_app(standins: StandIns) -> web.Application:
    """slack-bolt with the same signing secret, listeners that only ack, served the same way."""
    bolt = AsyncApp(
        name="bare",
        signing_secret=SIGNING_SECRET,
        client=AsyncWebClient(token=BOT_TOKEN, base_url=standins.slack_url + "/api/"),
        process_before_response=True,
    )

    async def ack_only(ack: Any) -> None:
        await ack()

    async def nothing() -> None:
        return None

    bolt.command("/partner")(ack_only)
    bolt.action(re.compile(".*"))(ack_only)
    bolt.view_submission(blocks.FORM_CALLBACK_ID)(ack_only)
    bolt.event("message")(nothing)

    async def handle(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/slack/events", handle)
    return app


class EchoBot(ActivityHandler):
    async def on_message_activity(self, turn_context: TurnContext) -> None:  # type: ignore[override]
        await turn_context.send_activity(MessageFactory.text(f"echo: {turn_context.activity.text or ''}"))


def bare_teams_app() -> web.Application:
    """An Agents SDK ActivityHandler that echoes, on the SDK's aiohttp CloudAdapter as it comes (its own
    connector-client factory, anonymous: the local mode of ``handlers.teams.app.attach_teams``)."""
    connections = MsalConnectionManager(
        connections_configurations={"SERVICE_CONNECTION": AgentAuthConfiguration(anonymous_allowed=True)}
    )
    adapter = CloudAdapter(connection_manager=connections)
    bot = EchoBot()

    async def messages(request: web.Request) -> web.StreamResponse:
        response = await adapter.process(request, bot)
        return response if response is not None else web.Response(status=201)

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/api/messages", messages)
    return app


# -- driving ----------------------------------------------------------------------------------------


@dataclass
class Run:
    samples_ns: list[int] = field(default_factory=list)
    by_kind: dict[str, list[int]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    settle_s: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.samples_ns)


def _signed(request: Request) -> dict[str, str]:
    if not request.path.startswith("/slack/"):
        return {"Content-Type": request.content_type}
    ts = str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=ts, body=request.body.decode())
    return {
        "Content-Type": request.content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature or "",
    }


async def drive(
    base_url: str,
    scripts: list[list[Request]],
    *,
    settle: Callable[[], Awaitable[None]] | None = None,
) -> Run:
    """Run every script concurrently (one worker each, requests in order); time each request."""
    run = Run()
    connector = aiohttp.TCPConnector(limit=len(scripts))
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker(script: list[Request]) -> None:
            for request in script:
                start = time.perf_counter_ns()
                try:
                    async with session.post(
                        base_url + request.path, data=request.body, headers=_signed(request)
                    ) as answer:
                        await answer.read()
                        status = answer.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    status = 0
                    run.errors[type(exc).__name__] = run.errors.get(type(exc).__name__, 0) + 1
                elapsed = time.perf_counter_ns() - start
                run.samples_ns.append(elapsed)
                run.by_kind.setdefault(request.kind, []).append(elapsed)
                if status >= 300 or status == 0:
                    key = f"{request.kind}:{status}"
                    run.errors[key] = run.errors.get(key, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(s) for s in scripts))
        run.wall_s = time.perf_counter() - started
        if settle is not None:
            await settle()
        run.settle_s = time.perf_counter() - started - run.wall_s
    return run


async def _partnerbot(
    database_url: str, standins: StandIns
) -> tuple[web.Application, Callable[[], Awaitable[None]]]:
    core = build_core(Settings.from_env(bench_env(database_url, standins)))
    app = build_web_app(core)

    async def settle() -> None:
        for _ in range(3):
            await core.inbox.drain()
            await core.settle()

    return app, settle


def _metrics(run: Run, *, baseline: Run | None = None) -> dict[str, Any]:
    ack_rps = run.requests / run.wall_s if run.wall_s else float("nan")
    done_rps = run.requests / (run.wall_s + run.settle_s) if run.wall_s else float("nan")
    out: dict[str, Any] = {
        "requests": run.requests,
        "ack_rps": round(ack_rps, 1),
        "done_rps": round(done_rps, 1),
        **latency_summary(run.samples_ns),
        "errors": sum(run.errors.values()),
    }
    if baseline is not None and baseline.wall_s:
        bare_rps = baseline.requests / baseline.wall_s
        out["ack_vs_bare"] = round(ack_rps / bare_rps, 3)
        out["done_vs_bare"] = round(done_rps / bare_rps, 3)
    return out


def _median_run(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.wall_s)[len(runs) // 2]


async def _pairs(
    platform: str,
    url: str,
    standins: StandIns,
    traffic: Traffic,
    *,
    requests: int,
    concurrency: int,
    warmup: int,
    pairs: int,
) -> tuple[list[Run], list[Run]]:
    """``pairs`` runs of the bare app and of partnerbot, alternating, on the same scripts: the
    machine's speed drifts by 10-30% over minutes (a shared VM), and a ratio taken from two runs
    seconds apart cancels most of it. partnerbot's work from one run is finished before the next
    bare run, so the bare app never shares the machine with it."""
    bare_app = bare_slack_app(standins) if platform == "slack" else bare_teams_app()
    real_app, settle = await _partnerbot(url, standins)
    bare_runner, bare_base = await serve(bare_app)
    real_runner, real_base = await serve(real_app)
    bare: list[Run] = []
    real: list[Run] = []
    try:
        warm = traffic.scripts(platform, workers=concurrency, requests=warmup, offset=1)
        await drive(bare_base, warm)
        await drive(real_base, warm, settle=settle)
        for pair in range(pairs):
            scripts = traffic.scripts(platform, workers=concurrency, requests=requests, offset=2 + pair)
            bare.append(await drive(bare_base, scripts))
            real.append(await drive(real_base, scripts, settle=settle))
    finally:
        await real_runner.cleanup()
        await bare_runner.cleanup()
    return bare, real


async def run(
    report: Report,
    urls: dict[str, str],
    *,
    requests: int,
    concurrency: int,
    warmup: int,
    spec: Spec = SPEC,
    pairs: int = PAIRS,
) -> None:
    """Slack and Teams ingress on every database in ``urls`` (populated with ``spec``)."""
    standins = StandIns()
    await standins.start()
    try:
        for backend, url in urls.items():
            traffic = Traffic(spec, database_url=url, standins=standins)
            for platform in ("slack", "teams"):
                bare_runs, real_runs = await _pairs(
                    platform,
                    url,
                    standins,
                    traffic,
                    requests=requests,
                    concurrency=concurrency,
                    warmup=warmup,
                    pairs=pairs,
                )
                bare, real = _median_run(bare_runs), _median_run(real_runs)
                each = [_metrics(r, baseline=b) for b, r in zip(bare_runs, real_runs, strict=True)]
                name = f"{platform} ingress"
                report.add(
                    name,
                    f"{backend}, bare {'slack-bolt (ack only)' if platform == 'slack' else 'Agents SDK (echo)'}",
                    **_metrics(bare),
                )
                # Rates from the median run; latencies over every partnerbot request of the pairs;
                # the ratios are the median over the pairs, each partnerbot run against the bare run
                # just before it.
                metrics = _metrics(real)
                metrics.update(latency_summary([ns for r in real_runs for ns in r.samples_ns]))
                metrics["errors"] = sum(sum(r.errors.values()) for r in real_runs)
                for key in ("ack_vs_bare", "done_vs_bare"):
                    metrics[key] = round(statistics.median(m[key] for m in each), 3)
                row = report.add(name, f"{backend}, partnerbot", **metrics)
                by_kind: dict[str, list[int]] = {}
                for r in real_runs:
                    for kind, samples in r.by_kind.items():
                        by_kind.setdefault(kind, []).extend(samples)
                row.note = "p50/p99 ms by request: " + ", ".join(
                    f"{kind} {latency_summary(samples)['p50_ms']}/{latency_summary(samples)['p99_ms']} (n={len(samples)})"
                    for kind, samples in sorted(by_kind.items())
                )
                row.note += "; by pair, acknowledged vs bare: " + ", ".join(
                    str(m["ack_vs_bare"]) for m in each
                )
                row.note += ", work done vs bare: " + ", ".join(str(m["done_vs_bare"]) for m in each)
                errors: dict[str, int] = {}
                for r in real_runs:
                    for key, count in r.errors.items():
                        errors[key] = errors.get(key, 0) + count
                if errors:
                    row.note += f"; errors: {errors}"
                report.target(
                    f"{platform} p99 {'ack' if platform == 'slack' else 'turn answer'} latency, {backend}",
                    row.metrics["p99_ms"],
                    100.0,
                    "ms",
                )
                report.target(
                    f"{platform} throughput vs bare (acknowledged and stored), {backend}",
                    row.metrics["ack_vs_bare"],
                    0.5,
                    "x",
                    higher_is_better=True,
                )
                report.target(
                    f"{platform} throughput vs bare (work done), {backend}",
                    row.metrics["done_vs_bare"],
                    0.5,
                    "x",
                    higher_is_better=True,
                )
    finally:
        await standins.stop()
