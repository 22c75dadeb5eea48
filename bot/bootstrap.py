"""The composition root: every feature built once, with explicit dependencies, in the order that is
their precedence in the conversation.

Handlers, jobs and the CLI receive a :class:`Core`; no feature imports it. A feature gets only what it
needs (the database, the clock, the deal service, its settings) and owns nothing platform-specific. The
``build_*`` functions at the end build a second instance of one feature from a core's parts: tests use
them to stand for another replica or to draw leads with a fixed random generator.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.config import Settings
from bot.conversation import Conversation
from bot.features.content.service import Content
from bot.features.content.skill import ContentSkill
from bot.features.deals.service import Deals
from bot.features.deals.skill import DealSkill
from bot.features.leads.assignment import AssignmentEngine
from bot.features.leads.service import Leads, LeadSettings
from bot.features.leads.skill import LeadSkill
from bot.features.mdf.service import Mdf, claim_days_from
from bot.features.mdf.skill import MdfSkill
from bot.features.nudges.service import NudgePolicy, Nudges
from bot.features.nudges.skill import NudgeSkill
from bot.features.performance.digest import Digests
from bot.features.performance.service import FlagThresholds, Performance
from bot.features.performance.skill import PerformanceSkill
from bot.features.questions.service import Questions, sla_hours_from
from bot.features.questions.skill import QuestionSkill
from bot.kernel import outbox
from bot.kernel.changes import ChangeLog
from bot.kernel.inbox import Inbox
from bot.kernel.outbox import Notifier, OutboxDispatcher
from bot.kernel.understanding.llm import LanguageModel
from bot.people import People
from store.db import Database

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    """Naive UTC, as stored in the database."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class Core:
    settings: Settings
    db: Database
    clock: Callable[[], datetime]
    people: People
    deals: Deals
    leads: Leads
    questions: Questions
    mdf: Mdf
    content: Content
    nudges: Nudges
    performance: Performance
    digests: Digests
    conversation: Conversation
    inbox: Inbox
    changes: ChangeLog
    unreachable_handlers: dict[str, Callable[..., Awaitable[Any]]] = field(default_factory=dict)
    notifiers: dict[str, Notifier] = field(default_factory=dict)
    vendor_channel_platform: str | None = None
    _delivery: asyncio.Task[None] | None = None
    _again: bool = False
    _kicked_at: int = -1

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        db: Database | None = None,
        clock: Callable[[], datetime] = utc_now,
        vendor_channel_platform: str | None = None,
        language_model: LanguageModel | None = None,
    ) -> Core:
        """Every feature, built once. ``language_model`` is the optional model the conversation asks when
        it is unsure; the wiring (``bot.wiring.build_core``) builds it from ``PARTNERBOT_LLM_URL``, because
        its HTTP transport lives with the other outside connections in ``handlers/``. Without it, off."""
        db = db or Database.from_url(settings.database_url)
        if vendor_channel_platform is None:
            vendor_channel_platform = settings.vendor_channel_platform()
        vendor_channel = bool(vendor_channel_platform)
        changes = ChangeLog()
        people = People(
            db=db,
            default_tz=settings.timezone,
            clock=clock,
            vendor_workspaces=settings.vendor_workspaces(),
        )
        deals = Deals(
            db=db,
            clock=clock,
            protection_days=settings.protection_days,
            vendor_channel=vendor_channel,
            default_tz=settings.timezone,
            tell_partner_conflicts=settings.tell_partner_conflicts,
            changes=changes,
        )
        leads = _leads(
            settings, db=db, clock=clock, deals=deals, vendor_channel=vendor_channel, changes=changes
        )
        questions = _questions(settings, db=db, clock=clock, vendor_channel=vendor_channel, changes=changes)
        mdf = _mdf(settings, db=db, clock=clock, vendor_channel=vendor_channel, changes=changes)
        content = _content(settings, db=db, clock=clock, changes=changes)
        nudges = Nudges(
            db=db,
            deals=deals,
            clock=clock,
            policy=NudgePolicy.from_settings(settings.extra),
            default_tz=settings.timezone,
        )
        changes.subscribe(nudges.record_changed)
        performance = _performance(settings, db=db, clock=clock, policy=nudges.policy)
        conversation = Conversation(
            db=db, clock=clock, default_currency=settings.default_currency, language_model=language_model
        )
        dialogs = conversation.dialogs
        # The order is the precedence for a typed message: nudge replies first; content and MDF before
        # leads ("MDF for a webinar, expecting 1 lead" is not a lead lookup); questions claim the least;
        # deals last, as the fallback, which answers whatever nobody claimed ("I didn't catch that").
        for skill in (
            NudgeSkill(nudges=nudges, deals=deals, leads=leads),
            ContentSkill(content=content, dialogs=dialogs),
            MdfSkill(mdf=mdf, dialogs=dialogs, default_currency=settings.default_currency),
            LeadSkill(leads=leads, deals=deals, dialogs=dialogs, default_currency=settings.default_currency),
            PerformanceSkill(performance=performance),
            QuestionSkill(questions=questions, dialogs=dialogs),
        ):
            conversation.add_skill(skill)
        conversation.set_fallback(
            DealSkill(deals=deals, dialogs=dialogs, default_currency=settings.default_currency)
        )
        return cls(
            settings=settings,
            db=db,
            clock=clock,
            people=people,
            deals=deals,
            leads=leads,
            questions=questions,
            mdf=mdf,
            content=content,
            nudges=nudges,
            performance=performance,
            digests=Digests(db=db, clock=clock, policy=nudges.policy),
            conversation=conversation,
            changes=changes,
            inbox=Inbox(
                db=db,
                clock=clock,
                workers=settings.inbox_workers,
                lease=timedelta(seconds=settings.inbox_lease_seconds),
            ),
            # What each feature does when a message it wrote finds nobody (by the outbox row's kind): a
            # lead offer moves on, a routed question goes to the next expert, the decider is told.
            unreachable_handlers={
                "lead": leads.offer_unreachable,
                "question": questions.assignee_unreachable,
                "deal": deals.notice_unreachable,
                "mdf": mdf.notice_unreachable,
                "content": content.delivery_unreachable,
            },
            vendor_channel_platform=vendor_channel_platform,
        )

    def add_notifier(self, notifier: Notifier) -> None:
        self.notifiers[notifier.platform] = notifier

    def dispatcher(self, notifiers: Mapping[str, Notifier] | None = None) -> OutboxDispatcher:
        return OutboxDispatcher(
            db=self.db,
            notifiers=notifiers if notifiers is not None else self.notifiers,
            vendor_channel_platform=self.vendor_channel_platform,
            clock=self.clock,
            vendor_workspaces=self.settings.vendor_workspaces(),
            on_unreachable=self._unreachable,
        )

    async def _unreachable(self, kind: str, key: str, reason: str) -> None:
        """A message of ``kind`` found nobody: the feature that wrote it decides what that means."""
        handler = self.unreachable_handlers.get(kind)
        if handler is not None:
            await handler(key, reason=reason)

    def kick_outbox(self) -> None:
        """Deliver what the last request queued now, in the background, instead of waiting for the next
        ``deliver_outbox`` sweep. Calls while a delivery runs fold into one more round; a call when
        nothing was queued since the last one does nothing (retries due later are the sweep's)."""
        queued = outbox.queued_count()
        if queued == self._kicked_at:
            return
        self._kicked_at = queued
        if self._delivery is not None and not self._delivery.done():
            self._again = True
            return
        self._delivery = asyncio.get_running_loop().create_task(self._deliver_rounds())

    async def _deliver_rounds(self) -> None:
        while True:
            self._again = False
            try:
                await self.dispatcher().deliver_due()
            except Exception:
                log.exception("outbox delivery failed; the sweep will retry")
            if not self._again:
                return

    async def settle(self) -> None:
        """Wait for a background delivery started by :meth:`kick_outbox` (tests, shutdown)."""
        while self._delivery is not None and not self._delivery.done():
            await asyncio.shield(self._delivery)


