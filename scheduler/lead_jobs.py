"""The lead sweep: offers whose acceptance window ended go to the next candidate.

What is due lives in the database (``leads.accept_by`` of offered leads), so a second run, a late run or
a second replica changes nothing twice (see :meth:`bot.features.leads.service.Leads.expire_due`).
"""

from __future__ import annotations

from datetime import datetime

from bot.bootstrap import Core
from bot.features.leads.service import leads_for


async def expire_lead_offers(core: Core, now: datetime) -> str:
    """Expire lead offers not accepted in time and offer each lead to the next eligible partner (or the
    staff review queue)."""
    moved = await leads_for(core).expire_due(now=now)
    return f"expired {len(moved)} lead offer(s)" + (f": {', '.join(moved)}" if moved else "")
