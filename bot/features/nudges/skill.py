"""The one-click answers in a nudge message: each records the answer through the deal service and
returns the nudge re-rendered (same ``replace_key``) so the message updates in place."""

from __future__ import annotations

from bot.features.deals.service import Deals
from bot.features.leads.service import Leads
from bot.features.nudges.service import Nudges
from bot.kernel.errors import InputError
from bot.kernel.messages import Actor, FormResult, Reply
from bot.kernel.numbers import carried_number
from bot.kernel.skills import STALE_BUTTON, Dialog, stale_form

PUSH_DAYS = 30


class NudgeSkill:
    prefix = "nudge"

    def __init__(self, *, nudges: Nudges, deals: Deals, leads: Leads | None = None) -> None:
        self.nudges = nudges
        self.deals = deals
        self.leads = leads

    def help_lines(self, actor: Actor) -> list[str]:
        return (
            ["nudge stats - how often people are nudged and how fast they answer"] if actor.is_staff else []
        )

    async def on_text(self, actor: Actor, text: str) -> list[Reply] | None:
        lowered = text.lower().strip(" ?!.")
        if actor.is_staff and lowered in ("nudge stats", "nudges", "nudge numbers", "staleness"):
            return [await self.nudges.stats(actor)]
        if lowered in ("remind me next week", "snooze", "snooze everything", "not now"):
            until = await self.nudges.snooze(actor, ref=None, days=7)
            return [Reply(text=f"Got it — no reminders from me until {until:%d %b}.")]
        return None

    async def continue_dialog(self, actor: Actor, dialog: Dialog, text: str) -> list[Reply] | None:
        return None

    async def on_action(self, actor: Actor, action: str, data: dict[str, str]) -> list[Reply]:
        ref = data.get("ref")
        message_id = carried_number(data.get("msg"), default=None)
        if action == "nudge.snooze":
            days = carried_number(data.get("days"), default=7) or 0
            until = await self.nudges.snooze(actor, ref=ref, days=days)
            outcome = f"snoozed until {until:%d %b}"
        elif action == "nudge.on_track" and ref:
            await self.deals.confirm_on_track(actor, ref)
            outcome = "still on track"
        elif action == "nudge.push" and ref:
            view = await self.deals.push_close_date(actor, ref, days=PUSH_DAYS)
            outcome = f"close date moved to {view.close_date:%d %b %Y}"
        elif action == "nudge.lead" and ref and self.leads is not None:
            lead = await self.leads.set_status(actor, ref, data.get("status", ""))
            outcome = f"marked {lead.status}"
        elif action == "nudge.won" and ref:
            await self.deals.close(actor, ref, won=True)
            outcome = "won — congratulations!"
        else:
            raise InputError("action", STALE_BUTTON)
        if message_id is not None:
            updated = await self.nudges.record(actor, message_id=message_id, ref=ref, outcome=outcome)
            if updated is not None:
                return [updated]
        return [Reply(text=f"Recorded: {ref + ' ' if ref else ''}{outcome}.")]

    async def on_form(
        self, actor: Actor, form_id: str, values: dict[str, str], data: dict[str, str]
    ) -> FormResult:
        return stale_form()

    async def home(self, actor: Actor) -> list[Reply]:
        return []
