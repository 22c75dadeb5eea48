"""Transcripts: what partners and staff type or click, and what they read back."""

from __future__ import annotations

from datetime import timedelta

from bot.bootstrap import Core
from bot.features.deals.service import Deals
from store import deal_queries, queries
from tests.conftest import Chat, FakeClock, RecordingNotifier, World, build_core, reachable


async def deal_count(core: Core) -> int:
    async with core.db.transaction() as session:
        return len(await deal_queries.deals_visible(session, partner_id=None, limit=1000))


async def deliver(core: Core, notifier: RecordingNotifier) -> None:
    await core.dispatcher({notifier.platform: notifier}).deliver_due()


async def test_one_message_registration(core: Core, world: World) -> None:
    alice = Chat(core, world.alice)
    out = await alice.say("register a deal for Globex, 120k USD of Cloud Suite, closing end of March")
    assert "Register this deal?" in out
    assert "Globex" in out and "120,000 USD" in out and "31 Mar 2027" in out and "Cloud Suite" in out
    assert await deal_count(core) == 0, "nothing is written before Confirm"
    out = await alice.click("Confirm")
    assert "D-1 is registered and waiting for review" in out
    assert await deal_count(core) == 1


async def test_multi_turn_registration_asks_one_thing_at_a_time(core: Core, world: World) -> None:
    alice = Chat(core, world.alice)
    assert "Which customer" in await alice.say("I'd like to register a deal")
    assert "Which product" in await alice.say("Initech GmbH")
    out = await alice.say("edge gatway")  # typo, fuzzy-matched to the catalogue
    assert "What is the deal worth" in out
    assert "When do you expect it to close" in await alice.say("EUR 50,000")
    out = await alice.say("Q2")
    assert (
        "Register this deal?" in out
        and "Edge Gateway" in out
        and "50,000 EUR" in out
        and "30 Jun 2027" in out
    )
    out = await alice.say("amount 55k")
    assert "55,000 USD" in out, "an edit while confirming updates the summary"
    out = await alice.say("yes")
    assert "D-1" in out and "registered" in out


async def test_a_new_request_mid_dialog_is_answered_not_taken_as_the_answer(core: Core, world: World) -> None:
    alice = Chat(core, world.alice)
    await alice.say("register a deal for Initech, 85k EUR of Cloud Suite, closing end of March")
    await alice.say("yes")
    assert "Which customer" in await alice.say("register a deal")
    out = await alice.say("show my deals")
    assert "Your open deals" in out and "D-1" in out
    assert "Which product" in await alice.say("Umbrella Corp")


async def test_dialog_survives_a_restart(sqlite_url: str, clock: FakeClock) -> None:
    first = await build_core(sqlite_url, clock)
    from tests.conftest import make_world

    world = await make_world(first)
    await Chat(first, world.alice).say("register a deal for Globex, 120k USD")
    await first.db.dispose()

    second = Core.build(first.settings, clock=clock)  # a new process on the same database
    alice = Chat(second, world.alice)
    out = await alice.say("Cloud Suite")
    assert "When do you expect it to close" in out
    out = await alice.say("in 6 weeks")
    assert "Register this deal?" in out and "7 Jan 2027" in out
    assert "D-1" in await alice.say("confirm")
    await second.db.dispose()


async def test_cancel_always_works_and_writes_nothing(core: Core, world: World) -> None:
    alice = Chat(core, world.alice)
    await alice.say("register a deal for Globex, 120k USD")
    assert "Cancelled. Nothing was saved." in await alice.say("cancel")
    assert await deal_count(core) == 0
    assert "Nothing to cancel" in await alice.say("cancel")
    await alice.say("register a deal for Globex, 120k USD of Cloud Suite, closing Q2")
    assert "Cancelled" in await alice.click("Cancel")
    late = await core.conversation.handle_action(world.alice, "deal.register.confirm", {})
    assert "already sent or cancelled" in late[0].text
    assert await deal_count(core) == 0


