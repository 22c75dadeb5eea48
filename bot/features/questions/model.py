"""What the questions service returns and its views render: plain values, no behaviour that needs the
database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from store.question_models import WAITING_STATUSES


@dataclass(frozen=True, slots=True)
class ThreadEntry:
    kind: str  # question / followup / answer / note
    author: str
    body: str
    channel: str
    at: datetime


@dataclass(frozen=True, slots=True)
class QuestionView:
    """A question as one reader may see it. For partners ``thread`` holds no staff notes.
    ``assignee_id`` is internal (button choices); it is never shown."""

    ref: str
    partner: str
    asker: str
    platform: str
    text: str
    topic: str | None
    status: str
    assignee: str | None
    assignee_id: int | None
    escalation_level: int
    due_at: datetime | None
    created_at: datetime
    answered_at: datetime | None
    kb_ref: str | None = None
    kb_answer: str | None = None
    saved_kb_ref: str | None = None
    thread: tuple[ThreadEntry, ...] = field(default=())

    @property
    def waiting(self) -> bool:
        return self.status in WAITING_STATUSES

    @property
    def answers(self) -> list[ThreadEntry]:
        return [t for t in self.thread if t.kind == "answer"]


@dataclass(frozen=True, slots=True)
class KbView:
    ref: str
    question: str
    answer: str
    topic: str | None
    tags: tuple[str, ...]
    uses: int
    active: bool
    created: bool = True
    note: str = ""
