"""MDF transcripts in the terminal: a partner asks for funds in plain words and sees the balance first;
staff approve in full or in part or reject with a reason; the partner claims with proof; staff mark it
paid; the balance after each step; reminders; and nothing of one partner's MDF reaches another."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pytest

from bot.bootstrap import Core, build_mdf
from bot.kernel.messages import Actor
from scheduler.jobs import remind_mdf
from store import mdf_queries, queries
from tests.conftest import Chat, FakeClock, RecordingNotifier, World, reachable
from tests.conversations.test_content_transcripts import install


@dataclass
class Mdf:
    world: World
    notifier: RecordingNotifier

    async def deliver(self, core: Core) -> None:
        await core.dispatcher({"console": self.notifier}).deliver_due()

    def told(self, who: Actor) -> str:
        return self.notifier.texts_for(who.person_id)


@pytest.fixture
async def mw(core: Core, world: World) -> Mdf:
    install(core)
    await reachable(core, world.alice, world.alex, world.bob, world.dana, world.carl)
    dana = Chat(core, world.dana)
    out = await dana.say("MDF budget Northwind Partners 2027-Q1 50k EUR")
    assert "Saved: 50,000 EUR for 2027-Q1. 2027-Q1: 50,000 EUR left of 50,000 EUR." in out, out
    out = await Chat(core, world.carl).say("set MDF budget for Contoso Integrators to 20k USD for Q1 2027")
    assert "MDF budget · Contoso Integrators · 2027-Q1" in out, out
    return Mdf(world=world, notifier=RecordingNotifier())


def flat(text: str) -> str:
    return " ".join(text.split())


async def request_webinar(core: Core, mw: Mdf) -> None:
    alice = Chat(core, mw.world.alice)
    out = await alice.say("I'd like MDF for a webinar, 5k EUR, 10-20 March, expecting 40 leads")
    assert "Request this MDF?" in out, out
    out = await alice.click("Confirm")
    assert "M-1 is sent for approval" in out, out


async def test_a_request_in_one_sentence_shows_the_balance_and_refuses_more_than_is_left(
    core: Core, mw: Mdf
) -> None:
    alice = Chat(core, mw.world.alice)
    out = flat(await alice.say("what's my MDF balance?"))
    assert out.startswith("== MDF balance · Northwind Partners == 2027-Q1: 50,000 EUR left of 50,000 EUR")

    out = flat(
        await alice.say("I'd like MDF for a trade show booth, 60k EUR, 10-12 March, expecting 200 visitors")
    )
    assert "Your MDF balance - 2027-Q1: 50,000 EUR left of 50,000 EUR." in out
    assert (
        "60,000 EUR is more than your remaining 2027-Q1 balance of 50,000 EUR. Ask for 50,000 EUR or less."
        in out
    )
    assert "Your 2027-Q1 MDF balance is 50,000 EUR (of 50,000 EUR). How much would you like?" in out
    async with core.db.transaction() as session:
        assert await mdf_queries.requests_visible(session, partner_id=None) == []
    out = flat(await alice.say("45k"))
    assert "Request this MDF?" in out
    assert (
        "Activity: Trade show booth" in out and "Dates: 10-12 Mar 2027" in out and "Amount: 45,000 EUR" in out
    )
    assert "Expected results: 200 visitors" in out
    assert "Balance: 2027-Q1: 50,000 EUR left now, 5,000 EUR after this request" in out
    out = flat(await alice.click("Confirm"))
    assert "M-1 is sent for approval. Your balance: 2027-Q1: 5,000 EUR left of 50,000 EUR" in out
    assert "(45,000 EUR waiting for approval)" in out

    out = flat(await alice.say("I'd like MDF for a webinar, 6k EUR, 20 March, expecting 40 leads"))
    assert "6,000 EUR is more than your remaining 2027-Q1 balance of 5,000 EUR" in out


async def test_the_dialog_asks_one_detail_at_a_time_with_the_balance_before_the_amount(
    core: Core, mw: Mdf
) -> None:
    alice = Chat(core, mw.world.alice)
    out = await alice.say("request MDF")
    assert out.startswith("Your MDF balance - 2027-Q1: 50,000 EUR left of 50,000 EUR.\nWhat is the activity?")
    out = await alice.say("a webinar with our retail customers")
    assert out.startswith("When does it take place?")
    out = await alice.say("next Tuesday")
    assert "no MDF budget for 2026-Q4" in out and "When does it take place?" in out
    out = await alice.say("31 February")
    assert "When does it take place?" in out and "couldn't read" in out
    out = await alice.say("10 March to 2 April")
    assert out.startswith("Your 2027-Q1 MDF balance is 50,000 EUR (of 50,000 EUR). How much would you like?")
    out = await alice.say("7,500")
    assert out.startswith("What results do you expect?")
    out = flat(await alice.say("30 leads and 4 opportunities"))
    assert (
        "Activity: A webinar with our retail customers" not in out
        and "Activity: Webinar with our retail customers" in out
    )
    assert "Dates: 10 Mar 2027 - 2 Apr 2027" in out and "Amount: 7,500 EUR" in out
    out = await alice.click("Edit")
    assert "(form: Request MDF" in out
    form = alice.replies[0].form
    assert form is not None and {f.name: f.value for f in form.fields}["amount"] == "7,500 EUR"
    result = await alice.submit(
        "mdf.request",
        {"activity": "Webinar", "dates": "10-20 March", "amount": "70k EUR", "expected_results": "30 leads"},
    )
    assert result.errors == {
        "amount": "70,000 EUR is more than your remaining 2027-Q1 balance of 50,000 EUR. Ask for 50,000 EUR or "
        "less. Your 2027-Q1 MDF balance is 50,000 EUR (of 50,000 EUR). How much would you like? (e.g. 5,000 EUR)"
    }
    result = await alice.submit(
        "mdf.request",
        {"activity": "Webinar", "dates": "10-20 March", "amount": "7k", "expected_results": "30 leads"},
    )
    # The form showed every detail at once: submitting it sends the request, no second confirmation.
    out = alice._read(result.replies)
    assert result.ok and "Request this MDF?" not in out
    assert "M-1 is sent for approval" in out and "Requested: 7,000 EUR" in flat(out)

    out = await alice.say("request MDF")
    assert "What is the activity?" in out
    assert await alice.say("cancel") == "Cancelled. Nothing was saved."
    assert "What is the activity?" not in await alice.say("a booth")
    async with core.db.transaction() as session:
        assert len(await mdf_queries.requests_visible(session, partner_id=None)) == 1


async def test_partial_approval_claim_and_payment_with_the_balance_after_each(
    core: Core, mw: Mdf, clock: FakeClock
) -> None:
    await request_webinar(core, mw)
    await mw.deliver(core)
    card = mw.told(mw.world.dana)
    assert "New MDF request M-1 from Northwind Partners: 5,000 EUR for Webinar" in card
    assert "[1] Approve  [2] Approve part  [3] Reject" in card
    alice, dana = Chat(core, mw.world.alice), Chat(core, mw.world.dana)

    out = flat(await dana.say("approve M-1 3000"))
    assert "M-1 approved in part: 3,000 EUR of 5,000 EUR. Northwind Partners can claim it now." in out
    assert "Balance: 2027-Q1: 47,000 EUR left of 50,000 EUR (3,000 EUR approved, not yet paid)" in out
    assert flat(await alice.say("MDF balance")).startswith(
        "== MDF balance · Northwind Partners == 2027-Q1: 47,000 EUR left of 50,000 EUR (3,000 EUR approved"
    )
    await mw.deliver(core)
    assert (
        "M-1 is approved in part: 3,000 EUR of 5,000 EUR for Webinar. Claim it with proof and results by 19 Apr 2027."
        in flat(mw.told(mw.world.alice))
    )
    replaced = [r for _, r in mw.notifier.updated if r.ref == "M-1"]
    assert replaced and replaced[-1].text == "Approved by Dana Reyes: 3,000 EUR of 5,000 EUR"

    out = await dana.say("approve M-1")
    assert out == "M-1 is approved, waiting for the claim, so it can't be approved now."

    out = flat(
        await alice.say(
            "claim M-1 with https://files.example/invoice-77.pdf, results: 38 leads, 120 attendees"
        )
    )
    assert "M-1 is claimed. Our partner team checks the proof and pays 3,000 EUR" in out
    assert (
        "Proof: https://files.example/invoice-77.pdf" in out
        and "Actual results: 38 leads, 120 attendees" in out
    )
    assert "Balance: 2027-Q1: 47,000 EUR left of 50,000 EUR (3,000 EUR approved, not yet paid)" in out
    await mw.deliver(core)
    assert "Northwind Partners claimed M-1: 3,000 EUR for Webinar" in mw.told(mw.world.dana)

    clock.advance(days=2)
    out = flat(await dana.say("mark M-1 paid"))
    assert "M-1 marked paid: 3,000 EUR. Northwind Partners hears it now." in out
    assert "Balance: 2027-Q1: 47,000 EUR left of 50,000 EUR (3,000 EUR paid)" in out
    await mw.deliver(core)
    assert "M-1 is paid: 3,000 EUR for Webinar." in mw.told(mw.world.alice)
    assert flat(await alice.say("how much MDF do we have left?")) == (
        "== MDF balance · Northwind Partners == 2027-Q1: 47,000 EUR left of 50,000 EUR (3,000 EUR paid) "
        "[1] Request MDF [2] My MDF requests"
    )
    history = await dana.say("history M-1")
    assert "Dana Reyes (console) · approved_amount: — → 3,000 EUR" in history
    assert "Alice Novak (console) · status: approved → claimed" in history


async def test_reject_asks_for_the_reason_and_the_partner_hears_it(core: Core, mw: Mdf) -> None:
    await request_webinar(core, mw)
    dana = Chat(core, mw.world.dana)
    out = await dana.say("reject M-1")
    assert out.startswith("Why are you rejecting M-1? The partner will see the reason.")
    out = flat(await dana.say("the activity is outside our MDF guidelines; the MDF budget is for events"))
    assert "M-1 rejected. Northwind Partners sees your reason." in out
    assert "Balance: 2027-Q1: 50,000 EUR left of 50,000 EUR" in out
    await mw.deliver(core)
    assert "M-1 was not approved. Reason: the activity is outside our MDF guidelines" in mw.told(
        mw.world.alice
    )
    out = await Chat(core, mw.world.alice).say("claim M-1 with https://x.example/i.pdf results: 3 leads")
    assert out == "M-1 is rejected, so it can't be claimed now."

    alice = Chat(core, mw.world.alice)
    await alice.say("I'd like MDF for a roadshow, 8k EUR, 1-3 March, expecting 10 meetings")
    assert "M-2 is sent for approval" in await alice.click("Confirm")
    out = flat(await dana.say("reject M-2 because we fund one roadshow per quarter"))
    assert "M-2 rejected." in out and "Reason: we fund one roadshow per quarter" in out
    out = flat(await dana.say("what about M-2, can you tell me more about it please"))
    assert out.startswith("== M-2 · Roadshow == To act on M-2, say 'approve M-2'")


async def test_the_claim_dialog_asks_for_proof_and_results_and_accepts_a_shared_file(
    core: Core, mw: Mdf
) -> None:
    await request_webinar(core, mw)
    dana = Chat(core, mw.world.dana)
    await dana.say("M-1")
    out = await dana.click("Approve part")
    assert "M-1 asks for 5,000 EUR. How much do you approve?" in out
    out = flat(await dana.say("4k"))
    assert "M-1 approved in part: 4,000 EUR of 5,000 EUR." in out
    alex = Chat(core, mw.world.alex)
    out = await alex.say("claim M-1")
    assert out.startswith("What is the proof for M-1? Send the proof as a link (https://…)")
    out = await alex.say("it's in the mail")
    assert out.startswith("I couldn't find a link or a file in that.")
    out = await alex.say("file:F07ABC webinar-invoice.pdf")
    assert out.startswith("What were the actual results of M-1?")
    out = flat(await alex.say("41 leads"))
    assert "M-1 is claimed." in out and "Proof: file:F07ABC" in out and "Actual results: 41 leads" in out
    out = await Chat(core, mw.world.alice).say("my MDF requests")
    assert "M-1 · Webinar" in out and "claimed, waiting for payment" in out


async def test_another_partner_never_sees_our_mdf(core: Core, mw: Mdf) -> None:
    await request_webinar(core, mw)
    bob = Chat(core, mw.world.bob)
    missing = await bob.say("M-9")
    assert missing == "I can't find M-9 among your MDF requests."
    for text in (
        "M-1",
        "claim M-1 with https://x.example/p.pdf results: 1 lead",
        "history M-1",
        "M-1 is paid",
    ):
        assert await bob.say(text) == "I can't find M-1 among your MDF requests.", text
    out = flat(await bob.say("what's my MDF balance?"))
    assert out.startswith("== MDF balance · Contoso Integrators == 2027-Q1: 20,000 USD left of 20,000 USD")
    assert "Northwind" not in out and "EUR" not in out
    assert "Northwind" not in flat(await bob.say("MDF balance for Northwind Partners"))
    assert await bob.say("my MDF requests") == (
        "No open MDF requests. Say 'request MDF' to ask for funds, or 'all my MDF requests'."
    )
    assert await bob.say("approve M-1") == "Only approvers and channel managers decide on MDF requests."
    assert await bob.say("approve M-9") == "Only approvers and channel managers decide on MDF requests."
    home = flat("\n".join(r.title or "" for r in await core.conversation.home(mw.world.bob)))
    assert "Northwind" not in home
    await mw.deliver(core)
    assert "M-1" not in mw.told(mw.world.bob)


async def test_staff_lists_balances_and_home(core: Core, mw: Mdf) -> None:
    await request_webinar(core, mw)
    dana = Chat(core, mw.world.dana)
    out = flat(await dana.say("MDF requests"))
    assert (
        "MDF requests waiting for staff" in out and "Northwind Partners · 5,000 EUR · 10-20 Mar 2027" in out
    )
    out = flat(await dana.say("MDF balance for northwind"))
    assert "== MDF balance · Northwind Partners == 2027-Q1: 45,000 EUR left of 50,000 EUR" in out
    # the review queue's MDF part: staff.pending is the deal skill's intent, the MDF skill takes it
    assert "== MDF requests waiting for staff ==" in await dana.say("which mdf requests are pending?")
    assert flat(await dana.say("MDF budgets")).startswith(
        "== MDF budgets from 2026-Q4 == Contoso Integrators · 2027-Q1: 20,000 USD left of 20,000 USD "
        "Northwind Partners · 2027-Q1: 45,000 EUR left of 50,000 EUR (5,000 EUR waiting for approval)"
    )
    assert "I don't know a partner called 'Initech'" in await dana.say("MDF balance for Initech")
    ed = await Chat(core, mw.world.ed).say("approve M-1")
    assert ed == "Only approvers and channel managers decide on MDF requests."
    assert "MDF is requested by partners" in await dana.say("request MDF for a trade show")
    staff_home = [
        r for r in await core.conversation.home(mw.world.dana) if r.title == "MDF requests waiting for staff"
    ]
    assert staff_home and staff_home[0].sections[0].title == "M-1 · Webinar"
    partner_home = [r.title for r in await core.conversation.home(mw.world.alice)]
    assert "MDF balance · Northwind Partners" in partner_home and "Your open MDF requests" in partner_home
    partner = await Chat(core, mw.world.alice).say("MDF budget Northwind Partners 2027-Q1 90k EUR")
    assert "Saved" not in partner and "2027-Q1: 45,000 EUR left of 50,000 EUR" in partner


async def test_reminders_reach_the_partner_once_with_a_claim_button(
    core: Core, mw: Mdf, clock: FakeClock
) -> None:
    await request_webinar(core, mw)
    await Chat(core, mw.world.dana).say("approve M-1")
    clock.now = datetime(2027, 3, 17, 8)
    assert await remind_mdf(core, clock.now) == "sent 1 MDF reminder(s): M-1 (activity end, 3 days)"
    assert await remind_mdf(core, clock.now) == "sent 0 MDF reminder(s)"
    await mw.deliver(core)
    told = flat(mw.told(mw.world.alice))
    assert (
        "MDF reminder · M-1" in told and "ends in 3 days, on 20 Mar 2027" in told and "by 19 Apr 2027" in told
    )
    assert told.count("MDF reminder") == 1
    alice = Chat(core, mw.world.alice)
    alice.buttons = [b for _, r in mw.notifier.sent if r.title == "MDF reminder · M-1" for b in r.buttons]
    out = await alice.click("Claim")
    assert out.startswith("What is the proof for M-1?")


async def test_how_to_questions_are_not_claimed(core: Core, mw: Mdf) -> None:
    """A how-to question is no MDF command: "how do I claim MDF?" goes to whoever answers questions,
    never into a claim; a question the layer reads as MDF at most shows the balance or starts the request
    dialog, which confirms before anything is written. The commands themselves are MDF's."""
    conversation = core.conversation
    alice = Chat(core, mw.world.alice)
    understood = await conversation.understand(mw.world.alice, "how do I claim MDF?")
    taken = understood.best if understood.decision == "act" else None
    taken = taken or conversation.taken_when_unsure(mw.world.alice, understood)
    assert taken is not None and taken.intent == "question.ask"
    for text in ("how do I claim MDF?", "How do I check my MDF balance?", "can I get MDF for a booth?"):
        out = await alice.say(text)
        assert "What is the proof" not in out and "is claimed" not in out, text
        await alice.say("cancel")
    for text, intent in (
        ("what's my MDF balance?", "mdf.balance"),
        ("MDF balance", "mdf.balance"),
        ("my MDF requests", "mdf.list"),
        ("request MDF for a booth", "mdf.request"),
    ):
        understood = await conversation.understand(mw.world.alice, text)
        assert understood.decision == "act" and understood.best is not None, text
        assert understood.best.intent == intent, text
    assert build_mdf(core).claim_days == 30
    async with core.db.transaction() as session:
        assert await queries.audit_of(session, "M-1") == []
        assert await mdf_queries.requests_visible(session, partner_id=None) == []


