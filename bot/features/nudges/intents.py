"""What people type about reminders: staff ask for the numbers; anyone may hold their reminders."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from bot.features.nudges.service import MAX_SNOOZE_DAYS
from bot.kernel.understanding.slots import SlotContext
from bot.kernel.understanding.spec import BOTH, STAFF, IntentSpec

# A number of days or weeks too long for the days finder to read ("remind me in 99999999999 days").
_TOO_LONG_RE = re.compile(r"\b\d{4,}\s*(?:days?|d|weeks?|wks?|w)\b", re.IGNORECASE)


def snooze_slots(ctx: SlotContext) -> dict[str, Any]:
    """How long to hold the reminders when the message says so other than as a number of days: until a
    day ("snooze till monday", "remind me in 200 days", which the date finder reads), or for longer
    than the days finder reads - never a week instead of what was asked."""
    if ctx.entities.first("days") is not None:
        return {}
    until = next((s.value for s in ctx.entities.of("date") if isinstance(s.value, date)), None)
    if until is not None:
        return {"days": (until - ctx.today).days}
    if _TOO_LONG_RE.search(ctx.text):
        return {"invalid:days": f"A reminder can be snoozed for 1 to {MAX_SNOOZE_DAYS} days."}
    return {}


NUDGE_INTENTS: tuple[IntentSpec, ...] = (
    IntentSpec(
        "staff.nudge_stats",
        (
            "are we reminding partners too often?",
            "how often do we remind people",
            "reminder stats for the last {days}",
            "nudge stats",
            "nudges",
            "nudge numbers",
            "how many reminders did we send",
            "reminder statistics",
            "nudges last {days}",
            "who ignores reminders",
            "answer rate for nudges",
            "staleness",
        ),
        slots=("days",),
        roles=STAFF,
        confirm="Show nudge statistics",
    ),
    IntentSpec(
        "nudge.snooze",
        (
            "snooze",
            "snooze everything",
            "snooze all reminders",
            "snooze reminders for {days}",
            "remind me next week",
            "not now",
            "not now, remind me later",
            "no reminders for {days} please",
            "pause my reminders",
            "no more nudges this week",
            "hold the reminders until {date}",
            "mute reminders for {days}",
        ),
        slots=("days",),
        roles=BOTH,
        writes=True,
        confirm="Hold all my reminders",
        parse=snooze_slots,
    ),
)