# -- one feature built from its settings (shared by Core.build and the build_* functions) -------------


def _leads(
    settings: Settings,
    *,
    db: Database,
    clock: Callable[[], datetime],
    deals: Deals,
    vendor_channel: bool,
    changes: ChangeLog,
    rng: random.Random | None = None,
) -> Leads:
    lead_settings = LeadSettings.from_settings(settings)
    return Leads(
        db=db,
        clock=clock,
        deals=deals,
        settings=lead_settings,
        engine=AssignmentEngine(weights=lead_settings.weights, rng=rng),
        vendor_channel=vendor_channel,
        default_tz=settings.timezone,
        changes=changes,
    )


def _questions(
    settings: Settings,
    *,
    db: Database,
    clock: Callable[[], datetime],
    vendor_channel: bool,
    changes: ChangeLog,
) -> Questions:
    return Questions(
        db=db,
        clock=clock,
        default_tz=settings.timezone,
        vendor_channel=vendor_channel,
        sla_hours=sla_hours_from(settings.extra),
        changes=changes,
    )


def _mdf(
    settings: Settings,
    *,
    db: Database,
    clock: Callable[[], datetime],
    vendor_channel: bool,
    changes: ChangeLog,
) -> Mdf:
    return Mdf(
        db=db,
        clock=clock,
        default_tz=settings.timezone,
        claim_days=claim_days_from(settings.extra),
        vendor_channel=vendor_channel,
        default_currency=settings.default_currency,
        changes=changes,
    )


