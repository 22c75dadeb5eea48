"""What partnerbot does with each Teams activity: an Agents SDK ``ActivityHandler``.

Translation only. An activity becomes an :class:`~bot.kernel.messages.Actor` (``People.identify``) plus one
core call (``handle_text`` / ``handle_action`` / ``submit_form`` / ``home``); the core's replies become
plain-text messages or Adaptive Cards (:mod:`handlers.teams.cards`). Who may do what is decided by the
core from the Actor, never here.

**Private in shared conversations.** In a group chat or a channel nothing the core answers is posted
there: the answers go to the person's 1:1 chat with the bot (opened or found through the connector),
and the shared conversation gets one line saying so. A card clicked in a shared conversation is not
replaced in place either (everyone would see the outcome); its result goes to the clicker's chat.

Clicks arrive two ways: ``Action.Execute`` (Universal Actions) as an ``adaptiveCard/action`` invoke,
answered with the card that replaces the clicked one; and ``Action.Submit`` - cards posted before
Universal Actions - as a message whose ``value`` is the payload, answered by updating the card.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from microsoft_agents.activity import (
    Activity,
    ChannelAccount,
    ConversationReference,
    InvokeResponse,
)
from microsoft_agents.hosting.core import ActivityHandler, TurnContext

from bot.bootstrap import Core
from bot.kernel.messages import Actor, ConversationRef, Reply
from bot.people import UNKNOWN_PERSON_TEXT, Profile
from handlers.teams import cards
from handlers.teams.activities import (
    PLATFORM,
    account_id,
    card_activity,
    is_personal,
    message_activity,
    reference_from,
    reference_of,
    request_key,
    shared_files,
    text_activity,
    workspace,
)
from handlers.teams.connector import connector_of
from handlers.teams.notifier import TeamsNotifier, open_personal_chat

log = logging.getLogger(__name__)

MAX_REFERENCES = 10_000  # serialized conversation references kept (one per person and chat)
GROUP_WELCOME_TEXT = (
    "Hi! I'm partnerbot, the partner assistant of our channel team. Mention me here (@partnerbot help), "
    "or write to me in a personal chat - that's where I keep your deals and notifications."
)
INVOKE_CARD = "application/vnd.microsoft.card.adaptive"
INVOKE_MESSAGE = "application/vnd.microsoft.activity.message"


def pointer_text(name: str | None) -> str:
    """The one line a shared conversation gets instead of an answer."""
    first = (name or "").split(" ")[0]
    who = f"{first}, I" if first else "I"
    return f"{who}'ve answered you in our personal chat, so that only you see it."


def _viewer(activity: Activity) -> list[str]:
    """Who a card sent in answer to ``activity`` refreshes for: the person who wrote or clicked."""
    return [activity.from_property.id] if activity.from_property and activity.from_property.id else []


@dataclass(slots=True)
class _Outcome:
    """What a click produced: a card that replaces the clicked one, and messages that follow it."""

    replacement: Reply | None = None
    replacement_card: dict[str, Any] | None = None
    replies: list[Reply] | None = None
    request_key: str | None = None


class PartnerbotTeams(ActivityHandler):
    def __init__(self, core: Core) -> None:
        self.core = core
        self._references: dict[tuple[Any, ...], dict[str, Any]] = {}

    async def on_turn(self, turn_context: TurnContext) -> None:  # type: ignore[override]
        try:
            await super().on_turn(turn_context)
        finally:
            self.core.kick_outbox()

    # -- who is writing ------------------------------------------------------------------------

    def _conversation_ref(self, activity: Activity, account: ChannelAccount | None = None) -> ConversationRef:
        user = account if account is not None else activity.from_property
        key = (
            activity.service_url,
            str(activity.channel_id or ""),
            activity.locale,
            activity.conversation.model_dump_json() if activity.conversation else "",
            user.model_dump_json() if user else "",
            activity.recipient.model_dump_json() if activity.recipient else "",
            workspace(activity),
        )
        serialized = self._references.get(key)
        if serialized is None:  # a chat's reference rarely changes; building it each turn is waste
            serialized = reference_of(activity, account)
            if len(self._references) >= MAX_REFERENCES:
                self._references.pop(next(iter(self._references)))
            self._references[key] = serialized
        return ConversationRef(
            platform=PLATFORM,
            workspace=workspace(activity),
            external_id=account_id(user),
            extras={"reference": dict(serialized), "personal": is_personal(activity)},
        )

    async def _profile(self, turn_context: TurnContext, member_id: str) -> Profile | None:
        conversation = turn_context.activity.conversation
        try:
            if conversation is None:
                return None
            member = await connector_of(turn_context).conversations.get_conversation_member(
                conversation.id, member_id
            )
        except Exception as exc:  # the Emulator, a guest, a network error: fall back to "unknown"
            log.info("teams: no member profile for %s: %s", member_id, exc)
            return None
        extra = member.model_extra or {}
        email = extra.get("email") or extra.get("userPrincipalName")
        if not email or "@" not in str(email):
            return None
        return Profile(email=str(email), name=member.name)

    async def _identify(self, turn_context: TurnContext) -> Actor | None:
        """The Actor writing, by linked identity, else by the e-mail Teams reports for the member; stores
        how to reach them (this conversation) either way."""
        activity = turn_context.activity
        user = activity.from_property
        external_id = account_id(user)
        if not external_id:
            return None
        member_id = user.id if user is not None else None

        async def load_profile() -> Profile | None:
            return await self._profile(turn_context, member_id) if member_id else None

        return await self.core.people.identify(
            platform=PLATFORM,
            workspace=workspace(activity),
            external_id=external_id,
            load_profile=load_profile,
            conversation=self._conversation_ref(activity),
        )

    # -- sending -------------------------------------------------------------------------------

    async def _send(
        self,
        turn_context: TurnContext,
        replies: list[Reply],
        request_key: str | None = None,
        *,
        point: bool = True,
    ) -> None:
        """Each reply in order, counted as out for ``request_key`` as it goes (the core keeps the
        answer): a turn the inbox runs again after a failed send sends only what is left. In a shared
        conversation they go to the person's 1:1 chat, and the conversation gets a pointer (``point``;
        an invoke answers with the pointer itself)."""
        if not replies:
            return
        activity = turn_context.activity
        viewers = _viewer(activity)
        if is_personal(activity):
            for reply in replies:
                await turn_context.send_activity(message_activity(reply, viewers=viewers))
                await self.core.conversation.answer_posted(request_key)
            return
        private = await self._private_chat(turn_context)
        for reply in replies:
            await TeamsNotifier.post(turn_context, private, message_activity(reply, viewers=viewers))
            await self.core.conversation.answer_posted(request_key)
        if point:
            name = activity.from_property.name if activity.from_property else None
            await turn_context.send_activity(text_activity(pointer_text(name)))

    async def _private_chat(self, turn_context: TurnContext) -> ConversationReference:
        """The sender's 1:1 chat with the bot, from a turn in a shared conversation."""
        reference = reference_from(reference_of(turn_context.activity))
        return await open_personal_chat(turn_context, reference)

    async def _replace(self, turn_context: TurnContext, card: dict[str, Any], summary: str) -> bool:
        """Update the clicked card in place; False when Teams won't (too old, deleted)."""
        reply_to = turn_context.activity.reply_to_id
        if not reply_to:
            return False
        try:
            await turn_context.update_activity(card_activity(card, summary=summary, activity_id=reply_to))
            return True
        except Exception as exc:
            log.info("teams: could not update card %s in place (%s); sending a new message", reply_to, exc)
            return False

    # -- messages ------------------------------------------------------------------------------

    async def on_message_activity(self, turn_context: TurnContext) -> None:  # type: ignore[override]
        activity = turn_context.activity
        actor = await self._identify(turn_context)
        if actor is None:
            await turn_context.send_activity(text_activity(UNKNOWN_PERSON_TEXT))
            return
        submission = cards.read_submission(activity.value)
        if submission is not None:  # an Action.Submit on a card posted before Universal Actions
            outcome = await self._click(actor, activity, submission)
            replies = list(outcome.replies or [])
            if outcome.replacement_card is not None:
                if not is_personal(activity):
                    replies = [outcome.replacement or Reply(text="Done.")] + replies
                else:
                    summary = cards.summary(outcome.replacement) if outcome.replacement else "partnerbot"
                    if not await self._replace(turn_context, outcome.replacement_card, summary):
                        await turn_context.send_activity(
                            card_activity(outcome.replacement_card, summary=summary)
                        )
                    await self.core.conversation.answer_posted(outcome.request_key)
            await self._send(turn_context, replies, outcome.request_key)
            return
        text = activity.text or ""
        if not is_personal(activity):
            text = activity.remove_recipient_mention() or ""
        key = request_key(activity)
        replies = await self.core.conversation.handle_text(
            actor, text.strip() + shared_files(activity), request_key=key
        )
        await self._send(turn_context, replies, key)

    async def _click(
        self, actor: Actor, activity: Activity, submission: cards.Submission, *, viewers: Sequence[str] = ()
    ) -> _Outcome:
        """Run a button or form submit through the core and decide what replaces the clicked card."""
        key = request_key(activity, f"{activity.reply_to_id or ''}:{submission.name}")
        conversation = self.core.conversation
        if submission.form_id is not None:
            result = await conversation.submit_form(
                actor, submission.form_id, submission.inputs, data=submission.data, request_key=key
            )
            if result.errors:
                if submission.form is None:
                    lines = "\n".join(f"{name}: {message}" for name, message in result.errors.items())
                    return _Outcome(replies=[Reply(text="Please check the form:\n" + lines)])
                again = Reply(form=submission.form)
                card = cards.reply_card(
                    again,
                    values=submission.inputs,
                    errors=result.errors,
                    notice="Please check the fields marked below.",
                )
                return _Outcome(replacement=again, replacement_card=card)
            replies = list(result.replies)
            if replies and cards.is_card_like(replies[0]) and not replies[0].image_png_b64:
                return _Outcome(
                    replacement=replies[0],
                    replacement_card=cards.reply_card(replies[0], viewers=viewers),
                    replies=replies[1:],
                    request_key=key,
                )
            return _Outcome(replies=replies, request_key=key)
        assert submission.action is not None
        replies = await conversation.handle_action(actor, submission.action, submission.data, request_key=key)
        first = replies[0] if replies else None
        # A click on a list item (a section's button) opens something new under the list; a click on
        # the card's own buttons moves that card on (a review card becomes its outcome, a summary the
        # registered deal). A plain line (an error, "already decided") doesn't hide the card unless it
        # says it replaces it (replace_key). A reply with a chart comes as a new message: an update (or an
        # Action.Execute answer) carries one card and no second attachment.
        if (
            first is not None
            and not submission.in_section
            and not first.image_png_b64
            and (first.replace_key or cards.is_card_like(first))
        ):
            return _Outcome(
                replacement=first,
                replacement_card=cards.reply_card(first, viewers=viewers),
                replies=replies[1:],
                request_key=key,
            )
        return _Outcome(replies=replies, request_key=key)

    # -- Action.Execute ------------------------------------------------------------------------

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse | None:  # type: ignore[override]
        activity = turn_context.activity
        if activity.name != "adaptiveCard/action":
            return await super().on_invoke_activity(turn_context)
        value: dict[str, Any] = activity.value if isinstance(activity.value, dict) else {}
        raw_action = value.get("action")
        action: dict[str, Any] = raw_action if isinstance(raw_action, dict) else {}
        viewed = cards.read_refresh(action.get("data")) if action.get("type") == "Action.Execute" else None
        if viewed is not None:
            return await self._refresh(turn_context, viewed)
        submission = cards.read_submission(action.get("data"))
        if action.get("type") != "Action.Execute" or submission is None:
            return InvokeResponse(
                status=400,
                body={
                    "statusCode": 400,
                    "type": "application/vnd.microsoft.error",
                    "value": {"code": "BadRequest", "message": "Not a partnerbot action."},
                },
            )
        actor = await self._identify(turn_context)
        if actor is None:
            return self._invoke_message(UNKNOWN_PERSON_TEXT)
        outcome = await self._click(actor, activity, submission, viewers=_viewer(activity))
        later = list(outcome.replies or [])
        if is_personal(activity):
            if outcome.replacement_card is not None:
                await self._send(turn_context, later)
                return InvokeResponse(
                    status=200,
                    body={"statusCode": 200, "type": INVOKE_CARD, "value": outcome.replacement_card},
                )
            text = later.pop(0).text if later and cards.is_plain_text(later[0]) else "Done."
            await self._send(turn_context, later)
            return self._invoke_message(text)
        # In a shared conversation the card stays as it is for everyone; the clicker's chat gets the rest.
        if outcome.replacement is not None:
            later.insert(0, outcome.replacement)
        await self._send(turn_context, later, point=False)
        name = activity.from_property.name if activity.from_property else None
        return self._invoke_message(pointer_text(name) if later else "Done.")

    async def _refresh(self, turn_context: TurnContext, ref: str) -> InvokeResponse:
        """A card about ``ref`` refreshing for the person looking at it (Universal Actions'
        user-specific views): the record as the core shows it to them now - an approver gets the
        decision buttons while it waits, anyone else none, and everyone the outcome once decided."""
        actor = await self._identify(turn_context)
        if actor is None:
            return self._invoke_message(UNKNOWN_PERSON_TEXT)
        shown = await self.core.conversation.view(actor, ref)
        first = shown[0] if shown else None
        if first is None or not cards.is_card_like(first):
            return self._invoke_message(first.text if first else "Done.")
        card = cards.reply_card(cards.without_image(first), viewers=_viewer(turn_context.activity))
        return InvokeResponse(status=200, body={"statusCode": 200, "type": INVOKE_CARD, "value": card})

    @staticmethod
    def _invoke_message(text: str) -> InvokeResponse:
        return InvokeResponse(status=200, body={"statusCode": 200, "type": INVOKE_MESSAGE, "value": text})

    # -- installation and membership --------------------------------------------------------------

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:  # type: ignore[override]
        activity = turn_context.activity
        added = activity.members_added or []
        bot_id = activity.recipient.id if activity.recipient else None
        if any(member.id == bot_id for member in added) and await self.core.conversation.first_delivery(
            request_key(activity, "welcome")
        ):
            await self._welcome(turn_context)
        if not is_personal(activity):
            return
        sender = activity.from_property.id if activity.from_property else None
        for member in added:
            if member.id in (bot_id, sender) or not account_id(member):
                continue
            # Someone (re)joined the 1:1 chat with the bot: refresh how to reach them, no greeting.
            await self.core.people.identify(
                platform=PLATFORM,
                workspace=workspace(activity),
                external_id=account_id(member),
                conversation=self._conversation_ref(activity, member),
            )

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:  # type: ignore[override]
        # Teams also sends a conversationUpdate with the bot among membersAdded; that one greets.
        if is_personal(turn_context.activity):
            await self._identify(turn_context)

    async def _welcome(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if not is_personal(activity):
            await turn_context.send_activity(text_activity(GROUP_WELCOME_TEXT))
            return
        actor = await self._identify(turn_context)
        if actor is None:
            await turn_context.send_activity(text_activity(UNKNOWN_PERSON_TEXT))
            return
        await self._send(turn_context, await self.core.conversation.home(actor))
