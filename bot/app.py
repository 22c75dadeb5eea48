"""The wiring of ``partnerbot serve``: a core from :func:`bot.wiring.build_core` (settings -> database
-> core -> notifiers), then the aiohttp app -> channels -> scheduler.

This module, ``bot/wiring.py`` and ``bot/cli.py`` are the only parts of ``bot/`` that may import
``handlers`` and ``scheduler``; everything else receives what it needs as arguments.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.bootstrap import Core
from bot.config import Settings
from bot.kernel.metrics import CONTENT_TYPE, METRICS, DatabaseSnapshot
from bot.kernel.outbox import unreachable_people
from bot.wiring import build_core
from store import db as store_db
from store import queries

log = logging.getLogger(__name__)

CORE_KEY: web.AppKey[Core] = web.AppKey("core", Core)
# Seconds open HTTP requests get to finish on shutdown, before the inbox drains (Slack's deadline is 3 s).
ACK_GRACE = 3.0


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers, 503 otherwise; with the inbox's backlog (requests acknowledged
    and not yet handled) and how many people have messages waiting because they can't be reached
    (``partnerbot people unreachable`` lists them) - for operators to watch, not for a load balancer
    to act on."""
    core = request.app[CORE_KEY]
    ok = await core.db.ping()
    body: dict[str, Any] = {"status": "ok" if ok else "unavailable", "database": core.db.dialect}
    if ok:
        try:
            body["inbox"] = await core.inbox.backlog()
            body["unreachable"] = len(await unreachable_people(core.db))
        except Exception:  # e.g. not migrated yet: the answer stays about the database
            log.exception("healthz: could not read the inbox backlog")
    return web.json_response(body, status=200 if ok else 503)


async def livez(request: web.Request) -> web.Response:
    """Liveness: the process answers (its event loop turns). Nothing else is asked, so that a database
    outage does not get every replica restarted."""
    return web.json_response({"status": "ok"})


HEADS_KEY: web.AppKey[frozenset[str]] = web.AppKey("migration_heads", frozenset)


async def readiness(core: Core, *, heads: frozenset[str]) -> tuple[bool, dict[str, Any]]:
    """Whether this replica should be sent requests, and why not: the database answers, it is migrated
    to ``heads`` (the scripts' head revisions), and this process's inbox is not stuck
    (:meth:`bot.kernel.inbox.Inbox.stuck`)."""
    try:
        stored = await core.db.revisions()
    except Exception:
        return False, {"status": "unavailable", "reason": "the database does not answer"}
    if stored != heads:
        at = ", ".join(sorted(stored)) or "no revision"
        return False, {
            "status": "unavailable",
            "reason": f"the database is at {at}, not at the newest migration "
            f"{', '.join(sorted(heads))}: run 'partnerbot db upgrade'",
        }
    try:
        backlog = await core.inbox.backlog()
    except Exception:
        log.exception("readyz: could not read the inbox backlog")
        return False, {"status": "unavailable", "reason": "the inbox cannot be read"}
    after = core.settings.inbox_stuck_seconds
    if core.inbox.stuck(oldest_waiting_s=backlog["oldest_waiting_s"], after=after):
        why = (
            "the inbox worker of this process is not running"
            if not core.inbox.working
            else f"the inbox is stuck: requests have waited {backlog['oldest_waiting_s']:g} s "
            f"and this process finished none in the last {after:g} s"
        )
        return False, {"status": "unavailable", "reason": why, "inbox": backlog}
    return True, {"status": "ok", "database": core.db.dialect, "migrations": "head", "inbox": backlog}


async def readyz(request: web.Request) -> web.Response:
    """Readiness, for load balancers and orchestrators: 200 when :func:`readiness` says so, else 503;
    both with a short JSON reason."""
    ok, body = await readiness(request.app[CORE_KEY], heads=request.app[HEADS_KEY])
    return web.json_response(body, status=200 if ok else 503)