async def test_did_you_mean_an_existing_customer(core: Core, world: World) -> None:
    alice = Chat(core, world.alice)
    await alice.say("register a deal for Globex Corporation, 120k USD of Cloud Suite, closing Q2")
    await alice.say("yes")
    out = await alice.say("register a deal for Globex Corp, 20k USD of Edge Gateway, closing Q3")
    # the customer is one of her deals': which deal it is, and whether another is meant, in one question
    assert "You already have D-1 for Globex Corporation. Register another deal for it?" in out
    assert "[2] Show D-1" in out
    out = await alice.click("Yes, another deal")
    assert "Register this deal?" in out and "Globex Corporation" in out


async def test_conflict_goes_to_review_and_partner_b_learns_nothing_about_partner_a(
    core: Core, world: World
) -> None:
    notifier = RecordingNotifier()
    await reachable(core, world.alice, world.bob, world.dana, world.carl)
    await Chat(core, world.alice).say(
        "register a deal for Globex Corporation, 120k USD of Cloud Suite, closing Q2"
    )
    await Chat(core, world.alice).say("yes")

    bob = Chat(core, world.bob)
    await bob.say("register a deal for Globex Corp., globex.com, 90k USD of Cloud Suite, closing end of May")
    out = await bob.say("yes")
    # The same words as for a registration nobody else holds (tests/security/test_no_oracles.py).
    assert "D-2 is registered and waiting for review" in out and "closer review" not in out
    for secret in ("Northwind", "Alice", "D-1"):
        assert secret not in out
    view = await core.deals.get(world.dana, "D-2")
    assert view.in_conflict and view.conflicts[0].ref == "D-1"

    await deliver(core, notifier)
    staff_text = notifier.texts_for(world.carl.person_id) + notifier.texts_for(world.dana.person_id)
    assert "Possible conflict: D-2 from Contoso Integrators" in staff_text
    assert "Possible conflict with D-1 (Northwind Partners, Globex Corporation" in staff_text
    bob_text = notifier.texts_for(world.bob.person_id)
    for secret in ("Northwind", "Alice", "D-1"):
        assert secret not in bob_text

    # Bob asking about it sees his own deal and nothing of the other side
    out = await bob.say("D-2")
    assert "Northwind" not in out and "D-1" not in out and "conflict" not in out.lower()
    assert "D-1" in await Chat(core, world.dana).say("D-2")


async def test_approval_shows_the_protection_end_to_the_partner(core: Core, world: World) -> None:
    notifier = RecordingNotifier()
    await reachable(core, world.alice, world.dana)
    alice = Chat(core, world.alice)
    await alice.say("register a deal for Initech, 85k EUR of Cloud Suite, closing end of March")
    await alice.say("yes")
    await deliver(core, notifier)
    assert "New registration D-1 from Northwind Partners" in notifier.texts_for(world.dana.person_id)

    dana = Chat(core, world.dana)
    assert "D-1" in await dana.say("pending")
    out = await dana.click("Open")
    out = await dana.click("Approve")
    assert "Approved by Dana Reyes" in out
    await deliver(core, notifier)
    told = notifier.texts_for(world.alice.person_id)
    assert "D-1 is approved: protected until 24 Feb 2027" in told
    assert any("Approved by Dana Reyes" in r.text for _, r in notifier.updated), (
        "the review card is updated in place"
    )
    out = await dana.say("approve D-1")
    assert "D-1 is approved, so it can't be approved now" in out, "a second approval changes nothing"


async def test_rejection_with_a_reason(core: Core, world: World) -> None:
    notifier = RecordingNotifier()
    await reachable(core, world.alice)
    await Chat(core, world.alice).say(
        "register a deal for Initech, 85k EUR of Cloud Suite, closing end of March"
    )
    await Chat(core, world.alice).say("yes")
    dana = Chat(core, world.dana)
    out = await dana.say("reject D-1")
    assert "Why are you rejecting D-1?" in out
    out = await dana.say("the customer already buys direct")
    assert "Rejected by Dana Reyes: the customer already buys direct" in out
    await deliver(core, notifier)
    assert "D-1 was not approved. Reason: the customer already buys direct" in notifier.texts_for(
        world.alice.person_id
    )
    view = await core.deals.get(world.alice, "D-1")
    assert view.status == "rejected"


