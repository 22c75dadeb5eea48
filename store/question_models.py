"""What partnerbot keeps for question answering: the knowledge base, partners' questions and their
threads, and the experts' round-robin state.

Privacy by shape: knowledge-base entries are staff-curated records of their own (an entry saved from
an answered question is a copy, not a link that exposes the question), so matching a partner's new
question against the knowledge base never reads another partner's question.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base

QUESTION_STATUSES = ("answered_by_kb", "open", "assigned", "claimed", "answered", "closed")
"""``answered_by_kb``: the knowledge base answered and no person is involved yet; ``open``: waiting
with nobody assigned (vendor channel); ``assigned``: routed to an expert or channel manager;
``claimed``: a staff member took it; ``answered``: a person answered, the partner may follow up;
``closed``: the partner found the answer helpful."""

WAITING_STATUSES = ("open", "assigned", "claimed")
"""Questions waiting for a person's answer - the ones an SLA sweep looks at."""


class KbEntry(Base):
    """A knowledge-base entry ``KB-<number>``: a question as staff phrase it, its answer, a topic and
    tags. ``question_key`` is the normalised question, so importing a file twice updates entries
    instead of duplicating them. ``uses`` counts how often the entry answered a partner."""

    __tablename__ = "kb_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    question: Mapped[str] = mapped_column(Text)
    question_key: Mapped[str] = mapped_column(String(500), index=True)
    answer: Mapped[str] = mapped_column(Text)
    topic: Mapped[str | None] = mapped_column(String(40))
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Question(Base):
    """A partner's question ``Q-<number>``.

    ``platform`` is the surface it was asked from (``slack``, ``teams``, ``console``; a follow-up
    moves it to where the follow-up came from) so the answer is relayed there. ``escalation_level``: 0 with an expert, 1 with the channel manager, 2 with the vendor
    channel (nothing further to escalate to). ``due_at`` (naive UTC) is when the SLA sweep escalates;
    ``None`` when nothing is due. ``kb_entry_id`` is the entry that answered it (``answered_by_kb``);
    ``saved_kb_entry_id`` the staff-curated entry saved from its answer (so it is saved only once)."""

    __tablename__ = "questions"
    __table_args__ = (
        Index("ix_questions_status_due", "status", "due_at"),
        Index("ix_questions_assignee_status", "assignee_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    asker_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    topic: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None] = mapped_column(DateTime)
    kb_entry_id: Mapped[int | None] = mapped_column(ForeignKey("kb_entries.id"))
    saved_kb_entry_id: Mapped[int | None] = mapped_column(ForeignKey("kb_entries.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)


class QuestionMessage(Base):
    """One entry of a question's thread. ``kind``: ``question`` (the first text), ``followup`` (the
    partner adds to it), ``answer`` (staff), ``note`` (staff-only: reassignments, escalations)."""

    __tablename__ = "question_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    body: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(DateTime)


class ExpertRotation(Base):
    """When an expert was last given a question, for round-robin among equally suited experts.
    ``turn`` is a counter (not the clock), so two assignments in the same instant still rotate."""

    __tablename__ = "expert_rotation"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    turn: Mapped[int] = mapped_column(Integer)
    last_assigned_at: Mapped[datetime] = mapped_column(DateTime)
