"""Leads in the conversation: buttons, forms and the readings of the understanding layer for partners
and staff.

What people type about leads is declared as intents (:mod:`bot.features.leads.intents`, with the slot
parsers only leads need); the skill acts on a reading in ``on_intent`` and has no text grammar of its
own. Every decision (who may do what, which state a lead may move to) is the lead service's
(:mod:`bot.features.leads.service`); this module builds replies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from typing import Any

from bot.features.deals import views
from bot.features.deals.model import DealView
from bot.features.deals.service import Deals
from bot.features.leads import views as lead_views
from bot.features.leads.intents import LEAD_INTENTS, NEW_LEAD_FIELDS
from bot.features.leads.model import LIFECYCLE, LeadView
from bot.features.leads.service import FIELDS, Leads, lead_ref, parse_lead_ref
from bot.kernel.amounts import Money, find_money, format_money, parse_money
from bot.kernel.dates import find_close_date, format_date, format_when, parse_close_date, validate_close_date
from bot.kernel.errors import Conflict, InputError
from bot.kernel.messages import Actor, Button, Choice, Fact, FormResult, Reply
from bot.kernel.products import match_product
from bot.kernel.reasons import ReasonStep
from bot.kernel.refs import DEAL, LEAD
from bot.kernel.skills import Dialog, DialogStore, cancelled, stale_button, stale_form
from bot.kernel.understanding.entities import Named
from bot.kernel.understanding.spec import Reading
from bot.kernel.words import NO_RE, YES_RE

LREF_RE = LEAD.mention()
DREF_RE = DEAL.mention(loose=True)
# What a lead update can move a lead to, by the stage words the layer reads (a meeting booked means the
# contact was reached; "nurture" and "no response" are no status of their own: a note on the lead).
STAGE_STATUS = {"contacted": "contacted", "meeting": "contacted", "qualified": "qualified"}
UPDATE_HINT = (
    "I can mark {ref} contacted, qualified or disqualified, or convert it into a deal: e.g. '{ref} contacted', "
    "'{ref} is qualified, meeting next Tuesday', '{ref} went nowhere' or 'convert {ref}'."
)

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

    records = LEAD

    async def form_choices(
        self, actor: Actor, form_id: str, field: str, data: dict[str, str]
    ) -> list[Choice] | None:
        """The partner picker of a lead's assignment: the partners the lead may go to (staff only)."""
        if form_id != "lead.assign" or field != "partner":
            return None
        _, partners = await self.leads.assign_choices(actor, data.get("ref", ""))
        return [Choice(p, p) for p in partners]

    async def findable(self, actor: Actor) -> list[Named]:
        return await self.names(actor)

    async def names(self, actor: Actor) -> list[Named]:
        return [Named("L", ref, company) for company, ref in await self.leads.companies_visible(actor)]

    async def on_intent(self, actor: Actor, reading: Reading) -> list[Reply] | None:
        """Act on a reading of the understanding layer (:mod:`bot.features.leads.intents`)."""
        if reading.intent == "lead.list" or (reading.intent == "staff.leads" and not actor.is_staff):
            return await self._list(actor, scope="all" if reading.get("scope") == "all" else "open")
        if reading.intent == "staff.leads":
            partner = reading.get("partner")
            return await self._list(
                actor, scope=reading.get("scope") or ("all" if partner else "open"), partner=partner
            )
        if reading.intent == "staff.new_lead":
            return await self._create_from_reading(actor, reading)
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
            return await self._convert_start(actor, ref, reading)
        if reading.intent == "staff.assign_lead":
            if reading.get("partner") or reading.get("next_partner"):
                return await self._assign(actor, ref, reading.get("partner"))
            return await self.on_action(actor, "lead.assign", {"ref": ref})
        if reading.intent == "lead.update":
            return await self._update(actor, ref, reading)
        if reading.get("view") == "history":
            return await self._history_action(actor, {"ref": ref})
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
        if reading.get("customer"):  # a company that is none of the person's leads
            return [Reply(text=f"I can't find a lead for '{reading.get('customer')}' among your leads.")]
        scope = "review" if actor.is_staff else "open"
        listed = await self._list(actor, scope=scope)
        return [Reply(text="Which lead? Say it with its reference, e.g. 'L-12', or its company."), *listed]

    async def _update(self, actor: Actor, ref: str, reading: Reading) -> list[Reply]:
        """A lead update: the status it moves to (read by :func:`~bot.features.leads.intents.update_slots`,
        else from the stage words), with its note - or why it is disqualified, asked for when not given."""
        status = reading.get("status")
        stage = reading.get("stage")
        if status is None and stage == "unqualified":
            status = "disqualified"
        if status == "disqualified":
            reason = reading.get("reason")
            if reason:
                return await self._apply_reason(actor, "disqualify", ref, reason)
            return await self._ask_reason(actor, "disqualify", ref)
        note = reading.get("notes")
        if status is None and stage is not None:
            # "meeting booked", "no response", "nurture": a note on a lead that is being worked
            view = await self.leads.get(actor, ref)
            if view.status in ("contacted", "qualified"):
                status = view.status
            else:
                status = STAGE_STATUS.get(stage)
        if status is None:
            view = await self.leads.get(actor, ref)
            return [lead_views.lead_card(view, actor, headline=UPDATE_HINT.format(ref=view.ref))]
        return await self._set_status(actor, ref, status, note=note)

    async def continue_dialog(self, actor: Actor, dialog: Dialog, text: str) -> list[Reply] | None:
        state = dialog.state
        other_ref = find_lead_ref(text)
        starts_something = bool(DREF_RE.search(text)) or (
            other_ref is not None and other_ref != state.get("ref")
        )
        if dialog.flow in ("lead.decline", "lead.disqualify"):
            if starts_something:
                return None
            await self.dialogs.clear(actor)
            kind = "decline" if dialog.flow == "lead.decline" else "disqualify"
            return await self._apply_reason(actor, kind, state["ref"], text)
        if dialog.flow == "lead.convert":
            if starts_something:
                return None
            return await self._convert_answer(actor, state, text)
        if dialog.flow == "lead.create":
            if YES_RE.match(text):
                return await self._create_confirm(actor)
            if NO_RE.match(text):
                await self.dialogs.clear(actor)
                return cancelled()
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
            "lead.convert": lambda actor, data: self._convert_start(actor, data.get("ref", "")),
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
            # Every detail was on the form at once: submitting it adds the lead, no second confirmation.
            return FormResult(replies=await self._create(actor, raw))
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

    async def _create_from_reading(self, actor: Actor, reading: Reading) -> list[Reply]:
        """Staff's new lead in one sentence (:func:`~bot.features.leads.intents.new_lead_slots`): the
        summary to confirm, or what is wrong with it and the form to put it right."""
        if not actor.is_staff:
            return [Reply(text=_PARTNER_CREATE)]
        raw = {name: str(reading.get(name)) for name in NEW_LEAD_FIELDS if reading.get(name)}
        if not raw:
            return await self._create_start_action(actor, {})
        products = await self.leads.products()
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
        return await self._create(actor, dict(dialog.state.get("lead", {})))

    async def _create(self, actor: Actor, raw: dict[str, str]) -> list[Reply]:
        data = await self.leads.validate(raw)
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

    async def _convert_start(self, actor: Actor, ref: str, reading: Reading | None = None) -> list[Reply]:
        """Start a deal registration from a lead, with what the message already gave (a product, an
        amount, a close date); what is missing is asked one at a time."""
        start = await self.leads.conversion_start(actor, ref)
        slots: dict[str, Any] = {}
        problems: list[str] = []
        given = reading.slots if reading is not None else {}
        invalid = reading.invalid if reading is not None else {}
        products = await self.leads.products()
        known = match_product(str(given["product"]), products) if given.get("product") and products else None
        if known or (given.get("product") and not products):
            slots["product"] = known[0] if known else str(given["product"])
        elif start.product:
            slots["product"] = start.product
        money = given.get("amount")
        if isinstance(money, Money):
            slots["amount"] = {"amount": str(money.amount), "currency": money.currency}
        close = given.get("close_date")
        if isinstance(close, date):
            try:
                today = self.deals.today_for(actor)
                slots["close_date"] = validate_close_date(close, today=today).isoformat()
            except InputError as exc:
                problems.append(exc.message)
        problems += [invalid[name] for name in ("amount", "close_date") if name in invalid]
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
                return cancelled()
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


__all__ = ["LeadSkill", "find_lead_ref", "parse_lead_ref"]
