"""What people type about how partners are doing: scorecards and red flags."""

from __future__ import annotations

from bot.kernel.understanding.spec import PARTNER, STAFF, IntentSpec

PERFORMANCE_INTENTS: tuple[IntentSpec, ...] = (
    IntentSpec(
        "scorecard.self",
        (
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
        ),
        slots=("quarter",),
        roles=PARTNER,
        confirm="Show our scorecard",
    ),
    IntentSpec(
        "staff.scorecard",
        (
            "{partner} stats last quarter",
            "how is {partner} doing",
            "{partner} performance numbers",
            "scorecard for {partner}",
            "how is {partner} doing",
            "{partner} scorecard",
            "{partner} win rate",
            "show me {partner}'s numbers for {quarter}",
            "performance of {partner}",
        ),
        slots=("partner", "quarter"),
        roles=STAFF,
        confirm="Show a scorecard",
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
    ),
    IntentSpec(
        "staff.pipeline",
        (
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
