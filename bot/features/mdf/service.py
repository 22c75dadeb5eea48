"""Market development funds (MDF): budgets per partner and quarter, requests ``M-<n>``, decisions,
claims with proof, payment, and reminders.

Every public method takes the acting :class:`Actor` (``None`` for the vendor's own tools: the CLI and
the scheduler) and decides here whether they may act. A partner user sees only their own
organisation's budgets and requests: a reference to another organisation's request raises
:class:`NotFound` with exactly the text of a reference that does not exist. Every change writes MDF
history, an audit entry and its notifications in the one transaction that makes the change.

Money: a budget has one currency; a request is in its budget's currency. What a request holds of its
budget (its *reserved* amount) is the requested amount while it is pending, the approved amount once
approved or claimed, the paid amount once paid, and nothing once rejected. The **balance** of a
budget is its amount minus everything reserved, so two pending requests can never both be promised
the same money. The check and the write of a request happen in one transaction holding the budget
row's lock (:func:`store.mdf_queries.lock_budget`), so concurrent requests cannot overspend.

Lifecycle::

    pending -> approved (in full or in part) -> claimed (proof + actual results) -> paid
       \\-> rejected (with a reason)
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.deals.service import clean_text
from bot.features.mdf import views as mdf_views
from bot.features.mdf.model import DECIDE_ROLES, LIFECYCLE, BalanceView, MdfDraft, MdfView
from bot.kernel import outbox
from bot.kernel.amounts import Money, format_money, parse_money
from bot.kernel.changes import ChangeLog, snapshot
from bot.kernel.dates import (
    find_close_date,
    format_date,
    local_today,
    parse_close_date,
    quarter_of,
)
from bot.kernel.errors import Conflict, InputError, NotAllowed, NotFound
from bot.kernel.history import HistoryView, PersonNames, history_fields, history_views
from bot.kernel.messages import FILE_REF, Actor
from bot.kernel.recipients import StaffPolicy, record_owner, tell_staff
from bot.kernel.refs import MDF_REQUEST
from store import mdf_queries, queries
from store.db import Database
from store.mdf_models import MdfBudget, MdfHistory, MdfRequest

QUARTER_RES = (
    re.compile(r"^\s*(?P<year>\d{4})\s*[-/ ]?\s*Q(?P<q>[1-4])\s*$", re.IGNORECASE),
    re.compile(r"^\s*Q(?P<q>[1-4])\s*[-/ ]?\s*(?P<year>\d{4})\s*$", re.IGNORECASE),
)
BUDGET_ROLES = ("channel_manager",)
"""Who sets budgets (``admin`` may do everything)."""
"""Who approves, rejects and marks requests paid."""
DEFAULT_CLAIM_DAYS = 30
"""Days after the activity's end in which the partner claims (``PARTNERBOT_MDF_CLAIM_DAYS``)."""
REMINDER_DAYS = (14, 3)
"""Days before an activity ends unclaimed, and before a claim window closes, that the partner hears."""
MAX_ACTIVITY_DAYS = 366
PROOF_RE = re.compile(rf"^(?:https?://[^\s<>]+|{FILE_REF}\S.*)$", re.IGNORECASE)
PROOF_HINT = "Send the proof as a link (https://…) to the invoice, photos or report, or share the file here."
DATES_HINT = "Try 10-20 March, 10 March to 2 April, 2027-03-10 to 2027-03-20, or 12 March for one day."

# What the audit log keeps of a request before and after each change.
AUDITED = (
    "status",
    "amount",
    "currency",
    "approved_amount",
    "paid_amount",
    "decision_reason",
    "claim_proof",
    "actual_results",
)


mdf_ref = MDF_REQUEST.format
parse_mdf_ref = MDF_REQUEST.parse
# The key of a notice to one person (see _notify_partner and _notify_staff).
NOTICE_RE = re.compile(rf"^(?P<ref>{MDF_REQUEST.token}):[a-z0-9_.:-]+:p(?P<person>\d+)$")


# -- quarters and activity dates --------------------------------------------------------------


def parse_quarter(text: str) -> str:
    """``2027-Q1``, ``2027 Q1``, ``Q1 2027`` or ``Q1/2027`` as ``2027-Q1``; :class:`InputError` otherwise."""
    for pattern in QUARTER_RES:
        match = pattern.match(text or "")
        if match:
            year = int(match.group("year"))
            if not 2000 <= year <= 2100:
                break
            return f"{year}-Q{match.group('q')}"
    raise InputError("quarter", f"I couldn't read {text!r} as a quarter; write it like 2027-Q1.")


_MONTH_NUMBERS: dict[str, int] = {}
for _number in range(1, 13):
    _MONTH_NUMBERS[calendar.month_name[_number].lower()] = _number
    _MONTH_NUMBERS[calendar.month_abbr[_number].lower()] = _number