async def test_ask_for_information_then_partner_answers(core: Core, world: World) -> None:
    notifier = RecordingNotifier()
    await reachable(core, world.alice, world.dana)
    await Chat(core, world.alice).say(
        "register a deal for Initech, 85k EUR of Cloud Suite, closing end of March"
    )
    await Chat(core, world.alice).say("yes")
    out = await Chat(core, world.dana).say("ask info D-1: what is the customer's web domain?")
    assert "asked the partner: what is the customer's web domain?" in out
    await deliver(core, notifier)
    assert "needs more information: what is the customer's web domain?" in notifier.texts_for(
        world.alice.person_id
    )
    alice = Chat(core, world.alice)
    await alice.say("D-1")
    assert "What would you like to tell the reviewer" in await alice.click("Send information")
    out = await alice.say("initech.example, IT director Bill Lumbergh")
    assert "back with the reviewers" in out
    assert (await core.deals.get(world.dana, "D-1")).status == "pending"


async def test_two_way_update_by_partner_and_staff_lands_in_history(core: Core, world: World) -> None:
    notifier = RecordingNotifier()
    await reachable(core, world.alice)
    alice = Chat(core, world.alice)
    await alice.say("register a deal for Initech, 85k EUR of Cloud Suite, closing end of March")
    await alice.say("yes")
    out = await alice.say("D-1 moved to proposal, closing next month")
    assert "Stage: prospecting → proposal" in out and "Close date: 31 Mar 2027 → 31 Dec 2026" in out
    assert (await core.deals.get(world.alice, "D-1")).stage == "prospecting", "nothing before Confirm"
    assert "Saved" in await alice.click("Confirm")

    dana = Chat(core, world.dana)
    out = await dana.say("D-1 negotiation, amount 95k EUR, next step: legal review")
    assert "Stage: proposal → negotiation" in out
    await dana.say("yes")
    await deliver(core, notifier)
    assert (
        "Dana Reyes updated D-1: stage negotiation; amount 95,000 EUR; next step: legal review"
        in notifier.texts_for(world.alice.person_id)
    )

    history = (await core.deals.get(world.alice, "D-1", history=True)).history
    changes = [(h.field, h.old, h.new, h.by, h.channel) for h in history]
    assert ("stage", "prospecting", "proposal", "Alice Novak", "console") in changes
    assert ("stage", "proposal", "negotiation", "Dana Reyes", "console") in changes
    assert ("amount", "85,000 EUR", "95,000 EUR", "Dana Reyes", "console") in changes
    out = await alice.say("history D-1")
    assert "Alice Novak" in out and "Dana Reyes" in out

    async with core.db.transaction() as session:
        audit = [a.action for a in await queries.audit_of(session, "D-1")]
    assert audit == ["deal.register", "deal.update", "deal.update"]


async def test_won_and_lost(core: Core, world: World) -> None:
    alice = Chat(core, world.alice)
    for customer in ("Initech", "Umbrella"):
        await alice.say(f"register a deal for {customer}, 85k EUR of Cloud Suite, closing end of March")
        await alice.say("yes")
    assert "marked as won" in await alice.say("D-1 won")
    assert "Why was D-2 lost?" in await alice.say("D-2 lost")
    assert "marked as lost" in await alice.say("went with a competitor")
    assert (await core.deals.get(world.alice, "D-2")).outcome_reason == "went with a competitor"
    assert "closed deals can't be changed" in await alice.say("D-1 amount 100k") + await alice.say("yes")


async def test_extension_request_and_decision(core: Core, world: World) -> None:
    alice = Chat(core, world.alice)
    await alice.say("register a deal for Initech, 85k EUR of Cloud Suite, closing end of March")
    await alice.say("yes")
    await Chat(core, world.dana).say("approve D-1")
    out = await alice.say("extend D-1 because the budget moved to Q3")
    assert "Extension of D-1 requested" in out
    dana = Chat(core, world.dana)
    await dana.say("D-1")
    out = await dana.click("Extend protection")
    assert "Extension approved by Dana Reyes: protected until 25 May 2027" in out


async def test_expiry_sweep(core: Core, world: World, clock: FakeClock) -> None:
    alice = Chat(core, world.alice)
    await alice.say("register a deal for Initech, 85k EUR of Cloud Suite, closing end of March")
    await alice.say("yes")
    await Chat(core, world.dana).say("approve D-1")
    from datetime import timedelta

    assert await core.deals.expire_due(now=clock.now + timedelta(days=90)) == []
    assert await core.deals.expire_due(now=clock.now + timedelta(days=91)) == ["D-1"]
    assert (await core.deals.get(world.alice, "D-1")).status == "expired"


