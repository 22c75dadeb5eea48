"""A partner registering a customer learns nothing about whether another partner holds it: the reply, the
deal card, the list and the later notices read the same with or without a conflict ("needs a closer
review" vs "waiting for review" was an oracle). Staff still see both sides; a deployment may opt in to
telling the partner."""

from __future__ import annotations

import re

from bot.bootstrap import Core
from bot.kernel.messages import Reply
from tests.conftest import Chat, FakeClock, World, build_core, make_world


def shown(replies: list[Reply] | str) -> str:
    return replies if isinstance(replies, str) else "\n".join(r.text or "" for r in replies)


def neutral(text: str, *names: str) -> str:
    """The reply with what legitimately differs (the customer, the reference, the amount) masked."""
    for name in names:
        text = text.replace(name, "<customer>")
    return re.sub(r"D-\d+", "D-n", re.sub(r"[\d,]+ USD", "<amount>", text))


async def register(core: Core, chat: Chat, line: str) -> str:
    await chat.say(line)
    return await chat.say("yes")


async def test_the_partner_reads_the_same_with_or_without_a_conflict(core: Core, world: World) -> None:
    await register(
        core,
        Chat(core, world.alice),
        "register a deal for Globex Corporation, 120k USD of Cloud Suite, closing Q2",
    )
    bob = Chat(core, world.bob)
    conflicting = await register(
        core, bob, "register a deal for Globex Corp, 90k USD of Cloud Suite, closing end of May"
    )
    clean = await register(
        core, bob, "register a deal for Hooli Industries, 90k USD of Cloud Suite, closing end of May"
    )
    assert "D-2 is registered and waiting for review" in conflicting
    assert neutral(conflicting, "Globex Corp") == neutral(clean, "Hooli Industries")
    assert "closer review" not in conflicting and "conflict" not in conflicting.lower()
    # The deal as Bob sees it later, and his list: no flag either.
    d2, d3 = await core.deals.get(world.bob, "D-2"), await core.deals.get(world.bob, "D-3")
    assert d2.in_conflict is False and d3.in_conflict is False and d2.conflicts == ()
    listing = await bob.say("show my deals")
    assert "conflict" not in listing.lower() and "closer review" not in listing
    # Staff see it.
    staff_view = await core.deals.get(world.dana, "D-2")
    assert staff_view.in_conflict and staff_view.conflicts[0].ref == "D-1"


async def test_a_deployment_can_opt_in_to_telling_the_partner(sqlite_url: str, clock: FakeClock) -> None:
    core = await build_core(sqlite_url, clock, PARTNERBOT_TELL_PARTNER_CONFLICTS="1")
    world = await make_world(core)
    await register(
        core,
        Chat(core, world.alice),
        "register a deal for Globex Corporation, 120k USD of Cloud Suite, closing Q2",
    )
    out = await register(
        core,
        Chat(core, world.bob),
        "register a deal for Globex Corp, 90k USD of Cloud Suite, closing end of May",
    )
    assert "needs a closer review" in out
    for secret in ("Northwind", "Alice", "D-1"):
        assert secret not in out
    await core.db.dispose()
