"""Reaching people who never wrote to the bot (issue #15, Slack): someone linked by
``partnerbot user add --slack-id`` gets a DM opened with ``conversations.open``; someone known only by
e-mail is found with ``users.lookupByEmail`` in their organisation's workspace (staff: the vendor's),
and the link is kept. Through the real aiohttp app, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.bootstrap import build_content, build_mdf
from bot.cli import main
from bot.features.content.model import ContentDraft
from bot.features.deals.model import DealDraft
from bot.features.mdf.model import MdfDraft
from bot.kernel.amounts import Money
from store.models import ChatIdentity, Person
from tests.conftest import Chat, FakeClock
from tests.slack import conftest as harness
from tests.slack.conftest import BOT_TOKEN, SIGNING_SECRET, Call, Slack, SlackStandIn, slack_app


@pytest.fixture
async def anyslack(any_database_url: str, clock: FakeClock, standin: SlackStandIn) -> AsyncIterator[Slack]:
    """The Slack harness of tests/slack, on either database."""
    async with slack_app(any_database_url, clock, standin) as harness_:
        yield harness_


def known_to_slack(
    monkeypatch: pytest.MonkeyPatch, slack: Slack, user: str, entry: tuple[str, str, str, str]
) -> None:
    """Add a member to the stand-in's workspaces: the USERS its methods read (pytest may have imported
    tests/slack/conftest.py under another module name than ``tests.slack.conftest``)."""
    monkeypatch.setitem(type(slack.standin)._users_lookupByEmail.__globals__["USERS"], user, entry)
    monkeypatch.setitem(harness.USERS, user, entry)


def dm_with(slack: Slack, user: str, text: str) -> Call:
    found = [c for c in slack.standin.posts(f"D{user}") if text in c.dump]
    assert found, f"nothing with {text!r} was posted to {user}"
    return found[-1]


async def linked(slack: Slack, email: str) -> set[tuple[str, str, str]]:
    async with slack.core.db.transaction() as session:
        rows = await session.execute(
            select(ChatIdentity.platform, ChatIdentity.workspace, ChatIdentity.external_id)
            .join(Person, Person.id == ChatIdentity.person_id)
            .where(Person.email == email)
        )
        return {tuple(r) for r in rows}  # type: ignore[misc]


async def new_lead(slack: Slack) -> None:
    await slack.dm("UDANA", "new lead Initech GmbH, contact Jane Doe jane@initech.example, DE, Cloud Suite")
    (confirm,) = [c for c in slack.standin.posts("DUDANA") if "Confirm" in c.dump][-1:]
    await slack.click("UDANA", confirm, "Confirm")
    await slack.settle()


async def test_a_partner_added_by_cli_who_never_wrote_gets_a_lead_offer_and_accepts_it(
    anyslack: Slack, any_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    slack = anyslack
    known_to_slack(monkeypatch, slack, "UPAULA", ("TNORTH", "paula@northwind.example", "Paula Weiss", "UTC"))
    monkeypatch.setenv("DATABASE_URL", any_database_url)
    cli = [
        "user",
        "add",
        "paula@northwind.example",
        "--name",
        "Paula Weiss",
        "--partner",
        "Northwind Partners",
    ]
    with pytest.raises(SystemExit) as done:  # the real CLI, in a thread: it runs its own event loop
        await asyncio.to_thread(main, [*cli, "--slack-id", "UPAULA", "--slack-team", "TNORTH"])
    assert done.value.code == 0
    await new_lead(slack)

    offer = dm_with(slack, "UPAULA", "L-1")
    assert "Accept" in offer.dump
    opened = slack.standin.of("conversations.open", users="UPAULA")
    assert opened, "the DM was opened for someone who never wrote"
    assert not slack.standin.of("users.lookupByEmail", email="paula@northwind.example"), (
        "she was linked already"
    )
    await slack.click("UPAULA", offer, "Accept")
    updates = [c for c in slack.standin.of("chat.update") if c.body.get("ts") == offer.answer["ts"]]
    assert updates and "jane@initech.example" in updates[-1].dump
    lead = await slack.core.leads.get(slack.world.dana, "L-1")  # type: ignore[union-attr]
    assert lead.status == "accepted"


async def test_a_partner_known_only_by_email_is_found_in_their_workspace_and_linked(anyslack: Slack) -> None:
    slack = anyslack
    # Alice and Alex were added with an e-mail only; Northwind's workspace is TNORTH.
    assert await linked(slack, "alice@northwind.example") == set()
    await new_lead(slack)
    looked_up = slack.standin.of("users.lookupByEmail", email="alice@northwind.example")
    assert len(looked_up) == 1
    offer = dm_with(slack, "UALICE", "L-1")
    assert await linked(slack, "alice@northwind.example") == {("slack", "TNORTH", "UALICE")}
    await slack.click("UALICE", offer, "Accept")
    assert (await slack.core.leads.get(slack.world.dana, "L-1")).status == "accepted"  # type: ignore[union-attr]
    # The next message needs no look-up: the link is kept.
    await slack.core.conversation.handle_text(slack.world.dana, "L-1")
    assert len(slack.standin.of("users.lookupByEmail", email="alice@northwind.example")) == 1


async def test_an_expert_who_never_wrote_gets_a_routed_question_and_answers_it(
    anyslack: Slack, monkeypatch: pytest.MonkeyPatch
) -> None:
    slack = anyslack
    known_to_slack(monkeypatch, slack, "UED", ("TVENDOR", "ed@vendor.example", "Ed Expert", "UTC"))
    await slack.dm("UALICE", "how do I get marketing funds for a webinar with 40 attendees?")
    await slack.settle()
    asked = dm_with(slack, "UED", "Q-1")
    assert slack.standin.of("users.lookupByEmail", email="ed@vendor.example"), "staff are found in TVENDOR"
    assert await linked(slack, "ed@vendor.example") == {("slack", "TVENDOR", "UED")}
    assert "Answer" in asked.dump
    await slack.dm("UED", "answer Q-1: Request MDF in chat with the activity, amount and dates.")
    await slack.settle()
    assert dm_with(slack, "UALICE", "Request MDF in chat")


async def test_nobody_is_found_in_a_workspace_they_are_not_in(
    anyslack: Slack, monkeypatch: pytest.MonkeyPatch
) -> None:
    slack = anyslack
    # Bob is Contoso's; a Northwind lead is not his, and his address is never looked up in TNORTH.
    await new_lead(slack)
    assert not slack.standin.of("users.lookupByEmail", email="bob@contoso.example")
    assert not slack.standin.posts("DUBOB")


async def test_someone_found_nowhere_is_listed_with_why_and_the_remedy_then_reached_once_linked(
    anyslack: Slack, any_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nora is added with an e-mail that is in no Slack workspace: the lead offer waits for her, she is
    listed by ``partnerbot people unreachable`` and counted by /healthz; once linked by the CLI, the
    CLI's own delivery (the same notifier as serve's) reaches her."""
    slack = anyslack
    await slack.core.people.add_user(
        email="nora@northwind.example", name="Nora Vale", partner="Northwind Partners"
    )
    await new_lead(slack)
    assert not slack.standin.posts("DUNORA")
    health = await (await slack.http.get("/healthz")).json()
    assert health["unreachable"] == 1

    env = {
        "DATABASE_URL": any_database_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": f"{slack.standin.url}/api/",
        "PARTNERBOT_SLACK_VENDOR_TEAM": "TVENDOR",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    listing = await run_cli(["people", "unreachable"])
    assert "nora@northwind.example (Nora Vale, Northwind Partners): 1 message(s) waiting" in listing
    assert "nora@northwind.example was not found in slack workspace TNORTH" in listing
    assert "remedy: link their account: partnerbot user add nora@northwind.example" in listing
    assert "alice@northwind.example" not in listing

    known_to_slack(monkeypatch, slack, "UNORA", ("TNORTH", "nora@northwind.example", "Nora Vale", "UTC"))
    cli = ["user", "add", "nora@northwind.example", "--name", "Nora Vale", "--partner", "Northwind Partners"]
    await run_cli([*cli, "--slack-id", "UNORA", "--slack-team", "TNORTH"])
    later = (slack.clock() + timedelta(minutes=20)).isoformat()
    await run_cli(["jobs", "run", "deliver_outbox", "--at", later])
    assert len(dm_with_all(slack, "UNORA", "L-1")) == 1
    assert "Everyone with a message waiting could be reached." in await run_cli(["people", "unreachable"])


async def run_cli(argv: list[str]) -> str:
    """``partnerbot ARGV`` in a thread (it runs its own event loop); what it printed. Exit 0 expected."""
    out = io.StringIO()

    def run() -> None:
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
            main(argv)
        assert done.value.code == 0, out.getvalue()

    await asyncio.to_thread(run)
    return out.getvalue()


def dm_with_all(slack: Slack, user: str, text: str) -> list[Call]:
    return [c for c in slack.standin.posts(f"D{user}") if c.answer and text in c.dump]


async def test_a_question_routed_to_an_expert_who_cannot_be_reached_goes_on_at_once(anyslack: Slack) -> None:
    """Ed, the MDF expert, is in no Slack workspace the bot knows: the question goes straight to the
    next one who can take it - here Northwind's channel manager - instead of waiting for the SLA."""
    slack = anyslack
    await slack.dm("UALICE", "how do I get marketing funds for a webinar with 40 attendees?")
    await slack.settle()
    assert not slack.standin.posts("DUED")
    card = dm_with(slack, "UDANA", "Q-1")
    assert "Ed Expert could not be reached" in card.dump and "Answer" in card.dump
    view = await slack.core.questions.get(slack.world.dana, "Q-1")  # type: ignore[union-attr]
    assert view.assignee == "Dana Reyes"
    await slack.dm("UDANA", "answer Q-1: Request MDF in chat with the activity, amount and dates.")
    await slack.settle()
    assert dm_with(slack, "UALICE", "Request MDF in chat")


async def test_the_approver_and_the_publisher_hear_once_that_their_notice_reached_nobody(
    anyslack: Slack,
) -> None:
    """Nora (no Slack account anywhere) registered D-1; Dana approves it and publishes content to
    Northwind: Dana is told once for each, who could not be reached and why."""
    slack = anyslack
    core = slack.core
    await core.people.add_user(email="nora@northwind.example", name="Nora Vale", partner="Northwind Partners")
    nora = await core.people.actor_by_email("nora@northwind.example", channel="console")
    assert nora is not None
    draft = DealDraft(
        customer="Initech",
        product="Cloud Suite",
        amount=Money(Decimal("40000"), "USD"),
        close_date=date(2027, 3, 31),
    )
    await core.deals.register(nora, draft)
    await core.deals.approve(slack.world.dana, "D-1")
    await build_content(core).publish(
        slack.world.dana,
        ContentDraft(
            title="Price list", url="https://partners.example.com/p", partners=("Northwind Partners",)
        ),
    )
    for _ in range(2):  # and again when the outbox tries once more: still one note each
        await core.dispatcher().deliver_due()
        slack.clock.advance(minutes=20)
    notes = [c.dump for c in slack.standin.posts("DUDANA") if "could not be reached about D-1" in c.dump]
    assert len(notes) == 1 and "Nora Vale (nora@northwind.example)" in notes[0]
    assert "D-1 · Initech (Northwind Partners)" in notes[0]
    assert "nora@northwind.example was not found in slack workspace TNORTH" in notes[0]
    content_notes = [
        c.dump for c in slack.standin.posts("DUDANA") if "could not be reached about C-1" in c.dump
    ]
    assert len(content_notes) == 1 and "Price list" in content_notes[0]

    # An MDF decision too: once, to the staff member who decided.
    await Chat(core, slack.world.dana).say("MDF budget Northwind Partners 2027-Q1 50k EUR")
    mdf = build_mdf(core)
    await mdf.request(
        nora,
        MdfDraft(
            activity="webinar",
            amount=Money(Decimal("5000"), "EUR"),
            start_date=date(2027, 3, 10),
            end_date=date(2027, 3, 20),
            expected_results="40 leads",
        ),
    )
    await mdf.approve(slack.world.dana, "M-1")
    for _ in range(2):
        await core.dispatcher().deliver_due()
        slack.clock.advance(minutes=20)
    mdf_notes = [c.dump for c in slack.standin.posts("DUDANA") if "could not be reached about M-1" in c.dump]
    assert len(mdf_notes) == 1 and "Nora Vale" in mdf_notes[0]
