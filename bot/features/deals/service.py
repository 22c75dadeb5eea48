"""Deal registration: register, conflict check, vendor review, protection and expiry, two-way updates.

Every public method takes the acting :class:`Actor` and decides here whether they may act. A partner
user sees only their own organisation's deals: a reference to another organisation's deal raises
:class:`NotFound` with exactly the text of a reference that does not exist. Every change writes deal
history, an audit entry and its notifications in the one transaction that makes the change.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.deals import views
from bot.features.deals.conflicts import find_conflicts
from bot.features.deals.model import (
    CLOSED,
    IN_REVIEW,
    LIFECYCLE,
    STAGES,
    ConflictView,
    DealChanges,
    DealDraft,
    DealView,
    NoteView,
)
from bot.kernel import outbox
from bot.kernel.amounts import Money, format_money
from bot.kernel.audit import audit_entry
from bot.kernel.changes import ChangeLog, snapshot
from bot.kernel.companies import normalize_company, normalize_domain, validate_company_name
from bot.kernel.dates import format_date, local_today, validate_close_date
from bot.kernel.errors import Conflict, InputError, NotAllowed
from bot.kernel.history import HistoryView, PersonNames, history_fields, history_views
from bot.kernel.messages import Actor
from bot.kernel.recipients import StaffPolicy, record_owner, tell_staff
from bot.kernel.refs import DEAL
from store import deal_queries, queries
from store.db import Database
from store.deal_models import Customer, Deal, DealConflict, DealHistory, DealNote

# The key of a notice to one person of the partner (see _notify_partner).
NOTICE_RE = re.compile(rf"^(?P<ref>{DEAL.token}):[a-z0-9_.-]+:p(?P<person>\d+):")
OPEN_STATUSES = deal_queries.OPEN_DEAL_STATUSES
MAX_TEXT = 2000
REVIEW_ROLES = ("approver",)
PRODUCTS_TTL = 30.0
UPDATE_ROLES = ("approver", "channel_manager")

# What the audit log keeps of a deal before and after each change.
AUDITED = (
    "status",
    "stage",
    "amount",
    "currency",
    "close_date",
    "next_step",
    "notes",
    "protection_until",
    "in_conflict",
    "decision_reason",
)


parse_ref = DEAL.parse
deal_ref = DEAL.format


def clean_text(value: str | None, *, field_name: str, limit: int = MAX_TEXT) -> str | None:
    """Free text (notes, reasons): stripped, control characters refused, length capped."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in value):
        raise InputError(field_name, "That text contains control characters; use plain text.")
    if len(value) > limit:
        raise InputError(field_name, f"That is {len(value):,} characters; {limit:,} is the most I keep.")
    if MARKUP_RE.search(value):
        raise InputError(
            field_name, "That text contains HTML such as <img> or <script>; type it in plain words."
        )
    return value


# Markup that runs or loads something where HTML is rendered: a script, an image, a frame, an event
# handler, a javascript: link. (Other angle brackets are text, shown escaped: "Kit <b>" is a title.)
MARKUP_RE = re.compile(
    r"<\s*/?\s*(?:script|img|iframe|svg|object|embed|style|link|meta|form|input|body|video|audio|source)\b"
    r"|\bon[a-z]+\s*=\s*['\"]?[^\s>]*\(|javascript\s*:",
    re.IGNORECASE,
)


