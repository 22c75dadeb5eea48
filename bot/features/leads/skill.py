"""Leads in the conversation: plain words, buttons and forms for partners and staff.

The skill claims a typed message only when it is clearly about leads - it names a lead (``L-12``) or
says "lead"/"leads" in a way recognised below - and returns ``None`` for everything else, so "D-12 ..."
still reaches the deal dialog and a question that merely mentions leads reaches whoever answers
questions. Every decision (who may do what, which state a lead may move to) is the lead service's
(:mod:`bot.features.leads.service`); this module reads words and builds replies.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from typing import Any

from bot.features.deals import views
from bot.features.deals.model import DealView
from bot.features.deals.service import Deals
from bot.features.leads import views as lead_views
from bot.features.leads.intents import LEAD_INTENTS
from bot.features.leads.model import LIFECYCLE, LeadView
from bot.features.leads.service import FIELDS, Leads, lead_ref, parse_lead_ref
from bot.intents import match_product
from bot.kernel.amounts import Money, find_money, format_money, parse_money
from bot.kernel.dates import find_close_date, format_date, format_when, parse_close_date, validate_close_date
from bot.kernel.errors import Conflict, InputError
from bot.kernel.messages import Actor, Button, Fact, FormResult, Reply
from bot.kernel.names import match_name
from bot.kernel.reasons import ReasonStep
from bot.kernel.refs import DEAL, LEAD
from bot.kernel.skills import Dialog, DialogStore, stale_button, stale_form
from bot.kernel.understanding.entities import Named
from bot.kernel.understanding.spec import Reading
from bot.kernel.words import NO_RE, YES_RE

LREF_RE = LEAD.mention()
DREF_RE = DEAL.mention(loose=True)
LEAD_WORD_RE = re.compile(r"\bleads?\b", re.IGNORECASE)

CREATE_RE = re.compile(r"^\s*(?:new|add|create|log|enter)\s+(?:a\s+)?lead\b\s*[:,-]?\s*(.*)$", re.I | re.S)
ASSIGN_RE = re.compile(
    r"^\s*(?P<verb>re)?assign\s+(?:lead\s+)?L-\d{1,9}\b\s*(?:to\s+(?P<partner>.+?))?\s*[.!]?\s*$", re.I
)
ACCEPT_RE = re.compile(
    r"^\s*(?:yes,?\s+)?(?:accept|take|claim|we(?:'ll| will) take|i(?:'ll| will) take)\b|\bL-\d{1,9}\s+(?:is\s+)?accepted\b",
    re.I,
)
DECLINE_RE = re.compile(
    r"^\s*(?:(?:i|we)\s+)?(?:declin\w*|reject|pass(?:ing)? on|turn(?:ing)? down)\b"
    r"|^\s*(?:i|we)\s+can(?:'t|not)\s+take\b"
    r"|\bL-\d{1,9}\s*[:,-]?\s*(?:is\s+)?(?:declined?|not for us)\b",
    re.I,
)
HISTORY_RE = re.compile(r"\bhistory\b", re.I)
CONVERT_RE = re.compile(
    r"\b(?:convert\w*|into a deal|register (?:a |the )?deal|became a deal|is now a deal)\b", re.I
)
DISQUALIFY_RE = re.compile(
    r"\b(?:disqualif\w*|unqualified|went nowhere|going nowhere|goes nowhere|dead end|dead|not interested|"
    r"no interest|no budget|lost|junk|spam|not a fit|no fit|dropped)\b",
    re.I,
)
BARE_DISQUALIFY = ("disqualified", "disqualify", "disqualifying", "unqualified", "dead")
QUALIFIED_RE = re.compile(r"\b(?:qualified|qualify)\b", re.I)
CONTACTED_RE = re.compile(
    r"\b(?:contacted|reached out|reached|called|spoke|spoken|e-?mailed|talked|met|in touch|got hold of)\b",
    re.I,
)
REASON_RE = re.compile(r"\b(?:because|reason|as|since|due to)\b\s*[:=-]?\s*(.+)$|[:\-—]\s*(.+)$", re.I | re.S)

LIST_RE = re.compile(
    r"^\s*(?:(?:please\s+)?(?:show|list|see|view|get|give)\s+(?:me\s+)?)?"
    r"(?:(?:my|our|all|open|the|current|active|new)\s+)*leads?\s*[?.!]*\s*$|^\s*(?:what|which)\s+leads\b",
    re.I,
)
ALL_RE = re.compile(r"\ball\b", re.I)
UNACCEPTED_RE = re.compile(
    r"\b(?:unaccepted|not (?:yet )?accepted|pending|offered)\s+leads?\b|\bleads?\s+(?:waiting for acceptance|"
    r"not (?:yet )?accepted|pending|unaccepted)\b",
    re.I,
)
EXPIRED_RE = re.compile(r"\bexpired\s+leads?\b|\bleads?\s+(?:that\s+)?expired\b", re.I)
REVIEW_RE = re.compile(
    r"\blead\s+(?:review\s+)?queue\b|\bleads?\s+(?:to|for|in|waiting for)\s+review\b|\bunassigned\s+leads?\b|"
    r"\breview\s+queue\b.*\bleads?\b",
    re.I,
)
FOR_PARTNER_RE = re.compile(
    r"^\s*(?:show\s+)?(?:(?:all|open|the)\s+)*leads?\s+(?:for|of|with|at)\s+(?P<partner>.+?)\s*[?.!]*\s*$",
    re.I,
)
COMPANY_RE = re.compile(r"^\s*(?P<company>.+?)\s+lead\b(?P<rest>.*)$", re.I | re.S)
COMPANY_PREFIX_RE = re.compile(
    r"^(?:what about|status of|what's the status of|what is the status of|how is|how's|any news on|"
    r"update on|where are we with|show|open|so|ok|okay)\s+",
    re.I,
)
QUESTION_START_RE = re.compile(
    r"^(?:what|how|why|when|who|where|which|is|are|can|could|do|does|should|would|will|a|an|new|my|our|"
    r"this|that|every|each|any|one|next|first|another)\b",
    re.I,
)
EMAIL_IN_TEXT_RE = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]*")
PHONE_IN_TEXT_RE = re.compile(r"^\+?[0-9][0-9 ()./-]{4,}$")

CONVERT_QUESTIONS = {
    "product": "Which product is the deal for?",
    "amount": "What is the deal worth? (e.g. 120k USD, $1.2M, EUR 50,000)",
    "close_date": "When do you expect it to close? (e.g. 2027-03-31, end of March, Q2, in 6 weeks)",
}
DECLINE_PROMPT = (
    "Why are you declining {ref}? (e.g. out of territory, no capacity) Your channel manager sees it."
)
DISQUALIFY_PROMPT = "Why is {ref} disqualified? (e.g. no budget, not interested, went with a competitor)"


ASKS = {
    "decline": ReasonStep("lead.decline", "Decline {ref}", DECLINE_PROMPT),
    "disqualify": ReasonStep("lead.disqualify", "Disqualify {ref}", DISQUALIFY_PROMPT),
}


def find_lead_ref(text: str) -> str | None:
    match = LREF_RE.search(text)
    return lead_ref(int(match.group(1))) if match else None


def _tail(text: str, match: re.Match[str] | None) -> str | None:
    """What follows ``match``, without connecting punctuation ("qualified, meeting Tuesday" -> ...)."""
    if match is None:
        return None
    rest = LREF_RE.sub(" ", text[match.end() :])
    rest = re.sub(r"^[\s,;:.\-—!]+(?:(?:and|but|so|now)\b[\s,]*)?", "", rest).strip(" .!")
    return rest or None


def _reason(text: str, match: re.Match[str] | None) -> str | None:
    if match is None:
        return None
    tail = LREF_RE.sub(" ", text[match.end() :])
    found = REASON_RE.search(tail)
    if found:
        return (found.group(1) or found.group(2) or "").strip(" .") or None
    return _tail(text, match)


class LeadSkill:
    """Implements :class:`bot.kernel.skills.Skill` for leads (``prefix = "lead"``)."""

    prefix = "lead"
    intents = LEAD_INTENTS

    def __init__(
        self, *, leads: Leads, deals: Deals, dialogs: DialogStore, default_currency: str = "USD"
    ) -> None:
        self.leads = leads
        self.deals = deals
        self.dialogs = dialogs
        self.default_currency = default_currency

    # -- Skill ------------------------------------------------------------------------------------

    def help_lines(self, actor: Actor) -> list[str]:
        if actor.is_staff:
            return [
                "leads / unaccepted leads / expired leads / lead queue - leads by partner and status",
                "leads for Northwind - one partner's leads; L-12 - one lead, history L-12 - its changes",
                "new lead Initech, contact jane@initech.example, DE, Cloud Suite - add a lead",
                "assign L-12 to Contoso / reassign L-12 - hand a lead to a partner",
            ]
        return [
            "show my leads - leads offered to you and what each waits for",
            "accept L-12 / decline L-12 because out of territory",
            "L-12 contacted / L-12 is qualified, meeting next Tuesday",
            "the Initech lead went nowhere - disqualify a lead",
            "convert L-12 - register a deal from a lead",
        ]

    async def names(self, actor: Actor) -> list[Named]:
        return [Named("L", ref, company) for company, ref in await self.leads.companies_visible(actor)]

    async def on_intent(self, actor: Actor, reading: Reading) -> list[Reply] | None:
        """Act on a reading of the understanding layer (:mod:`bot.features.leads.intents`)."""
        if reading.intent == "lead.list":
            return await self._list(actor, scope="all" if reading.get("scope") == "all" else "open")
        if reading.intent == "staff.leads":
            if reading.get("partner"):
                return await self._list(actor, scope="all", partner=reading.get("partner"))
            return await self._without_ref(actor, reading.text) or await self._list(actor, scope="review")
        ref = reading.ref
        if ref is None:
            return await self._which_lead(actor, reading)
        if reading.intent == "lead.accept":
            replies: list[Reply] = []
            for one in reading.get("refs") or [ref]:
                replies += await self._accept(actor, one)
            return replies
        if reading.intent == "lead.decline":
            if reading.get("reason"):
                return await self._apply_reason(actor, "decline", ref, reading.get("reason"))
            return await self._ask_reason(actor, "decline", ref)
        if reading.intent == "lead.convert":
            return await self._convert_start(actor, ref, reading.text)
        if reading.intent == "staff.assign_lead":
            if reading.get("partner"):
                return await self._assign(actor, ref, reading.get("partner"))
            return await self.on_action(actor, "lead.assign", {"ref": ref})
        if reading.intent == "lead.update":
            return await self._with_ref(actor, reading.text, ref)
        return [lead_views.lead_card(await self.leads.get(actor, ref), actor)]

    async def _which_lead(self, actor: Actor, reading: Reading) -> list[Reply]:
        if reading.candidates:
            return [
                Reply(
                    text="Which lead do you mean?",
                    buttons=[
                        Button(f"{ref} {name}", "lead.show", {"ref": ref}) for ref, name in reading.candidates
                    ],
                )
            ]
        scope = "review" if actor.is_staff else "open"
        listed = await self._list(actor, scope=scope)
        return [Reply(text="Which lead? Say it with its reference, e.g. 'L-12', or its company."), *listed]

    async def on_text(self, actor: Actor, text: str) -> list[Reply] | None:
        ref = find_lead_ref(text)
        if ref is None:
            if DREF_RE.search(text) or not LEAD_WORD_RE.search(text):
                return None
            return await self._without_ref(actor, text)
        return await self._with_ref(actor, text, ref)

    async def continue_dialog(self, actor: Actor, dialog: Dialog, text: str) -> list[Reply] | None:
        state = dialog.state
        other_ref = find_lead_ref(text)
        starts_something = bool(DREF_RE.search(text)) or (
            other_ref is not None and other_ref != state.get("ref")
        )
        if dialog.flow in ("lead.decline", "lead.disqualify"):
            if starts_something or LIST_RE.match(text):
                return None
            await self.dialogs.clear(actor)
            kind = "decline" if dialog.flow == "lead.decline" else "disqualify"
            return await self._apply_reason(actor, kind, state["ref"], text)
        if dialog.flow == "lead.convert":
            if starts_something or LIST_RE.match(text):
                return None
            return await self._convert_answer(actor, state, text)
        if dialog.flow == "lead.create":
            if YES_RE.match(text):
                return await self._create_confirm(actor)
            if NO_RE.match(text):
                await self.dialogs.clear(actor)
                return [Reply(text="Cancelled. Nothing was saved.")]
            return None
        return None

    async def on_action(self, actor: Actor, action: str, data: dict[str, str]) -> list[Reply]:
        handler = self._actions.get(action)
        return await handler(actor, data) if handler else stale_button()

    @property
    def _actions(self) -> dict[str, Callable[[Actor, dict[str, str]], Awaitable[list[Reply]]]]:
        """Each button this skill puts on a message, by action name."""
        return {
            "lead.list": self._list_action,
            "lead.show": self._show_action,
            "lead.history": self._history_action,
            "lead.accept": lambda actor, data: self._accept(actor, data.get("ref", "")),
            "lead.decline": lambda actor, data: self._ask_reason(actor, "decline", data.get("ref", "")),
            "lead.status": self._status_action,
            "lead.convert": lambda actor, data: self._convert_start(actor, data.get("ref", ""), ""),
            "lead.convert.confirm": self._convert_confirm_action,
            "lead.convert.edit": self._convert_edit_action,
            "lead.assign": self._assign_action,
            "lead.create.start": self._create_start_action,
            "lead.create.confirm": lambda actor, data: self._create_confirm(actor),
            "lead.create.edit": self._create_edit_action,
        }

    async def _list_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        return await self._list(actor, scope=data.get("scope", "open"), partner=data.get("partner") or None)

    async def _show_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        return [lead_views.lead_card(await self.leads.get(actor, data.get("ref", "")), actor)]

    async def _history_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        return [lead_views.history_reply(await self.leads.get(actor, data.get("ref", ""), history=True))]

    async def _status_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        ref, status = data.get("ref", ""), data.get("status", "")
        if status == "disqualified":
            return await self._ask_reason(actor, "disqualify", ref)
        return await self._set_status(actor, ref, status)

    async def _convert_confirm_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        dialog = await self.dialogs.load(actor)
        if dialog is None or dialog.flow != "lead.convert" or dialog.state.get("asking") != "confirm":
            return [
                Reply(
                    text="That conversion was already sent or cancelled; say 'convert L-12' to start again."
                )
            ]
        return await self._convert_finish(actor, dialog.state)

    async def _convert_edit_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        dialog = await self.dialogs.load(actor)
        slots = dialog.state.get("slots", {}) if dialog and dialog.flow == "lead.convert" else {}
        products = await self.leads.products()
        form = lead_views.convert_form(data.get("ref", ""), products, _slots_as_text(slots))
        return [Reply(text="Change what you need and register.", form=form)]

    async def _assign_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        view, partners = await self.leads.assign_choices(actor, data.get("ref", ""))
        return [
            Reply(
                text=f"Which partner should get {view.ref}? Or type 'assign {view.ref} to PARTNER'.",
                form=lead_views.assign_form(view.ref, partners),
                ref=view.ref,
            )
        ]

    async def _create_start_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        if not actor.is_staff:
            return [Reply(text=_PARTNER_CREATE)]
        form = lead_views.create_form(await self.leads.products())
        return [Reply(text="Fill in the form, or tell me in a sentence.", form=form)]

    async def _create_edit_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        dialog = await self.dialogs.load(actor)
        draft = dict(dialog.state.get("lead", {})) if dialog and dialog.flow == "lead.create" else {}
        return [
            Reply(
                text="Change what you need.", form=lead_views.create_form(await self.leads.products(), draft)
            )
        ]

    async def on_form(
        self, actor: Actor, form_id: str, values: dict[str, str], data: dict[str, str]
    ) -> FormResult:
        ref = data.get("ref", "")
        if form_id in ("lead.decline", "lead.disqualify"):
            kind = "decline" if form_id == "lead.decline" else "disqualify"
            reason = values.get("reason", "")
            if not reason:
                return ASKS[kind].missing(ref, noun="lead")
            replies = await self._apply_reason(actor, kind, ref, reason)
            await self._clear_if(actor, ASKS[kind].form_id)
            return FormResult(replies=replies)
        if form_id == "lead.assign":
            partner = values.get("partner", "")
            if not partner:
                return FormResult(errors={"partner": "Pick the partner that should get the lead."})
            return FormResult(replies=await self._assign(actor, ref, partner))
        if form_id == "lead.create":
            if not actor.is_staff:
                return FormResult(replies=[Reply(text=_PARTNER_CREATE)])
            raw = {k: v for k, v in values.items() if k in FIELDS and v}
            await self.leads.validate(raw)  # an InputError becomes a field error
            return FormResult(replies=await self._create_summary(actor, raw))
        if form_id == "lead.convert":
            return await self._convert_form(actor, ref, values)
        return stale_form()

    async def home(self, actor: Actor) -> list[Reply]:
        if actor.is_staff:
            review = await self.leads.list_leads(actor, scope="review")
            offered = await self.leads.list_leads(actor, scope="offered")
            sections = []
            if review:
                sections.append(
                    lead_views.lead_list(review, actor, title="Leads waiting for review", empty="")
                )
            if offered:
                sections.append(
                    Reply(
                        title="Leads waiting for acceptance",
                        text=f"{len(offered)} lead{'s' if len(offered) != 1 else ''} offered, not yet accepted.",
                        buttons=[Button("Unaccepted leads", "lead.list", {"scope": "offered"})],
                    )
                )
            return sections
        mine = await self.leads.list_leads(actor, scope="open")
        return [lead_views.lead_list(mine, actor, title="Your open leads", empty="")] if mine else []

    # -- text -------------------------------------------------------------------------------------

    async def _without_ref(self, actor: Actor, text: str) -> list[Reply] | None:
        create = CREATE_RE.match(text)
        if create:
            if not actor.is_staff:
                return [Reply(text=_PARTNER_CREATE)]
            return await self._create_from_text(actor, create.group(1))
        if actor.is_staff:
            if UNACCEPTED_RE.search(text):
                return await self._list(actor, scope="offered")
            if EXPIRED_RE.search(text):
                return await self._list(actor, scope="expired")
            if REVIEW_RE.search(text):
                return await self._list(actor, scope="review")
            for_partner = FOR_PARTNER_RE.match(text)
            if for_partner:
                return await self._list(actor, scope="all", partner=for_partner.group("partner"))
        elif UNACCEPTED_RE.search(text) or EXPIRED_RE.search(text) or FOR_PARTNER_RE.match(text):
            return await self._list(actor, scope="open")
        if LIST_RE.match(text):
            return await self._list(actor, scope="all" if ALL_RE.search(text) else "open")
        return await self._by_company(actor, text)

    async def _by_company(self, actor: Actor, text: str) -> list[Reply] | None:
        """'the Initech lead went nowhere': find the company among the actor's own leads, then act."""
        match = COMPANY_RE.match(text.strip())
        if match is None:
            return None
        phrase = match.group("company").strip(" ,.?!")
        while True:
            shorter = COMPANY_PREFIX_RE.sub("", phrase, count=1)
            if shorter == phrase:
                break
            phrase = shorter
        phrase = re.sub(r"^(?:the|our|my)\s+", "", phrase, flags=re.I).strip()
        if (
            not phrase
            or "?" in phrase
            or len(phrase) > 80
            or QUESTION_START_RE.match(phrase)
            or "deal" in phrase.lower()
        ):
            return None
        rest = match.group("rest")
        leads = await self.leads.companies_visible(actor)
        missing = [Reply(text=f"I can't find a lead for '{phrase}' among your leads.")]
        if not leads:
            return missing
        refs: dict[str, list[str]] = {}
        for company, ref in leads:
            refs.setdefault(company, []).append(ref)
        named = match_name(phrase, refs)
        if named.best is not None:
            found = refs[named.best]
            if len(found) == 1:
                return await self._with_ref(actor, f"{found[0]} {rest}", found[0])
            listed = [await self.leads.get(actor, r) for r in found]
            return [
                lead_views.lead_list(listed, actor, title=f"Leads for {named.best}", empty=""),
                Reply(text=f"Which one? Say it with the reference, e.g. '{found[0]}{rest}'."),
            ]
        if named.close:
            return [
                Reply(
                    text=f"I can't find '{phrase}'. Did you mean {named.close[0]}?",
                    buttons=[
                        Button(f"{n} ({refs[n][0]})", "lead.show", {"ref": refs[n][0]}) for n in named.close
                    ],
                )
            ]
        return missing

    async def _with_ref(self, actor: Actor, text: str, ref: str) -> list[Reply]:
        stripped = text.strip()
        assign = ASSIGN_RE.match(stripped)
        if assign:
            partner = assign.group("partner")
            if not partner and not assign.group("verb"):
                return await self.on_action(actor, "lead.assign", {"ref": ref})
            return await self._assign(actor, ref, partner)
        if ACCEPT_RE.search(stripped):
            return await self._accept(actor, ref)
        decline = DECLINE_RE.search(stripped)
        if decline:
            reason = _reason(stripped, decline)
            if reason:
                return await self._apply_reason(actor, "decline", ref, reason)
            return await self._ask_reason(actor, "decline", ref)
        if HISTORY_RE.search(stripped):
            return [lead_views.history_reply(await self.leads.get(actor, ref, history=True))]
        if CONVERT_RE.search(stripped):
            return await self._convert_start(actor, ref, stripped)
        disqualify = DISQUALIFY_RE.search(stripped)
        if disqualify:
            reason = _reason(stripped, disqualify)
            if not reason and disqualify.group(0).lower() not in BARE_DISQUALIFY:
                reason = disqualify.group(0)
            if reason:
                return await self._apply_reason(actor, "disqualify", ref, reason)
            return await self._ask_reason(actor, "disqualify", ref)
        qualified = QUALIFIED_RE.search(stripped)
        if qualified:
            return await self._set_status(actor, ref, "qualified", note=_tail(stripped, qualified))
        contacted = CONTACTED_RE.search(stripped)
        if contacted:
            return await self._set_status(actor, ref, "contacted", note=_tail(stripped, contacted))
        return [lead_views.lead_card(await self.leads.get(actor, ref), actor)]

    # -- lists, decisions, status -----------------------------------------------------------------

    async def _list(self, actor: Actor, *, scope: str, partner: str | None = None) -> list[Reply]:
        found = await self.leads.list_leads(actor, scope=scope, partner=partner)
        if not actor.is_staff:
            title = "All your leads" if scope == "all" else "Your open leads"
            return [lead_views.lead_list(found, actor, title=title, empty="No open leads for you right now.")]
        titles = {
            "open": ("Open leads by partner", "No open leads."),
            "offered": ("Leads waiting for acceptance", "No lead waits for acceptance."),
            "expired": (
                "Leads with an expired offer (last 90 days)",
                "No lead offer expired in the last 90 days.",
            ),
            "review": ("Leads waiting for staff review", "No lead waits for review."),
            "all": ("All leads", "No leads yet."),
        }
        title, empty = titles.get(scope, titles["open"])
        if partner:
            title = f"Leads for {found[0].partner if found and found[0].partner else partner}"
            empty = f"No leads for {partner}."
        return [lead_views.lead_list(found, actor, title=title, empty=empty)]

    async def _accept(self, actor: Actor, ref: str) -> list[Reply]:
        view = await self.leads.accept(actor, ref)
        return [
            lead_views.lead_card(
                view,
                actor,
                headline=f"You accepted {view.ref}. Reach out to the contact and keep me posted, e.g. "
                f"'{view.ref} contacted' or '{view.ref} is qualified, meeting next Tuesday'.",
            )
        ]

    async def _ask_reason(self, actor: Actor, kind: str, ref: str) -> list[Reply]:
        view = await self.leads.get(actor, ref)  # "not found" answers before anything is asked
        if kind == "decline" and view.status not in ("offered", "accepted") and not actor.is_staff:
            raise Conflict(LIFECYCLE.cannot(view.ref, view.status, "declined"))
        ask = ASKS[kind]
        return await ask.ask(
            self.dialogs, actor, ref=view.ref, flow=ask.form_id, state={"ref": view.ref}, reply_ref=True
        )

    async def _apply_reason(self, actor: Actor, kind: str, ref: str, reason: str) -> list[Reply]:
        if kind == "decline":
            view = await self.leads.decline(actor, ref, reason=reason)
            return [
                Reply(
                    title=f"{view.ref} · {view.company}",
                    text=f"You declined {view.ref}: {reason.strip()}. Thanks for the quick answer; "
                    "it's no longer on your list.",
                    ref=view.ref,
                )
            ]
        view = await self.leads.set_status(actor, ref, "disqualified", reason=reason)
        return [
            lead_views.lead_card(
                view, actor, headline=f"Saved. {view.ref} is disqualified: {view.disqualify_reason}."
            )
        ]

    async def _set_status(
        self, actor: Actor, ref: str, status: str, *, note: str | None = None
    ) -> list[Reply]:
        view = await self.leads.set_status(actor, ref, status, note=note)
        headline = f"Saved. {view.ref} is {view.status}" + (f" - {view.status_note}" if note else "") + "."
        return [lead_views.lead_card(view, actor, headline=headline)]

    async def _assign(self, actor: Actor, ref: str, partner: str | None) -> list[Reply]:
        view = await self.leads.assign(actor, ref, partner=partner)
        if view.status == "unassigned":
            headline = f"No other partner fits {view.ref}; it waits for review: {view.review_reason}"
        else:
            headline = f"{view.ref} is offered to {view.partner}. They have until {format_when(view.accept_by, actor.tz)} to accept."
        return [lead_views.lead_card(view, actor, headline=headline)]

    async def _clear_if(self, actor: Actor, flow: str) -> None:
        dialog = await self.dialogs.load(actor)
        if dialog is not None and dialog.flow == flow:
            await self.dialogs.clear(actor)

    # -- staff: new lead --------------------------------------------------------------------------

    async def _create_from_text(self, actor: Actor, text: str) -> list[Reply]:
        products = await self.leads.products()
        raw = parse_new_lead(text, products)
        try:
            await self.leads.validate(raw)
        except InputError as exc:
            return [
                Reply(
                    text=f"{exc.message}\nSay it again, e.g. 'new lead Initech, contact jane@initech.example, DE, "
                    "Cloud Suite', or fill in the form.",
                    form=lead_views.create_form(products, raw),
                )
            ]
        return await self._create_summary(actor, raw)

    async def _create_summary(self, actor: Actor, raw: dict[str, str]) -> list[Reply]:
        data = await self.leads.validate(raw)
        await self.dialogs.save(actor, "lead.create", {"lead": raw})
        facts = [Fact("Company", data.company), Fact("Country", data.country)]
        contact = ", ".join(x for x in (data.contact_name, data.contact_email, data.contact_phone) if x)
        facts.append(Fact("Contact", contact))
        for label, value in (
            ("Product interest", data.product),
            ("Source", data.source),
            ("Notes", data.notes),
        ):
            if value:
                facts.append(Fact(label, value))
        return [
            Reply(
                title="Add this lead?",
                text="Check the details, then confirm; I'll offer it to the best-fitting partner at once.",
                facts=facts,
                buttons=[
                    Button("Confirm", "lead.create.confirm", style="primary"),
                    Button("Edit", "lead.create.edit"),
                    Button("Cancel", "dialog.cancel", style="danger"),
                ],
            )
        ]

    async def _create_confirm(self, actor: Actor) -> list[Reply]:
        dialog = await self.dialogs.load(actor)
        if dialog is None or dialog.flow != "lead.create":
            return [Reply(text="That lead was already added or cancelled; say 'new lead …' to add another.")]
        data = await self.leads.validate(dialog.state.get("lead", {}))
        view = await self.leads.create(actor, data)
        await self.dialogs.clear(actor)
        if view.status == "offered":
            headline = (
                f"{view.ref} is added and offered to {view.partner} "
                f"(accept by {format_when(view.accept_by, actor.tz)})."
            )
        else:
            headline = f"{view.ref} is added and waits for review: {view.review_reason}"
        return [lead_views.lead_card(view, actor, headline=headline)]

    # -- conversion into a deal registration ------------------------------------------------------

    async def _convert_start(self, actor: Actor, ref: str, text: str) -> list[Reply]:
        start = await self.leads.conversion_start(actor, ref)
        slots: dict[str, Any] = {}
        if start.product:
            slots["product"] = start.product
        today = self.deals.today_for(actor)
        tail = LREF_RE.sub(" ", text)
        money = find_money(tail, default_currency=self.default_currency)
        problems: list[str] = []
        if money:
            slots["amount"] = {"amount": str(money[0].amount), "currency": money[0].currency}
            tail = tail[: money[1][0]] + " " + tail[money[1][1] :]
        found_date = find_close_date(tail, today=today)
        if found_date:
            try:
                slots["close_date"] = validate_close_date(found_date[0], today=today).isoformat()
            except InputError as exc:
                problems.append(exc.message)
        intro = f"Let's register a deal from {start.view.ref} · {start.view.company}."
        return await self._convert_collect(actor, start.view.ref, slots, prefix="\n".join([intro, *problems]))

    async def _convert_collect(
        self, actor: Actor, ref: str, slots: dict[str, Any], *, prefix: str = ""
    ) -> list[Reply]:
        lead_in = f"{prefix}\n" if prefix else ""
        products = await self.leads.products()
        for name in ("product", "amount", "close_date"):
            if name not in slots:
                await self.dialogs.save(actor, "lead.convert", {"ref": ref, "slots": slots, "asking": name})
                return [
                    Reply(
                        text=lead_in + CONVERT_QUESTIONS[name],
                        form=lead_views.convert_form(ref, products, _slots_as_text(slots)),
                        ref=ref,
                    )
                ]
        await self.dialogs.save(actor, "lead.convert", {"ref": ref, "slots": slots, "asking": "confirm"})
        view = await self.leads.get(actor, ref)
        amount = Money(Decimal(slots["amount"]["amount"]), slots["amount"]["currency"])
        facts = [
            Fact("Customer", view.company),
            Fact("Product", slots["product"]),
            Fact("Amount", format_money(amount)),
            Fact("Close date", format_date(date.fromisoformat(slots["close_date"]))),
            Fact("Country", view.country),
        ]
        summary = lead_views.draft_summary(ref, facts)
        if prefix:
            summary.text = prefix + "\n" + summary.text
        return [summary]

    async def _convert_answer(self, actor: Actor, state: dict[str, Any], text: str) -> list[Reply] | None:
        ref = state["ref"]
        slots = dict(state.get("slots", {}))
        asking = state.get("asking")
        if asking == "confirm":
            if YES_RE.match(text):
                return await self._convert_finish(actor, state)
            if NO_RE.match(text):
                await self.dialogs.clear(actor)
                return [Reply(text="Cancelled. Nothing was saved.")]
        today = self.deals.today_for(actor)
        products = await self.leads.products()
        try:
            if asking == "product":
                known = match_product(text, products) if products else None
                if products and known is None:
                    raise InputError(
                        "product", f"I don't know the product '{text}'. Products: {', '.join(products)}."
                    )
                slots["product"] = known[0] if known else text.strip()
            elif asking == "amount":
                money = parse_money(text, default_currency=self.default_currency)
                slots["amount"] = {"amount": str(money.amount), "currency": money.currency}
            elif asking == "close_date":
                slots["close_date"] = validate_close_date(
                    parse_close_date(text, today=today), today=today
                ).isoformat()
            else:
                money_found = find_money(text, default_currency=self.default_currency)
                date_found = find_close_date(text, today=today)
                if not money_found and not date_found:
                    return [
                        Reply(
                            text="Reply 'yes' to register, tell me a new amount or close date, or 'cancel'."
                        )
                    ]
                if money_found:
                    slots["amount"] = {
                        "amount": str(money_found[0].amount),
                        "currency": money_found[0].currency,
                    }
                if date_found:
                    slots["close_date"] = validate_close_date(date_found[0], today=today).isoformat()
        except InputError as exc:
            return [
                Reply(
                    text=exc.message
                    + "\n"
                    + CONVERT_QUESTIONS.get(exc.field, CONVERT_QUESTIONS.get(asking or "", ""))
                )
            ]
        return await self._convert_collect(actor, ref, slots)

    async def _convert_finish(self, actor: Actor, state: dict[str, Any]) -> list[Reply]:
        ref = state["ref"]
        slots = dict(state.get("slots", {}))
        try:
            view, deal = await self.leads.convert(
                actor,
                ref,
                amount=Money(Decimal(slots["amount"]["amount"]), slots["amount"]["currency"]),
                close_date=date.fromisoformat(slots["close_date"]),
                product=slots.get("product"),
                notes=slots.get("notes"),
            )
        except InputError as exc:
            if exc.field in CONVERT_QUESTIONS:
                slots.pop(exc.field, None)
                return await self._convert_collect(actor, ref, slots, prefix=exc.message)
            raise
        await self.dialogs.clear(actor)
        return _converted_replies(view, deal, actor)

    async def _convert_form(self, actor: Actor, ref: str, values: dict[str, str]) -> FormResult:
        today = self.deals.today_for(actor)
        products = await self.leads.products()
        errors: dict[str, str] = {}
        product = values.get("product", "")
        amount: Money | None = None
        close: date | None = None
        if products and product and match_product(product, products) is None:
            errors["product"] = f"I don't know the product '{product}'. Products: {', '.join(products)}."
        for name in ("product", "amount", "close_date"):
            if not values.get(name):
                errors.setdefault(name, CONVERT_QUESTIONS[name])
        if values.get("amount"):
            try:
                amount = parse_money(values["amount"], default_currency=self.default_currency)
            except InputError as exc:
                errors["amount"] = exc.message
        if values.get("close_date"):
            try:
                close = validate_close_date(parse_close_date(values["close_date"], today=today), today=today)
            except InputError as exc:
                errors["close_date"] = exc.message
        if errors or amount is None or close is None:
            return FormResult(errors=errors)
        known = match_product(product, products) if products else None
        view, deal = await self.leads.convert(
            actor,
            ref,
            amount=amount,
            close_date=close,
            product=known[0] if known else product,
            notes=values.get("notes") or None,
        )
        await self._clear_if(actor, "lead.convert")
        return FormResult(replies=_converted_replies(view, deal, actor))


