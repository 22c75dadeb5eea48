"""A review card's thread in the vendor channel (through the core, with a notifier that keeps threads):
the decision is told there, and what staff say there is kept with the deal as a staff note - in the
deal's history for staff, never for the partner, with an audit row, once per request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from sqlalchemy import select

from bot.bootstrap import Core
from bot.kernel.messages import Reply
from store.deal_models import DealNote
from store.models import AuditEntry
from tests.conftest import Chat, FakeClock, RecordingNotifier, World, build_core, make_world

GLOBEX = "register a deal for Globex, 120k USD of Cloud Suite, closing end of March"


class ThreadedNotifier(RecordingNotifier):
    """A platform with threads: every message is ``<channel>:<n>``; replies in threads are recorded."""

    def __init__(self) -> None:
        super().__init__("slack")
        self.in_threads: list[tuple[str, Reply]] = []

    async def send(self, *, target, reply, idempotency_key):  # type: ignore[no-untyped-def]
        ref = await super().send(target=target, reply=reply, idempotency_key=idempotency_key)
        return {**ref, "channel": "CV" if target.get("vendor_channel") else f"D{ref['who']}"}

    def locator(self, message_ref: Mapping[str, Any]) -> str:
        return f"{message_ref['channel']}:{message_ref['n']}"

    async def reply_in_thread(self, *, message_ref: Mapping[str, Any], reply: Reply) -> None:
        self.in_threads.append((self.locator(message_ref), reply))


@pytest.fixture
async def threaded(sqlite_url: str, clock: FakeClock) -> AsyncIterator[tuple[Core, World, ThreadedNotifier]]:
    core = await build_core(sqlite_url, clock, SLACK_VENDOR_CHANNEL="CV")
    notifier = ThreadedNotifier()
    core.add_notifier(notifier)
    yield core, await make_world(core), notifier
    await core.db.dispose()


async def _registered(core: Core, world: World, notifier: ThreadedNotifier) -> str:
    chat = Chat(core, world.alice)
    await chat.say(GLOBEX)
    assert "D-1 is registered" in await chat.say("yes")
    await core.dispatcher().deliver_due()
    (card,) = [i for i, (who, r) in enumerate(notifier.sent) if who == "vendor" and r.ref == "D-1"]
    return f"CV:{card + 1}"


async def test_the_decision_is_told_in_the_thread_of_the_vendor_channel_card(
    threaded: tuple[Core, World, ThreadedNotifier],
) -> None:
    core, world, notifier = threaded
    card = await _registered(core, world, notifier)
    await Chat(core, world.dana).say("approve D-1")
    await core.dispatcher().deliver_due()
    ((where, line),) = notifier.in_threads
    assert where == card and line.text.startswith("Approved by Dana Reyes")
    assert not line.buttons
    # The card itself was replaced in place (not the thread line): one update, of the card.
    assert [ref["channel"] for ref, _ in notifier.updated] == ["CV"]
    assert "Approved by Dana Reyes" in notifier.updated[0][1].text


async def test_a_staff_reply_in_the_cards_thread_is_a_note_for_staff_only(
    threaded: tuple[Core, World, ThreadedNotifier],
) -> None:
    core, world, notifier = threaded
    card = await _registered(core, world, notifier)
    conversation = core.conversation
    (answer,) = await conversation.handle_thread_reply(
        world.dana, "note: customer confirmed the budget", platform="slack", thread=card, request_key="k1"
    )
    assert "Noted on D-1" in answer.text
    # A retried delivery of the same request keeps nothing twice.
    await conversation.handle_thread_reply(
        world.dana, "note: customer confirmed the budget", platform="slack", thread=card, request_key="k1"
    )
    async with core.db.transaction() as session:
        notes = (await session.execute(select(DealNote))).scalars().all()
        audit = (
            (await session.execute(select(AuditEntry).where(AuditEntry.action == "deal.note")))
            .scalars()
            .all()
        )
    assert [n.body for n in notes] == ["customer confirmed the budget"]
    assert [(a.entity, a.after) for a in audit] == [("D-1", {"note": "customer confirmed the budget"})]

    staff = await Chat(core, world.carl).say("history D-1")
    assert "staff note: customer confirmed the budget" in staff and "Dana Reyes" in staff
    partner = Chat(core, world.alice)
    for words in ("history D-1", "D-1", "show my deals"):
        assert "budget" not in await partner.say(words)
    await core.dispatcher().deliver_due()
    assert "budget" not in notifier.texts_for(world.alice.person_id)
    assert not [r for _, r in notifier.in_threads], "a note is told nowhere"

    # A partner can't keep notes, even in the card's thread; and elsewhere a thread is a thread.
    (refused,) = await conversation.handle_thread_reply(
        world.alice, "note: mine", platform="slack", thread=card
    )
    assert "Only vendor staff" in refused.text
    (ordinary,) = await conversation.handle_thread_reply(
        world.dana, "help", platform="slack", thread="CV:999"
    )
    assert ordinary.title == "Here's what I can do"
    (how,) = await conversation.handle_thread_reply(world.dana, "help", platform="slack", thread=card)
    assert "staff note" in how.text and "D-1" in how.text
