"""The queries question answering needs (see bot/features/questions/service.py). Every function takes the session of the
caller's unit of work and never commits.

Partner-facing lookups take the partner's id and filter by it in SQL, so a foreign question is never
loaded for a partner. Knowledge-base matching reads only ``kb_entries``, never other questions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Person
from store.queries import _insert, next_number
from store.question_models import (
    WAITING_STATUSES,
    ExpertRotation,
    KbEntry,
    Question,
    QuestionMessage,
)

# -- questions ----------------------------------------------------------------------------------


async def question_by_number(
    session: AsyncSession, number: int, *, partner_id: int | None = None, for_update: bool = False
) -> Question | None:
    """``Q-<number>``; with ``partner_id`` only if it belongs to that partner (else ``None``, exactly as
    for a number that does not exist)."""
    stmt = select(Question).where(Question.number == number)
    if partner_id is not None:
        stmt = stmt.where(Question.partner_id == partner_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def questions_of_asker(session: AsyncSession, person_id: int, *, limit: int = 50) -> Sequence[Question]:
    """One person's own questions, newest first."""
    return (
        (
            await session.execute(
                select(Question)
                .where(Question.asker_id == person_id)
                .order_by(Question.created_at.desc(), Question.id.desc())
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )


async def waiting_questions_for(
    session: AsyncSession, *, person_id: int | None, limit: int = 50
) -> Sequence[Question]:
    """Questions waiting for an answer: those assigned to ``person_id`` plus the unassigned ones; with
    ``person_id=None`` every waiting question. Oldest first (the most urgent at the top)."""
    stmt = select(Question).where(Question.status.in_(WAITING_STATUSES))
    if person_id is not None:
        stmt = stmt.where(or_(Question.assignee_id == person_id, Question.assignee_id.is_(None)))
    stmt = stmt.order_by(Question.created_at, Question.id).limit(limit)
    return (await session.execute(stmt)).scalars().all()


async def overdue_questions(session: AsyncSession, *, now: datetime, limit: int = 100) -> Sequence[Question]:
    """Waiting questions whose SLA ran out before ``now`` and that can still be escalated. On
    PostgreSQL ``SKIP LOCKED`` lets replicas take disjoint rows; the caller still changes each row with
    :func:`mark_escalated`, which is the claim itself."""
    stmt = (
        select(Question)
        .where(
            Question.status.in_(WAITING_STATUSES),
            Question.due_at.is_not(None),
            Question.due_at < now,
            Question.escalation_level < 2,
        )
        .order_by(Question.due_at, Question.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(stmt)).scalars().all()


async def mark_escalated(
    session: AsyncSession,
    *,
    question_id: int,
    from_level: int,
    from_due: datetime,
    to_level: int,
    assignee_id: int | None,
    status: str,
    due_at: datetime | None,
    now: datetime,
) -> bool:
    """Move a question one escalation step, only if nobody else did since it was read (same level and
    due time, still waiting). False when another run got there first."""
    result = await session.execute(
        update(Question)
        .where(
            Question.id == question_id,
            Question.escalation_level == from_level,
            Question.due_at == from_due,
            Question.status.in_(WAITING_STATUSES),
        )
        .values(
            escalation_level=to_level,
            assignee_id=assignee_id,
            status=status,
            due_at=due_at,
            updated_at=now,
        )
        .returning(Question.id)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none() is not None


async def add_message(
    session: AsyncSession,
    *,
    question_id: int,
    kind: str,
    author_id: int | None,
    body: str,
    channel: str,
    at: datetime,
) -> QuestionMessage:
    """Append to a question's thread; the returned message has its id (it names the event)."""
    message = QuestionMessage(
        question_id=question_id, kind=kind, author_id=author_id, body=body, channel=channel, at=at
    )
    session.add(message)
    await session.flush()
    return message


async def messages_of(session: AsyncSession, question_id: int) -> Sequence[QuestionMessage]:
    return (
        (
            await session.execute(
                select(QuestionMessage)
                .where(QuestionMessage.question_id == question_id)
                .order_by(QuestionMessage.at, QuestionMessage.id)
            )
        )
        .scalars()
        .all()
    )


# -- experts ------------------------------------------------------------------------------------


async def active_staff(session: AsyncSession) -> Sequence[Person]:
    return (
        (
            await session.execute(
                select(Person).where(Person.kind == "staff", Person.active.is_(True)).order_by(Person.name)
            )
        )
        .scalars()
        .all()
    )


async def declared_topics(session: AsyncSession) -> list[str]:
    """Every topic an active staff member declared (``partnerbot user add … --topic mdf``), sorted."""
    topics: set[str] = set()
    for person in await active_staff(session):
        topics.update(str(t).lower() for t in (person.topics or ()) if str(t).strip())
    return sorted(topics)


async def experts_for_topic(session: AsyncSession, topic: str) -> Sequence[Person]:
    """Active staff who declared ``topic`` and are not marked away."""
    return [
        p
        for p in await active_staff(session)
        if not p.away and topic in [str(t).lower() for t in (p.topics or ())]
    ]


async def rotation_turns(session: AsyncSession, person_ids: Iterable[int]) -> dict[int, int]:
    """The turn at which each person was last given a question (people never given one are absent)."""
    ids = list(person_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(ExpertRotation.person_id, ExpertRotation.turn).where(ExpertRotation.person_id.in_(ids))
    )
    return {pid: turn for pid, turn in rows}


async def touch_rotation(session: AsyncSession, *, person_id: int, now: datetime) -> None:
    """Record that ``person_id`` was given a question now, at the next turn of the rotation."""
    turn = await next_number(session, "expert_rotation")
    stmt = _insert(session, ExpertRotation).values(person_id=person_id, turn=turn, last_assigned_at=now)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["person_id"], set_={"turn": turn, "last_assigned_at": now})
    )


# -- knowledge base -----------------------------------------------------------------------------


async def active_kb_entries(session: AsyncSession) -> Sequence[KbEntry]:
    return (
        (await session.execute(select(KbEntry).where(KbEntry.active.is_(True)).order_by(KbEntry.number)))
        .scalars()
        .all()
    )


async def kb_entry_by_id(session: AsyncSession, entry_id: int) -> KbEntry | None:
    return await session.get(KbEntry, entry_id)


async def kb_entry_by_number(session: AsyncSession, number: int) -> KbEntry | None:
    return (await session.execute(select(KbEntry).where(KbEntry.number == number))).scalar_one_or_none()


async def kb_entry_by_key(session: AsyncSession, question_key: str) -> KbEntry | None:
    return (
        await session.execute(
            select(KbEntry).where(KbEntry.question_key == question_key).order_by(KbEntry.id).limit(1)
        )
    ).scalar_one_or_none()


async def count_kb_use(session: AsyncSession, entry_id: int) -> None:
    """One more use of an entry, as one atomic UPDATE (concurrent askers never lose a count)."""
    await session.execute(
        update(KbEntry)
        .where(KbEntry.id == entry_id)
        .values(uses=KbEntry.uses + 1)
        .execution_options(synchronize_session=False)
    )


async def kb_count(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(KbEntry))).scalar_one())
