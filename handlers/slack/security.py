"""What is checked before bolt trusts a Slack request: the signature and the body's shape
(:func:`check_signed_request`, :func:`check_request_shape`), the Socket Mode envelopes
(:class:`CheckedSocketModeHandler`), bolt's answer to a request of an unexpected shape
(:func:`on_bolt_error`), and the key that seals a modal's metadata (:func:`metadata_key`)."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app, send_async_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.config import Settings
from handlers.http_input import BadInput, check_object_depth, parse_json_object

log = logging.getLogger(__name__)


SHAPE_ERRORS = (AttributeError, IndexError, KeyError, TypeError, ValueError)


def metadata_key(settings: Settings) -> bytes:
    """The key that seals a modal's ``private_metadata`` (:func:`handlers.slack.blocks.modal_metadata`):
    derived from the app's secrets, so every replica has the same one and no client can make it."""
    secret = (
        settings.slack_signing_secret
        or settings.slack_client_secret
        or settings.slack_app_token
        or settings.slack_bot_token
    )
    return hashlib.sha256(b"partnerbot modal metadata\0" + secret.encode()).digest()


def check_signed_request(headers: Mapping[str, str], body: str, *, signing_secret: str) -> None:
    """Slack's request signature, checked before the body is parsed (401 when it is missing, malformed
    or wrong, or the timestamp is not a number of seconds within five minutes)."""
    timestamp = (headers.get("X-Slack-Request-Timestamp") or "").strip()
    signature = (headers.get("X-Slack-Signature") or "").strip()
    if not timestamp.isdigit() or len(timestamp) > 12 or not signature:
        raise BadInput("a valid Slack request signature is required", status=401)
    if not SignatureVerifier(signing_secret).is_valid(body=body, timestamp=timestamp, signature=signature):
        raise BadInput("a valid Slack request signature is required", status=401)


def check_request_shape(headers: Mapping[str, str], body: str) -> None:
    """What bolt will parse, checked first: a JSON body must be one object of bounded depth; a form's
    ``payload`` too (bolt parses a body that starts with ``{`` as JSON whatever its content type)."""
    content_type = (headers.get("Content-Type") or "").lower()
    if content_type.startswith("application/json") or body.startswith("{"):
        parse_json_object(body, what="the request body")
        return
    form = parse_qs(body, keep_blank_values=True)
    if "payload" in form:
        parse_json_object(form["payload"][0], what="the payload")


class CheckedSocketModeHandler(AsyncSocketModeHandler):
    """bolt's Socket Mode handler, with each envelope checked the way ``/slack/events`` checks a body.
    An envelope whose payload is not a bounded JSON object, or that bolt refuses (400 from
    :func:`on_bolt_error`, 404 for a request no listener takes), is acknowledged - so that Slack does
    not send it again and again - and dropped with a log line."""

    def __init__(self, app: AsyncApp, app_token: str) -> None:
        super().__init__(app, app_token)
        # The SDK turns an envelope into a request only when its payload is an object or a string.
        self.client.message_listeners.append(self._drop_unreadable)  # type: ignore[arg-type]

    async def _drop_unreadable(
        self, client: SocketModeClient, message: dict[str, Any], raw: str | None
    ) -> None:
        if (
            message.get("envelope_id")
            and "payload" in message
            and not isinstance(message["payload"], dict | str)
        ):
            await self._drop(
                client, str(message["envelope_id"]), "the envelope's payload must be a JSON object"
            )

    @staticmethod
    async def _drop(client: SocketModeClient, envelope_id: str, reason: str) -> None:
        log.warning("socket mode: dropped envelope %s: %s", envelope_id, reason)
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=envelope_id))

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        start = time.time()
        try:
            check_object_depth(req.payload, what="the envelope's payload")
        except BadInput as exc:
            await self._drop(client, req.envelope_id, exc.reason)
            return
        response = await run_async_bolt_app(self.app, req)
        if response.status in (400, 404):
            await self._drop(client, req.envelope_id, f"{response.status} {response.body[:200]}")
            return
        await send_async_response(client, req, response, start)


async def on_bolt_error(error: Exception, logger: Any) -> BoltResponse | None:
    """bolt's error handler for middleware and listeners: a signed request whose fields are of an
    unexpected shape (bolt's context extraction or a listener reading it raised) is answered 400, not
    500; any other failure (the database, say) stays a 500, so that Slack retries it."""
    if isinstance(error, SHAPE_ERRORS):
        logger.warning("slack: a request of an unexpected shape: %r", error)
        return BoltResponse(
            status=400,
            body='{"error": "the request is not one Slack sends"}',
            headers={"content-type": "application/json"},
        )
    logger.error("slack: handling a request failed: %r", error)
    return None
