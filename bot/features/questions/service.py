"""Question answering and routing: knowledge first, then the right person, with an SLA.

A partner asks in plain words. The knowledge base (staff-curated entries only) answers when a match is
confident (:data:`KB_THRESHOLD`); otherwise - or when the partner asks for a person - the question
``Q-<n>`` is classified to a topic and routed: an expert for that topic in the partner's region
(round-robin, skipping people marked away), else the partner's channel manager, else the vendor
channel. Staff claim, answer, reassign; the answer is relayed to the asker on the platform they asked
from. An SLA sweep (:meth:`Questions.escalate_due`) escalates what waits too long: to the channel
manager, then to the vendor channel.

Authorization lives here, decided from the :class:`Actor` on every path: partners see only their own
organisation's questions (a foreign ``Q-n`` reads exactly like a missing one) and only staff claim,
answer, reassign and curate the knowledge base. Every change writes its thread entry, an audit entry
and its notifications in the one transaction that makes the change.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rapidfuzz import fuzz
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.deals.service import clean_text
from bot.features.questions import views as question_views
from bot.features.questions.model import KbView, QuestionView, ThreadEntry
from bot.kernel import outbox
from bot.kernel.changes import ChangeLog, snapshot
from bot.kernel.dates import format_day_time
from bot.kernel.errors import Conflict, InputError, NotAllowed, NotFound
from bot.kernel.messages import Actor
from bot.kernel.refs import KB_ENTRY, QUESTION
from store import queries
from store import question_queries as qq
from store.db import Database
from store.models import Partner, Person
from store.question_models import WAITING_STATUSES, KbEntry, Question, QuestionMessage

KB_THRESHOLD = 80
"""A knowledge-base entry answers a question when :func:`kb_score` reaches this (0-100)."""

DEFAULT_SLA_HOURS = 8.0
"""Business hours a routed question may wait before it is escalated: one business day."""
SLA_SETTING = "PARTNERBOT_QUESTION_SLA_HOURS"
"""Environment variable (read through ``Settings.extra``) overriding :data:`DEFAULT_SLA_HOURS`."""
BUSINESS_START = time(9, 0)
BUSINESS_END = time(17, 0)
"""A business day is 09:00-17:00, Monday to Friday, in the expert's time zone (8 business hours)."""

MAX_QUESTION = 2000
MAX_ANSWER = 4000
MAX_KB_QUESTION = 500
TOPIC_RE = re.compile(r"^[a-z0-9][a-z0-9 _-]{0,39}$")

TOPIC_KEYWORDS: dict[str, tuple[str, ...]] = {
    "mdf": (
        "mdf",
        "claim",
        "funds",
        "fund",
        "marketing",
        "campaign",
        "coop",
        "co-op",
        "reimburse",
        "reimbursement",
        "event",
        "sponsorship",
    ),
    "pricing": (
        "price",
        "pricing",
        "discount",
        "quote",
        "margin",
        "rebate",
        "cost",
        "list price",
        "deal desk",
    ),
    "technical": (
        "install",
        "configure",
        "configuration",
        "certified",
        "certification",
        "compatible",
        "compatibility",
        "integration",
        "integrate",
        "api",
        "sso",
        "error",
        "setup",
        "supported",
        "version",
        "upgrade",
    ),
    "licensing": ("license", "licence", "licensing", "subscription", "renewal", "seat", "seats"),
}
"""Words that point at a topic. Only topics some staff member declared are routed to; a declared topic
with no entry here is still found by its own name (fuzzy)."""

STOPWORDS = frozenset(
    """a an the i we my our me us you your is are am was were be been do does did can could would should
    shall will may might must how what who whom whose which where when why to of for in on at by with
    and or if it its this that these those there any some please hi hello hey thanks get got have has
    had need want know tell let so just about from as into out up""".split()
)

TOKEN_RE = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")

# What the audit log keeps of a question before and after each change.
AUDITED = ("status", "topic", "assignee_id", "escalation_level", "due_at")


# -- references ---------------------------------------------------------------------------------


question_ref = QUESTION.format
# The key of a staff card given to one person (see _send_to): Q-<n>:<event>:p<person id>.
ROUTED_MESSAGE_RE = re.compile(rf"^(?P<ref>{QUESTION.token}):[a-z0-9-]+:p(?P<person>\d+)$")
kb_ref = KB_ENTRY.format
parse_question_ref = QUESTION.parse
parse_kb_ref = KB_ENTRY.parse


# -- matching and classification (pure) ---------------------------------------------------------


def content_tokens(text: str) -> list[str]:
    """The words of ``text`` that carry meaning: lower case, no punctuation, no stop words."""
    return [t for t in TOKEN_RE.findall(text.lower().replace("’", "'")) if t not in STOPWORDS]


def question_key(text: str) -> str:
    """A question normalised for duplicate detection (same words, any case and punctuation)."""
    return " ".join(TOKEN_RE.findall(text.lower()))[:500]


def tokens_match(a: str, b: str) -> bool:
    """Two words are the same for matching: equal, a small typo apart (``discont``/``discount``), or
    the same stem (``approves``/``approval``, ``certified``/``certification``). Words shorter than five
    letters must be equal (``clam`` is not ``claim``, ``mdf`` is not ``mdfs``)."""
    if a == b:
        return True
    if min(len(a), len(b)) < 5:
        return False
    if fuzz.ratio(a, b) >= 85:
        return True
    prefix = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        prefix += 1
    return prefix >= 6


def _coverage(needles: Sequence[str], haystack: Sequence[str]) -> float:
    if not needles:
        return 0.0
    return sum(1 for n in needles if any(tokens_match(n, h) for h in haystack)) / len(needles)


def kb_score(text: str, question: str, tags: Iterable[str] = ()) -> float:
    """How well a knowledge-base entry answers ``text``, 0-100.

    The mean of two coverages over content words, compared with rapidfuzz so typos and word forms
    match: how much of the asked question the entry's question and tags cover, and how much of the
    entry's question the asked question covers - where a tag of two words or more ("marketing funds")
    counts as another phrasing of the entry's question. Whole-string scorers such as ``WRatio`` reward
    partial overlaps ("is Cloud Suite HIPAA certified?" scores 83 against "Is Cloud Suite certified for
    ISO 27001?"), which would hand partners confident wrong answers."""
    asked = content_tokens(text)
    entry = content_tokens(question)
    tag_tokens = [content_tokens(t) for t in tags]
    if not asked or not entry:
        return 0.0
    covered_asked = _coverage(asked, entry + [t for tag in tag_tokens for t in tag])
    phrasings = [entry] + [tag for tag in tag_tokens if len(tag) >= 2]
    covered_entry = max(_coverage(phrase, asked) for phrase in phrasings)
    return round(50 * covered_asked + 50 * covered_entry, 1)


