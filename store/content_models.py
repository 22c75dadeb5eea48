"""Content and announcements: what staff publish (``C-<n>``), to whom, and who received and opened it.

Tables (revision ``0006``):

- ``content_items`` - one published item: title, link, summary, optional expiry (naive UTC).
- ``content_audience`` - the item's audience as staff gave it, one row per target: ``kind`` is ``tier``,
  ``region``, ``partner`` (``value`` the partner id) or ``person`` (the person id). "What's new?" is
  computed from these rows, so a person who joins a targeted partner later still finds the item.
- ``content_deliveries`` - one row per person the item was sent to when it was published, with the
  person's tracking token for ``GET /c/<token>``, the outbox key of the message (delivered = that
  outbox row was sent), the partner and tier the person belonged to then (for the statistics), and
  the first open and "Got it". ``UNIQUE (item_id, person_id)`` makes "each person gets it once" a
  property of the schema.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base

AUDIENCE_KINDS = ("tier", "region", "partner", "person")


class ContentItem(Base):
    """A piece of content or an announcement, ``C-<number>``."""

    __tablename__ = "content_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    title: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2000))
    summary: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    channel: Mapped[str] = mapped_column(String(20))
    published_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class ContentAudience(Base):
    """One target of an item's audience."""

    __tablename__ = "content_audience"
    __table_args__ = (
        UniqueConstraint("item_id", "kind", "value"),
        Index("ix_content_audience_kind_value", "kind", "value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("content_items.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(200))


class ContentDelivery(Base):
    """One person's copy of one item: its tracking token, and when they opened it and said "Got it"."""

    __tablename__ = "content_deliveries"
    __table_args__ = (UniqueConstraint("item_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("content_items.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"))
    tier: Mapped[str | None] = mapped_column(String(40))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    outbox_key: Mapped[str] = mapped_column(String(200))
    queued_at: Mapped[datetime] = mapped_column(DateTime)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime)
    opens: Mapped[int] = mapped_column(Integer, default=0)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
