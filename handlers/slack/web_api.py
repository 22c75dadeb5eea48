"""Slack's Web API as this channel talks to it: one kept-alive HTTP session per event loop
(:class:`HttpSessions`), the client factory (:func:`web_client`), the bot token for a workspace
(:class:`SlackTokens`, :func:`slack_tokens`, :func:`installation_store_for`) - refreshed first when Slack's
token rotation is on (:func:`token_rotator`, :class:`SharedTokenRotator`) - and a failed call as the outbox
sees it (:func:`delivery_error`).

Token rotation. With ``token_rotation_enabled`` in the app's settings, Slack installs the app with a bot
token that expires after 12 hours and a refresh token that buys the next one once (using it revokes it).
Every path that needs a workspace's token - the outbox, the inbox's work on incoming requests, and bolt's
authorize before any listener runs - goes through :meth:`SlackTokens.fresh`, which refreshes a token that
expires within :data:`ROTATE_WITHIN_MINUTES` and saves it back before anyone uses it, one refresh per
installation at a time in this process. Installations without a refresh token are used as they are."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackTokenRotationError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from bot.bootstrap import Core
from bot.config import Settings
from bot.kernel.outbox import DeliveryError

log = logging.getLogger(__name__)

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
# A rotating bot token that expires within this many minutes is refreshed before it is used: more than the
# longest delivery (a DM opened, the message, its chart) plus some clock skew. Slack's tokens live 12 hours.
ROTATE_WITHIN_MINUTES = 10


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
    multi-workspace install (kept in the shared database by slack_sdk's SQLAlchemy store) - the
    workspace's own, or its Enterprise Grid organisation's org-wide one - refreshed first when it rotates
    and is about to expire (``rotator``; see the module's docstring)."""

    def __init__(
        self,
        *,
        bot_token: str,
        installation_store: AsyncInstallationStore | None,
        vendor_team: str | None = None,
        rotator: AsyncTokenRotator | None = None,
    ) -> None:
        self.bot_token = bot_token
        self.installation_store = installation_store
        self.vendor_team = vendor_team
        self.rotator = rotator
        self._locks: dict[tuple[str | None, str | None], asyncio.Lock] = {}
        self._locks_loop: asyncio.AbstractEventLoop | None = None

    async def for_team(self, team: str | None, *, enterprise: str | None = None) -> str | None:
        """The token to call Slack with for workspace ``team`` (of organisation ``enterprise``), or
        ``SLACK_BOT_TOKEN`` when no installation is stored for it; None when there is neither.

        Raises ``SlackTokenRotationError`` when the token needed a refresh and Slack refused it."""
        if self.installation_store is not None and (team or enterprise):
            bot = await self.find_bot(team=team, enterprise=enterprise)
            if bot is not None and bot.bot_token:
                return (await self.fresh(bot)).bot_token
        return self.bot_token or None

    async def for_vendor_channel(self) -> tuple[str | None, str | None]:
        """(token, team) for the vendor channel: the vendor's own workspace."""
        if self.bot_token:
            return self.bot_token, self.vendor_team
        if self.vendor_team:
            return await self.for_team(self.vendor_team), self.vendor_team
        return None, None

    async def find_bot(self, *, team: str | None, enterprise: str | None) -> Bot | None:
        """The stored installation answering for workspace ``team``: its own, else - for a workspace of
        an Enterprise Grid organisation - the organisation's org-wide installation, which slack_sdk's
        store keeps under the organisation's id with no team."""
        store = self.installation_store
        if store is None:
            return None
        bot = await store.async_find_bot(
            enterprise_id=enterprise or None, team_id=team or None, is_enterprise_install=False
        )
        if bot is None and enterprise:
            bot = await store.async_find_bot(
                enterprise_id=enterprise, team_id=None, is_enterprise_install=True
            )
        return bot

    async def fresh(self, bot: Bot) -> Bot:
        """``bot`` itself, or - when its token rotates and expires within :data:`ROTATE_WITHIN_MINUTES` -
        the installation with a refreshed token, already saved in the store.

        One refresh per installation at a time in this process: whoever waited for the lock reads the
        store again and finds the token the first one saved (a refresh token works once). When Slack
        refuses the refresh, the store is read once more - another replica may just have used the same
        refresh token and saved its result - before ``SlackTokenRotationError`` is raised."""
        if not _expiring(bot):
            return bot
        if self.rotator is None or self.installation_store is None:
            log.warning(
                "the Slack token of %s expires but SLACK_CLIENT_ID/SLACK_CLIENT_SECRET are not set to refresh it",
                bot.team_id or bot.enterprise_id,
            )
            return bot
        async with self._lock_for(bot):
            latest = await self._stored(bot)
            if latest is None or not latest.bot_token:
                return bot  # uninstalled meanwhile: the call itself will say so
            if not _expiring(latest):
                return latest
            try:
                rotated = await self.rotator.perform_bot_token_rotation(
                    bot=latest, minutes_before_expiration=ROTATE_WITHIN_MINUTES
                )
            except SlackTokenRotationError as exc:
                again = await self._stored(bot)
                if again is not None and again.bot_token and not _expiring(again):
                    return again
                log.warning(
                    "Slack refused to refresh the bot token of %s: %s",
                    bot.team_id or bot.enterprise_id,
                    _api_error(exc.api_error),
                )
                raise
            if rotated is None:  # Slack answered with something other than a bot token
                return latest
            await self._save(rotated)
            log.info("refreshed the Slack bot token of %s", bot.team_id or bot.enterprise_id)
            return rotated

    def _lock_for(self, bot: Bot) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._locks_loop is not loop:  # a lock belongs to one event loop (the CLI runs its own)
            self._locks, self._locks_loop = {}, loop
        key = (bot.enterprise_id, None if bot.is_enterprise_install else bot.team_id)
        return self._locks.setdefault(key, asyncio.Lock())

    async def _stored(self, bot: Bot) -> Bot | None:
        assert self.installation_store is not None
        return await self.installation_store.async_find_bot(
            enterprise_id=bot.enterprise_id,
            team_id=bot.team_id,
            is_enterprise_install=bot.is_enterprise_install,
        )

    async def _save(self, rotated: Bot) -> None:
        """The refreshed token into both of the store's rows: bolt's authorize reads the installation
        row first (and would otherwise refresh again with the spent refresh token), this class the bot row."""
        store = self.installation_store
        assert store is not None
        installation = await store.async_find_installation(
            enterprise_id=rotated.enterprise_id,
            team_id=rotated.team_id,
            is_enterprise_install=rotated.is_enterprise_install,
        )
        if installation is not None:
            updated = Installation(**installation.to_dict_for_copying())
            updated.bot_token = rotated.bot_token
            updated.bot_refresh_token = rotated.bot_refresh_token
            updated.bot_token_expires_at = rotated.bot_token_expires_at
            await store.async_save(updated)  # also updates the bot row installed with it
        if installation is None or installation.installed_at != rotated.installed_at:
            await store.async_save_bot(rotated)


