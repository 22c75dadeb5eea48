"""Nudges with time travel: batched, budgeted, polite, snoozable, one click, escalating on silence."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from bot.bootstrap import Core
from bot.features.deals.model import DealDraft
from bot.kernel.amounts import Money
from bot.kernel.messages import Reply
from scheduler.jobs import JOBS
from tests.conftest import Chat, FakeClock, RecordingNotifier, World, reachable

# 2026-11-26 is a Thursday; Alice is in Europe/Berlin (UTC+1 in winter).
THURSDAY_10 = datetime(2026, 11, 26, 10, 0)


async def register(
    core: Core, world: World, customer: str, *, close: date = date(2027, 3, 31), approve: bool = True
) -> str:
    """A deal of Alice's, approved at once (so no approver is nudged about a waiting review)."""
    view = await core.deals.register(
        world.alice,
        DealDraft(
            customer=customer, product="Cloud Suite", amount=Money(Decimal("50000"), "EUR"), close_date=close
        ),
    )
    if approve:
        await core.deals.approve(world.dana, view.ref)
    return view.ref


async def sweep(core: Core, at: datetime) -> str:
    return await JOBS["nudge_sweep"].run(core, at)


def nudges_for(notifier: RecordingNotifier, person_id: int) -> list[Reply]:
    return [r for who, r in notifier.sent if who == person_id and (r.replace_key or "").startswith("nudge:")]


async def deliver(core: Core, notifier: RecordingNotifier, at: datetime) -> None:
    await core.dispatcher({"console": notifier}).deliver_due(now=at)


async def test_one_batched_nudge_per_person(core: Core, world: World, clock: FakeClock) -> None:
    notifier = RecordingNotifier()
    await reachable(core, world.alice, world.dana)
    refs = [await register(core, world, name) for name in ("Initech", "Umbrella", "Hooli")]
    at = THURSDAY_10 + timedelta(days=22)  # a Friday; prospecting goes stale after 21 days
    summary = await sweep(core, at)
    assert "1 message(s) with 3 item(s)" in summary
    await deliver(core, notifier, at)
    (message,) = nudges_for(notifier, world.alice.person_id)
    assert [s.ref for s in message.sections] == refs
    assert all("no update for 22 days" in s.text for s in message.sections)
    assert [b.label for b in message.sections[0].buttons] == [
        "Still on track",
        "Push close date 30 days",
        "Won",
        "Lost",
        "Update…",
    ]
    assert "1 message(s)" not in await sweep(core, at + timedelta(hours=1)), "one message a day at most"


async def test_weekly_budget_holds(core: Core, world: World) -> None:
    await register(core, world, "Initech", close=date(2026, 12, 1))
    at = THURSDAY_10 + timedelta(days=6)  # Wednesday 2 Dec: the close date has passed
    assert "1 message(s)" in await sweep(core, at)
    await register(core, world, "Umbrella", close=date(2026, 12, 2))
    assert "1 message(s)" in await sweep(core, at + timedelta(days=1)), "second message of the week"
    await register(core, world, "Hooli", close=date(2026, 12, 3))
    third = await sweep(core, at + timedelta(days=2))
    assert "0 message(s)" in third and "1 (weekly budget)" in third
    assert "1 message(s)" in await sweep(core, at + timedelta(days=7, hours=1)), (
        "the budget is a rolling week"
    )


async def test_quiet_hours_and_weekends_defer_never_drop(core: Core, world: World) -> None:
    await register(core, world, "Initech", close=date(2026, 12, 1))
    saturday = datetime(2026, 12, 5, 10, 0)
    assert "1 (quiet hours)" in await sweep(core, saturday)
    late_monday = datetime(2026, 12, 7, 17, 30)  # 18:30 in Berlin
    assert "1 (quiet hours)" in await sweep(core, late_monday)
    assert "1 message(s)" in await sweep(core, datetime(2026, 12, 8, 8, 0)), "09:00 Tuesday in Berlin"


async def test_snooze_is_respected(core: Core, world: World) -> None:
    notifier = RecordingNotifier()
    await reachable(core, world.alice)
    ref = await register(core, world, "Initech", close=date(2026, 12, 1))
    at = datetime(2026, 12, 2, 10, 0)
    await sweep(core, at)
    await deliver(core, notifier, at)
    (message,) = nudges_for(notifier, world.alice.person_id)
    snooze = message.buttons[0]
    assert snooze.label == "Remind me next week"
    core.clock = core.deals.clock = core.nudges.clock = lambda: at  # type: ignore[method-assign]
    replies = await core.conversation.handle_action(world.alice, snooze.action, snooze.data)
    assert (
        replies[0].replace_key == message.replace_key
        and "snoozed until 09 Dec" in replies[0].sections[0].text
    )
    assert "1 snoozed" in await sweep(core, at + timedelta(days=6))
    later = await sweep(core, at + timedelta(days=8))
    assert "1 message(s)" in later, f"after the snooze the item comes back: {later} ({ref})"


