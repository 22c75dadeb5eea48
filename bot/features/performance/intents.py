"""What people type about how partners are doing: scorecards and red flags."""

from __future__ import annotations

import re
from typing import Any

from bot.kernel.understanding.slots import SlotContext, free_name, name_after
from bot.kernel.understanding.spec import PARTNER, STAFF, IntentSpec

UNIT_DAYS = {"d": 1, "day": 1, "w": 7, "wk": 7, "week": 7, "m": 30, "mo": 30, "month": 30, "quarter": 91,
             "year": 365}  # fmt: skip
PERIOD_RE = re.compile(
    r"[\s,]*(?:(?:over|for|in|during)\s+)?(?:the\s+)?(?:(?:last|past)\s+(?P<n>\d{1,3})?\s*|over\s+(?P<m>\d{1,3})\s*)"
    r"(?P<unit>days?|d|weeks?|wks?|w|months?|mos?|m|quarters?|years?)\s*[?.!]*\s*$",
    re.I,
)
# "acme's scorecard", "show me acme corp's numbers" (the first word of a name is none of the request's)
_POSSESSIVE_RE = re.compile(
    r"(?P<name>\b(?!(?:me|us|the|show|give|get|see|pull)\b)[^\W\d][\w&.-]*(?:\s+[^\W\d][\w&.-]*)?)'s\s+"
    r"(?:scorecard|numbers|performance|stats)",
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


def scorecard_slots(ctx: SlotContext) -> dict[str, Any]:
    """The period a scorecard or the laggards cover (``days``: "last 30 days", "past 6 weeks", "last
    quarter"), and the partner as typed when the name finder found none of those the person may see
    (``named``: "scorecard for Acme", "acme's scorecard") - the performance service says whether there is
    one. Only a staff scorecard takes a name typed anywhere else in the message. ``about_record``: the
    message names a deal, lead, question or MDF request, which no scorecard is about."""
    words, days = split_period(ctx.text)
    # a reference says the message is about that record ("performance of D-12"), not about a partner
    found: dict[str, Any] = {"days": days, "about_record": bool(ctx.entities.refs())}
    if ctx.intent == "staff.lagging" or ctx.entities.of("partner"):
        return found
    words, _ = split_period(ctx.entities.without("quarter", "date", "amount", "ref"))
    possessive = _POSSESSIVE_RE.search(words)
    named = name_after(words) or (possessive.group("name").strip() if possessive else None)
    if named:
        found["named"] = named
    elif ctx.intent == "staff.scorecard":
        found["named"] = free_name(ctx, labels=("partner",))
    return found


PERFORMANCE_INTENTS: tuple[IntentSpec, ...] = (
    IntentSpec(
        "scorecard.self",
        (
            "show me our conversion rate for this year",
            "how do we compare with other partners",
            "am i behind on my numbers",
            "show our partner scorecard numbers",
            "are we doing worse than other partners",
            "how are we performing",
            "how am i doing",
            "how are we doing",
            "my scorecard",
            "our scorecard for {quarter}",
            "how are we tracking",
            "our numbers",
            "how did we do last quarter",
            "our win rate",
            "show our performance",
            "scorecard for {partner}",
        ),
        slots=("quarter", "partner"),
        roles=PARTNER,
        confirm="Show our scorecard",
        parse=scorecard_slots,
    ),
    IntentSpec(
        "staff.scorecard",
        (
            "win rate for {partner}",
            "{partner} lead acceptance",
            "acceptance rate of {partner}",
            "{partner} stats last quarter",
            "how is {partner} doing",
            "{partner} performance numbers",
            "scorecard for {partner}",
            "how is {partner} doing",
            "{partner} scorecard",
            "{partner} win rate",
            "show me {partner}'s numbers for {quarter}",
            "performance of {partner}",
            "scorecard {partner} past {days}",
        ),
        slots=("partner", "quarter"),
        roles=STAFF,
        confirm="Show a scorecard",
        parse=scorecard_slots,
    ),
    IntentSpec(
        "staff.lagging",
        (
            "who is dragging their feet on leads",
            "which partners are falling behind on leads",
            "partners that need a push",
            "who is lagging",
            "which partners are behind",
            "laggards",
            "red flags",
            "partners with red flags this quarter",
            "who's falling behind",
            "underperforming partners",
        ),
        slots=("quarter",),
        roles=STAFF,
        confirm="Show partners lagging",
        parse=scorecard_slots,
    ),
    IntentSpec(
        "staff.pipeline",
        (
            "{partner} forecast for {quarter}",
            "forecast by partner",
            "what's forecast to close in {quarter}",
            "total open pipe in {quarter}",
            "what does {partner} expect to close in {quarter}",
            "open pipeline across partners",
            "pipeline by partner",
            "open pipeline per partner",
            "total pipeline",
            "pipeline for {partner}",
            "how much pipeline does each partner have",
            "show me the pipe by partner",
        ),
        slots=("partner", "quarter"),
        roles=STAFF,
        confirm="Show the pipeline by partner",
    ),
)
