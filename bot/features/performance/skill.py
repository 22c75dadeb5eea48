"""Performance in the conversation: a partner's own scorecard ("how am I doing?"), the partners lagging
and one partner's scorecard with a chart (staff). What people type is read by the understanding layer
into the intents of :mod:`bot.features.performance.intents`, whose parser reads the period ("last 30
days") and the partner named; figures, medians and permissions come from
:mod:`bot.features.performance.service`; this module lays out the reply.
"""

from __future__ import annotations

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
from bot.kernel.skills import STALE_BUTTON, Dialog, stale_form
from bot.kernel.understanding.spec import Reading

if TYPE_CHECKING:
    from collections.abc import Mapping
    from decimal import Decimal


MAX_LAGGARDS = 25


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
        """Act on a reading of the understanding layer (:mod:`bot.features.performance.intents`): the
        period and the partner come from its slots."""
        if reading.get("about_record"):
            return None  # "performance of D-12" is about the deal: left to the rest of the conversation
        days = reading.get("days") or DEFAULT_DAYS
        if reading.intent == "staff.lagging":
            return await self._laggards(actor, days)
        if reading.intent == "staff.pipeline":
            return await self._pipeline(
                actor, reading.get("partner") or reading.get("named"), reading.get("quarter")
            )
        if reading.intent not in ("scorecard.self", "staff.scorecard"):
            return None
        named = reading.get("partner") or reading.get("named")
        if named:  # the service answers a partner asking for another's as if there were none
            return await self._scorecard(actor, str(named), days)
        return self._per_partner(days) if actor.is_staff else await self._scorecard(actor, None, days)

    async def continue_dialog(self, actor: Actor, dialog: Dialog, text: str) -> list[Reply] | None:
        return None

    async def on_action(self, actor: Actor, action: str, data: dict[str, str]) -> list[Reply]:
        days = carried_number(data.get("days"), default=DEFAULT_DAYS) or 0
        if action == "performance.show":
            return await self._scorecard(actor, data.get("partner") or None, days)
        if action == "performance.laggards":
            return await self._laggards(actor, days)
        if action == "performance.pipeline":
            return await self._pipeline(actor, data.get("partner") or None, None)
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
                Button("Pipeline", "performance.pipeline", {"partner": card.partner}),
                Button("Who is lagging?", "performance.laggards", {"days": str(card.days)}),
            ]
            if card.chart is not None:
                reply.image_png_b64 = await charts.png_b64_or_none(
                    partial(charts.scorecard_chart, card.chart, partner=card.partner, days=card.days)
                )
        return [reply]

    async def _pipeline(self, actor: Actor, partner: str | None, quarter: str | None) -> list[Reply]:
        try:
            pipeline = await self.performance.pipeline(actor, partner, quarter)
        except AmbiguousPartner as exc:
            return [Reply(text=str(exc))]
        closing = f" · closing in {pipeline.quarter}" if pipeline.quarter else ""
        title = f"Open pipeline by partner{closing}"
        if not pipeline.partners:
            return [Reply(title=title, text="No open deals.")]
        return [
            Reply(
                title=title,
                facts=[
                    Fact(
                        row.partner, f"{_money(row.value)} in {row.deals} deal{'s' if row.deals != 1 else ''}"
                    )
                    for row in pipeline.partners
                ],
                buttons=[
                    Button(f"Scorecard {row.partner}", "performance.show", {"partner": row.partner})
                    for row in pipeline.partners[:5]
                ],
            )
        ]

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
