"""Leads: import, distribution to partners, offers with an acceptance window, the lead lifecycle, and
conversion into a deal registration.

Every public method takes the acting :class:`Actor` (``None`` for the vendor's own systems: CSV import,
the JSON endpoint, the scheduler) and decides here whether they may act. A partner user sees only the
leads offered to or worked by their own organisation: a reference to any other lead raises
:class:`NotFound` with exactly the text of a reference that does not exist, and nothing a partner reads
(replies, lists, history, notifications) names another partner. Every change writes lead history, an
audit entry and its notifications in the one transaction that makes the change.

Lifecycle::

    offered -> accepted -> contacted -> qualified -> converted (a deal registration, D-n)
       |          \\__________\\____________\\______-> disqualified (reason)
       +-> declined / expired / reassigned: the offer ends, the lead goes to the next eligible partner
           (bot.features.leads.assignment) or, when nobody fits, to the staff review queue ("unassigned").
"""

from __future__ import annotations

import csv
import io
import re
import statistics
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rapidfuzz import fuzz, process
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from bot.features.deals.model import DealDraft, DealView
from bot.features.deals.service import Deals, clean_text, deal_ref
from bot.features.leads import views as lead_views
from bot.features.leads.assignment import (
    PERFORMANCE_DAYS,
    AssignmentEngine,
    AssignmentWeights,
    LeadFacts,
    PartnerRecord,
    Performance,
    region_of,
)
from bot.features.leads.model import LIFECYCLE, MANAGE_ROLES, LeadInput, LeadView, OfferView
from bot.kernel import outbox
from bot.kernel.amounts import Money
from bot.kernel.changes import ChangeLog, snapshot
from bot.kernel.companies import normalize_company, validate_company_name
from bot.kernel.dates import format_when
from bot.kernel.errors import Conflict, InputError, NotAllowed, NotFound
from bot.kernel.history import HistoryView, PersonNames, history_fields, history_views
from bot.kernel.messages import Actor, Reply
from bot.kernel.products import match_product
from bot.kernel.recipients import StaffPolicy, partner_users, tell_staff
from bot.kernel.refs import LEAD
from bot.people import EMAIL_RE
from store import deal_queries, lead_queries, queries
from store.db import Database
from store.lead_models import (
    CLOSED_LEAD_STATUSES,
    OPEN_LEAD_STATUSES,
    WORKING_LEAD_STATUSES,
    Lead,
    LeadHistory,
    LeadOffer,
    PartnerLeadProfile,
)
from store.models import Partner, Person

# The key of an offer's message to one user of the partner (see _offer / _notify_partner).
OFFER_MESSAGE_RE = re.compile(rf"^(?P<ref>{LEAD.token}):offer:o(?P<offer>\d+):p\d+$")

if TYPE_CHECKING:
    from bot.config import Settings

STATUS_ORDER = {"accepted": 1, "contacted": 2, "qualified": 3}
SETTABLE_STATUSES = ("contacted", "qualified", "disqualified")
DEFAULT_ACCEPT_HOURS = 48
DEFAULT_CAPACITY = 10
MAX_IMPORT_ROWS = 5000
FIELDS = (
    "company",
    "contact_name",
    "contact_email",
    "contact_phone",
    "country",
    "product",
    "source",
    "notes",
)
PHONE_RE = re.compile(r"^\+?[0-9 ()./-]{4,30}(?:\s*(?:x|ext\.?)\s*\d{1,6})?$", re.IGNORECASE)
FREEMAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "proton.me",
        "protonmail.com",
    }
)

# What the audit log keeps of a lead before and after each change.
AUDITED = (
    "status",
    "partner_id",
    "accept_by",
    "status_note",
    "disqualify_reason",
    "review_reason",
    "product",
    "country",
)


parse_lead_ref = LEAD.parse
lead_ref = LEAD.format


# -- values -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportedLead:
    ref: str
    company: str
    status: str
    partner: str | None
    reason: str


@dataclass(slots=True)
class ImportResult:
    """What an import created and where each lead went (vendor-side: names partners)."""

    leads: list[ImportedLead] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"imported {len(self.leads)} lead{'s' if len(self.leads) != 1 else ''}"]
        for lead in self.leads:
            where = (
                f"offered to {lead.partner} ({lead.reason})"
                if lead.partner
                else f"waiting for staff review ({lead.reason})"
            )
            lines.append(f"{lead.ref} {lead.company}: {where}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "leads": [
                {
                    "ref": lead.ref,
                    "company": lead.company,
                    "status": lead.status,
                    "partner": lead.partner,
                    "reason": lead.reason,
                }
                for lead in self.leads
            ]
        }


class LeadRowError(InputError):
    """A bad row of an import: ``line`` (CSV, 1 = the header) or ``index`` (JSON list, from 0)."""

    def __init__(
        self, field: str, message: str, *, line: int | None = None, index: int | None = None
    ) -> None:
        super().__init__(field, message)
        self.line = line
        self.index = index


@dataclass(frozen=True, slots=True)
class ConversionStart:
    """What the conversion dialog pre-fills from a lead."""

    view: LeadView
    product: str | None
    domain: str | None


@dataclass(frozen=True, slots=True)
class LeadSettings:
    accept_window: timedelta = timedelta(hours=DEFAULT_ACCEPT_HOURS)
    default_capacity: int = DEFAULT_CAPACITY
    weights: AssignmentWeights = field(default_factory=AssignmentWeights)

    @classmethod
    def from_settings(cls, settings: Settings) -> LeadSettings:
        """``PARTNERBOT_LEAD_ACCEPT_HOURS`` (48), ``PARTNERBOT_LEAD_CAPACITY`` (10),
        ``PARTNERBOT_LEAD_TIER_WEIGHTS`` ("Platinum=4,Gold=3,Silver=2,Registered=1")."""
        extra = settings.extra

        def positive(name: str, default: int) -> int:
            raw = (extra.get(name) or "").strip()
            if not raw:
                return default
            if not raw.isdigit() or int(raw) <= 0:
                raise ValueError(f"{name} must be a whole number above zero, not {raw!r}")
            return int(raw)

        tiers = (extra.get("PARTNERBOT_LEAD_TIER_WEIGHTS") or "").strip()
        return cls(
            accept_window=timedelta(hours=positive("PARTNERBOT_LEAD_ACCEPT_HOURS", DEFAULT_ACCEPT_HOURS)),
            default_capacity=positive("PARTNERBOT_LEAD_CAPACITY", DEFAULT_CAPACITY),
            weights=AssignmentWeights.parse_tiers(tiers) if tiers else AssignmentWeights(),
        )


# -- validation -------------------------------------------------------------------------------------


def _one_line(value: Any, *, field_name: str, limit: int, example: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(field_name, f"{field_name} must be text, e.g. {example}.")
    text = " ".join(value.split()) if not any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value) else None
    if text is None:
        raise InputError(
            field_name, f"{field_name} contains control characters; use plain text, e.g. {example}."
        )
    if len(text) > limit:
        raise InputError(
            field_name, f"{field_name} is {len(text):,} characters; {limit:,} is the most I keep."
        )
    return text or None


def validate_lead(raw: Mapping[str, Any], *, products: Sequence[str]) -> LeadInput:
    """A lead from loose input, or :class:`InputError` naming the first bad field and what is accepted.

    Needs ``company``, a two-letter ``country`` and a way to reach the contact (``contact_email`` or
    ``contact_phone``); ``product`` must be in the catalogue when there is one."""
    unknown = sorted(k for k in raw if k not in FIELDS)
    if unknown:
        raise InputError(unknown[0], f"unknown field {unknown[0]!r}; the fields are {', '.join(FIELDS)}.")
    company_raw = raw.get("company")
    if company_raw is not None and not isinstance(company_raw, str):
        raise InputError("company", "company must be text, e.g. Initech GmbH.")
    try:
        company = validate_company_name(company_raw or "")
    except InputError as exc:
        raise InputError(
            "company", exc.message.replace("the customer's company name", "the lead's company name")
        ) from exc
    country = _one_line(raw.get("country"), field_name="country", limit=100, example="DE") or ""
    if not country:
        raise InputError("country", "Give the lead's country as a two-letter code such as DE or US.")
    if len(country) != 2:
        raise InputError(
            "country", f"Give the lead's country as a two-letter code such as DE or US, not {country!r}."
        )
    country = country.upper()
    if region_of(country) is None:
        raise InputError("country", f"{country!r} is not a country code; use two letters such as DE or US.")
    contact_name = _one_line(
        raw.get("contact_name"), field_name="contact_name", limit=200, example="Jane Doe"
    )
    email = _one_line(
        raw.get("contact_email"), field_name="contact_email", limit=254, example="jane@initech.example"
    )
    if email:
        email = email.lower()
        if not EMAIL_RE.match(email):
            raise InputError(
                "contact_email", f"{email!r} is not an e-mail address such as jane@initech.example."
            )
    phone = _one_line(
        raw.get("contact_phone"), field_name="contact_phone", limit=40, example="+49 30 1234567"
    )
    if phone and (not PHONE_RE.match(phone) or sum(ch.isdigit() for ch in phone) < 5):
        raise InputError(
            "contact_phone",
            f"{phone!r} is not a phone number such as +49 30 1234567 (digits, spaces, + ( ) - .).",
        )
    if not email and not phone:
        raise InputError("contact_email", "Give a contact e-mail or phone so the partner can reach the lead.")
    product = _one_line(raw.get("product"), field_name="product", limit=200, example="Cloud Suite")
    if product and products:
        known = match_product(product, list(products))
        if known is None:
            raise InputError(
                "product", f"I don't know the product {product!r}. Products: {', '.join(products)}."
            )
        product = known[0]
    source = _one_line(raw.get("source"), field_name="source", limit=100, example="webinar")
    notes_raw = raw.get("notes")
    if notes_raw is not None and not isinstance(notes_raw, str):
        raise InputError("notes", "notes must be text.")
    notes = clean_text(notes_raw, field_name="notes")
    return LeadInput(
        company=company,
        country=country,
        contact_name=contact_name,
        contact_email=email,
        contact_phone=phone,
        product=product,
        source=source,
        notes=notes,
    )


def _email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    domain = email.rsplit("@", 1)[1].lower()
    return None if domain in FREEMAIL else domain


# -- the service ------------------------------------------------------------------------------------


