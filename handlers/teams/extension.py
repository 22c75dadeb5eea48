"""The message extension (``composeExtensions`` in ``teams/manifest.json``), as the bot's invokes.

- ``searchRecords`` (a search command, from the compose box or the command box):
  ``composeExtension/query`` - the searcher's own deals, leads, MDF requests and questions that the
  query names (``Conversation.search``: only what they may see is ever looked at), as cards to insert.
  A card inserted into a conversation may be seen by everyone there, so it goes without buttons and
  refreshes for the searcher only (Universal Actions), who sees their own view of the record.
- ``registerDeal`` (an action on a message): ``composeExtension/fetchTask`` opens a dialog with the
  registration form filled in from the message's text (``Conversation.form_from_text``);
  ``composeExtension/submitAction`` submits it like any form - field errors reopen the dialog with the
  reasons; the dialog is the review, so a valid submit registers, and the deal's card goes to the
  person's 1:1 chat while the dialog closes on its one-line summary.

Both answer in the invoke's HTTP response, within Teams' few seconds, never through the inbox.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace
from typing import Any

from microsoft_agents.activity import InvokeResponse
from microsoft_agents.hosting.core import TurnContext

from bot.kernel.messages import Actor, Reply
from bot.people import UNKNOWN_PERSON_TEXT
from handlers.teams import cards
from handlers.teams.activities import request_key
from handlers.teams.listeners import PartnerbotTeams

SEARCH_COMMAND = "searchRecords"
REGISTER_COMMAND = "registerDeal"
REGISTER_INTENT = "deal.register"
MAX_RESULTS = 25  # what Teams shows in one page of a search
THUMBNAIL = "application/vnd.microsoft.card.thumbnail"
_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<\s*(br|/p|/div|/li)\s*/?>", re.IGNORECASE)


def message_text(payload: Any) -> str:
    """The plain text of the message an action was run on (Teams sends its HTML body)."""
    body = payload.get("body") if isinstance(payload, dict) else None
    content = str(body.get("content") or "") if isinstance(body, dict) else ""
    if isinstance(body, dict) and body.get("contentType") == "html":
        content = html.unescape(_TAG.sub("", _BREAK.sub("\n", content)))
    return " ".join(content.split())[:2000]


def _ok(body: dict[str, Any]) -> InvokeResponse:
    return InvokeResponse(status=200, body=body)


def _bad(message: str) -> InvokeResponse:
    return InvokeResponse(status=400, body={"error": message})


def _task_message(text: str) -> InvokeResponse:
    return _ok({"task": {"type": "message", "value": text}})


def _dialog(reply: Reply, **card: Any) -> InvokeResponse:
    content = cards.reply_card(reply, dialog=True, **card)
    title = reply.form.title if reply.form is not None else "partnerbot"
    return _ok(
        {
            "task": {
                "type": "continue",
                "value": {
                    "title": title,
                    "card": {"contentType": cards.CARD_CONTENT_TYPE, "content": cards.json_native(content)},
                },
            }
        }
    )


class PartnerbotTeamsApp(PartnerbotTeams):
    """The bot with its message extension."""

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse | None:  # type: ignore[override]
        name = turn_context.activity.name
        if name not in (
            "composeExtension/query",
            "composeExtension/fetchTask",
            "composeExtension/submitAction",
        ):
            return await super().on_invoke_activity(turn_context)
        value: dict[str, Any] = (
            turn_context.activity.value if isinstance(turn_context.activity.value, dict) else {}
        )
        command = value.get("commandId")
        actor = await self._identify(turn_context)
        if name == "composeExtension/query":
            if command != SEARCH_COMMAND:
                return _bad(f"no search command {command!r}")
            if actor is None:
                return _ok({"composeExtension": {"type": "message", "text": UNKNOWN_PERSON_TEXT}})
            return await self._search(turn_context, actor, value)
        if command != REGISTER_COMMAND:
            return _bad(f"no action command {command!r}")
        if actor is None:
            return _task_message(UNKNOWN_PERSON_TEXT)
        if name == "composeExtension/fetchTask":
            return await self._open_registration(actor, value)
        return await self._submit_registration(turn_context, actor, value)

    # -- search ------------------------------------------------------------------------------------

    async def _search(self, turn_context: TurnContext, actor: Actor, value: dict[str, Any]) -> InvokeResponse:
        raw_parameters = value.get("parameters")
        parameters: list[Any] = raw_parameters if isinstance(raw_parameters, list) else []
        query = next(
            (
                str(p.get("value") or "")
                for p in parameters
                if isinstance(p, dict) and p.get("name") == "query"
            ),
            "",
        )
        raw_options = value.get("queryOptions")
        options: dict[str, Any] = raw_options if isinstance(raw_options, dict) else {}
        skip = _count(options.get("skip"), 0)
        count = min(_count(options.get("count"), MAX_RESULTS) or MAX_RESULTS, MAX_RESULTS)
        found = await self.core.conversation.search(actor, query[:200], limit=skip + count)
        searcher = turn_context.activity.from_property.id if turn_context.activity.from_property else None
        attachments = [self._result(reply, searcher) for reply in found[skip : skip + count]]
        if not attachments and not skip:
            text = (
                f"None of your deals, leads, MDF requests or questions match '{query.strip()}'."
                if query.strip()
                else "You have no deals, leads, MDF requests or questions yet."
            )
            return _ok({"composeExtension": {"type": "message", "text": text}})
        return _ok(
            {"composeExtension": {"type": "result", "attachmentLayout": "list", "attachments": attachments}}
        )

    @staticmethod
    def _result(reply: Reply, searcher: str | None) -> dict[str, Any]:
        # Inserted into a conversation, the card is seen by everyone there: no buttons on it; the
        # searcher's own view (their buttons) comes by refresh, for them alone.
        card = cards.reply_card(replace(reply, buttons=[]), viewers=[searcher] if searcher else [])
        return {
            "contentType": cards.CARD_CONTENT_TYPE,
            "content": cards.json_native(card),
            "preview": {
                "contentType": THUMBNAIL,
                "content": {"title": reply.title or reply.ref or "partnerbot", "text": cards.summary(reply)},
            },
        }

    # -- register a deal from a message -------------------------------------------------------------

    async def _open_registration(self, actor: Actor, value: dict[str, Any]) -> InvokeResponse:
        text = message_text(value.get("messagePayload"))
        replies = await self.core.conversation.form_from_text(actor, REGISTER_INTENT, text)
        form = next((r for r in replies if r.form is not None), None)
        if form is None:
            return _task_message(replies[0].text if replies else "I can't register a deal from this message.")
        return _dialog(form)

    async def _submit_registration(
        self, turn_context: TurnContext, actor: Actor, value: dict[str, Any]
    ) -> InvokeResponse:
        submission = cards.read_submission(value.get("data"))
        if submission is None or submission.form_id is None:
            return _task_message("That form isn't one of mine any more. Open it again from the message.")
        key = request_key(turn_context.activity, "register")
        result = await self.core.conversation.submit_form(
            actor, submission.form_id, submission.inputs, data=submission.data, request_key=key
        )
        if result.errors and submission.form is not None:
            return _dialog(
                Reply(form=submission.form),
                values=submission.inputs,
                errors=result.errors,
                notice="Please check the fields marked below.",
            )
        replies = list(result.replies)
        if result.errors:
            replies.insert(0, Reply(text="\n".join(f"{k}: {v}" for k, v in result.errors.items())))
        await self._send(turn_context, replies, key, point=False)
        # The dialog closes on one line (only the submitter sees it); the card is in their 1:1 chat.
        return _task_message(cards.summary(replies[0]) if replies else "Done.")


def _count(raw: Any, default: int) -> int:
    try:
        return max(0, int(raw))
    except (TypeError, ValueError):
        return default
