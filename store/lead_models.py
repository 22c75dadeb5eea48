"""Leads: what the vendor hands to partners, whom it was offered to, and what became of it.

Tables (revision ``0003``):

- ``leads`` - one prospect. ``partner_id`` is the partner the lead is offered to or works it *now*;
  ``status`` is ``offered``, ``accepted``, ``contacted``, ``qualified``, ``converted``, ``disqualified``,
  or ``unassigned`` (the staff review queue, ``review_reason`` says why). ``version`` is an optimistic
  lock: SQLAlchemy writes ``UPDATE ... WHERE version = :seen`` so two writers that read the same state
  (two replicas sweeping, an accept racing the expiry) cannot both win, even on SQLite where
  ``SELECT ... FOR UPDATE`` is not available.
- ``lead_offers`` - every time a lead went to a partner: why (``reason``, ``score``), who assigned it
  (``assigned_by_id`` for a staff override) and the outcome (``offered`` while open, then ``accepted``,
  ``declined``, ``expired`` or ``reassigned``). Exclusions and the performance statistics of the
  assignment engine are read from here.
- ``lead_history`` - field changes, like ``deal_history``.
- ``partner_lead_profiles`` - a partner's lead capacity and product specialisations (no row: the
  configured default capacity and every product).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base

OPEN_LEAD_STATUSES = ("offered", "accepted", "contacted", "qualified")
WORKING_LEAD_STATUSES = ("accepted", "contacted", "qualified")
CLOSED_LEAD_STATUSES = ("converted", "disqualified")


class Lead(Base):
    """A prospect the vendor passes to a partner."""

    __tablename__ = "leads"
    __table_args__ = (
        Index("ix_leads_status_partner", "status", "partner_id"),
        Index("ix_leads_status_accept_by", "status", "accept_by"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    company: Mapped[str] = mapped_column(String(200))
    company_key: Mapped[str] = mapped_column(String(200), index=True)
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(40))
    product: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    status_note: Mapped[str | None] = mapped_column(Text)
    review_reason: Mapped[str | None] = mapped_column(Text)
    disqualify_reason: Mapped[str | None] = mapped_column(Text)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), index=True)
    offered_at: Mapped[datetime | None] = mapped_column(DateTime)
    accept_by: Mapped[datetime | None] = mapped_column(DateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    converted_deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_via: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}


class LeadOffer(Base):
    """One offer of one lead to one partner, and how it ended."""

    __tablename__ = "lead_offers"
    __table_args__ = (Index("ix_lead_offers_partner_offered_at", "partner_id", "offered_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    reason: Mapped[str] = mapped_column(String(500))
    score: Mapped[float | None] = mapped_column(Float)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    outcome: Mapped[str] = mapped_column(String(20))
    decline_reason: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    offered_at: Mapped[datetime] = mapped_column(DateTime)
    accept_by: Mapped[datetime] = mapped_column(DateTime)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)


class LeadHistory(Base):
    """One field change of one lead."""

    __tablename__ = "lead_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    field: Mapped[str] = mapped_column(String(40))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    channel: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(DateTime)


class PartnerLeadProfile(Base):
    """How many open leads a partner takes at once, and the products it specialises in (an empty list:
    every product)."""

    __tablename__ = "partner_lead_profiles"

    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    capacity: Mapped[int] = mapped_column(Integer)
    products: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