_PARTNER_CREATE = (
    "Leads come from the vendor's channel team. Found an opportunity yourself? Register it as a deal: "
    "'register a deal for Globex, 120k USD of Cloud Suite, closing end of March'."
)


def _converted_replies(view: LeadView, deal: DealView, actor: Actor) -> list[Reply]:
    if deal.in_conflict:
        headline = (
            f"{deal.ref} is registered from {view.ref}. This customer needs a closer review before approval; "
            "we'll let you know the outcome."
        )
    else:
        headline = f"{deal.ref} is registered from {view.ref} and waiting for review. I'll tell you when it's decided."
    return [views.deal_card(deal, actor, headline=headline)]


def _slots_as_text(slots: dict[str, Any]) -> dict[str, str]:
    draft: dict[str, str] = {}
    if slots.get("product"):
        draft["product"] = str(slots["product"])
    if slots.get("amount"):
        draft["amount"] = format_money(Money(Decimal(slots["amount"]["amount"]), slots["amount"]["currency"]))
    if slots.get("close_date"):
        draft["close_date"] = str(slots["close_date"])
    if slots.get("notes"):
        draft["notes"] = str(slots["notes"])
    return draft


def parse_new_lead(text: str, products: list[str]) -> dict[str, str]:
    """Staff's one-line lead, e.g. "Initech, contact Jane Doe jane@initech.example, DE, Cloud Suite,
    source webinar, notes: wants a demo". The first part is the company; the rest is recognised by
    shape (an e-mail, a phone number, a two-letter country, a product) or by a leading word (contact,
    phone, country, product, source, notes). Anything else lands in the notes, so nothing is lost."""
    raw: dict[str, str] = {}
    notes: list[str] = []
    text = text.strip()
    note_match = re.search(r"\bnotes?\s*[:=]\s*(.+)$", text, re.I | re.S)
    if note_match:
        notes.append(note_match.group(1).strip())
        text = text[: note_match.start()]
    segments = [s.strip() for s in re.split(r"[,;\n]", text) if s.strip()]
    for index, segment in enumerate(segments):
        email = EMAIL_IN_TEXT_RE.search(segment)
        if email:
            raw["contact_email"] = email.group(0)
            name = (segment[: email.start()] + segment[email.end() :]).strip(" <>()")
            name = re.sub(r"^(?:contact|e-?mail)\s*[:=]?\s*", "", name, flags=re.I).strip()
            if name and index > 0:
                raw["contact_name"] = name
            elif name:
                raw.setdefault("company", name)
            continue
        if index == 0:
            raw["company"] = re.sub(r"^(?:for|at|company\s*[:=]?)\s+", "", segment, flags=re.I).strip()
            continue
        labelled = re.match(
            r"^(contact|phone|tel|mobile|country|product|interest(?:ed in)?|source|from|via)\s*[:=]?\s*(.+)$",
            segment,
            re.I,
        )
        if labelled:
            label, value = labelled.group(1).lower(), labelled.group(2).strip()
            key = {
                "contact": "contact_name",
                "phone": "contact_phone",
                "tel": "contact_phone",
                "mobile": "contact_phone",
                "country": "country",
                "source": "source",
                "from": "source",
                "via": "source",
            }.get(label, "product")
            raw[key] = value
            continue
        if re.fullmatch(r"[A-Za-z]{2}", segment):
            raw["country"] = segment.upper()
            continue
        if PHONE_IN_TEXT_RE.match(segment) and sum(ch.isdigit() for ch in segment) >= 5:
            raw["contact_phone"] = segment
            continue
        known = match_product(segment, products) if products else None
        if known and "product" not in raw:
            raw["product"] = known[0]
            continue
        notes.append(segment)
    if notes:
        raw["notes"] = "; ".join(notes)
    return raw


__all__ = ["LeadSkill", "find_lead_ref", "parse_lead_ref", "parse_new_lead"]
