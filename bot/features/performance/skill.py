"""Performance in the conversation: "how am I doing?" (a partner's own scorecard), "who is lagging?" and
"scorecard for Acme [last 30 days]" (staff). Figures, medians and permissions come from
:mod:`bot.features.performance.service`; this module reads the words and lays out the reply.

What it claims, conservatively (whole messages only, so "how is the Globex deal doing?" stays the deal
dialog's): "how am I doing?", "how are we doing?", "my scorecard", "our performance", "scorecard",
"performance"; "who is lagging?", "laggards", "lagging partners", "red flags"; "scorecard for NAME",
"scorecard NAME", "performance of NAME" - each optionally followed by a period ("last 30 days",
"past 6 weeks", "last quarter", "over 60 days").
"""

from __future__ import annotations

import re
from functools import partial
from typing import TYPE_CHECKING

from bot.features.performance import charts
from bot.features.performance.intents import PERFORMANCE_INTENTS
from bot.features.performance.service import (
    DEFAULT_DAYS,
    AmbiguousPartner,
    Performance,
    Scorecard,
)
from bot.kernel.amounts import Money, format_money
from bot.kernel.dates import format_date
from bot.kernel.errors import InputError
from bot.kernel.messages import Actor, Button, Fact, FormResult, Reply
from bot.kernel.numbers import carried_number
from bot.kernel.refs import DEAL, LEAD, MDF_REQUEST, QUESTION, mention_any
from bot.kernel.skills import STALE_BUTTON, Dialog, stale_form
from bot.kernel.understanding.spec import Reading

if TYPE_CHECKING:
    from collections.abc import Mapping
    from decimal import Decimal


MAX_LAGGARDS = 25
UNIT_DAYS = {
    "d": 1,
    "day": 1,
    "w": 7,
    "wk": 7,
    "week": 7,
    "m": 30,
    "mo": 30,
    "month": 30,
    "quarter": 91,
    "year": 365,
}
PERIOD_RE = re.compile(
    r"[\s,]*(?:(?:over|for|in|during)\s+)?(?:the\s+)?(?:(?:last|past)\s+(?P<n>\d{1,3})?\s*|over\s+(?P<m>\d{1,3})\s*)"
    r"(?P<unit>days?|d|weeks?|wks?|w|months?|mos?|m|quarters?|years?)\s*[?.!]*\s*$",
    re.I,
)
OWN_RE = re.compile(
    r"^(?:how\s+am\s+i\s+doing|how\s+are\s+we\s+doing|how'?s\s+(?:my|our)\s+performance"
    r"|(?:show\s+(?:me\s+)?)?(?:my|our)\s+(?:scorecard|performance|numbers)"
    r"|scorecard|performance)\s*[?.!]*$",
    re.I,
)
LAGGARDS_RE = re.compile(
    r"^(?:who(?:'s|\s+is|\s+are)\s+lagging(?:\s+behind)?|(?:show\s+(?:me\s+)?)?(?:the\s+)?laggards"
    r"|lagging\s+partners|(?:partners\s+with\s+)?red\s+flags)\s*[?.!]*$",
    re.I,
)
OTHER_REF_RE = mention_any(loose=(DEAL, LEAD, QUESTION, MDF_REQUEST))
NAMED_RE = re.compile(
    r"^(?:show\s+(?:me\s+)?)?(?:the\s+)?(?:scorecard|performance)\s+(?:(?:for|of)\s+)?(?P<name>\S.*?)\s*[?.!]*$",
    re.I,
)


def split_period(text: str) -> tuple[str, int | None]:
    """("scorecard Northwind", 30) from "scorecard Northwind last 30 days"; (text, None) without one."""
    text = text.strip().replace("\u2019", "'")
    match = PERIOD_RE.search(text)
    if not match:
        return text, None
    unit = match.group("unit").lower().rstrip("s")
    number = int(match.group("n") or match.group("m") or 1)
    return text[: match.start()].strip(), number * UNIT_DAYS.get(unit, 1)


# -- presentation -------------------------------------------------------------------------------


def _money(values: Mapping[str, Decimal]) -> str:
    shown = [format_money(Money(v, c)) for c, v in sorted(values.items()) if v]
    return " + ".join(shown) if shown else "none"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _hours(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f} h" if value < 48 else f"{value / 24:.1f} days"


