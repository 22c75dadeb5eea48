"""The weekly digest for channel managers: what their partners changed, what went stale, and red
flags, with a chart of their partners' open pipeline by stage and the last 12 weeks - one message per
manager per ISO week, whichever replica writes it first.

The figures are read in one transaction, the charts drawn outside any transaction (in a worker
thread), and the messages claimed and queued in a second one, so no database lock is held while
matplotlib draws."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from bot.features.deals.service import OPEN_STATUSES
from bot.features.nudges.service import NudgePolicy
from bot.features.performance import charts
from bot.features.performance.service import charts_by_group
from bot.kernel import outbox
from bot.kernel.messages import Fact, Reply
from store import nudge_queries
from store.db import Database

INACTIVE_DAYS = 30
STALE_SHARE_FLAG = 0.5


class Digests:
    def __init__(self, *, db: Database, clock: Callable[[], datetime], policy: NudgePolicy) -> None:
        self.db = db
        self.clock = clock
        self.policy = policy

    async def weekly(self, *, now: datetime) -> int:
        """Queue this week's digest for every channel manager; returns how many were queued now."""
        week = now.isocalendar()
        week_label = f"{week.year}-W{week.week:02d}"
        slot = f"digest-{week_label}"
        queued = 0
        managed: dict[int, list[int]] = defaultdict(list)
        async with self.db.transaction() as session:
            partners = await nudge_queries.managed_partners(session)
            changes = await nudge_queries.deal_changes_by_partner(session, since=now - timedelta(days=7))
            month = await nudge_queries.deal_changes_by_partner(
                session, since=now - timedelta(days=INACTIVE_DAYS)
            )
            open_deals: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
            for partner_id, stage, updated_at in await nudge_queries.open_deals_by_partner(
                session, OPEN_STATUSES
            ):
                open_deals[partner_id].append((stage, updated_at))
            by_manager: dict[int, list[Reply]] = defaultdict(list)
            for partner_id, name, tier, manager_id in partners:
                managed[manager_id].append(partner_id)
                week_changes = changes.get(partner_id, {"changes": 0, "registered": 0, "won": 0, "lost": 0})
                deals = open_deals.get(partner_id, [])
                stale = sum(
                    1
                    for stage, updated in deals
                    if (now - updated).days >= self.policy.stale_days.get(stage, 14)
                )
                flags = []
                if deals and month.get(partner_id, {}).get("changes", 0) == 0:
                    flags.append(f"no deal activity in {INACTIVE_DAYS} days")
                if deals and stale / len(deals) > STALE_SHARE_FLAG:
                    flags.append(f"{stale} of {len(deals)} open deals stale")
                by_manager[manager_id].append(
                    Reply(
                        title=f"{name} ({tier})" + (" ⚑" if flags else ""),
                        text="Red flags: " + "; ".join(flags) if flags else "",
                        facts=[
                            Fact("Changes this week", str(week_changes["changes"])),
                            Fact("New registrations", str(week_changes["registered"])),
                            Fact("Won / lost", f"{week_changes['won']} / {week_changes['lost']}"),
                            Fact("Open deals", str(len(deals))),
                            Fact("Stale", str(stale)),
                        ],
                    )
                )
            pictures = await charts_by_group(session, managed, now=now)
        images = {
            manager_id: await charts.png_b64_or_none(
                partial(charts.digest_chart, data, week_label=week_label)
            )
            for manager_id, data in pictures.items()
        }
        async with self.db.transaction() as session:
            for manager_id, sections in by_manager.items():
                sections.sort(key=lambda r: (not r.title or "⚑" not in r.title, r.title or ""))
                message_id = await nudge_queries.claim_slot(
                    session, person_id=manager_id, slot=slot, kind="digest", items=[], now=now
                )
                if message_id is None:
                    continue
                flagged = sum(1 for s in sections if s.title and "⚑" in s.title)
                await outbox.queue_for_person(
                    session,
                    key=f"digest:{manager_id}:{slot}",
                    person_id=manager_id,
                    reply=Reply(
                        title=f"Your partners this week ({week_label})",
                        text=f"{len(sections)} partner(s), {flagged} with red flags. "
                        "The chart shows their open pipeline by stage and the last 12 weeks.",
                        sections=sections,
                        image_png_b64=images.get(manager_id),
                    ),
                    kind="digest",
                    now=now,
                )
                queued += 1
        return queued
