"""The one-click answers in a nudge message: each records the answer through the deal service and
returns the nudge re-rendered (same ``replace_key``) so the message updates in place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.features.deals.service import Deals
from bot.features.leads.service import Leads
from bot.features.nudges.intents import NUDGE_INTENTS
from bot.features.nudges.service import Nudges
from bot.kernel.errors import InputError
from bot.kernel.messages import Actor, FormResult, Reply
from bot.kernel.numbers import carried_number
from bot.kernel.skills import STALE_BUTTON, Dialog, stale_form
from bot.kernel.understanding.spec import Reading

PUSH_DAYS = 30
SNOOZE_DAYS = 7  # "snooze", "not now", "remind me next week": every reminder, for a week
MAX_STATS_DAYS = 365


class NudgeSkill:
    prefix = "nudge"
    intents = NUDGE_INTENTS

    def __init__(self, *, nudges: Nudges, deals: Deals, leads: Leads | None = None) -> None:
        self.nudges = nudges
        self.deals = deals
        self.leads = leads

    def help_lines(self, actor: Actor) -> list[str]:
        snooze = "snooze / remind me next week - no reminders from me for a week ('snooze for 2 weeks')"
        if actor.is_staff:
            return ["nudge stats - how often people are nudged and how fast they answer", snooze]
        return [snooze]

    async def on_intent(self, actor: Actor, reading: Reading) -> list[Reply] | None:
        """Act on a reading of the understanding layer (:mod:`bot.features.nudges.intents`)."""
        if reading.intent == "staff.nudge_stats":  # for staff; a partner hears they are staff numbers
            days = reading.get("days")
            if days is not None and not 1 <= days <= MAX_STATS_DAYS:
                raise InputError("days", f"Nudge numbers cover 1 to {MAX_STATS_DAYS} days.")
            return [await self.nudges.stats(actor, **({"days": days} if days is not None else {}))]
        if reading.intent == "nudge.snooze":
            if reading.invalid.get("days"):
                return [Reply(text=reading.invalid["days"])]
            days = reading.get("days")
            until = await self.nudges.snooze(actor, ref=None, days=SNOOZE_DAYS if days is None else days)
            return [Reply(text=f"Got it — no reminders from me until {until:%d %b}.")]
        return None

    async def continue_dialog(self, actor: Actor, dialog: Dialog, text: str) -> list[Reply] | None:
        return None

    async def on_action(self, actor: Actor, action: str, data: dict[str, str]) -> list[Reply]:
        ref = data.get("ref")
        message_id = carried_number(data.get("msg"), default=None)
        answer = self._answers.get(action)
        if answer is None:
            raise InputError("action", STALE_BUTTON)
        outcome = await answer(actor, ref, data)
        if message_id is not None:
            updated = await self.nudges.record(actor, message_id=message_id, ref=ref, outcome=outcome)
            if updated is not None:
                return [updated]
        return [Reply(text=f"Recorded: {ref + ' ' if ref else ''}{outcome}.")]

    @property
    def _answers(self) -> dict[str, Callable[[Actor, str | None, dict[str, str]], Awaitable[str]]]:
        """Each one-click answer in a nudge, by action name; a handler records the answer and says
        what it did, for the re-rendered nudge."""
        return {
            "nudge.snooze": self._snooze_answer,
            "nudge.on_track": self._on_track_answer,
            "nudge.push": self._push_answer,
            "nudge.lead": self._lead_answer,
            "nudge.won": self._won_answer,
        }

    async def _snooze_answer(self, actor: Actor, ref: str | None, data: dict[str, str]) -> str:
        days = carried_number(data.get("days"), default=7) or 0
        until = await self.nudges.snooze(actor, ref=ref, days=days)
        return f"snoozed until {until:%d %b}"

    async def _on_track_answer(self, actor: Actor, ref: str | None, data: dict[str, str]) -> str:
        await self.deals.confirm_on_track(actor, _about_one(ref))
        return "still on track"

    async def _push_answer(self, actor: Actor, ref: str | None, data: dict[str, str]) -> str:
        view = await self.deals.push_close_date(actor, _about_one(ref), days=PUSH_DAYS)
        return f"close date moved to {view.close_date:%d %b %Y}"

    async def _lead_answer(self, actor: Actor, ref: str | None, data: dict[str, str]) -> str:
        if self.leads is None:
            raise InputError("action", STALE_BUTTON)
        lead = await self.leads.set_status(actor, _about_one(ref), data.get("status", ""))
        return f"marked {lead.status}"

    async def _won_answer(self, actor: Actor, ref: str | None, data: dict[str, str]) -> str:
        await self.deals.close(actor, _about_one(ref), won=True)
        return "won — congratulations!"

    async def on_form(
        self, actor: Actor, form_id: str, values: dict[str, str], data: dict[str, str]
    ) -> FormResult:
        return stale_form()

    async def home(self, actor: Actor) -> list[Reply]:
        return []


def _about_one(ref: str | None) -> str:
    """The deal or lead a nudge answer is about; an answer without one is a stale button."""
    if not ref:
        raise InputError("action", STALE_BUTTON)
    return ref
