"""The Microsoft Teams channel: ``POST /api/messages`` on the Microsoft 365 Agents SDK.

- ``connector`` - the SDK set up from partnerbot's settings: tokens, hosts, what a failure means;
- ``activities`` - activities in and out, stored conversation references (botbuilder-era ones too);
- ``listeners`` - the ``ActivityHandler``: messages, clicks (``Action.Execute``), card refreshes,
  installation;
- ``extension`` - the message extension: search, "Register a deal from this message";
- ``notifier`` - messages the bot starts itself (the outbox);
- ``cards`` - Adaptive Cards 1.5; ``graph`` - installing the app for people who never wrote;
  ``package`` - the app package.

The endpoint:

- With ``MICROSOFT_APP_ID`` every request must carry a valid Bearer token from the Bot Connector; the
  token is checked from the header before the body is read, and a request without one gets 401.
  Without it the endpoint is not served at all, unless ``PARTNERBOT_TEAMS_EMULATOR=1`` (Bot Framework
  Emulator, local tests), and then to loopback peers only (``serve`` refuses another bind address).
- Answers only go to Bot Connector hosts (:func:`~handlers.teams.connector.service_url_allowed`): an
  activity naming another ``serviceUrl``, or one other than its token names, is refused.
- A message or other non-invoke activity is stored (the inbox) and answered 201 at once; its turn runs
  from the inbox as a proactive turn, so a crash or a failed send is tried again and nothing twice.
  An invoke (a card click, a refresh, a message-extension search) is answered in its HTTP response, in the turn.
- A turn that fails is logged; the person hears only what the core chose to say (never the exception).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from aiohttp import web
from microsoft_agents.activity import Activity, ActivityTypes
from microsoft_agents.hosting.core import TurnContext
from pydantic import ValidationError

from bot.bootstrap import Core
from bot.kernel.errors import RequestFailed
from handlers.http_input import BadInput, decode, parse_json_object, read_body, refuse
from handlers.teams.activities import PLATFORM, account_id, conversation_id, request_key, text_activity
from handlers.teams.connector import (
    AUDIENCE,
    ROUTE,
    TokenCheck,
    build_adapter,
    claims_for,
    close_adapter,
    is_loopback,
    service_url_allowed,
    service_url_matches,
)
from handlers.teams.extension import PartnerbotTeamsApp
from handlers.teams.notifier import teams_notifier

log = logging.getLogger(__name__)

TURN_WORK = "teams.turn"  # stored activities (bot.kernel.inbox)


async def _on_turn_error(turn_context: TurnContext, error: Exception) -> None:
    """The adapter's turn-error handler (the SDK's own would send the exception text to the person).
    A stored activity's turn (run by the inbox) raises on, so that the inbox tries it again - the core
    kept whatever answer it had, and the next attempt sends what is left; the person hears once that it
    is being retried. An invoke answers in its HTTP response."""
    log.error("teams: turn failed", exc_info=(type(error), error, error.__traceback__))
    activity = turn_context.activity
    replies = error.replies if isinstance(error, RequestFailed) else []
    for reply in replies:
        try:
            await turn_context.send_activity(text_activity(reply.text))
        except Exception:
            log.exception("teams: could not tell the person about the failure")
    if activity.type != ActivityTypes.invoke:
        raise error


def _activity(body: dict[str, Any]) -> Activity | None:
    try:
        activity = Activity.model_validate(body)
    except (ValidationError, ValueError, TypeError):
        return None
    if not activity.type or not activity.conversation or not activity.conversation.id:
        return None
    return activity


def attach_teams(app: web.Application, core: Core) -> None:
    """Add ``POST /api/messages`` (and register the Teams notifier if none is) when Teams is configured:
    with ``MICROSOFT_APP_ID`` every request needs a Bot Connector token, checked before the body is
    read; without it only ``PARTNERBOT_TEAMS_EMULATOR=1`` serves the route, unauthenticated, to loopback
    peers."""
    settings = core.settings
    if not settings.teams_configured:
        log.info("teams: no MICROSOFT_APP_ID and no PARTNERBOT_TEAMS_EMULATOR - %s is not served", ROUTE)
        return
    if core.notifiers.get(PLATFORM) is None:
        notifier = teams_notifier(core)
        if notifier is not None:
            core.add_notifier(notifier)
    adapter = build_adapter(settings)
    adapter.on_turn_error = _on_turn_error
    bot = PartnerbotTeamsApp(core)
    tokens = TokenCheck(settings)
    if not tokens.required:
        log.warning(
            "teams: emulator mode - %s accepts unauthenticated requests from this machine only", ROUTE
        )

    async def messages(request: web.Request) -> web.StreamResponse:
        if not tokens.required and not is_loopback(request.remote):
            return refuse("the emulator endpoint answers this machine only", status=403)
        if "application/json" not in request.headers.get("Content-Type", ""):
            return refuse("expected application/json", status=415)
        # The token first, from the header alone: a request without a valid one is not even read.
        claims = await tokens.claims(request.headers.get("Authorization", ""))
        if claims is None:
            return refuse("unauthorized", status=401)
        try:
            body = parse_json_object(decode(await read_body(request)), what="the activity")
        except BadInput as exc:
            return exc.response()
        activity = _activity(body)
        if activity is None:
            return refuse("expected a Bot Framework activity with a type and a conversation id")
        if not service_url_allowed(activity.service_url, settings):
            log.info("teams: refused an activity with serviceUrl %r", activity.service_url)
            return refuse("serviceUrl is not a Bot Connector address")
        if not service_url_matches(claims, activity.service_url):
            log.info("teams: the token was issued for another serviceUrl than %r", activity.service_url)
            return refuse("unauthorized", status=401)
        if activity.type != ActivityTypes.invoke:
            # Answer the turn as soon as the activity is stored; the work runs from the inbox and the
            # answers go out through the Bot Connector, as they would within the turn.
            await core.inbox.accept(
                kind=TURN_WORK,
                dedupe_key=request_key(activity) if activity.id else f"teams:{uuid.uuid4()}",
                order_key=f"teams:{conversation_id(activity)}:{account_id(activity.from_property)}",
                payload={"activity": body},
            )
            return web.Response(status=201)
        # An invoke's answer is the HTTP response itself (a card click, a search): it runs in the turn.
        try:
            invoke = await adapter.process_activity(claims, activity, bot.on_turn)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:  # an invoke of an unexpected shape
            log.info("teams: could not handle an invoke: %r", exc)
            return refuse("this invoke could not be handled")
        if invoke is None:
            return web.Response(status=201)
        return web.json_response(invoke.body, status=int(invoke.status or 200))

    async def turn(payload: dict[str, Any]) -> None:
        """A stored activity's turn, run as a proactive turn on the original activity."""
        stored = Activity.model_validate(payload["activity"])
        await adapter.process_proactive(claims_for(settings), stored, AUDIENCE, bot.on_turn)

    async def close(_: web.Application) -> None:
        await close_adapter(adapter)

    core.inbox.register(TURN_WORK, turn)
    app.router.add_post(ROUTE, messages)
    app.on_cleanup.append(close)