def _content(
    settings: Settings, *, db: Database, clock: Callable[[], datetime], changes: ChangeLog
) -> Content:
    return Content(
        db=db, clock=clock, public_url=settings.public_url, default_tz=settings.timezone, changes=changes
    )


def _performance(
    settings: Settings, *, db: Database, clock: Callable[[], datetime], policy: NudgePolicy
) -> Performance:
    return Performance(
        db=db, clock=clock, policy=policy, thresholds=FlagThresholds.from_settings(settings.extra)
    )


# -- a second instance of one feature from a core's parts (another replica; a seeded random draw) -----


def leads_for(core: Core, *, rng: random.Random | None = None) -> Leads:
    """``core.leads``, or with ``rng`` a lead service whose assignment draws are repeatable."""
    if rng is None:
        return core.leads
    return _leads(
        core.settings,
        db=core.db,
        clock=core.clock,
        deals=core.deals,
        vendor_channel=bool(core.vendor_channel_platform),
        changes=core.changes,
        rng=rng,
    )


def build_questions(core: Core) -> Questions:
    """A question service like ``core.questions`` (as another replica would build it)."""
    return _questions(
        core.settings,
        db=core.db,
        clock=core.clock,
        vendor_channel=bool(core.vendor_channel_platform),
        changes=core.changes,
    )


def build_mdf(core: Core) -> Mdf:
    """An MDF service like ``core.mdf``."""
    return _mdf(
        core.settings,
        db=core.db,
        clock=core.clock,
        vendor_channel=bool(core.vendor_channel_platform),
        changes=core.changes,
    )


def build_content(core: Core) -> Content:
    """A content service like ``core.content``."""
    return _content(core.settings, db=core.db, clock=core.clock, changes=core.changes)


def build_lead_skill(core: Core, *, rng: random.Random | None = None) -> LeadSkill:
    return LeadSkill(
        leads=leads_for(core, rng=rng),
        deals=core.deals,
        dialogs=core.conversation.dialogs,
        default_currency=core.settings.default_currency,
    )


def build_mdf_skill(core: Core) -> MdfSkill:
    return MdfSkill(
        mdf=build_mdf(core),
        dialogs=core.conversation.dialogs,
        default_currency=core.settings.default_currency,
    )


def build_content_skill(core: Core) -> ContentSkill:
    return ContentSkill(content=build_content(core), dialogs=core.conversation.dialogs)


def build_question_skill(core: Core) -> QuestionSkill:
    return QuestionSkill(questions=build_questions(core), dialogs=core.conversation.dialogs)


def build_performance_skill(core: Core) -> PerformanceSkill:
    return PerformanceSkill(
        performance=_performance(core.settings, db=core.db, clock=core.clock, policy=core.nudges.policy)
    )
