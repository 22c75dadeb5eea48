"""Nudges: keep deals (and later leads) fresh without nagging anyone.

The partner's time first:
- everything due for one person goes into one message, with the likely answers as one-click buttons;
- at most ``NudgePolicy.weekly_budget`` nudge messages per person in any 7 days, and at most one a day;
- quiet hours and weekends in the person's time zone defer (the next sweep asks again), never drop;
- snoozes per item and for everything ("remind me next week");
- nothing about an item updated since it became due: a due item's key carries the update it is due
  since, and any change to a deal marks the nudges about it answered;
- an item asked about ``silence_to_escalate`` times without an answer goes to the channel manager
  instead of pinging the partner again.

What is due is read from the database on every sweep, and the message row (unique per person and
day) is claimed with an insert that only one replica can win, so restarts and replicas lose and
duplicate nothing. The message itself goes out through the outbox, in the same transaction.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from statistics import mean, median
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.deals.service import OPEN_STATUSES, Deals, deal_ref
from bot.kernel.changes import RecordChanged
from bot.kernel.dates import format_date, to_local
from bot.kernel.errors import InputError, NotFound
from bot.kernel.messages import Actor, Button, Fact, Reply
from bot.kernel.metrics import METRICS
from store import nudge_queries, queries
from store.db import Database
from store.nudge_models import NudgeItem

log = logging.getLogger(__name__)

PERSON_BATCH = 200
MAX_SNOOZE_DAYS = 90  # "remind me next week" is 7; a button or a person asking for more gets a clear no


@dataclass(frozen=True, slots=True)
class NudgePolicy:
    """The rules of politeness. Every number is configurable (``PARTNERBOT_NUDGE_*``)."""

    weekly_budget: int = 2
    quiet_start: time = time(18, 0)
    quiet_end: time = time(8, 0)
    weekend: tuple[int, ...] = (5, 6)
    silence_to_escalate: int = 2
    ask_again_after: timedelta = timedelta(days=7)
    stale_days: dict[str, int] = field(
        default_factory=lambda: {
            "prospecting": 21,
            "qualification": 14,
            "proposal": 10,
            "negotiation": 7,
            "commit": 5,
        }
    )
    expiry_warnings: tuple[int, ...] = (14, 3)
    review_wait: timedelta = timedelta(days=2)
    lead_idle: timedelta = timedelta(days=7)

    @classmethod
    def from_settings(cls, extra: dict[str, str]) -> NudgePolicy:
        def number(name: str, default: int) -> int:
            raw = extra.get(name, "").strip()
            return int(raw) if raw else default

        def clock_time(name: str, default: time) -> time:
            raw = extra.get(name, "").strip()
            return time.fromisoformat(raw) if raw else default

        return cls(
            weekly_budget=number("PARTNERBOT_NUDGE_WEEKLY_BUDGET", 2),
            quiet_start=clock_time("PARTNERBOT_NUDGE_QUIET_START", time(18, 0)),
            quiet_end=clock_time("PARTNERBOT_NUDGE_QUIET_END", time(8, 0)),
            silence_to_escalate=number("PARTNERBOT_NUDGE_SILENCE_TO_ESCALATE", 2),
        )

    def quiet(self, local: datetime) -> bool:
        if local.weekday() in self.weekend:
            return True
        now = local.time()
        if self.quiet_start <= self.quiet_end:
            return self.quiet_start <= now < self.quiet_end
        return now >= self.quiet_start or now < self.quiet_end


@dataclass(frozen=True, slots=True)
class DueItem:
    """Something one person should look at. ``key`` identifies this due-ness (it changes when the item
    is updated); ``escalate_to`` is who hears about it after repeated silence."""

    person_id: int
    key: str
    ref: str
    kind: str
    line: str
    buttons: tuple[Button, ...]
    escalate_to: int | None = None


class NudgeSource(Protocol):
    """Finds due items (deals here; leads and others plug in the same way)."""

    async def due(self, session: AsyncSession, *, now: datetime, policy: NudgePolicy) -> list[DueItem]: ...


def _deal_buttons(ref: str, *, kind: str) -> tuple[Button, ...]:
    data = {"ref": ref}
    push = Button(
        "Push close date 30 days",
        "nudge.push",
        data,
        style="primary" if kind == "close_passed" else "default",
    )
    if kind == "expiring":
        return (
            Button("Ask for extension", "deal.extend", data, style="primary"),
            Button("Won", "nudge.won", data),
            Button("Lost", "deal.lost", data),
        )
    return (
        Button("Still on track", "nudge.on_track", data, style="primary" if kind == "stale" else "default"),
        push,
        Button("Won", "nudge.won", data),
        Button("Lost", "deal.lost", data),
        Button("Update…", "deal.update", data),
    )


class DealNudges:
    """Stale deals per stage, close dates passed, protections ending soon (partners); registrations
    waiting too long for a decision (approvers)."""

    async def due(self, session: AsyncSession, *, now: datetime, policy: NudgePolicy) -> list[DueItem]:
        managers = await nudge_queries.channel_managers(session)
        items: list[DueItem] = []
        today = now.date()
        seen: set[tuple[int, str]] = set()

        def add(row: Any, kind: str, key: str, line: str) -> None:
            ref = deal_ref(row.number)
            if (row.registered_by_id, ref) in seen:
                return  # one line per deal: the first reason found is the most urgent
            seen.add((row.registered_by_id, ref))
            items.append(
                DueItem(
                    person_id=row.registered_by_id,
                    key=key,
                    ref=ref,
                    kind=kind,
                    line=line,
                    buttons=_deal_buttons(ref, kind=kind),
                    escalate_to=managers.get(row.partner_id),
                )
            )

        for days in sorted(policy.expiry_warnings):
            for row in await nudge_queries.protection_ending_on(session, days=[today + timedelta(days=days)]):
                add(
                    row,
                    "expiring",
                    f"deal:{row.number}:expiring:{days}",
                    f"{deal_ref(row.number)} · {row.customer}: protection ends {format_date(row.protection_until)} "
                    f"(in {days} days)",
                )
        for row in await nudge_queries.close_date_passed(session, today=today, statuses=OPEN_STATUSES):
            add(
                row,
                "close_passed",
                f"deal:{row.number}:close:{row.close_date.isoformat()}:{row.updated_at.isoformat()}",
                f"{deal_ref(row.number)} · {row.customer}: the close date {format_date(row.close_date)} has passed",
            )
        for stage, days in policy.stale_days.items():
            cutoff = now - timedelta(days=days)
            for row in await nudge_queries.stale_deals(
                session, stage=stage, updated_before=cutoff, statuses=OPEN_STATUSES
            ):
                idle = (now - row.updated_at).days
                add(
                    row,
                    "stale",
                    f"deal:{row.number}:stale:{row.updated_at.isoformat()}",
                    f"{deal_ref(row.number)} · {row.customer}: no update for {idle} days ({stage})",
                )
        waiting = await nudge_queries.waiting_for_review(session, updated_before=now - policy.review_wait)
        if waiting:
            for approver in await queries.staff_with_role(session, "approver"):
                for row in waiting:
                    ref = deal_ref(row.number)
                    items.append(
                        DueItem(
                            person_id=approver.id,
                            key=f"review:{row.number}:{row.updated_at.isoformat()}",
                            ref=ref,
                            kind="review_waiting",
                            line=f"{ref} · {row.customer}: waiting for a decision for {(now - row.updated_at).days} days"
                            + (" (possible conflict)" if row.in_conflict else ""),
                            buttons=(Button("Open", "deal.show", {"ref": ref}, style="primary"),),
                        )
                    )
        return items


LEAD_WORKING_STATUSES = ("accepted", "contacted", "qualified")


class LeadNudges:
    """Leads a partner accepted and then left without progress for ``NudgePolicy.lead_idle``.
    (Leads not accepted in their window are the lead service's: ``expire_lead_offers`` hands them on.)"""

    async def due(self, session: AsyncSession, *, now: datetime, policy: NudgePolicy) -> list[DueItem]:
        managers = await nudge_queries.channel_managers(session)
        items = []
        for row in await nudge_queries.idle_leads(
            session, updated_before=now - policy.lead_idle, statuses=LEAD_WORKING_STATUSES
        ):
            ref = f"L-{row.number}"
            data = {"ref": ref}
            next_steps = {
                "accepted": ("Contacted", "contacted"),
                "contacted": ("Qualified", "qualified"),
                "qualified": ("Convert to deal", None),
            }[row.status]
            first = (
                Button(next_steps[0], "nudge.lead", {**data, "status": next_steps[1]}, style="primary")
                if next_steps[1]
                else Button(next_steps[0], "lead.convert", data, style="primary")
            )
            buttons = [first]
            if row.status == "accepted":
                buttons.append(Button("Qualified", "nudge.lead", {**data, "status": "qualified"}))
            buttons.append(Button("Disqualified…", "lead.status", {**data, "status": "disqualified"}))
            items.append(
                DueItem(
                    person_id=row.accepted_by,
                    key=f"lead:{row.number}:idle:{row.updated_at.isoformat()}",
                    ref=ref,
                    kind="lead_idle",
                    line=f"{ref} · {row.company}: {row.status}, no update for {(now - row.updated_at).days} days",
                    buttons=tuple(buttons),
                    escalate_to=managers.get(row.partner_id),
                )
            )
        return items


@dataclass(slots=True)
class SweepReport:
    messages: int = 0
    items: int = 0
    deferred_quiet: int = 0
    deferred_budget: int = 0
    escalated: int = 0
    snoozed: int = 0
    waiting: int = 0

    def __str__(self) -> str:
        return (
            f"{self.messages} message(s) with {self.items} item(s); deferred {self.deferred_quiet} (quiet hours) "
            f"and {self.deferred_budget} (weekly budget); {self.escalated} escalated; {self.snoozed} snoozed; "
            f"{self.waiting} waiting for an answer"
        )


def render_message(person_name: str, items: Sequence[dict[str, Any]], *, message_id: int) -> Reply:
    """The batched nudge; recorded outcomes replace an item's buttons (so the message updates in place)."""
    sections = []
    for item in items:
        if item.get("outcome"):
            sections.append(Reply(text=f"✓ {item['line']} — {item['outcome']}", ref=item["ref"]))
        else:
            buttons = [
                Button(b["label"], b["action"], {**b["data"], "msg": str(message_id)}, style=b["style"])
                for b in item["buttons"]
            ]
            sections.append(Reply(text=item["line"], buttons=buttons, ref=item["ref"]))
    open_items = sum(1 for i in items if not i.get("outcome"))
    first = person_name.split()[0] if person_name else "there"
    if open_items:
        title = f"Hi {first}, {open_items} quick update{'s' if open_items != 1 else ''} would help"
        text = "One click each keeps the pipeline current."
        buttons = [Button("Remind me next week", "nudge.snooze", {"msg": str(message_id), "days": "7"})]
    else:
        title = f"Thanks, {first} — all done"
        text = "Everything here is recorded."
        buttons = []
    return Reply(
        title=title, text=text, sections=sections, buttons=buttons, replace_key=f"nudge:{message_id}"
    )


def _item_dict(item: DueItem) -> dict[str, Any]:
    return {
        "key": item.key,
        "ref": item.ref,
        "kind": item.kind,
        "line": item.line,
        "buttons": [
            {"label": b.label, "action": b.action, "data": dict(b.data), "style": b.style}
            for b in item.buttons
        ],
    }


class Nudges:
    def __init__(
        self,
        *,
        db: Database,
        deals: Deals,
        clock: Callable[[], datetime],
        policy: NudgePolicy | None = None,
        default_tz: str = "UTC",
        sources: Sequence[NudgeSource] = (),
    ) -> None:
        self.db = db
        self.deals = deals
        self.clock = clock
        self.policy = policy or NudgePolicy()
        self.default_tz = default_tz
        self.sources: list[NudgeSource] = [DealNudges(), LeadNudges(), *sources]

    async def record_changed(self, session: AsyncSession, event: RecordChanged) -> None:
        """Any change to a record answers the nudges about it: nobody is asked about what they just did
        (subscribed to the change log in the composition root)."""
        await nudge_queries.mark_answered(session, ref=event.ref, now=event.at, outcome=event.action)

    def _local(self, now: datetime, tz: str | None) -> datetime:
        return to_local(now, tz or self.default_tz)

    # -- the sweep ------------------------------------------------------------------------------

    async def sweep(self, *, now: datetime) -> SweepReport:
        report = SweepReport()
        async with self.db.transaction() as session:
            due: list[DueItem] = []
            for source in self.sources:
                due += await source.due(session, now=now, policy=self.policy)
            recipients = sorted({i.person_id for i in due})
            people = await nudge_queries.people_info(
                session, recipients + [i.escalate_to for i in due if i.escalate_to]
            )
            snoozes = await nudge_queries.active_snoozes(session, recipients, now)
            ledger = await nudge_queries.ledger(session, [(i.person_id, i.key) for i in due])
            recent = await nudge_queries.messages_since(session, recipients, now - timedelta(days=7))

        batches: dict[int, list[DueItem]] = defaultdict(list)
        reasks: dict[tuple[int, str], NudgeItem] = {}
        escalations: list[tuple[DueItem, NudgeItem]] = []
        for item in due:
            person = people.get(item.person_id)
            if person is None or not person.active:
                continue
            if item.ref in snoozes.get(item.person_id, ()) or "*" in snoozes.get(item.person_id, ()):
                report.snoozed += 1
                continue
            row = ledger.get((item.person_id, item.key))
            if row is not None and row.answered_at is not None:
                reasks[(item.person_id, item.key)] = row  # answered (e.g. snoozed) and due again
            elif row is not None:
                if row.escalated_at is not None or now - row.last_nudged_at < self.policy.ask_again_after:
                    report.waiting += 1
                    continue
                if row.times_nudged >= self.policy.silence_to_escalate and item.escalate_to:
                    escalations.append((item, row))
                    continue
                reasks[(item.person_id, item.key)] = row
            batches[item.person_id].append(item)

        for item, row in escalations:
            partner_person = people[item.person_id]
            batches[item.escalate_to or 0].append(
                DueItem(
                    person_id=item.escalate_to or 0,
                    key=f"escalation:{item.key}",
                    ref=item.ref,
                    kind="escalation",
                    line=f"{partner_person.name} hasn't answered {row.times_nudged} reminders about {item.line}",
                    buttons=(Button("Open", "deal.show", {"ref": item.ref}, style="primary"),),
                )
            )

        ready: list[tuple[int, list[DueItem]]] = []
        for person_id, items in batches.items():
            person = people.get(person_id)
            if person is None:
                continue
            if self.policy.quiet(self._local(now, person.tz)):
                report.deferred_quiet += 1
                continue
            if recent.get(person_id, 0) >= self.policy.weekly_budget:
                report.deferred_budget += 1
                continue
            ready.append((person_id, items))

        for start in range(0, len(ready), PERSON_BATCH):
            async with self.db.transaction() as session:
                sent = await self._send(
                    session,
                    batch=ready[start : start + PERSON_BATCH],
                    people=people,
                    now=now,
                    reasks=reasks,
                    escalations=escalations,
                )
            for items in sent:
                report.messages += 1
                report.items += len(items)
                report.escalated += sum(1 for i in items if i.kind == "escalation")
        METRICS.nudges(
            sent=report.messages, deferred_quiet=report.deferred_quiet, deferred_budget=report.deferred_budget
        )
        return report

    async def _send(
        self,
        session: AsyncSession,
        *,
        batch: Sequence[tuple[int, list[DueItem]]],
        people: dict[int, Any],
        now: datetime,
        reasks: dict[tuple[int, str], NudgeItem],
        escalations: list[tuple[DueItem, NudgeItem]],
    ) -> list[list[DueItem]]:
        """One message per person of ``batch`` whose slot for today this process claims (another
        replica, or an earlier run today, may have it already); the items of the messages sent.

        In bulk, for a sweep over a million deals: the slots in multi-row inserts, the new ledger rows
        and the outbox rows (what :func:`bot.kernel.outbox.queue_for_person` would queue, one by one) each in
        one executemany."""
        payloads = {person_id: [_item_dict(i) for i in items] for person_id, items in batch}
        claimed = await nudge_queries.claim_slots(
            session,
            slots=[
                (person_id, self._local(now, people[person_id].tz).date().isoformat(), payloads[person_id])
                for person_id, _ in batch
            ],
            kind="nudge",
            now=now,
        )
        sent: list[list[DueItem]] = []
        new_rows: list[dict[str, Any]] = []
        messages: list[dict[str, Any]] = []
        for person_id, items in batch:
            message_id = claimed.get(person_id)
            if message_id is None:
                continue  # another replica (or an earlier run today) nudged this person already
            for item in items:
                earlier = reasks.get((person_id, item.key))
                if earlier is not None:
                    row = await session.get(NudgeItem, earlier.id)
                    if row is not None:
                        # An answer (a snooze, say) resets the silence count; otherwise one more ask.
                        row.times_nudged = 1 if row.answered_at is not None else row.times_nudged + 1
                        row.answered_at = None
                        row.outcome = None
                        row.last_nudged_at = now
                        row.message_id = message_id
                    continue
                new_rows.append(
                    {
                        "person_id": person_id,
                        "item_key": item.key,
                        "ref": item.ref,
                        "kind": item.kind,
                        "message_id": message_id,
                        "first_nudged_at": now,
                        "last_nudged_at": now,
                        "times_nudged": 1,
                    }
                )
                if item.kind == "escalation":
                    for original, row in escalations:
                        if f"escalation:{original.key}" == item.key:
                            escalated = await session.get(NudgeItem, row.id)
                            if escalated is not None:
                                escalated.escalated_at = now
            reply = render_message(people[person_id].name, payloads[person_id], message_id=message_id)
            messages.append(
                {
                    "idempotency_key": f"nudge:{message_id}",
                    "recipient_kind": "person",
                    "recipient_id": person_id,
                    "kind": "nudge",
                    "payload": reply.to_dict(),
                    "replace_key": reply.replace_key,
                }
            )
            sent.append(items)
        await nudge_queries.add_items(session, new_rows)
        await nudge_queries.queue_messages(session, messages, now=now)
        return sent

    # -- one click ------------------------------------------------------------------------------

    async def record(self, actor: Actor, *, message_id: int, ref: str | None, outcome: str) -> Reply | None:
        """Mark an item (or, with ``ref`` None, every open item) of a nudge message as answered and
        return the message re-rendered, to replace the one clicked."""
        now = self.clock()
        async with self.db.transaction() as session:
            message = await nudge_queries.message(session, message_id)
            if message is None or message.person_id != actor.person_id:
                return None
            items = [dict(i) for i in message.items]
            for item in items:
                if not item.get("outcome") and (ref is None or item["ref"] == ref):
                    item["outcome"] = outcome
            message.items = items
            if all(i.get("outcome") for i in items):
                message.answered_at = now
            for item in items:
                if ref is None or item["ref"] == ref:
                    await nudge_queries.mark_answered(session, ref=item["ref"], now=now, outcome=outcome)
            person = await queries.person_by_id(session, actor.person_id)
            return render_message(person.name if person else actor.name, items, message_id=message_id)

    async def snooze(self, actor: Actor, *, ref: str | None, days: int) -> datetime:
        """Hold reminders about ``ref`` (None: all of them) for ``days``, 1 to :data:`MAX_SNOOZE_DAYS`."""
        if not 1 <= days <= MAX_SNOOZE_DAYS:
            raise InputError("days", f"A reminder can be snoozed for 1 to {MAX_SNOOZE_DAYS} days.")
        until = self.clock() + timedelta(days=days)
        async with self.db.transaction() as session:
            await nudge_queries.set_snooze(session, person_id=actor.person_id, ref=ref or "*", until=until)
        return until

    # -- numbers --------------------------------------------------------------------------------

    async def stats(self, actor: Actor, *, now: datetime | None = None, days: int = 28) -> Reply:
        """Nudges sent per person per week, the share answered within 48 hours, and staleness."""
        if not actor.is_staff:
            raise NotFound("Nudge numbers are for vendor staff.")
        now = now or self.clock()
        since = now - timedelta(days=days)
        weeks = days / 7
        async with self.db.transaction() as session:
            counts = await nudge_queries.message_counts_since(session, since)
            rows = await nudge_queries.nudge_rows_since(session, since)
            ages = await nudge_queries.open_deal_ages(session, OPEN_STATUSES)
        per_week = [n / weeks for _, _, n in counts]
        answered = [
            r
            for r in rows
            if r.answered_at is not None and r.answered_at - r.last_nudged_at <= timedelta(hours=48)
        ]
        share = len(answered) / len(rows) if rows else 0.0
        idle_days = [(now - r.updated_at).total_seconds() / 86400 for r in ages]
        stale = sum(1 for r in ages if (now - r.updated_at).days >= self.policy.stale_days.get(r.stage, 14))
        facts = [
            Fact("People nudged", str(len(counts))),
            Fact(
                "Nudges per person per week",
                f"avg {mean(per_week):.1f}, max {max(per_week):.1f}" if per_week else "none",
            ),
            Fact("Answered within 48 h", f"{share:.0%} of {len(rows)} item(s)"),
            Fact("Open deals", str(len(ages))),
            Fact(
                "Days since last update",
                f"median {median(idle_days):.0f}, max {max(idle_days):.0f}" if idle_days else "—",
            ),
            Fact("Stale deals", f"{stale} ({stale / len(ages):.0%})" if ages else "0"),
        ]
        top = sorted(counts, key=lambda c: -c[2])[:5]
        text = (
            "Most nudged: " + ", ".join(f"{name} ({n})" for _, name, n in top) if top else "No nudges sent."
        )
        return Reply(title=f"Nudges over the last {days} days", text=text, facts=facts)
