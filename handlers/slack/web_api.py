"""Slack's Web API as this channel talks to it: one kept-alive HTTP session per event loop
(:class:`HttpSessions`), the client factory (:func:`web_client`), the bot token for a workspace
(:class:`SlackTokens`, :func:`installation_store_for`), and a failed call as the outbox sees it
(:func:`delivery_error`)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.web.async_client import AsyncWebClient

from bot.bootstrap import Core
from bot.config import Settings
from bot.kernel.outbox import DeliveryError

# Slack errors that no retry can fix.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "account_inactive",
        "user_not_found",
        "user_disabled",
        "is_archived",
        "cannot_dm_bot",
        "invalid_blocks",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "msg_too_long",
        "no_text",
    }
)
WEB_API_TIMEOUT = 15


class HttpSessions:
    """One aiohttp session (and its pool of kept-alive connections to Slack) per event loop, instead
    of the new session - and TCP/TLS handshake - slack_sdk opens for every call when given none."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or session.closed or getattr(session, "_loop", loop) is not loop:
            session = self._session = aiohttp.ClientSession()
        return session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


def web_client(
    settings: Settings,
    *,
    token: str | None = None,
    interactive: bool = True,
    session: aiohttp.ClientSession | None = None,
) -> AsyncWebClient:
    """A Web API client for ``SLACK_API_URL`` (tests) or Slack's own.

    Interactive requests honour 429 ``Retry-After`` in place; the outbox's client does not retry at all,
    so that the dispatcher records the wait and the row stays visible."""
    handlers: list[Any] = []
    if interactive:
        handlers = [AsyncConnectionErrorRetryHandler(), AsyncRateLimitErrorRetryHandler(max_retry_count=2)]
    kwargs: dict[str, Any] = {
        "token": token,
        "timeout": WEB_API_TIMEOUT,
        "retry_handlers": handlers,
        "session": session,
    }
    if settings.slack_api_url:
        kwargs["base_url"] = (
            settings.slack_api_url if settings.slack_api_url.endswith("/") else settings.slack_api_url + "/"
        )
    return AsyncWebClient(**kwargs)


class SlackTokens:
    """The bot token for a workspace: the single ``SLACK_BOT_TOKEN``, or an installation from the
    multi-workspace install (kept in the shared database by slack_sdk's SQLAlchemy store)."""

    def __init__(
        self,
        *,
        bot_token: str,
        installation_store: AsyncInstallationStore | None,
        vendor_team: str | None = None,
    ) -> None:
        self.bot_token = bot_token
        self.installation_store = installation_store
        self.vendor_team = vendor_team

    async def for_team(self, team: str | None, *, enterprise: str | None = None) -> str | None:
        if self.installation_store is not None and (team or enterprise):
            bot = await self.installation_store.async_find_bot(enterprise_id=enterprise, team_id=team)
            if bot is not None and bot.bot_token:
                return bot.bot_token
        return self.bot_token or None

    async def for_vendor_channel(self) -> tuple[str | None, str | None]:
        """(token, team) for the vendor channel: the vendor's own workspace."""
        if self.bot_token:
            return self.bot_token, self.vendor_team
        if self.vendor_team:
            return await self.for_team(self.vendor_team), self.vendor_team
        return None, None


def installation_store_for(core: Core) -> AsyncSQLAlchemyInstallationStore:
    """slack_sdk's installation store on the core's own database engine (tables from migration 0002)."""
    return AsyncSQLAlchemyInstallationStore(client_id=core.settings.slack_client_id, engine=core.db.engine)


def delivery_error(exc: BaseException) -> DeliveryError:
    """A Slack failure as the outbox understands it: when to retry, or never."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = getattr(response, "status_code", 200)
        data = response.data if isinstance(getattr(response, "data", None), dict) else {}
        error = str(data.get("error") or "")
        headers = getattr(response, "headers", None) or {}
        retry_after = _header(headers, "Retry-After")
        if status == 429 or error == "ratelimited":
            return DeliveryError(
                f"Slack rate limit ({error or status})",
                retry_after=float(retry_after) if retry_after else None,
            )
        if error in PERMANENT_ERRORS:
            return DeliveryError(f"Slack refused: {error}", permanent=True)
        return DeliveryError(f"Slack error {status}: {error or 'unexpected answer'}")
    if isinstance(exc, (aiohttp.ClientError, asyncio.TimeoutError, OSError)):
        return DeliveryError(f"Slack did not answer: {exc!r}")
    return DeliveryError(f"Slack delivery failed: {exc!r}")


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return str(value[0] if isinstance(value, list) and value else value)
    return None