_MONTH_NUMBERS["sept"] = 9
_MONTH = "(?:" + "|".join(sorted(_MONTH_NUMBERS, key=len, reverse=True)) + r")\.?"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_SEP = r"\s*(?:-|–|—|\bto\b|\buntil\b|\btill\b|\bthrough\b|\bthru\b)\s*"
_WIDE_SEP = r"(?:\s+(?:-|–|—|to|until|till|through|thru|and)\s+|\s*[–—]\s*)"
_VAGUE_PERIOD = re.compile(r"\b(?:q[1-4]|h[12]|quarter|year|month|week|eo[mqyw])\b", re.IGNORECASE)
_RANGE_DAY_MONTH = re.compile(
    rf"(?<![\w./-])(?:(?:from|between)\s+)?(?P<d1>{_DAY}){_SEP}(?P<d2>{_DAY})\s+(?:of\s+)?(?P<m>{_MONTH})"
    r"(?:,?\s+(?P<y>\d{4}))?\b",
    re.IGNORECASE,
)
_RANGE_MONTH_DAY = re.compile(
    rf"\b(?:(?:from|between)\s+)?(?P<m>{_MONTH})\s+(?P<d1>{_DAY}){_SEP}(?P<d2>{_DAY})(?![\d.,:])"
    r"(?:,?\s+(?P<y>\d{4}))?\b",
    re.IGNORECASE,
)
# Numbers only: "10.-20.03.", "01.03.-31.03.2027", "2/1-2/28" (month first when a side says so).
_RANGE_NUMERIC = re.compile(
    r"(?<![\w./-])(?P<a1>\d{1,2})(?:(?P<s1>[./])(?P<b1>\d{1,2}))?[./]?(?:(?P=s1)?(?P<y1>\d{4}))?"
    r"\s*(?:-|–|—|\bto\b|\buntil\b)\s*"
    r"(?P<a2>\d{1,2})(?P<s2>[./])(?P<b2>\d{1,2})\.?(?:(?P=s2)(?P<y2>\d{2,4}))?(?![\w/-]|[.,]\d)",
    re.IGNORECASE,
)
# Whole months: "all of February", "during March", "feb-mar".
_RANGE_MONTHS = re.compile(
    rf"\b(?:(?:all\s+of|during|throughout)\s+(?P<only>{_MONTH})|(?P<m1>{_MONTH})\s*(?:-|–|—|\bto\b)\s*(?P<m2>{_MONTH}))"
    r"(?:,?\s+(?P<y>\d{4}))?(?!\w)",
    re.IGNORECASE,
)
_BARE_MONTH = re.compile(
    rf"^\s*(?:(?:in|during|all\s+of)\s+)?(?P<m>{_MONTH})(?:,?\s+(?P<y>\d{{4}}))?\s*$", re.I
)
_LEAD_IN = re.compile(r"^\s*(?:from|between|on|in|during|dates?\s*[:=]?)\s+", re.IGNORECASE)


def _day_number(text: str) -> int:
    return int(re.match(r"\d+", text).group(0))  # type: ignore[union-attr]


def _month_number(text: str) -> int:
    return _MONTH_NUMBERS[text.lower().rstrip(".")]


