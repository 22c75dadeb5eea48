"""The question SLA sweep. What is due lives in the database (``questions.due_at``), so a second run, a
late run or a replica running at the same time escalates nothing twice."""

from __future__ import annotations

from datetime import datetime

from bot.bootstrap import Core
from bot.features.questions.service import build_questions


async def escalate_questions(core: Core, now: datetime) -> str:
    """Escalate questions unanswered past their SLA: to the channel manager, then the vendor channel."""
    escalated = await build_questions(core).escalate_due(now=now)
    return f"escalated {len(escalated)} question(s)" + (f": {', '.join(escalated)}" if escalated else "")