def _expiring(bot: Bot) -> bool:
    return bool(
        bot.bot_refresh_token
        and bot.bot_token_expires_at is not None
        and bot.bot_token_expires_at <= time.time() + ROTATE_WITHIN_MINUTES * 60
    )


class SharedTokenRotator(AsyncTokenRotator):
    """The rotator bolt's authorize uses for incoming requests, handing each refresh to
    :meth:`SlackTokens.fresh`: the same lock and store as the outbox, and the client for ``SLACK_API_URL``
    (bolt's own rotator would call slack.com). Bolt saves what it returns once more - the same values."""

    def __init__(self, tokens: SlackTokens, rotator: AsyncTokenRotator) -> None:
        super().__init__(
            client_id=rotator.client_id, client_secret=rotator.client_secret, client=rotator.client
        )
        self.tokens = tokens

    async def perform_bot_token_rotation(
        self, *, bot: Bot, minutes_before_expiration: int = ROTATE_WITHIN_MINUTES
    ) -> Bot | None:
        # SlackTokens decides when (ROTATE_WITHIN_MINUTES), so that both paths agree.
        fresh = await self.tokens.fresh(bot)
        return None if fresh.bot_token == bot.bot_token else fresh


def token_rotator(settings: Settings) -> AsyncTokenRotator | None:
    """slack_sdk's rotator with the app's client id and secret, calling ``SLACK_API_URL`` (tests) or
    Slack's own; None without the multi-workspace install's credentials."""
    if not (settings.slack_client_id and settings.slack_client_secret):
        return None
    return AsyncTokenRotator(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        client=web_client(settings),
    )


def slack_tokens(settings: Settings, *, installation_store: AsyncInstallationStore | None) -> SlackTokens:
    """The channel's :class:`SlackTokens`: ``SLACK_BOT_TOKEN``, the installations, and the rotator."""
    return SlackTokens(
        bot_token=settings.slack_bot_token,
        installation_store=installation_store,
        vendor_team=next(iter(settings.slack_vendor_teams), None),
        rotator=token_rotator(settings) if installation_store is not None else None,
    )


def installation_store_for(core: Core) -> AsyncSQLAlchemyInstallationStore:
    """slack_sdk's installation store on the core's own database engine (tables from migration 0002)."""
    return AsyncSQLAlchemyInstallationStore(client_id=core.settings.slack_client_id, engine=core.db.engine)


def delivery_error(exc: BaseException) -> DeliveryError:
    """A Slack failure as the outbox understands it: when to retry, or never.

    A refused token refresh is retried, never permanent: the refresh token may just have been spent by
    another replica (whose new token the next attempt reads), Slack may have failed for a moment, or the app
    was uninstalled - then ``app_uninstalled``/``tokens_revoked`` removes the installation and the next
    attempt fails for good as "not installed"; :data:`~bot.kernel.outbox.MAX_ATTEMPTS` ends the rest."""
    if isinstance(exc, SlackTokenRotationError):
        refused = delivery_error(exc.api_error)
        return DeliveryError(
            f"Slack did not refresh the bot token: {_api_error(exc.api_error)}",
            retry_after=refused.retry_after,
        )
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


def _api_error(exc: SlackApiError) -> str:
    data = getattr(exc.response, "data", None)
    error = data.get("error") if isinstance(data, dict) else None
    return str(error or getattr(exc.response, "status_code", "") or "unexpected answer")


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return str(value[0] if isinstance(value, list) and value else value)
    return None
