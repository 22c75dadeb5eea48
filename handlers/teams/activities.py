"""Activities in and out: what an incoming activity says (who, which tenant, which chat, which files,
its de-duplication key), the activities a core :class:`Reply` becomes, and conversation references as
partnerbot stores them.

A stored reference is the SDK's ``ConversationReference`` as JSON (camelCase). References written
before the move to the Agents SDK were botbuilder's: the same shape, except that the conversation's
tenant was ``tenantID`` and empty names could appear. :func:`reference_from` reads both, so every
reference stored in ``chat_identities`` or ``delivered_messages`` keeps working without a migration.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from microsoft_agents.activity import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationReference,
)

from bot.kernel.messages import Reply
from handlers.teams import cards

PLATFORM = "teams"
SHARED_TYPES = frozenset({"groupChat", "channel"})


# -- reading an activity -----------------------------------------------------------------------------


def is_personal(activity: Activity) -> bool:
    """A 1:1 chat with the bot (the Emulator sends no conversation type)."""
    kind = activity.conversation.conversation_type if activity.conversation else None
    return kind in (None, "", "personal")


def tenant_id(activity: Activity) -> str | None:
    tenant = activity.conversation.tenant_id if activity.conversation else None
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    if not tenant and isinstance(data.get("tenant"), dict):
        tenant = data["tenant"].get("id")
    return tenant or None


def workspace(activity: Activity) -> str:
    """The workspace people write from: the tenant; the Emulator sends none, so its people are linked
    with ``--teams-tenant emulator`` (the channel id)."""
    return tenant_id(activity) or str(activity.channel_id or "")


def account_id(account: ChannelAccount | None) -> str:
    if account is None:
        return ""
    return account.aad_object_id or account.id or ""


def conversation_id(activity: Activity) -> str:
    return str(activity.conversation.id if activity.conversation else "")


def request_key(activity: Activity, suffix: str = "") -> str:
    """The core's de-duplication key for an activity: Teams redelivers with the same id. Activity ids
    are only unique within a conversation (personal-chat ids are millisecond timestamps), so a short
    digest of the conversation id goes with it."""
    digest = hashlib.sha256(conversation_id(activity).encode()).hexdigest()[:16]
    key = f"teams:{activity.id or ''}:{digest}"
    return f"{key}:{suffix}"[:200] if suffix else key


def shared_files(activity: Activity) -> str:
    """Files sent with a message, as the text references the core accepts (e.g. as MDF proof):
    `` file:<url>`` for each. Teams sends a personal-chat upload as a ``file.download.info``
    attachment (``content.downloadUrl``); other clients put the link in ``contentUrl``."""
    refs = []
    for attachment in activity.attachments or []:
        content = attachment.content if isinstance(attachment.content, dict) else {}
        if attachment.content_type in ("text/html", cards.CARD_CONTENT_TYPE):
            continue  # the message's own formatting and cards are not files
        ref = content.get("downloadUrl") or attachment.content_url
        if ref:
            refs.append(ref)
    return "".join(f" file:{ref}" for ref in refs)


# -- references ----------------------------------------------------------------------------------------


def reference_dict(reference: ConversationReference) -> dict[str, Any]:
    """A reference as stored: JSON, without the activity it was taken from."""
    data = reference.model_dump(mode="json", by_alias=True, exclude_none=True)
    data.pop("activityId", None)
    data.pop("requestId", None)
    return data


def _without_empty(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_empty(v) for k, v in node.items() if v not in (None, "")}
    if isinstance(node, list):
        return [_without_empty(v) for v in node]
    return node


def reference_from(data: Mapping[str, Any]) -> ConversationReference:
    """A stored reference, written by today's code or by botbuilder's (``tenantID``)."""
    clean = _without_empty(dict(data))
    conversation = dict(clean.get("conversation") or {})
    legacy_tenant = conversation.pop("tenantID", None)
    if legacy_tenant and not conversation.get("tenantId"):
        conversation["tenantId"] = legacy_tenant
    clean["conversation"] = conversation
    return ConversationReference.model_validate(clean)


def reference_of(activity: Activity, user: ChannelAccount | None = None) -> dict[str, Any]:
    """How to reach ``user`` (the sender by default) in the activity's conversation, as stored."""
    reference = activity.get_conversation_reference()
    if user is not None:
        reference.user = user
    if reference.conversation is not None and not reference.conversation.tenant_id:
        reference.conversation.tenant_id = tenant_id(activity)
    return reference_dict(reference)


# -- replies as activities ---------------------------------------------------------------------------


def text_activity(text: str) -> Activity:
    return Activity(type=ActivityTypes.message, text=text, text_format="plain")


def message_activity(reply: Reply, *, as_card: bool = False, viewers: Sequence[str] = ()) -> Activity:
    """A message activity for ``reply``: plain text when it is only words, else an Adaptive Card with
    a plain ``summary`` (shown in notifications and the activity feed). A chart goes with the card as a
    second attachment, an inline PNG (``data:`` URI) that Teams shows under it; the card alone stays
    within Teams' size limit and carries the figures as text. ``viewers``: who the card refreshes for
    (a card about one record)."""
    if not as_card and cards.is_plain_text(reply):
        return text_activity(reply.text)
    card = cards.reply_card(cards.without_image(reply), viewers=viewers)
    return card_activity(card, summary=cards.summary(reply), image=cards.image_attachment(reply))


def card_activity(
    card: Mapping[str, Any],
    *,
    summary: str,
    activity_id: str | None = None,
    image: Mapping[str, str] | None = None,
) -> Activity:
    attachments = [Attachment(content_type=cards.CARD_CONTENT_TYPE, content=cards.json_native(card))]
    if image is not None:
        attachments.append(
            Attachment(content_type=image["contentType"], content_url=image["contentUrl"], name=image["name"])
        )
    activity = Activity(type=ActivityTypes.message, summary=summary, attachments=attachments)
    if activity_id:
        activity.id = activity_id
    return activity