def best_kb_match(
    text: str, entries: Iterable[KbEntry], *, threshold: float = KB_THRESHOLD
) -> tuple[KbEntry, float] | None:
    """The best entry for ``text`` if it reaches ``threshold``; ties go to the most used entry."""
    best: tuple[KbEntry, float] | None = None
    for entry in entries:
        score = kb_score(text, entry.question, entry.tags or ())
        if score < threshold:
            continue
        if best is None or (score, entry.uses) > (best[1], best[0].uses):
            best = (entry, score)
    return best


def classify_topic(text: str, topics: Iterable[str]) -> str | None:
    """The declared topic ``text`` is about, or None.

    A topic scores one point per word of the text that matches the topic's name or one of its
    :data:`TOPIC_KEYWORDS` (fuzzy, see :func:`tokens_match`); the highest score wins, ties go to the
    topic declared first in sorted order."""
    words = content_tokens(text)
    best: tuple[int, str] | None = None
    for topic in sorted({t.strip().lower() for t in topics if t.strip()}):
        keys = [content_tokens(k) for k in (topic, *TOPIC_KEYWORDS.get(topic, ()))]
        hits = 0
        for key in keys:
            if key and all(any(tokens_match(k, w) for w in words) for k in key):
                hits += len(key)
        if hits and (best is None or hits > best[0]):
            best = (hits, topic)
    return best[1] if best else None


def business_deadline(start: datetime, *, tz: str, hours: float) -> datetime:
    """``start`` (naive UTC) plus ``hours`` of business time in ``tz``, as naive UTC.

    Business time runs 09:00-17:00 local time, Monday to Friday (no public holidays). A start outside
    business hours begins counting at the next opening, so 8 hours from Friday 15:00 is Monday 15:00
    and from Saturday noon is Monday 17:00. Local wall-clock arithmetic keeps daylight-saving changes
    right."""
    zone = ZoneInfo(tz)
    cursor = start.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
    remaining = timedelta(hours=hours)
    while remaining > timedelta(0):
        opens = datetime.combine(cursor.date(), BUSINESS_START)
        closes = datetime.combine(cursor.date(), BUSINESS_END)
        if cursor.weekday() >= 5 or cursor >= closes:
            cursor = datetime.combine(cursor.date() + timedelta(days=1), BUSINESS_START)
            continue
        cursor = max(cursor, opens)
        available = closes - cursor
        if remaining <= available:
            cursor += remaining
            remaining = timedelta(0)
        else:
            remaining -= available
            cursor = datetime.combine(cursor.date() + timedelta(days=1), BUSINESS_START)
    return cursor.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def strip_identity(text: str, *, names: Iterable[str], words: Iterable[str] = ()) -> tuple[str, bool]:
    """``text`` without the given ``names`` (case-insensitive: full names, e-mails, organisations) and
    ``words`` (case-sensitive whole words: first names). Returns the text and whether anything went."""
    out = text
    for name in sorted({n for n in names if n and n.strip()}, key=len, reverse=True):
        out = re.sub(re.escape(name), "", out, flags=re.IGNORECASE)
    for word in {w for w in words if w and len(w) > 1}:
        out = re.sub(rf"\b{re.escape(word)}\b", "", out)
    changed = out != text
    if changed:
        out = re.sub(r"[ \t]+([,.;:!?])", r"\1", out)
        out = re.sub(r"(^|\n)[ \t]*[,;:]+[ \t]*", r"\1", out)
        out = re.sub(r"([,;:])\s*([,;:])", r"\1", out)
        out = re.sub(r"[ \t]{2,}", " ", out).strip()
    return out, changed


def sla_hours_from(extra: dict[str, str]) -> float:
    raw = (extra.get(SLA_SETTING) or "").strip()
    if not raw:
        return DEFAULT_SLA_HOURS
    try:
        hours = float(raw)
    except ValueError as exc:
        raise ValueError(f"{SLA_SETTING} must be a number of business hours, e.g. 8, not {raw!r}") from exc
    if not 0 < hours <= 24 * 5:
        raise ValueError(f"{SLA_SETTING} must be more than 0 and at most 120 business hours, not {raw!r}")
    return hours


# -- what readers get ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KbRow:
    """One row of a knowledge-base file, validated; ``line`` is where it starts."""

    line: int
    question: str
    answer: str
    topic: str | None
    tags: tuple[str, ...]


# -- the service --------------------------------------------------------------------------------