async def test_updated_items_are_left_out(core: Core, world: World) -> None:
    ref = await register(core, world, "Initech")
    other = await register(core, world, "Umbrella")
    at = THURSDAY_10 + timedelta(days=22)
    core.deals.clock = lambda: at - timedelta(days=1)  # type: ignore[method-assign]
    await core.deals.confirm_on_track(world.alice, other)
    summary = await sweep(core, at)
    assert "1 message(s) with 1 item(s)" in summary
    notifier = RecordingNotifier()
    await reachable(core, world.alice)
    await deliver(core, notifier, at)
    (message,) = nudges_for(notifier, world.alice.person_id)
    assert [s.ref for s in message.sections] == [ref]


async def test_one_click_push_close_date_updates_deal_and_message(core: Core, world: World) -> None:
    notifier = RecordingNotifier()
    await reachable(core, world.alice)
    ref = await register(core, world, "Initech", close=date(2026, 12, 1))
    at = datetime(2026, 12, 2, 10, 0)
    await sweep(core, at)
    await deliver(core, notifier, at)
    (message,) = nudges_for(notifier, world.alice.person_id)
    push = next(b for b in message.sections[0].buttons if b.label == "Push close date 30 days")
    core.deals.clock = core.nudges.clock = lambda: at  # type: ignore[method-assign]
    replies = await core.conversation.handle_action(world.alice, push.action, push.data)
    assert replies[0].replace_key == message.replace_key
    assert "close date moved to 01 Jan 2027" in replies[0].sections[0].text
    assert not replies[0].sections[0].buttons and replies[0].title.startswith("Thanks")
    view = await core.deals.get(world.alice, ref, history=True)
    assert view.close_date == date(2027, 1, 1)
    assert view.history[-1].field == "close_date"


async def test_repeated_silence_escalates_to_the_channel_manager(core: Core, world: World) -> None:
    notifier = RecordingNotifier()
    await reachable(core, world.alice, world.dana)
    await register(core, world, "Initech", close=date(2026, 12, 1))
    first = datetime(2026, 12, 2, 10, 0)
    assert "1 message(s)" in await sweep(core, first)
    assert "1 waiting" in await sweep(core, first + timedelta(days=2)), "no re-ask within a week"
    assert "1 message(s)" in await sweep(core, first + timedelta(days=7)), (
        "asked again after a week of silence"
    )
    third = await sweep(core, first + timedelta(days=14))
    assert "1 escalated" in third
    await deliver(core, notifier, first + timedelta(days=14))
    escalations = nudges_for(notifier, world.dana.person_id)
    assert any("Alice Novak hasn't answered 2 reminders" in s.text for m in escalations for s in m.sections)
    alice_count = len(nudges_for(notifier, world.alice.person_id))
    assert "0 message(s)" in await sweep(core, first + timedelta(days=22))
    await deliver(core, notifier, first + timedelta(days=22))
    assert len(nudges_for(notifier, world.alice.person_id)) == alice_count, "the partner isn't pinged again"


async def test_snooze_in_plain_words(core: Core, world: World) -> None:
    """Plain words hold every reminder a week ("not now", "snooze", ...); a length can be given."""
    ref = await register(core, world, "Initech", close=date(2026, 12, 1))
    at = datetime(2026, 12, 2, 10, 0)
    core.clock = core.deals.clock = core.nudges.clock = lambda: at  # type: ignore[method-assign]
    alice = Chat(core, world.alice)
    assert await alice.say("remind me in 99999999999 days") == "A reminder can be snoozed for 1 to 90 days."
    assert await alice.say("snooze for 120 days") == "A reminder can be snoozed for 1 to 90 days."
    for text in ("not now", "snooze", "remind me next week"):
        assert await alice.say(text) == "Got it — no reminders from me until 09 Dec.", text
    assert "1 snoozed" in await sweep(core, at + timedelta(days=6))
    assert "1 message(s)" in await sweep(core, at + timedelta(days=8)), f"then it comes back ({ref})"
    assert await alice.say("snooze for 2 weeks") == "Got it — no reminders from me until 16 Dec."


async def test_staff_see_the_numbers(core: Core, world: World) -> None:
    await register(core, world, "Initech", close=date(2026, 12, 1))
    at = datetime(2026, 12, 2, 10, 0)
    await sweep(core, at)
    reply = await core.nudges.stats(world.dana, now=at + timedelta(days=1))
    facts = {f.label: f.value for f in reply.facts}
    assert facts["People nudged"] == "1" and facts["Answered within 48 h"] == "0% of 1 item(s)"
    replies = await core.conversation.handle_text(world.alice, "nudge stats")
    assert "Nudges over" not in (replies[0].title or "")
    assert [r.text for r in replies] == ["Nudge numbers are for vendor staff."]
    for text in ("nudges", "staleness", "nudge stats for the last 14 days"):
        replies = await core.conversation.handle_text(world.dana, text)
        assert (replies[0].title or "").startswith("Nudges over the last"), text
    replies = await core.conversation.handle_text(world.dana, "nudge stats for the last 14 days")
    assert replies[0].title == "Nudges over the last 14 days"


