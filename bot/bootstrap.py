"""The core as one object: the services, the conversation and the outbox, built from settings.

Handlers and jobs receive a :class:`Core`; it owns nothing platform-specific.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot import outbox
from bot.config import Settings
from bot.conversation import Conversation
from bot.features.deals.service import Deals
from bot.features.nudges.service import NudgePolicy, Nudges
from bot.features.nudges.skill import NudgeSkill
from bot.inbox import Inbox
from bot.outbox import Notifier, OutboxDispatcher
from bot.people import People

if TYPE_CHECKING:
    from bot.features.leads.service import Leads
    from bot.features.questions.service import Questions
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
    conversation: Conversation
    nudges: Nudges
    inbox: Inbox
    leads: Leads | None = None
    questions: Questions | None = None
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
    ) -> Core:
        db = db or Database.from_url(settings.database_url)
        if vendor_channel_platform is None and settings.slack_vendor_channel:
            vendor_channel_platform = "slack"
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
            vendor_channel=bool(vendor_channel_platform),
            default_tz=settings.timezone,
            tell_partner_conflicts=settings.tell_partner_conflicts,
        )
        conversation = Conversation(
            db=db, deals=deals, clock=clock, default_currency=settings.default_currency
        )
        nudges = Nudges(
            db=db,
            deals=deals,
            clock=clock,
            policy=NudgePolicy.from_settings(settings.extra),
            default_tz=settings.timezone,
        )
        nudge_skill = NudgeSkill(nudges=nudges, deals=deals)
        conversation.add_skill(nudge_skill)
        core = cls(
            settings=settings,
            db=db,
            clock=clock,
            people=people,
            deals=deals,
            conversation=conversation,
            nudges=nudges,
            inbox=Inbox(
                db=db,
                clock=clock,
                workers=settings.inbox_workers,
                lease=timedelta(seconds=settings.inbox_lease_seconds),
            ),
            vendor_channel_platform=vendor_channel_platform,
        )
        # Skills that need the whole core; the question skill claims the least, so it goes last.
        from bot.features.leads.service import leads_for
        from bot.features.leads.skill import build_lead_skill
        from bot.features.questions.skill import build_question_skill

        core.leads = nudge_skill.leads = leads_for(core)
        from bot.features.content.skill import build_content_skill
        from bot.features.mdf.skill import build_mdf_skill
        from bot.features.performance.skill import build_performance_skill

        # Content and MDF go before leads: "MDF for a webinar, expecting 1 lead" is not a lead lookup.
        content_skill, mdf_skill = build_content_skill(core), build_mdf_skill(core)
        core.conversation.add_skill(content_skill)
        core.conversation.add_skill(mdf_skill)
        core.conversation.add_skill(build_lead_skill(core))
        core.conversation.add_skill(build_performance_skill(core))
        question_skill = build_question_skill(core)
        core.questions = question_skill.questions
        core.conversation.add_skill(question_skill)
        # What each feature does when a message it wrote finds nobody (by the outbox row's kind): a lead
        # offer moves on, a routed question goes to the next expert, the decider or publisher is told.
        core.unreachable_handlers = {
            "lead": core.leads.offer_unreachable,
            "question": question_skill.questions.assignee_unreachable,
            "deal": deals.notice_unreachable,
            "mdf": mdf_skill.mdf.notice_unreachable,
            "content": content_skill.content.delivery_unreachable,
        }
        return core

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