class Questions:
    def __init__(
        self,
        *,
        db: Database,
        clock: Callable[[], datetime],
        default_tz: str = "UTC",
        vendor_channel: bool = False,
        sla_hours: float = DEFAULT_SLA_HOURS,
        kb_threshold: float = KB_THRESHOLD,
        changes: ChangeLog | None = None,
    ) -> None:
        self.db = db
        self.changes = changes or ChangeLog()
        self.clock = clock
        self.default_tz = default_tz
        self.vendor_channel = vendor_channel
        self.sla_hours = sla_hours
        self.kb_threshold = kb_threshold

    # -- helpers --------------------------------------------------------------------------------

    def tz_of(self, person: Person | None) -> str:
        return (person.tz if person is not None and person.tz else None) or self.default_tz

    def _due(self, person: Person | None, now: datetime) -> datetime:
        return business_deadline(now, tz=self.tz_of(person), hours=self.sla_hours)

    @staticmethod
    def _not_found(number: int) -> NotFound:
        return QUESTION.not_found(number)

    async def _question_for(
        self, session: AsyncSession, actor: Actor, ref: str, *, for_update: bool = False
    ) -> Question:
        number = parse_question_ref(ref)
        if actor.is_staff:
            question = await qq.question_by_number(session, number, for_update=for_update)
        elif actor.partner_id is None:
            question = None
        else:
            question = await qq.question_by_number(
                session, number, partner_id=actor.partner_id, for_update=for_update
            )
        if question is None:
            raise self._not_found(number)
        return question

    @staticmethod
    def _require_staff(actor: Actor, doing: str) -> None:
        if not actor.is_staff:
            raise NotAllowed(f"Only vendor staff {doing}.")

    @staticmethod
    def _require_partner(actor: Actor) -> None:
        if actor.is_staff or actor.partner_id is None:
            raise NotAllowed(
                "Questions are asked by partners and answered by staff. Say 'questions' for your queue."
            )

    async def _note(
        self,
        session: AsyncSession,
        question: Question,
        actor: Actor | None,
        action: str,
        before: dict[str, Any],
        *,
        body: str,
        at: datetime,
    ) -> QuestionMessage:
        """A note in the question's thread (by ``actor``, or by a job) and the audit row of the change."""
        note = await qq.add_message(
            session,
            question_id=question.id,
            kind="note",
            author_id=actor.person_id if actor else None,
            body=body,
            channel=actor.channel if actor else "job",
            at=at,
        )
        await self._audit(session, actor, action, question_ref(question.number), before, _snapshot(question))
        return note

    async def _audit(
        self,
        session: AsyncSession,
        actor: Actor | None,
        action: str,
        entity: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        await self.changes.record(
            session, actor, action=action, entity=entity, before=before, after=after, at=self.clock()
        )

    async def _view(
        self,
        session: AsyncSession,
        question: Question,
        viewer: Actor | None,
        *,
        staff_view: bool | None = None,
    ) -> QuestionView:
        """``viewer`` None means staff-facing (notifications to staff and the vendor channel) unless
        ``staff_view=False`` (notifications to the partner)."""
        if staff_view is None:
            staff_view = viewer is None or viewer.is_staff
        partner = await queries.partner_by_id(session, question.partner_id)
        asker = await queries.person_by_id(session, question.asker_id)
        assignee = await queries.person_by_id(session, question.assignee_id) if question.assignee_id else None
        names: dict[int, str] = {}
        thread: list[ThreadEntry] = []
        for message in await qq.messages_of(session, question.id):
            if message.kind == "note" and not staff_view:
                continue
            author = "partnerbot"
            if message.author_id is not None:
                if message.author_id not in names:
                    who = await queries.person_by_id(session, message.author_id)
                    names[message.author_id] = who.name if who else "?"
                author = names[message.author_id]
            thread.append(ThreadEntry(message.kind, author, message.body, message.channel, message.at))
        kb = await qq.kb_entry_by_id(session, question.kb_entry_id) if question.kb_entry_id else None
        saved = (
            await qq.kb_entry_by_id(session, question.saved_kb_entry_id)
            if question.saved_kb_entry_id
            else None
        )
        return QuestionView(
            ref=question_ref(question.number),
            partner=partner.name if partner else "?",
            asker=asker.name if asker else "?",
            platform=question.platform,
            text=question.text,
            topic=question.topic,
            status=question.status,
            assignee=assignee.name if assignee else None,
            assignee_id=question.assignee_id,
            escalation_level=question.escalation_level,
            due_at=question.due_at,
            created_at=question.created_at,
            answered_at=question.answered_at,
            kb_ref=kb_ref(kb.number) if kb else None,
            kb_answer=kb.answer if kb else None,
            saved_kb_ref=kb_ref(saved.number) if saved and staff_view else None,
            thread=tuple(thread),
        )

    async def _channel_manager(self, session: AsyncSession, partner: Partner | None) -> Person | None:
        if partner is None or partner.channel_manager_id is None:
            return None
        manager = await queries.person_by_id(session, partner.channel_manager_id)
        if manager is None or not manager.active or manager.away or manager.kind != "staff":
            return None
        return manager

    async def _pick_expert(
        self,
        session: AsyncSession,
        *,
        topic: str,
        region: str | None,
        now: datetime,
        exclude: frozenset[int] = frozenset(),
    ) -> Person | None:
        """An expert for ``topic``: people of the partner's region first, then people with no region
        (they serve every region); among equals the one least recently given a question. ``exclude``:
        people who can't take it (they could not be reached)."""
        experts = [p for p in await qq.experts_for_topic(session, topic) if p.id not in exclude]
        wanted = (region or "").upper()
        same = [p for p in experts if p.region and wanted and p.region.upper() == wanted]
        pool = same or [p for p in experts if not p.region]
        if not pool:
            return None
        turns = await qq.rotation_turns(session, [p.id for p in pool])
        chosen = min(pool, key=lambda p: (turns.get(p.id, 0), p.id))
        await qq.touch_rotation(session, person_id=chosen.id, now=now)
        return chosen

    def _level_for(self, assignee: Person | None, manager: Person | None) -> int:
        """0 with an expert (escalates to the channel manager), 1 with the channel manager (escalates
        to the vendor channel), 2 with nobody in particular (nothing further)."""
        if assignee is None:
            return 2
        return 1 if manager is not None and manager.id == assignee.id else 0

    async def _card_for_staff(self, session: AsyncSession, question: Question, *, headline: str) -> Any:
        view = await self._view(session, question, None)
        assignee = await queries.person_by_id(session, question.assignee_id) if question.assignee_id else None
        return question_views.staff_card(view, headline=headline, tz=self.tz_of(assignee))

    async def _send_to(
        self, session: AsyncSession, question: Question, *, person: Person | None, headline: str, event: str
    ) -> None:
        """The staff card to ``person`` - or, with nobody, to the vendor channel (or the admins when no
        vendor channel is configured). ``event`` names the change uniquely (it ends with the id of the
        thread entry the change wrote), so the outbox keys of two changes never collide."""
        now = self.clock()
        ref = question_ref(question.number)
        card = await self._card_for_staff(session, question, headline=headline)
        if person is not None:
            await outbox.queue_for_person(
                session,
                key=f"{ref}:{event}:p{person.id}",
                person_id=person.id,
                reply=card,
                kind="question",
                now=now,
            )
            return
        if self.vendor_channel:
            await outbox.queue_for_vendor_channel(
                session, key=f"{ref}:{event}:vendor", reply=card, kind="question", now=now
            )
            return
        for admin in await queries.staff_with_role(session, "admin"):
            if not admin.away:
                await outbox.queue_for_person(
                    session,
                    key=f"{ref}:{event}:p{admin.id}",
                    person_id=admin.id,
                    reply=card,
                    kind="question",
                    now=now,
                )

    async def _refresh_cards(
        self, session: AsyncSession, question: Question, *, outcome: str, event: str
    ) -> None:
        """Update, in place, every staff card of this question delivered so far."""
        now = self.clock()
        ref = question_ref(question.number)
        card = await self._card_for_staff(session, question, headline=outcome)
        await outbox.queue_replacement(session, key=f"{ref}:card:{event}", reply=card, now=now)

    def _give(
        self, question: Question, person: Person | None, *, manager: Person | None, now: datetime
    ) -> None:
        """``question`` is ``person``'s now (None: nobody in particular): status, escalation level and
        the due time of its SLA."""
        question.assignee_id = person.id if person else None
        question.status = "assigned" if person else "open"
        question.escalation_level = self._level_for(person, manager)
        question.due_at = self._due(person, now) if person else None
        question.updated_at = now

    async def _route(
        self, session: AsyncSession, question: Question, *, headline: str, event: str
    ) -> Person | None:
        """Assign a question: expert for its topic and region, else the channel manager, else nobody
        (vendor channel). Sets status, due time and escalation level; notifies whoever gets it."""
        now = self.clock()
        partner = await queries.partner_by_id(session, question.partner_id)
        manager = await self._channel_manager(session, partner)
        person: Person | None = None
        if question.topic:
            person = await self._pick_expert(
                session, topic=question.topic, region=partner.region if partner else None, now=now
            )
        if person is None:
            person = manager
        self._give(question, person, manager=manager, now=now)
        await session.flush()
        await self._send_to(session, question, person=person, headline=headline, event=f"routed-{event}")
        return person

    def _clean_question(self, text: str) -> str:
        value = clean_text(text, field_name="question", limit=MAX_QUESTION)
        if not value or len(content_tokens(value)) == 0:
            raise InputError(
                "question",
                "Type your question in a sentence, e.g. 'How do I claim MDF?' or 'Who approves my discount?'.",
            )
        return value

    # -- partners: ask, follow up, close ----------------------------------------------------------

    async def ask(self, actor: Actor, text: str) -> QuestionView:
        """A partner's question: answered from the knowledge base when a match is confident (status
        ``answered_by_kb``, the entry's use counted), otherwise routed to a person."""
        self._require_partner(actor)
        body = self._clean_question(text)
        now = self.clock()
        async with self.db.transaction() as session:
            match = best_kb_match(body, await qq.active_kb_entries(session), threshold=self.kb_threshold)
            topic = classify_topic(body, await qq.declared_topics(session))
            if topic is None and match is not None:
                topic = match[0].topic
            assert actor.partner_id is not None
            question = Question(
                number=await queries.next_number(session, "question"),
                asker_id=actor.person_id,
                partner_id=actor.partner_id,
                platform=actor.channel,
                text=body,
                topic=topic,
                status="open",
                escalation_level=0,
                created_at=now,
                updated_at=now,
            )
            session.add(question)
            await session.flush()
            asked = await qq.add_message(
                session,
                question_id=question.id,
                kind="question",
                author_id=actor.person_id,
                body=body,
                channel=actor.channel,
                at=now,
            )
            ref = question_ref(question.number)
            if match is not None:
                entry, score = match
                question.status = "answered_by_kb"
                question.kb_entry_id = entry.id
                await qq.count_kb_use(session, entry.id)
                await self._audit(
                    session,
                    actor,
                    "question.ask",
                    ref,
                    None,
                    {**_snapshot(question), "kb": kb_ref(entry.number), "score": score},
                )
            else:
                await self._route(session, question, headline=f"New question {ref}", event=f"m{asked.id}")
                await self._audit(session, actor, "question.ask", ref, None, _snapshot(question))
            return await self._view(session, question, actor)

    async def ask_person(self, actor: Actor, ref: str, *, details: str | None = None) -> QuestionView:
        """The knowledge-base answer didn't help: route the same ``Q-n`` to a person (with optional
        ``details`` added to the thread)."""
        self._require_partner(actor)
        extra = clean_text(details, field_name="text", limit=MAX_QUESTION) if details else None
        async with self.db.transaction() as session:
            question = await self._question_for(session, actor, ref, for_update=True)
            rref = question_ref(question.number)
            if not (
                question.status == "answered_by_kb"
                or (question.status == "closed" and not question.answered_at)
            ):
                raise Conflict(_already(question, rref))
            before = _snapshot(question)
            now = self.clock()
            if extra:
                await qq.add_message(
                    session,
                    question_id=question.id,
                    kind="followup",
                    author_id=actor.person_id,
                    body=extra,
                    channel=actor.channel,
                    at=now,
                )
            kb = await qq.kb_entry_by_id(session, question.kb_entry_id) if question.kb_entry_id else None
            suggested = f"The knowledge base suggested {kb_ref(kb.number)}; " if kb is not None else ""
            note = await qq.add_message(
                session,
                question_id=question.id,
                kind="note",
                author_id=None,
                body=f"{suggested}the partner asked for a person."
                if suggested
                else "The partner asked for a person.",
                channel=actor.channel,
                at=now,
            )
            question.closed_at = None
            await self._route(session, question, headline=f"New question {rref}", event=f"m{note.id}")
            await self._audit(session, actor, "question.ask_person", rref, before, _snapshot(question))
            return await self._view(session, question, actor)

    async def mark_helpful(self, actor: Actor, ref: str) -> QuestionView:
        """The partner's "That answers it" / "Helpful": the question is closed; whoever answered hears
        about it."""
        self._require_partner(actor)
        async with self.db.transaction() as session:
            question = await self._question_for(session, actor, ref, for_update=True)
            rref = question_ref(question.number)
            if question.status == "closed":
                return await self._view(session, question, actor)
            if question.status not in ("answered_by_kb", "answered"):
                raise Conflict(f"{rref} hasn't been answered yet; I'll tell you as soon as it is.")
            before = _snapshot(question)
            now = self.clock()
            question.status = "closed"
            question.closed_at = now
            question.updated_at = now
            note = await qq.add_message(
                session,
                question_id=question.id,
                kind="note",
                author_id=actor.person_id,
                body=f"Closed: {actor.name} found the answer helpful.",
                channel=actor.channel,
                at=now,
            )
            await self._audit(session, actor, "question.close", rref, before, _snapshot(question))
            if question.answered_at is not None:
                await self._refresh_cards(
                    session,
                    question,
                    outcome=f"{rref} closed: {actor.name} found the answer helpful",
                    event=f"m{note.id}",
                )
                answerer = (
                    await queries.person_by_id(session, question.assignee_id)
                    if question.assignee_id
                    else None
                )
                if answerer is not None and answerer.active:
                    card = await self._card_for_staff(
                        session, question, headline=f"{actor.name} found your answer to {rref} helpful"
                    )
                    await outbox.queue_for_person(
                        session,
                        key=f"{rref}:helpful:m{note.id}:p{answerer.id}",
                        person_id=answerer.id,
                        reply=card,
                        kind="question",
                        now=now,
                    )
            return await self._view(session, question, actor)

    async def follow_up(self, actor: Actor, ref: str, *, text: str) -> QuestionView:
        """More from the partner on the same ``Q-n``: back to the person who answered (if they can take
        it), to the person it waits with, or routed like a new question after a knowledge-base answer."""
        self._require_partner(actor)
        body = clean_text(text, field_name="text", limit=MAX_QUESTION)
        if not body:
            raise InputError("text", "What would you like to add? Write it in a sentence or two.")
        async with self.db.transaction() as session:
            question = await self._question_for(session, actor, ref, for_update=True)
            rref = question_ref(question.number)
            before = _snapshot(question)
            now = self.clock()
            added = await qq.add_message(
                session,
                question_id=question.id,
                kind="followup",
                author_id=actor.person_id,
                body=body,
                channel=actor.channel,
                at=now,
            )
            event = f"m{added.id}"
            question.platform = actor.channel
            question.updated_at = now
            headline = f"Follow-up on {rref} from {actor.name}"
            if question.status in ("answered_by_kb",) or (
                question.status == "closed" and not question.answered_at
            ):
                question.closed_at = None
                await self._route(session, question, headline=headline, event=event)
            elif question.status in ("answered", "closed"):
                partner = await queries.partner_by_id(session, question.partner_id)
                manager = await self._channel_manager(session, partner)
                expert = (
                    await queries.person_by_id(session, question.assignee_id)
                    if question.assignee_id
                    else None
                )
                question.closed_at = None
                if expert is not None and expert.active and not expert.away:
                    question.status = "assigned"
                    question.escalation_level = self._level_for(expert, manager)
                    question.due_at = self._due(expert, now)
                    await session.flush()
                    await self._send_to(
                        session, question, person=expert, headline=headline, event=f"followup-{event}"
                    )
                else:
                    await self._route(session, question, headline=headline, event=event)
            else:  # still waiting: the thread grows, the person it waits with hears about it
                assignee = (
                    await queries.person_by_id(session, question.assignee_id)
                    if question.assignee_id
                    else None
                )
                await session.flush()
                await self._send_to(
                    session, question, person=assignee, headline=headline, event=f"followup-{event}"
                )
            await self._audit(session, actor, "question.followup", rref, before, _snapshot(question))
            return await self._view(session, question, actor)

    # -- staff: claim, answer, reassign -----------------------------------------------------------

    async def claim(self, actor: Actor, ref: str) -> QuestionView:
        async with self.db.transaction() as session:
            question = await self._question_for(session, actor, ref, for_update=True)
            self._require_staff(actor, "claim questions")
            rref = question_ref(question.number)
            if question.status not in WAITING_STATUSES:
                raise Conflict(_already(question, rref))
            if question.status == "claimed" and question.assignee_id != actor.person_id:
                holder = await queries.person_by_id(session, question.assignee_id or 0)
                raise Conflict(
                    f"{rref} is claimed by {holder.name if holder else 'someone else'}; "
                    "use Reassign to take it over."
                )
            if question.status == "claimed":
                return await self._view(session, question, actor)
            before = _snapshot(question)
            now = self.clock()
            me = await queries.person_by_id(session, actor.person_id)
            if question.assignee_id != actor.person_id:
                partner = await queries.partner_by_id(session, question.partner_id)
                question.escalation_level = self._level_for(me, await self._channel_manager(session, partner))
                question.due_at = self._due(me, now)
            question.assignee_id = actor.person_id
            question.status = "claimed"
            question.updated_at = now
            note = await self._note(
                session, question, actor, "question.claim", before, body=f"Claimed by {actor.name}.", at=now
            )
            await session.flush()
            await self._refresh_cards(
                session, question, outcome=f"{rref} claimed by {actor.name}", event=f"m{note.id}"
            )
            return await self._view(session, question, actor)

    async def answer(self, actor: Actor, ref: str, *, text: str) -> QuestionView:
        """A staff answer: recorded in the thread and relayed to the asker on the platform they asked
        from, with "Helpful" / "Follow up"."""
        body = clean_text(text, field_name="answer", limit=MAX_ANSWER)
        async with self.db.transaction() as session:
            question = await self._question_for(session, actor, ref, for_update=True)
            self._require_staff(actor, "answer questions")
            if not body:
                raise InputError("answer", "Write the answer the partner should read.")
            rref = question_ref(question.number)
            if question.status not in (*WAITING_STATUSES, "answered"):
                raise Conflict(_already(question, rref))
            before = _snapshot(question)
            now = self.clock()
            answered = await qq.add_message(
                session,
                question_id=question.id,
                kind="answer",
                author_id=actor.person_id,
                body=body,
                channel=actor.channel,
                at=now,
            )
            question.status = "answered"
            question.assignee_id = actor.person_id
            question.answered_at = now
            question.due_at = None
            question.updated_at = now
            await self._audit(session, actor, "question.answer", rref, before, _snapshot(question))
            await session.flush()
            asker = await queries.person_by_id(session, question.asker_id)
            if asker is not None and asker.active:
                view = await self._view(session, question, None, staff_view=False)
                await outbox.queue_for_person(
                    session,
                    key=f"{rref}:answer:m{answered.id}:p{asker.id}",
                    person_id=asker.id,
                    reply=question_views.answer_relay(view, answer=body, by=actor.name),
                    kind="question",
                    now=now,
                    prefer_platform=question.platform,
                )
            await self._refresh_cards(
                session, question, outcome=f"{rref} answered by {actor.name}", event=f"m{answered.id}"
            )
            return await self._view(session, question, actor)

    async def reassign(self, actor: Actor, ref: str, *, to: str) -> QuestionView:
        """Give a waiting question to another staff member (by e-mail or name)."""
        wanted = " ".join((to or "").split())
        async with self.db.transaction() as session:
            question = await self._question_for(session, actor, ref, for_update=True)
            self._require_staff(actor, "reassign questions")
            if not wanted:
                raise InputError("person", "Who should take it? Give a staff member's e-mail or name.")
            rref = question_ref(question.number)
            if question.status not in WAITING_STATUSES:
                raise Conflict(_already(question, rref))
            person = _find_staff(await qq.active_staff(session), wanted)
            if person.away:
                raise InputError("person", f"{person.name} is marked away; choose someone else.")
            before = _snapshot(question)
            now = self.clock()
            partner = await queries.partner_by_id(session, question.partner_id)
            question.assignee_id = person.id
            question.status = "assigned"
            question.escalation_level = self._level_for(person, await self._channel_manager(session, partner))
            question.due_at = self._due(person, now)
            question.updated_at = now
            note = await self._note(
                session,
                question,
                actor,
                "question.reassign",
                before,
                body=f"Reassigned to {person.name} by {actor.name}.",
                at=now,
            )
            await session.flush()
            await self._refresh_cards(
                session, question, outcome=f"{rref} reassigned to {person.name}", event=f"m{note.id}"
            )
            await self._send_to(
                session,
                question,
                person=person,
                headline=f"{actor.name} passed {rref} to you",
                event=f"reassigned-m{note.id}",
            )
            return await self._view(session, question, actor)

    async def assignee_unreachable(self, message_key: str, *, reason: str) -> str | None:
        """The card of a routed question (``Q-n:routed-…:p<person>`` and the like) could not reach the
        person it was given to: the question goes at once to the next expert for its topic, else the
        partner's channel manager, else the vendor channel - never back to the same person - with a
        note in its thread saying who could not be reached and why. Returns who has it now; None when
        nothing changed (it was answered or given to someone else meanwhile)."""
        match = ROUTED_MESSAGE_RE.match(message_key)
        if match is None:
            return None
        unreachable_id = int(match.group("person"))
        why = reason.removeprefix(outbox.UNREACHABLE)
        now = self.clock()
        async with self.db.transaction() as session:
            question = await qq.question_by_number(
                session, parse_question_ref(match.group("ref")), for_update=True
            )
            if question is None or question.status not in WAITING_STATUSES:
                return None
            if question.assignee_id != unreachable_id:
                return None
            rref = question_ref(question.number)
            before = _snapshot(question)
            partner = await queries.partner_by_id(session, question.partner_id)
            manager = await self._channel_manager(session, partner)
            gone = await queries.person_by_id(session, unreachable_id)
            person: Person | None = None
            if question.topic:
                person = await self._pick_expert(
                    session,
                    topic=question.topic,
                    region=partner.region if partner else None,
                    now=now,
                    exclude=frozenset({unreachable_id}),
                )
            if person is None and manager is not None and manager.id != unreachable_id:
                person = manager
            self._give(question, person, manager=manager, now=now)
            where = person.name if person else ("the vendor channel" if self.vendor_channel else "the admins")
            note = await self._note(
                session,
                question,
                None,
                "question.unreachable",
                before,
                body=f"{gone.name if gone else 'The assignee'} could not be reached ({why}); passed to {where}.",
                at=now,
            )
            await session.flush()
            await self._send_to(
                session,
                question,
                person=person,
                headline=f"{rref} is yours: {gone.name if gone else 'the expert'} could not be reached",
                event=f"unreachable-m{note.id}",
            )
            return where

    # -- reading ----------------------------------------------------------------------------------

    async def get(self, actor: Actor, ref: str) -> QuestionView:
        async with self.db.transaction() as session:
            return await self._view(session, await self._question_for(session, actor, ref), actor)

    async def mine(self, actor: Actor) -> list[QuestionView]:
        """A partner's own questions, newest first (staff: their queue)."""
        if actor.is_staff:
            return await self.queue(actor)
        async with self.db.transaction() as session:
            return [
                await self._view(session, q, actor)
                for q in await qq.questions_of_asker(session, actor.person_id, limit=20)
            ]

    async def queue(self, actor: Actor) -> list[QuestionView]:
        """Staff: questions waiting with them plus unassigned ones (admins: every waiting question)."""
        self._require_staff(actor, "have a question queue")
        async with self.db.transaction() as session:
            rows = await qq.waiting_questions_for(
                session, person_id=None if "admin" in actor.roles else actor.person_id
            )
            return [await self._view(session, q, actor) for q in rows]

    async def staff_directory(self) -> list[tuple[str, str]]:
        """(e-mail, label) of every active staff member, for the reassign form."""
        async with self.db.transaction() as session:
            out = []
            for p in await qq.active_staff(session):
                extra = ", ".join([*(p.topics or ()), *([p.region] if p.region else [])])
                label = p.name + (f" ({extra})" if extra else "") + (" - away" if p.away else "")
                out.append((p.email, label))
            return out

    # -- knowledge base -------------------------------------------------------------------------

    async def save_to_kb(self, actor: Actor, ref: str) -> KbView:
        """One click: a staff-editable knowledge-base entry from the question and its answer(s), with
        the asker's name, e-mail and organisation taken out."""
        async with self.db.transaction() as session:
            question = await self._question_for(session, actor, ref, for_update=True)
            self._require_staff(actor, "curate the knowledge base")
            rref = question_ref(question.number)
            if question.saved_kb_entry_id is not None:
                saved = await qq.kb_entry_by_id(session, question.saved_kb_entry_id)
                raise Conflict(
                    f"{rref} is already in the knowledge base as {kb_ref(saved.number) if saved else 'an entry'}."
                )
            answers = [m.body for m in await qq.messages_of(session, question.id) if m.kind == "answer"]
            if not answers:
                raise Conflict(f"{rref} has no answer yet; answer it first, then save it.")
            asker = await queries.person_by_id(session, question.asker_id)
            partner = await queries.partner_by_id(session, question.partner_id)
            names = [
                n
                for n in (
                    asker.name if asker else None,
                    asker.email if asker else None,
                    partner.name if partner else None,
                )
                if n
            ]
            first = [asker.name.split()[0]] if asker and asker.name.split() else []
            q_text, q_changed = strip_identity(question.text, names=names, words=first)
            a_text, a_changed = strip_identity("\n\n".join(answers), names=names, words=first)
            entry, _ = await self._upsert_kb(
                session,
                actor,
                question=q_text[:MAX_KB_QUESTION] or question.text[:MAX_KB_QUESTION],
                answer=a_text or "\n\n".join(answers),
                topic=question.topic,
                tags=(),
                replace=False,
            )
            question.saved_kb_entry_id = entry.id
            await self._audit(session, actor, "question.save_kb", rref, None, {"kb": kb_ref(entry.number)})
            note = (
                "I took out the asker's name and organisation; check the wording."
                if q_changed or a_changed
                else "Check the wording: partners see the answer, never the question."
            )
            await session.flush()
            await self._refresh_cards(
                session, question, outcome=f"{rref} saved to the knowledge base", event=f"kb{entry.number}"
            )
            return _kb_view(entry, created=True, note=note)

    async def add_kb_entry(
        self,
        actor: Actor,
        *,
        question: str,
        answer: str,
        topic: str | None = None,
        tags: Iterable[str] = (),
        ref: str | None = None,
    ) -> KbView:
        """Staff add an entry (or change ``ref``); an entry with the same question is updated."""
        self._require_staff(actor, "curate the knowledge base")
        row = validate_kb_row(question=question, answer=answer, topic=topic, tags=tags)
        async with self.db.transaction() as session:
            if ref:
                number = parse_kb_ref(ref)
                entry = await qq.kb_entry_by_number(session, number)
                if entry is None:
                    raise NotFound(f"I can't find {kb_ref(number)} in the knowledge base.")
                before = _kb_snapshot(entry)
                entry.question, entry.question_key = row.question, question_key(row.question)
                entry.answer, entry.tags = row.answer, list(row.tags)
                entry.topic = row.topic or entry.topic
                entry.updated_at = self.clock()
                await self._audit(
                    session, actor, "kb.update", kb_ref(entry.number), before, _kb_snapshot(entry)
                )
                return _kb_view(entry, created=False)
            entry, created = await self._upsert_kb(
                session,
                actor,
                question=row.question,
                answer=row.answer,
                topic=row.topic,
                tags=row.tags,
                replace=True,
            )
            return _kb_view(entry, created=created)

    async def kb_entry(self, actor: Actor, ref: str) -> KbView:
        self._require_staff(actor, "curate the knowledge base")
        number = parse_kb_ref(ref)
        async with self.db.transaction() as session:
            entry = await qq.kb_entry_by_number(session, number)
            if entry is None:
                raise NotFound(f"I can't find {kb_ref(number)} in the knowledge base.")
            return _kb_view(entry, created=False)

    async def import_kb(self, rows: Sequence[KbRow], *, channel: str = "cli") -> int:
        """All rows in one transaction: every entry or none. Returns how many rows were imported."""
        async with self.db.transaction() as session:
            for row in rows:
                await self._upsert_kb(
                    session,
                    None,
                    question=row.question,
                    answer=row.answer,
                    topic=row.topic,
                    tags=row.tags,
                    replace=True,
                    channel=channel,
                )
        return len(rows)

    async def _upsert_kb(
        self,
        session: AsyncSession,
        actor: Actor | None,
        *,
        question: str,
        answer: str,
        topic: str | None,
        tags: Iterable[str],
        replace: bool,
        channel: str = "cli",
    ) -> tuple[KbEntry, bool]:
        now = self.clock()
        key = question_key(question)
        existing = await qq.kb_entry_by_key(session, key) if replace else None
        if existing is not None:
            before = _kb_snapshot(existing)
            existing.answer = answer
            existing.topic = topic or existing.topic
            existing.tags = list(tags) or list(existing.tags or [])
            existing.active = True
            existing.updated_at = now
            await self._kb_audit(session, actor, "kb.update", existing, before, channel)
            return existing, False
        entry = KbEntry(
            number=await queries.next_number(session, "kb"),
            question=question,
            question_key=key,
            answer=answer,
            topic=topic,
            tags=list(tags),
            uses=0,
            active=True,
            created_by_id=actor.person_id if actor else None,
            created_at=now,
            updated_at=now,
        )
        session.add(entry)
        await session.flush()
        await self._kb_audit(session, actor, "kb.add", entry, None, channel)
        return entry, True

    async def _kb_audit(
        self,
        session: AsyncSession,
        actor: Actor | None,
        action: str,
        entry: KbEntry,
        before: dict[str, Any] | None,
        channel: str,
    ) -> None:
        await self.changes.record(
            session,
            actor,
            action=action,
            entity=kb_ref(entry.number),
            before=before,
            after=_kb_snapshot(entry),
            channel=channel,
            at=self.clock(),
        )

    # -- SLA sweep (scheduler) ------------------------------------------------------------------

    async def escalate_due(self, *, now: datetime) -> list[str]:
        """Escalate questions still waiting after their due time: to the partner's channel manager
        (level 1, with a new business-day SLA in their time zone), then to the vendor channel (level 2,
        nothing further). Each step is a conditional update, so a second run or a replica changes
        nothing twice."""
        escalated: list[str] = []
        async with self.db.transaction() as session:
            for question in await qq.overdue_questions(session, now=now):
                rref = question_ref(question.number)
                before = _snapshot(question)
                partner = await queries.partner_by_id(session, question.partner_id)
                manager = await self._channel_manager(session, partner)
                previous = (
                    await queries.person_by_id(session, question.assignee_id)
                    if question.assignee_id
                    else None
                )
                assert question.due_at is not None
                target: Person | None = None
                to_level, assignee_id, status, due_at = 2, question.assignee_id, question.status, None
                if (
                    question.escalation_level == 0
                    and manager is not None
                    and manager.id != question.assignee_id
                ):
                    target, to_level, assignee_id, status = manager, 1, manager.id, "assigned"
                    due_at = business_deadline(now, tz=self.tz_of(manager), hours=self.sla_hours)
                elif question.assignee_id is None:
                    status = "open"
                moved = await qq.mark_escalated(
                    session,
                    question_id=question.id,
                    from_level=question.escalation_level,
                    from_due=question.due_at,
                    to_level=to_level,
                    assignee_id=assignee_id,
                    status=status,
                    due_at=due_at,
                    now=now,
                )
                if not moved:
                    continue
                await session.refresh(question)
                waited = f"waiting since {format_day_time(question.created_at, self.default_tz)}"
                was = f" (was with {previous.name})" if previous is not None and target is not None else ""
                where = "the vendor channel" if self.vendor_channel else "the admins"
                body = (
                    f"Escalated to {manager.name}: unanswered past the SLA{was}."
                    if target is not None and manager is not None
                    else f"Escalated to {where}: unanswered past the SLA."
                )
                note = await self._note(
                    session, question, None, "question.escalate", before, body=body, at=now
                )
                await self._refresh_cards(session, question, outcome=f"{rref} escalated", event=f"m{note.id}")
                await self._send_to(
                    session,
                    question,
                    person=target,
                    headline=f"Escalated: {rref} from {partner.name if partner else '?'} is unanswered, {waited}{was}",
                    event=f"escalate{to_level}-m{note.id}",
                )
                escalated.append(rref)
        return escalated


# -- module functions ---------------------------------------------------------------------------


def _snapshot(question: Question) -> dict[str, Any]:
    """The audited fields of a question (not its text: the audit log is no second copy of it)."""
    return snapshot(question, AUDITED)


def _kb_snapshot(entry: KbEntry) -> dict[str, Any]:
    return snapshot(entry, ("question", "answer", "topic", "tags"))


def _kb_view(entry: KbEntry, *, created: bool, note: str = "") -> KbView:
    return KbView(
        ref=kb_ref(entry.number),
        question=entry.question,
        answer=entry.answer,
        topic=entry.topic,
        tags=tuple(entry.tags or ()),
        uses=entry.uses,
        active=entry.active,
        created=created,
        note=note,
    )


def _already(question: Question, rref: str) -> str:
    return {
        "answered_by_kb": f"{rref} was answered from the knowledge base; the partner can still ask a person.",
        "answered": f"{rref} is already answered.",
        "closed": f"{rref} is closed.",
    }.get(question.status, f"{rref} is already with a person; I'll tell you when it's answered.")


def _find_staff(staff: Sequence[Person], wanted: str) -> Person:
    lowered = wanted.lower().strip(" .")
    for person in staff:
        if person.email.lower() == lowered:
            return person
    exact = [p for p in staff if p.name.lower() == lowered]
    if len(exact) == 1:
        return exact[0]
    scored = sorted(((fuzz.WRatio(lowered, p.name.lower()), p) for p in staff), key=lambda x: -x[0])
    if scored and scored[0][0] >= 90 and (len(scored) == 1 or scored[1][0] < scored[0][0]):
        return scored[0][1]
    raise InputError(
        "person",
        f"I don't know a staff member {wanted!r}; give their e-mail or full name, e.g. ed@vendor.example.",
    )


def validate_kb_row(
    *, question: str | None, answer: str | None, topic: str | None, tags: Iterable[str] | str = ()
) -> KbRow:
    """A clean knowledge-base entry, or :class:`InputError` naming the field."""
    q = clean_text(question, field_name="question", limit=MAX_KB_QUESTION)
    if not q or not content_tokens(q):
        raise InputError("question", "The question is empty; write it as partners would ask it.")
    a = clean_text(answer, field_name="answer", limit=MAX_ANSWER)
    if not a:
        raise InputError("answer", "The answer is empty; write what partners should read.")
    t = " ".join((topic or "").lower().split()) or None
    if t is not None and not TOPIC_RE.match(t):
        raise InputError(
            "topic", f"{topic!r} is not a topic; use a short word such as mdf, pricing or technical."
        )
    raw_tags = re.split(r"[;,]", tags) if isinstance(tags, str) else list(tags)
    clean_tags = tuple(dict.fromkeys(" ".join(x.lower().split()) for x in raw_tags if x and x.strip()))
    for tag in clean_tags:
        if len(tag) > 40:
            raise InputError("tags", f"The tag {tag[:20]!r}… is longer than 40 characters.")
    return KbRow(line=0, question=q, answer=a, topic=t, tags=clean_tags)


KB_COLUMNS = ("question", "answer", "topic", "tags")


def read_kb_csv(path: Path) -> list[KbRow]:
    """Rows of a knowledge-base CSV file (UTF-8; header ``question,answer`` plus optional ``topic``
    and ``tags`` - tags separated by ``;``). Raises :class:`InputError` naming the line and field of
    the first bad row; a question twice in one file is an error too."""
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise InputError("file", f"{path} does not exist.") from exc
    except UnicodeDecodeError as exc:
        raise InputError("file", f"{path.name} is not UTF-8 text; save it as CSV UTF-8.") from exc
    except OSError as exc:
        raise InputError("file", f"I can't read {path}: {exc.strerror or exc}.") from exc
    reader = csv.reader(raw.splitlines(keepends=True))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise InputError(
            "file", f"{path.name} is empty; the first line must be 'question,answer[,topic]'."
        ) from None
    unknown = [h for h in header if h not in KB_COLUMNS]
    if unknown or "question" not in header or "answer" not in header or len(set(header)) != len(header):
        raise InputError(
            "header",
            f"line 1: the columns must be question, answer and optionally topic and tags, not {','.join(header)!r}.",
        )
    rows: list[KbRow] = []
    seen: dict[str, int] = {}
    line = 1
    try:
        for cells in reader:
            start = line + 1
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                raise InputError(
                    "row", f"line {start}: {len(cells)} cells, but the header names {len(header)}."
                )
            values = dict(zip(header, cells + [""] * (len(header) - len(cells)), strict=True))
            try:
                row = validate_kb_row(
                    question=values.get("question"),
                    answer=values.get("answer"),
                    topic=values.get("topic"),
                    tags=values.get("tags") or "",
                )
            except InputError as exc:
                raise InputError(exc.field, f"line {start}, {exc.field}: {exc.message}") from None
            key = question_key(row.question)
            if key in seen:
                raise InputError(
                    "question", f"line {start}, question: the same question as line {seen[key]}."
                )
            seen[key] = start
            rows.append(KbRow(start, row.question, row.answer, row.topic, row.tags))
    except csv.Error as exc:
        raise InputError("row", f"line {reader.line_num}: {exc}.") from None
    if not rows:
        raise InputError("file", f"{path.name} has a header but no entries.")
    return rows


async def import_kb_csv(questions: Questions, path: Path) -> int:
    """``partnerbot kb import FILE.csv``: every row or none; returns how many rows were imported."""
    return await questions.import_kb(read_kb_csv(path))


DEMO_KB: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    (
        "How do I claim MDF?",
        "Open the partner portal, choose MDF > New claim, and attach the invoice and proof of performance "
        "within 30 days of the activity.",
        "mdf",
        ("claim", "marketing funds", "reimbursement"),
    ),
    (
        "Who approves partner discounts?",
        "Your channel manager approves discounts up to 20%; above that the deal desk decides within two "
        "business days.",
        "pricing",
        ("discount", "approval"),
    ),
    (
        "Where do I find the price list?",
        "In the partner portal under Sales tools > Price list; it is updated on the first business day of "
        "each quarter.",
        "pricing",
        ("price list",),
    ),
    (
        "Is Cloud Suite certified for ISO 27001?",
        "Yes. Cloud Suite is ISO 27001 certified; the certificate is in the partner portal under Trust center.",
        "technical",
        ("iso 27001", "certification"),
    ),
)


async def seed_demo_kb(questions: Questions) -> list[str]:
    """The demo FAQ for ``partnerbot demo``: creates the entries that are missing, changes nothing
    else (idempotent); returns a line per entry created."""
    created: list[str] = []
    async with questions.db.transaction() as session:
        for question, answer, topic, tags in DEMO_KB:
            if await qq.kb_entry_by_key(session, question_key(question)) is not None:
                continue
            entry, _ = await questions._upsert_kb(
                session, None, question=question, answer=answer, topic=topic, tags=tags, replace=False
            )
            created.append(f"kb {kb_ref(entry.number)} {question}")
    return created
