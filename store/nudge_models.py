"""What the nudge sweep remembers: which due items were raised with whom (the ledger), each batched
message, and snoozes. The unique keys are what keep two replicas from nudging anyone twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base


class NudgeMessage(Base):
    """One batched nudge to one person. ``slot`` (the person's local date) is unique per person: at
    most one nudge message a day, whichever replica writes it first."""

    __tablename__ = "nudge_messages"
    __table_args__ = (UniqueConstraint("person_id", "slot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    slot: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20), default="nudge")
    items: Mapped[list[Any]] = mapped_column(JSON, default=list)
    sent_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)


class NudgeItem(Base):
    """The ledger: one row per (person, due item). ``item_key`` names the due-ness itself (e.g. a deal
    stale since its last update), so an item updated since it became due is a different key."""

    __tablename__ = "nudge_items"
    __table_args__ = (UniqueConstraint("person_id", "item_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    item_key: Mapped[str] = mapped_column(String(200))
    ref: Mapped[str] = mapped_column(String(20), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("nudge_messages.id"))
    first_nudged_at: Mapped[datetime] = mapped_column(DateTime)
    last_nudged_at: Mapped[datetime] = mapped_column(DateTime)
    times_nudged: Mapped[int] = mapped_column(Integer, default=1)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    outcome: Mapped[str | None] = mapped_column(String(200))
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime)


class Snooze(Base):
    """No nudges about ``ref`` (or about anything, ``ref == '*'``) for this person until ``until``."""

    __tablename__ = "snoozes"
    __table_args__ = (UniqueConstraint("person_id", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    ref: Mapped[str] = mapped_column(String(20))
    until: Mapped[datetime] = mapped_column(DateTime)