def _dated(year: int, month: int, day: int, shown: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise InputError("dates", f"{shown} is not a day of the calendar. {DATES_HINT}") from None


def _day_month_range(match: re.Match[str], *, today: date) -> tuple[date, date]:
    """``10-20 March [2027]``: without a year, the first such range that does not start before today."""
    month = _month_number(match.group("m"))
    d1, d2 = _day_number(match.group("d1")), _day_number(match.group("d2"))
    shown = " ".join(match.group(0).split())
    year = int(match.group("y")) if match.group("y") else today.year
    start = _dated(year, month, d1, shown)
    if not match.group("y") and start < today:
        year += 1
        start = _dated(year, month, d1, shown)
    return start, _dated(year, month, d2, shown)


def _one_side(text: str, *, today: date, is_start: bool) -> date:
    """One end of a range: a date phrase (bot.kernel.dates, with its dateparser fallback); a bare month means
    its first day at the start of a range and its last day at the end."""
    month = _BARE_MONTH.match(text)
    if month:
        number = _month_number(month.group("m"))
        if month.group("y"):
            year = int(month.group("y"))
        else:
            year = today.year if number >= today.month else today.year + 1
        last = calendar.monthrange(year, number)[1]
        return date(year, number, 1 if is_start else last)
    try:
        return parse_close_date(_LEAD_IN.sub("", text), today=today)
    except InputError:
        raise InputError(
            "dates", f"I couldn't read '{' '.join(text.split())[:40]}' as a date in the future. {DATES_HINT}"
        ) from None


def parse_activity_dates(text: str, *, today: date) -> tuple[date, date]:
    """Read ``text``, which must be nothing but the activity's dates, as (first day, last day).

    Accepted: ``10-20 March``, ``March 10-20, 2027``, ``10 March to 2 April``, ``2027-03-10 to
    2027-03-20``, ``March`` (the whole month), ``12 March`` (one day). A date without a year is the next
    one that is not before ``today``. Validation (order, not in the past) is :meth:`Mdf.validate_draft`'s.
    """
    cleaned = " ".join((text or "").split()).strip(" .!,;")
    if not cleaned:
        raise InputError("dates", f"When does the activity take place? {DATES_HINT}")
    for pattern in (_RANGE_DAY_MONTH, _RANGE_MONTH_DAY):
        match = pattern.fullmatch(cleaned)
        if match:
            return _day_month_range(match, today=today)
    if _BARE_MONTH.match(cleaned):
        return _one_side(cleaned, today=today, is_start=True), _one_side(cleaned, today=today, is_start=False)
    parts = re.split(_WIDE_SEP, _LEAD_IN.sub("", cleaned), maxsplit=1)
    if len(parts) == 2:
        start = _one_side(parts[0], today=today, is_start=True)
        end = _one_side(parts[1], today=today, is_start=False)
        if end < start and not re.search(r"\d{4}", parts[1]):
            end = _one_side(parts[1], today=start, is_start=False)
        return start, end
    day = _one_side(cleaned, today=today, is_start=True)
    return day, day


def _numeric_range(match: re.Match[str], *, today: date) -> tuple[date, date] | None:
    """``10.-20.03.``, ``01.03.-31.03.2027``, ``2/1-2/28``: day first, unless a slash side can only be
    month first; a side without a year is the next one not before today (the end: not before the
    start)."""
    a2, b2 = int(match.group("a2")), int(match.group("b2"))
    a1 = int(match.group("a1"))
    b1 = int(match.group("b1")) if match.group("b1") else None
    month_first = match.group("s2") == "/" and (b2 > 12 or (b1 is not None and b1 > 12))
    d1, m1 = (b1, a1) if month_first and b1 is not None else (a1, b1 if b1 is not None else b2)
    d2, m2 = (b2, a2) if month_first else (a2, b2)
    if month_first and b1 is None:
        d1, m1 = a1, a2
    y2 = match.group("y2")
    year2 = (int(y2) + (2000 if len(y2) == 2 else 0)) if y2 else None
    year1 = int(match.group("y1")) if match.group("y1") else year2
    shown = " ".join(match.group(0).split())
    try:
        if year1 is None:
            start = _first_day_on_or_after(today, m1, d1)
        else:
            start = date(year1, m1, d1)
        end = date(year2 or start.year, m2, d2)
        if end < start and year2 is None:
            end = date(start.year + 1, m2, d2)
    except ValueError:
        raise InputError("dates", f"{shown} is not a range of calendar days. {DATES_HINT}") from None
    return start, end


def _first_day_on_or_after(today: date, month: int, day: int) -> date:
    this_year = date(today.year, month, day)
    return this_year if this_year >= today else date(today.year + 1, month, day)


def _months_range(match: re.Match[str], *, today: date) -> tuple[date, date]:
    first = match.group("only") or match.group("m1")
    last = match.group("only") or match.group("m2")
    year = match.group("y")
    start = _one_side(f"{first} {year}" if year else first, today=today, is_start=True)
    end = _one_side(f"{last} {year}" if year else last, today=start, is_start=False)
    return start, end


def find_activity_dates(text: str, *, today: date) -> tuple[tuple[date, date], tuple[int, int]] | None:
    """Find the activity's dates inside a sentence: a range (``10-20 March``, ``10 March to 2 April``,
    ``10.-20.03.``, ``2/1-2/28``, ``all of February``, ``feb-mar``) or one date phrase (``on 12
    March``); return them with the span to cut out, or None."""
    for pattern in (_RANGE_DAY_MONTH, _RANGE_MONTH_DAY):
        match = pattern.search(text)
        if match:
            return _day_month_range(match, today=today), match.span()
    numeric = _RANGE_NUMERIC.search(text)
    if numeric:
        found = _numeric_range(numeric, today=today)
        if found:
            return found, numeric.span()
    months = _RANGE_MONTHS.search(text)
    if months:
        return _months_range(months, today=today), months.span()
    first = find_close_date(text, today=today)
    if first is None:
        return None
    day, (start, end) = first
    phrase = text[start:end]
    if _VAGUE_PERIOD.search(phrase):
        return None  # "in Q2" or "next month" is no activity date: ask for the dates instead
    rest = text[end:]
    sep = re.match(_WIDE_SEP, rest)
    if sep:
        second = find_close_date(rest[sep.end() :], today=day)
        if second is not None and second[1][0] == 0:
            last = second[0]
            side = rest[sep.end() : sep.end() + second[1][1]]
            if _BARE_MONTH.match(side):
                last = _one_side(side, today=day, is_start=False)
            first_day = _one_side(phrase, today=today, is_start=True) if _BARE_MONTH.match(phrase) else day
            return (first_day, last), (start, end + sep.end() + second[1][1])
    if _BARE_MONTH.match(phrase):
        return (
            _one_side(phrase, today=today, is_start=True),
            _one_side(phrase, today=today, is_start=False),
        ), (start, end)
    return (day, day), (start, end)


# -- values -----------------------------------------------------------------------------------


def _money(value: Any, currency: str) -> Money:
    return Money(mdf_queries.as_money(value), currency)


def _snapshot(request: MdfRequest) -> dict[str, Any]:
    return snapshot(request, AUDITED)


class Mdf:
    def __init__(
        self,
        *,
        db: Database,
        clock: Callable[[], datetime],
        default_tz: str = "UTC",
        claim_days: int = DEFAULT_CLAIM_DAYS,
        vendor_channel: bool = False,
        default_currency: str = "EUR",
        changes: ChangeLog | None = None,
    ) -> None:
        self.db = db
        self.changes = changes or ChangeLog()
        self.default_currency = default_currency
        self.clock = clock
        self.default_tz = default_tz
        self.claim_days = claim_days
        self.vendor_channel = vendor_channel

    # -- helpers --------------------------------------------------------------------------------

    def today_for(self, actor: Actor | None) -> date:
        return local_today(self.clock(), actor.tz if actor else self.default_tz)

    @staticmethod
    def may_decide(actor: Actor) -> bool:
        return actor.has_role(*DECIDE_ROLES)

    def _require_decider(self, actor: Actor) -> None:
        if not self.may_decide(actor):
            raise NotAllowed("Only approvers and channel managers decide on MDF requests.")

    async def _request_for(
        self, session: AsyncSession, actor: Actor, ref: str, *, for_update: bool = False
    ) -> MdfRequest:
        return await MDF_REQUEST.find(
            actor,
            ref,
            lambda number: mdf_queries.request_by_number(session, number, for_update=for_update),
            partner_of=lambda request: request.partner_id,
        )

    async def _balance(self, session: AsyncSession, budget: MdfBudget, partner_name: str) -> BalanceView:
        held = await mdf_queries.reserved_by_status(session, budget_id=budget.id)
        currency = budget.currency
        pending = held.get("pending", Decimal(0))
        approved = held.get("approved", Decimal(0)) + held.get("claimed", Decimal(0))
        paid = held.get("paid", Decimal(0))
        total = mdf_queries.as_money(budget.amount)
        return BalanceView(
            partner=partner_name,
            quarter=budget.quarter,
            budget=Money(total, currency),
            pending=Money(pending, currency),
            approved=Money(approved, currency),
            paid=Money(paid, currency),
            remaining=Money(total - pending - approved - paid, currency),
        )

    async def _view(self, session: AsyncSession, request: MdfRequest, *, history: bool = False) -> MdfView:
        partner = await queries.partner_by_id(session, request.partner_id)
        partner_name = partner.name if partner else "?"
        name_of = PersonNames(session)

        budget = await session.get(MdfBudget, request.budget_id)
        hist: tuple[HistoryView, ...] = ()
        if history:
            rows = await mdf_queries.history_of_request(session, request.id)
            hist = await history_views(rows, name_of)
        currency = request.currency
        return MdfView(
            ref=mdf_ref(request.number),
            partner=partner_name,
            activity=request.activity,
            expected_results=request.expected_results,
            amount=_money(request.amount, currency),
            start_date=request.start_date,
            end_date=request.end_date,
            quarter=request.quarter,
            status=request.status,
            requested_by=await name_of(request.requested_by_id) or "?",
            created_at=request.created_at,
            updated_at=request.updated_at,
            approved_amount=None
            if request.approved_amount is None
            else _money(request.approved_amount, currency),
            decision_reason=request.decision_reason,
            decided_by=await name_of(request.decided_by_id),
            claim_by=request.claim_by,
            claim_proof=request.claim_proof,
            actual_results=request.actual_results,
            paid_amount=None if request.paid_amount is None else _money(request.paid_amount, currency),
            paid_at=request.paid_at,
            balance=await self._balance(session, budget, partner_name) if budget else None,
            history=hist,
        )

    async def _move(
        self,
        session: AsyncSession,
        request: MdfRequest,
        ref: str,
        *,
        verb: str,
        values: dict[str, Any],
    ) -> None:
        """Make the move ``verb`` from the statuses LIFECYCLE allows it from (a conditional update: of two
        deciders at once one wins), or raise saying what it is now; ``request`` is reloaded either way."""
        moved = await mdf_queries.transition(
            session, request_id=request.id, from_statuses=tuple(sorted(LIFECYCLE.moves[verb])), values=values
        )
        await session.refresh(request)
        if not moved:
            raise Conflict(LIFECYCLE.cannot(ref, request.status, verb))

    def _history(
        self, session: AsyncSession, actor: Actor | None, request: MdfRequest, name: str, old: Any, new: Any
    ) -> None:
        session.add(
            MdfHistory(request_id=request.id, **history_fields(actor, name, old, new, at=self.clock()))
        )

    async def _audit(
        self,
        session: AsyncSession,
        actor: Actor | None,
        action: str,
        entity: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        *,
        channel: str = "job",
    ) -> None:
        await self.changes.record(
            session,
            actor,
            action=action,
            entity=entity,
            before=before,
            after=after,
            at=self.clock(),
            channel=channel,
        )

    async def _notify_staff(
        self, session: AsyncSession, request: MdfRequest, *, event: str, headline: str
    ) -> None:
        view = await self._view(session, request)
        card = mdf_views.staff_card(view, headline=headline)
        await tell_staff(
            session,
            StaffPolicy.MANAGER_ELSE_APPROVERS,
            partner_id=request.partner_id,
            vendor_channel=self.vendor_channel,
            kind="mdf",
            key=lambda who: f"{view.ref}:{event}:{who}",
            reply=lambda _: card,
            now=self.clock(),
        )

    async def notice_unreachable(self, message_key: str, *, reason: str) -> bool:
        """A notice about an MDF request (``M-n:<event>:p<person>``) could not reach a partner user:
        the staff member who decided the request hears it once per request and person."""
        match = NOTICE_RE.match(message_key)
        if match is None:
            return False
        recipient_id = int(match.group("person"))
        async with self.db.transaction() as session:
            request = await mdf_queries.request_by_number(session, parse_mdf_ref(match.group("ref")))
            recipient = await queries.person_by_id(session, recipient_id)
            if request is None or recipient is None or recipient.kind == "staff":
                return False
            ref = mdf_ref(request.number)
            return await outbox.tell_causer(
                session,
                key=f"{ref}:unreachable:p{recipient_id}:to{request.decided_by_id}",
                causer_id=request.decided_by_id,
                recipient_id=recipient_id,
                subject=f"{ref} · {request.activity}",
                reason=reason,
                now=self.clock(),
            )

    async def _notify_partner(
        self, session: AsyncSession, request: MdfRequest, *, event: str, headline: str
    ) -> None:
        view = await self._view(session, request)
        now = self.clock()
        for person in await record_owner(
            session, owner_id=request.requested_by_id, partner_id=request.partner_id
        ):
            await outbox.queue_for_person(
                session,
                key=f"{view.ref}:{event}:p{person.id}",
                person_id=person.id,
                reply=mdf_views.partner_notice(view, headline=headline),
                kind="mdf",
                now=now,
            )

    async def _close_review(
        self, session: AsyncSession, request: MdfRequest, *, event: str, outcome: str
    ) -> None:
        view = await self._view(session, request)
        await outbox.queue_replacement(
            session,
            key=f"{view.ref}:review-closed:{event}",
            reply=mdf_views.review_outcome(view, outcome=outcome),
            now=self.clock(),
        )

    # -- budgets ----------------------------------------------------------------------------------

    async def set_budget(
        self, actor: Actor | None, *, partner: str, quarter: str, amount: Money
    ) -> BalanceView:
        """Create or change a partner's budget for a quarter (staff with a budget role, or the CLI).
        A budget never drops below what its requests already hold, and keeps its currency once
        requests exist."""
        if actor is not None and not actor.has_role(*BUDGET_ROLES):
            raise NotAllowed("Only channel managers and admins set MDF budgets.")
        quarter = parse_quarter(quarter)
        if amount.amount <= 0:
            raise InputError("amount", "A budget must be more than zero, e.g. 50k EUR.")
        async with self.db.transaction() as session:
            org = await queries.partner_by_name(session, partner)
            if org is None:
                raise InputError("partner", f"No partner named {partner!r}.")
            now = self.clock()
            budget = await mdf_queries.lock_budget(session, partner_id=org.id, quarter=quarter)
            before = None
            if budget is None:
                budget = MdfBudget(
                    partner_id=org.id,
                    quarter=quarter,
                    amount=amount.amount,
                    currency=amount.currency,
                    set_by_id=actor.person_id if actor else None,
                    lock_version=0,
                    created_at=now,
                    updated_at=now,
                )
                session.add(budget)
                await session.flush()
            else:
                before = {"amount": str(budget.amount), "currency": budget.currency}
                current = await self._balance(session, budget, org.name)
                held = current.budget.amount - current.remaining.amount
                if amount.currency != budget.currency and held > 0:
                    raise InputError(
                        "amount",
                        f"{org.name}'s {quarter} budget is in {budget.currency} and has requests; "
                        f"give the new amount in {budget.currency}.",
                    )
                if amount.amount < held:
                    raise InputError(
                        "amount",
                        f"{org.name} already has {format_money(Money(held, budget.currency))} requested or "
                        f"approved in {quarter}; the budget can't be less than that.",
                    )
                budget.amount, budget.currency = amount.amount, amount.currency
                budget.set_by_id = actor.person_id if actor else None
                budget.updated_at = now
            await self._audit(
                session,
                actor,
                "mdf.budget",
                f"mdf-budget:p{org.id}:{quarter}",
                before,
                {"amount": str(amount.amount), "currency": amount.currency},
                channel="cli",
            )
            return await self._balance(session, budget, org.name)

    async def balances(self, actor: Actor, *, partner: str | None = None) -> list[BalanceView]:
        """Budgets from the current quarter on: a partner user's own (``partner`` is ignored for them,
        so nothing about another organisation is ever looked up); staff: one partner's, or everyone's."""
        current = quarter_of(self.today_for(actor))
        async with self.db.transaction() as session:
            if not actor.is_staff:
                if actor.partner_id is None:
                    return []
                org = await queries.partner_by_id(session, actor.partner_id)
                budgets = await mdf_queries.budgets_of(
                    session, partner_id=actor.partner_id, from_quarter=current
                )
                return [await self._balance(session, b, org.name if org else "?") for b in budgets]
            if partner:
                org = await queries.partner_by_name(session, partner)
                if org is None:
                    raise NotFound(f"No partner named {partner!r}.")
                budgets = await mdf_queries.budgets_of(session, partner_id=org.id, from_quarter=current)
                return [await self._balance(session, b, org.name) for b in budgets]
            out = []
            for budget, name in await mdf_queries.budgets_from(session, from_quarter=current):
                out.append(await self._balance(session, budget, name))
            return out

    async def balance_for(self, actor: Actor, *, quarter: str) -> BalanceView | None:
        """A partner user's balance for one quarter (None: no budget for it)."""
        if actor.partner_id is None:
            return None
        async with self.db.transaction() as session:
            budget = await mdf_queries.budget_for(session, partner_id=actor.partner_id, quarter=quarter)
            if budget is None:
                return None
            org = await queries.partner_by_id(session, actor.partner_id)
            return await self._balance(session, budget, org.name if org else "?")

    async def partner_names(self, actor: Actor) -> list[str]:
        """Every active partner's name - for staff only (a partner never gets a list of others)."""
        if not actor.is_staff:
            return []
        async with self.db.transaction() as session:
            return await mdf_queries.partner_names(session)

    async def partner_name(self, actor: Actor) -> str:
        if actor.partner_id is None:
            return ""
        async with self.db.transaction() as session:
            org = await queries.partner_by_id(session, actor.partner_id)
            return org.name if org else ""

    # -- requests ---------------------------------------------------------------------------------

    def validate_dates(self, actor: Actor, start: date, end: date) -> None:
        """:class:`InputError` (field ``dates``) unless the activity starts today or later and ends on or
        after its start, within a year."""
        if start < self.today_for(actor):
            raise InputError(
                "dates",
                f"The activity would start on {format_date(start)}, which is in the past; "
                "MDF is requested before the activity starts.",
            )
        if end < start:
            raise InputError(
                "dates",
                f"The activity can't end ({format_date(end)}) before it starts ({format_date(start)}).",
            )
        if (end - start).days > MAX_ACTIVITY_DAYS:
            raise InputError("dates", "An MDF activity lasts at most a year; split longer programmes.")

    def validate_draft(self, actor: Actor, draft: MdfDraft) -> MdfDraft:
        """The draft cleaned up, or :class:`InputError` naming the first bad field."""
        activity = clean_text(draft.activity, field_name="activity", limit=200)
        if not activity or len(activity) < 3:
            raise InputError(
                "activity", "What is the activity? E.g. 'webinar with our customers' or 'trade-show booth'."
            )
        self.validate_dates(actor, draft.start_date, draft.end_date)
        if draft.amount.amount <= 0:
            raise InputError("amount", "The amount must be more than zero, e.g. 5k EUR.")
        results = clean_text(draft.expected_results, field_name="expected_results", limit=1000)
        if not results:
            raise InputError(
                "expected_results", "What results do you expect? E.g. '40 leads' or '200 attendees'."
            )
        return MdfDraft(
            activity=activity[0].upper() + activity[1:],
            amount=draft.amount,
            start_date=draft.start_date,
            end_date=draft.end_date,
            expected_results=results,
        )

    async def request(self, actor: Actor, draft: MdfDraft) -> MdfView:
        """Write a partner's request, if it fits into what is left of its quarter's budget."""
        if actor.is_staff or actor.partner_id is None:
            raise NotAllowed("MDF is requested by partners; staff approve or reject requests.")
        draft = self.validate_draft(actor, draft)
        quarter = quarter_of(draft.start_date)
        now = self.clock()
        async with self.db.transaction() as session:
            org = await queries.partner_by_id(session, actor.partner_id)
            partner_name = org.name if org else "?"
            budget = await mdf_queries.lock_budget(session, partner_id=actor.partner_id, quarter=quarter)
            if budget is None:
                raise InputError(
                    "dates",
                    f"{partner_name} has no MDF budget for {quarter} yet, so I can't take a request for an "
                    "activity then. Your channel manager sets budgets per quarter.",
                )
            if draft.amount.currency != budget.currency:
                raise InputError(
                    "amount",
                    f"Your {quarter} MDF budget is in {budget.currency}; ask for an amount in "
                    f"{budget.currency}, e.g. 5,000 {budget.currency}.",
                )
            balance = await self._balance(session, budget, partner_name)
            if draft.amount.amount > balance.remaining.amount:
                raise InputError("amount", over_balance_text(draft.amount, balance))
            request = MdfRequest(
                number=await queries.next_number(session, "mdf"),
                partner_id=actor.partner_id,
                budget_id=budget.id,
                requested_by_id=actor.person_id,
                activity=draft.activity,
                expected_results=draft.expected_results,
                amount=draft.amount.amount,
                currency=draft.amount.currency,
                start_date=draft.start_date,
                end_date=draft.end_date,
                quarter=quarter,
                status="pending",
                channel=actor.channel,
                created_at=now,
                updated_at=now,
            )
            session.add(request)
            await session.flush()
            self._history(session, actor, request, "status", None, "pending")
            ref = mdf_ref(request.number)
            await self._audit(session, actor, "mdf.request", ref, None, _snapshot(request))
            await self._notify_staff(
                session,
                request,
                event="requested",
                headline=f"New MDF request {ref} from {partner_name}: {format_money(draft.amount)} for "
                f"{draft.activity}",
            )
            return await self._view(session, request)

    async def get(self, actor: Actor, ref: str, *, history: bool = False) -> MdfView:
        async with self.db.transaction() as session:
            request = await self._request_for(session, actor, ref)
            return await self._view(session, request, history=history)

    async def list_requests(self, actor: Actor, *, scope: str = "open", limit: int = 20) -> list[MdfView]:
        """A partner's own requests (``open``: not rejected or paid; ``all``); staff: ``open`` is what waits
        for staff (pending and claimed), ``all`` everyone's."""
        if not actor.is_staff and actor.partner_id is None:
            return []
        partner_id = None if actor.is_staff else actor.partner_id
        if scope == "all":
            statuses: Sequence[str] | None = None
        elif actor.is_staff:
            statuses = ("pending", "claimed")
        else:
            statuses = ("pending", "approved", "claimed")
        async with self.db.transaction() as session:
            rows = await mdf_queries.requests_visible(
                session, partner_id=partner_id, statuses=statuses, limit=limit
            )
            return [await self._view(session, r) for r in rows]

    async def activities_visible(self, actor: Actor) -> list[tuple[str, str]]:
        """(ref, activity) of the requests the actor may see - for resolving "the webinar MDF"; never
        another partner's."""
        if not actor.is_staff and actor.partner_id is None:
            return []
        partner_id = None if actor.is_staff else actor.partner_id
        async with self.db.transaction() as session:
            rows = await mdf_queries.requests_visible(
                session, partner_id=partner_id, statuses=None, limit=500
            )
            return [(mdf_ref(r.number), r.activity) for r in rows]

    async def approve(self, actor: Actor, ref: str, *, amount: Money | None = None) -> MdfView:
        """Approve in full (``amount`` None) or in part (less than requested, same currency)."""
        self._require_decider(actor)
        async with self.db.transaction() as session:
            request = await self._request_for(session, actor, ref, for_update=True)
            ref = mdf_ref(request.number)
            requested = _money(request.amount, request.currency)
            if amount is not None:
                if amount.currency != request.currency:
                    raise InputError(
                        "amount",
                        f"{ref} is in {request.currency}; give the approved amount in {request.currency}.",
                    )
                if amount.amount <= 0:
                    raise InputError("amount", "Approve more than zero, or reject the request with a reason.")
                if amount.amount > requested.amount:
                    raise InputError(
                        "amount",
                        f"{ref} asks for {format_money(requested)}; you can approve that much or less.",
                    )
            approved = amount or requested
            before = _snapshot(request)
            now = self.clock()
            claim_by = request.end_date + timedelta(days=self.claim_days)
            await self._move(
                session,
                request,
                ref,
                verb="approved",
                values={
                    "status": "approved",
                    "approved_amount": approved.amount,
                    "decided_by_id": actor.person_id,
                    "decided_at": now,
                    "decision_reason": None,
                    "claim_by": claim_by,
                    "updated_at": now,
                },
            )
            partial = approved.amount < requested.amount
            self._history(session, actor, request, "status", "pending", "approved")
            self._history(session, actor, request, "approved_amount", None, format_money(approved))
            await self._audit(session, actor, "mdf.approve", ref, before, _snapshot(request))
            how = (
                f"{format_money(approved)} of {format_money(requested)}"
                if partial
                else format_money(approved)
            )
            await self._close_review(
                session, request, event="approved", outcome=f"Approved by {actor.name}: {how}"
            )
            await self._notify_partner(
                session,
                request,
                event="approved",
                headline=f"{ref} is approved{' in part' if partial else ''}: {how} for {request.activity}. "
                f"Claim it with proof and results by {format_date(claim_by)}.",
            )
            return await self._view(session, request)

    async def reject(self, actor: Actor, ref: str, *, reason: str) -> MdfView:
        self._require_decider(actor)
        text = clean_text(reason, field_name="reason", limit=500)
        if not text:
            raise InputError("reason", "Say why the request is rejected; the partner will see the reason.")
        async with self.db.transaction() as session:
            request = await self._request_for(session, actor, ref, for_update=True)
            ref = mdf_ref(request.number)
            before = _snapshot(request)
            now = self.clock()
            await self._move(
                session,
                request,
                ref,
                verb="rejected",
                values={
                    "status": "rejected",
                    "decided_by_id": actor.person_id,
                    "decided_at": now,
                    "decision_reason": text,
                    "updated_at": now,
                },
            )
            self._history(session, actor, request, "status", "pending", "rejected")
            await self._audit(session, actor, "mdf.reject", ref, before, _snapshot(request))
            await self._close_review(
                session, request, event="rejected", outcome=f"Rejected by {actor.name}: {text}"
            )
            await self._notify_partner(
                session, request, event="rejected", headline=f"{ref} was not approved. Reason: {text}"
            )
            return await self._view(session, request)

    async def claim(self, actor: Actor, ref: str, *, proof: str, results: str) -> MdfView:
        """The partner claims approved funds with proof (a link or a shared file) and actual results,
        until the claim window closes."""
        proof_text = " ".join((proof or "").split())
        results_text = clean_text(results, field_name="results", limit=1000)
        async with self.db.transaction() as session:
            request = await self._request_for(session, actor, ref, for_update=True)
            ref = mdf_ref(request.number)
            if actor.is_staff:
                raise NotAllowed("The partner claims MDF; you mark it paid once the claim checks out.")
            if not proof_text:
                raise InputError("proof", PROOF_HINT)
            if len(proof_text) > 2000 or not PROOF_RE.match(proof_text):
                raise InputError("proof", f"I couldn't read '{proof_text[:40]}' as proof. {PROOF_HINT}")
            if not results_text:
                raise InputError("results", "What were the actual results? E.g. '38 leads, 120 attendees'.")
            if request.status == "approved" and request.claim_by and self.today_for(actor) > request.claim_by:
                raise Conflict(
                    f"The claim window of {ref} closed on {format_date(request.claim_by)}. "
                    "Talk to your channel manager if something held you up."
                )
            before = _snapshot(request)
            now = self.clock()
            await self._move(
                session,
                request,
                ref,
                verb="claimed",
                values={
                    "status": "claimed",
                    "claim_proof": proof_text,
                    "actual_results": results_text,
                    "claimed_by_id": actor.person_id,
                    "claimed_at": now,
                    "updated_at": now,
                },
            )
            self._history(session, actor, request, "status", "approved", "claimed")
            self._history(session, actor, request, "claim_proof", None, proof_text)
            self._history(session, actor, request, "actual_results", None, results_text)
            await self._audit(session, actor, "mdf.claim", ref, before, _snapshot(request))
            partner = await queries.partner_by_id(session, request.partner_id)
            await self._notify_staff(
                session,
                request,
                event="claimed",
                headline=f"{partner.name if partner else '?'} claimed {ref}: "
                f"{format_money(_money(request.approved_amount, request.currency))} for {request.activity}",
            )
            return await self._view(session, request)

    async def mark_paid(self, actor: Actor, ref: str, *, amount: Money | None = None) -> MdfView:
        self._require_decider(actor)
        async with self.db.transaction() as session:
            request = await self._request_for(session, actor, ref, for_update=True)
            ref = mdf_ref(request.number)
            approved = _money(request.approved_amount or 0, request.currency)
            if amount is not None:
                if amount.currency != request.currency:
                    raise InputError(
                        "amount",
                        f"{ref} is in {request.currency}; give the paid amount in {request.currency}.",
                    )
                if amount.amount <= 0 or amount.amount > approved.amount:
                    raise InputError(
                        "amount", f"{ref} was approved for {format_money(approved)}; pay that much or less."
                    )
            paid = amount or approved
            before = _snapshot(request)
            now = self.clock()
            await self._move(
                session,
                request,
                ref,
                verb="marked paid",
                values={
                    "status": "paid",
                    "paid_amount": paid.amount,
                    "paid_by_id": actor.person_id,
                    "paid_at": now,
                    "updated_at": now,
                },
            )
            self._history(session, actor, request, "status", "claimed", "paid")
            self._history(session, actor, request, "paid_amount", None, format_money(paid))
            await self._audit(session, actor, "mdf.paid", ref, before, _snapshot(request))
            await self._close_review(
                session, request, event="paid", outcome=f"Marked paid by {actor.name}: {format_money(paid)}"
            )
            await self._notify_partner(
                session,
                request,
                event="paid",
                headline=f"{ref} is paid: {format_money(paid)} for {request.activity}.",
            )
            return await self._view(session, request)

    # -- reminders (scheduler) ------------------------------------------------------------------

    async def remind_due(self, *, now: datetime) -> list[str]:
        """Remind partners of approved, unclaimed funds: :data:`REMINDER_DAYS` before the activity ends
        and before the claim window closes. Each (request, kind, threshold) goes out once: the ledger
        row is claimed with an insert only one sweep can win, in the transaction of the outbox row. A
        sweep that first sees a request past several thresholds sends the nearest one only."""
        today = local_today(now, self.default_tz)
        until = today + timedelta(days=max(REMINDER_DAYS))
        sent: list[str] = []
        for kind in ("activity_end", "claim_window"):
            async with self.db.transaction() as session:
                if kind == "activity_end":
                    due = await mdf_queries.approved_ending_by(session, today=today, until=until)
                else:
                    due = await mdf_queries.claim_window_closing_by(session, today=today, until=until)
                ids = [r.id for r in due]
            for request_id in ids:
                async with self.db.transaction() as session:
                    request = await session.get(MdfRequest, request_id)
                    if request is None or request.status != "approved":
                        continue
                    deadline = request.end_date if kind == "activity_end" else request.claim_by
                    assert deadline is not None
                    left = (deadline - today).days
                    crossed = sorted(d for d in REMINDER_DAYS if left <= d)
                    if not crossed:
                        continue
                    fresh = {
                        d: await mdf_queries.claim_reminder(
                            session, request_id=request.id, kind=kind, days=d, now=now
                        )
                        for d in crossed
                    }
                    if not fresh[crossed[0]]:
                        continue
                    view = await self._view(session, request)
                    reply = mdf_views.reminder(view, kind=kind, days_left=left)
                    for person in await record_owner(
                        session, owner_id=request.requested_by_id, partner_id=request.partner_id
                    ):
                        await outbox.queue_for_person(
                            session,
                            key=f"{view.ref}:remind:{kind}:{crossed[0]}:p{person.id}",
                            person_id=person.id,
                            reply=reply,
                            kind="mdf",
                            now=now,
                        )
                    await self._audit(
                        session, None, f"mdf.remind.{kind}", view.ref, None, {"days": crossed[0]}
                    )
                    sent.append(
                        f"{view.ref} ({kind.replace('_', ' ')}, {left} day{'s' if left != 1 else ''})"
                    )
        return sent


def over_balance_text(amount: Money, balance: BalanceView) -> str:
    """Why a request does not fit, and what would."""
    if balance.remaining.amount <= 0:
        return (
            f"Your {balance.quarter} MDF budget of {format_money(balance.budget)} is fully requested or "
            "approved, so there is nothing left to ask for this quarter."
        )
    return (
        f"{format_money(amount)} is more than your remaining {balance.quarter} balance of "
        f"{format_money(balance.remaining)}. Ask for {format_money(balance.remaining)} or less."
    )


def claim_days_from(extra: Mapping[str, str]) -> int:
    """``PARTNERBOT_MDF_CLAIM_DAYS``: days after an activity's end to claim it (30)."""
    raw = (extra.get("PARTNERBOT_MDF_CLAIM_DAYS") or "").strip()
    try:
        return int(raw) if raw else DEFAULT_CLAIM_DAYS
    except ValueError as exc:
        raise ValueError(f"PARTNERBOT_MDF_CLAIM_DAYS must be a whole number, not {raw!r}") from exc


async def set_mdf_budget(mdf: Mdf, *, partner: str, quarter: str, amount: str) -> str:
    """``partnerbot mdf budget PARTNER --quarter 2027-Q1 --amount "50k EUR"``: create or change a
    budget; returns the line to print. Bad input raises :class:`InputError` naming the field."""
    money = parse_money(amount, default_currency=mdf.default_currency)
    view = await mdf.set_budget(None, partner=partner, quarter=quarter, amount=money)
    return (
        f"MDF budget of {view.partner} for {view.quarter}: {format_money(view.budget)} "
        f"({format_money(view.remaining)} left)"
    )
