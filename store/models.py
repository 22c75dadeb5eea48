"""SQLAlchemy 2.x models: what partnerbot keeps.

Times are stored as naive UTC ``DateTime`` values (the same on SQLite and PostgreSQL); money as
``Numeric(18, 2)`` plus an ISO currency code. Every schema change comes with an Alembic revision in
``store/migrations/versions``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
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


class Partner(Base):
    """A partner organisation (reseller, integrator)."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    tier: Mapped[str] = mapped_column(String(40))
    region: Mapped[str] = mapped_column(String(40))
    countries: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="active")
    channel_manager_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", use_alter=True))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class PartnerWorkspace(Base):
    """A chat workspace of a partner organisation: a Slack workspace (team id), a Teams tenant, or the
    equivalent on any other platform. People who write from it belong to that partner; each
    ``(platform, workspace)`` belongs to one partner at most."""

    __tablename__ = "partner_workspaces"
    __table_args__ = (UniqueConstraint("platform", "workspace"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    workspace: Mapped[str] = mapped_column(String(64))


class Person(Base):
    """A partner user (``partner_id`` set) or a member of vendor staff (``kind == 'staff'``)."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), index=True)
    roles: Mapped[list[Any]] = mapped_column(JSON, default=list)
    topics: Mapped[list[Any]] = mapped_column(JSON, default=list)
    region: Mapped[str | None] = mapped_column(String(40))
    tz: Mapped[str | None] = mapped_column(String(64))
    away: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)

    partner: Mapped[Partner | None] = relationship(foreign_keys=[partner_id], lazy="joined")


class ChatIdentity(Base):
    """A person's account on one chat platform, and how to reach them there proactively."""

    __tablename__ = "chat_identities"
    __table_args__ = (UniqueConstraint("platform", "workspace", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    workspace: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    conversation_ref: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime)


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


class AuditEntry(Base):
    """Who did what to which record, before and after, when, and through which channel."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40), index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    channel: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(DateTime)


class DialogState(Base):
    """The conversation in progress with one person, so that it survives a restart."""

    __tablename__ = "dialog_states"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    flow: Mapped[str] = mapped_column(String(40))
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Product(Base):
    """Something partners can register deals for."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class OutboxMessage(Base):
    """A message the bot starts by itself, written in the same transaction as the change that caused
    it and delivered later with retries. ``idempotency_key`` makes a second write of the same message a
    no-op; ``replace_key`` asks the notifier to update earlier messages with that key in place."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    recipient_kind: Mapped[str] = mapped_column(String(20))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    replace_key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)


class DeliveredMessage(Base):
    """Where a message with a ``replace_key`` landed, so later updates can edit it in place."""

    __tablename__ = "delivered_messages"
    __table_args__ = (Index("ix_delivered_replace_key", "replace_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    replace_key: Mapped[str] = mapped_column(String(200))
    platform: Mapped[str] = mapped_column(String(20))
    message_ref: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(DateTime)


class Counter(Base):
    """The last human reference number handed out per kind (``deal`` -> D-n), so references are
    dense, never reused, and independent of database ids."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class ProcessedRequest(Base):
    """Platform deliveries already applied (Slack event ids, Teams activity ids, button clicks), so a
    retried request changes nothing twice - and the answer it got, so that a retry after the answer
    failed to post posts what is left of it (``posted`` replies of ``answer`` are out)."""

    __tablename__ = "processed_requests"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    answer: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    posted: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
