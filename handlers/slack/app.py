"""The Slack channel's wiring: which routes and Socket Mode connection serve it
(:func:`attach_slack`), the bolt app (:func:`build_bolt_app`, with the multi-workspace install's
settings), and whether Slack is configured at all (:func:`slack_configured`, :func:`oauth_configured`).

The rest of the channel: :mod:`handlers.slack.listeners` (what each request does),
:mod:`handlers.slack.security` (what is checked first), :mod:`handlers.slack.notifier` (messages the
bot starts), :mod:`handlers.slack.web_api` (sessions, clients, tokens) and :mod:`handlers.slack.blocks`
(Block Kit)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore

from bot.bootstrap import Core
from bot.config import Settings
from handlers.slack.listeners import SlackChannel, register_listeners
from handlers.slack.notifier import SlackNotifier, slack_notifier
from handlers.slack.security import CheckedSocketModeHandler, on_bolt_error
from handlers.slack.web_api import (
    ROTATE_WITHIN_MINUTES,
    SharedTokenRotator,
    SlackTokens,
    installation_store_for,
    slack_tokens,
    web_client,
)

EVENTS_PATH = "/slack/events"
INSTALL_PATH = "/slack/install"
OAUTH_REDIRECT_PATH = "/slack/oauth_redirect"
# Bot token scopes requested by the multi-workspace install: the same as manifest.yml's, and only what the
# code uses (tests/slack/test_scopes.py maps every Web API method and event called to its scope).
BOT_SCOPES = (
    "app_mentions:read",
    "assistant:write",
    "chat:write",
    "commands",
    "files:write",
    "im:history",
    "im:write",
    "users:read",
    "users:read.email",
)


def slack_configured(settings: Settings) -> bool:
    """HTTP or Socket Mode with one bot token, or the multi-workspace install."""
    single = bool(settings.slack_bot_token and (settings.slack_signing_secret or settings.slack_app_token))
    return single or oauth_configured(settings)


def oauth_configured(settings: Settings) -> bool:
    return bool(settings.slack_client_id and settings.slack_client_secret and settings.slack_signing_secret)


SLACK_KEY: web.AppKey[SlackChannel] = web.AppKey("slack", SlackChannel)


def build_bolt_app(
    core: Core, *, installation_store: AsyncInstallationStore | None, tokens: SlackTokens | None = None
) -> AsyncApp:
    """The bolt app. With the multi-workspace install, its authorize finds each request's installation in
    ``installation_store`` and refreshes a rotating token through ``tokens`` (:class:`SharedTokenRotator`),
    so that incoming requests and the outbox never refresh the same installation twice."""
    settings = core.settings
    common: dict[str, Any] = {
        "name": "partnerbot",
        "signing_secret": settings.slack_signing_secret,
        "process_before_response": True,
        "request_verification_enabled": bool(settings.slack_signing_secret),
    }
    if oauth_configured(settings):
        oauth = AsyncOAuthSettings(
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret,
            scopes=list(BOT_SCOPES),
            installation_store=installation_store or installation_store_for(core),
            state_store=AsyncSQLAlchemyOAuthStateStore(expiration_seconds=600, engine=core.db.engine),
            install_path=INSTALL_PATH,
            redirect_uri_path=OAUTH_REDIRECT_PATH,
            redirect_uri=f"{settings.public_url}{OAUTH_REDIRECT_PATH}",
            token_rotation_expiration_minutes=ROTATE_WITHIN_MINUTES,
        )
        tokens = tokens or slack_tokens(settings, installation_store=oauth.installation_store)
        if isinstance(oauth.authorize, AsyncInstallationStoreAuthorize) and tokens.rotator is not None:
            oauth.authorize.token_rotator = SharedTokenRotator(tokens, tokens.rotator)
        bolt = AsyncApp(client=web_client(settings), oauth_settings=oauth, **common)
    else:
        bolt = AsyncApp(client=web_client(settings, token=settings.slack_bot_token), **common)
    bolt.error(on_bolt_error)
    return bolt


def attach_slack(app: web.Application, core: Core) -> None:
    """Slack's routes on ``app`` when Slack is configured (INTERFACE.md); otherwise nothing."""
    settings = core.settings
    if not slack_configured(settings):
        return
    notifier = core.notifiers.get("slack")
    if notifier is None:
        notifier = slack_notifier(core)
        if notifier is not None:
            core.add_notifier(notifier)
    store = notifier.installation_store if isinstance(notifier, SlackNotifier) else None
    if oauth_configured(settings) and store is None:
        store = installation_store_for(core)
    # One SlackTokens for the outbox, the listeners and bolt's authorize: one token refresh at a time.
    tokens = (
        notifier.tokens
        if isinstance(notifier, SlackNotifier)
        else slack_tokens(settings, installation_store=store)
    )
    bolt = build_bolt_app(core, installation_store=store, tokens=tokens)
    channel = SlackChannel(
        core=core, bolt=bolt, tokens=tokens, installation_store=store if oauth_configured(settings) else None
    )
    register_listeners(bolt, channel)
    app[SLACK_KEY] = channel
    if isinstance(notifier, SlackNotifier):
        notifier.sessions = channel.sessions

    async def close_sessions(_app: web.Application) -> AsyncIterator[None]:
        yield
        await channel.sessions.close()

    app.cleanup_ctx.append(close_sessions)
    if settings.slack_signing_secret:
        app.router.add_post(EVENTS_PATH, channel.handle_http)
    if bolt.oauth_flow is not None:
        app.router.add_get(INSTALL_PATH, channel.handle_install)
        app.router.add_get(OAUTH_REDIRECT_PATH, channel.handle_oauth_redirect)

    if settings.slack_app_token:

        async def socket_mode(_app: web.Application) -> AsyncIterator[None]:
            handler = CheckedSocketModeHandler(bolt, settings.slack_app_token)
            await handler.connect_async()
            yield
            await handler.close_async()

        app.cleanup_ctx.append(socket_mode)
