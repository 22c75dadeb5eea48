"""Market development funds (MDF): budgets per partner and quarter, partners' requests ``M-<n>``, their
history, and the reminder ledger.

Tables (revision ``0006``):

- ``mdf_budgets`` - one budget per partner and quarter (``2027-Q1``), in one currency. A request locks
  its budget row while it checks the balance and writes itself, so two concurrent requests cannot both
  fit into the same remaining money (``FOR UPDATE`` on PostgreSQL; on SQLite the lock is a write to the
  row, which takes the database's single write lock for the rest of the transaction).
- ``mdf_requests`` - a partner's request ``M-<number>``: the activity, its dates, the amount asked for and
  the expected results. ``status`` is ``pending`` (reserves the requested amount), ``approved``
  (``approved_amount`` reserved, may be less than asked), ``rejected`` (reserves nothing), ``claimed``
  (proof and actual results sent) or ``paid``. ``claim_by`` is the last day a claim is accepted.
- ``mdf_history`` - field changes, like ``deal_history``.
- ``mdf_reminders`` - the reminder ledger: one row per (request, kind, days before); whichever sweep
  inserts it first sends the reminder, so each goes out once even with several replicas.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base

MDF_STATUSES = ("pending", "approved", "rejected", "claimed", "paid")
RESERVING_STATUSES = ("pending", "approved", "claimed", "paid")
"""Requests whose money is spoken for: the requested amount while pending, the approved amount after."""
APPROVED_STATUSES = ("approved", "claimed", "paid")


class MdfBudget(Base):
    """The MDF one partner may spend in one quarter."""

    __tablename__ = "mdf_budgets"
    __table_args__ = (UniqueConstraint("partner_id", "quarter"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    quarter: Mapped[str] = mapped_column(String(7))
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    currency: Mapped[str] = mapped_column(String(3))
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    lock_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class MdfRequest(Base):
    """A partner's request for funds, ``M-<number>``."""

    __tablename__ = "mdf_requests"
    __table_args__ = (
        Index("ix_mdf_requests_partner_status", "partner_id", "status"),
        Index("ix_mdf_requests_status_end_date", "status", "end_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    budget_id: Mapped[int] = mapped_column(ForeignKey("mdf_budgets.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    activity: Mapped[str] = mapped_column(String(200))
    expected_results: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    currency: Mapped[str] = mapped_column(String(3))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    quarter: Mapped[str] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    approved_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    claim_by: Mapped[date | None] = mapped_column(Date)
    claim_proof: Mapped[str | None] = mapped_column(Text)
    actual_results: Mapped[str | None] = mapped_column(Text)
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    paid_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    channel: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class MdfHistory(Base):
    """One field change of one MDF request."""

    __tablename__ = "mdf_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("mdf_requests.id"), index=True)
    field: Mapped[str] = mapped_column(String(40))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    channel: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(DateTime)


class MdfReminder(Base):
    """A reminder that went out (or is going out) about one request: ``kind`` is ``activity_end``
    (approved, activity about to end, no claim yet) or ``claim_window`` (the last day to claim is near);
    ``days`` the threshold it was sent for."""

    __tablename__ = "mdf_reminders"
    __table_args__ = (UniqueConstraint("request_id", "kind", "days"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("mdf_requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    days: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(DateTime)
