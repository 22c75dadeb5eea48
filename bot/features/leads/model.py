"""What the leads service returns and its views render: plain values, no behaviour that needs the
database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from bot.kernel.history import HistoryView
from bot.kernel.lifecycle import Lifecycle
from store.lead_models import (
    OPEN_LEAD_STATUSES,
)

MANAGE_ROLES = ("channel_manager", "approver")  # who assigns, reassigns and reviews leads
STATUS_LABELS = {
    "new": "new",
    "unassigned": "waiting for staff review",
    "offered": "offered, waiting for acceptance",
    "accepted": "accepted",
    "contacted": "contacted",
    "qualified": "qualified",
    "converted": "converted to a deal",
    "disqualified": "disqualified",
    "declined": "declined",
}
LIFECYCLE = Lifecycle(labels=STATUS_LABELS)


@dataclass(frozen=True, slots=True)
class LeadInput:
    """A lead as it comes in (CSV row, JSON object, staff form), validated by :func:`validate_lead`."""

    company: str
    country: str
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    product: str | None = None
    source: str | None = None
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class OfferView:
    """One offer of a lead, as staff see it."""

    partner: str
    outcome: str
    reason: str
    assigned_by: str | None
    decline_reason: str | None
    decided_by: str | None
    offered_at: datetime
    accept_by: datetime
    decided_at: datetime | None


@dataclass(frozen=True, slots=True)
class LeadView:
    """A snapshot of a lead as one reader may see it. ``audience`` says for whom it was built:
    for ``partner`` the staff-only parts (why it was assigned, the review reason, other offers) are
    empty and the contact is hidden until the lead is accepted."""

    ref: str
    company: str
    country: str
    region: str | None
    product: str | None
    source: str | None
    notes: str | None
    status: str
    status_note: str | None
    disqualify_reason: str | None
    partner: str | None
    offered_at: datetime | None
    accept_by: datetime | None
    accepted_at: datetime | None
    converted_deal: str | None
    created_at: datetime
    updated_at: datetime
    audience: Literal["staff", "partner"]
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    contact_hidden: bool = False
    assignment_reason: str | None = None
    review_reason: str | None = None
    offers: tuple[OfferView, ...] = ()
    history: tuple[HistoryView, ...] = field(default=())

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_LEAD_STATUSES or self.status == "unassigned"
