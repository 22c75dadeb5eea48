"""The Slack listeners: :class:`SlackChannel` (what each event, command, click and submission does),
who is writing (:class:`SlackUser`), and :func:`register_listeners`, which hands them to bolt.

Translation only. A Slack event, slash command, button click or modal submission becomes one call on
the core (``Conversation.handle_text`` / ``handle_action`` / ``submit_form`` / ``home``) for the
:class:`~bot.kernel.messages.Actor` that ``People.identify`` returns; the core's replies become Block Kit
(``handlers.slack.blocks``). Who may do what is decided by the core, never here.

Where answers go. A partner's data is never shown to anyone else: answers go to the person's direct
message with the bot, or ephemerally (only they see it) when they asked from a channel - which may be
a Slack Connect channel shared with other companies. Nothing is ever posted ``in_channel``. A message
or mention in a thread is answered in that thread (the assistant pane's threads:
:mod:`handlers.slack.assistant`; a mention under a review card is a staff note: :mod:`handlers.slack.threads`).

Also here: shortcuts (the message shortcut fills the registration form from the message; the global
ones open the core's forms) and the options of pickers too long to list (``external_select``),
answered at once for the caller's own sealed modal with what the core lets them pick.

Slack's clock. Commands, clicks and submissions must be acknowledged within 3 seconds. The bolt app
runs with ``process_before_response=True`` so that each listener finishes before the HTTP answer; the
listeners store the request in the inbox (:mod:`bot.kernel.inbox`) and return, which acknowledges it, and the
inbox hands it to the matching ``_name(payload)`` method afterwards - in this replica or, if this one
dies first, another. Tests wait for that work with :meth:`SlackChannel.drain`. A modal submission is
answered with the field errors its values alone show (``Conversation.precheck_form``, no database);
what the core refuses later opens the form again with the reasons (or, if the trigger has expired,
posts them with a button that opens it).

Charts. A reply with a chart (``Reply.image_png_b64``) is posted as usual, then the PNG is uploaded as a
file with ``files_upload_v2`` (``files.getUploadURLExternal``, the upload, ``files.completeUploadExternal``;
scope ``files:write``) - always into the person's direct message with the bot, even when the text was
answered ephemerally in a channel, since a file shared into a channel is seen by everyone there. A
failed upload is logged and never fails the message: its text carries the figures.

Retries. Slack retries events it thinks went unanswered (``X-Slack-Retry-Num``); the inbox stores a
request once (by event id, trigger id or action timestamp), and every core call carries a request key (``slack:event:<event_id>``, ``slack:<team>:<user>:<action_ts>``) so that the core does
a retried delivery or a double click once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.listener.async_builtins import AsyncTokenRevocationListeners
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.web.async_client import AsyncWebClient

from bot.bootstrap import Core
from bot.kernel.errors import RequestFailed
from bot.kernel.messages import Actor, ConversationRef, Reply
from bot.people import UNKNOWN_PERSON_TEXT, Profile
from handlers.http_input import BadInput, decode, read_body
from handlers.slack import assistant, blocks, threads
from handlers.slack.notifier import message_locator, open_dm, upload_chart
from handlers.slack.security import SHAPE_ERRORS, check_request_shape, check_signed_request, metadata_key
from handlers.slack.web_api import HttpSessions, SlackTokens, web_client

log = logging.getLogger(__name__)

Answer = TypeVar("Answer")

SLASH_COMMAND = "/partner"
# "/partner register" with no details opens the registration form.
REGISTER_WORDS = frozenset({"register", "register deal", "register a deal", "new deal", "deal"})
HELP_WORDS = frozenset({"", "help", "?"})
# Kinds of stored requests (bot.kernel.inbox) this channel handles.
MESSAGE_WORK = "slack.message"
MENTION_WORK = "slack.mention"
HOME_WORK = "slack.home"
COMMAND_WORK = "slack.command"
ACTION_WORK = "slack.action"
SUBMISSION_WORK = "slack.submission"
SHORTCUT_WORK = "slack.shortcut"
# Shortcuts (manifest.yml, features.shortcuts): the message shortcut opens the registration form filled
# in from the message; each global shortcut is one of the core's actions (the form it answers with
# opens as a modal).
MESSAGE_SHORTCUT = "register_from_message"
REGISTER_INTENT = "deal.register"
GLOBAL_SHORTCUTS = {"register_deal": "deal.register.start", "ask_vendor": "question.ask"}


# -- who is writing --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlackUser:
    """A person as one Slack request shows them.

    ``team`` is the workspace whose installation received the request (its token answers);
    ``home_team`` is the person's own workspace (in a Slack Connect channel the two differ), which is
    what ties them to a partner organisation."""

    team: str
    home_team: str
    user: str
    enterprise: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "team": self.team,
            "home_team": self.home_team,
            "user": self.user,
            "enterprise": self.enterprise,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SlackUser:
        return cls(
            team=str(data["team"]),
            home_team=str(data["home_team"]),
            user=str(data["user"]),
            enterprise=data.get("enterprise") or None,
        )

    @classmethod
    def from_event(cls, body: Mapping[str, Any], event: Mapping[str, Any]) -> SlackUser:
        team = str(body.get("team_id") or event.get("team") or "")
        home = str(event.get("user_team") or event.get("team") or team)
        return cls(
            team=team,
            home_team=home,
            user=str(event.get("user") or ""),
            enterprise=body.get("enterprise_id") or None,
        )

    @classmethod
    def from_command(cls, command: Mapping[str, Any]) -> SlackUser:
        team = str(command.get("team_id") or "")
        home = str(command.get("user_team") or team)
        return cls(
            team=team,
            home_team=home,
            user=str(command.get("user_id") or ""),
            enterprise=command.get("enterprise_id") or None,
        )

    @classmethod
    def from_interaction(cls, body: Mapping[str, Any]) -> SlackUser:
        user = body.get("user") or {}
        team = str((body.get("team") or {}).get("id") or user.get("team_id") or "")
        home = str(user.get("team_id") or team)
        enterprise = (
            (body.get("enterprise") or {}).get("id") if isinstance(body.get("enterprise"), dict) else None
        )
        return cls(team=team, home_team=home, user=str(user.get("id") or ""), enterprise=enterprise)


_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def from_slack_text(text: str) -> str:
    """What the person typed: Slack's ``<url|label>``, ``<mailto:…>``, ``<@U…>`` and entities undone."""

    def plain(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if label:
            return label
        return target.removeprefix("mailto:")

    return _LINK.sub(plain, text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# -- the channel -----------------------------------------------------------------------------------

Post = Callable[[dict[str, Any]], Awaitable[Any]]


def shared_files(event: dict[str, Any]) -> str:
    """Files shared with a message, as the text references the core accepts (e.g. as MDF proof):
    `` file:<permalink>`` for each."""
    refs = [f.get("permalink") or f.get("url_private") or f.get("id") for f in event.get("files") or []]
    return "".join(f" file:{ref}" for ref in refs if ref)


async def _unsigned_bolt_request(request: web.Request) -> AsyncBoltRequest:
    """The install pages' requests (browser GETs, no signature), with the body bounded and decoded."""
    body = decode(await read_body(request))
    return AsyncBoltRequest(body=body, query=request.query_string, headers=request.headers)  # type: ignore[arg-type]


class SlackChannel:
    """The bolt listeners' implementation, bound to one :class:`Core`."""

    def __init__(
        self,
        *,
        core: Core,
        bolt: AsyncApp,
        tokens: SlackTokens,
        installation_store: AsyncInstallationStore | None = None,
    ) -> None:
        self.core = core
        self.bolt = bolt
        self.tokens = tokens
        self.installation_store = installation_store
        self._dm: dict[tuple[str, str], str] = {}
        self.sessions = HttpSessions()
        self.metadata_key = metadata_key(core.settings)
        self._register_work()

    # -- plumbing ----------------------------------------------------------------------------

    def _register_work(self) -> None:
        inbox = self.core.inbox
        inbox.register(MESSAGE_WORK, self._message)
        inbox.register(MENTION_WORK, self._mention)
        inbox.register(HOME_WORK, self._home)
        inbox.register(COMMAND_WORK, self._command)
        inbox.register(ACTION_WORK, self._action)
        inbox.register(SUBMISSION_WORK, self._submission)
        inbox.register(SHORTCUT_WORK, self._shortcut)

    async def accept(self, kind: str, who: SlackUser, *, dedupe_key: str, payload: dict[str, Any]) -> None:
        """Store the request (then the listener acknowledges it); the inbox runs its work afterwards,
        one request of a person at a time, in this replica or another."""
        await self.core.inbox.accept(
            kind=kind,
            dedupe_key=dedupe_key,
            order_key=f"slack:{who.team}:{who.user}",
            payload={**payload, "who": who.to_dict()},
        )

    async def client_for(self, who: SlackUser) -> AsyncWebClient:
        """A Web API client with the bot token of the workspace the request came from."""
        token = await self.tokens.for_team(who.team, enterprise=who.enterprise)
        if not token:
            raise LookupError(f"partnerbot is not installed in Slack workspace {who.team}")
        return web_client(self.core.settings, token=token, session=self.sessions.get())

    async def drain(self) -> None:
        """Wait until every stored request this process can take has been handled (tests, shutdown)."""
        await self.core.inbox.drain()

    async def handle_http(self, request: web.Request) -> web.Response:
        """``POST /slack/events``: events, commands, interactivity and options. The size, the encoding
        and the signature are checked before anything parses the body, then its shape; bolt verifies
        the signature again and dispatches. Malformed input gets 400 (401 before authentication)."""
        try:
            body = decode(await read_body(request))
            check_signed_request(
                request.headers, body, signing_secret=self.core.settings.slack_signing_secret
            )
            check_request_shape(request.headers, body)
        except BadInput as exc:
            return exc.response()
        try:
            # Building the request parses the body and reads its context (team, user, channel) - a
            # signed body of an unknown shape can fail there, before bolt's own error handler.
            bolt_request = AsyncBoltRequest(body=body, query=request.query_string, headers=request.headers)  # type: ignore[arg-type]
            response = await self.bolt.async_dispatch(bolt_request)
        except SHAPE_ERRORS as exc:
            log.warning("slack: could not read a signed request: %r", exc)
            return BadInput("the request is not one Slack sends").response()
        return await to_aiohttp_response(response)

    def _seal_for(self, who: SlackUser) -> str:
        return f"{who.team}:{who.user}"

    async def handle_install(self, request: web.Request) -> web.Response:
        flow = self.bolt.oauth_flow
        if flow is None:
            return web.Response(status=404)
        try:
            bolt_request = await _unsigned_bolt_request(request)
        except BadInput as exc:
            return exc.response()
        return await to_aiohttp_response(await flow.handle_installation(bolt_request))

    async def handle_oauth_redirect(self, request: web.Request) -> web.Response:
        flow = self.bolt.oauth_flow
        if flow is None:
            return web.Response(status=404)
        try:
            bolt_request = await _unsigned_bolt_request(request)
        except BadInput as exc:
            return exc.response()
        return await to_aiohttp_response(await flow.handle_callback(bolt_request))

    # -- identity and destinations ----------------------------------------------------------

    async def actor_for(
        self, client: AsyncWebClient, who: SlackUser, *, dm: str | None = None
    ) -> Actor | None:
        """The core's Actor for ``who``: by the linked identity, else by the e-mail ``users.info`` gives."""
        if not who.user or not who.home_team:
            return None
        key = (who.team, who.user)
        if dm:
            self._dm[key] = dm
        extras: dict[str, Any] = {"team": who.team, "user": who.user}
        if self._dm.get(key):
            extras["channel"] = self._dm[key]
        if who.enterprise:
            extras["enterprise"] = who.enterprise
        ref = ConversationRef("slack", who.home_team, who.user, extras=extras)
        user = who.user

        async def load_profile() -> Profile | None:
            return await self._profile(client, user)

        return await self.core.people.identify(
            platform="slack",
            workspace=who.home_team,
            external_id=user,
            load_profile=load_profile,
            conversation=ref,
        )

    async def _profile(self, client: AsyncWebClient, user: str) -> Profile | None:
        try:
            answer = await client.users_info(user=user)
        except SlackApiError as exc:
            log.warning("users.info for %s failed: %s", user, exc.response.get("error"))
            return None
        info = answer.get("user") or {}
        if info.get("is_bot") or info.get("deleted"):
            return None
        profile = info.get("profile") or {}
        return Profile(
            email=profile.get("email"),
            name=info.get("real_name") or profile.get("real_name"),
            tz=info.get("tz"),
        )

    async def dm_channel(self, client: AsyncWebClient, who: SlackUser) -> str:
        key = (who.team, who.user)
        if key not in self._dm:
            self._dm[key] = await open_dm(client, who.user)
        return self._dm[key]

    def to_dm(self, client: AsyncWebClient, who: SlackUser) -> Post:
        async def post(payload: dict[str, Any]) -> None:
            channel = await self.dm_channel(client, who)
            await client.chat_postMessage(channel=channel, unfurl_links=False, unfurl_media=False, **payload)

        return post

    @staticmethod
    def ephemeral_by_url(respond: Any) -> Post:
        async def post(payload: dict[str, Any]) -> None:
            await respond(response_type="ephemeral", replace_original=False, **payload)

        return post

    def ephemeral_in(self, client: AsyncWebClient, who: SlackUser, channel: str) -> Post:
        async def post(payload: dict[str, Any]) -> None:
            try:
                await client.chat_postEphemeral(channel=channel, user=who.user, **payload)
            except SlackApiError as exc:
                log.info(
                    "ephemeral answer in %s failed (%s); answering by DM", channel, exc.response.get("error")
                )
                await self.to_dm(client, who)(payload)

        return post

    async def open_form(
        self,
        client: AsyncWebClient,
        who: SlackUser,
        reply: Reply,
        trigger_id: str,
        *,
        origin: dict[str, str] | None = None,
    ) -> bool:
        """Open ``reply.form`` as a modal; False when Slack refused (e.g. the trigger expired)."""
        assert reply.form is not None
        metadata = blocks.modal_metadata(
            form_id=reply.form.form_id,
            data=dict(reply.form.data),
            origin=origin,
            key=self.metadata_key,
            submitter=self._seal_for(who),
        )
        view = blocks.render_modal(reply.form, intro=reply.text, private_metadata=metadata)
        try:
            await client.views_open(trigger_id=trigger_id, view=view)
            return True
        except SlackApiError as exc:
            log.info("views.open failed (%s); sending the form as a message", exc.response.get("error"))
            return False

    async def deliver(
        self,
        client: AsyncWebClient,
        who: SlackUser,
        replies: list[Reply],
        *,
        post: Post,
        trigger_id: str | None = None,
        origin: dict[str, str] | None = None,
        request_key: str | None = None,
        replace: Callable[[Reply], Awaitable[bool]] | None = None,
    ) -> None:
        """Every reply in order: the first form as a modal while ``trigger_id`` lives, the first reply
        in place of the clicked message when ``replace`` takes it, the rest through ``post``. Each is
        counted as out for ``request_key`` as soon as it is (the core keeps the answer), so when a
        post fails, the inbox's next attempt posts only what is left."""
        form_tried = False
        for index, reply in enumerate(replies):
            shown = False
            if reply.form is not None and trigger_id and not form_tried:
                form_tried = True  # one trigger opens one modal
                shown = await self.open_form(client, who, reply, trigger_id, origin=origin)
            elif index == 0 and replace is not None and reply.replace_key and reply.form is None:
                shown = await replace(reply)
                if shown:
                    await self.send_chart(client, who, reply)
            if not shown:
                await post(blocks.render_message(reply))
                await self.send_chart(client, who, reply)
            await self.core.conversation.answer_posted(request_key)

    async def answer(self, work: Awaitable[Answer], *, post: Post) -> Answer:
        """The core's replies to a request; when its work failed, the person hears so (once) and the
        failure goes on to the inbox, which tries the request again."""
        try:
            return await work
        except RequestFailed as failed:
            for reply in failed.replies:
                await post(blocks.render_message(reply))
            raise

    async def send_chart(self, client: AsyncWebClient, who: SlackUser, reply: Reply) -> None:
        """The reply's chart, if any, into the person's DM (never a channel others can read)."""
        if not reply.image_png_b64:
            return
        try:
            channel = await self.dm_channel(client, who)
        except SlackApiError as exc:
            log.info("no DM for the chart of %s: %s", who.user, exc.response.get("error"))
            return
        await upload_chart(client, channel=channel, reply=reply)

    async def unknown(self, post: Post) -> None:
        await post(blocks.render_message(Reply(text=UNKNOWN_PERSON_TEXT)))

    # -- events ------------------------------------------------------------------------------
    #
    # Each listener stores the request (``accept``) and returns, which acknowledges it; the matching
    # ``_name(payload)`` does the work when the inbox hands it over.

    async def on_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        """``message.im``: a person writes to the bot in its direct message."""
        if (
            event.get("channel_type") != "im"
            or event.get("subtype") not in (None, "file_share")
            or event.get("bot_id")
            or not event.get("user")
        ):
            return  # edits, deletions, joins, the bot's own and other bots' messages
        who = SlackUser.from_event(body, event)
        await self.accept(
            MESSAGE_WORK,
            who,
            dedupe_key=f"slack:event:{body.get('event_id')}",
            payload={
                "event_id": body.get("event_id"),
                "channel": event["channel"],
                "text": from_slack_text(str(event.get("text") or "")) + shared_files(event),
                "thread_ts": event.get("thread_ts"),
            },
        )

    async def _message(self, payload: dict[str, Any]) -> None:
        """A DM message; one in a thread (the assistant pane) is answered in it (handlers.slack.assistant)."""
        who = SlackUser.from_dict(payload["who"])
        client = await self.client_for(who)
        channel = str(payload["channel"])
        thread_ts = payload.get("thread_ts")
        post: Post = (
            threads.post_in_thread(client, channel, str(thread_ts))
            if thread_ts
            else self._post_to(client, channel)
        )
        actor = await self.actor_for(client, who, dm=channel)
        if actor is None:
            await self.unknown(post)
            return
        if thread_ts:
            await assistant.answer_in_thread(self, client, who, actor, payload)
            return
        key = f"slack:event:{payload['event_id']}"
        replies = await self.answer(
            self.core.conversation.handle_text(actor, str(payload["text"]), request_key=key), post=post
        )
        await self.deliver(client, who, replies, post=post, request_key=key)
        self.core.kick_outbox()

    @staticmethod
    def _post_to(client: AsyncWebClient, channel: str) -> Post:
        async def post(payload: dict[str, Any]) -> None:
            await client.chat_postMessage(channel=channel, unfurl_links=False, unfurl_media=False, **payload)

        return post

    async def on_mention(self, body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
        """``app_mention`` in a channel: answered ephemerally to the person who mentioned the bot - in
        the thread when it was written in one, where under a review card it is a staff note."""
        if event.get("bot_id") or not event.get("user"):
            return
        bot_user_id = getattr(context, "bot_user_id", None)
        text = str(event.get("text") or "")
        text = re.sub(
            rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>" if bot_user_id else r"^\s*<@[A-Z0-9]+(\|[^>]*)?>",
            "",
            text,
        )
        await self.accept(
            MENTION_WORK,
            SlackUser.from_event(body, event),
            dedupe_key=f"slack:event:{body.get('event_id')}",
            payload={
                "event_id": body.get("event_id"),
                "channel": event["channel"],
                "text": from_slack_text(text).strip(),
                "thread_ts": event.get("thread_ts"),
            },
        )

    async def _mention(self, payload: dict[str, Any]) -> None:
        who = SlackUser.from_dict(payload["who"])
        client = await self.client_for(who)
        channel, thread_ts = str(payload["channel"]), payload.get("thread_ts")
        post = (
            threads.ephemeral_in_thread(
                client,
                user=who.user,
                channel=channel,
                thread_ts=str(thread_ts),
                else_dm=self.to_dm(client, who),
            )
            if thread_ts
            else self.ephemeral_in(client, who, channel)
        )
        actor = await self.actor_for(client, who)
        if actor is None:
            await self.unknown(post)
            return
        key = f"slack:event:{payload['event_id']}"
        conversation, text = self.core.conversation, str(payload["text"])
        work = (
            conversation.handle_thread_reply(
                actor,
                text,
                platform="slack",
                thread=message_locator(channel, str(thread_ts)),
                request_key=key,
            )
            if thread_ts
            else conversation.handle_text(actor, text, request_key=key)
        )
        replies = await self.answer(work, post=post)
        await self.deliver(client, who, replies, post=post, request_key=key)
        self.core.kick_outbox()

    async def on_home_opened(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        await self.accept(
            HOME_WORK,
            SlackUser.from_event(body, event),
            dedupe_key=f"slack:event:{body.get('event_id')}",
            payload={"dm": event.get("channel")},
        )

    async def _home(self, payload: dict[str, Any]) -> None:
        who = SlackUser.from_dict(payload["who"])
        await self.publish_home(await self.client_for(who), who, dm=payload.get("dm"))

    async def publish_home(self, client: AsyncWebClient, who: SlackUser, *, dm: str | None = None) -> None:
        actor = await self.actor_for(client, who, dm=dm if dm and str(dm).startswith("D") else None)
        replies = await self.core.conversation.home(actor) if actor else [Reply(text=UNKNOWN_PERSON_TEXT)]
        await client.views_publish(user_id=who.user, view=blocks.render_home(replies))

    async def on_app_uninstalled(self, context: Any) -> None:
        if self.installation_store is not None:
            await AsyncTokenRevocationListeners(self.installation_store).handle_app_uninstalled_events(
                context
            )
        else:
            log.warning(
                "partnerbot was uninstalled from Slack workspace %s", getattr(context, "team_id", "?")
            )

    async def on_tokens_revoked(self, event: dict[str, Any], context: Any) -> None:
        if self.installation_store is not None:
            await AsyncTokenRevocationListeners(self.installation_store).handle_tokens_revoked_events(
                event, context
            )
        else:
            log.warning("Slack tokens were revoked in workspace %s", getattr(context, "team_id", "?"))

    # -- /partner ----------------------------------------------------------------------------

    async def on_command(self, ack: Any, command: dict[str, Any]) -> None:
        await self.accept(
            COMMAND_WORK,
            SlackUser.from_command(command),
            dedupe_key=f"slack:command:{command.get('trigger_id')}",
            payload={key: command.get(key) for key in ("text", "channel_id", "trigger_id", "response_url")},
        )
        await ack()

    async def _command(self, payload: dict[str, Any]) -> None:
        who = SlackUser.from_dict(payload["who"])
        client = await self.client_for(who)
        respond = AsyncRespond(response_url=payload.get("response_url"))
        text = from_slack_text(str(payload.get("text") or "")).strip()
        try:
            dm: str | None = await self.dm_channel(client, who)
        except SlackApiError as exc:  # e.g. a Slack Connect guest the bot may not DM
            log.info("conversations.open for %s failed: %s", who.user, exc.response.get("error"))
            dm = None
        # In the person's DM with the bot a real message; anywhere else (channels, Slack Connect, group
        # DMs) only they may see the answer.
        post = (
            self.to_dm(client, who)
            if dm and payload.get("channel_id") == dm
            else self.ephemeral_by_url(respond)
        )
        actor = await self.actor_for(client, who)
        if actor is None:
            await self.unknown(post)
            return
        words = " ".join(text.lower().split())
        conversation = self.core.conversation
        key = f"slack:command:{payload.get('trigger_id')}"
        if words in HELP_WORDS:
            replies = await conversation.handle_text(actor, "help")
        elif words in REGISTER_WORDS:
            replies = await self.answer(
                conversation.handle_action(actor, "deal.register.start", {}, request_key=key), post=post
            )
        else:
            replies = await self.answer(conversation.handle_text(actor, text, request_key=key), post=post)
        await self.deliver(
            client, who, replies, post=post, trigger_id=payload.get("trigger_id"), request_key=key
        )
        self.core.kick_outbox()

    # -- buttons -----------------------------------------------------------------------------

    async def on_action(self, ack: Any, body: dict[str, Any]) -> None:
        actions = body.get("actions") or []
        decoded = blocks.decode_value(actions[0].get("value")) if actions else None
        if decoded is not None:  # None: a link button - Slack opened the URL, nothing to do
            who = SlackUser.from_interaction(body)
            clicked = actions[0]
            await self.accept(
                ACTION_WORK,
                who,
                dedupe_key=f"slack:{who.team}:{who.user}:{clicked.get('action_ts') or body.get('trigger_id')}",
                payload={
                    "action": decoded[0],
                    "data": decoded[1],
                    "action_ts": clicked.get("action_ts"),
                    "trigger_id": body.get("trigger_id"),
                    "container": body.get("container") or {},
                    "response_url": body.get("response_url"),
                    "in_home": (body.get("view") or {}).get("type") == "home",
                },
            )
        await ack()

    async def _action(self, payload: dict[str, Any]) -> None:
        name, data = str(payload["action"]), dict(payload.get("data") or {})
        who = SlackUser.from_dict(payload["who"])
        client = await self.client_for(who)
        respond = AsyncRespond(response_url=payload.get("response_url"))
        trigger_id = payload.get("trigger_id")
        container = payload.get("container") or {}
        in_message = (
            container.get("type") == "message" and container.get("channel_id") and container.get("message_ts")
        )
        origin = {"channel": container["channel_id"], "ts": container["message_ts"]} if in_message else None
        if container.get("is_ephemeral"):
            origin = None
        if name == blocks.OPEN_FORM_ACTION:
            form = blocks.form_from_button(data)
            if form is not None and trigger_id:
                await self.open_form(client, who, Reply(form=form), trigger_id)
            return
        actor = await self.actor_for(client, who)
        dm_post = self.to_dm(client, who)
        if actor is None:
            await self.unknown(dm_post)
            return
        request_key = f"slack:{who.team}:{who.user}:{payload.get('action_ts') or trigger_id}"
        replies = await self.answer(
            self.core.conversation.handle_action(actor, name, data, request_key=request_key), post=dm_post
        )

        async def replace(reply: Reply) -> bool:
            return await self._replace_clicked(client, container, respond, reply)

        await self.deliver(
            client,
            who,
            replies,
            post=dm_post,
            trigger_id=trigger_id,
            origin=origin,
            request_key=request_key,
            replace=replace,
        )
        self.core.kick_outbox()
        if container.get("type") == "view" and payload.get("in_home"):
            await self.publish_home(client, who)

    async def _replace_clicked(
        self, client: AsyncWebClient, container: Mapping[str, Any], respond: Any, reply: Reply
    ) -> bool:
        """Show ``reply`` in place of the message whose button was clicked."""
        payload = blocks.render_message(reply)
        try:
            if container.get("type") != "message":
                return False
            if container.get("is_ephemeral"):
                await respond(replace_original=True, **payload)
            else:
                await client.chat_update(
                    channel=container["channel_id"], ts=container["message_ts"], **payload
                )
            return True
        except (SlackApiError, aiohttp.ClientError, KeyError) as exc:
            log.info("could not update the clicked message (%r); sending a new one", exc)
            return False

    # -- modals ------------------------------------------------------------------------------

    async def on_view_submission(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        """What the values alone show is wrong comes back in the modal (``response_action: errors``);
        otherwise the modal closes and the submission is stored - the core handles it afterwards, like
        any other request. If the core then refuses it, the form opens again with the reasons."""
        values = blocks.form_values(view)
        errors = self.core.conversation.precheck_form(values)
        if errors:
            await ack(
                response_action="errors", errors=blocks.form_errors(errors, blocks.input_block_ids(view))
            )
            return
        who = SlackUser.from_interaction(body)
        await self.accept(
            SUBMISSION_WORK,
            who,
            dedupe_key=f"slack:view:{view.get('id')}:{body.get('trigger_id')}",
            payload={
                "values": values,
                "trigger_id": body.get("trigger_id"),
                # What is needed to show the form again: the modal without its state.
                "view": {key: view.get(key) for key in ("title", "submit", "blocks", "private_metadata")},
            },
        )
        await ack()

    async def _submission(self, payload: dict[str, Any]) -> None:
        who = SlackUser.from_dict(payload["who"])
        client = await self.client_for(who)
        view = payload.get("view") or {}
        values = dict(payload.get("values") or {})
        trigger_id = payload.get("trigger_id")
        # Believed only as sealed for this submitter; the answer goes to the submitter's own DM.
        meta = blocks.read_metadata(
            view.get("private_metadata"), key=self.metadata_key, submitter=self._seal_for(who)
        )
        post = self.to_dm(client, who)
        actor = await self.actor_for(client, who)
        if actor is None:
            await self.unknown(post)
            return
        data = meta.get("data") if isinstance(meta.get("data"), dict) else {}
        key = f"slack:view:{who.team}:{who.user}:{trigger_id}"
        result = await self.answer(
            self.core.conversation.submit_form(
                actor, str(meta.get("form_id") or ""), values, data=data, request_key=key
            ),
            post=post,
        )
        if result.errors:
            form = blocks.form_from_view(view, values, meta=meta)
            again = Reply(text=blocks.errors_text(result.errors, form), form=form)
            await self.deliver(client, who, [again], post=post, trigger_id=trigger_id)
            return
        origin = meta.get("origin") if isinstance(meta.get("origin"), dict) else None
        container = (
            {"type": "message", "channel_id": origin.get("channel"), "message_ts": origin.get("ts")}
            if origin
            else {}
        )

        async def replace(reply: Reply) -> bool:
            return await self._replace_clicked(client, container, None, reply)

        await self.deliver(
            client,
            who,
            list(result.replies),
            post=post,
            trigger_id=trigger_id,
            origin=origin,
            request_key=key,
            replace=replace,
        )
        self.core.kick_outbox()

    # -- shortcuts ----------------------------------------------------------------------------

    async def on_shortcut(self, ack: Any, body: dict[str, Any]) -> None:
        """A global shortcut (the lightning menu) or a message shortcut (a message's ⋮ menu): stored,
        acknowledged, and answered with a modal while the trigger lives."""
        who = SlackUser.from_interaction(body)
        await self.accept(
            SHORTCUT_WORK,
            who,
            dedupe_key=f"slack:shortcut:{who.team}:{who.user}:{body.get('trigger_id')}",
            payload={
                "callback_id": body.get("callback_id"),
                "trigger_id": body.get("trigger_id"),
                "text": str((body.get("message") or {}).get("text") or "")[:4000],
            },
        )
        await ack()

    async def _shortcut(self, payload: dict[str, Any]) -> None:
        who = SlackUser.from_dict(payload["who"])
        client = await self.client_for(who)
        post = self.to_dm(client, who)
        actor = await self.actor_for(client, who)
        if actor is None:
            await self.unknown(post)
            return
        callback, trigger_id = str(payload.get("callback_id") or ""), payload.get("trigger_id")
        key = f"slack:shortcut:{who.team}:{who.user}:{trigger_id}"
        conversation = self.core.conversation
        if callback == MESSAGE_SHORTCUT:
            text = from_slack_text(str(payload.get("text") or ""))
            work = conversation.form_from_text(actor, REGISTER_INTENT, text)
        elif callback in GLOBAL_SHORTCUTS:
            work = conversation.handle_action(actor, GLOBAL_SHORTCUTS[callback], {}, request_key=key)
        else:
            log.info("slack: a shortcut this app doesn't declare: %r", callback)
            return
        replies = await self.answer(work, post=post)
        await self.deliver(client, who, replies, post=post, trigger_id=trigger_id, request_key=key)

    # -- pickers that load their options -------------------------------------------------------

    async def on_options(self, ack: Any, body: dict[str, Any]) -> None:
        """A picker too long to list (``external_select``) asks for the options matching what the
        person typed. Answered at once (Slack waits 3 seconds; it writes nothing), for the form the
        modal's sealed metadata names, only if the modal is this person's - and with only what the
        core lets them pick."""
        who = SlackUser.from_interaction(body)
        view = body.get("view") or {}
        meta = blocks.read_metadata(
            view.get("private_metadata"), key=self.metadata_key, submitter=self._seal_for(who)
        )
        options: list[dict[str, Any]] = []
        form_id = meta.get("form_id")
        if isinstance(form_id, str) and form_id:
            actor = await self.actor_for(await self.client_for(who), who)
            if actor is not None:
                data = meta.get("data") if isinstance(meta.get("data"), dict) else {}
                choices = await self.core.conversation.form_choices(
                    actor,
                    form_id,
                    str(body.get("block_id") or ""),
                    str(body.get("value") or "")[:100],
                    data=data,
                )
                options = [blocks.option(c.value, c.label) for c in choices]
        await ack(options=options)


def register_listeners(bolt: Any, channel: SlackChannel) -> None:
    """Every listener the bot has; tests/slack/test_manifest.py checks each against manifest.yml."""
    # bolt tries listeners in this order for every request: the frequent ones first.
    bolt.action(re.compile(".*"))(channel.on_action)
    # Only message.im is subscribed (manifest.yml); on_message ignores anything that is not an IM.
    bolt.event("message")(channel.on_message)
    bolt.command(SLASH_COMMAND)(channel.on_command)
    bolt.view_submission(blocks.FORM_CALLBACK_ID)(channel.on_view_submission)
    bolt.options(blocks.INPUT_ACTION_ID)(channel.on_options)
    bolt.shortcut(MESSAGE_SHORTCUT)(channel.on_shortcut)
    for callback_id in GLOBAL_SHORTCUTS:
        bolt.shortcut(callback_id)(channel.on_shortcut)
    bolt.event("app_home_opened")(channel.on_home_opened)
    bolt.event("app_mention")(channel.on_mention)
    bolt.event("app_uninstalled")(channel.on_app_uninstalled)
    bolt.event("tokens_revoked")(channel.on_tokens_revoked)
    assistant.SlackAssistant(channel, users=SlackUser).register(bolt)  # the assistant pane