class Deals:
    def __init__(
        self,
        *,
        db: Database,
        clock: Callable[[], datetime],
        protection_days: int = 90,
        vendor_channel: bool = False,
        default_tz: str = "UTC",
        tell_partner_conflicts: bool = False,
        changes: ChangeLog | None = None,
    ) -> None:
        self.db = db
        self.changes = changes or ChangeLog()
        self.clock = clock
        self.protection_days = protection_days
        self.vendor_channel = vendor_channel
        self.default_tz = default_tz
        # Off (the default), a partner can't tell from any answer whether another partner holds the
        # customer: the conflict flag is for staff only.
        self.tell_partner_conflicts = tell_partner_conflicts
        self._products: tuple[float, list[str]] | None = None

    # -- helpers --------------------------------------------------------------------------------

    def today_for(self, actor: Actor | None) -> date:
        return local_today(self.clock(), actor.tz if actor else self.default_tz)

    async def _deal_for(
        self, session: AsyncSession, actor: Actor, ref: str, *, for_update: bool = False
    ) -> Deal:
        return await DEAL.find(
            actor,
            ref,
            lambda number: deal_queries.deal_by_number(session, number, for_update=for_update),
            partner_of=lambda deal: deal.partner_id,
        )

    def _may_see_conflicts(self, viewer: Actor | None) -> bool:
        """Whether ``viewer`` learns that a deal conflicts with another registration: staff and the
        system (``None``) do; a partner only when the deployment opts in."""
        return viewer is None or viewer.is_staff or self.tell_partner_conflicts

    async def _view(
        self, session: AsyncSession, deal: Deal, viewer: Actor | None, *, history: bool = False
    ) -> DealView:
        registered_by = await queries.person_by_id(session, deal.registered_by_id)
        decided_by = await queries.person_by_id(session, deal.decided_by_id) if deal.decided_by_id else None
        conflicts: tuple[ConflictView, ...] = ()
        if viewer is None or viewer.is_staff:
            conflicts = tuple(
                ConflictView(
                    ref=deal_ref(other.number),
                    partner=other.partner.name,
                    customer=other.customer.name,
                    status=other.status,
                    reason=c.reason,
                )
                for c, other in await deal_queries.conflicts_of(session, deal.id)
            )
        hist: tuple[HistoryView, ...] = ()
        notes: tuple[NoteView, ...] = ()
        if history:
            names = PersonNames(session)
            hist = await history_views(await deal_queries.history_of(session, deal.id), names)
            if viewer is not None and viewer.is_staff:
                notes = tuple(
                    [
                        NoteView(body=n.body, by=await names(n.author_id) or "?", channel=n.channel, at=n.at)
                        for n in await deal_queries.notes_of(session, deal.id)
                    ]
                )
        return DealView(
            ref=deal_ref(deal.number),
            partner=deal.partner.name,
            customer=deal.customer.name,
            domain=deal.customer.domain,
            country=deal.customer.country,
            product=deal.product,
            amount=Money(Decimal(deal.amount), deal.currency),
            close_date=deal.close_date,
            stage=deal.stage,
            status=deal.status,
            in_conflict=deal.in_conflict and self._may_see_conflicts(viewer),
            notes=deal.notes,
            next_step=deal.next_step,
            protection_until=deal.protection_until,
            decision_reason=deal.decision_reason,
            decided_by=decided_by.name if decided_by else None,
            extension_reason=deal.extension_reason,
            outcome_reason=deal.outcome_reason,
            registered_by=registered_by.name if registered_by else "?",
            updated_at=deal.updated_at,
            conflicts=conflicts,
            history=hist,
            staff_notes=notes,
        )

    async def _audit(
        self,
        session: AsyncSession,
        actor: Actor | None,
        action: str,
        deal: Deal,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        await self.changes.record(
            session,
            actor,
            action=action,
            entity=deal_ref(deal.number),
            before=before,
            after=after,
            at=self.clock(),
        )

    def _history(
        self, session: AsyncSession, actor: Actor | None, deal: Deal, name: str, old: Any, new: Any
    ) -> None:
        session.add(DealHistory(deal_id=deal.id, **history_fields(actor, name, old, new, at=self.clock())))

    async def _notify_staff(self, session: AsyncSession, deal: Deal, *, event: str, headline: str) -> None:
        view = await self._view(session, deal, None)
        card = views.review_card(view, headline=headline)
        now = self.clock()
        await tell_staff(
            session,
            StaffPolicy.MANAGER_AND_APPROVERS_WITHOUT_CHANNEL,
            partner_id=deal.partner_id,
            vendor_channel=self.vendor_channel,
            kind="review",
            key=lambda who: f"{view.ref}:{event}:{who}:{now.isoformat()}",
            reply=lambda _: card,
            now=now,
        )

    async def _notify_partner(
        self, session: AsyncSession, deal: Deal, *, event: str, headline: str, exclude: int | None = None
    ) -> None:
        view = await self._view(session, deal, None)
        view = replace(view, conflicts=(), in_conflict=view.in_conflict and self.tell_partner_conflicts)
        recipients = await record_owner(session, owner_id=deal.registered_by_id, partner_id=deal.partner_id)
        now = self.clock()
        for person in recipients:
            if person.id == exclude:
                continue
            await outbox.queue_for_person(
                session,
                key=f"{view.ref}:{event}:p{person.id}:{now.isoformat()}",
                person_id=person.id,
                reply=views.partner_notice(view, headline=headline),
                kind="deal",
                now=now,
            )

    async def notice_unreachable(self, message_key: str, *, reason: str) -> bool:
        """A deal notice (``D-n:<event>:p<person>:<time>``) could not reach the partner: the staff
        member who decided the deal hears it once per deal and person."""
        match = NOTICE_RE.match(message_key)
        if match is None:
            return False
        recipient_id = int(match.group("person"))
        now = self.clock()
        async with self.db.transaction() as session:
            deal = await deal_queries.deal_by_number(session, parse_ref(match.group("ref")))
            if deal is None:
                return False
            ref = deal_ref(deal.number)
            return await outbox.tell_causer(
                session,
                key=f"{ref}:unreachable:p{recipient_id}:to{deal.decided_by_id}",
                causer_id=deal.decided_by_id,
                recipient_id=recipient_id,
                subject=f"{ref} · {deal.customer.name} ({deal.partner.name})",
                reason=reason,
                now=now,
            )

    async def _close_review(self, session: AsyncSession, deal: Deal, *, outcome: str) -> None:
        """The review card shows ``outcome`` in place of its buttons, and ``outcome`` is told in the
        card's thread in the vendor channel, so the thread keeps the card's decision history."""
        view = await self._view(session, deal, None)
        now = self.clock()
        await outbox.queue_replacement(
            session,
            key=f"{view.ref}:review-closed:{deal.status}:{now.isoformat()}",
            reply=views.review_outcome(view, outcome=outcome),
            now=now,
        )
        await outbox.queue_thread_reply(
            session,
            key=f"{view.ref}:review-thread:{deal.status}:{now.isoformat()}",
            reply=views.review_thread_line(view, outcome=outcome),
            now=now,
        )

    # -- validation ---------------------------------------------------------------------------

    def validate_draft(self, actor: Actor, draft: DealDraft) -> DealDraft:
        """The draft cleaned up, or :class:`InputError` naming the first bad field."""
        customer = validate_company_name(draft.customer)
        product = " ".join((draft.product or "").split())
        if not product:
            raise InputError("product", "Which product or solution is the deal for?")
        if len(product) > 200 or any(ch in product for ch in "<>*_~`|"):
            raise InputError(
                "product", "Give the product as plain text, e.g. Cloud Suite (up to 200 characters)."
            )
        if draft.amount.amount <= 0:
            raise InputError("amount", "The amount must be more than zero, e.g. 120k USD.")
        close_date = validate_close_date(draft.close_date, today=self.today_for(actor))
        country = (draft.country or "").strip().upper() or None
        if country and not re.fullmatch(r"[A-Z]{2}", country):
            raise InputError("country", "Give the customer's country as a two-letter code such as DE or US.")
        return DealDraft(
            customer=customer,
            product=product,
            amount=draft.amount,
            close_date=close_date,
            domain=normalize_domain(draft.domain),
            country=country,
            notes=clean_text(draft.notes, field_name="notes"),
        )

    # -- register -------------------------------------------------------------------------------

    async def register(self, actor: Actor, draft: DealDraft) -> DealView:
        if actor.is_staff or actor.partner_id is None:
            raise NotAllowed("Deals are registered by partners; staff review them.")
        draft = self.validate_draft(actor, draft)
        now = self.clock()
        async with self.db.transaction() as session:
            name_key = normalize_company(draft.customer)
            customer = await deal_queries.customer_by_key(
                session, partner_id=actor.partner_id, name_key=name_key
            )
            if customer is None:
                customer = Customer(
                    partner_id=actor.partner_id,
                    name=draft.customer,
                    name_key=name_key,
                    domain=draft.domain,
                    country=draft.country,
                    created_at=now,
                )
                session.add(customer)
            else:
                customer.domain = draft.domain or customer.domain
                customer.country = draft.country or customer.country
            deal = Deal(
                number=await queries.next_number(session, "deal"),
                partner_id=actor.partner_id,
                customer=customer,
                registered_by_id=actor.person_id,
                product=draft.product,
                amount=draft.amount.amount,
                currency=draft.amount.currency,
                close_date=draft.close_date,
                stage="prospecting",
                status="pending",
                in_conflict=False,
                notes=draft.notes,
                created_at=now,
                updated_at=now,
            )
            session.add(deal)
            await session.flush()
            matches = await find_conflicts(
                session, partner_id=actor.partner_id, name_key=name_key, domain=customer.domain
            )
            for match in matches:
                session.add(
                    DealConflict(
                        deal_id=deal.id,
                        other_deal_id=match.deal_id,
                        score=match.score,
                        reason=match.reason,
                        created_at=now,
                    )
                )
            deal.in_conflict = bool(matches)
            await session.flush()
            await session.refresh(deal)
            self._history(session, actor, deal, "status", None, "pending")
            await self._audit(session, actor, "deal.register", deal, None, _snapshot(deal))
            ref = deal_ref(deal.number)
            headline = (
                f"Possible conflict: {ref} from {deal.partner.name}"
                if matches
                else f"New registration {ref} from {deal.partner.name}"
            )
            await self._notify_staff(session, deal, event="registered", headline=headline)
            return await self._view(session, deal, actor)

    # -- read -----------------------------------------------------------------------------------

    async def get(self, actor: Actor, ref: str, *, history: bool = False) -> DealView:
        async with self.db.transaction() as session:
            deal = await self._deal_for(session, actor, ref)
            return await self._view(session, deal, actor, history=history)

    async def list_deals(self, actor: Actor, *, scope: str = "open", limit: int = 20) -> list[DealView]:
        """``open`` (default), ``review`` (staff: waiting on a decision), ``conflicts`` or ``all``."""
        partner_id = None if actor.is_staff else actor.partner_id
        if partner_id is None and not actor.is_staff:
            return []
        statuses: Sequence[str] | None = {
            "open": deal_queries.OPEN_DEAL_STATUSES,
            "review": ("pending",),
            "conflicts": tuple(sorted(IN_REVIEW)),
            "all": None,
        }.get(scope, deal_queries.OPEN_DEAL_STATUSES)
        async with self.db.transaction() as session:
            deals = await deal_queries.deals_visible(
                session,
                partner_id=partner_id,
                statuses=statuses,
                in_conflict=True if scope == "conflicts" else None,
                limit=limit,
            )
            return [await self._view(session, d, actor) for d in deals]

    async def customers_visible(self, actor: Actor) -> list[tuple[str, list[str]]]:
        """(customer name, refs of visible deals) for fuzzy resolution - never other partners'."""
        partner_id = None if actor.is_staff else actor.partner_id
        async with self.db.transaction() as session:
            deals = await deal_queries.deals_visible(session, partner_id=partner_id, statuses=None, limit=500)
            out: dict[str, list[str]] = {}
            for d in deals:
                out.setdefault(d.customer.name, []).append(deal_ref(d.number))
            return list(out.items())

    async def known_customer_names(self, actor: Actor) -> list[str]:
        if actor.partner_id is None:
            return []
        async with self.db.transaction() as session:
            return [c.name for c in await deal_queries.customers_of(session, actor.partner_id)]

    async def products(self) -> list[str]:
        """The active products' names, read again after :data:`PRODUCTS_TTL` seconds (every message
        and form needs them; they change a few times a year)."""
        cached = self._products
        if cached is not None and time.monotonic() - cached[0] < PRODUCTS_TTL:
            return list(cached[1])
        async with self.db.transaction() as session:
            names = await queries.product_names(session)
        self._products = (time.monotonic(), names)
        return list(names)

    # -- staff notes ----------------------------------------------------------------------------

    async def add_note(self, actor: Actor, ref: str, text: str) -> DealView:
        """Keep a staff member's ``text`` with deal ``ref`` (e.g. a reply in the thread of its review
        card), with an audit row. Staff read notes with the deal's history; the partner never does. A
        note changes nothing about the deal: it answers no nudge and tells nobody."""
        if not actor.is_staff:
            raise NotAllowed("Only vendor staff keep notes on deals.")
        body = clean_text(text, field_name="note")
        if not body:
            raise InputError("note", "What should I note? E.g. 'note: the customer confirmed the budget'.")
        async with self.db.transaction() as session:
            deal = await self._deal_for(session, actor, ref)
            now = self.clock()
            session.add(
                DealNote(deal_id=deal.id, author_id=actor.person_id, body=body, channel=actor.channel, at=now)
            )
            # The audit row alone, not ChangeLog.record: a note is no change that answers a nudge.
            session.add(
                audit_entry(
                    actor,
                    action="deal.note",
                    entity=deal_ref(deal.number),
                    before=None,
                    after={"note": body},
                    at=now,
                )
            )
            return await self._view(session, deal, actor)

    # -- vendor review --------------------------------------------------------------------------

    def _require_reviewer(self, actor: Actor) -> None:
        if not actor.has_role(*REVIEW_ROLES):
            raise NotAllowed("Only deal approvers can decide on registrations.")

    async def approve(self, actor: Actor, ref: str) -> DealView:
        self._require_reviewer(actor)
        async with self.db.transaction() as session:
            deal = await self._deal_for(session, actor, ref, for_update=True)
            self._expect(deal, "approved")
            before = _snapshot(deal)
            deal.status = "approved"
            deal.decided_by_id = actor.person_id
            deal.decided_at = self.clock()
            deal.decision_reason = None
            deal.protection_until = self.today_for(None) + timedelta(days=self.protection_days)
            deal.updated_at = self.clock()
            self._history(session, actor, deal, "status", before["status"], "approved")
            await self._audit(session, actor, "deal.approve", deal, before, _snapshot(deal))
            await self._close_review(
                session,
                deal,
                outcome=f"Approved by {actor.name}: protected until {format_date(deal.protection_until)}",
            )
            await self._notify_partner(
                session,
                deal,
                event="approved",
                headline=f"{deal_ref(deal.number)} is approved: protected until {format_date(deal.protection_until)}.",
            )
            return await self._view(session, deal, actor)

    async def reject(self, actor: Actor, ref: str, *, reason: str) -> DealView:
        self._require_reviewer(actor)
        reason_text = clean_text(reason, field_name="reason", limit=500)
        if not reason_text:
            raise InputError(
                "reason", "Say why the registration is rejected; the partner will see the reason."
            )
        async with self.db.transaction() as session:
            deal = await self._deal_for(session, actor, ref, for_update=True)
            self._expect(deal, "rejected")
            before = _snapshot(deal)
            deal.status = "rejected"
            deal.decided_by_id = actor.person_id
            deal.decided_at = self.clock()
            deal.decision_reason = reason_text
            deal.updated_at = self.clock()
            self._history(session, actor, deal, "status", before["status"], "rejected")
            await self._audit(session, actor, "deal.reject", deal, before, _snapshot(deal))
            await self._close_review(session, deal, outcome=f"Rejected by {actor.name}: {reason_text}")
            await self._notify_partner(
                session,
                deal,
                event="rejected",
                headline=f"{deal_ref(deal.number)} was not approved. Reason: {reason_text}",
            )
            return await self._view(session, deal, actor)

    async def request_info(self, actor: Actor, ref: str, *, question: str) -> DealView:
        self._require_reviewer(actor)
        text = clean_text(question, field_name="question", limit=500)
        if not text:
            raise InputError(
                "question", "What should the partner tell you? E.g. 'the customer's web domain'."
            )
        async with self.db.transaction() as session:
            deal = await self._deal_for(session, actor, ref, for_update=True)
            self._expect(deal, "asked for information")
            before = _snapshot(deal)
            deal.status = "info_requested"
            deal.decision_reason = text
            deal.updated_at = self.clock()
            self._history(session, actor, deal, "status", before["status"], "info_requested")
            await self._audit(session, actor, "deal.request_info", deal, before, _snapshot(deal))
            await self._close_review(session, deal, outcome=f"{actor.name} asked the partner: {text}")
            await self._notify_partner(
                session,
                deal,
                event="info-requested",
                headline=f"The review of {deal_ref(deal.number)} needs more information: {text}",
            )
            return await self._view(session, deal, actor)

    async def provide_info(self, actor: Actor, ref: str, *, info: str) -> DealView:
        """The partner answers an information request; the deal goes back to review."""
        text = clean_text(info, field_name="info")
        if not text:
            raise InputError("info", "Write the information the reviewer asked for.")
        async with self.db.transaction() as session:
            deal = await self._deal_for(session, actor, ref, for_update=True)
            if actor.is_staff:
                raise NotAllowed("The partner answers information requests.")
            self._expect(deal, "given more information")
            before = _snapshot(deal)
            deal.status = "pending"
            deal.notes = f"{deal.notes}\n{text}" if deal.notes else text
            deal.updated_at = self.clock()
            self._history(session, actor, deal, "notes", before["notes"], deal.notes)
            self._history(session, actor, deal, "status", "info_requested", "pending")
            await self._audit(session, actor, "deal.provide_info", deal, before, _snapshot(deal))
            await self._notify_staff(
                session,
                deal,
                event="info-provided",
                headline=f"{deal.partner.name} answered on {deal_ref(deal.number)}",
            )
            return await self._view(session, deal, actor)

    async def request_extension(self, actor: Actor, ref: str, *, reason: str) -> DealView:
        text = clean_text(reason, field_name="reason", limit=500)
        if not text:
            raise InputError(
                "reason", "Say why the protection should be extended, e.g. 'budget moved to Q3'."
            )
        async with self.db.transaction() as session:
            deal = await self._deal_for(session, actor, ref, for_update=True)
            if actor.is_staff:
                raise NotAllowed("The partner asks for an extension; staff decide on it.")
            self._expect(deal, "extended")
            if deal.extension_requested_at is not None:
                raise Conflict(f"An extension of {deal_ref(deal.number)} is already waiting for review.")
            before = _snapshot(deal)
            deal.extension_reason = text
            deal.extension_requested_at = self.clock()
            deal.updated_at = self.clock()
            self._history(session, actor, deal, "extension_request", None, text)
            await self._audit(session, actor, "deal.request_extension", deal, before, _snapshot(deal))
            await self._notify_staff(
                session,
                deal,
                event="extension",
                headline=f"Extension requested for {deal_ref(deal.number)}: {text}",
            )
            return await self._view(session, deal, actor)

    async def decide_extension(
        self, actor: Actor, ref: str, *, approve: bool, reason: str | None = None
    ) -> DealView:
        self._require_reviewer(actor)
        async with self.db.transaction() as session:
            deal = await self._deal_for(session, actor, ref, for_update=True)
            if deal.extension_requested_at is None:
                raise Conflict(f"{deal_ref(deal.number)} has no extension request waiting.")
            before = _snapshot(deal)
            deal.extension_requested_at = None
            if approve:
                start = max(self.today_for(None), deal.protection_until or self.today_for(None))
                deal.protection_until = start + timedelta(days=self.protection_days)
                deal.status = "approved"
                outcome = f"Extension approved by {actor.name}: protected until {format_date(deal.protection_until)}"
                self._history(
                    session,
                    actor,
                    deal,
                    "protection_until",
                    before["protection_until"],
                    deal.protection_until,
                )
            else:
                outcome = f"Extension declined by {actor.name}" + (f": {reason}" if reason else "")
                self._history(session, actor, deal, "extension_request", deal.extension_reason, "declined")
            deal.updated_at = self.clock()
            await self._audit(
                session,
                actor,
                "deal.extension." + ("approve" if approve else "decline"),
                deal,
                before,
                _snapshot(deal),
            )
            await self._close_review(session, deal, outcome=outcome)
            await self._notify_partner(
                session,
                deal,
                event="extension-" + ("approved" if approve else "declined"),
                headline=f"{deal_ref(deal.number)}: {outcome}.",
            )
            return await self._view(session, deal, actor)

    # -- two-way updates ------------------------------------------------------------------------

    def _require_updater(self, actor: Actor) -> None:
        if actor.is_staff and not actor.has_role(*UPDATE_ROLES):
            raise NotAllowed("Only approvers and channel managers update partners' deals.")

    async def update(self, actor: Actor, ref: str, changes: DealChanges) -> DealView:
        self._require_updater(actor)
        if changes.is_empty():
            raise InputError(
                "changes", "Tell me what changed: stage, amount, close date, next step or notes."
            )
        if changes.stage is not None and changes.stage not in STAGES:
            raise InputError("stage", f"Stages are {', '.join(STAGES)}.")
        close = (
            validate_close_date(changes.close_date, today=self.today_for(actor))
            if changes.close_date
            else None
        )
        if changes.amount is not None and changes.amount.amount <= 0:
            raise InputError("amount", "The amount must be more than zero, e.g. 120k USD.")
        next_step = clean_text(changes.next_step, field_name="next_step", limit=500)
        notes = clean_text(changes.notes, field_name="notes")
        async with self.db.transaction() as session:
            deal = await self._deal_for(session, actor, ref, for_update=True)
            if deal.status in CLOSED:
                raise Conflict(f"{deal_ref(deal.number)} is {deal.status}; closed deals can't be changed.")
            before = _snapshot(deal)
            changed: list[str] = []
            if changes.stage is not None and changes.stage != deal.stage:
                self._history(session, actor, deal, "stage", deal.stage, changes.stage)
                deal.stage = changes.stage
                changed.append(f"stage {changes.stage}")
            if changes.amount is not None and (changes.amount.amount, changes.amount.currency) != (
                deal.amount,
                deal.currency,
            ):
                old = format_money(Money(Decimal(deal.amount), deal.currency))
                self._history(session, actor, deal, "amount", old, format_money(changes.amount))
                deal.amount, deal.currency = changes.amount.amount, changes.amount.currency
                changed.append(f"amount {format_money(changes.amount)}")
            if close is not None and close != deal.close_date:
                self._history(session, actor, deal, "close_date", deal.close_date, close)
                deal.close_date = close
                changed.append(f"close date {format_date(close)}")
            if next_step is not None and next_step != deal.next_step:
                self._history(session, actor, deal, "next_step", deal.next_step, next_step)
                deal.next_step = next_step
                changed.append(f"next step: {next_step}")
            if notes is not None and notes != deal.notes:
                self._history(session, actor, deal, "notes", deal.notes, notes)
                deal.notes = notes
                changed.append("notes")
            if not changed:
                return await self._view(session, deal, actor)
            deal.updated_at = self.clock()
            await self._audit(session, actor, "deal.update", deal, before, _snapshot(deal))
            if actor.is_staff:
                await self._notify_partner(
                    session,
                    deal,
                    event="staff-update",
                    headline=f"{actor.name} updated {deal_ref(deal.number)}: {'; '.join(changed)}.",
                )
            return await self._view(session, deal, actor)

    async def confirm_on_track(self, actor: Actor, ref: str) -> DealView:
        """'Still on track': nothing changed, and the partner says so - the deal counts as fresh."""
        self._require_updater(actor)
        async with self.db.transaction() as session:
            deal = await self._deal_for(session, actor, ref, for_update=True)
            if deal.status in CLOSED:
                raise Conflict(f"{deal_ref(deal.number)} is {deal.status}; closed deals can't be changed.")
            before = _snapshot(deal)
            deal.updated_at = self.clock()
            self._history(session, actor, deal, "on_track", None, "confirmed")
            await self._audit(session, actor, "deal.on_track", deal, before, _snapshot(deal))
            return await self._view(session, deal, actor)

    async def push_close_date(self, actor: Actor, ref: str, *, days: int) -> DealView:
        """Move the expected close date ``days`` later (from today if it already passed)."""
        current = await self.get(actor, ref)
        start = max(current.close_date, self.today_for(actor))
        return await self.update(actor, ref, DealChanges(close_date=start + timedelta(days=days)))

    async def close(self, actor: Actor, ref: str, *, won: bool, reason: str | None = None) -> DealView:
        self._require_updater(actor)
        text = clean_text(reason, field_name="reason", limit=500)
        if not won and not text:
            raise InputError("reason", "Why was the deal lost? E.g. 'price', 'went with a competitor'.")
        async with self.db.transaction() as session:
            deal = await self._deal_for(session, actor, ref, for_update=True)
            target = "won" if won else "lost"
            self._expect(deal, f"marked {target}")
            before = _snapshot(deal)
            deal.status = target
            deal.outcome_reason = text
            deal.updated_at = self.clock()
            self._history(session, actor, deal, "status", before["status"], target)
            await self._audit(session, actor, f"deal.{target}", deal, before, _snapshot(deal))
            if before["status"] in IN_REVIEW:
                await self._close_review(session, deal, outcome=f"Marked {target} by {actor.name}")
            if actor.is_staff:
                await self._notify_partner(
                    session,
                    deal,
                    event=target,
                    headline=f"{actor.name} marked {deal_ref(deal.number)} as {target}.",
                )
            return await self._view(session, deal, actor)

    # -- expiry (scheduler) ---------------------------------------------------------------------

    async def expire_due(self, *, now: datetime) -> list[str]:
        """Expire approved registrations whose protection ended before ``now``'s date."""
        expired: list[str] = []
        async with self.db.transaction() as session:
            for deal in await deal_queries.approved_expiring(session, before=now.date()):
                before = _snapshot(deal)
                ended = deal.protection_until
                deal.status = "expired"
                deal.updated_at = now
                self._history(session, None, deal, "status", "approved", "expired")
                await self._audit(session, None, "deal.expire", deal, before, _snapshot(deal))
                await self._notify_partner(
                    session,
                    deal,
                    event="expired",
                    headline=f"The protection of {deal_ref(deal.number)} ended on {format_date(ended) if ended else '—'}. "
                    "Ask for an extension if the deal is still alive.",
                )
                expired.append(deal_ref(deal.number))
        return expired

    @staticmethod
    def _expect(deal: Deal, move: str) -> None:
        LIFECYCLE.expect(deal_ref(deal.number), deal.status, move)


def _snapshot(deal: Deal) -> dict[str, Any]:
    return snapshot(deal, AUDITED)
