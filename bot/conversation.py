"""The conversation: plain words, buttons and forms in; replies out. Dialog state is persisted per
person after every turn, so a half-finished registration survives a restart.

Every handler (Slack, Teams, terminal) calls exactly these three entry points:
``handle_text``, ``handle_action`` and ``submit_form``. ``request_key`` (a platform's event or
activity id) makes a retried delivery a no-op.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from rapidfuzz import fuzz, process

from bot.features.deals import views
from bot.features.deals.model import STAGES, DealChanges, DealDraft, DealView
from bot.features.deals.service import Deals
from bot.intents import (
    EDIT_RE,
    NO_RE,
    YES_RE,
    Details,
    extract_details,
    match_product,
    recognize,
)
from bot.kernel.amounts import Money, format_money, parse_money
from bot.kernel.companies import normalize_company, normalize_domain, validate_company_name
from bot.kernel.dates import format_date, parse_close_date, validate_close_date
from bot.kernel.errors import InputError, PartnerbotError, RequestFailed
from bot.kernel.messages import Actor, Button, FormResult, Reply
from bot.kernel.skills import Dialog, DialogStore, Skill
from store import queries
from store.db import Database

log = logging.getLogger(__name__)

RETRYING_TEXT = "That didn't go through on my side, and nothing was changed. I'm trying it again now."

MAX_MESSAGE = 2000
REQUIRED = ("customer", "product", "amount", "close_date")
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
REASON_PROMPTS = {
    "reject": (
        "deal.reject",
        "Reject {ref}",
        "Why are you rejecting {ref}? The partner will see the reason.",
    ),
    "ask_info": ("deal.ask_info", "Ask about {ref}", "What should the partner tell you about {ref}?"),
    "lost": ("deal.lost", "{ref} lost", "Why was {ref} lost? (e.g. price, went with a competitor)"),
    "extend": ("deal.extend", "Extend {ref}", "Why should the protection of {ref} be extended?"),
    "provide_info": (
        "deal.provide_info",
        "Information for {ref}",
        "What would you like to tell the reviewer about {ref}?",
    ),
}


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


def check_message(text: str) -> str | None:
    """Why a message can't be read, or None when it can."""
    if len(text) > MAX_MESSAGE:
        return (
            f"That message is {len(text):,} characters long; I read messages of up to {MAX_MESSAGE:,}. "
            "Send the essentials, e.g. 'register a deal for Globex, 120k USD, closing end of March'."
        )
    if any(ord(ch) < 32 and ch not in "\n\t\r" for ch in text) or "\x7f" in text:
        return "That message contains control characters I can't read; please send plain text."
    return None


