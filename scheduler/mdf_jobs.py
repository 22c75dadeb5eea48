"""The MDF reminder sweep. What is due lives in the database (approved requests' activity end dates and
claim deadlines) and what was sent in the ``mdf_reminders`` ledger, so a second run, a late run or a
replica running at the same time reminds nobody twice."""

from __future__ import annotations

from datetime import datetime

from bot.bootstrap import Core
from bot.features.mdf.service import build_mdf


async def remind_mdf(core: Core, now: datetime) -> str:
    """Remind partners 14 and 3 days before approved funds' activity ends unclaimed and before the
    claim window closes."""
    sent = await build_mdf(core).remind_due(now=now)
    return f"sent {len(sent)} MDF reminder(s)" + (f": {', '.join(sent)}" if sent else "")