async def test_mdf_replies_render_on_slack_and_teams(core: Core, mw: Mdf) -> None:
    from tests.conversations.test_content_transcripts import check_renders

    alice, dana = Chat(core, mw.world.alice), Chat(core, mw.world.dana)
    seen: list = []  # type: ignore[type-arg]
    for chat, text in (
        (alice, "what's my MDF balance?"),
        (alice, "request MDF"),
        (alice, "webinar"),
        (alice, "10-20 March"),
        (alice, "5k"),
        (alice, "40 leads"),
    ):
        await chat.say(text)
        seen += chat.replies
    await alice.click("Confirm")
    seen += alice.replies
    await dana.say("M-1")
    seen += dana.replies
    await dana.click("Approve part")
    seen += dana.replies
    await dana.say("3k")
    await alice.say("claim M-1")
    seen += alice.replies
    await dana.say("MDF budget")
    seen += dana.replies
    await mw.deliver(core)
    seen += [r for _, r in mw.notifier.sent] + [r for _, r in mw.notifier.updated]
    seen += await core.conversation.home(mw.world.alice) + await core.conversation.home(mw.world.dana)
    assert any(r.form is not None for r in seen) and len(seen) >= 12
    check_renders(seen)


async def test_a_fully_requested_budget_says_so_instead_of_asking_the_amount(core: Core, mw: Mdf) -> None:
    bob = Chat(core, mw.world.bob)
    await bob.say("I'd like MDF for a partner summit, 20k USD, 1-3 March, expecting 15 opportunities")
    assert "M-1 is sent for approval" in await bob.click("Confirm")
    out = await bob.say("request MDF for a booth, 10-12 March")
    assert out.startswith(
        "Your MDF balance - 2027-Q1: 0 USD left of 20,000 USD (20,000 USD waiting for approval)."
    )
    assert out.endswith(
        "Your 2027-Q1 MDF budget of 20,000 USD is fully requested or approved, so there is nothing left to ask "
        "for this quarter."
    )
    async with core.db.transaction() as session:
        assert await queries.dialog_of(session, mw.world.bob.person_id) is None, "the dialog ended"


async def test_an_amount_that_is_not_clearly_one_is_refused_and_paying_is_its_own_intent(
    core: Core, mw: Mdf
) -> None:
    """staff.mdf_decide never approves on a guessed amount; staff.mdf_paid takes the request's currency."""
    await request_webinar(core, mw)
    dana = Chat(core, mw.world.dana)
    out = await dana.say("approve M-1, 2 webinars look fine")
    assert out.startswith("I couldn't tell how much to approve from '2'."), out
    assert "'approve M-1 2 EUR'" in out
    out = flat(await dana.say("approve M-1 4000"))
    assert "M-1 approved in part: 4,000 EUR of 5,000 EUR." in out
    await Chat(core, mw.world.alice).say("claim M-1 with https://files.example/p.pdf, results: 30 leads")
    understood = await core.conversation.understand(mw.world.dana, "M-1 is paid out, 4000")
    assert understood.decision == "act" and understood.best is not None
    assert understood.best.intent == "staff.mdf_paid"
    out = flat(await dana.say("M-1 is paid out, 4000"))
    assert "M-1 marked paid: 4,000 EUR." in out
