"""What the deals service returns and its views render: plain values, no behaviour that needs the
database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from bot.kernel.amounts import Money
from bot.kernel.history import HistoryView
from bot.kernel.lifecycle import Lifecycle

STAGES = (
    "prospecting",
    "qualification",
    "discovery",
    "demo",
    "evaluation",
    "proposal",
    "negotiation",
    "commit",
)


STATUS_LABELS = {
    "pending": "waiting for review",
    "info_requested": "more information requested",
    "approved": "approved",
    "rejected": "rejected",
    "expired": "protection expired",
    "won": "won",
    "lost": "lost",
    "withdrawn": "withdrawn",
}


CLOSED = ("rejected", "expired", "won", "lost", "withdrawn")
IN_REVIEW = frozenset({"pending", "info_requested"})
LIFECYCLE = Lifecycle(
    moves={
        "approved": IN_REVIEW,
        "rejected": IN_REVIEW,
        "asked for information": IN_REVIEW,
        "given more information": frozenset({"info_requested"}),
        "extended": frozenset({"approved", "expired"}),
        "marked won": IN_REVIEW | {"approved"},
        "marked lost": IN_REVIEW | {"approved"},
    },
    labels=STATUS_LABELS,
)


@dataclass(frozen=True, slots=True)
class DealDraft:
    """What a partner submits. Validated by :meth:`Deals.validate_draft`."""

    customer: str
    product: str
    amount: Money
    close_date: date
    domain: str | None = None
    country: str | None = None
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class DealChanges:
    """A partial update; ``None`` leaves a field as it is."""

    stage: str | None = None
    amount: Money | None = None
    close_date: date | None = None
    next_step: str | None = None
    notes: str | None = None

    def is_empty(self) -> bool:
        return all(v is None for v in (self.stage, self.amount, self.close_date, self.next_step, self.notes))


@dataclass(frozen=True, slots=True)
class ConflictView:
    ref: str
    partner: str
    customer: str
    status: str
    reason: str


@dataclass(frozen=True, slots=True)
class NoteView:
    """A staff note on a deal: who wrote it, through which channel, when. Staff only."""

    body: str
    by: str
    channel: str
    at: datetime


@dataclass(frozen=True, slots=True)
class DealView:
    """A snapshot of a deal as one reader may see it (``conflicts`` and ``staff_notes`` only for
    staff; ``history`` and ``staff_notes`` only when asked for)."""

    ref: str
    partner: str
    customer: str
    domain: str | None
    country: str | None
    product: str
    amount: Money
    close_date: date
    stage: str
    status: str
    in_conflict: bool
    notes: str | None
    next_step: str | None
    protection_until: date | None
    decision_reason: str | None
    decided_by: str | None
    extension_reason: str | None
    outcome_reason: str | None
    registered_by: str
    updated_at: datetime
    conflicts: tuple[ConflictView, ...] = ()
    history: tuple[HistoryView, ...] = field(default=())
    staff_notes: tuple[NoteView, ...] = field(default=())

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED
