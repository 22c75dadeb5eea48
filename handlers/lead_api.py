"""``POST /api/leads``: marketing automation or a CRM pushes leads.

Translates only: bearer token check, JSON in, the core's :func:`bot.features.leads.service.receive_leads`, JSON out.
The token is ``PARTNERBOT_LEADS_TOKEN``; without it the endpoint says it is disabled and reads nothing.

Request: one object or a list of objects with ``company``, ``contact_name``, ``contact_email``,
``contact_phone``, ``country``, ``product``, ``source``, ``notes``. Responses:
``201 {"leads": [{"ref", "company", "status", "partner", "reason"}]}``; ``400 {"error", "field"[, "index"]}``
with nothing written; ``401`` for a missing or wrong token; ``404`` when no token is configured.
"""

from __future__ import annotations

import hmac
import logging

from aiohttp import web

from bot.bootstrap import Core
from bot.features.leads.service import LeadRowError, receive_leads
from bot.kernel.errors import InputError, PartnerbotError
from handlers.http_input import BadInput, decode, parse_json, read_body

log = logging.getLogger(__name__)

TOKEN_VARIABLE = "PARTNERBOT_LEADS_TOKEN"
MAX_BODY = 1024 * 1024


def _error(status: int, message: str, **extra: object) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


def attach_lead_api(app: web.Application, core: Core) -> None:
    """Add ``POST /api/leads`` to ``app``."""

    async def post_leads(request: web.Request) -> web.Response:
        token = (core.settings.extra.get(TOKEN_VARIABLE) or "").strip()
        if not token:
            return _error(404, f"The leads endpoint is disabled: set {TOKEN_VARIABLE} to enable it.")
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            return web.json_response(
                {"error": "A valid bearer token is required (Authorization: Bearer <token>)."},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="partnerbot leads"'},
            )
        try:
            body = parse_json(decode(await read_body(request, limit=MAX_BODY)))
        except BadInput as exc:
            if exc.status == 413:
                return _error(
                    413, f"The body is larger than {MAX_BODY:,} bytes; send fewer leads per request."
                )
            return _error(400, f"The body must be JSON (UTF-8): {exc.reason}.", field="body")
        if not isinstance(body, dict | list):
            return _error(400, "Send one lead object or a list of them.", field="body")
        try:
            result = await receive_leads(core.leads, body)
        except LeadRowError as exc:
            extra: dict[str, object] = {"field": exc.field}
            if exc.index is not None:
                extra["index"] = exc.index
            return _error(400, exc.message, **extra)
        except InputError as exc:
            return _error(400, exc.message, field=exc.field)
        except PartnerbotError as exc:
            return _error(409, str(exc))
        core.kick_outbox()
        return web.json_response(result.to_json(), status=201)

    app.router.add_post("/api/leads", post_leads)
