"""The Teams notifier: messages the bot starts itself (the outbox's deliveries and updates), each in a
proactive turn of the Agents SDK on a stored conversation reference.

- A reference from a 1:1 chat is continued as it is. One from a group chat or a channel (the person
  wrote there first) is never posted to: the person's 1:1 chat is opened (or found) with the
  connector's ``create_conversation`` inside a proactive turn on that reference, and the message goes
  there - a private notification never lands in a shared conversation.
- Someone the bot has no reference for is reached through Graph (:mod:`handlers.teams.graph`): the
  app is installed for them and its chat used.
- One attempt is one outbox attempt: a failure becomes a :class:`DeliveryError`
  (:func:`handlers.teams.connector.delivery_error`), and the outbox decides when to try again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from microsoft_agents.activity import (
    Activity,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
)
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import TurnContext

from bot.kernel.messages import Reply
from bot.kernel.outbox import DeliveryError
from handlers.teams import cards
from handlers.teams.activities import (
    PLATFORM,
    card_activity,
    message_activity,
    reference_dict,
    reference_from,
)
from handlers.teams.connector import (
    AUDIENCE,
    app_id_of,
    build_adapter,
    claims_for,
    connector_of,
    delivery_error,
    service_url_allowed,
)
from handlers.teams.graph import GraphInstaller

log = logging.getLogger(__name__)

DEFAULT_SERVICE_URL = "https://smba.trafficmanager.net/teams/"  # public cloud, for a chat Graph opened


class TeamsNotifier:
    """Messages the bot starts itself, through ``CloudAdapter.continue_conversation_with_claims``."""

    platform = PLATFORM

    def __init__(self, *, adapter: CloudAdapter, settings: Any, graph: GraphInstaller | None = None) -> None:
        self.adapter = adapter
        self.app_id = app_id_of(settings)
        self.settings = settings
        # With Graph, people without a conversation are reached by installing the app for them.
        self.graph = graph
        self.service_url = (settings.extra.get("PARTNERBOT_TEAMS_SERVICE_URL") or DEFAULT_SERVICE_URL).strip()

    @property
    def starts_conversations(self) -> bool:
        return self.graph is not None

    async def find_account(self, *, workspace: str, email: str) -> str | None:
        """The AAD object id of ``email`` in tenant ``workspace`` (Graph ``/users``)."""
        return await self.graph.find_user(tenant=workspace, email=email) if self.graph else None

    async def _installed_reference(self, target: Mapping[str, Any]) -> dict[str, Any]:
        """A conversation reference for someone the bot has no chat with: the app installed for them
        through Graph, and the chat of that installation."""
        tenant, aad = str(target.get("workspace") or ""), str(target.get("external_id") or "")
        if self.graph is None or not tenant or not aad:
            raise DeliveryError("no Teams conversation reference stored for this person", permanent=True)
        chat = await self.graph.personal_chat(tenant=tenant, aad=aad)
        return {
            "serviceUrl": self.service_url,
            "channelId": "msteams",
            "conversation": {"id": chat, "tenantId": tenant, "conversationType": "personal"},
            "bot": {"id": f"28:{self.app_id}" if self.app_id else "28:partnerbot"},
            "user": {"id": aad, "aadObjectId": aad},
        }

    def _reference(self, data: Any) -> ConversationReference:
        if (
            not isinstance(data, Mapping)
            or not data.get("serviceUrl")
            or not (data.get("conversation") or {}).get("id")
        ):
            raise DeliveryError("no Teams conversation reference stored for this person", permanent=True)
        if not service_url_allowed(data.get("serviceUrl"), self.settings):
            raise DeliveryError("the stored Teams address is not a Bot Connector host", permanent=True)
        try:
            return reference_from(data)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise DeliveryError(f"the stored Teams address can't be read: {exc}", permanent=True) from exc

    async def _run(
        self, reference: ConversationReference, work: Callable[[TurnContext], Awaitable[None]]
    ) -> None:
        """Run ``work`` in a proactive turn on ``reference``, raising a :class:`DeliveryError` on failure
        (the adapter's turn-error handler never sees it)."""
        failure: list[BaseException] = []

        async def turn(turn_context: TurnContext) -> None:
            # A continuation turn carries a made-up activity id; without clearing it the SDK would post
            # a "reply" to that id instead of a new message in the conversation.
            turn_context.activity.id = None
            try:
                await work(turn_context)
            except Exception as exc:
                failure.append(exc)

        try:
            await self.adapter.continue_conversation_with_claims(
                claims_for(self.settings), reference.get_continuation_activity(), turn, AUDIENCE
            )
        except Exception as exc:
            raise delivery_error(exc) from exc
        if failure:
            raise delivery_error(failure[0]) from failure[0]

    async def send(self, *, target: Mapping[str, Any], reply: Reply, idempotency_key: str) -> dict[str, Any]:
        if target.get("vendor_channel"):
            raise DeliveryError("Teams has no vendor channel; the vendor channel is Slack's", permanent=True)
        extras = target.get("extras") or {}
        stored = extras.get("reference") or await self._installed_reference(target)
        reference = self._reference(stored)
        personal = extras.get("personal", True) is not False
        viewer = reference.user.id if reference.user and reference.user.id else None
        activity = message_activity(reply, viewers=[viewer] if viewer else [])
        posted: dict[str, Any] = {}

        async def work(turn_context: TurnContext) -> None:
            where = reference if personal else await open_personal_chat(turn_context, reference)
            posted["activity_id"] = await self.post(turn_context, where, activity)
            posted["reference"] = reference_dict(where)

        await self._run(reference, work)
        ref = posted["reference"]
        log.info("teams: delivered %s to person %s", idempotency_key, target.get("person_id"))
        return {
            "conversation_id": (ref.get("conversation") or {}).get("id"),
            "activity_id": posted.get("activity_id"),
            "service_url": ref.get("serviceUrl"),
            "reference": ref,
        }

    @staticmethod
    async def post(turn_context: TurnContext, where: ConversationReference, activity: Activity) -> str | None:
        """Post ``activity`` as a new message in the conversation of ``where``; its activity id."""
        connector = connector_of(turn_context)
        outgoing = activity.model_copy(deep=True)
        outgoing.apply_conversation_reference(where)  # where has no activity id: a new message, not a reply
        assert where.conversation is not None
        response = await connector.conversations.send_to_conversation(where.conversation.id, outgoing)
        return response.id if response else None

    async def update(self, *, message_ref: Mapping[str, Any], reply: Reply) -> None:
        activity_id = message_ref.get("activity_id")
        if not activity_id:
            log.warning("teams: cannot update a message without an activity id")
            return
        reference = self._reference(message_ref.get("reference"))
        # An update replaces the card only; a chart stays with the message it first came with.
        viewer = reference.user.id if reference.user and reference.user.id else None
        activity = card_activity(
            cards.reply_card(cards.without_image(reply), viewers=[viewer] if viewer else []),
            summary=cards.summary(reply),
            activity_id=activity_id,
        )

        async def work(turn_context: TurnContext) -> None:
            await turn_context.update_activity(activity)

        try:
            await self._run(reference, work)
        except DeliveryError as exc:
            if exc.permanent:  # the message or the chat is gone: nothing left to update
                log.info("teams: message %s can't be updated any more: %s", activity_id, exc)
                return
            raise


async def open_personal_chat(
    turn_context: TurnContext, reference: ConversationReference
) -> ConversationReference:
    """The reference of ``reference.user``'s 1:1 chat with the bot, opened (or found: Teams answers
    with the existing chat) from within a proactive turn."""
    tenant = reference.conversation.tenant_id if reference.conversation else None
    parameters = ConversationParameters.model_validate(
        {
            "is_group": False,
            "agent": reference.agent,
            "members": [reference.user or ChannelAccount(id="")],
            "tenant_id": tenant,
            "channel_data": {"tenant": {"id": tenant}} if tenant else None,
        }
    )
    created = await connector_of(turn_context).conversations.create_conversation(parameters)
    personal = reference.model_copy(deep=True)
    personal.conversation = ConversationAccount(id=created.id, tenant_id=tenant, conversation_type="personal")
    if created.service_url:
        personal.service_url = created.service_url
    return personal


def teams_notifier(core: Any) -> TeamsNotifier | None:
    """The Teams notifier, when Teams is configured (credentials, or emulator mode)."""
    if not core.settings.teams_configured:
        return None
    return TeamsNotifier(
        adapter=build_adapter(core.settings),
        settings=core.settings,
        graph=GraphInstaller(settings=core.settings) if GraphInstaller.configured(core.settings) else None,
    )
