"""SQLAlchemy 2.x models: what partnerbot keeps.

Times are stored as naive UTC ``DateTime`` values (the same on SQLite and PostgreSQL); money as
``Numeric(18, 2)`` plus an ISO currency code. Every schema change comes with an Alembic revision in
``store/migrations/versions``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
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
    """Where a message with a ``replace_key`` landed, so later updates can edit it in place.

    ``recipient_kind`` is the outbox row's (``vendor_channel``, ``person``), ``record`` the reference the
    message is about (``D-3``), and ``locator`` the platform's one-string name of the posted message
    (Slack: ``<channel>:<ts>``), which is what a reply in its thread names: together they tell which
    record's card a thread belongs to. None for messages delivered before revision 0010."""

    __tablename__ = "delivered_messages"
    __table_args__ = (
        Index("ix_delivered_replace_key", "replace_key"),
        Index("ix_delivered_locator", "platform", "locator"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    replace_key: Mapped[str] = mapped_column(String(200))
    platform: Mapped[str] = mapped_column(String(20))
    message_ref: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(DateTime)
    recipient_kind: Mapped[str | None] = mapped_column(String(20))
    record: Mapped[str | None] = mapped_column(String(40))
    locator: Mapped[str | None] = mapped_column(String(200))


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