async def test_status_by_customer_name_is_fuzzy_and_private(core: Core, world: World) -> None:
    alice = Chat(core, world.alice)
    await alice.say("register a deal for Initech GmbH, 85k EUR of Cloud Suite, closing end of March")
    await alice.say("yes")
    await Chat(core, world.bob).say(
        "register a deal for Hooli Inc, 10k USD of Cloud Suite, closing end of March"
    )
    await Chat(core, world.bob).say("yes")
    assert "D-1 · Initech GmbH" in await alice.say("what's the status of the Initech deal?")
    out = await alice.say("what's the status of the Hooli deal?")
    assert "I can't find a deal for 'Hooli' among your deals." in out
    out = await alice.say("show my deals")
    assert "D-1" in out and "D-2" not in out and "Hooli" not in out


async def test_foreign_reference_reads_exactly_like_a_missing_one(core: Core, world: World) -> None:
    bob = Chat(core, world.bob)
    await bob.say("register a deal for Hooli Inc, 10k USD of Cloud Suite, closing end of March")
    await bob.say("yes")
    alice = Chat(core, world.alice)
    foreign = await alice.say("D-1")
    missing = await alice.say("D-99")
    assert foreign == "I can't find D-1 among your deals."
    assert missing == "I can't find D-99 among your deals."
    for text in ("D-1 won", "D-1 moved to proposal", "history D-1", "extend D-1 because reasons"):
        assert await alice.say(text) == foreign
    replies = await core.conversation.handle_action(world.alice, "deal.update", {"ref": "D-1"})
    assert replies[0].text == foreign


async def test_staff_only_actions_are_refused_to_partners(core: Core, world: World) -> None:
    alice = Chat(core, world.alice)
    await alice.say("register a deal for Initech, 85k EUR of Cloud Suite, closing end of March")
    await alice.say("yes")
    assert "Only deal approvers" in await alice.say("approve D-1")
    assert "Only deal approvers" in await Chat(core, world.carl).say("approve D-1")
    assert (await core.deals.get(world.alice, "D-1")).status == "pending"


async def test_bad_input_gets_a_reply_that_says_what_is_accepted(core: Core, world: World) -> None:
    alice = Chat(core, world.alice)
    await alice.say("register a deal for Initech")
    await alice.say("Cloud Suite")
    out = await alice.say("lots")
    assert "I couldn't read 'lots' as an amount. Try 120k USD, $1.2M, EUR 50,000 or 50.000 €." in out
    await alice.say("50.000 €")
    out = await alice.say("someday")
    assert (
        "I couldn't read 'someday' as a date. Try 2027-03-31, end of March, next Friday, Q2 or in 6 weeks."
        in out
    )
    out = await alice.say("2026-01-31")
    assert "in the past" in out
    await alice.say("cancel")

    out = await alice.say("register a deal for <!channel> *Globex*, 10k USD of Cloud Suite, closing Q2")
    assert "A company name can't contain '*' '<' '>'. Use letters, digits, spaces and" in out
    assert "Which customer" in out
    await alice.say("cancel")
    out = await alice.say("register a deal for ,, 10k USD of Cloud Suite, closing Q2")
    assert "Which customer" in out

    out = await alice.say("x" * 10_000)
    assert "10,000 characters" in out and "up to 2,000" in out
    out = await alice.say("register a deal\x00\x07 for Globex")
    assert "control characters" in out
    result = await alice.submit(
        "deal.register", {"customer": "", "product": "Cloud Suite", "amount": "lots", "close_date": "someday"}
    )
    assert set(result.errors) == {"customer", "amount", "close_date"}
    assert await deal_count(core) == 0