class Conversation:
    def __init__(
        self,
        *,
        db: Database,
        deals: Deals,
        clock: Callable[[], datetime],
        default_currency: str = "USD",
        skills: Sequence[Skill] = (),
    ) -> None:
        self.db = db
        self.deals = deals
        self.clock = clock
        self.default_currency = default_currency
        self.dialogs = DialogStore(db=db, clock=clock)
        self.skills: list[Skill] = list(skills)

    def add_skill(self, skill: Skill) -> None:
        self.skills.append(skill)

    def _skill_for(self, name: str) -> Skill | None:
        prefix = name.split(".", 1)[0]
        return next((s for s in self.skills if s.prefix == prefix), None)

    # -- dialog state ---------------------------------------------------------------------------

    async def _load(self, actor: Actor) -> Dialog | None:
        return await self.dialogs.load(actor)

    async def _save(self, actor: Actor, flow: str, state: dict[str, Any]) -> None:
        await self.dialogs.save(actor, flow, state)

    async def _clear(self, actor: Actor) -> None:
        await self.dialogs.clear(actor)

    async def first_delivery(self, request_key: str) -> bool:
        """Claim a platform delivery that calls no other entry point (e.g. a welcome on install):
        False when it was seen before, so a redelivery does nothing twice."""
        return await self._first_delivery(request_key)

    async def _first_delivery(self, request_key: str | None) -> bool:
        if not request_key:
            return True
        async with self.db.transaction() as session:
            return await queries.claim_request(session, request_key, self.clock())

    async def _once(self, request_key: str | None, work: Callable[[], Awaitable[list[Reply]]]) -> list[Reply]:
        """Do a request's ``work`` once, whatever the platform redelivers, and keep its answer with the
        request key, so that an attempt whose answer could not be posted is answered by the next one:
        a retry gets the replies not yet posted (:meth:`answer_posted` counts them), or none.

        If the work raises (a bug, the database), the key stays free for the inbox's next attempt and
        :class:`RequestFailed` carries what to tell the person now - once, on the first failure."""
        if not request_key:
            return await self._guard(work)
        async with self.db.transaction() as session:
            if not await queries.claim_request(session, request_key, self.clock()):
                state = await queries.request_answer(session, request_key)
                if state is None or state[2] == 0:
                    # Done (answer kept below), or claimed by an attempt that died mid-work.
                    kept, posted = (state[0], state[1]) if state else (None, 0)
                    return [Reply.from_dict(r) for r in (kept or [])[posted:]]
                # An attempt whose work raised: this one does the work again.
        try:
            replies = await self._guard(work)
        except Exception as exc:
            async with self.db.transaction() as session:
                failures = await queries.note_failed(session, request_key)
            log.exception("request %s failed (%s time)", request_key, failures)
            raise RequestFailed([Reply(text=RETRYING_TEXT)] if failures == 1 else []) from exc
        async with self.db.transaction() as session:
            await queries.keep_answer(session, request_key, [r.to_dict() for r in replies])
        return replies

    async def answer_posted(self, request_key: str | None) -> None:
        """A platform posted one more reply of the answer :meth:`_once` kept for ``request_key``."""
        if request_key:
            async with self.db.transaction() as session:
                await queries.note_posted(session, request_key)

    # -- entry points ---------------------------------------------------------------------------

    async def handle_text(self, actor: Actor, text: str, *, request_key: str | None = None) -> list[Reply]:
        problem = check_message(text)
        if problem:
            return [Reply(text=problem)]
        if not text.strip():
            return [self._help(actor)]
        return await self._once(request_key, lambda: self._text(actor, text.strip()))

    async def handle_action(
        self, actor: Actor, action: str, data: dict[str, str] | None = None, *, request_key: str | None = None
    ) -> list[Reply]:
        return await self._once(request_key, lambda: self._action(actor, action, dict(data or {})))

    def precheck_form(self, values: Mapping[str, str | None]) -> dict[str, str]:
        """Field errors that the values alone show - no database, no person - for a platform that must
        answer a submitted form within seconds and can show errors in it (a Slack modal). Fields are
        read the way every form reads them (an ``amount`` is money, a ``close_date`` a date, ...);
        everything else is checked when the form is handled (:meth:`submit_form`)."""
        errors: dict[str, str] = {}
        # The earliest date it is anywhere: a date can only be "in the past" here if it is for everyone.
        earliest_today = (self.clock() - timedelta(hours=14)).date()
        for name, raw in values.items():
            value = (raw or "").strip()
            problem = check_message(value)
            if problem:
                errors[name] = problem
                continue
            if not value:
                continue
            try:
                if name == "amount":
                    parse_money(value, default_currency=self.default_currency)
                elif name == "close_date":
                    parse_close_date(value, today=earliest_today)
                elif name == "customer":
                    validate_company_name(value)
                elif name == "domain":
                    normalize_domain(value)
            except InputError as exc:
                errors[name] = exc.message
        return errors

    async def submit_form(
        self,
        actor: Actor,
        form_id: str,
        values: dict[str, str | None],
        *,
        data: dict[str, str] | None = None,
        request_key: str | None = None,
    ) -> FormResult:
        for name, value in values.items():
            problem = check_message(value or "")
            if problem:
                return FormResult(errors={name: problem})
        answered: FormResult | None = None

        async def work() -> list[Reply]:
            nonlocal answered
            answered = await self._form_result(actor, form_id, values, data)
            return list(answered.replies)

        replies = await self._once(request_key, work)
        if answered is None:  # a retry: what is left of the answer the first attempt kept
            return FormResult(replies=replies)
        if request_key and not answered.ok:
            # Field errors changed nothing: a corrected resubmission must go through.
            async with self.db.transaction() as session:
                await queries.release_request(session, request_key)
        return answered

    async def _form_result(
        self, actor: Actor, form_id: str, values: dict[str, str | None], data: dict[str, str] | None
    ) -> FormResult:
        try:
            return await self._form(
                actor, form_id, {k: (v or "").strip() for k, v in values.items()}, dict(data or {})
            )
        except InputError as exc:
            return FormResult(errors={exc.field: exc.message})
        except PartnerbotError as exc:
            return FormResult(replies=[Reply(text=str(exc))])

    async def _guard(self, step: Callable[[], Awaitable[list[Reply]]]) -> list[Reply]:
        try:
            return await step()
        except PartnerbotError as exc:
            return [Reply(text=str(exc))]

    # -- text -----------------------------------------------------------------------------------

    async def _text(self, actor: Actor, text: str) -> list[Reply]:
        products = await self.deals.products()
        today = self.deals.today_for(actor)
        intent = recognize(text, today=today, products=products, default_currency=self.default_currency)
        if intent.name == "cancel":
            return await self._cancel(actor)
        dialog = await self._load(actor)
        if intent.name == "help":
            replies = [self._help(actor)]
            if dialog:
                replies.append(
                    Reply(
                        text="We're still in the middle of something: answer the last question, or type cancel."
                    )
                )
            return replies
        if dialog is not None:
            owner = self._skill_for(dialog.flow)
            if owner is not None:
                handled = await owner.continue_dialog(actor, dialog, text)
            else:
                handled = await self._continue(actor, dialog, text, products=products, today=today)
            if handled is not None:
                return handled
        for skill in self.skills:
            claimed = await skill.on_text(actor, text)
            if claimed is not None:
                return claimed
        return await self._intent(actor, intent, products=products)

    async def _intent(self, actor: Actor, intent: Any, *, products: list[str]) -> list[Reply]:
        name = intent.name
        if name == "register":
            if actor.is_staff:
                return [
                    Reply(
                        text="Deals are registered by partners. Try 'pending' to see what waits for review."
                    )
                ]
            await self._clear(actor)
            return await self._collect(actor, self._slots_from(intent.details, {}), products=products)
        if name == "list":
            scope = intent.text
            if scope in ("review", "conflicts") and not actor.is_staff:
                scope = "open"
            found = await self.deals.list_deals(actor, scope=scope)
            title = {
                "review": "Waiting for review",
                "conflicts": "Possible conflicts",
                "all": "All deals",
            }.get(scope, "Open deals" if actor.is_staff else "Your open deals")
            empty = {"review": "Nothing waits for review.", "conflicts": "No conflicts wait for review."}.get(
                scope, "No open deals. Say 'register a deal' to add one."
            )
            return [views.deal_list(found, actor, title=title, empty=empty)]
        if name == "status":
            if intent.ref:
                return [views.deal_card(await self.deals.get(actor, intent.ref), actor)]
            return await self._status_by_customer(actor, intent.text)
        if name == "history":
            return [views.history_reply(await self.deals.get(actor, intent.ref, history=True))]
        if name == "approve":
            view = await self.deals.approve(actor, intent.ref)
            return [
                views.review_outcome(
                    view,
                    outcome=f"Approved by {actor.name}: protected until "
                    f"{format_date(view.protection_until) if view.protection_until else '—'}",
                )
            ]
        if name in REASON_PROMPTS:
            if intent.reason:
                return await self._apply_reason(actor, name, intent.ref, intent.reason)
            return await self._ask_reason(actor, name, intent.ref)
        if name == "won":
            view = await self.deals.close(actor, intent.ref, won=True, reason=intent.reason)
            return [views.deal_card(view, actor, headline=f"{view.ref} marked as won. Congratulations!")]
        if name == "update":
            return await self._propose_update(actor, intent.ref, intent.details)
        return [
            Reply(
                text="I didn't catch that. You can say things like 'register a deal for Globex, 120k USD, closing "
                "end of March', 'show my deals', 'D-12 moved to proposal' or 'help'.",
                buttons=self._help_buttons(actor),
            )
        ]

    async def _status_by_customer(self, actor: Actor, phrase: str) -> list[Reply]:
        customers = await self.deals.customers_visible(actor)
        if not customers or not phrase:
            return [Reply(text=f"I can't find a deal for '{phrase}' among your deals.")]
        key = normalize_company(phrase)
        names = {name: normalize_company(name) for name, _ in customers}
        ranked = process.extract(key, names, scorer=fuzz.WRatio, limit=3)
        refs: dict[str, list[str]] = dict(customers)
        if ranked and ranked[0][1] >= 90:
            name = ranked[0][2]
            found = refs[name]
            if len(found) == 1:
                return [views.deal_card(await self.deals.get(actor, found[0]), actor)]
            listed = [await self.deals.get(actor, r) for r in found]
            return [views.deal_list(listed, actor, title=f"Deals for {name}", empty="")]
        close = [r for r in ranked if r[1] >= 70]
        if close:
            return [
                Reply(
                    text=f"I can't find '{phrase}'. Did you mean {close[0][2]}?",
                    buttons=[
                        Button(f"{n} ({refs[n][0]})", "deal.show", {"ref": refs[n][0]}) for _, _, n in close
                    ],
                )
            ]
        return [Reply(text=f"I can't find a deal for '{phrase}' among your deals.")]

    # -- registration dialog ------------------------------------------------------------------

    def _slots_from(self, found: Details, slots: dict[str, Any]) -> dict[str, Any]:
        slots = dict(slots)
        if found.customer:
            slots["customer"] = found.customer
        for name in ("domain", "country", "product", "notes"):
            value = getattr(found, name)
            if value:
                slots[name] = value
        if found.amount:
            slots["amount"] = _money_slot(found.amount)
        if found.close_date:
            slots["close_date"] = found.close_date.isoformat()
        return slots

    async def _collect(
        self, actor: Actor, slots: dict[str, Any], *, products: list[str], prefix: str = ""
    ) -> list[Reply]:
        """Validate what we have, ask for the next missing detail, or show the summary."""
        today = self.deals.today_for(actor)
        problems: list[str] = []
        for name in list(slots):
            try:
                slots[name] = self._validate_slot(name, slots[name], today=today, products=products)
            except InputError as exc:
                problems.append(exc.message)
                slots.pop(name)
        lead = "\n".join(([prefix] if prefix else []) + problems)
        if "customer" in slots and not slots.get("customer_checked"):
            suggestion = await self._similar_customer(actor, slots["customer"])
            slots["customer_checked"] = True
            if suggestion:
                slots["customer_suggestion"] = suggestion
                await self._save(actor, "register", {"slots": slots, "asking": "customer_suggestion"})
                return [
                    Reply(
                        text=(lead + "\n" if lead else "") + f"Did you mean {suggestion}?",
                        buttons=[
                            Button(f"Yes, {suggestion}", "deal.customer.yes", style="primary"),
                            Button(f"No, {slots['customer']} is new", "deal.customer.no"),
                        ],
                    )
                ]
        for name in REQUIRED:
            if name not in slots:
                await self._save(actor, "register", {"slots": slots, "asking": name})
                buttons = []
                if name == "product" and products:
                    buttons = [Button(p, "deal.product.pick", {"product": p}) for p in products[:8]]
                return [Reply(text=(lead + "\n" if lead else "") + QUESTIONS[name], buttons=buttons)]
        await self._save(actor, "register", {"slots": slots, "asking": "confirm"})
        summary = views.draft_summary(_slots_to_draft(slots))
        if lead:
            summary.text = lead + "\n" + summary.text
        return [summary]

    def _validate_slot(self, name: str, value: Any, *, today: date, products: list[str]) -> Any:
        if name == "customer":
            return validate_company_name(value)
        if name == "domain":
            return normalize_domain(value)
        if name == "country":
            code = str(value).strip().upper()
            if len(code) != 2 or not code.isalpha():
                raise InputError(
                    "country", "Give the customer's country as a two-letter code such as DE or US."
                )
            return code
        if name == "product":
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
        if name == "close_date":
            return validate_close_date(date.fromisoformat(value), today=today).isoformat()
        return value

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

    async def _continue(
        self, actor: Actor, dialog: Dialog, text: str, *, products: list[str], today: date
    ) -> list[Reply] | None:
        """The next turn of a dialog in progress, or None when the message starts something new."""
        state = dialog.state
        if dialog.flow == "register":
            slots = dict(state.get("slots", {}))
            asking = state.get("asking")
            if asking == "confirm":
                if YES_RE.match(text):
                    return await self._register(actor, slots, products=products)
                if NO_RE.match(text):
                    return await self._cancel(actor)
                if EDIT_RE.match(text):
                    return [self._edit_prompt(slots, products)]
                changed = self._field_edits(text, today=today, products=products)
                if changed:
                    return await self._collect(
                        actor,
                        {
                            **slots,
                            **changed,
                            **({"customer_checked": False} if "customer" in changed else {}),
                        },
                        products=products,
                    )
                return (
                    None
                    if recognize(
                        text, today=today, products=products, default_currency=self.default_currency
                    ).name
                    != "unknown"
                    else [
                        Reply(
                            text="Reply 'yes' to register, tell me what to change (e.g. 'amount 150k'), or 'cancel'.",
                            buttons=views.draft_summary(_slots_to_draft(slots)).buttons,
                        )
                    ]
                )
            if asking == "customer_suggestion":
                if YES_RE.match(text):
                    return await self._action(actor, "deal.customer.yes", {})
                if NO_RE.match(text):
                    return await self._action(actor, "deal.customer.no", {})
                slots.pop("customer_suggestion", None)
            if asking in REQUIRED or asking == "customer_suggestion":
                field = "customer" if asking == "customer_suggestion" else asking
                if _starts_something_else(
                    recognize(text, today=today, products=products, default_currency=self.default_currency)
                ):
                    return None  # e.g. "show my deals" while asked for the customer: answer that instead
                found = extract_details(
                    text, today=today, products=products, default_currency=self.default_currency
                )
                more = self._slots_from(found, {})
                more.pop("customer", None)
                value = self._answer_for(field, text, found, today=today)
                if value is None and not more:
                    if recognize(
                        text, today=today, products=products, default_currency=self.default_currency
                    ).name not in ("unknown", "status", "register"):
                        return None
                    return [
                        Reply(
                            text=self._why_not(field, text, today=today, products=products)
                            + "\n"
                            + QUESTIONS[field]
                        )
                    ]
                if value is not None:
                    more[field] = value
                    if field == "customer":
                        more["customer_checked"] = False
                try:
                    for name, val in more.items():
                        if name != "customer_checked":
                            self._validate_slot(name, val, today=today, products=products)
                except InputError as exc:
                    return [Reply(text=exc.message + "\n" + QUESTIONS.get(exc.field, QUESTIONS[field]))]
                return await self._collect(actor, {**slots, **more}, products=products)
            return None
        if dialog.flow == "reason":
            if recognize(
                text, today=today, products=products, default_currency=self.default_currency
            ).name not in ("unknown", "status"):
                return None
            await self._clear(actor)
            return await self._apply_reason(actor, state["action"], state["ref"], text)
        if dialog.flow == "update":
            if YES_RE.match(text):
                return await self._action(actor, "deal.update.confirm", {})
            if NO_RE.match(text):
                return await self._cancel(actor)
            found = extract_details(
                text, today=today, products=products, default_currency=self.default_currency
            )
            if any(
                v is not None
                for v in (found.stage, found.amount, found.close_date, found.next_step, found.notes)
            ):
                return await self._propose_update(actor, state["ref"], found)
            return None
        return None

    def _answer_for(self, field: str, text: str, found: Details, *, today: date) -> Any:
        if field == "customer":
            name = found.customer or found.leftover or text
            return name.strip(" .") or None
        if field == "product":
            return found.product or (text if text else None)
        if field == "amount":
            if found.amount:
                return _money_slot(found.amount)
            try:
                return _money_slot(parse_money(text, default_currency=self.default_currency))
            except InputError:
                return None
        if field == "close_date":
            if found.close_date:
                return found.close_date.isoformat()
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
                self._validate_slot("product", text, today=today, products=products)
        except InputError as exc:
            return exc.message
        return f"I couldn't read that as the {field.replace('_', ' ')}."

    def _field_edits(self, text: str, *, today: date, products: list[str]) -> dict[str, Any]:
        """'amount 150k', 'customer Globex Inc', 'close end of April' while confirming."""
        words = text.strip().split(None, 1)
        if len(words) == 2 and words[0].lower().rstrip(":") in FIELD_WORDS:
            field, value = FIELD_WORDS[words[0].lower().rstrip(":")], words[1].strip()
            if field == "amount":
                return {"amount": _money_slot(parse_money(value, default_currency=self.default_currency))}
            if field == "close_date":
                value = value.removeprefix("date").strip()
                return {"close_date": parse_close_date(value, today=today).isoformat()}
            return {field: value}
        found = extract_details(text, today=today, products=products, default_currency=self.default_currency)
        return {k: v for k, v in self._slots_from(found, {}).items() if k != "customer"}

    def _edit_prompt(self, slots: dict[str, Any], products: list[str]) -> Reply:
        draft = {
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
        return Reply(
            text="What should I change? Say e.g. 'amount 150k', 'close end of April', 'product Edge Gateway' or "
            "'customer Globex Corporation' - or use the form.",
            form=views.registration_form(products, draft),
        )

    async def _register(self, actor: Actor, slots: dict[str, Any], *, products: list[str]) -> list[Reply]:
        try:
            view = await self.deals.register(actor, _slots_to_draft(slots))
        except InputError as exc:
            slots.pop(exc.field, None)
            return await self._collect(actor, slots, products=products, prefix=exc.message)
        await self._clear(actor)
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

    async def _cancel(self, actor: Actor) -> list[Reply]:
        dialog = await self._load(actor)
        await self._clear(actor)
        if dialog is None:
            return [Reply(text="Nothing to cancel. Say 'help' to see what I can do.")]
        return [Reply(text="Cancelled. Nothing was saved.")]

    # -- reasons, updates -----------------------------------------------------------------------

    async def _ask_reason(self, actor: Actor, action: str, ref: str) -> list[Reply]:
        view = await self.deals.get(actor, ref)  # not found answers before anything is asked
        form_id, title, prompt = REASON_PROMPTS[action]
        await self._save(actor, "reason", {"action": action, "ref": view.ref})
        label = prompt.format(ref=view.ref)
        return [
            Reply(
                text=label,
                form=views.reason_form(form_id, ref=view.ref, title=title.format(ref=view.ref), label=label),
            )
        ]

    async def _apply_reason(self, actor: Actor, action: str, ref: str, reason: str) -> list[Reply]:
        if action == "reject":
            view = await self.deals.reject(actor, ref, reason=reason)
            return [views.review_outcome(view, outcome=f"Rejected by {actor.name}: {view.decision_reason}")]
        if action == "ask_info":
            view = await self.deals.request_info(actor, ref, question=reason)
            return [
                views.review_outcome(view, outcome=f"{actor.name} asked the partner: {view.decision_reason}")
            ]
        if action == "lost":
            view = await self.deals.close(actor, ref, won=False, reason=reason)
            return [
                views.deal_card(
                    view, actor, headline=f"{view.ref} marked as lost. Thanks for letting us know."
                )
            ]
        if action == "extend":
            view = await self.deals.request_extension(actor, ref, reason=reason)
            return [
                views.deal_card(
                    view, actor, headline=f"Extension of {view.ref} requested; I'll tell you the decision."
                )
            ]
        if action == "provide_info":
            view = await self.deals.provide_info(actor, ref, info=reason)
            return [views.deal_card(view, actor, headline=f"Thanks, {view.ref} is back with the reviewers.")]
        if action == "decline_extension":
            view = await self.deals.decide_extension(actor, ref, approve=False, reason=reason)
            return [views.review_outcome(view, outcome=f"Extension declined by {actor.name}")]
        raise InputError("action", f"Unknown action {action}.")

    async def _propose_update(self, actor: Actor, ref: str, found: Details) -> list[Reply]:
        view = await self.deals.get(actor, ref)
        changes = {
            "stage": found.stage,
            "amount": _money_slot(found.amount) if found.amount else None,
            "close_date": found.close_date.isoformat() if found.close_date else None,
            "next_step": found.next_step,
            "notes": found.notes,
        }
        changes = {k: v for k, v in changes.items() if v is not None}
        if found.close_date:
            validate_close_date(found.close_date, today=self.deals.today_for(actor))
        await self._save(actor, "update", {"ref": view.ref, "changes": changes})
        lines = _describe_changes(view, changes)
        return [
            Reply(
                title=f"Update {view.ref} · {view.customer}?",
                text="\n".join(lines),
                buttons=[
                    Button("Confirm", "deal.update.confirm", {"ref": view.ref}, style="primary"),
                    Button("Cancel", "dialog.cancel"),
                ],
                ref=view.ref,
            )
        ]

    # -- buttons --------------------------------------------------------------------------------

    async def _action(self, actor: Actor, action: str, data: dict[str, str]) -> list[Reply]:
        skill = self._skill_for(action)
        if skill is not None:
            return await skill.on_action(actor, action, data)
        ref = data.get("ref", "")
        products = await self.deals.products()
        if action == "dialog.cancel":
            return await self._cancel(actor)
        if action == "help":
            return [self._help(actor)]
        if action == "deals.list":
            return await self._intent(
                actor, _Simple("list", text=data.get("scope", "open")), products=products
            )
        if action == "deal.register.start":
            if actor.is_staff:
                return [Reply(text="Deals are registered by partners.")]
            return [
                Reply(
                    text="Fill in the form, or tell me in a sentence.", form=views.registration_form(products)
                )
            ]
        if (
            action.startswith("deal.register.")
            or action.startswith("deal.customer.")
            or action == "deal.product.pick"
        ):
            dialog = await self._load(actor)
            if dialog is None or dialog.flow != "register":
                return [
                    Reply(
                        text="That registration was already sent or cancelled; say 'register a deal' to start another."
                    )
                ]
            slots = dict(dialog.state.get("slots", {}))
            if action == "deal.register.confirm":
                if dialog.state.get("asking") != "confirm":
                    return await self._collect(actor, slots, products=products)
                return await self._register(actor, slots, products=products)
            if action == "deal.register.edit":
                return [self._edit_prompt(slots, products)]
            if action == "deal.customer.yes":
                slots["customer"] = slots.pop("customer_suggestion", slots.get("customer"))
                return await self._collect(actor, slots, products=products)
            if action == "deal.customer.no":
                slots.pop("customer_suggestion", None)
                return await self._collect(actor, slots, products=products)
            if action == "deal.product.pick":
                slots["product"] = data.get("product", "")
                return await self._collect(actor, slots, products=products)
        if action == "deal.show":
            return [views.deal_card(await self.deals.get(actor, ref), actor)]
        if action == "deal.history":
            return [views.history_reply(await self.deals.get(actor, ref, history=True))]
        if action == "deal.approve":
            return await self._intent(actor, _Simple("approve", ref=ref), products=products)
        if action == "deal.extension.approve":
            view = await self.deals.decide_extension(actor, ref, approve=True)
            return [
                views.review_outcome(
                    view,
                    outcome=f"Extension approved by {actor.name}: protected until "
                    f"{format_date(view.protection_until) if view.protection_until else '—'}",
                )
            ]
        if action == "deal.extension.decline":
            return await self._apply_reason(actor, "decline_extension", ref, "")
        if action == "deal.won":
            return await self._intent(actor, _Simple("won", ref=ref), products=products)
        short = action.removeprefix("deal.")
        if short in REASON_PROMPTS:
            return await self._ask_reason(actor, short, ref)
        if action == "deal.update":
            view = await self.deals.get(actor, ref)
            await self._save(actor, "update", {"ref": view.ref, "changes": {}})
            return [
                Reply(
                    text=f"What changed on {view.ref}? E.g. 'stage proposal, closing end of April', or use the form.",
                    form=views.update_form(view),
                )
            ]
        if action == "deal.update.confirm":
            dialog = await self._load(actor)
            if dialog is None or dialog.flow != "update" or not dialog.state.get("changes"):
                return [Reply(text="That update was already saved or cancelled.")]
            changes = dialog.state["changes"]
            view = await self.deals.update(actor, dialog.state["ref"], _changes_from(changes))
            await self._clear(actor)
            return [views.deal_card(view, actor, headline=f"Saved. {view.ref} is up to date.")]
        return [Reply(text="That button is no longer available.")]

    # -- forms ----------------------------------------------------------------------------------

    async def _form(
        self, actor: Actor, form_id: str, values: dict[str, str], data: dict[str, str]
    ) -> FormResult:
        skill = self._skill_for(form_id)
        if skill is not None:
            return await skill.on_form(actor, form_id, values, data)

        products = await self.deals.products()
        today = self.deals.today_for(actor)
        if form_id == "deal.register":
            if actor.is_staff:
                return FormResult(replies=[Reply(text="Deals are registered by partners.")])
            errors: dict[str, str] = {}
            slots: dict[str, Any] = {}
            for name in ("customer", "domain", "country", "product", "notes"):
                if values.get(name):
                    try:
                        slots[name] = self._validate_slot(name, values[name], today=today, products=products)
                    except InputError as exc:
                        errors[name] = exc.message
            for name in REQUIRED:
                if not values.get(name):
                    errors.setdefault(name, QUESTIONS[name])
            if values.get("amount"):
                try:
                    slots["amount"] = _money_slot(
                        parse_money(values["amount"], default_currency=self.default_currency)
                    )
                except InputError as exc:
                    errors["amount"] = exc.message
            if values.get("close_date"):
                try:
                    slots["close_date"] = parse_close_date(values["close_date"], today=today).isoformat()
                except InputError as exc:
                    errors["close_date"] = exc.message
            if errors:
                return FormResult(errors=errors)
            slots["customer_checked"] = True
            return FormResult(replies=await self._collect(actor, slots, products=products))
        if form_id == "deal.update":
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
            await self._clear(actor)
            return FormResult(
                replies=[views.deal_card(view, actor, headline=f"Saved. {view.ref} is up to date.")]
            )
        short = form_id.removeprefix("deal.")
        if short in REASON_PROMPTS:
            reason = values.get("reason", "")
            if not reason:
                return FormResult(
                    errors={"reason": REASON_PROMPTS[short][2].format(ref=data.get("ref", "the deal"))}
                )
            replies = await self._apply_reason(actor, short, data.get("ref", ""), reason)
            await self._clear(actor)
            return FormResult(replies=replies)
        return FormResult(replies=[Reply(text="That form is no longer available.")])

    # -- home ---------------------------------------------------------------------------------

    async def home(self, actor: Actor) -> list[Reply]:
        """What a person sees on the bot's home (Slack App Home, a Teams welcome card): a partner's open
        deals with quick actions; staff's queues - registrations waiting for review and conflicts."""
        if actor.is_staff:
            review = await self.deals.list_deals(actor, scope="review")
            conflicts = await self.deals.list_deals(actor, scope="conflicts")
            return [
                Reply(
                    title=f"Hi {actor.name.split()[0]} - your queues",
                    text="",
                    buttons=self._help_buttons(actor),
                ),
                views.deal_list(review, actor, title="Waiting for review", empty="Nothing waits for review."),
                views.deal_list(
                    conflicts, actor, title="Possible conflicts", empty="No conflicts wait for review."
                ),
            ] + await self._skill_homes(actor)
        deals = await self.deals.list_deals(actor, scope="open")
        return [
            Reply(
                title=f"Hi {actor.name.split()[0]}",
                text="Register deals and keep them current in a few words.",
                buttons=self._help_buttons(actor),
            ),
            views.deal_list(
                deals,
                actor,
                title="Your open deals",
                empty="No open deals. Say 'register a deal' to add one.",
            ),
        ] + await self._skill_homes(actor)

    async def _skill_homes(self, actor: Actor) -> list[Reply]:
        sections: list[Reply] = []
        for skill in self.skills:
            sections += await skill.home(actor)
        return sections

    # -- help -----------------------------------------------------------------------------------

    def _help_buttons(self, actor: Actor) -> list[Button]:
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

    def _help(self, actor: Actor) -> Reply:
        if actor.is_staff:
            lines = [
                "pending - registrations waiting for review",
                "conflicts - registrations that may clash with another partner's",
                "show deals / show all deals - the pipeline",
                "D-12 - one deal; history D-12 - its changes",
                "approve D-12 / reject D-12 because … / ask info D-12: …",
                "D-12 moved to negotiation, closing next month - update a deal",
            ]
        else:
            lines = [
                "register a deal for Globex, 120k USD of Cloud Suite, closing end of March",
                "show my deals - your open registrations",
                "what's the status of the Globex deal? / D-12",
                "D-12 moved to proposal, closing next month - update a deal",
                "D-12 won / D-12 lost because price",
                "extend D-12 because the budget moved to Q3",
            ]
        for skill in self.skills:
            lines += skill.help_lines(actor)
        lines.append("cancel - stop what we're doing")
        return Reply(
            title="Here's what I can do",
            text="\n".join(f"• {line}" for line in lines),
            buttons=self._help_buttons(actor),
        )


@dataclass(slots=True)
class _Simple:
    name: str
    ref: str | None = None
    text: str = ""
    reason: str | None = None
    details: Details | None = None


LEAD_OR_QUESTION_REF_RE = re.compile(r"\b[LQM]-\d{1,9}\b", re.IGNORECASE)


def _starts_something_else(intent: Any) -> bool:
    """A message that is clearly a new request rather than an answer to the question asked."""
    if LEAD_OR_QUESTION_REF_RE.search(intent.text or ""):
        return True  # "L-3 contacted" is about a lead, not a customer name
    if intent.name in ("unknown", "register"):
        return False
    return intent.name != "status" or bool(intent.ref)


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
