"""The outbox's way into Slack: :class:`SlackNotifier` (the :class:`bot.kernel.outbox.Notifier` port), the
chart upload and DM opening it shares with the listeners, and :func:`slack_notifier`, which builds it
from the settings."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.web.async_client import AsyncWebClient

from bot.bootstrap import Core
from bot.config import Settings
from bot.kernel.messages import Reply
from bot.kernel.outbox import DeliveryError
from handlers.slack import blocks
from handlers.slack.web_api import (
    HttpSessions,
    SlackTokens,
    delivery_error,
    installation_store_for,
    slack_tokens,
    web_client,
)

log = logging.getLogger(__name__)


class SlackNotifier:
    """The outbox's way into Slack (the :class:`bot.kernel.outbox.Notifier` port).

    ``target`` is ``{"vendor_channel": True}`` or a person's stored :class:`ConversationRef` (as a dict)
    whose ``extras`` hold ``team`` (the installation to use), ``user`` and, when known, the DM
    ``channel``; for someone who never wrote, just ``workspace`` and ``external_id`` - the DM is opened
    with ``conversations.open`` (scope ``im:write``). :meth:`find_account` finds a person known only
    by e-mail (``users.lookupByEmail``, scope ``users:read.email``). Returns ``{"channel", "ts",
    "team"}`` (and ``"enterprise"`` when the reference names an Enterprise Grid organisation, whose
    org-wide installation may be the one answering), which :meth:`update` and :meth:`reply_in_thread`
    accept; :meth:`locator` names it the way a reply in its thread does (``<channel>:<ts>``,
    :func:`message_locator`)."""

    platform = "slack"
    starts_conversations = True

    def __init__(self, *, settings: Settings, tokens: SlackTokens) -> None:
        self.settings = settings
        self.tokens = tokens
        # Set by attach_slack to the serving app's sessions; CLI jobs use a session per call.
        self.sessions: HttpSessions | None = None

    @property
    def installation_store(self) -> AsyncInstallationStore | None:
        return self.tokens.installation_store

    def _client(self, token: str) -> AsyncWebClient:
        session = self.sessions.get() if self.sessions is not None else None
        return web_client(self.settings, token=token, interactive=False, session=session)

    async def send(self, *, target: Mapping[str, Any], reply: Reply, idempotency_key: str) -> dict[str, Any]:
        try:
            enterprise = None
            if target.get("vendor_channel"):
                if not self.settings.slack_vendor_channel:
                    raise DeliveryError("SLACK_VENDOR_CHANNEL is not set", permanent=True)
                token, team = await self.tokens.for_vendor_channel()
                if not token:
                    raise DeliveryError("no Slack token for the vendor's workspace", permanent=True)
                client = self._client(token)
                channel = self.settings.slack_vendor_channel
            else:
                extras = dict(target.get("extras") or {})
                team = extras.get("team") or target.get("workspace")
                user = extras.get("user") or target.get("external_id")
                if not user:
                    raise DeliveryError("the stored Slack reference names no user", permanent=True)
                enterprise = extras.get("enterprise") or None
                token = await self.tokens.for_team(team, enterprise=enterprise)
                if not token:
                    raise DeliveryError(
                        f"partnerbot is not installed in Slack workspace {team}", permanent=True
                    )
                client = self._client(token)
                channel = extras.get("channel") or await open_dm(client, user)
            answer = await client.chat_postMessage(
                channel=channel, unfurl_links=False, unfurl_media=False, **blocks.render_message(reply)
            )
        except DeliveryError:
            raise
        except Exception as exc:
            raise delivery_error(exc) from exc
        posted_in = str(answer.get("channel") or channel)
        # The message is out: a chart that fails now is logged, not retried (that would repeat the text).
        await upload_chart(client, channel=posted_in, reply=reply)
        ref = {"channel": posted_in, "ts": answer["ts"], "team": team}
        if enterprise:
            ref["enterprise"] = enterprise  # an org-wide installation answers for the workspace
        return ref

    async def find_account(self, *, workspace: str, email: str) -> str | None:
        """``users.lookupByEmail`` with the installation of ``workspace`` (scope ``users:read.email``):
        the id of a person who never wrote to the bot, or None when the workspace has no such member
        (or the app is not installed there)."""
        try:
            token = await self.tokens.for_team(workspace)
            if not token:
                return None
            answer = await self._client(token).users_lookupByEmail(email=email)
        except SlackApiError as exc:
            if exc.response.get("error") in ("users_not_found", "user_not_found", "account_inactive"):
                return None
            raise delivery_error(exc) from exc
        except Exception as exc:
            raise delivery_error(exc) from exc
        user = answer.get("user") or {}
        if user.get("deleted") or user.get("is_bot") or not user.get("id"):
            return None
        return str(user["id"])

    async def _client_for_message(self, message_ref: Mapping[str, Any]) -> AsyncWebClient:
        team = message_ref.get("team")
        if team is None and self.tokens.bot_token:
            token: str | None = self.tokens.bot_token
        else:
            token = await self.tokens.for_team(team, enterprise=message_ref.get("enterprise"))
        if not token:
            raise DeliveryError(f"no Slack token for workspace {team}", permanent=True)
        return self._client(token)

    async def update(self, *, message_ref: Mapping[str, Any], reply: Reply) -> None:
        try:
            client = await self._client_for_message(message_ref)
            await client.chat_update(
                channel=message_ref["channel"], ts=message_ref["ts"], **blocks.render_message(reply)
            )
        except DeliveryError:
            raise
        except Exception as exc:
            raise delivery_error(exc) from exc

    def locator(self, message_ref: Mapping[str, Any]) -> str | None:
        channel, ts = message_ref.get("channel"), message_ref.get("ts")
        return message_locator(str(channel), str(ts)) if channel and ts else None

    async def reply_in_thread(self, *, message_ref: Mapping[str, Any], reply: Reply) -> None:
        """``reply`` in the thread of a message posted earlier (a review card's decision history)."""
        try:
            client = await self._client_for_message(message_ref)
            await client.chat_postMessage(
                channel=message_ref["channel"],
                thread_ts=message_ref["ts"],
                unfurl_links=False,
                unfurl_media=False,
                **blocks.render_message(reply),
            )
        except DeliveryError:
            raise
        except Exception as exc:
            raise delivery_error(exc) from exc


def message_locator(channel: str, ts: str) -> str:
    """A Slack message's one-string name, ``<channel>:<ts>``: what the outbox records for a delivered
    message and what a reply in its thread (``channel``, ``thread_ts``) names."""
    return f"{channel}:{ts}"


async def upload_chart(
    client: AsyncWebClient, *, channel: str, reply: Reply, thread_ts: str | None = None
) -> bool:
    """Upload the reply's chart into ``channel`` (after its message was posted), in the thread
    ``thread_ts`` when given. False - and a log line - when there is no chart or Slack refused it; the
    message already carries the text."""
    upload = blocks.chart_upload(reply)
    if upload is None:
        return False
    if thread_ts:
        upload["thread_ts"] = thread_ts
    try:
        await client.files_upload_v2(channel=channel, **upload)
    except (TimeoutError, SlackClientError, aiohttp.ClientError, OSError) as exc:
        log.warning("could not upload a chart to %s: %r", channel, exc)
        return False
    return True


async def open_dm(client: AsyncWebClient, user: str) -> str:
    answer = await client.conversations_open(users=user)
    return str(answer["channel"]["id"])


def slack_notifier(core: Core) -> SlackNotifier | None:
    """The notifier for the outbox, or None when there is no way to reach Slack."""
    settings = core.settings
    if not settings.slack_can_post:
        return None
    store = None
    if settings.slack_client_id and settings.slack_client_secret:
        store = installation_store_for(core)
    return SlackNotifier(settings=settings, tokens=slack_tokens(settings, installation_store=store))