async def test_a_submitted_registration_form_registers_without_a_second_confirmation(
    core: Core, world: World
) -> None:
    """The form shows every detail at once (a Slack modal, a Teams card or dialog): it is the review,
    so submitting it registers. Typed registrations still end with "Register this deal?"."""
    alice = Chat(core, world.alice)
    result = await alice.submit(
        "deal.register",
        {
            "customer": "Globex Corporation",
            "domain": "https://www.globex.com/",
            "country": "de",
            "product": "Cloud Suite",
            "amount": "$1.2M",
            "close_date": "2027-03-31",
            "notes": "Met at the partner summit",
        },
    )
    assert result.ok
    assert "Register this deal?" not in "\n".join(r.title or "" for r in result.replies)
    assert "Thanks! D-1 is registered" in result.replies[0].text
    view = await core.deals.get(world.alice, "D-1")
    assert (view.domain, view.country, str(view.amount.amount), view.amount.currency) == (
        "globex.com",
        "DE",
        "1200000.00",
        "USD",
    )


async def test_retried_request_changes_nothing_twice(core: Core, world: World) -> None:
    alice = Chat(core, world.alice)
    await alice.say("register a deal for Initech, 85k EUR of Cloud Suite, closing end of March")
    first = await alice.click("Confirm", request_key="evt-1")
    assert "D-1" in first
    await alice.say("register a deal for Umbrella, 5k EUR of Cloud Suite, closing end of March")
    again = await core.conversation.handle_action(
        world.alice, "deal.register.confirm", {}, request_key="evt-1"
    )
    # Nothing done twice; the answer of the first attempt, which no platform said it posted, is given
    # again (tests/slack/test_slack_answers.py: a post that failed is made up by the retry).
    assert [r.ref for r in again] == ["D-1"] and "D-1 is registered" in (again[0].text or "")
    assert await deal_count(core) == 1
    await core.conversation.answer_posted("evt-1")
    assert (
        await core.conversation.handle_action(world.alice, "deal.register.confirm", {}, request_key="evt-1")
        == []
    )


async def test_staff_cannot_register_and_partners_have_no_review_queue(core: Core, world: World) -> None:
    assert "registered by partners" in await Chat(core, world.dana).say("register a deal for Globex, 10k USD")
    out = await Chat(core, world.alice).say("pending")
    assert "No open deals" in out


async def test_help_differs_for_partners_and_staff(core: Core, world: World) -> None:
    assert "register a deal for Globex" in await Chat(core, world.alice).say("help")
    assert "approve D-12" in await Chat(core, world.dana).say("help")


def test_deals_service_has_no_platform_imports() -> None:
    import bot.features.deals.service as module

    assert "slack" not in Deals.__module__ and "microsoft_agents" not in str(module.__dict__.keys())


async def test_a_corrected_form_with_the_same_request_key_goes_through(core: Core, world: World) -> None:
    values = {"customer": "Globex", "product": "Cloud Suite", "amount": "lots", "close_date": "Q2"}
    first = await core.conversation.submit_form(world.alice, "deal.register", values, request_key="view-1")
    assert set(first.errors) == {"amount"}
    values["amount"] = "120k"
    second = await core.conversation.submit_form(world.alice, "deal.register", values, request_key="view-1")
    assert second.ok and second.replies and "D-1 is registered" in second.replies[0].text
    for _ in second.replies:
        await core.conversation.answer_posted("view-1")  # the platform posted the answer
    third = await core.conversation.submit_form(world.alice, "deal.register", values, request_key="view-1")
    assert third.ok and third.replies == [], "a retry of the accepted submission changes nothing"


async def test_a_form_precheck_reads_only_the_values(core: Core) -> None:
    """What a Slack modal can be told before its ack: no database, no person."""
    check = core.conversation.precheck_form
    assert check({"customer": "Globex", "amount": "120k USD", "close_date": "end of March"}) == {}
    assert set(check({"amount": "lots", "close_date": "someday", "customer": "Globex"})) == {
        "amount",
        "close_date",
    }
    assert "past" in check({"close_date": "2020-01-01"})["close_date"]
    assert set(check({"notes": "x" * 10_000, "title": "a\x00b"})) == {"notes", "title"}
    assert check({"country": "Germany", "product": "Nothing we sell", "amount": ""}) == {}  # for the core
    # At 10:00 UTC it is still yesterday west of UTC-10: that date is left to the core, which knows the
    # person's zone; the day before is in the past everywhere.
    assert core.clock().hour == 10
    yesterday = (core.clock() - timedelta(days=1)).date()
    assert check({"close_date": yesterday.isoformat()}) == {}
    assert "past" in check({"close_date": (yesterday - timedelta(days=1)).isoformat()})["close_date"]


