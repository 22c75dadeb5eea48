"""What people type about content: what's new for partners, one item by its reference, publishing and
statistics for staff (their details are read in :mod:`bot.features.content.reading`)."""

from __future__ import annotations

from bot.features.content.reading import publish_slots, stats_slots
from bot.kernel.understanding.spec import PARTNER, STAFF, IntentSpec

CONTENT_INTENTS: tuple[IntentSpec, ...] = (
    IntentSpec(
        "content.new",
        (
            "has the updated <battlecard> been released",
            "is the <launch kit> available now?",
            "what's new",
            "what's new?",
            "what is new for us",
            "anything new?",
            "anything new today",
            "news",
            "any news?",
            "latest news",
            "news for me",
            "new content",
            "latest materials",
            "the latest announcements",
            "any new sales decks for {product}",
            "what was published this week",
            "fresh collateral from marketing?",
            "new collateral?",
            "anything new for gold partners",
            "what came out recently",
        ),
        slots=("product",),
        roles=PARTNER,
        confirm="Show what's new",
    ),
    IntentSpec(
        "content.show",
        (
            "{ref}",
            "{ref}?",
            "show {ref}",
            "open {ref}",
            "show me item {ref}",
            "what is {ref}",
            "the link for {ref}",
        ),
        slots=("ref",),
        record="C",
        confirm="Show {ref}",
    ),
    IntentSpec(
        "staff.publish",
        (
            "publish {url} to gold partners",
            "share the new battlecard with {partner}: {url}",
            "publish the {product} launch deck {url} for all partners",
            "publish",
            "publish content",
            "new content: pricing faq {url}",
            "send the q1 promo kit to silver partners {url}",
            "publish <partner onboarding guide> {url} to region emea until end of march",
            "post <the webinar recording> {url} for everyone, summary: the slides are inside",
            "announce the <price update> {url} to {partner} and silver",
            "publish title=<roadmap deck>, url={url}, tiers=gold",
            "push <the new datasheet> {url} out to all partners",
        ),
        slots=("url", "partner"),
        roles=STAFF,
        writes=True,
        confirms=True,  # "Publish this?" with the item as it would go out
        confirm="Publish content",
        parse=publish_slots,
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
            "stats for {ref}",
            "{ref} stats",
            "stats for the <launch kit>",
            "statistics on <the pricing faq>",
            "open rate of <the q1 deck>",
            "how did the <roadmap webinar> do",
        ),
        slots=("ref",),
        roles=STAFF,
        record="C",
        confirm="Show content statistics",
        parse=stats_slots,
    ),
)
