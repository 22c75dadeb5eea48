"""Answers in a thread: a message written in a thread (a direct-message thread, the assistant pane, a
channel mention with ``thread_ts``) is answered in that thread - every reply of the turn carries its
``thread_ts``, and a chart is uploaded into it too.

Translation only: where the answer goes. What a reply in a thread means (under a review card in the
vendor channel it is a staff note) is the core's (``Conversation.handle_thread_reply``)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.bootstrap import Core
from bot.kernel.messages import Reply
from handlers.slack import blocks
from handlers.slack.notifier import upload_chart

log = logging.getLogger(__name__)

# handlers.slack.listeners.Post, spelled out: this module is imported by the listeners, not the reverse.
Post = Callable[[dict[str, Any]], Awaitable[Any]]


def post_in_thread(client: AsyncWebClient, channel: str, thread_ts: str) -> Post:
    """A message in the thread ``thread_ts`` of ``channel`` (the person's DM or assistant thread)."""

    async def post(payload: dict[str, Any]) -> None:
        await client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, unfurl_links=False, unfurl_media=False, **payload
        )

    return post


def ephemeral_in_thread(
    client: AsyncWebClient, *, user: str, channel: str, thread_ts: str, else_dm: Post
) -> Post:
    """Only ``user`` sees it, in the thread ``thread_ts`` of ``channel``; through ``else_dm`` (their
    DM) when Slack refuses, as ``SlackChannel.ephemeral_in`` does outside threads."""

    async def post(payload: dict[str, Any]) -> None:
        try:
            await client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, **payload)
        except SlackApiError as exc:
            log.info(
                "ephemeral answer in a thread of %s failed (%s); answering by DM",
                channel,
                exc.response.get("error"),
            )
            await else_dm(payload)

    return post


async def deliver_in_thread(
    core: Core,
    client: AsyncWebClient,
    replies: list[Reply],
    *,
    channel: str,
    thread_ts: str,
    request_key: str | None,
) -> int:
    """Every reply in order into the thread, each with its chart in the thread as well (a message in
    a DM thread opens no modal and replaces no message, so this is all ``SlackChannel.deliver`` would
    do, with the chart where the conversation is); each counted as out for ``request_key`` as soon as
    it is. Returns how many were posted."""
    post = post_in_thread(client, channel, thread_ts)
    for reply in replies:
        await post(blocks.render_message(reply))
        await upload_chart(client, channel=channel, reply=reply, thread_ts=thread_ts)
        await core.conversation.answer_posted(request_key)
    return len(replies)