async def test_deal_commands_are_read_by_the_understanding_layer(core: Core, world: World) -> None:
    """What the deal skill's own grammar used to claim, now read by the layer (#18): a bare reference,
    a history, a name not among one's deals, a partner's answer to a reviewer, conflicts for one
    customer, and an extension until a date."""
    alice, bob, dana = Chat(core, world.alice), Chat(core, world.bob), Chat(core, world.dana)
    await alice.say("register a deal for Globex Corporation, 120k USD of Cloud Suite, closing Q2")
    await alice.say("yes")
    await bob.say("register a deal for Globex Corp., globex.com, 90k USD of Cloud Suite, closing end of May")
    await bob.say("yes")
    assert "D-1 · Globex Corporation" in await alice.say("D-1")
    assert "D-1 · Globex Corporation" in await alice.say("d1?")
    out = await alice.say("show me the history of D-1")
    assert "Alice Novak" in out and "D-1" in out
    out = await alice.say("what's the status of the Hooli deal?")
    assert out == "I can't find a deal for 'Hooli' among your deals."
    out = await bob.say("where are we with the Globex Corporation deal")  # Alice's customer, not among Bob's
    assert "Northwind" not in out and "D-1" not in out

    out = await dana.say("conflicts for globex corp")
    assert "Conflicts for Globex" in out and "D-2" in out
    out = await dana.say("conflicts for stark logistics?")
    assert "No conflicts for" in out and "D-2" not in out

    out = await dana.say("ask info D-2: what is the customer's web domain?")
    assert "what is the customer's web domain?" in out
    out = await bob.say("info D-2: the domain is globex.com, a new project")
    assert "back with the reviewers" in out
    assert (await core.deals.get(world.dana, "D-2")).status == "pending"

    await dana.say("approve D-1")
    out = await alice.say("D-1 protection runs out soon, need an extension until end of June")
    assert "Extension of D-1 requested" in out
    view = await core.deals.get(world.dana, "D-1")
    assert view.extension_reason is not None and "until end of June" in view.extension_reason


async def test_a_dialog_answer_with_several_details_is_read_by_the_understanding_layer(
    core: Core, world: World
) -> None:
    alice = Chat(core, world.alice)
    assert "Which customer" in await alice.say("I'd like to register a deal")
    out = await alice.say("Globex, 120k EUR, end of March")
    assert "Which product" in out, "the customer, the amount and the close date are all taken"
    out = await alice.say("Cloud Suite")
    assert "Register this deal?" in out
    assert "Globex" in out and "120,000 EUR" in out and "31 Mar 2027" in out and "Cloud Suite" in out
    assert "Globex, " not in out, "the customer is the name alone"
    dialog = await core.conversation.dialogs.load(world.alice)
    assert dialog is not None and dialog.state["slots"]["customer"] == "Globex"


async def test_an_update_typed_in_the_update_dialog_is_read_by_the_understanding_layer(
    core: Core, world: World
) -> None:
    alice = Chat(core, world.alice)
    await alice.say("register a deal for Initech, 85k EUR of Cloud Suite, closing end of March")
    await alice.say("yes")
    replies = await core.conversation.handle_action(world.alice, "deal.update", {"ref": "D-1"})
    assert "What changed on D-1?" in replies[0].text
    out = await alice.say("negotiation, 95k EUR, next step: send the quote")
    assert "Update D-1 · Initech?" in out
    assert "Stage: prospecting → negotiation" in out and "Amount: 85,000 EUR → 95,000 EUR" in out
    assert "Next step: send the quote" in out
    assert "proposal" not in out and "Notes" not in out, "the next step's words are no stage and no note"
    assert "D-1 is up to date" in await alice.say("yes")
    view = await core.deals.get(world.alice, "D-1")
    assert view.stage == "negotiation" and view.next_step == "send the quote"


async def test_a_detail_that_cant_be_taken_in_a_dialog_answer_says_why(core: Core, world: World) -> None:
    alice = Chat(core, world.alice)
    assert "Which customer" in await alice.say("I'd like to register a deal")
    out = await alice.say("Globex, minus 5k, Cloud Suite")
    assert "Amounts must be more than zero." in out and "What is the deal worth" in out