def _count(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def _facts(card: Scorecard) -> list[Fact]:
    m, med = card.metrics, card.medians

    def vs(text: str | None) -> str:
        return f" · {card.tier} median {text}" if text else ""

    def number(name: str) -> str:
        value = med.number(name)
        if value is None:
            return ""
        if name in ("approval_rate", "win_rate", "acceptance_rate", "stale_deal_share", "stale_lead_share"):
            return vs(_pct(value))
        if name == "hours_to_accept":
            return vs(_hours(value))
        return vs(_count(value))

    def amount(name: str, own: Mapping[str, Decimal]) -> str:
        medians = med.amounts.get(name, {})
        wanted = {c: v for c, v in medians.items() if c in own} or dict(medians)
        return vs(_money(wanted)) if wanted else ""

    ret = m.mdf_return
    return [
        Fact("Deals registered", f"{m.registered}{number('registered')}"),
        Fact(
            "Approval rate",
            (
                f"{_pct(m.approval_rate)} ({m.approved} of {m.decided} decided)"
                if m.decided
                else "— (none decided)"
            )
            + number("approval_rate"),
        ),
        Fact(
            "Win rate",
            (
                f"{_pct(m.win_rate)} ({m.won} of {m.won + m.lost} closed)"
                if m.won + m.lost
                else "— (none closed)"
            )
            + number("win_rate"),
        ),
        Fact(
            "Open pipeline",
            (
                f"{_money(m.pipeline)} in {m.open_deals} deal{'s' if m.open_deals != 1 else ''}"
                if m.open_deals
                else "none"
            )
            + amount("pipeline", m.pipeline),
        ),
        Fact("Won value", _money(m.won_value) + amount("won_value", m.won_value)),
        Fact(
            "Lead acceptance",
            (
                f"{_pct(m.acceptance_rate)} ({m.offers_accepted} of {m.offers_decided} offers)"
                if m.offers_decided
                else "— (no offers decided)"
            )
            + number("acceptance_rate"),
        ),
        Fact("Median time to accept", _hours(m.hours_to_accept) + number("hours_to_accept")),
        Fact(
            "Stale open deals",
            (
                f"{m.stale_deals} of {m.open_deals} ({_pct(m.stale_deal_share)})"
                if m.open_deals
                else "— (no open deals)"
            )
            + number("stale_deal_share"),
        ),
        Fact(
            "Stale leads",
            (
                f"{m.stale_leads} of {m.working_leads} ({_pct(m.stale_lead_share)})"
                if m.working_leads
                else "— (no leads being worked)"
            )
            + number("stale_lead_share"),
        ),
        Fact("Leads expired unaccepted", f"{m.expired_leads}{number('expired_leads')}"),
        Fact("MDF paid", _money(m.mdf_paid) + amount("mdf_paid", m.mdf_paid)),
        Fact(
            "Return on MDF",
            f"{ret.ratio}× won value per {ret.currency} of MDF" if ret.ratio is not None else ret.note,
        ),
    ]


def _flag_text(card: Scorecard) -> str:
    if not card.flags:
        return "No red flags."
    return "Red flags:\n" + "\n".join(f"• {flag.reason}" for flag in card.flags)


def _period_buttons(card: Scorecard) -> list[Button]:
    return [
        Button(f"Last {days} days", "performance.show", {"partner": card.partner, "days": str(days)})
        for days in (30, 90, 365)
        if days != card.days
    ]


# -- the skill ----------------------------------------------------------------------------------


class PerformanceSkill:
    """The :class:`bot.kernel.skills.Skill` for scorecards (``performance.*`` actions)."""

    prefix = "performance"
    intents = PERFORMANCE_INTENTS

    def __init__(self, *, performance: Performance) -> None:
        self.performance = performance

    def help_lines(self, actor: Actor) -> list[str]:
        if actor.is_staff:
            return [
                "who is lagging? - partners with red flags, worst first",
                "scorecard for Northwind [last 30 days] - one partner against its tier, with a chart",
            ]
        return ["how am I doing? / my scorecard last 30 days - your figures against your tier's median"]

    async def on_intent(self, actor: Actor, reading: Reading) -> list[Reply] | None:
        """Act on a reading of the understanding layer (:mod:`bot.features.performance.intents`)."""
        _, period = split_period(reading.text)
        days = period or DEFAULT_DAYS
        if reading.intent == "staff.lagging":
            return await self._laggards(actor, days)
        if reading.intent == "scorecard.self":
            return self._per_partner(days) if actor.is_staff else await self._scorecard(actor, None, days)
        if reading.intent == "staff.scorecard":
            if reading.get("partner"):
                return await self._scorecard(actor, reading.get("partner"), days)
            return await self.on_text(actor, reading.text)
        return None

    async def on_text(self, actor: Actor, text: str) -> list[Reply] | None:
        if OTHER_REF_RE.search(text):
            return None
        words, days = split_period(text)
        if LAGGARDS_RE.match(words):
            return await self._laggards(actor, days or DEFAULT_DAYS)
        if OWN_RE.match(words):
            if actor.is_staff:
                return self._per_partner(days or DEFAULT_DAYS)
            return await self._scorecard(actor, None, days or DEFAULT_DAYS)
        match = NAMED_RE.match(words)
        if match:
            return await self._scorecard(actor, match.group("name"), days or DEFAULT_DAYS)
        return None

    async def continue_dialog(self, actor: Actor, dialog: Dialog, text: str) -> list[Reply] | None:
        return None

    async def on_action(self, actor: Actor, action: str, data: dict[str, str]) -> list[Reply]:
        days = carried_number(data.get("days"), default=DEFAULT_DAYS) or 0
        if action == "performance.show":
            return await self._scorecard(actor, data.get("partner") or None, days)
        if action == "performance.laggards":
            return await self._laggards(actor, days)
        raise InputError("action", STALE_BUTTON)

    async def on_form(
        self, actor: Actor, form_id: str, values: dict[str, str], data: dict[str, str]
    ) -> FormResult:
        return stale_form()

    async def home(self, actor: Actor) -> list[Reply]:
        return []

    # -- replies -----------------------------------------------------------------------------

    def _per_partner(self, days: int) -> list[Reply]:
        """Staff asking for "my" scorecard: scorecards are per partner."""
        return [
            Reply(
                text="Scorecards are per partner: say 'scorecard for Northwind', or 'who is lagging?' "
                "for the partners with red flags.",
                buttons=[Button("Who is lagging?", "performance.laggards", {"days": str(days)})],
            )
        ]

    async def _scorecard(self, actor: Actor, name: str | None, days: int) -> list[Reply]:
        try:
            card = await self.performance.scorecard(actor, name, days=days)
        except AmbiguousPartner as exc:
            return [
                Reply(
                    text=str(exc),
                    buttons=[
                        Button(n, "performance.show", {"partner": n, "days": str(days)})
                        for n in exc.names[:10]
                    ],
                )
            ]
        reply = Reply(
            title=f"Scorecard · {card.partner} ({card.tier}) · last {card.days} days",
            text=f"{format_date(card.since.date())} – {format_date(card.until.date())}\n{_flag_text(card)}",
            facts=_facts(card),
        )
        if actor.is_staff:
            reply.buttons = _period_buttons(card) + [
                Button("Who is lagging?", "performance.laggards", {"days": str(card.days)})
            ]
            if card.chart is not None:
                reply.image_png_b64 = await charts.png_b64_or_none(
                    partial(charts.scorecard_chart, card.chart, partner=card.partner, days=card.days)
                )
        return [reply]

    async def _laggards(self, actor: Actor, days: int) -> list[Reply]:
        cards = await self.performance.laggards(actor, days=days)
        if not cards:
            return [Reply(title=f"Partners lagging · last {days} days", text="No partner has a red flag.")]
        shown = cards[:MAX_LAGGARDS]
        more = f" The first {MAX_LAGGARDS} are shown." if len(cards) > MAX_LAGGARDS else ""
        return [
            Reply(
                title=f"Partners lagging · last {days} days",
                text=f"{len(cards)} partner{'s' if len(cards) != 1 else ''} with red flags, worst first.{more}",
                sections=[
                    Reply(
                        title=f"{card.partner} ({card.tier})",
                        text="\n".join(f"• {flag.reason}" for flag in card.flags),
                        buttons=[
                            Button(
                                "Scorecard", "performance.show", {"partner": card.partner, "days": str(days)}
                            )
                        ],
                    )
                    for card in shown
                ],
            )
        ]
