"""What staff type about reminders."""

from __future__ import annotations

from bot.kernel.understanding.spec import STAFF, IntentSpec

NUDGE_INTENTS: tuple[IntentSpec, ...] = (
    IntentSpec(
        "staff.nudge_stats",
        (
            "are we reminding partners too often?",
            "how often do we remind people",
            "reminder stats for the last {days}",
            "nudge stats",
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
)
