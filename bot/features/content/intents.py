"""What people type about content: what's new for partners, publishing for staff."""

from __future__ import annotations

from bot.kernel.understanding.spec import PARTNER, STAFF, IntentSpec

CONTENT_INTENTS: tuple[IntentSpec, ...] = (
    IntentSpec(
        "content.new",
        (
            "has the updated <battlecard> been released",
            "is the <launch kit> available now?",
            "what's new",
            "anything new?",
            "new content",
            "latest materials",
            "any new sales decks for {product}",
            "what was published this week",
            "show me the newest assets",
            "new collateral?",
            "anything new for gold partners",
        ),
        slots=("product",),
        roles=PARTNER,
        confirm="Show what's new",
    ),
    IntentSpec(
        "staff.publish",
        (
            "publish {url} to gold partners",
            "share the new battlecard with {partner}: {url}",
            "publish the {product} launch deck {url} for all partners",
            "publish",
            "new content: pricing faq {url}",
            "send the q1 promo kit to silver partners {url}",
        ),
        slots=("url", "partner"),
        roles=STAFF,
        writes=True,
        confirm="Publish content",
    ),
    IntentSpec(
        "staff.content_stats",
        (
            "content stats",
            "content report",
            "content statistics",
            "who opened the new battlecard",
            "open rates for content",
            "how is our content doing",
            "stats for {cref}",
        ),
        roles=STAFF,
        confirm="Show content statistics",
    ),
)