async def test_staff_are_nudged_about_registrations_waiting_for_a_decision(core: Core, world: World) -> None:
    notifier = RecordingNotifier()
    await reachable(core, world.dana)
    ref = await register(core, world, "Initech", approve=False)
    assert "0 message(s)" in await sweep(core, THURSDAY_10 + timedelta(days=1))
    at = THURSDAY_10 + timedelta(days=4)  # Monday
    assert "1 message(s)" in await sweep(core, at)
    await deliver(core, notifier, at)
    (message,) = nudges_for(notifier, world.dana.person_id)
    assert message.sections[0].text.startswith(f"{ref} · Initech: waiting for a decision for 4 days")


async def test_time_travel_from_the_cli(core: Core, world: World, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from bot.cli import run

    await register(core, world, "Initech", close=date(2026, 12, 1))
    monkeypatch.setenv("DATABASE_URL", core.settings.database_url)
    import asyncio

    assert await asyncio.to_thread(run, ["jobs", "run", "nudge_sweep", "--at", "2026-12-02T10:00:00Z"]) == 0
    out = capsys.readouterr().out
    assert "nudge_sweep: 1 message(s) with 1 item(s)" in out
    assert "deliver_outbox:" in out
    stats = ["nudges", "stats", "--as", "dana@vendor.example", "--at", "2026-12-03T10:00:00Z"]
    assert await asyncio.to_thread(run, stats) == 0
    assert "Answered within 48 h" in capsys.readouterr().out


async def test_weekly_digest_for_channel_managers(core: Core, world: World) -> None:
    notifier = RecordingNotifier()
    await reachable(core, world.dana, world.carl)
    await register(core, world, "Initech")
    bob_deal = await core.deals.register(
        world.bob,
        DealDraft(
            customer="Hooli",
            product="Cloud Suite",
            amount=Money(Decimal("5000"), "USD"),
            close_date=date(2027, 3, 31),
        ),
    )
    await core.deals.approve(world.dana, bob_deal.ref)
    monday = datetime(2027, 1, 4, 7, 0)  # Bob's deal has had no change for over 30 days
    assert await JOBS["weekly_digest"].run(core, monday) == "queued 2 digest(s)"
    assert await JOBS["weekly_digest"].run(core, monday + timedelta(hours=1)) == "queued 0 digest(s)"
    await deliver(core, notifier, monday)
    carl = notifier.texts_for(world.carl.person_id)
    assert "Contoso Integrators (Silver) ⚑" in carl and "no deal activity in 30 days" in carl
    assert "Northwind" not in carl, "a manager sees only their own partners"
    assert "Northwind Partners (Gold)" in notifier.texts_for(world.dana.person_id)


async def test_an_accepted_lead_without_progress_is_nudged_with_one_click_answers(
    core: Core, world: World
) -> None:
    from bot.features.leads.model import LeadInput

    notifier = RecordingNotifier()
    await reachable(core, world.alice)
    assert core.leads is not None
    view = await core.leads.create(
        world.dana,
        LeadInput(
            company="Initech GmbH",
            country="DE",
            contact_name="Jane Doe",
            contact_email="jane@initech.example",
            product="Cloud Suite",
        ),
    )
    await core.leads.accept(world.alice, view.ref)
    at = THURSDAY_10 + timedelta(days=8)  # a Friday
    assert "1 message(s) with 1 item(s)" in await sweep(core, at)
    await deliver(core, notifier, at)
    (message,) = nudges_for(notifier, world.alice.person_id)
    item = message.sections[0]
    assert item.text.startswith(f"{view.ref} · Initech GmbH: accepted, no update for 8 days")
    assert [b.label for b in item.buttons] == ["Contacted", "Qualified", "Disqualified…"]
    core.leads.clock = core.nudges.clock = lambda: at  # type: ignore[method-assign]
    replies = await core.conversation.handle_action(world.alice, item.buttons[0].action, item.buttons[0].data)
    assert replies[0].replace_key == message.replace_key and "marked contacted" in replies[0].sections[0].text
    assert (await core.leads.get(world.alice, view.ref)).status == "contacted"
    stats = await core.nudges.stats(world.dana, now=at + timedelta(hours=1))
    assert {f.label: f.value for f in stats.facts}["Answered within 48 h"] == "100% of 1 item(s)"
