"""Deals in the conversation: registration in a few words, reviews, updates and outcomes.

The skill answers whatever typed text no other skill claimed (it is the conversation's fallback, see
:meth:`bot.conversation.Conversation.set_fallback`): "register a deal for Globex ...", "D-12 moved to
proposal", "pending", or "I didn't catch that". Its dialogs are ``deal.register`` (slot collection, then
confirm or edit), ``deal.reason`` (the reason for a rejection, a loss, an extension, ...) and
``deal.update`` (confirm the changes read from a sentence). Every decision (who may do what, which state
a deal may move to) is the deal service's (:mod:`bot.features.deals.service`); this module reads words
and builds replies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any

from rapidfuzz import fuzz

from bot.features.deals import views
from bot.features.deals.intents import DEAL_INTENTS
from bot.features.deals.model import STAGES, DealChanges, DealDraft, DealView
from bot.features.deals.service import Deals
from bot.kernel.amounts import Money, format_money, parse_money
from bot.kernel.companies import normalize_company, normalize_domain, validate_company_name
from bot.kernel.dates import format_date, parse_close_date, validate_close_date
from bot.kernel.errors import InputError
from bot.kernel.messages import Actor, Button, FormResult, Reply
from bot.kernel.products import match_product
from bot.kernel.reasons import ReasonStep
from bot.kernel.refs import DEAL
from bot.kernel.skills import Dialog, DialogStore, cancelled, stale_button, stale_form
from bot.kernel.understanding.entities import Named
from bot.kernel.understanding.slots import labelled_notes
from bot.kernel.understanding.spec import Reading
from bot.kernel.words import EDIT_RE, NEW_RE, NO_RE, YES_RE

REQUIRED = ("customer", "product", "amount", "close_date")
OPTIONAL = ("customer", "domain", "country", "product", "notes")  # read as they are, then validated
DETAILS = ("domain", "country", "product", "notes", "amount", "close_date")  # given with an answer
CHANGES = ("stage", "amount", "close_date", "next_step", "notes")  # what an update may change
QUESTIONS = {
    "customer": "Which customer is the deal with? (company name, e.g. Globex Corporation)",
    "product": "Which product or solution?",
    "amount": "What is the deal worth? (e.g. 120k USD, $1.2M, EUR 50,000)",
    "close_date": "When do you expect it to close? (e.g. 2027-03-31, end of March, Q2, in 6 weeks)",
}
FIELD_WORDS = {
    "customer": "customer",
    "company": "customer",
    "product": "product",
    "solution": "product",
    "amount": "amount",
    "value": "amount",
    "close": "close_date",
    "closing": "close_date",
    "date": "close_date",
    "domain": "domain",
    "country": "country",
    "notes": "notes",
    "note": "notes",
}
REASON_STEPS = {
    "reject": ReasonStep(
        "deal.reject", "Reject {ref}", "Why are you rejecting {ref}? The partner will see the reason."
    ),
    "ask_info": ReasonStep(
        "deal.ask_info", "Ask about {ref}", "What should the partner tell you about {ref}?"
    ),
    "lost": ReasonStep("deal.lost", "{ref} lost", "Why was {ref} lost? (e.g. price, went with a competitor)"),
    "extend": ReasonStep("deal.extend", "Extend {ref}", "Why should the protection of {ref} be extended?"),
    "provide_info": ReasonStep(
        "deal.provide_info", "Information for {ref}", "What would you like to tell the reviewer about {ref}?"
    ),
}
REGISTER, REASON, UPDATE = "deal.register", "deal.reason", "deal.update"
# Dialogs saved before the flows were named after the skill (one in progress across the upgrade).
LEGACY_FLOWS = {"register": REGISTER, "reason": REASON, "update": UPDATE}
LIST_TITLES = {"review": "Waiting for review", "conflicts": "Possible conflicts", "all": "All deals"}
LIST_EMPTY = {"review": "Nothing waits for review.", "conflicts": "No conflicts wait for review."}
NO_DEALS = "No open deals. Say 'register a deal' to add one."
REGISTRATION_GONE = "That registration was already sent or cancelled; say 'register a deal' to start another."
PARTNERS_REGISTER = "Deals are registered by partners."

Replies = list[Reply]
ActionStep = Callable[[Actor, dict[str, str]], Awaitable[Replies]]
RegistrationStep = Callable[[Actor, dict[str, Any], dict[str, str]], Awaitable[Replies]]
FormStep = Callable[[Actor, dict[str, str], dict[str, str]], Awaitable[FormResult]]
FlowStep = Callable[[Actor, dict[str, Any], Reading], Awaitable[Replies | None]]
ApplyReason = Callable[[Actor, str, str], Awaitable[Replies]]


class DealSkill:
    """Implements :class:`bot.kernel.skills.FallbackSkill` for deals (``prefix = "deal"``; the
    conversation also hands it every action and form no other skill owns, such as ``deals.list``)."""

    prefix = "deal"
    intents = DEAL_INTENTS

    def __init__(self, *, deals: Deals, dialogs: DialogStore, default_currency: str = "USD") -> None:
        self.deals = deals
        self.dialogs = dialogs
        self.default_currency = default_currency
        registering: dict[str, RegistrationStep] = {
            "deal.register.confirm": self._confirm_registration,
            "deal.register.edit": self._edit_registration,
            "deal.customer.yes": self._customer_yes,
            "deal.customer.no": self._customer_no,
            "deal.register.new": self._new_not_lead,
            "deal.product.pick": self._product_pick,
        }
        self._actions: dict[str, ActionStep] = {
            "deals.list": self._list_action,
            "deal.register.start": self._registration_start,
            "deal.show": self._show,
            "deal.history": self._history,
            "deal.approve": self._approve,
            "deal.extension.approve": self._approve_extension,
            "deal.extension.decline": self._decline_extension,
            "deal.won": self._won_action,
            "deal.update": self._update_start,
            "deal.update.confirm": self._update_confirm,
            **{f"deal.{name}": partial(self._ask_reason_action, name) for name in REASON_STEPS},
            **{name: partial(self._in_registration, step) for name, step in registering.items()},
        }
        self._forms: dict[str, FormStep] = {
            "deal.register": self._registration_form,
            "deal.update": self._update_form,
            **{f"deal.{name}": partial(self._reason_form, name) for name in REASON_STEPS},
        }
        self._readings: dict[str, Callable[[Actor, Reading], Awaitable[Replies | None]]] = {
            "deal.register": self._register_reading,
            "deal.status": self._status_reading,
            "deal.list": self._list_reading,
            "deal.update": self._update_reading,
            "deal.won": self._won_reading,
            "deal.lost": partial(self._reason_reading, "lost"),
            "deal.extend": partial(self._reason_reading, "extend"),
            "staff.reject": partial(self._reason_reading, "reject"),
            "staff.ask_info": partial(self._reason_reading, "ask_info"),
            "deal.provide_info": partial(self._reason_reading, "provide_info"),
            "staff.approve": self._approve_reading,
            "staff.pending": self._pending_reading,
            "staff.conflicts": self._conflicts_reading,
        }
        self._flows: dict[str, FlowStep] = {
            REGISTER: self._continue_registration,
            REASON: self._continue_reason,
            UPDATE: self._continue_update,
        }
        self._reasons: dict[str, ApplyReason] = {
            "reject": self._reject,
            "ask_info": self._ask_info,
            "lost": self._lost,
            "extend": self._extend,
            "provide_info": self._provide_info,
            "decline_extension": self._decline,
        }

    # -- Skill ------------------------------------------------------------------------------------

    def help_lines(self, actor: Actor) -> list[str]:
        if actor.is_staff:
            return [
                "pending - registrations waiting for review",
                "conflicts - registrations that may clash with another partner's",
                "show deals / show all deals - the pipeline",
                "D-12 - one deal; history D-12 - its changes",
                "approve D-12 / reject D-12 because … / ask info D-12: …",
                "D-12 moved to negotiation, closing next month - update a deal",
            ]
        return [
            "register a deal for Globex, 120k USD of Cloud Suite, closing end of March",
            "show my deals - your open registrations",
            "what's the status of the Globex deal? / D-12",
            "D-12 moved to proposal, closing next month - update a deal",
            "D-12 won / D-12 lost because price",
            "extend D-12 because the budget moved to Q3",
        ]

    def help_buttons(self, actor: Actor) -> list[Button]:
        if actor.is_staff:
            return [
                Button("Waiting for review", "deals.list", {"scope": "review"}),
                Button("Conflicts", "deals.list", {"scope": "conflicts"}),
                Button("Open deals", "deals.list", {"scope": "open"}),
            ]
        return [
            Button("Register a deal", "deal.register.start", style="primary"),
            Button("My deals", "deals.list", {"scope": "open"}),
        ]

    records = DEAL

    async def findable(self, actor: Actor) -> list[Named]:
        return [n for n in await self.names(actor) if n.kind == DEAL.prefix]

    async def prefilled_form(self, actor: Actor, reading: Reading) -> Replies:
        """The registration form filled in from a message as the layer read it (a message action);
        what it couldn't read stays empty for the person to fill in."""
        if actor.is_staff:
            return [Reply(text=PARTNERS_REGISTER)]
        slots = _slots_from(reading, (*OPTIONAL, *REQUIRED))
        for name in reading.invalid:
            slots.pop(name, None)
        form = views.registration_form(await self.deals.products(), _draft(slots))
        return [Reply(text="Check the details I read from the message, then register.", form=form)]

    async def names(self, actor: Actor) -> list[Named]:
        """The customers of the deals ``actor`` may see, and the products, for the understanding layer."""
        named = [
            Named("D", ref, customer)
            for customer, refs in await self.deals.customers_visible(actor)
            for ref in refs
        ]
        return named + [Named("product", p, p) for p in await self.deals.products()]

    async def on_intent(self, actor: Actor, reading: Reading) -> list[Reply] | None:
        """Act on a reading of the understanding layer (:mod:`bot.features.deals.intents`)."""
        step = self._readings.get(reading.intent)
        return None if step is None else await step(actor, reading)

    async def _register_reading(self, actor: Actor, reading: Reading) -> Replies:
        if actor.is_staff:
            return await self._start_registration(actor)
        products = await self.deals.products()
        slots = _slots_from(reading, (*OPTIONAL, *REQUIRED, "lead", "lead_company", "deal", "deal_customer"))
        for name in reading.invalid:
            slots.pop(name, None)
        await self.dialogs.clear(actor)
        problems = "\n".join(reading.invalid.values())
        return await self._collect(actor, slots, products=products, prefix=problems)

    async def _which_deal(self, actor: Actor, reading: Reading, doing: str) -> Replies:
        """No deal was named: the candidates a name could mean, or the person's open deals to pick from."""
        if reading.candidates:
            return [
                Reply(
                    text=f"Which deal do you mean{doing}?",
                    buttons=[
                        Button(f"{ref} {name}", "deal.show", {"ref": ref}) for ref, name in reading.candidates
                    ],
                )
            ]
        found = await self.deals.list_deals(actor, scope="open")
        if not found:
            return [Reply(text=NO_DEALS)]
        return [
            views.deal_list(
                found,
                actor,
                title=f"Which deal{doing}? Say it with its reference, e.g. '{found[0].ref}'",
                empty="",
            )
        ]

    async def _status_reading(self, actor: Actor, reading: Reading) -> Replies:
        if reading.ref and reading.get("view") == "history":
            return await self._history(actor, {"ref": reading.ref})
        if reading.ref:
            return await self._show(actor, {"ref": reading.ref})
        if reading.get("unmatched"):
            return [Reply(text=f"I can't find a deal for '{reading.get('unmatched')}' among your deals.")]
        return await self._which_deal(actor, reading, "")

    async def _list_reading(self, actor: Actor, reading: Reading) -> Replies:
        closed = (
            reading.get("stage") in ("won", "lost", "rejected", "closed") or reading.get("scope") == "all"
        )
        return await self._list(actor, "all" if closed else "open")

    async def _update_reading(self, actor: Actor, reading: Reading) -> Replies:
        if reading.invalid:
            return [Reply(text="\n".join(reading.invalid.values()) + " Nothing was changed.")]
        if not reading.ref:
            return await self._which_deal(actor, reading, " to update")
        changes = _changes_in(reading)
        if not changes:
            return await self._update_start(actor, {"ref": reading.ref})
        return await self._propose_update(actor, reading.ref, changes)

    async def _won_reading(self, actor: Actor, reading: Reading) -> Replies:
        if not reading.ref:
            return await self._which_deal(actor, reading, " to mark as won")
        return await self._won(actor, reading.ref, reason=reading.get("notes"))

    async def _reason_reading(self, action: str, actor: Actor, reading: Reading) -> Replies:
        if not reading.ref:
            return await self._which_deal(actor, reading, "")
        reason = reading.get("text") if action in ("ask_info", "provide_info") else reading.get("reason")
        return await self._reason_or_ask(actor, action, reading.ref, reason)

    async def _approve_reading(self, actor: Actor, reading: Reading) -> Replies:
        if not reading.ref:
            return await self._which_deal(actor, reading, " to approve")
        replies: Replies = []
        for ref in reading.get("refs") or [reading.ref]:
            replies += await self._approve(actor, {"ref": ref})
        return replies

    async def _pending_reading(self, actor: Actor, reading: Reading) -> Replies | None:
        if reading.get("topic") == "mdf":
            return None  # the MDF queue: the MDF skill's own words answer it
        return await self._list(actor, "review")

    async def continue_dialog(self, actor: Actor, dialog: Dialog, text: str) -> list[Reply] | None:
        """The next turn of a deal dialog, or None when the message starts something new."""
        flow = LEGACY_FLOWS.get(dialog.flow, dialog.flow)
        step = self._flows.get(flow)
        if step is None:
            return None
        reading = dialog.reading or Reading(flow, 0.0, text)  # a reason's answer is taken as typed
        return await step(actor, dialog.state, reading)

    def dialog_intent(self, flow: str) -> str | None:
        """A registration's answers are read as a registration (its details), an update's as an update
        (its changes); a reason is taken as typed."""
        flow = LEGACY_FLOWS.get(flow, flow)
        return flow if flow in (REGISTER, UPDATE) else None

    async def on_action(self, actor: Actor, action: str, data: dict[str, str]) -> list[Reply]:
        step = self._actions.get(action)
        if step is not None:
            return await step(actor, data)
        if (
            action.startswith(("deal.register.", "deal.customer."))
            and await self._state(actor, REGISTER) is None
        ):
            return [Reply(text=REGISTRATION_GONE)]
        return stale_button()

    async def on_form(
        self, actor: Actor, form_id: str, values: dict[str, str], data: dict[str, str]
    ) -> FormResult:
        step = self._forms.get(form_id)
        if step is None:
            return stale_form()
        return await step(actor, values, data)

    async def home(self, actor: Actor) -> list[Reply]:
        """A partner's open deals with quick actions; staff's queues - registrations waiting for review
        and conflicts."""
        first = actor.name.split()[0]
        if actor.is_staff:
            review = await self.deals.list_deals(actor, scope="review")
            conflicts = await self.deals.list_deals(actor, scope="conflicts")
            return [
                Reply(title=f"Hi {first} - your queues", text="", buttons=self.help_buttons(actor)),
                views.deal_list(review, actor, title=LIST_TITLES["review"], empty=LIST_EMPTY["review"]),
                views.deal_list(
                    conflicts, actor, title=LIST_TITLES["conflicts"], empty=LIST_EMPTY["conflicts"]
                ),
            ]
        deals = await self.deals.list_deals(actor, scope="open")
        return [
            Reply(
                title=f"Hi {first}",
                text="Register deals and keep them current in a few words.",
                buttons=self.help_buttons(actor),
            ),
            views.deal_list(deals, actor, title="Your open deals", empty=NO_DEALS),
        ]

    # -- typed requests ---------------------------------------------------------------------------

    def not_understood(self, actor: Actor) -> Reply:
        return Reply(
            text="I didn't catch that. You can say things like 'register a deal for Globex, 120k USD, closing "
            "end of March', 'show my deals', 'D-12 moved to proposal' or 'help'.",
            buttons=self.help_buttons(actor),
        )

    async def _start_registration(self, actor: Actor) -> Replies:
        if actor.is_staff:
            return [
                Reply(text="Deals are registered by partners. Try 'pending' to see what waits for review.")
            ]
        await self.dialogs.clear(actor)
        products = await self.deals.products()
        return await self._collect(actor, {}, products=products)

    async def _conflicts_reading(self, actor: Actor, reading: Reading) -> Replies:
        """The registrations that may clash, all of them or those for one customer."""
        customer = reading.get("customer")
        if not customer:
            return await self._list(actor, "conflicts")
        found = [
            d
            for d in await self.deals.list_deals(actor, scope="conflicts")
            if normalize_company(d.customer) == normalize_company(customer)
        ]
        return [
            views.deal_list(
                found,
                actor,
                title=f"Conflicts for {customer}",
                empty=f"No conflicts for {customer} wait for review.",
            )
        ]

    async def _list(self, actor: Actor, scope: str) -> Replies:
        if scope in ("review", "conflicts") and not actor.is_staff:
            scope = "open"
        found = await self.deals.list_deals(actor, scope=scope)
        title = LIST_TITLES.get(scope, "Open deals" if actor.is_staff else "Your open deals")
        return [views.deal_list(found, actor, title=title, empty=LIST_EMPTY.get(scope, NO_DEALS))]

    async def _reason_or_ask(self, actor: Actor, action: str, ref: str, reason: str | None) -> Replies:
        if reason:
            return await self._apply_reason(actor, action, ref, reason)
        return await self._ask_reason(actor, action, ref)

    async def _won(self, actor: Actor, ref: str, *, reason: str | None = None) -> Replies:
        view = await self.deals.close(actor, ref, won=True, reason=reason)
        return [views.deal_card(view, actor, headline=f"{view.ref} marked as won. Congratulations!")]

    # -- buttons ----------------------------------------------------------------------------------

    async def _list_action(self, actor: Actor, data: dict[str, str]) -> Replies:
        return await self._list(actor, data.get("scope", "open"))

    async def _registration_start(self, actor: Actor, data: dict[str, str]) -> Replies:
        if actor.is_staff:
            return [Reply(text=PARTNERS_REGISTER)]
        form = views.registration_form(await self.deals.products())
        return [Reply(text="Fill in the form, or tell me in a sentence.", form=form)]

    async def _show(self, actor: Actor, data: dict[str, str]) -> Replies:
        return [views.deal_card(await self.deals.get(actor, data.get("ref", "")), actor)]

    async def note(self, actor: Actor, ref: str, text: str) -> Replies:
        """A staff note on deal ``ref`` (a reply in the thread of its review card), kept for staff."""
        view = await self.deals.add_note(actor, ref, text)
        return [
            Reply(
                text=f"Noted on {view.ref} for staff; the partner never sees it. "
                f"'history {view.ref}' shows it with the deal's changes.",
                ref=view.ref,
            )
        ]

    async def _history(self, actor: Actor, data: dict[str, str]) -> Replies:
        return [views.history_reply(await self.deals.get(actor, data.get("ref", ""), history=True))]

    async def _approve(self, actor: Actor, data: dict[str, str]) -> Replies:
        view = await self.deals.approve(actor, data.get("ref", ""))
        return [views.review_outcome(view, outcome=f"Approved by {actor.name}: {_protected_until(view)}")]

    async def _approve_extension(self, actor: Actor, data: dict[str, str]) -> Replies:
        view = await self.deals.decide_extension(actor, data.get("ref", ""), approve=True)
        outcome = f"Extension approved by {actor.name}: {_protected_until(view)}"
        return [views.review_outcome(view, outcome=outcome)]

    async def _decline_extension(self, actor: Actor, data: dict[str, str]) -> Replies:
        return await self._apply_reason(actor, "decline_extension", data.get("ref", ""), "")

    async def _won_action(self, actor: Actor, data: dict[str, str]) -> Replies:
        return await self._won(actor, data.get("ref", ""))

    async def _ask_reason_action(self, action: str, actor: Actor, data: dict[str, str]) -> Replies:
        return await self._ask_reason(actor, action, data.get("ref", ""))

    async def _update_start(self, actor: Actor, data: dict[str, str]) -> Replies:
        view = await self.deals.get(actor, data.get("ref", ""))
        await self.dialogs.save(actor, UPDATE, {"ref": view.ref, "changes": {}})
        return [
            Reply(
                text=f"What changed on {view.ref}? E.g. 'stage proposal, closing end of April', or use the form.",
                form=views.update_form(view),
            )
        ]

    async def _update_confirm(self, actor: Actor, data: dict[str, str]) -> Replies:
        state = await self._state(actor, UPDATE)
        if state is None or not state.get("changes"):
            return [Reply(text="That update was already saved or cancelled.")]
        view = await self.deals.update(actor, state["ref"], _changes_from(state["changes"]))
        await self.dialogs.clear(actor)
        return [views.deal_card(view, actor, headline=f"Saved. {view.ref} is up to date.")]

    async def _in_registration(self, step: RegistrationStep, actor: Actor, data: dict[str, str]) -> Replies:
        """A button of the registration in progress: ``step`` gets its state, or the person hears it
        is gone."""
        state = await self._state(actor, REGISTER)
        if state is None:
            return [Reply(text=REGISTRATION_GONE)]
        return await step(actor, state, data)

    async def _confirm_registration(
        self, actor: Actor, state: dict[str, Any], data: dict[str, str]
    ) -> Replies:
        slots = dict(state.get("slots", {}))
        products = await self.deals.products()
        if state.get("asking") != "confirm":
            return await self._collect(actor, slots, products=products)
        return await self._register(actor, slots, products=products)

    async def _edit_registration(self, actor: Actor, state: dict[str, Any], data: dict[str, str]) -> Replies:
        return [_edit_prompt(dict(state.get("slots", {})), await self.deals.products())]

    async def _customer_yes(self, actor: Actor, state: dict[str, Any], data: dict[str, str]) -> Replies:
        slots = dict(state.get("slots", {}))
        slots["customer"] = slots.pop("customer_suggestion", slots.get("customer"))
        return await self._collect(actor, slots, products=await self.deals.products())

    async def _customer_no(self, actor: Actor, state: dict[str, Any], data: dict[str, str]) -> Replies:
        slots = dict(state.get("slots", {}))
        slots.pop("customer_suggestion", None)
        return await self._collect(actor, slots, products=await self.deals.products())

    async def _product_pick(self, actor: Actor, state: dict[str, Any], data: dict[str, str]) -> Replies:
        slots = {**state.get("slots", {}), "product": data.get("product", "")}
        return await self._collect(actor, slots, products=await self.deals.products())

    # -- forms ------------------------------------------------------------------------------------

    async def _registration_form(
        self, actor: Actor, values: dict[str, str], data: dict[str, str]
    ) -> FormResult:
        if actor.is_staff:
            return FormResult(replies=[Reply(text=PARTNERS_REGISTER)])
        products = await self.deals.products()
        slots, errors = self._read_form(values, today=self.deals.today_for(actor), products=products)
        if errors:
            return FormResult(errors=errors)
        slots["customer_checked"] = True
        # The form shows every detail at once, so it is its own review: submitted, it registers -
        # unless something must still be asked (a lead for that company, a detail that didn't read).
        return FormResult(replies=await self._collect(actor, slots, products=products, reviewed=True))

    def _read_form(
        self, values: dict[str, str], *, today: date, products: list[str]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """The registration form's slots, and an error for each field that is missing or unreadable."""
        errors: dict[str, str] = {}
        slots: dict[str, Any] = {}
        for name in OPTIONAL:
            _read_into(
                slots, errors, name, values, partial(_validate_slot, name, today=today, products=products)
            )
        for name in REQUIRED:
            if not values.get(name):
                errors.setdefault(name, QUESTIONS[name])
        _read_into(
            slots,
            errors,
            "amount",
            values,
            lambda value: _money_slot(parse_money(value, default_currency=self.default_currency)),
        )
        _read_into(
            slots,
            errors,
            "close_date",
            values,
            lambda value: parse_close_date(value, today=today).isoformat(),
        )
        return slots, errors

    async def _update_form(self, actor: Actor, values: dict[str, str], data: dict[str, str]) -> FormResult:
        today = self.deals.today_for(actor)
        changes = DealChanges(
            stage=values.get("stage") or None,
            amount=parse_money(values["amount"], default_currency=self.default_currency)
            if values.get("amount")
            else None,
            close_date=parse_close_date(values["close_date"], today=today)
            if values.get("close_date")
            else None,
            next_step=values.get("next_step") or None,
            notes=values.get("notes") or None,
        )
        if changes.stage and changes.stage not in STAGES:
            return FormResult(errors={"stage": f"Stages are {', '.join(STAGES)}."})
        view = await self.deals.update(actor, data.get("ref", ""), changes)
        await self.dialogs.clear(actor)
        return FormResult(
            replies=[views.deal_card(view, actor, headline=f"Saved. {view.ref} is up to date.")]
        )

    async def _reason_form(
        self, action: str, actor: Actor, values: dict[str, str], data: dict[str, str]
    ) -> FormResult:
        reason = values.get("reason", "")
        if not reason:
            return REASON_STEPS[action].missing(data.get("ref"), noun="deal")
        replies = await self._apply_reason(actor, action, data.get("ref", ""), reason)
        await self.dialogs.clear(actor)
        return FormResult(replies=replies)

    # -- dialogs ----------------------------------------------------------------------------------

    async def _state(self, actor: Actor, flow: str) -> dict[str, Any] | None:
        """The state of the person's dialog if it is ``flow``."""
        dialog = await self.dialogs.load(actor)
        if dialog is None or LEGACY_FLOWS.get(dialog.flow, dialog.flow) != flow:
            return None
        return dialog.state

    async def _cancel(self, actor: Actor) -> Replies:
        await self.dialogs.clear(actor)
        return cancelled()

    async def _continue_registration(
        self, actor: Actor, state: dict[str, Any], reading: Reading
    ) -> Replies | None:
        slots = dict(state.get("slots", {}))
        asking = state.get("asking")
        text = reading.text
        if asking == "confirm":
            return await self._answer_confirm(actor, slots, reading)
        if asking == "lead":
            if YES_RE.match(text) or NEW_RE.match(text):
                return await self._new_not_lead(actor, state, {})
            return None  # "convert L-2" starts the conversion (the dialog gives way to it)
        if asking == "customer_suggestion":
            if YES_RE.match(text):
                return await self._customer_yes(actor, state, {})
            if NO_RE.match(text):
                return await self._customer_no(actor, state, {})
            slots.pop("customer_suggestion", None)
            return await self._answer_slot(actor, slots, "customer", reading)
        if asking in REQUIRED:
            return await self._answer_slot(actor, slots, str(asking), reading)
        return None

    async def _answer_confirm(self, actor: Actor, slots: dict[str, Any], reading: Reading) -> Replies | None:
        products = await self.deals.products()
        today = self.deals.today_for(actor)
        text = reading.text
        if YES_RE.match(text):
            return await self._register(actor, slots, products=products)
        if NO_RE.match(text):
            return await self._cancel(actor)
        if EDIT_RE.match(text):
            return [_edit_prompt(slots, products)]
        changed = self._field_edits(reading, today=today)
        if changed:
            recheck = {"customer_checked": False} if "customer" in changed else {}
            return await self._collect(actor, {**slots, **changed, **recheck}, products=products)
        return [
            Reply(
                text="Reply 'yes' to register, tell me what to change (e.g. 'amount 150k'), or 'cancel'.",
                buttons=views.draft_summary(_slots_to_draft(slots)).buttons,
            )
        ]

    async def _answer_slot(
        self, actor: Actor, slots: dict[str, Any], field: str, reading: Reading
    ) -> Replies | None:
        """The answer to the question for ``field`` - and any other details given with it, as the layer
        read them ("Globex, 120k EUR, end of March" to "Which customer?")."""
        products = await self.deals.products()
        today = self.deals.today_for(actor)
        text = reading.text
        more = _slots_from(reading, DETAILS)
        value = self._answer_for(field, reading, more, today=today)
        if value is None and not more:
            return [
                Reply(
                    text=self._why_not(field, text, today=today, products=products) + "\n" + QUESTIONS[field]
                )
            ]
        if value is not None:
            more[field] = value
            if field == "customer":
                more["customer_checked"] = False
        try:
            for name, val in more.items():
                if name != "customer_checked":
                    _validate_slot(name, val, today=today, products=products)
        except InputError as exc:
            return [Reply(text=exc.message + "\n" + QUESTIONS.get(exc.field, QUESTIONS[field]))]
        problems = "\n".join(reading.invalid.values())  # "Globex, -5k": said, and not taken
        return await self._collect(actor, {**slots, **more}, products=products, prefix=problems)

    async def _continue_reason(self, actor: Actor, state: dict[str, Any], reading: Reading) -> Replies | None:
        await self.dialogs.clear(actor)
        return await self._apply_reason(actor, state["action"], state["ref"], reading.text)

    async def _continue_update(self, actor: Actor, state: dict[str, Any], reading: Reading) -> Replies | None:
        if YES_RE.match(reading.text):
            return await self._update_confirm(actor, {})
        if NO_RE.match(reading.text):
            return await self._cancel(actor)
        if reading.invalid:
            return [Reply(text="\n".join(reading.invalid.values()) + " Nothing was changed.")]
        changes = _changes_in(reading)
        if changes.get("notes") and changes["notes"] != labelled_notes(reading.text):
            del changes["notes"]  # "how do I get more leads?" is no note on the deal: only "notes: ..." is
        if changes:
            return await self._propose_update(actor, state["ref"], changes)
        return None

    # -- registration -----------------------------------------------------------------------------

    async def _collect(
        self,
        actor: Actor,
        slots: dict[str, Any],
        *,
        products: list[str],
        prefix: str = "",
        reviewed: bool = False,
    ) -> Replies:
        """Validate what we have, ask for the next missing detail, or show the summary to confirm -
        or, when the person has just ``reviewed`` every detail on a form, register."""
        today = self.deals.today_for(actor)
        problems: list[str] = []
        for name in list(slots):
            try:
                slots[name] = _validate_slot(name, slots[name], today=today, products=products)
            except InputError as exc:
                problems.append(exc.message)
                slots.pop(name)
        lead = "\n".join(([prefix] if prefix else []) + problems)
        lead_in = lead + "\n" if lead else ""
        if slots.get("lead") and not slots.get("lead_checked"):
            return await self._lead_or_new(actor, slots, lead_in)
        if "customer" in slots and not slots.get("customer_checked"):
            asked = await self._check_customer(actor, slots, lead_in)
            if asked:
                return asked
        for name in REQUIRED:
            if name not in slots:
                await self.dialogs.save(actor, REGISTER, {"slots": slots, "asking": name})
                buttons = []
                if name == "product" and products:
                    buttons = [Button(p, "deal.product.pick", {"product": p}) for p in products[:8]]
                return [Reply(text=lead_in + QUESTIONS[name], buttons=buttons)]
        if reviewed and not lead:
            return await self._register(actor, slots, products=products)
        await self.dialogs.save(actor, REGISTER, {"slots": slots, "asking": "confirm"})
        summary = views.draft_summary(_slots_to_draft(slots))
        if lead:
            summary.text = lead + "\n" + summary.text
        return [summary]

    async def _lead_or_new(self, actor: Actor, slots: dict[str, Any], lead_in: str) -> Replies:
        """A registration for the company of one of the partner's leads: converting the lead (which keeps
        its history and closes it) or a new deal - asked, never guessed."""
        ref, company = slots["lead"], slots.get("lead_company") or slots.get("customer")
        await self.dialogs.save(actor, REGISTER, {"slots": slots, "asking": "lead"})
        text = f"{company} is your lead {ref}. Convert {ref} into a deal, or register a new deal?"
        buttons = [
            Button(f"Convert {ref}", "lead.convert", {"ref": ref}, style="primary"),
            Button("Register a new deal", "deal.register.new"),
        ]
        if slots.get("deal") and slots.get("deal_customer") == company:  # and a deal for it already
            text = (
                f"{company} is your lead {ref}, and you have {slots['deal']} for it. "
                + text.split(". ", 1)[1]
            )
            buttons.append(Button(f"Show {slots['deal']}", "deal.show", {"ref": slots["deal"]}))
        return [Reply(text=lead_in + text, buttons=buttons)]

    async def _new_not_lead(self, actor: Actor, state: dict[str, Any], data: dict[str, str]) -> Replies:
        # the customer is the lead's company, by its name: no "did you mean" after this question
        slots = {**state.get("slots", {}), "lead_checked": True, "customer_checked": True}
        slots["customer"] = slots.get("lead_company") or slots.get("customer")
        return await self._collect(actor, slots, products=await self.deals.products())

    async def _check_customer(self, actor: Actor, slots: dict[str, Any], lead_in: str) -> Replies:
        """Ask "did you mean ...?" when the customer looks like one the partner already has."""
        suggestion = await self._similar_customer(actor, slots["customer"])
        slots["customer_checked"] = True
        if not suggestion:
            return []
        slots["customer_suggestion"] = suggestion
        await self.dialogs.save(actor, REGISTER, {"slots": slots, "asking": "customer_suggestion"})
        buttons = [
            Button(f"Yes, {suggestion}", "deal.customer.yes", style="primary"),
            Button(f"No, {slots['customer']} is new", "deal.customer.no"),
        ]
        question = f"Did you mean {suggestion}?"
        if slots.get("deal") and slots.get("deal_customer") == suggestion:
            # "register initech" with D-1 for Initech GmbH: another deal for it, or that one?
            question = f"You already have {slots['deal']} for {suggestion}. Register another deal for it?"
            buttons[0] = Button("Yes, another deal", "deal.customer.yes", style="primary")
            buttons.insert(1, Button(f"Show {slots['deal']}", "deal.show", {"ref": slots["deal"]}))
        return [Reply(text=lead_in + question, buttons=buttons)]

    async def _similar_customer(self, actor: Actor, name: str) -> str | None:
        """An existing customer of the actor's own organisation that looks like ``name``."""
        known = await self.deals.known_customer_names(actor)
        key = normalize_company(name)
        best = None
        for existing in known:
            if existing == name:
                return None
            score = fuzz.ratio(key, normalize_company(existing))
            if score >= 85 and (best is None or score > best[0]):
                best = (score, existing)
        return best[1] if best else None

    def _answer_for(self, field: str, reading: Reading, more: dict[str, Any], *, today: date) -> Any:
        """The value for ``field`` in an answer to its question: as the layer read it, else the answer as
        it stands (a customer's name, a product to check against the catalogue, an amount or a date to
        parse - whose error then says what is wrong)."""
        if field in more:
            return more.pop(field)
        text = reading.text
        if field == "customer":
            name = reading.get("customer") or ("" if more else text)
            return name.strip(" .") or None
        if field == "product":
            return text or None
        if field == "amount":
            try:
                return _money_slot(parse_money(text, default_currency=self.default_currency))
            except InputError:
                return None
        if field == "close_date":
            try:
                return parse_close_date(text, today=today).isoformat()
            except InputError:
                return None
        return None

    def _why_not(self, field: str, text: str, *, today: date, products: list[str]) -> str:
        try:
            if field == "amount":
                parse_money(text, default_currency=self.default_currency)
            elif field == "close_date":
                parse_close_date(text, today=today)
            elif field == "customer":
                validate_company_name(text)
            elif field == "product":
                _validate_slot("product", text, today=today, products=products)
        except InputError as exc:
            return exc.message
        return f"I couldn't read that as the {field.replace('_', ' ')}."

    def _field_edits(self, reading: Reading, *, today: date) -> dict[str, Any]:
        """'amount 150k', 'customer Globex Inc', 'close end of April' while confirming: a field named
        first, else the details the layer read (a customer only when named as a field)."""
        words = reading.text.strip().split(None, 1)
        if len(words) == 2 and words[0].lower().rstrip(":") in FIELD_WORDS:
            field, value = FIELD_WORDS[words[0].lower().rstrip(":")], words[1].strip()
            if field == "amount":
                return {"amount": _money_slot(parse_money(value, default_currency=self.default_currency))}
            if field == "close_date":
                value = value.removeprefix("date").strip()
                return {"close_date": parse_close_date(value, today=today).isoformat()}
            return {field: value}
        return _slots_from(reading, DETAILS)

    async def _register(self, actor: Actor, slots: dict[str, Any], *, products: list[str]) -> Replies:
        try:
            view = await self.deals.register(actor, _slots_to_draft(slots))
        except InputError as exc:
            slots.pop(exc.field, None)
            return await self._collect(actor, slots, products=products, prefix=exc.message)
        await self.dialogs.clear(actor)
        if view.in_conflict:
            headline = (
                f"Thanks! {view.ref} is registered. This customer needs a closer review before approval; "
                "we'll let you know the outcome."
            )
        else:
            headline = (
                f"Thanks! {view.ref} is registered and waiting for review. I'll tell you when it's decided."
            )
        return [views.deal_card(view, actor, headline=headline)]

    # -- reasons, updates -------------------------------------------------------------------------

    async def _ask_reason(self, actor: Actor, action: str, ref: str) -> Replies:
        view = await self.deals.get(actor, ref)  # not found answers before anything is asked
        state = {"action": action, "ref": view.ref}
        return await REASON_STEPS[action].ask(self.dialogs, actor, ref=view.ref, flow=REASON, state=state)

    async def _apply_reason(self, actor: Actor, action: str, ref: str, reason: str) -> Replies:
        step = self._reasons.get(action)
        if step is None:
            raise InputError("action", f"Unknown action {action}.")
        return await step(actor, ref, reason)

    async def _reject(self, actor: Actor, ref: str, reason: str) -> Replies:
        view = await self.deals.reject(actor, ref, reason=reason)
        return [views.review_outcome(view, outcome=f"Rejected by {actor.name}: {view.decision_reason}")]

    async def _ask_info(self, actor: Actor, ref: str, reason: str) -> Replies:
        view = await self.deals.request_info(actor, ref, question=reason)
        return [views.review_outcome(view, outcome=f"{actor.name} asked the partner: {view.decision_reason}")]

    async def _lost(self, actor: Actor, ref: str, reason: str) -> Replies:
        view = await self.deals.close(actor, ref, won=False, reason=reason)
        return [
            views.deal_card(view, actor, headline=f"{view.ref} marked as lost. Thanks for letting us know.")
        ]

    async def _extend(self, actor: Actor, ref: str, reason: str) -> Replies:
        view = await self.deals.request_extension(actor, ref, reason=reason)
        headline = f"Extension of {view.ref} requested; I'll tell you the decision."
        return [views.deal_card(view, actor, headline=headline)]

    async def _provide_info(self, actor: Actor, ref: str, reason: str) -> Replies:
        view = await self.deals.provide_info(actor, ref, info=reason)
        return [views.deal_card(view, actor, headline=f"Thanks, {view.ref} is back with the reviewers.")]

    async def _decline(self, actor: Actor, ref: str, reason: str) -> Replies:
        view = await self.deals.decide_extension(actor, ref, approve=False, reason=reason)
        return [views.review_outcome(view, outcome=f"Extension declined by {actor.name}")]

    async def _propose_update(self, actor: Actor, ref: str, found: dict[str, Any]) -> Replies:
        """Show the changes read (``found``: the reading's values) to confirm; nothing is written yet."""
        view = await self.deals.get(actor, ref)
        if found.get("close_date"):
            validate_close_date(found["close_date"], today=self.deals.today_for(actor))
        changes = {
            name: _money_slot(value)
            if name == "amount"
            else value.isoformat()
            if name == "close_date"
            else value
            for name, value in found.items()
        }
        await self.dialogs.save(actor, UPDATE, {"ref": view.ref, "changes": changes})
        return [
            Reply(
                title=f"Update {view.ref} · {view.customer}?",
                text="\n".join(_describe_changes(view, changes)),
                buttons=[
                    Button("Confirm", "deal.update.confirm", {"ref": view.ref}, style="primary"),
                    Button("Cancel", "dialog.cancel"),
                ],
                ref=view.ref,
            )
        ]


# -- slots ------------------------------------------------------------------------------------------


def _slots_from(reading: Reading, names: tuple[str, ...]) -> dict[str, Any]:
    """The registration slots ``names`` the layer read, as a dialog keeps them (an amount as its number
    and currency, a date in ISO form)."""
    slots: dict[str, Any] = {}
    for name in names:
        value = reading.get(name)
        if isinstance(value, Money):
            slots[name] = _money_slot(value)
        elif isinstance(value, date):
            slots[name] = value.isoformat()
        elif value:
            slots[name] = value
    return slots


def _changes_in(reading: Reading) -> dict[str, Any]:
    """The changes to a deal an update's reading names (a stage only if it is one of the deal's)."""
    changes = {name: reading.get(name) for name in CHANGES if reading.get(name) is not None}
    if changes.get("stage") not in STAGES:
        changes.pop("stage", None)
    return changes


def _slots_to_draft(slots: dict[str, Any]) -> DealDraft:
    amount = slots["amount"]
    return DealDraft(
        customer=slots["customer"],
        product=slots["product"],
        amount=Money(Decimal(amount["amount"]), amount["currency"]),
        close_date=date.fromisoformat(slots["close_date"]),
        domain=slots.get("domain"),
        country=slots.get("country"),
        notes=slots.get("notes"),
    )


def _money_slot(money: Money) -> dict[str, str]:
    return {"amount": str(money.amount), "currency": money.currency}


def _read_into(
    slots: dict[str, Any],
    errors: dict[str, str],
    name: str,
    values: dict[str, str],
    read: Callable[[str], Any],
) -> None:
    """``slots[name]`` read from a form's non-empty value, or the reason it can't be in ``errors``."""
    if not values.get(name):
        return
    try:
        slots[name] = read(values[name])
    except InputError as exc:
        errors[name] = exc.message


def _validate_slot(name: str, value: Any, *, today: date, products: list[str]) -> Any:
    if name == "customer":
        return validate_company_name(value)
    if name == "domain":
        return normalize_domain(value)
    if name == "country":
        return _country(value)
    if name == "product":
        return _product(value, products)
    if name == "close_date":
        return validate_close_date(date.fromisoformat(value), today=today).isoformat()
    return value


def _country(value: Any) -> str:
    code = str(value).strip().upper()
    if len(code) != 2 or not code.isalpha():
        raise InputError("country", "Give the customer's country as a two-letter code such as DE or US.")
    return code


def _product(value: Any, products: list[str]) -> str:
    text = " ".join(str(value).split())
    if products:
        known = match_product(text, products)
        if known is None:
            raise InputError(
                "product", f"I don't know the product '{text}'. Products: {', '.join(products)}."
            )
        return known[0]
    if not text:
        raise InputError("product", QUESTIONS["product"])
    return text


def _edit_prompt(slots: dict[str, Any], products: list[str]) -> Reply:
    return Reply(
        text="What should I change? Say e.g. 'amount 150k', 'close end of April', 'product Edge Gateway' or "
        "'customer Globex Corporation' - or use the form.",
        form=views.registration_form(products, _draft(slots)),
    )


def _draft(slots: dict[str, Any]) -> dict[str, str]:
    """A registration's slots as the form's values."""
    return {
        "customer": slots.get("customer", ""),
        "domain": slots.get("domain") or "",
        "country": slots.get("country") or "",
        "product": slots.get("product", ""),
        "amount": format_money(Money(Decimal(slots["amount"]["amount"]), slots["amount"]["currency"]))
        if "amount" in slots
        else "",
        "close_date": slots.get("close_date", ""),
        "notes": slots.get("notes") or "",
    }


def _protected_until(view: DealView) -> str:
    return f"protected until {format_date(view.protection_until) if view.protection_until else '—'}"


# -- updates ----------------------------------------------------------------------------------------


def _changes_from(changes: dict[str, Any]) -> DealChanges:
    amount = changes.get("amount")
    return DealChanges(
        stage=changes.get("stage"),
        amount=Money(Decimal(amount["amount"]), amount["currency"]) if amount else None,
        close_date=date.fromisoformat(changes["close_date"]) if changes.get("close_date") else None,
        next_step=changes.get("next_step"),
        notes=changes.get("notes"),
    )


def _describe_changes(view: DealView, changes: dict[str, Any]) -> list[str]:
    lines = []
    if "stage" in changes:
        lines.append(f"Stage: {view.stage} → {changes['stage']}")
    if "amount" in changes:
        new = Money(Decimal(changes["amount"]["amount"]), changes["amount"]["currency"])
        lines.append(f"Amount: {format_money(view.amount)} → {format_money(new)}")
    if "close_date" in changes:
        lines.append(
            f"Close date: {format_date(view.close_date)} → {format_date(date.fromisoformat(changes['close_date']))}"
        )
    if "next_step" in changes:
        lines.append(f"Next step: {changes['next_step']}")
    if "notes" in changes:
        lines.append(f"Notes: {changes['notes']}")
    return lines
