"""The deal feature's tables: customers (per partner), deals, their conflicts, history and staff notes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.base import Base
from store.models import Partner


class Customer(Base):
    """An end customer as one partner knows it. Each partner keeps its own customer records, so a
    customer name typed by one partner is never suggested to another."""

    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("partner_id", "name_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), index=True)
    domain: Mapped[str | None] = mapped_column(String(253), index=True)
    country: Mapped[str | None] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Deal(Base):
    """A deal registration. ``status`` is the registration's state; ``stage`` the sales stage."""

    __tablename__ = "deals"
    __table_args__ = (
        Index("ix_deals_status_partner", "status", "partner_id"),
        Index("ix_deals_status_stage_updated", "status", "stage", "updated_at"),
        Index("ix_deals_status_close_date", "status", "close_date"),
        Index("ix_deals_status_protection", "status", "protection_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    registered_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    product: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    currency: Mapped[str] = mapped_column(String(3))
    close_date: Mapped[date] = mapped_column(Date)
    stage: Mapped[str] = mapped_column(String(20), default="prospecting")
    status: Mapped[str] = mapped_column(String(20), default="pending")
    in_conflict: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str | None] = mapped_column(Text)
    next_step: Mapped[str | None] = mapped_column(Text)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    protection_until: Mapped[date | None] = mapped_column(Date)
    extension_reason: Mapped[str | None] = mapped_column(Text)
    extension_requested_at: Mapped[datetime | None] = mapped_column(DateTime)
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    source_lead_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime, index=True)

    customer: Mapped[Customer] = relationship(lazy="joined")
    partner: Mapped[Partner] = relationship(lazy="joined")


class DealConflict(Base):
    """A possible double registration found at submission: ``deal_id`` is the newer one."""

    __tablename__ = "deal_conflicts"
    __table_args__ = (UniqueConstraint("deal_id", "other_deal_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    other_deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    score: Mapped[float] = mapped_column()
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class DealHistory(Base):
    """One field change of one deal."""

    __tablename__ = "deal_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    field: Mapped[str] = mapped_column(String(40))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    channel: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(DateTime)


class DealNote(Base):
    """A staff member's note on a deal (e.g. a reply in the thread of its review card). Staff read it
    with the deal's history; a partner never does - which is why it is a table of its own and not a
    ``deal_history`` row, which the partner's history shows."""

    __tablename__ = "deal_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    body: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(DateTime)
