"""Content in the conversation: "what's new?" for everyone, an item by its ``C-n``, publishing and
statistics for staff - as the understanding layer read the message (:mod:`bot.features.content.intents`,
details in :mod:`bot.features.content.reading`). Every decision (who may publish, who sees which item) is
the content service's (:mod:`bot.features.content.service`); this module acts on readings and builds
replies.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from rapidfuzz import fuzz, process
from rapidfuzz.utils import default_process

from bot.features.content import views as content_views
from bot.features.content.intents import CONTENT_INTENTS
from bot.features.content.model import ContentDraft
from bot.features.content.reading import ALL
from bot.features.content.service import Content
from bot.kernel.dates import parse_close_date
from bot.kernel.errors import InputError, NotAllowed
from bot.kernel.messages import Actor, Button, FormResult, Reply
from bot.kernel.skills import Dialog, DialogStore, stale_button, stale_form
from bot.kernel.understanding.spec import Reading
from bot.kernel.words import NO_RE, YES_RE
from bot.people import EMAIL_RE

PUBLISH_HINT = (
    'Say it like \'publish "Q1 price list" https://partners.example.com/q1 to Gold, EMEA, Northwind Partners '
    "until 2027-03-31, summary: new prices from January', or fill in the form."
)


def _titles_match(phrase: str, titles: list[tuple[str, str]]) -> str | None:
    """The reference of the item whose title best matches ``phrase`` (WRatio >= 85), or None."""
    if not titles or not phrase.strip():
        return None
    choices = {ref: title for ref, title in titles}
    best = process.extractOne(phrase.strip(" \"'"), choices, scorer=fuzz.WRatio, processor=default_process)
    return str(best[2]) if best is not None and best[1] >= 85 else None


class ContentSkill:
    """Implements :class:`bot.kernel.skills.Skill` for content (``prefix = "content"``)."""

    prefix = "content"
    intents = CONTENT_INTENTS

    def __init__(self, *, content: Content, dialogs: DialogStore) -> None:
        self.content = content
        self.dialogs = dialogs

    # -- Skill ------------------------------------------------------------------------------------

    def help_lines(self, actor: Actor) -> list[str]:
        if actor.is_staff:
            return [
                'publish "Q1 price list" https://… to Gold, EMEA, Northwind Partners - send partners an item',
                "content stats / stats for Q1 price list - delivered, opened and open rate, by tier and partner",
            ]
        return ["what's new? - the latest content and announcements for you"]

    async def on_intent(self, actor: Actor, reading: Reading) -> list[Reply] | None:
        """Act on a reading of the understanding layer (:mod:`bot.features.content.intents`)."""
        if reading.intent == "content.new":
            return await self._whats_new(actor)
        if reading.intent == "content.show":
            if reading.ref is None:
                return await self._whats_new(actor)
            return [content_views.item_card(await self.content.get(actor, reading.ref), actor)]
        if reading.intent == "staff.content_stats":
            return await self._stats(actor, reading)
        if reading.intent == "staff.publish":
            return await self._publish(actor, reading)
        return None

    async def continue_dialog(self, actor: Actor, dialog: Dialog, text: str) -> list[Reply] | None:
        if dialog.flow != "content.publish":
            return None
        if YES_RE.match(text):
            return await self._publish_confirm(actor)
        if NO_RE.match(text):
            await self._clear_mine(actor)
            return [Reply(text="Cancelled. Nothing was published.")]
        return None

    async def on_action(self, actor: Actor, action: str, data: dict[str, str]) -> list[Reply]:
        handler = self._actions.get(action)
        return await handler(actor, data) if handler else stale_button()

    @property
    def _actions(self) -> dict[str, Callable[[Actor, dict[str, str]], Awaitable[list[Reply]]]]:
        """Each button this skill puts on a message, by action name."""
        return {
            "content.open": self._open_action,
            "content.ack": self._ack_action,
            "content.show": self._show_action,
            "content.list": lambda actor, data: self._whats_new(actor),
            "content.stats": self._stats_action,
            "content.publish.start": self._publish_start_action,
            "content.publish.confirm": lambda actor, data: self._publish_confirm(actor),
            "content.publish.edit": self._publish_edit_action,
        }

    async def _open_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        return []  # a link button: the platform opened the tracked URL

    async def _ack_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        view = await self.content.acknowledge(actor, data.get("ref", ""))
        return [Reply(text=f"Thanks, noted that you've got '{view.title}'.", ref=view.ref)]

    async def _show_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        return [content_views.item_card(await self.content.get(actor, data.get("ref", "")), actor)]

    async def _stats_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        return [content_views.stats_reply(await self.content.stats(actor, data.get("ref", "")), actor)]

    async def _publish_start_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        self._require_publisher(actor)
        return [Reply(text="Fill in the form, or tell me in a sentence.", form=content_views.publish_form())]

    async def _publish_edit_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        dialog = await self.dialogs.load(actor)
        values = dict(dialog.state.get("draft", {})) if dialog and dialog.flow == "content.publish" else {}
        return [Reply(text="Change what you need.", form=content_views.publish_form(values))]

    async def on_form(
        self, actor: Actor, form_id: str, values: dict[str, str], data: dict[str, str]
    ) -> FormResult:
        if form_id != "content.publish":
            return stale_form()
        self._require_publisher(actor)
        raw: dict[str, Any] = dict(values)
        if values.get("expires"):
            raw["expires"] = self._expiry(values["expires"], actor).isoformat()
        draft = ContentDraft.from_text(raw)
        return FormResult(replies=await self._preview(actor, draft))

    async def home(self, actor: Actor) -> list[Reply]:
        items = await self.content.whats_new(actor, limit=3)
        if not items:
            return []
        section = content_views.whats_new(items, actor)
        section.title = "Recently published" if actor.is_staff else "What's new"
        return [section]

    # -- the work ---------------------------------------------------------------------------------

    async def _whats_new(self, actor: Actor) -> list[Reply]:
        return [content_views.whats_new(await self.content.whats_new(actor), actor)]

    async def _stats(self, actor: Actor, reading: Reading) -> list[Reply]:
        """One item's statistics, by its reference or its title as typed ("stats for launch kit"), or
        those of the recent items; for staff only (the service says so to anyone else)."""
        overview = await self.content.recent_stats(actor)
        if reading.ref:
            return [content_views.stats_reply(await self.content.stats(actor, reading.ref), actor)]
        what = str(reading.get("item") or "")
        ref = _titles_match(what, await self.content.titles(actor)) if what else None
        if ref is not None:
            return [content_views.stats_reply(await self.content.stats(actor, ref), actor)]
        shown = content_views.stats_overview(overview)
        if what:
            return [Reply(text=f"No item's title is like '{what[:60]}'; here are the latest."), shown]
        return [shown]

    def _expiry(self, text: str, actor: Actor) -> date:
        """The last day an item is shown, as typed ("2027-03-31", "end of March")."""
        try:
            return parse_close_date(text, today=self.content.today_for(actor))
        except InputError:
            raise InputError(
                "expires",
                f"I couldn't read '{text.strip()[:40]}' as a future date; try 2027-03-31 or end of March.",
            ) from None

    def _require_publisher(self, actor: Actor) -> None:
        if not self.content.may_publish(actor):
            raise NotAllowed("Only channel managers and admins publish content.")

    async def _publish(self, actor: Actor, reading: Reading) -> list[Reply]:
        """A publication typed in a sentence: its preview to confirm, or the form with what is missing."""
        self._require_publisher(actor)
        given = [k for k in ("title", "url", "audience", "text", "expires") if reading.get(k)]
        if not given and not reading.invalid:
            return [
                Reply(text="Fill in the form, or tell me in a sentence.", form=content_views.publish_form())
            ]
        try:
            draft = await self._draft(actor, reading)
        except InputError as exc:
            return [Reply(text=f"{exc.message}\n{PUBLISH_HINT}", form=content_views.publish_form())]
        return await self._preview(actor, draft)

    async def _draft(self, actor: Actor, reading: Reading) -> ContentDraft:
        if reading.invalid.get("url"):
            raise InputError("url", reading.invalid["url"])
        link = str(reading.get("url") or "")
        if not link:
            raise InputError("url", "I need the link to the content (https://…).")
        title = str(reading.get("title") or "")
        if not title:
            raise InputError("title", "What is the title of the item?")
        audience = [str(a) for a in reading.get("audience") or []]
        if not audience:
            raise InputError("audience", "Who should get it? Add 'to Gold, EMEA, Northwind Partners, bob@…'.")
        expires = self._expiry(str(reading.get("expires")), actor) if reading.get("expires") else None
        tiers, regions, partners, people = await self._audience(actor, audience)
        return ContentDraft(
            title=title,
            url=link,
            summary=str(reading.get("text") or "") or None,
            tiers=tuple(tiers),
            regions=tuple(regions),
            partners=tuple(partners),
            people=tuple(people),
            expires=expires,
        )

    async def _audience(
        self, actor: Actor, names: list[str]
    ) -> tuple[list[str], list[str], list[str], list[str]]:
        """Who an audience's names are: tiers, regions, partners (as stored) and e-mail addresses."""
        known_tiers, known_regions, known_partners = await self.content.audience_choices(actor)
        tiers: list[str] = []
        regions: list[str] = []
        partners: list[str] = []
        people: list[str] = []
        for token in (t.strip(" .") for t in names):
            if not token:
                continue
            if EMAIL_RE.match(token):
                people.append(token)
                continue
            if token == ALL:
                tiers.extend(known_tiers)
                continue
            bare = re.sub(
                r"^(?:the\s+)?(?:tier|region)\s+|\s+(?:tier|region|partners)$", "", token, flags=re.I
            )
            tier = next((t for t in known_tiers if t.lower() == bare.lower()), None)
            region = next((r for r in known_regions if r.lower() == bare.lower()), None)
            if tier and not re.search(r"\bregion\b", token, re.I):
                tiers.append(tier)
                continue
            if region:
                regions.append(region)
                continue
            named = (
                process.extractOne(token, known_partners, scorer=fuzz.WRatio, processor=default_process)
                if known_partners
                else None
            )
            if named is not None and named[1] >= 90:
                partners.append(str(named[0]))
                continue
            raise InputError(
                "audience",
                f"I don't know '{token}'. Tiers: {', '.join(known_tiers) or '—'}; regions: "
                f"{', '.join(known_regions) or '—'}; partners: {', '.join(known_partners) or '—'}; or give e-mail "
                "addresses.",
            )
        return tiers, regions, partners, people

    async def _preview(self, actor: Actor, draft: ContentDraft) -> list[Reply]:
        resolved = await self.content.resolve(actor, draft)
        await self.dialogs.save(actor, "content.publish", {"draft": resolved.draft.as_text()})
        return [content_views.publish_preview(resolved, actor)]

    async def _publish_confirm(self, actor: Actor) -> list[Reply]:
        dialog = await self.dialogs.load(actor)
        if dialog is None or dialog.flow != "content.publish":
            return [
                Reply(
                    text="That item was already published or cancelled; say 'publish content' to start again."
                )
            ]
        result = await self.content.publish(
            actor, ContentDraft.from_text(dict(dialog.state.get("draft", {})))
        )
        await self._clear_mine(actor)
        return [
            Reply(
                title=f"Published {result.ref} · {result.title}",
                text=f"On its way to {result.recipients} {'person' if result.recipients == 1 else 'people'} "
                f"({result.audience}). Say 'stats for {result.title}' to see who opened it.",
                buttons=[Button("Stats", "content.stats", {"ref": result.ref})],
                ref=result.ref,
            )
        ]

    async def _clear_mine(self, actor: Actor) -> None:
        dialog = await self.dialogs.load(actor)
        if dialog is not None and dialog.flow.startswith(self.prefix + "."):
            await self.dialogs.clear(actor)


__all__ = ["ContentSkill"]
