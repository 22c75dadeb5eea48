"""What the mdf service returns and its views render: plain values, no behaviour that needs the
database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from bot.kernel.amounts import Money
from bot.kernel.history import HistoryView
from bot.kernel.lifecycle import Lifecycle

DECIDE_ROLES = ("approver", "channel_manager")  # who approves, rejects and marks MDF paid
STATUS_LABELS = {
    "pending": "waiting for approval",
    "approved": "approved, waiting for the claim",
    "rejected": "rejected",
    "claimed": "claimed, waiting for payment",
    "paid": "paid",
}
LIFECYCLE = Lifecycle(
    moves={
        "approved": frozenset({"pending"}),
        "rejected": frozenset({"pending"}),
        "claimed": frozenset({"approved"}),
        "marked paid": frozenset({"claimed"}),
    },
    labels=STATUS_LABELS,
)


@dataclass(frozen=True, slots=True)
class MdfDraft:
    """What a partner asks for. Validated by :meth:`Mdf.validate_draft`."""

    activity: str
    amount: Money
    start_date: date
    end_date: date
    expected_results: str


@dataclass(frozen=True, slots=True)
class BalanceView:
    """One partner's budget for one quarter and what is left of it."""

    partner: str
    quarter: str
    budget: Money
    pending: Money
    approved: Money
    paid: Money
    remaining: Money


@dataclass(frozen=True, slots=True)
class MdfView:
    """A snapshot of a request as one reader may see it, with the balance of its quarter."""

    ref: str
    partner: str
    activity: str
    expected_results: str
    amount: Money
    start_date: date
    end_date: date
    quarter: str
    status: str
    requested_by: str
    created_at: datetime
    updated_at: datetime
    approved_amount: Money | None = None
    decision_reason: str | None = None
    decided_by: str | None = None
    claim_by: date | None = None
    claim_proof: str | None = None
    actual_results: str | None = None
    paid_amount: Money | None = None
    paid_at: datetime | None = None
    balance: BalanceView | None = None
    history: tuple[HistoryView, ...] = field(default=())

    @property
    def is_partial(self) -> bool:
        return self.approved_amount is not None and self.approved_amount.amount < self.amount.amount
