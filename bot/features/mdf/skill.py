"""MDF in the conversation: plain words, buttons and forms for partners and staff.

What people type is read by the understanding layer into the intents of :mod:`bot.features.mdf.intents`
(a request, the balance, a list, one request's status or history, a claim, staff's decisions, payments
and budgets); the details of each are read by the intents' parsers (:mod:`bot.features.mdf.reading`) and
acted on here in ``on_intent``. Every decision is the MDF service's (:mod:`bot.features.mdf.service`);
this module builds replies and runs the dialogs (a request asked for one detail at a time, a claim's
proof, a rejection's reason, a partial approval's amount).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from typing import Any

from rapidfuzz import fuzz, process
from rapidfuzz.utils import default_process

from bot.features.mdf import views as mdf_views
from bot.features.mdf.intents import MDF_INTENTS
from bot.features.mdf.model import BalanceView, MdfDraft, MdfView
from bot.features.mdf.reading import (
    NO_CURRENCY,
    RESULTS_RE,
    URL_RE,
    clean_activity,
    money_of,
    money_slot,
    parse_request_text,
    split_claim,
)
from bot.features.mdf.service import (
    PROOF_HINT,
    PROOF_RE,
    Mdf,
    over_balance_text,
    parse_activity_dates,
)
from bot.kernel.amounts import Money, format_money, parse_money
from bot.kernel.dates import quarter_of
from bot.kernel.errors import InputError, NotAllowed
from bot.kernel.messages import Actor, Button, Choice, Fact, FormResult, Reply
from bot.kernel.refs import DEAL, LEAD, MDF_REQUEST, QUESTION, mention_any
from bot.kernel.skills import Dialog, DialogStore, cancelled, stale_button, stale_form
from bot.kernel.understanding.entities import Named
from bot.kernel.understanding.spec import Reading
from bot.kernel.words import NO_RE, YES_RE

MREF_RE = MDF_REQUEST.mention()
OTHER_REF_RE = mention_any(loose=(DEAL, LEAD), strict=(QUESTION,))
SLOTS = ("activity", "dates", "amount", "expected_results")


class MdfSkill:
    """Implements :class:`bot.kernel.skills.Skill` for MDF (``prefix = "mdf"``)."""

    prefix = "mdf"
    also_takes = frozenset({"staff.pending"})  # "pending mdf requests?": the review queue's MDF part
    intents = MDF_INTENTS

    def __init__(self, *, mdf: Mdf, dialogs: DialogStore, default_currency: str = "USD") -> None:
        self.mdf = mdf
        self.dialogs = dialogs
        self.default_currency = default_currency

    # -- Skill ------------------------------------------------------------------------------------

    def help_lines(self, actor: Actor) -> list[str]:
        if actor.is_staff:
            return [
                "MDF requests - MDF requests waiting for a decision or payment; M-3 - one request",
                "approve M-3 / approve M-3 3000 (in part) / reject M-3 because … / mark M-3 paid",
                "MDF budget Northwind Partners 2027-Q1 50k EUR / MDF balance for Northwind Partners",
            ]
        return [
            "what's my MDF balance? - your MDF budget and what's left",
            "I'd like MDF for a webinar, 5k EUR, 10-20 March, expecting 40 leads",
            "my MDF requests / M-3 - your requests; claim M-3 with https://… results: 38 leads",
        ]

    records = MDF_REQUEST

    async def form_choices(
        self, actor: Actor, form_id: str, field: str, data: dict[str, str]
    ) -> list[Choice] | None:
        """The partner picker of the budget form: every partner for staff, a partner user's own only."""
        if form_id != "mdf.budget" or field != "partner":
            return None
        names = (
            await self.mdf.partner_names(actor) if actor.is_staff else [await self.mdf.partner_name(actor)]
        )
        return [Choice(n, n) for n in names if n]

    async def findable(self, actor: Actor) -> list[Named]:
        return [n for n in await self.names(actor) if n.kind == MDF_REQUEST.prefix]

    async def names(self, actor: Actor) -> list[Named]:
        """Activities of the MDF requests ``actor`` may see; partners' names for staff, and a partner
        user's own organisation (never another's)."""
        named = [Named("M", ref, activity) for ref, activity in await self.mdf.activities_visible(actor)]
        partners = (
            await self.mdf.partner_names(actor) if actor.is_staff else [await self.mdf.partner_name(actor)]
        )
        return named + [Named("partner", n, n) for n in partners if n]

    async def on_intent(self, actor: Actor, reading: Reading) -> list[Reply] | None:
        """Act on a reading of the understanding layer (:mod:`bot.features.mdf.intents`); the details
        come from the reading's slots, which the intents' parsers read (:mod:`bot.features.mdf.reading`)."""
        if reading.intent == "mdf.request":
            draft, problems = reading.get("draft") or {}, reading.get("problems") or []
            return await self._start_request(actor, dict(draft), list(problems))
        if reading.intent == "staff.pending" and reading.get("topic") == "mdf":
            return await self._list(
                actor, scope="open"
            )  # the review queue's MDF part (the deal skill's intent)
        if reading.intent == "mdf.list":
            return await self._list(actor, scope="all" if reading.get("scope") == "all" else "open")
        if reading.intent in ("mdf.balance", "staff.mdf_budget"):
            return await self._budget_or_balance(actor, reading)
        ref = reading.ref
        if ref is None:
            if reading.candidates:
                return [
                    Reply(
                        text="Which MDF request do you mean?",
                        buttons=[Button(f"{r} {n}", "mdf.show", {"ref": r}) for r, n in reading.candidates],
                    )
                ]
            return await self._list(actor, scope="open")
        if reading.intent == "mdf.claim":
            return await self._claim(actor, ref, reading.get("proof"), reading.get("results"))
        if reading.intent == "staff.mdf_decide":
            decision = reading.get("decision")
            if decision == "approve":
                return await self._approve(actor, ref, reading)
            if decision == "reject":
                if reading.get("reason"):
                    return await self._reject(actor, ref, reading.get("reason"))
                return await self._ask_reject_reason(actor, ref)
        if reading.intent == "staff.mdf_paid":
            return await self._mark_paid(actor, ref, reading)
        if reading.get("view") == "history":
            return [mdf_views.history_reply(await self.mdf.get(actor, ref, history=True))]
        return await self._show(actor, ref, hint=len(reading.text.split()) > 4)

    async def continue_dialog(self, actor: Actor, dialog: Dialog, text: str) -> list[Reply] | None:
        answer = self._dialog_answers.get(dialog.flow)
        return await answer(actor, dialog.state, text) if answer else None

    @property
    def _dialog_answers(
        self,
    ) -> dict[str, Callable[[Actor, dict[str, Any], str], Awaitable[list[Reply] | None]]]:
        """What answers the next message in each MDF dialog, by flow name."""
        return {
            "mdf.request": self._request_answer,
            "mdf.claim": self._claim_answer,
            "mdf.reject": self._reject_reason_answer,
            "mdf.approve_part": self._approve_part_answer,
        }

    async def _reject_reason_answer(self, actor: Actor, state: dict[str, Any], text: str) -> list[Reply]:
        await self._clear_mine(actor)
        return await self._reject(actor, state["ref"], text)

    async def _approve_part_answer(self, actor: Actor, state: dict[str, Any], text: str) -> list[Reply]:
        await self._clear_mine(actor)
        return await self._approve_answer(actor, state["ref"], text)

    async def on_action(self, actor: Actor, action: str, data: dict[str, str]) -> list[Reply]:
        handler = self._actions.get(action)
        return await handler(actor, data) if handler else stale_button()

    @property
    def _actions(self) -> dict[str, Callable[[Actor, dict[str, str]], Awaitable[list[Reply]]]]:
        """Each button this skill puts on a message, by action name."""
        return {
            "mdf.show": self._show_action,
            "mdf.history": self._history_action,
            "mdf.list": lambda actor, data: self._list(actor, scope=data.get("scope", "open")),
            "mdf.balance": lambda actor, data: self._balance(actor),
            "mdf.request.start": lambda actor, data: self._start_request(actor, {}),
            "mdf.request.confirm": self._request_confirm_action,
            "mdf.request.edit": self._request_edit_action,
            "mdf.approve": self._approve_action,
            "mdf.approve_part": self._approve_part_action,
            "mdf.reject": lambda actor, data: self._ask_reject_reason(actor, data.get("ref", "")),
            "mdf.claim": lambda actor, data: self._claim(actor, data.get("ref", ""), None, None),
            "mdf.paid": self._paid_action,
            "mdf.budget.start": lambda actor, data: self._budget_form(actor),
        }

    async def _show_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        return [mdf_views.request_card(await self.mdf.get(actor, data.get("ref", "")), actor)]

    async def _history_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        return [mdf_views.history_reply(await self.mdf.get(actor, data.get("ref", ""), history=True))]

    async def _request_confirm_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        dialog = await self.dialogs.load(actor)
        if dialog is None or dialog.flow != "mdf.request" or dialog.state.get("asking") != "confirm":
            return [
                Reply(text="That request was already sent or cancelled; say 'request MDF' to start another.")
            ]
        return await self._request_finish(actor, dict(dialog.state.get("slots", {})))

    async def _request_edit_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        dialog = await self.dialogs.load(actor)
        slots = dict(dialog.state.get("slots", {})) if dialog and dialog.flow == "mdf.request" else {}
        return [Reply(text="Change what you need.", form=mdf_views.request_form(_slots_as_text(slots)))]

    async def _approve_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        return [self._decided(actor, await self.mdf.approve(actor, data.get("ref", "")))]

    async def _approve_part_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        view = await self.mdf.get(actor, data.get("ref", ""))
        if not self.mdf.may_decide(actor):
            raise NotAllowed("Only approvers and channel managers decide on MDF requests.")
        await self.dialogs.save(actor, "mdf.approve_part", {"ref": view.ref})
        requested = format_money(view.amount)
        return [
            Reply(
                text=f"{view.ref} asks for {requested}. How much do you approve? (e.g. 3,000)",
                form=mdf_views.approve_form(view.ref, requested),
                ref=view.ref,
            )
        ]

    async def _paid_action(self, actor: Actor, data: dict[str, str]) -> list[Reply]:
        return [self._paid(actor, await self.mdf.mark_paid(actor, data.get("ref", "")))]

    async def on_form(
        self, actor: Actor, form_id: str, values: dict[str, str], data: dict[str, str]
    ) -> FormResult:
        handler = self._forms.get(form_id)
        return await handler(actor, values, data.get("ref", "")) if handler else stale_form()

    @property
    def _forms(self) -> dict[str, Callable[[Actor, dict[str, str], str], Awaitable[FormResult]]]:
        """Each form this skill sends, by form id; a handler gets the values and the request's ref."""
        return {
            "mdf.request": lambda actor, values, ref: self._request_form(actor, values),
            "mdf.reject": self._on_reject_form,
            "mdf.approve": self._on_approve_form,
            "mdf.claim": self._on_claim_form,
            "mdf.budget": lambda actor, values, ref: self._on_budget_form(actor, values),
        }

    async def _on_reject_form(self, actor: Actor, values: dict[str, str], ref: str) -> FormResult:
        if not values.get("reason"):
            return FormResult(errors={"reason": f"Why are you rejecting {ref or 'the request'}?"})
        replies = await self._reject(actor, ref, values["reason"])
        await self._clear_mine(actor)
        return FormResult(replies=replies)

    async def _on_approve_form(self, actor: Actor, values: dict[str, str], ref: str) -> FormResult:
        if not values.get("amount"):
            return FormResult(errors={"amount": "How much do you approve? E.g. 3,000."})
        replies = await self._approve_answer(actor, ref, values["amount"])
        await self._clear_mine(actor)
        return FormResult(replies=replies)

    async def _on_claim_form(self, actor: Actor, values: dict[str, str], ref: str) -> FormResult:
        replies = await self._claim_submit(actor, ref, values.get("proof", ""), values.get("results", ""))
        await self._clear_mine(actor)
        return FormResult(replies=replies)

    async def _on_budget_form(self, actor: Actor, values: dict[str, str]) -> FormResult:
        money = parse_money(values.get("amount", ""), default_currency=self.default_currency)
        view = await self.mdf.set_budget(
            actor, partner=values.get("partner", ""), quarter=values.get("quarter", ""), amount=money
        )
        return FormResult(replies=[_budget_saved(view)])

    async def home(self, actor: Actor) -> list[Reply]:
        if actor.is_staff:
            waiting = await self.mdf.list_requests(actor, scope="open")
            if not waiting:
                return []
            return [mdf_views.request_list(waiting, actor, title="MDF requests waiting for staff", empty="")]
        if actor.partner_id is None:
            return []
        sections = [await self._balance_reply(actor)]
        mine = await self.mdf.list_requests(actor, scope="open")
        if mine:
            sections.append(mdf_views.request_list(mine, actor, title="Your open MDF requests", empty=""))
        return sections

    # -- reading ----------------------------------------------------------------------------------

    async def _balance_reply(self, actor: Actor, *, partner: str | None = None) -> Reply:
        balances = await self.mdf.balances(actor, partner=partner)
        name = partner if actor.is_staff else await self.mdf.partner_name(actor)
        if actor.is_staff and partner and balances:
            name = balances[0].partner
        quarter = quarter_of(self.mdf.today_for(actor))
        return mdf_views.balance_reply(balances, actor, partner=name or "", quarter=quarter)

    async def _balance(self, actor: Actor, *, partner: str | None = None) -> list[Reply]:
        return [await self._balance_reply(actor, partner=partner)]

    async def _list(self, actor: Actor, *, scope: str) -> list[Reply]:
        found = await self.mdf.list_requests(actor, scope=scope)
        if actor.is_staff:
            title = "All MDF requests" if scope == "all" else "MDF requests waiting for staff"
            empty = (
                "No MDF requests yet."
                if scope == "all"
                else "No MDF request waits for a decision or payment."
            )
        else:
            title = "All your MDF requests" if scope == "all" else "Your open MDF requests"
            empty = "No MDF requests yet. Say 'request MDF' to ask for funds."
            if scope != "all":
                empty = "No open MDF requests. Say 'request MDF' to ask for funds, or 'all my MDF requests'."
        return [mdf_views.request_list(found, actor, title=title, empty=empty)]

    # -- a message about one request ----------------------------------------------------------

    async def _show(self, actor: Actor, ref: str, *, hint: bool) -> list[Reply]:
        """A request's card; with ``hint``, for a longer message the bot did not act on, what to say to
        act on it."""
        view = await self.mdf.get(actor, ref)
        card = mdf_views.request_card(view, actor)
        if hint:
            card.text = (
                f"To act on {view.ref}, say 'approve {view.ref}', 'reject {view.ref} because …' or "
                f"'mark {view.ref} paid'."
                if actor.is_staff
                else f"To claim {view.ref}, say 'claim {view.ref} with https://… results: …'."
            )
        return [card]

    async def _typed_amount(self, actor: Actor, ref: str, reading: Reading, *, verb: str) -> Money | None:
        """The amount a decision or a payment names, in the request's currency when none was typed;
        None for the full amount. A number that is not clearly an amount is refused, never guessed."""
        if "amount" in reading.invalid:
            raise InputError("amount", reading.invalid["amount"])
        typed = reading.get("typed_amount")
        unclear = reading.get("amount_unclear")
        if typed is None and unclear is None:
            return None
        view = await self.mdf.get(actor, ref)
        if unclear is not None:
            raise InputError(
                "amount",
                f"I couldn't tell how much to {verb} from '{unclear}'. Say '{verb} {view.ref}' for the full "
                f"amount, or give it with its currency, e.g. '{verb} {view.ref} {unclear} {view.amount.currency}'.",
            )
        assert isinstance(typed, Money)
        return Money(typed.amount, view.amount.currency) if typed.currency == NO_CURRENCY else typed

    async def _approve(self, actor: Actor, ref: str, reading: Reading) -> list[Reply]:
        amount = await self._typed_amount(actor, ref, reading, verb="approve")
        return [self._decided(actor, await self.mdf.approve(actor, ref, amount=amount))]

    async def _approve_answer(self, actor: Actor, ref: str, text: str) -> list[Reply]:
        """The answer to "How much do you approve?": an amount (in the request's currency unless typed
        with one), or "full"."""
        amount_text = re.sub(
            r"^\s*(?:(?:in\s+part|partially|partly)\s*)?(?:(?:for|with|at|to)\s+)?", "", text, flags=re.I
        )
        amount_text = amount_text.strip(" .!")
        if not amount_text or re.fullmatch(r"(?:in\s+)?full(?:y)?", amount_text, re.I):
            return [self._decided(actor, await self.mdf.approve(actor, ref))]
        view = await self.mdf.get(actor, ref)
        money = parse_money(amount_text, default_currency=view.amount.currency)
        return [self._decided(actor, await self.mdf.approve(actor, ref, amount=money))]

    async def _mark_paid(self, actor: Actor, ref: str, reading: Reading) -> list[Reply]:
        view = await self.mdf.get(actor, ref)  # a foreign M-n reads like a missing one, first
        amount = await self._typed_amount(actor, view.ref, reading, verb="pay")
        return [self._paid(actor, await self.mdf.mark_paid(actor, view.ref, amount=amount))]

    def _decided(self, actor: Actor, view: MdfView) -> Reply:
        if view.status == "approved":
            how = (
                f"{format_money(view.approved_amount)} of {format_money(view.amount)}"
                if view.is_partial and view.approved_amount
                else format_money(view.approved_amount or view.amount)
            )
            headline = f"{view.ref} approved{' in part' if view.is_partial else ''}: {how}. {view.partner} can claim it now."
        else:
            headline = f"{view.ref} rejected. {view.partner} sees your reason."
        return mdf_views.request_card(view, actor, headline=headline)

    def _paid(self, actor: Actor, view: MdfView) -> Reply:
        paid = format_money(view.paid_amount) if view.paid_amount else "—"
        return mdf_views.request_card(
            view, actor, headline=f"{view.ref} marked paid: {paid}. {view.partner} hears it now."
        )

    async def _ask_reject_reason(self, actor: Actor, ref: str) -> list[Reply]:
        view = await self.mdf.get(actor, ref)  # "not found" answers before anything is asked
        if not self.mdf.may_decide(actor):
            raise NotAllowed("Only approvers and channel managers decide on MDF requests.")
        await self.dialogs.save(actor, "mdf.reject", {"ref": view.ref})
        return [
            Reply(
                text=f"Why are you rejecting {view.ref}? The partner will see the reason.",
                form=mdf_views.reject_form(view.ref),
                ref=view.ref,
            )
        ]

    async def _reject(self, actor: Actor, ref: str, reason: str) -> list[Reply]:
        return [self._decided(actor, await self.mdf.reject(actor, ref, reason=reason))]

    # -- claims -------------------------------------------------------------------------------

    async def _claim(self, actor: Actor, ref: str, proof: str | None, results: str | None) -> list[Reply]:
        view = await self.mdf.get(actor, ref)  # a foreign M-n reads like a missing one, first
        if actor.is_staff:
            raise NotAllowed("The partner claims MDF; you mark it paid once the claim checks out.")
        if proof and results:
            return await self._claim_submit(actor, view.ref, proof, results)
        state = {"ref": view.ref, "proof": proof or "", "results": results or ""}
        return await self._claim_ask(actor, state)

    async def _claim_ask(self, actor: Actor, state: dict[str, str]) -> list[Reply]:
        ref = state["ref"]
        asking = "proof" if not state.get("proof") else "results"
        await self.dialogs.save(actor, "mdf.claim", {**state, "asking": asking})
        question = (
            f"What is the proof for {ref}? {PROOF_HINT}"
            if asking == "proof"
            else f"What were the actual results of {ref}? (e.g. 38 leads, 120 attendees)"
        )
        return [Reply(text=question, form=mdf_views.claim_form(ref), ref=ref)]

    async def _claim_answer(self, actor: Actor, state: dict[str, Any], text: str) -> list[Reply]:
        state = {k: str(v) for k, v in state.items()}
        if state.get("asking") == "proof":
            whole = " ".join(text.split())
            proof: str | None
            results: str | None
            if PROOF_RE.match(whole) and not RESULTS_RE.search(whole):
                proof, results = whole, None
            else:
                proof, results = split_claim(text, leftover_as_results=False)
            if not proof:
                return [Reply(text=f"I couldn't find a link or a file in that. {PROOF_HINT}")]
            state["proof"] = proof
            if results and not state.get("results"):
                state["results"] = results
        else:
            state["results"] = text.strip()
        if state.get("proof") and state.get("results"):
            replies = await self._claim_submit(actor, state["ref"], state["proof"], state["results"])
            await self._clear_mine(actor)
            return replies
        return await self._claim_ask(actor, state)

    async def _claim_submit(self, actor: Actor, ref: str, proof: str, results: str) -> list[Reply]:
        view = await self.mdf.claim(actor, ref, proof=proof, results=results)
        return [
            mdf_views.request_card(
                view,
                actor,
                headline=f"{view.ref} is claimed. Our partner team checks the proof and pays "
                f"{format_money(view.approved_amount or view.amount)}; I'll tell you when it's paid.",
            )
        ]

    # -- the request dialog ---------------------------------------------------------------------

    async def _start_request(
        self, actor: Actor, slots: dict[str, Any], problems: list[str] | None = None
    ) -> list[Reply]:
        """The request dialog, with what the first message already said (``slots``, as
        :func:`~bot.features.mdf.reading.parse_request_text` reads them) and what was wrong in it."""
        if actor.is_staff:
            raise NotAllowed("MDF is requested by partners. Say 'MDF requests' for the ones waiting for you.")
        balances = await self.mdf.balances(actor)
        if not balances:
            return await self._balance(actor)
        intro = "Your MDF balance - " + "; ".join(mdf_views.balance_line(b) for b in balances) + "."
        return await self._collect(actor, slots, prefix="\n".join([intro, *(problems or [])]))

    async def _collect(self, actor: Actor, slots: dict[str, Any], *, prefix: str = "") -> list[Reply]:
        lead_in = f"{prefix}\n" if prefix else ""
        balance: BalanceView | None = None
        if slots.get("start"):
            quarter = quarter_of(date.fromisoformat(slots["start"]))
            balance = await self.mdf.balance_for(actor, quarter=quarter)
            if balance is None:
                partner = await self.mdf.partner_name(actor)
                slots.pop("start", None)
                slots.pop("end", None)
                lead_in += (
                    f"{partner} has no MDF budget for {quarter}, so the activity needs to fall in a quarter "
                    "with a budget.\n"
                )
            elif slots.get("amount"):
                money = money_of(slots["amount"])
                if money.currency == NO_CURRENCY:
                    money = Money(money.amount, balance.budget.currency)
                    slots["amount"] = money_slot(money)
                problem = None
                if money.currency != balance.budget.currency:
                    problem = (
                        f"Your {quarter} MDF budget is in {balance.budget.currency}; ask for an amount in "
                        f"{balance.budget.currency}."
                    )
                elif money.amount > balance.remaining.amount:
                    problem = over_balance_text(money, balance)
                if problem:
                    slots.pop("amount", None)
                    lead_in += problem + "\n"
        if balance is not None and balance.remaining.amount <= 0 and not slots.get("amount"):
            await self._clear_mine(actor)
            return [Reply(text=lead_in + over_balance_text(balance.remaining, balance))]
        for name in SLOTS:
            missing = name not in slots if name != "dates" else not slots.get("start")
            if not missing:
                continue
            await self.dialogs.save(actor, "mdf.request", {"slots": slots, "asking": name})
            question = mdf_views.QUESTIONS[name]
            if name == "amount" and balance is not None:
                question = (
                    f"Your {balance.quarter} MDF balance is {format_money(balance.remaining)} "
                    f"(of {format_money(balance.budget)}). How much would you like? "
                    f"(e.g. {format_money(Money(min(balance.remaining.amount, Decimal(5000)), balance.budget.currency))})"
                )
            return [Reply(text=lead_in + question, form=mdf_views.request_form(_slots_as_text(slots)))]
        await self.dialogs.save(actor, "mdf.request", {"slots": slots, "asking": "confirm"})
        assert balance is not None
        money = money_of(slots["amount"])
        start, end = date.fromisoformat(slots["start"]), date.fromisoformat(slots["end"])
        after = Money(balance.remaining.amount - money.amount, money.currency)
        facts = [
            Fact("Activity", slots["activity"]),
            Fact("Dates", mdf_views.format_dates(start, end)),
            Fact("Amount", format_money(money)),
            Fact("Expected results", slots["expected_results"]),
            Fact(
                "Balance",
                f"{balance.quarter}: {format_money(balance.remaining)} left now, {format_money(after)} after this request",
            ),
        ]
        return [mdf_views.draft_summary(facts, note=prefix)]

    async def _request_answer(self, actor: Actor, state: dict[str, Any], text: str) -> list[Reply] | None:
        slots = dict(state.get("slots", {}))
        asking = state.get("asking")
        today = self.mdf.today_for(actor)
        if asking == "confirm":
            if YES_RE.match(text):
                return await self._request_finish(actor, slots)
            if NO_RE.match(text):
                await self._clear_mine(actor)
                return cancelled()
            found, _ = parse_request_text(text, today=today)
            if not found:
                return [Reply(text="Reply 'yes' to send the request, tell me what to change, or 'cancel'.")]
            slots.update(found)
            return await self._collect(actor, slots)
        try:
            if asking == "activity":
                activity = clean_activity(text)
                if len(activity) < 3:
                    raise InputError("activity", mdf_views.QUESTIONS["activity"])
                slots["activity"] = activity
            elif asking == "dates":
                start, end = parse_activity_dates(text, today=today)
                slots["start"], slots["end"] = start.isoformat(), end.isoformat()
                self.mdf.validate_dates(actor, start, end)
            elif asking == "amount":
                slots["amount"] = money_slot(parse_money(text, default_currency=NO_CURRENCY))
            elif asking == "expected_results":
                slots["expected_results"] = text.strip()
            else:
                return None
        except InputError as exc:
            if exc.field == "dates":
                slots.pop("start", None)
                slots.pop("end", None)
            return [Reply(text=exc.message + "\n" + mdf_views.QUESTIONS.get(asking or "", ""))]
        return await self._collect(actor, slots)

    async def _request_finish(self, actor: Actor, slots: dict[str, Any]) -> list[Reply]:
        try:
            view = await self.mdf.request(actor, _draft_of(slots))
        except InputError as exc:
            if exc.field in ("activity", "amount", "expected_results"):
                slots.pop(exc.field, None)
                return await self._collect(actor, slots, prefix=exc.message)
            if exc.field == "dates":
                slots.pop("start", None)
                slots.pop("end", None)
                return await self._collect(actor, slots, prefix=exc.message)
            raise
        await self._clear_mine(actor)
        left = f" Your balance: {mdf_views.balance_line(view.balance)}." if view.balance is not None else ""
        return [
            mdf_views.request_card(
                view,
                actor,
                headline=f"{view.ref} is sent for approval.{left} I'll tell you when it's decided.",
            )
        ]

    async def _request_form(self, actor: Actor, values: dict[str, str]) -> FormResult:
        if actor.is_staff:
            raise NotAllowed("MDF is requested by partners.")
        today = self.mdf.today_for(actor)
        errors: dict[str, str] = {}
        slots: dict[str, Any] = {}
        for name in SLOTS:
            if not values.get(name):
                errors[name] = mdf_views.QUESTIONS[name]
        if values.get("activity"):
            activity = clean_activity(values["activity"])
            if len(activity) < 3:
                errors["activity"] = mdf_views.QUESTIONS["activity"]
            slots["activity"] = activity
        if values.get("dates"):
            try:
                start, end = parse_activity_dates(values["dates"], today=today)
                self.mdf.validate_dates(actor, start, end)
                slots["start"], slots["end"] = start.isoformat(), end.isoformat()
            except InputError as exc:
                errors["dates"] = exc.message
        if values.get("amount"):
            try:
                slots["amount"] = money_slot(parse_money(values["amount"], default_currency=NO_CURRENCY))
            except InputError as exc:
                errors["amount"] = exc.message
        if values.get("expected_results"):
            slots["expected_results"] = values["expected_results"]
        if errors:
            return FormResult(errors=errors)
        replies = await self._collect(actor, slots)
        dialog = await self.dialogs.load(actor)
        if dialog is not None and dialog.flow == "mdf.request" and dialog.state.get("asking") != "confirm":
            asking = str(dialog.state.get("asking"))
            return FormResult(errors={asking: " ".join(replies[0].text.split())})
        if dialog is not None and dialog.flow == "mdf.request":
            # Every detail was on the form at once: submitting it sends the request, no second confirmation.
            return FormResult(replies=await self._request_finish(actor, dict(dialog.state.get("slots", {}))))
        return FormResult(replies=replies)

    # -- staff ----------------------------------------------------------------------------------

    async def _budget_or_balance(self, actor: Actor, reading: Reading) -> list[Reply]:
        """The balance (a partner's own; for staff, one partner's or everyone's), or - staff naming a
        partner and an amount - a partner's budget set for a quarter (the current one unless named)."""
        if not actor.is_staff:
            reply = await self._balance_reply(actor)
            if reading.intent == "staff.mdf_budget" and reading.get("amount") is not None:
                reply.text = f"Your channel manager sets MDF budgets. Yours:\n{reply.text}"
            return [reply]
        if "amount" in reading.invalid:
            raise InputError("amount", reading.invalid["amount"])
        partner = reading.get("partner")
        if partner is None and reading.get("named"):
            partner = await self._partner_named(actor, str(reading.get("named")))
        amount = reading.get("amount")
        if reading.intent == "staff.mdf_budget" and amount is not None:
            if partner is None:
                return [
                    Reply(
                        text="Tell me the partner, the quarter and the amount, e.g. 'MDF budget Northwind "
                        "Partners 2027-Q1 50k EUR', or use the form.",
                        form=mdf_views.budget_form(
                            await self.mdf.partner_names(actor), quarter_of(self.mdf.today_for(actor))
                        ),
                    )
                ]
            quarter = reading.get("quarter") or quarter_of(self.mdf.today_for(actor))
            view = await self.mdf.set_budget(actor, partner=partner, quarter=quarter, amount=amount)
            return [_budget_saved(view)]
        return await self._balance(actor, partner=partner)

    async def _partner_named(self, actor: Actor, phrase: str) -> str:
        names = await self.mdf.partner_names(actor)
        phrase = re.sub(r"^(?:the|partner)\s+", "", phrase.strip(" ,.;:"), flags=re.I)
        best = (
            process.extractOne(phrase, names, scorer=fuzz.WRatio, processor=default_process)
            if names and phrase
            else None
        )
        if best is None or best[1] < 85:
            raise InputError(
                "partner", f"I don't know a partner called {phrase!r}. Partners: {', '.join(names)}."
            )
        return str(best[0])

    async def _budget_form(self, actor: Actor) -> list[Reply]:
        if not actor.is_staff:
            raise NotAllowed(
                "Your channel manager sets MDF budgets. Say 'what's my MDF balance?' to see yours."
            )
        return [
            Reply(
                text="Which partner, quarter and amount?",
                form=mdf_views.budget_form(
                    await self.mdf.partner_names(actor), quarter_of(self.mdf.today_for(actor))
                ),
            )
        ]

    # -- dialog plumbing --------------------------------------------------------------------------

    async def _clear_mine(self, actor: Actor) -> None:
        dialog = await self.dialogs.load(actor)
        if dialog is not None and dialog.flow.startswith(self.prefix + "."):
            await self.dialogs.clear(actor)


def _draft_of(slots: dict[str, Any]) -> MdfDraft:
    return MdfDraft(
        activity=str(slots.get("activity", "")),
        amount=money_of(slots["amount"]),
        start_date=date.fromisoformat(slots["start"]),
        end_date=date.fromisoformat(slots["end"]),
        expected_results=str(slots.get("expected_results", "")),
    )


def _slots_as_text(slots: dict[str, Any]) -> dict[str, str]:
    draft: dict[str, str] = {}
    if slots.get("activity"):
        draft["activity"] = str(slots["activity"])
    if slots.get("start") and slots.get("end"):
        draft["dates"] = mdf_views.format_dates(
            date.fromisoformat(slots["start"]), date.fromisoformat(slots["end"])
        )
    if slots.get("amount"):
        money = money_of(slots["amount"])
        draft["amount"] = format_money(money) if money.currency != NO_CURRENCY else f"{money.amount:,}"
    if slots.get("expected_results"):
        draft["expected_results"] = str(slots["expected_results"])
    return draft


def _budget_saved(view: BalanceView) -> Reply:
    return Reply(
        title=f"MDF budget · {view.partner} · {view.quarter}",
        text=f"Saved: {format_money(view.budget)} for {view.quarter}. {mdf_views.balance_line(view)}.",
        buttons=[Button("MDF requests", "mdf.list")],
    )


__all__ = ["URL_RE", "MdfSkill", "parse_request_text"]
