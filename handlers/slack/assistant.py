"""The assistant pane (Slack's AI app view, ``features.assistant_view`` in manifest.yml; scope
``assistant:write``): the same conversation as the direct message, in threads.

* ``assistant_thread_started``: the person opened the pane or started a new chat. The thread gets
  suggested prompts fitted to their role, which the core chooses (``Conversation.suggested_prompts``)
  - ``assistant.threads.setSuggestedPrompts``. A stranger gets the polite text, in the thread.
* A message in the thread arrives as ``message.im`` with ``thread_ts`` (``SlackChannel.on_message``)
  and is answered by :func:`answer_in_thread`: a status while the core works ("is thinking…",
  ``assistant.threads.setStatus``; posting the answer clears it), a title from the thread's first
  message (``assistant.threads.setTitle``, once per thread), and the replies in the thread.
* ``assistant_thread_context_changed`` (the person looked at another channel) is acknowledged and
  nothing more: partnerbot never reads the channel a person looks at.

Why not bolt's ``AsyncAssistant``: its ``say`` / ``set_status`` / ``set_title`` utilities are bound to
the live request, while here, as for every Slack request, the listener only stores the event in the
inbox (acknowledging it once stored) and the work runs later from the inbox - maybe in another
replica, after a restart. It would also claim every threaded ``message.im`` before
``SlackChannel.on_message`` and keep thread context in message metadata. So the listeners store the
events like the others, and the work calls the three ``assistant.threads.*`` methods directly.
Status and title are cosmetic: when Slack refuses them (a thread that is not an assistant thread) that
is logged and the answer goes out all the same.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.bootstrap import Core
from bot.kernel.messages import FILE_REF_RE, Actor, Reply
from bot.people import UNKNOWN_PERSON_TEXT
from handlers.slack import blocks
from handlers.slack.threads import Post, deliver_in_thread, post_in_thread

log = logging.getLogger(__name__)

THREAD_WORK = "slack.assistant_thread"
STATUS = "is thinking…"
PROMPTS_TITLE = "Try one of these"
MAX_TITLE = 60


def thread_title(text: str) -> str:
    """A thread's title from its first message: its words (no shared-file references), cut at a word
    before :data:`MAX_TITLE` characters."""
    words = " ".join(FILE_REF_RE.sub(" ", text).split()) or "partnerbot"
    if len(words) <= MAX_TITLE:
        return words
    cut = words[: MAX_TITLE - 1].rsplit(" ", 1)[0]
    return (cut or words[: MAX_TITLE - 1]) + "…"


# What this module uses of handlers.slack.listeners (which imports it): SlackUser and SlackChannel.


class Who(Protocol):
    @property
    def team(self) -> str: ...

    @property
    def user(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


class Users(Protocol):
    """``SlackUser``: built from its fields, or from what the inbox stored."""

    def __call__(self, *, team: str, home_team: str, user: str, enterprise: str | None = None) -> Who: ...

    def from_dict(self, data: Mapping[str, Any]) -> Who: ...


class Channel(Protocol):
    """``SlackChannel``: storing a request, a workspace's client, who is writing, the core's answer."""

    core: Core

    async def accept(self, kind: str, who: Any, *, dedupe_key: str, payload: dict[str, Any]) -> None: ...

    async def client_for(self, who: Any) -> AsyncWebClient: ...

    async def actor_for(self, client: AsyncWebClient, who: Any, *, dm: str | None = None) -> Actor | None: ...

    async def answer(self, work: Awaitable[Any], *, post: Post) -> Any: ...


class SlackAssistant:
    """The assistant pane's listeners and inbox work, beside ``SlackChannel``'s."""

    def __init__(self, channel: Channel, *, users: Users) -> None:
        self.channel = channel
        self.users = users
        channel.core.inbox.register(THREAD_WORK, self._thread_started)

    def register(self, bolt: Any) -> None:
        bolt.event("assistant_thread_started")(self.on_thread_started)
        bolt.event("assistant_thread_context_changed")(self.on_context_changed)

    async def on_thread_started(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        thread = event.get("assistant_thread") or {}
        if not thread.get("user_id") or not thread.get("channel_id") or not thread.get("thread_ts"):
            return
        team = str(body.get("team_id") or (thread.get("context") or {}).get("team_id") or "")
        who = self.users(
            team=team,
            home_team=team,
            user=str(thread["user_id"]),
            enterprise=body.get("enterprise_id") or None,
        )
        await self.channel.accept(
            THREAD_WORK,
            who,
            dedupe_key=f"slack:event:{body.get('event_id')}",
            payload={"channel": str(thread["channel_id"]), "thread_ts": str(thread["thread_ts"])},
        )

    async def on_context_changed(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        """Nothing to do: the context names the channel the person looks at, which partnerbot never reads."""

    async def _thread_started(self, payload: dict[str, Any]) -> None:
        who = self.users.from_dict(payload["who"])
        client = await self.channel.client_for(who)
        channel, thread_ts = str(payload["channel"]), str(payload["thread_ts"])
        actor = await self.channel.actor_for(client, who, dm=channel)
        if actor is None:
            post = post_in_thread(client, channel, thread_ts)
            await post(blocks.render_message(Reply(text=UNKNOWN_PERSON_TEXT)))
            return
        prompts = self.channel.core.conversation.suggested_prompts(actor)
        if prompts:
            await client.assistant_threads_setSuggestedPrompts(
                channel_id=channel,
                thread_ts=thread_ts,
                title=PROMPTS_TITLE,
                prompts=[{"title": title, "message": message} for title, message in prompts],
            )


async def answer_in_thread(
    slack: Channel, client: AsyncWebClient, who: Who, actor: Actor, payload: dict[str, Any]
) -> None:
    """A message in a DM thread (the assistant pane): status while the core works, the thread's title
    from its first message, the answer in the thread - the same conversation as the DM."""
    channel, thread_ts = str(payload["channel"]), str(payload["thread_ts"])
    text = str(payload["text"])
    key = f"slack:event:{payload['event_id']}"
    core = slack.core
    await _set_status(client, channel, thread_ts, STATUS)
    if await core.conversation.first_delivery(f"slack:thread-title:{who.team}:{channel}:{thread_ts}"):
        await _assistant_call(
            client.assistant_threads_setTitle(
                channel_id=channel, thread_ts=thread_ts, title=thread_title(text)
            ),
            "setTitle",
        )
    replies = await slack.answer(
        core.conversation.handle_text(actor, text, request_key=key),
        post=post_in_thread(client, channel, thread_ts),
    )
    posted = await deliver_in_thread(
        core, client, replies, channel=channel, thread_ts=thread_ts, request_key=key
    )
    if not posted:  # a redelivery with nothing left to say: the status would linger
        await _set_status(client, channel, thread_ts, "")
    core.kick_outbox()


async def _set_status(client: AsyncWebClient, channel: str, thread_ts: str, status: str) -> None:
    await _assistant_call(
        client.assistant_threads_setStatus(channel_id=channel, thread_ts=thread_ts, status=status),
        "setStatus",
    )


async def _assistant_call(call: Any, name: str) -> None:
    """An ``assistant.threads.*`` call whose refusal changes nothing of the answer: logged, not raised."""
    try:
        await call
    except (SlackApiError, SlackClientError, TimeoutError, OSError) as exc:
        log.info("assistant.threads.%s failed: %r", name, exc)