class Leads:
    def __init__(
        self,
        *,
        db: Database,
        clock: Callable[[], datetime],
        deals: Deals,
        settings: LeadSettings | None = None,
        engine: AssignmentEngine | None = None,
        vendor_channel: bool = False,
        default_tz: str = "UTC",
        changes: ChangeLog | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.deals = deals
        self.changes = changes or ChangeLog()
        self.settings = settings or LeadSettings()
        self.engine = engine or AssignmentEngine(weights=self.settings.weights)
        self.vendor_channel = vendor_channel
        self.default_tz = default_tz

    # -- units of work and lookups ----------------------------------------------------------------

    @asynccontextmanager
    async def _unit(self, what: str) -> AsyncIterator[AsyncSession]:
        """One transaction. A lead changed by someone else between our read and our write (the version
        check) rolls everything back and says so."""
        try:
            async with self.db.transaction() as session:
                yield session
        except StaleDataError as exc:
            raise Conflict(
                f"{what} changed while I was saving; nothing was changed. Please try again."
            ) from exc

    @staticmethod
    def _require_manager(actor: Actor) -> None:
        if not actor.has_role(*MANAGE_ROLES):
            raise NotAllowed("Only channel managers and approvers manage leads.")

    async def _lead_for(
        self, session: AsyncSession, actor: Actor, ref: str, *, for_update: bool = False
    ) -> Lead:
        return await LEAD.find(
            actor,
            ref,
            lambda number: lead_queries.lead_by_number(session, number, for_update=for_update),
            partner_of=lambda lead: lead.partner_id,
        )

    async def _partner_name(self, session: AsyncSession, partner_id: int | None) -> str | None:
        if partner_id is None:
            return None
        partner = await queries.partner_by_id(session, partner_id)
        return partner.name if partner else None

    async def _view(
        self,
        session: AsyncSession,
        lead: Lead,
        *,
        audience: Literal["staff", "partner"],
        history: bool = False,
    ) -> LeadView:
        person = PersonNames(session)
        offers = await lead_queries.offers_of(session, lead.id)
        current = next((o for o in reversed(offers) if o.outcome in ("offered", "accepted")), None)
        staff = audience == "staff"
        offer_views = await self._offer_views(session, offers, person) if staff else ()
        hist = await self._history_views(session, lead, person, staff=staff) if history else ()
        deal = None
        if lead.converted_deal_id:
            numbers = await lead_queries.deal_numbers(session, [lead.converted_deal_id])
            deal = deal_ref(numbers[lead.converted_deal_id]) if lead.converted_deal_id in numbers else None
        hidden = not staff and lead.status == "offered"
        return LeadView(
            ref=lead_ref(lead.number),
            company=lead.company,
            country=lead.country,
            region=lead.region,
            product=lead.product,
            source=lead.source,
            notes=lead.notes,
            status=lead.status,
            status_note=lead.status_note,
            disqualify_reason=lead.disqualify_reason,
            partner=await self._partner_name(session, lead.partner_id),
            offered_at=lead.offered_at,
            accept_by=lead.accept_by,
            accepted_at=lead.accepted_at,
            converted_deal=deal,
            created_at=lead.created_at,
            updated_at=lead.updated_at,
            audience=audience,
            contact_name=None if hidden else lead.contact_name,
            contact_email=None if hidden else lead.contact_email,
            contact_phone=None if hidden else lead.contact_phone,
            contact_hidden=hidden,
            assignment_reason=current.reason if staff and current else None,
            review_reason=lead.review_reason if staff else None,
            offers=offer_views,
            history=hist,
        )

    async def _offer_views(
        self, session: AsyncSession, offers: Sequence[LeadOffer], person: PersonNames
    ) -> tuple[OfferView, ...]:
        """Every offer of a lead, for staff: to whom, why, what came of it."""
        return tuple(
            [
                OfferView(
                    partner=await self._partner_name(session, o.partner_id) or "?",
                    outcome=o.outcome,
                    reason=o.reason,
                    assigned_by=await person(o.assigned_by_id),
                    decline_reason=o.decline_reason,
                    decided_by=await person(o.decided_by_id),
                    offered_at=o.offered_at,
                    accept_by=o.accept_by,
                    decided_at=o.decided_at,
                )
                for o in offers
            ]
        )

    async def _history_views(
        self, session: AsyncSession, lead: Lead, person: PersonNames, *, staff: bool
    ) -> tuple[HistoryView, ...]:
        rows = list(await lead_queries.lead_history(session, lead.id))
        if not staff:
            # A partner's history starts when the lead came to them: what happened before (other
            # partners, their reasons) is none of their business.
            mine = await self._partner_name(session, lead.partner_id)
            start = max((r.id for r in rows if r.field == "partner" and r.new_value == mine), default=None)
            rows = [
                r
                for r in rows
                if start is not None and r.id > start and r.field not in PARTNER_HIDDEN_HISTORY
            ]
        return await history_views(rows, person)

    async def _view_for(
        self, session: AsyncSession, lead: Lead, actor: Actor, *, history: bool = False
    ) -> LeadView:
        return await self._view(
            session, lead, audience="staff" if actor.is_staff else "partner", history=history
        )

    # -- history, audit, notifications --------------------------------------------------------------

    def _history(
        self,
        session: AsyncSession,
        actor: Actor | None,
        lead: Lead,
        name: str,
        old: Any,
        new: Any,
        *,
        now: datetime,
    ) -> None:
        session.add(LeadHistory(lead_id=lead.id, **history_fields(actor, name, old, new, at=now)))

    async def _audit(
        self,
        session: AsyncSession,
        actor: Actor | None,
        action: str,
        lead: Lead,
        before: dict[str, Any] | None,
        *,
        now: datetime,
        channel: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        await self.changes.record(
            session,
            actor,
            action=action,
            entity=lead_ref(lead.number),
            before=before,
            after={**_snapshot(lead), **(extra or {})},
            channel=channel or "job",
            at=now,
        )

    def _tz(self, person: Person) -> str:
        return person.tz or self.default_tz

    async def _notify_staff(
        self,
        session: AsyncSession,
        lead: Lead,
        *,
        partner_id: int | None,
        event: str,
        headline: str,
        now: datetime,
    ) -> None:
        view = await self._view(session, lead, audience="staff")
        stamp = now.isoformat()
        await tell_staff(
            session,
            StaffPolicy.MANAGER_ELSE_CHANNEL_ELSE_MANAGERS,
            partner_id=partner_id,
            vendor_channel=self.vendor_channel,
            kind="lead",
            key=lambda who: (
                f"{view.ref}:{event}:vendor:{stamp}"
                if who == "vendor"
                else f"{view.ref}:{event}:{stamp}:{who}"
            ),
            reply=lambda person: lead_views.staff_notice(
                view, headline=headline, tz=self._tz(person) if person else self.default_tz
            ),
            now=now,
        )

    async def _notify_partner(
        self,
        session: AsyncSession,
        lead: Lead,
        *,
        partner_id: int,
        event: str,
        make: Callable[[LeadView, str], Reply],
        now: datetime,
    ) -> None:
        """A message for every active user of ``partner_id``; ``make(view, tz)`` builds it."""
        view = await self._view(session, lead, audience="partner")
        for person in await partner_users(session, partner_id):
            await outbox.queue_for_person(
                session,
                key=f"{view.ref}:{event}:p{person.id}",
                person_id=person.id,
                reply=make(view, self._tz(person)),
                kind="lead",
                now=now,
            )

    async def _close_offer_cards(
        self, session: AsyncSession, lead: Lead, offer: LeadOffer, *, text: str, now: datetime
    ) -> None:
        """Replace the offer cards the partner's users got with ``text`` and no Accept/Decline."""
        view = await self._view(session, lead, audience="partner")
        await outbox.queue_replacement(
            session,
            key=f"{view.ref}:offer-closed:o{offer.id}:{offer.outcome}",
            reply=lead_views.offer_closed(
                view,
                text=text,
                replace_key=lead_views.offer_key(view.ref, offer.id),
                still_theirs=offer.outcome == "accepted",
            ),
            now=now,
        )

    # -- the assignment engine's inputs ---------------------------------------------------------------

    async def _partner_records(self, session: AsyncSession, *, now: datetime) -> list[PartnerRecord]:
        partners = await lead_queries.partners_with_users(session)
        profiles = await lead_queries.lead_profiles(session)
        counts = await lead_queries.open_lead_counts(session)
        offers = await lead_queries.offers_since(session, since=now - timedelta(days=PERFORMANCE_DAYS))
        decided: dict[int, int] = {}
        accepted: dict[int, int] = {}
        hours: dict[int, list[float]] = {}
        converted: dict[int, int] = {}
        closed: dict[int, int] = {}
        for partner_id, outcome, offered_at, decided_at, lead_status in offers:
            if outcome in ("accepted", "declined", "expired"):
                decided[partner_id] = decided.get(partner_id, 0) + 1
            if outcome == "accepted":
                accepted[partner_id] = accepted.get(partner_id, 0) + 1
                if decided_at is not None:
                    hours.setdefault(partner_id, []).append((decided_at - offered_at).total_seconds() / 3600)
                if lead_status in CLOSED_LEAD_STATUSES:
                    closed[partner_id] = closed.get(partner_id, 0) + 1
                    converted[partner_id] = converted.get(partner_id, 0) + (lead_status == "converted")
        records = []
        for partner, users in partners:
            profile = profiles.get(partner.id)
            records.append(
                PartnerRecord(
                    partner_id=partner.id,
                    name=partner.name,
                    tier=partner.tier,
                    region=partner.region,
                    countries=tuple(c.upper() for c in partner.countries or ()),
                    active=partner.status == "active",
                    active_users=users,
                    capacity=profile.capacity if profile else self.settings.default_capacity,
                    products=tuple(profile.products or ()) if profile else (),
                    open_leads=counts.get(partner.id, 0),
                    performance=Performance(
                        decided=decided.get(partner.id, 0),
                        accepted=accepted.get(partner.id, 0),
                        median_hours_to_accept=statistics.median(hours[partner.id])
                        if hours.get(partner.id)
                        else None,
                        converted=converted.get(partner.id, 0),
                        closed=closed.get(partner.id, 0),
                    ),
                )
            )
        return records

    # -- distribution -------------------------------------------------------------------------------

    async def _offer(
        self,
        session: AsyncSession,
        lead: Lead,
        *,
        partner_id: int,
        reason: str,
        score: float | None,
        actor: Actor | None,
        now: datetime,
        channel: str | None = None,
    ) -> LeadOffer:
        """Offer ``lead`` to ``partner_id``: the offer row, the lead's new state, history, audit, and
        the offer card for every active user of the partner."""
        before = _snapshot(lead)
        old_partner = await self._partner_name(session, lead.partner_id)
        offer = LeadOffer(
            lead_id=lead.id,
            partner_id=partner_id,
            reason=reason[:500],
            score=score,
            assigned_by_id=actor.person_id if actor and actor.is_staff else None,
            outcome="offered",
            offered_at=now,
            accept_by=now + self.settings.accept_window,
        )
        session.add(offer)
        lead.status = "offered"
        lead.partner_id = partner_id
        lead.offered_at = now
        lead.accept_by = offer.accept_by
        lead.accepted_at = None
        lead.review_reason = None
        lead.status_note = None
        lead.updated_at = now
        await session.flush()
        new_partner = await self._partner_name(session, partner_id)
        self._history(session, actor, lead, "partner", old_partner, new_partner, now=now)
        if before["status"] != "offered":
            self._history(session, actor, lead, "status", before["status"], "offered", now=now)
        await self._audit(
            session,
            actor,
            "lead.offer",
            lead,
            before,
            now=now,
            channel=channel,
            extra={"reason": offer.reason},
        )
        replace_key = lead_views.offer_key(lead_ref(lead.number), offer.id)
        await self._notify_partner(
            session,
            lead,
            partner_id=partner_id,
            event=f"offer:o{offer.id}",
            make=lambda view, tz: lead_views.offer_card(view, tz=tz, replace_key=replace_key),
            now=now,
        )
        return offer

    async def _to_review(
        self,
        session: AsyncSession,
        lead: Lead,
        *,
        why: str,
        actor: Actor | None,
        now: datetime,
        last_partner_id: int | None,
        channel: str | None = None,
        notify: bool = True,
    ) -> None:
        before = _snapshot(lead)
        old_partner = await self._partner_name(session, lead.partner_id)
        lead.status = "unassigned"
        lead.partner_id = None
        lead.offered_at = None
        lead.accept_by = None
        lead.accepted_at = None
        lead.review_reason = why[:1000]
        lead.updated_at = now
        if before["status"] != "unassigned":
            self._history(session, actor, lead, "status", before["status"], "unassigned", now=now)
        if old_partner:
            self._history(session, actor, lead, "partner", old_partner, None, now=now)
        self._history(session, actor, lead, "review", None, why, now=now)
        await self._audit(session, actor, "lead.review", lead, before, now=now, channel=channel)
        if notify:
            await self._notify_staff(
                session,
                lead,
                partner_id=last_partner_id,
                event="review",
                headline=f"{lead_ref(lead.number)} · {lead.company} waits for review: {why}",
                now=now,
            )

    async def _distribute(
        self,
        session: AsyncSession,
        lead: Lead,
        *,
        actor: Actor | None,
        now: datetime,
        last_partner_id: int | None = None,
        also_exclude: Sequence[int] = (),
        channel: str | None = None,
        notify_review: bool = True,
    ) -> tuple[str | None, str]:
        """Offer ``lead`` to the engine's choice, or put it in the review queue. Returns (partner name or
        None, the reason)."""
        records = await self._partner_records(session, now=now)
        excluded = await lead_queries.excluded_partner_ids(session, lead.id) | set(also_exclude)
        facts = LeadFacts(country=lead.country, region=lead.region, product=lead.product)
        while True:
            choice = self.engine.choose(facts, records, excluded=excluded)
            if choice is None:
                break
            # Lock the partner and count again, so two assignments at once can't both take its last slot.
            await lead_queries.lock_partner(session, choice.partner_id)
            count = await lead_queries.open_lead_count(session, choice.partner_id)
            record = next(r for r in records if r.partner_id == choice.partner_id)
            if count != record.open_leads:
                records = [replace(r, open_leads=count) if r is record else r for r in records]
                continue
            await self._offer(
                session,
                lead,
                partner_id=choice.partner_id,
                reason=choice.reason,
                score=choice.score,
                actor=actor,
                now=now,
                channel=channel,
            )
            return choice.partner_name, choice.reason
        why = self.engine.why_nobody(facts, records, excluded=excluded)
        await self._to_review(
            session,
            lead,
            why=why,
            actor=actor,
            now=now,
            last_partner_id=last_partner_id,
            channel=channel,
            notify=notify_review,
        )
        return None, why

    # -- leads in -----------------------------------------------------------------------------------

    async def products(self) -> list[str]:
        async with self.db.transaction() as session:
            return await queries.product_names(session)

    async def validate(self, raw: Mapping[str, Any]) -> LeadInput:
        return validate_lead(raw, products=await self.products())

    async def create(self, actor: Actor, data: LeadInput) -> LeadView:
        """Staff create one lead in chat; it is distributed at once."""
        self._require_manager(actor)
        result = await self._add([data], actor=actor, channel=actor.channel)
        return await self.get(actor, result.leads[0].ref)

    async def add_leads(self, leads: Sequence[LeadInput], *, channel: str) -> ImportResult:
        """Leads from the vendor's systems (CSV import ``cli``, the JSON endpoint ``api``), already
        validated: all written in one transaction and distributed, or none."""
        return await self._add(leads, actor=None, channel=channel)

    async def _add(self, leads: Sequence[LeadInput], *, actor: Actor | None, channel: str) -> ImportResult:
        if not leads:
            raise InputError("leads", "There are no leads to add.")
        now = self.clock()
        result = ImportResult()
        review: list[tuple[str, str]] = []
        async with self._unit("A lead") as session:
            for data in leads:
                lead = Lead(
                    number=await queries.next_number(session, "lead"),
                    company=data.company,
                    company_key=normalize_company(data.company),
                    contact_name=data.contact_name,
                    contact_email=data.contact_email,
                    contact_phone=data.contact_phone,
                    country=data.country,
                    region=region_of(data.country),
                    product=data.product,
                    source=data.source,
                    notes=data.notes,
                    status="new",
                    partner_id=None,
                    created_by_id=actor.person_id if actor else None,
                    created_via=channel[:20],
                    created_at=now,
                    updated_at=now,
                )
                session.add(lead)
                await session.flush()
                self._history(session, actor, lead, "status", None, "new", now=now)
                await self._audit(session, actor, "lead.create", lead, None, now=now, channel=channel)
                partner, reason = await self._distribute(
                    session, lead, actor=actor, now=now, channel=channel, notify_review=len(leads) == 1
                )
                ref = lead_ref(lead.number)
                result.leads.append(
                    ImportedLead(
                        ref=ref, company=lead.company, status=lead.status, partner=partner, reason=reason
                    )
                )
                if partner is None:
                    review.append((ref, f"{ref} · {lead.company}: {reason}"))
            if len(leads) > 1 and review:
                await self._review_digest(session, review, now=now)
        return result

    async def _review_digest(
        self, session: AsyncSession, items: list[tuple[str, str]], *, now: datetime
    ) -> None:
        """One message for staff about the leads of a bulk import that nobody fits, not one per lead."""
        reply = lead_views.review_digest([line for _, line in items])
        stamp = now.isoformat()
        first = items[0][0]
        await tell_staff(
            session,
            StaffPolicy.MANAGER_ELSE_CHANNEL_ELSE_MANAGERS,
            partner_id=None,
            vendor_channel=self.vendor_channel,
            kind="lead",
            key=lambda who: (
                f"{first}:review-digest:vendor:{stamp}"
                if who == "vendor"
                else f"{first}:review-digest:{stamp}:{who}"
            ),
            reply=lambda _: reply,
            now=now,
        )

    # -- read ---------------------------------------------------------------------------------------

    async def assign_choices(self, actor: Actor, ref: str) -> tuple[LeadView, list[str]]:
        """For the assign form: the lead and the active partners' names (staff who manage leads)."""
        self._require_manager(actor)
        async with self.db.transaction() as session:
            lead = await self._lead_for(session, actor, ref)
            if lead.status in CLOSED_LEAD_STATUSES:
                raise Conflict(f"{lead_ref(lead.number)} is {lead.status}; closed leads can't be assigned.")
            names = await lead_queries.partner_names(session)
            current = await self._partner_name(session, lead.partner_id)
            return await self._view_for(session, lead, actor), [n for n in names if n != current]

    async def get(self, actor: Actor, ref: str, *, history: bool = False) -> LeadView:
        async with self.db.transaction() as session:
            lead = await self._lead_for(session, actor, ref)
            return await self._view_for(session, lead, actor, history=history)

    async def list_leads(
        self, actor: Actor, *, scope: str = "open", partner: str | None = None, limit: int = 50
    ) -> list[LeadView]:
        """A partner's own leads (``open`` or ``all``); staff: ``open`` (including the review queue),
        ``offered`` (unaccepted), ``expired`` (an offer expired in the last 90 days), ``review``, ``all``,
        optionally for one ``partner``."""
        if not actor.is_staff:
            if actor.partner_id is None:
                return []
            statuses: Sequence[str] | None = None if scope == "all" else OPEN_LEAD_STATUSES
            async with self.db.transaction() as session:
                rows = await lead_queries.leads_visible(
                    session, partner_id=actor.partner_id, statuses=statuses, limit=limit
                )
                return [await self._view(session, r, audience="partner") for r in rows]
        async with self.db.transaction() as session:
            partner_id = None
            if partner:
                found = await self._resolve_partner(session, partner)
                partner_id = found.id
            lead_ids = None
            statuses = {
                "open": (*OPEN_LEAD_STATUSES, "unassigned"),
                "offered": ("offered",),
                "review": ("unassigned",),
                "all": None,
                "expired": None,
            }.get(scope, (*OPEN_LEAD_STATUSES, "unassigned"))
            if scope == "expired":
                lead_ids = await lead_queries.lead_ids_with_offers(
                    session,
                    outcome="expired",
                    since=self.clock() - timedelta(days=PERFORMANCE_DAYS),
                    partner_id=partner_id,
                )
                partner_id = None  # the lead may be elsewhere now
            if partner_id is not None and scope in ("open", "review"):
                statuses = OPEN_LEAD_STATUSES
            rows = await lead_queries.leads_visible(
                session, partner_id=partner_id, statuses=statuses, lead_ids=lead_ids, limit=limit
            )
            views = [await self._view(session, r, audience="staff") for r in rows]
            return sorted(views, key=lambda v: ((v.partner or "~").casefold(), _status_rank(v.status), v.ref))

    async def companies_visible(self, actor: Actor) -> list[tuple[str, str]]:
        """(company, ref) of the leads the actor may see - for resolving "the Initech lead"; never
        another partner's."""
        partner_id = None if actor.is_staff else actor.partner_id
        if partner_id is None and not actor.is_staff:
            return []
        async with self.db.transaction() as session:
            rows = await lead_queries.leads_visible(session, partner_id=partner_id, statuses=None, limit=500)
            return [(r.company, lead_ref(r.number)) for r in rows]

    async def partner_names(self) -> list[str]:
        async with self.db.transaction() as session:
            return await lead_queries.partner_names(session)

    async def _resolve_partner(self, session: AsyncSession, name: str) -> Partner:
        """A partner by name for staff: exact (any case), else a close match."""
        found = await queries.partner_by_name(session, name)
        if found is not None:
            return found
        names = await lead_queries.partner_names(session, active_only=False)
        best = process.extractOne(name, names, scorer=fuzz.WRatio, processor=str.casefold)
        if best and best[1] >= 85:
            match = await queries.partner_by_name(session, best[0])
            if match is not None:
                return match
        shown = ", ".join(names[:10]) + (" …" if len(names) > 10 else "")
        raise NotFound(f"No partner named {name!r}. Partners: {shown or 'none yet'}.")

    # -- the partner's decision ---------------------------------------------------------------------

    async def accept(self, actor: Actor, ref: str) -> LeadView:
        if actor.is_staff:
            raise NotAllowed(
                "The partner a lead is offered to accepts it; staff can say 'assign L-12 to PARTNER'."
            )
        now = self.clock()
        ended: datetime | None = None
        async with self._unit(ref) as session:
            lead = await self._lead_for(session, actor, ref, for_update=True)
            if lead.status != "offered":
                raise Conflict(_not_now(lead, "accepted"))
            if lead.accept_by is not None and lead.accept_by < now:
                ended = lead.accept_by
                await self._expire(session, lead, now=now)
            else:
                before = _snapshot(lead)
                offer = await lead_queries.open_offer(session, lead.id)
                lead.status = "accepted"
                lead.accepted_at = now
                lead.updated_at = now
                self._history(session, actor, lead, "status", "offered", "accepted", now=now)
                await self._audit(session, actor, "lead.accept", lead, before, now=now)
                if offer is not None:
                    offer.outcome = "accepted"
                    offer.decided_at = now
                    offer.decided_by_id = actor.person_id
                    await session.flush()
                    await self._close_offer_cards(
                        session, lead, offer, text=f"Accepted by {actor.name}. It's yours to work.", now=now
                    )
                return await self._view_for(session, lead, actor)
        when = format_when(ended, actor.tz) if ended else "—"
        raise Conflict(
            f"The time to accept {lead_ref(parse_lead_ref(ref))} ended on {when}, so it has moved on."
        )

    async def decline(self, actor: Actor, ref: str, *, reason: str) -> LeadView:
        """The partner declines (or hands back an accepted lead it hasn't worked yet). The lead goes to
        the next eligible partner at once; the partner's channel manager hears why."""
        if actor.is_staff:
            raise NotAllowed("Staff don't decline leads; say 'assign L-12 to PARTNER' to move one.")
        text = clean_text(reason, field_name="reason", limit=500)
        if not text:
            raise InputError(
                "reason",
                f"Why are you declining {ref.upper()}? E.g. 'out of territory'. Your channel manager sees the reason.",
            )
        now = self.clock()
        async with self._unit(ref) as session:
            lead = await self._lead_for(session, actor, ref, for_update=True)
            if lead.status not in ("offered", "accepted"):
                raise Conflict(_not_now(lead, "declined"))
            partner_id = lead.partner_id
            assert partner_id is not None
            before = _snapshot(lead)
            offer = await lead_queries.open_offer(session, lead.id)
            if offer is not None:
                offer.outcome = "declined"
                offer.decline_reason = text
                offer.decided_at = now
                offer.decided_by_id = actor.person_id
            self._history(session, actor, lead, "status", lead.status, "declined", now=now)
            self._history(session, actor, lead, "decline_reason", None, text, now=now)
            lead.updated_at = now
            await self._audit(
                session, actor, "lead.decline", lead, before, now=now, extra={"decline_reason": text}
            )
            await session.flush()
            declined_view = replace(await self._view_for(session, lead, actor), status="declined")
            if offer is not None:
                await self._close_offer_cards(
                    session, lead, offer, text=f"Declined by {actor.name}: {text}", now=now
                )
            await self._move_on(
                session,
                lead,
                partner_id=partner_id,
                event=f"declined:o{offer.id if offer else 0}",
                told=lambda name: f"{name} declined {lead_ref(lead.number)} · {lead.company}: {text}.",
                now=now,
            )
            return declined_view

    # -- expiry (scheduler) -------------------------------------------------------------------------

    async def _expire(self, session: AsyncSession, lead: Lead, *, now: datetime) -> tuple[str | None, str]:
        """The acceptance window of ``lead`` ended: the offer expires, the partner hears that the lead
        moved on (never where), and the lead goes to the next candidate or the review queue."""
        partner_id = lead.partner_id
        assert partner_id is not None
        before = _snapshot(lead)
        ended = lead.accept_by
        offer = await lead_queries.open_offer(session, lead.id)
        if offer is not None:
            offer.outcome = "expired"
            offer.decided_at = now
        self._history(session, None, lead, "status", "offered", "expired", now=now)
        lead.updated_at = now
        await self._audit(session, None, "lead.expire", lead, before, now=now)
        await session.flush()
        if offer is not None:
            await self._close_offer_cards(
                session,
                lead,
                offer,
                text="The time to accept ended, so this lead moved to another partner.",
                now=now,
            )
        await self._notify_partner(
            session,
            lead,
            partner_id=partner_id,
            event=f"moved:o{offer.id if offer else 0}",
            make=lambda view, tz: lead_views.moved_notice(view, tz=tz, ended=ended),
            now=now,
        )
        return await self._distribute(session, lead, actor=None, now=now, last_partner_id=partner_id)

    async def offer_unreachable(
        self, message_key: str, *, reason: str, now: datetime | None = None
    ) -> str | None:
        """An offer message (``L-n:offer:o<offer>:p<person>``) found its recipient unreachable. When
        nobody of that partner can be reached, the offer ends at once (outcome ``unreachable``, the
        reason in the audit), its waiting messages are dropped, the lead goes to the next candidate
        instead of eating its acceptance window, and the staff who watch leads are told once who could
        not be reached and why. Returns where the lead went; None when nothing changed (someone of the
        partner got or may still get the offer, or the offer is over)."""
        match = OFFER_MESSAGE_RE.match(message_key)
        if match is None:
            return None
        now = now or self.clock()
        prefix = f"{match.group('ref')}:offer:o{match.group('offer')}:p"
        async with self.db.transaction() as session:
            offer = await lead_queries.offer_by_id(session, int(match.group("offer")), for_update=True)
            if offer is None or offer.outcome != "offered":
                return None
            messages = await lead_queries.offer_messages(session, prefix)
            if not messages or any(
                status != "pending" or not (error or "").startswith(outbox.UNREACHABLE)
                for status, error in messages
            ):
                return None
            lead = await lead_queries.lead_by_id(session, offer.lead_id, for_update=True)
            if lead is None or lead.status != "offered" or lead.partner_id != offer.partner_id:
                return None
            partner_id = offer.partner_id
            before = _snapshot(lead)
            offer.outcome = "unreachable"
            offer.decided_at = now
            why_not = reason.removeprefix(outbox.UNREACHABLE)[:500]
            self._history(session, None, lead, "status", "offered", "unreachable", now=now)
            lead.updated_at = now
            await self._audit(
                session, None, "lead.unreachable", lead, before, now=now, extra={"reason": why_not}
            )
            await session.flush()
            await lead_queries.drop_offer_messages(
                session, prefix, why="the lead moved on: nobody could be reached"
            )
            nxt = await self._move_on(
                session,
                lead,
                partner_id=partner_id,
                event=f"unreachable:o{offer.id}",
                told=lambda name: (
                    f"Nobody at {name} could be reached for {lead_ref(lead.number)} · {lead.company} ({why_not})."
                ),
                now=now,
            )
            return nxt or "staff review"

    async def _move_on(
        self,
        session: AsyncSession,
        lead: Lead,
        *,
        partner_id: int,
        event: str,
        told: Callable[[str], str],
        now: datetime,
    ) -> str | None:
        """A partner let ``lead`` go (declined it, or nobody there can be reached): it goes to the next
        candidate or the review queue, and the staff who watch leads hear ``told(partner name)`` and
        where it went. The next partner's name, or None."""
        partner_name = await self._partner_name(session, partner_id)
        nxt, why = await self._distribute(
            session, lead, actor=None, now=now, last_partner_id=partner_id, notify_review=False
        )
        where = f"Offered next to {nxt} ({why})." if nxt else f"It waits for review: {why}."
        await self._notify_staff(
            session,
            lead,
            partner_id=partner_id,
            event=event,
            headline=f"{told(partner_name or 'the partner')} {where}",
            now=now,
        )
        return nxt

    async def expire_due(self, *, now: datetime) -> list[str]:
        """Expire every offer whose acceptance window ended before ``now`` and offer each lead to the
        next candidate. Safe to run twice or in two replicas: each lead is claimed (``SKIP LOCKED``, and
        the version check) in its own transaction, and one that is no longer due is left alone."""
        async with self.db.transaction() as session:
            due = await lead_queries.due_offer_lead_ids(session, now=now)
        done: list[str] = []
        for lead_id in due:
            try:
                async with self.db.transaction() as session:
                    lead = await lead_queries.claim_due_offer(session, lead_id=lead_id, now=now)
                    if lead is None:
                        continue
                    partner, _why = await self._expire(session, lead, now=now)
                    done.append(f"{lead_ref(lead.number)} → {partner or 'staff review'}")
            except StaleDataError:
                continue  # another sweep got there first
        return done

    # -- lifecycle ----------------------------------------------------------------------------------

    async def set_status(
        self, actor: Actor, ref: str, status: str, *, note: str | None = None, reason: str | None = None
    ) -> LeadView:
        """contacted / qualified (optional note) / disqualified (reason). Forward only."""
        if actor.is_staff:
            self._require_manager(actor)
        status = (status or "").strip().lower()
        if status not in SETTABLE_STATUSES:
            raise InputError(
                "status",
                "A lead can be marked contacted, qualified or disqualified (with a reason), or converted to a deal.",
            )
        note_text = clean_text(note, field_name="note", limit=500)
        reason_text = clean_text(reason, field_name="reason", limit=500)
        if status == "disqualified" and not reason_text:
            raise InputError(
                "reason", f"Why is {ref.upper()} disqualified? E.g. 'no budget', 'went with a competitor'."
            )
        now = self.clock()
        async with self._unit(ref) as session:
            lead = await self._lead_for(session, actor, ref, for_update=True)
            if lead.status not in WORKING_LEAD_STATUSES:
                raise Conflict(_not_now(lead, f"marked {status}", staff=actor.is_staff))
            before = _snapshot(lead)
            changed: list[str] = []
            if status == "disqualified":
                lead.status = "disqualified"
                lead.disqualify_reason = reason_text
                lead.closed_at = now
                self._history(session, actor, lead, "status", before["status"], "disqualified", now=now)
                self._history(session, actor, lead, "disqualify_reason", None, reason_text, now=now)
                changed.append(f"disqualified: {reason_text}")
            else:
                if STATUS_ORDER[status] < STATUS_ORDER[lead.status] or (
                    STATUS_ORDER[status] == STATUS_ORDER[lead.status] and not note_text
                ):
                    raise Conflict(f"{lead_ref(lead.number)} is already {lead.status}.")
                if status != lead.status:
                    lead.status = status
                    self._history(session, actor, lead, "status", before["status"], status, now=now)
                    changed.append(status)
            if note_text and note_text != lead.status_note:
                self._history(session, actor, lead, "note", lead.status_note, note_text, now=now)
                lead.status_note = note_text
                changed.append(f"note: {note_text}")
            lead.updated_at = now
            await self._audit(session, actor, "lead.status", lead, before, now=now)
            if actor.is_staff and lead.partner_id is not None:
                await self._notify_partner(
                    session,
                    lead,
                    partner_id=lead.partner_id,
                    event=f"staff-status:{now.isoformat()}",
                    make=lambda view, tz: lead_views.partner_notice(
                        view, tz=tz, headline=f"{actor.name} updated {view.ref}: {'; '.join(changed)}."
                    ),
                    now=now,
                )
            return await self._view_for(session, lead, actor)

    async def conversion_start(self, actor: Actor, ref: str) -> ConversionStart:
        """Check that ``actor`` may convert the lead now, and what the deal draft starts from."""
        if actor.is_staff:
            raise NotAllowed("The partner converts a lead: the deal registration is theirs.")
        async with self.db.transaction() as session:
            lead = await self._lead_for(session, actor, ref)
            if lead.status not in WORKING_LEAD_STATUSES:
                raise Conflict(_not_now(lead, "converted"))
            products = await queries.product_names(session)
            product = lead.product if lead.product and (not products or lead.product in products) else None
            return ConversionStart(
                view=await self._view_for(session, lead, actor),
                product=product,
                domain=_email_domain(lead.contact_email),
            )

    async def convert(
        self,
        actor: Actor,
        ref: str,
        *,
        amount: Money,
        close_date: date,
        product: str | None = None,
        notes: str | None = None,
    ) -> tuple[LeadView, DealView]:
        """Register a deal from the lead through :meth:`Deals.register` (so the normal validation and
        conflict check run), then mark the lead converted and link both ways."""
        start = await self.conversion_start(actor, ref)
        view = start.view
        extra = clean_text(notes, field_name="notes", limit=1500)
        draft = self.deals.validate_draft(
            actor,
            DealDraft(
                customer=view.company,
                product=product or start.product or "",
                amount=amount,
                close_date=close_date,
                domain=start.domain,
                country=view.country,
                notes="\n".join(x for x in (f"From lead {view.ref}.", extra) if x),
            ),
        )
        deal = await self.deals.register(actor, draft)
        now = self.clock()
        async with self._unit(ref) as session:
            lead = await self._lead_for(session, actor, ref, for_update=True)
            if lead.status not in WORKING_LEAD_STATUSES:
                raise Conflict(
                    f"{deal.ref} is registered, but {lead_ref(lead.number)} changed meanwhile "
                    f"({lead.status}), so it was not marked converted."
                )
            row = await deal_queries.deal_by_number(
                session, int(deal.ref.removeprefix("D-")), for_update=True
            )
            assert row is not None
            before = _snapshot(lead)
            row.source_lead_id = lead.id
            lead.status = "converted"
            lead.converted_deal_id = row.id
            lead.closed_at = now
            lead.updated_at = now
            self._history(session, actor, lead, "status", before["status"], "converted", now=now)
            self._history(session, actor, lead, "deal", None, deal.ref, now=now)
            await self._audit(session, actor, "lead.convert", lead, before, now=now, extra={"deal": deal.ref})
            return await self._view_for(session, lead, actor), deal

    # -- staff override -----------------------------------------------------------------------------

    async def assign(self, actor: Actor, ref: str, *, partner: str | None = None) -> LeadView:
        """Staff override: offer the lead to ``partner`` by hand (eligibility is noted, not enforced),
        or, without a partner, to the engine's next choice other than the current holder."""
        self._require_manager(actor)
        now = self.clock()
        async with self._unit(ref) as session:
            lead = await self._lead_for(session, actor, ref, for_update=True)
            if lead.status in CLOSED_LEAD_STATUSES:
                raise Conflict(f"{lead_ref(lead.number)} is {lead.status}; closed leads can't be assigned.")
            target = await self._resolve_partner(session, partner) if partner else None
            if target is not None and target.status != "active":
                raise Conflict(f"{target.name} is not an active partner.")
            if target is not None and target.id == lead.partner_id:
                raise Conflict(f"{lead_ref(lead.number)} is already with {target.name}.")
            old_partner_id = lead.partner_id
            old_status = lead.status
            before = _snapshot(lead)
            offer = await lead_queries.open_offer(session, lead.id)
            if offer is not None:
                offer.outcome = "reassigned"
                offer.decided_at = now
                offer.decided_by_id = actor.person_id
            await self._audit(
                session,
                actor,
                "lead.assign",
                lead,
                before,
                now=now,
                extra={"to": target.name if target else "next candidate"},
            )
            await session.flush()
            if offer is not None and old_partner_id is not None and old_status in OPEN_LEAD_STATUSES:
                await self._close_offer_cards(
                    session, lead, offer, text="This lead moved to another partner.", now=now
                )
                await self._notify_partner(
                    session,
                    lead,
                    partner_id=old_partner_id,
                    event=f"moved:o{offer.id}",
                    make=lambda view, tz: lead_views.moved_notice(view, tz=tz, ended=None),
                    now=now,
                )
            if target is None:
                await self._distribute(
                    session,
                    lead,
                    actor=actor,
                    now=now,
                    last_partner_id=old_partner_id,
                    also_exclude=[old_partner_id] if old_partner_id else [],
                )
            else:
                records = await self._partner_records(session, now=now)
                record = next(r for r in records if r.partner_id == target.id)
                facts = LeadFacts(country=lead.country, region=lead.region, product=lead.product)
                why_not = self.engine.why_not(facts, record, excluded=())
                reason = f"assigned by {actor.name}" + (
                    f" (override: {target.name} {why_not})" if why_not else ""
                )
                reason += "; " + self.engine.reason(facts, record)
                await self._offer(
                    session, lead, partner_id=target.id, reason=reason, score=None, actor=actor, now=now
                )
            return await self._view_for(session, lead, actor)

    async def set_profile(
        self,
        actor: Actor,
        partner: str,
        *,
        capacity: int | None = None,
        products: Sequence[str] | None = None,
    ) -> tuple[int, list[str]]:
        """A partner's lead capacity and product specialisations (staff). Returns what is now set."""
        self._require_manager(actor)
        if capacity is not None and not 0 <= capacity <= 1000:
            raise InputError(
                "capacity", "Capacity is the number of open leads a partner takes at once, 0 to 1000."
            )
        async with self.db.transaction() as session:
            found = await self._resolve_partner(session, partner)
            catalogue = await queries.product_names(session)
            names: list[str] | None = None
            if products is not None:
                names = []
                for item in products:
                    known = match_product(item, catalogue) if catalogue else None
                    if catalogue and known is None:
                        raise InputError(
                            "products",
                            f"I don't know the product {item!r}. Products: {', '.join(catalogue)}.",
                        )
                    names.append(known[0] if known else item.strip())
            profile = await lead_queries.lead_profile(session, found.id)
            if profile is None:
                profile = PartnerLeadProfile(
                    partner_id=found.id,
                    capacity=self.settings.default_capacity,
                    products=[],
                    updated_at=self.clock(),
                )
                session.add(profile)
            if capacity is not None:
                profile.capacity = capacity
            if names is not None:
                profile.products = sorted(set(names))
            profile.updated_at = self.clock()
            await self.changes.record(
                session,
                actor,
                action="lead.profile",
                entity=f"partner:{found.name}"[:40],
                before=None,
                after={"capacity": profile.capacity, "products": list(profile.products)},
                at=self.clock(),
            )
            return profile.capacity, list(profile.products)


STATUS_RANK = ("unassigned", "offered", "accepted", "contacted", "qualified", "converted", "disqualified")
PARTNER_HIDDEN_HISTORY = ("partner", "review", "decline_reason")


def _status_rank(status: str) -> int:
    return STATUS_RANK.index(status) if status in STATUS_RANK else len(STATUS_RANK)


def _not_now(lead: Lead, verb: str, *, staff: bool = False) -> str:
    ref = lead_ref(lead.number)
    if lead.status == "offered":
        return (
            f"{ref} waits for acceptance; accept it first."
            if not staff
            else f"{ref} waits for the partner to accept it."
        )
    if lead.status in WORKING_LEAD_STATUSES and verb == "accepted":
        return f"{ref} is already accepted."
    if lead.status == "unassigned":
        return f"{ref} waits for staff review, so it can't be {verb} now."
    return LIFECYCLE.cannot(ref, lead.status, verb)


def _snapshot(lead: Lead) -> dict[str, Any]:
    return snapshot(lead, AUDITED)


# -- entry points for the wiring (CLI, HTTP, scheduler) -----------------------------------------------


def read_leads_csv(path: Path, *, products: Sequence[str]) -> list[LeadInput]:
    """Every row of the CSV file validated, or :class:`LeadRowError` naming the first bad line and
    field. Nothing is written here."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError("file", f"I can't read {path}: {exc.strerror or exc}.") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LeadRowError("file", f"line {line}: the file is not UTF-8 text.", line=line) from exc
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="__extra__", strict=True)
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise LeadRowError("file", f"line 1: {exc}.", line=1) from exc
    if not header:
        raise LeadRowError(
            "file", f"{path.name} is empty; the first line names the columns: {', '.join(FIELDS)}.", line=1
        )
    reader.fieldnames = header
    doubled = sorted({h for h in header if header.count(h) > 1})
    if doubled:
        raise LeadRowError(doubled[0], f"line 1: the column {doubled[0]!r} appears twice.", line=1)
    unknown = [h for h in header if h not in FIELDS]
    if unknown:
        raise LeadRowError(
            unknown[0] or "header",
            f"line 1: unknown column {unknown[0]!r}; the columns are {', '.join(FIELDS)}.",
            line=1,
        )
    for needed in ("company", "country"):
        if needed not in header:
            raise LeadRowError(
                needed,
                f"line 1: the column {needed!r} is missing; the columns are {', '.join(FIELDS)}.",
                line=1,
            )
    if "contact_email" not in header and "contact_phone" not in header:
        raise LeadRowError("contact_email", "line 1: give a contact_email or contact_phone column.", line=1)
    leads: list[LeadInput] = []
    last_end = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            line = last_end + 1  # where the broken record starts
            raise LeadRowError("file", f"line {line}: {exc} (is a quote not closed?).", line=line) from exc
        line = reader.line_num  # where the row ends (a quoted value may span lines)
        last_end = line
        if "__extra__" in row:
            raise LeadRowError("file", f"line {line}: more values than the {len(header)} columns.", line=line)
        values = {k: (v if v is None else v.strip()) or None for k, v in row.items()}
        if not any(values.values()):
            continue  # a blank line
        try:
            leads.append(validate_lead(values, products=products))
        except InputError as exc:
            raise LeadRowError(exc.field, f"line {line}, {exc.field}: {exc.message}", line=line) from exc
        if len(leads) > MAX_IMPORT_ROWS:
            raise LeadRowError("file", f"line {line}: at most {MAX_IMPORT_ROWS:,} leads per file.", line=line)
    if not leads:
        raise LeadRowError("file", f"{path.name} has no leads after the header line.", line=1)
    return leads


async def import_leads_csv(service: Leads, path: Path) -> ImportResult:
    """``partnerbot lead import FILE.csv``: validate every row, then write all of them in one
    transaction and distribute them. A bad row raises :class:`LeadRowError` ("line 4, contact_email:
    ...") and nothing from the file is written."""
    rows = read_leads_csv(Path(path), products=await service.products())
    return await service.add_leads(rows, channel="cli")


async def receive_leads(service: Leads, body: Any) -> ImportResult:
    """``POST /api/leads``: one JSON object or a list of them with the CSV's fields. Every item is
    validated first (:class:`LeadRowError` with ``index`` and ``field``); then all are written and
    distributed in one transaction."""
    items = body if isinstance(body, list) else [body]
    if not items:
        raise LeadRowError("leads", "The list is empty; send one lead object or a list of them.")
    if len(items) > MAX_IMPORT_ROWS:
        raise LeadRowError("leads", f"At most {MAX_IMPORT_ROWS:,} leads per request.")
    products = await service.products()
    leads = []
    listed = isinstance(body, list)
    for index, item in enumerate(items):
        where = f"lead {index}: " if listed else ""
        at = index if listed else None
        if not isinstance(item, dict):
            raise LeadRowError(
                "leads", f"{where}each lead is a JSON object with {', '.join(FIELDS)}.", index=at
            )
        try:
            leads.append(validate_lead(item, products=products))
        except InputError as exc:
            raise LeadRowError(exc.field, f"{where}{exc.field}: {exc.message}", index=at) from exc
    return await service.add_leads(leads, channel="api")


DEMO_LEADS = (
    LeadInput(
        company="Initech GmbH",
        country="DE",
        contact_name="Jane Doe",
        contact_email="jane@initech.example",
        product="Cloud Suite",
        source="webinar",
        notes="Asked for a demo of the reporting module.",
    ),
    LeadInput(
        company="Hooli Inc",
        country="US",
        contact_name="Gavin Belson",
        contact_phone="+1 415 555 0100",
        product="Edge Gateway",
        source="trade show",
    ),
    LeadInput(
        company="Umbrella SA",
        country="FR",
        contact_name="Claire Martin",
        contact_email="claire@umbrella.example",
        product="Security Pack",
        source="website form",
    ),
)


async def seed_demo_leads(service: Leads) -> list[str]:
    """``partnerbot demo``: a few leads, distributed like real ones - only when there are none yet, so
    running the demo twice adds nothing. Returns a line per lead created."""
    async with service.db.transaction() as session:
        if await lead_queries.leads_visible(session, partner_id=None, limit=1):
            return []
        products = set(await queries.product_names(session))
    rows = [
        row if not products or row.product in products else replace(row, product=None) for row in DEMO_LEADS
    ]
    result = await service.add_leads(rows, channel="demo")
    return [f"lead {lead.ref} {lead.company}" for lead in result.leads]