async def database_snapshot(core: Core) -> DatabaseSnapshot:
    """The shared tables' gauges for a scrape, read with the queries ``/healthz`` uses."""
    try:
        backlog = await core.inbox.backlog()
        async with core.db.transaction() as session:
            pending, retrying, failed = await queries.outbox_counts(session)
        unreachable = len(await unreachable_people(core.db))
    except Exception:
        log.warning("metrics: the database did not answer the scrape", exc_info=True)
        return DatabaseSnapshot(up=False)
    return DatabaseSnapshot(
        up=True,
        inbox_waiting=backlog["waiting"],
        inbox_oldest_waiting_s=backlog["oldest_waiting_s"],
        inbox_given_up_last_day=backlog["failed_last_day"],
        outbox_pending=pending,
        outbox_retrying=retrying,
        outbox_failed=failed,
        unreachable_people=unreachable,
    )


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format; with ``PARTNERBOT_METRICS_TOKEN`` set, only for
    ``Authorization: Bearer TOKEN`` (401 otherwise)."""
    core = request.app[CORE_KEY]
    token = core.settings.metrics_token
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return web.json_response(
                {"error": "GET /metrics needs Authorization: Bearer <PARTNERBOT_METRICS_TOKEN>"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
    body = METRICS.render(await database_snapshot(core))
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def acknowledgements_first(core: Core) -> Any:
    """Tell the inbox while requests are arriving, so that stored work yields to acknowledgements."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        with core.inbox.arriving():
            return await handler(request)

    return middleware


def build_web_app(
    core: Core, *, with_scheduler: bool = False, warm_conflicts: bool = False
) -> web.Application:
    """The aiohttp application with every route of INTERFACE.md that the configuration enables.

    Start-up runs the ``cleanup_ctx`` entries in order and shutdown in reverse: the database closes
    last, after the inbox has finished what it was doing and the channels have closed their sessions.
    """
    app = web.Application(client_max_size=1024 * 1024, middlewares=[acknowledgements_first(core)])
    app[CORE_KEY] = core

    async def close_db(_app: web.Application) -> Any:
        yield
        await core.db.dispose()

    app.cleanup_ctx.append(close_db)
    app[HEADS_KEY] = store_db.migration_heads()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    attach_channels(app, core)

    async def run_inbox(_app: web.Application) -> Any:
        # Also takes up what was stored and left unfinished, by this process before a restart or by
        # another replica that died.
        core.inbox.start()
        yield
        # Shutdown (SIGTERM): the server has stopped taking requests; what is being handled gets the
        # grace period, the rest goes back to the inbox.
        await core.inbox.stop(grace=core.settings.shutdown_grace_seconds)

    app.cleanup_ctx.append(run_inbox)
    if warm_conflicts:
        # Load the conflict index in the background now rather than on the first registration (which
        # would fall back to a slower query while it loads).
        from bot.features.deals import conflicts

        async def warm(_app: web.Application) -> Any:
            task = asyncio.get_running_loop().create_task(conflicts.warm(core.db))
            yield
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        app.cleanup_ctx.append(warm)
    if with_scheduler:
        from scheduler.runner import build_scheduler

        scheduler = build_scheduler(core)

        async def start_scheduler(_app: web.Application) -> Any:
            scheduler.start()
            yield
            scheduler.shutdown(wait=False)

        app.cleanup_ctx.append(start_scheduler)
    return app


def attach_channels(app: web.Application, core: Core) -> None:
    """Slack routes when Slack is configured; the Teams endpoint with Teams credentials or in emulator
    mode; the lead API and content links always (the lead API says it is off without its token)."""
    from handlers.content_links import attach_content_links
    from handlers.lead_api import attach_lead_api
    from handlers.slack.app import attach_slack
    from handlers.teams.app import attach_teams

    attach_slack(app, core)
    attach_teams(app, core)
    attach_lead_api(app, core)
    attach_content_links(app, core)


def serve(settings: Settings, *, host: str, port: int, scheduler: bool) -> None:
    from handlers.teams.connector import check_serving

    check_serving(settings, host=host)
    store_db.upgrade(settings.database_url)
    core = build_core(settings)
    app = build_web_app(core, with_scheduler=scheduler, warm_conflicts=True)
    log.info("partnerbot serving on http://%s:%s", host, port)
    # On SIGTERM aiohttp stops listening, gives open requests (acknowledgements: a few ms each)
    # ACK_GRACE seconds, then runs the cleanup above - the inbox's bounded drain among it.
    web.run_app(
        app,
        host=host,
        port=port,
        print=None,
        loop=asyncio.new_event_loop(),
        shutdown_timeout=ACK_GRACE,
    )
