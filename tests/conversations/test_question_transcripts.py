"""Transcripts for questions: what partners and staff type or click, and what they read back - across
the terminal, Slack and Teams (RecordingNotifiers registered per platform)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from sqlalchemy import select, update

from bot.bootstrap import Core, build_question_skill
from bot.kernel.messages import Actor, ConversationRef
from scheduler.jobs import escalate_questions
from store import queries
from store import question_queries as qq
from store.models import OutboxMessage, Person
from store.question_models import Question
from tests.conftest import Chat, FakeClock, RecordingNotifier, World, build_core, make_world, reachable


def with_questions(core: Core) -> Core:
    if not any(skill.prefix == "question" for skill in core.conversation.skills):
        core.conversation.add_skill(build_question_skill(core))
    return core


@pytest.fixture
async def qcore(core: Core) -> Core:
    return with_questions(core)


@pytest.fixture
async def vcore(sqlite_url: str, clock: FakeClock) -> AsyncIterator[Core]:
    """A core with a vendor channel (on Slack)."""
    core = with_questions(await build_core(sqlite_url, clock, SLACK_VENDOR_CHANNEL="C-VENDOR"))
    yield core
    await core.db.dispose()


async def deliver(core: Core, *notifiers: RecordingNotifier) -> None:
    await core.dispatcher({n.platform: n for n in notifiers}).deliver_due()


async def staff(
    core: Core,
    email: str,
    name: str,
    *,
    topics: list[str],
    region: str | None = None,
    tz: str | None = None,
    roles: list[str] | None = None,
) -> Actor:
    await core.people.add_user(
        email=email, name=name, staff=True, roles=roles or ["expert"], topics=topics, region=region, tz=tz
    )
    actor = await core.people.actor_by_email(email, channel="console")
    assert actor is not None
    return actor


async def set_away(core: Core, actor: Actor, away: bool = True) -> None:
    async with core.db.transaction() as session:
        await session.execute(update(Person).where(Person.id == actor.person_id).values(away=away))


async def link(core: Core, actor: Actor, platform: str, workspace: str, external_id: str) -> Actor:
    """A chat identity with a conversation reference, as a handler stores it on first contact; returns
    the actor as that platform's handler would build it."""
    await core.people.add_user(
        email=actor.email,
        name=actor.name,
        staff=actor.is_staff,
        partner=None if actor.is_staff else await partner_name(core, actor),
        roles=actor.roles,
        topics=await topics_of(core, actor),
        identities=[(platform, workspace, external_id)],
    )
    found = await core.people.identify(
        platform=platform,
        workspace=workspace,
        external_id=external_id,
        conversation=ConversationRef(
            platform, workspace, external_id, {"conversation_id": f"dm-{external_id}"}
        ),
    )
    assert found is not None and found.channel == platform
    return found


async def partner_name(core: Core, actor: Actor) -> str:
    async with core.db.transaction() as session:
        partner = await queries.partner_by_id(session, actor.partner_id or 0)
        assert partner is not None
        return partner.name


async def topics_of(core: Core, actor: Actor) -> list[str]:
    async with core.db.transaction() as session:
        person = await queries.person_by_id(session, actor.person_id)
        assert person is not None
        return list(person.topics or [])


async def question(core: Core, number: int) -> Question:
    async with core.db.transaction() as session:
        found = await qq.question_by_number(session, number)
        assert found is not None
        return found


async def question_count(core: Core) -> int:
    async with core.db.transaction() as session:
        return len((await session.execute(select(Question))).scalars().all())


def sent_to(notifier: RecordingNotifier, who: object) -> list:
    return [reply for w, reply in notifier.sent if w == who]


# -- 2. knowledge first ---------------------------------------------------------------------------


async def test_kb_answer_above_the_threshold_with_its_use_counted(qcore: Core, world: World) -> None:
    dana = Chat(qcore, world.dana)
    out = await dana.say(
        "add to kb: How do I claim MDF? Submit the claim in the partner portal within 30 days of the activity."
    )
    assert "Added KB-1 in the knowledge base" in out

    alice = Chat(qcore, world.alice)
    out = await alice.say("how can I claim my MDF funds?")
    assert "Q-1 · from our knowledge base" in out
    assert "Submit the claim in the partner portal within 30 days" in out
    assert "[1] That answers it  [2] Ask a person" in out
    assert "How do I claim MDF?" not in out, "the entry's question is never quoted, only its answer"
    async with qcore.db.transaction() as session:
        assert [e.uses for e in await qq.active_kb_entries(session)] == [1]
        assert await queries.outbox_for(session) == [], "nobody is bothered when the KB answers"

    out = await alice.click("That answers it")
    assert "Glad that helped! Q-1 is closed" in out
    assert (await question(qcore, 1)).status == "closed"

    out = await alice.say("is Edge Gateway certified for HIPAA?")
    assert "knowledge base" not in out and "Q-2" in out, "below the threshold the question goes to a person"


async def test_ask_a_person_after_a_kb_answer_routes_the_same_question(qcore: Core, world: World) -> None:
    notifier = RecordingNotifier()
    await reachable(qcore, world.ed)
    await Chat(qcore, world.dana).say(
        "add to kb: How do I claim MDF? Submit the claim in the partner portal within 30 days."
    )
    alice = Chat(qcore, world.alice)
    await alice.say("question: how do I claim my MDF?")
    out = await alice.click("Ask a person")
    assert "I've passed your question to Ed Expert as Q-1" in out
    assert "You can expect an answer by Fri 27 Nov 2026, 11:00 CET" in out, "shown in Alice's time zone"
    await deliver(qcore, notifier)
    card = notifier.texts_for(world.ed.person_id)
    assert "New question Q-1" in card and "Northwind Partners" in card
    assert "The knowledge base suggested KB-1; the partner asked for a person." in card
    assert "[1] Claim  [2] Answer  [3] Reassign" in card
    assert await question_count(qcore) == 1
    out = await alice.click("My questions") if alice.buttons else await alice.say("my questions")
    assert "Q-1 · with Ed Expert" in out


# -- 3. routing -----------------------------------------------------------------------------------


async def test_routing_by_topic_and_region_round_robin_skipping_people_away(
    qcore: Core, world: World
) -> None:
    erin = await staff(qcore, "erin@vendor.example", "Erin Weber", topics=["pricing"], region="EMEA")
    pia = await staff(qcore, "pia@vendor.example", "Pia Lund", topics=["pricing"], region="EMEA")
    nate = await staff(qcore, "nate@vendor.example", "Nate Ross", topics=["pricing"], region="NA")
    alice, alex, bob = Chat(qcore, world.alice), Chat(qcore, world.alex), Chat(qcore, world.bob)

    assert "passed your question to Erin Weber as Q-1" in await alice.say("who approves my discount?")
    assert "passed your question to Pia Lund as Q-2" in await alex.say("how do I get a quote for 500 seats?")
    assert "passed your question to Erin Weber as Q-3" in await alice.say(
        "what is the price of Edge Gateway?"
    )
    await set_away(qcore, erin)
    assert "to Pia Lund as Q-4" in await alex.say("can we offer a special discount to a school?")
    await set_away(qcore, pia)
    out = await alice.say("is there a margin bonus on renewals?")
    assert "to Dana Reyes as Q-5" in out, "no EMEA pricing expert is in: Northwind's channel manager"
    assert "to Nate Ross as Q-6" in await bob.say("who approves my discount?"), "NA goes to the NA expert"
    assert "to Ed Expert as Q-7" in await bob.say("how do I claim marketing funds?"), "no region serves all"
    out = await bob.say("can I bring a colleague to the partner summit?")
    assert "to Carl Meyer as Q-8" in out, "no topic: Contoso's channel manager"
    assert [(await question(qcore, n)).topic for n in (1, 2, 6, 7, 8)] == [
        "pricing",
        "pricing",
        "pricing",
        "mdf",
        None,
    ]
    assert erin.person_id != nate.person_id


async def test_vendor_channel_when_no_expert_and_no_channel_manager(vcore: Core, clock: FakeClock) -> None:
    world = await make_world(vcore)
    await set_away(vcore, world.dana)
    slack = RecordingNotifier("slack")
    out = await Chat(vcore, world.alice).say("can I bring a colleague to the partner summit?")
    assert "passed your question to our partner team as Q-1" in out
    await deliver(vcore, slack)
    assert "New question Q-1" in slack.texts_for("vendor")
    assert (await question(vcore, 1)).status == "open"


# -- 4. answer through the form, relayed cross-platform ------------------------------------------


async def test_teams_asker_answered_by_a_slack_expert_through_the_form(qcore: Core, world: World) -> None:
    slack, teams = RecordingNotifier("slack"), RecordingNotifier("teams")
    ed = await link(qcore, world.ed, "slack", "TVENDOR", "UED")
    alice_teams = await link(qcore, world.alice, "teams", "tenant-northwind", "aad-alice")
    await link(qcore, world.alice, "slack", "TNORTH", "UALICE")  # Slack is now her most recent identity

    out = await Chat(qcore, alice_teams).say("how do I claim MDF for a trade show?")
    assert "passed your question to Ed Expert as Q-1" in out
    assert (await question(qcore, 1)).platform == "teams"
    await deliver(qcore, slack, teams)
    card = sent_to(slack, world.ed.person_id)[-1]
    assert (
        card.title == "New question Q-1" and card.form is not None and card.form.form_id == "question.answer"
    )
    assert [b.label for b in card.buttons][:3] == ["Claim", "Answer", "Reassign"]

    expert = Chat(qcore, ed)
    expert.buttons = card.buttons
    out = await expert.click("Answer")
    assert "Type your answer" in out and "how do I claim MDF for a trade show?" in out
    result = await expert.submit(
        "question.answer",
        {"answer": "Open Partner Portal > MDF > New claim and attach the invoice."},
        data={"ref": "Q-1"},
    )
    assert result.ok
    assert "Answer sent to Alice Novak (Northwind Partners) on Q-1" in expert._read(result.replies)
    await deliver(qcore, slack, teams)
    relayed = teams.texts_for(world.alice.person_id)
    assert "Answer to Q-1" in relayed and "Open Partner Portal > MDF > New claim" in relayed
    assert "[1] Helpful  [2] Follow up" in relayed
    assert sent_to(slack, world.alice.person_id) == [], (
        "the answer goes where she asked, not where she was last"
    )
    assert any("Q-1 answered by Ed Expert" in (r.title or "") for _, r in slack.updated), "the card updates"
    assert await Chat(qcore, ed).say("questions") == "No questions wait for you."


async def test_slack_asker_answered_by_a_teams_expert(qcore: Core, world: World) -> None:
    slack, teams = RecordingNotifier("slack"), RecordingNotifier("teams")
    nate = await staff(qcore, "nate@vendor.example", "Nate Ross", topics=["pricing"], region="NA")
    nate_teams = await link(qcore, nate, "teams", "tenant-vendor", "aad-nate")
    bob_slack = await link(qcore, world.bob, "slack", "TCONTOSO", "UBOB")
    await link(qcore, world.bob, "teams", "tenant-contoso", "aad-bob")  # Teams is now his most recent

    await Chat(qcore, bob_slack).say("who approves my discount?")
    await deliver(qcore, slack, teams)
    assert "New question Q-1" in teams.texts_for(nate.person_id)
    out = await Chat(qcore, nate_teams).say(
        "answer Q-1: Discounts up to 20% are yours; above that, ask your CM."
    )
    assert "Answer sent to Bob Chen (Contoso Integrators) on Q-1" in out
    await deliver(qcore, slack, teams)
    assert "Discounts up to 20% are yours" in slack.texts_for(world.bob.person_id)
    assert sent_to(teams, world.bob.person_id) == []


# -- follow-up ------------------------------------------------------------------------------------


async def test_follow_up_continues_the_same_question_with_the_same_expert(qcore: Core, world: World) -> None:
    notifier = RecordingNotifier()
    fay = await staff(qcore, "fay@vendor.example", "Fay Young", topics=["mdf"])
    await reachable(qcore, world.alice, world.ed, fay)
    alice = Chat(qcore, world.alice)
    await alice.say("how do I claim MDF for a webinar?")
    await Chat(qcore, world.ed).say("answer Q-1: Claim it in the portal with the attendee list.")
    assert "to Fay Young as Q-2" in await Chat(qcore, world.alex).say("how do I claim MDF for a booth?")

    await deliver(qcore, notifier)
    alice.buttons = sent_to(notifier, world.alice.person_id)[-1].buttons
    out = await alice.click("Follow up")
    assert "What would you like to add to Q-1?" in out
    out = await alice.say("Do you need the attendee emails too, or just the count?")
    assert "Added to Q-1; Ed Expert has it." in out, "back to the expert who answered, not the next in turn"
    q1 = await question(qcore, 1)
    assert (q1.status, q1.assignee_id) == ("assigned", world.ed.person_id)
    await deliver(qcore, notifier)
    assert "Follow-up on Q-1 from Alice Novak" in notifier.texts_for(world.ed.person_id)
    assert "Do you need the attendee emails too" in notifier.texts_for(world.ed.person_id)

    await Chat(qcore, world.ed).say("answer Q-1: Just the count.")
    await deliver(qcore, notifier)
    assert "Just the count." in notifier.texts_for(world.alice.person_id)
    assert await question_count(qcore) == 2
    out = await alice.say("Q-1")
    assert "You asked: how do I claim MDF for a webinar?" in out
    assert (
        "You added: Do you need the attendee emails too" in out
        and "Ed Expert answered: Just the count." in out
    )
    assert "Claimed" not in out and "·" not in out.split("==")[-1], "no staff notes for partners"


# -- 5. SLA ---------------------------------------------------------------------------------------


async def test_unanswered_past_the_sla_escalates_to_the_channel_manager_then_the_vendor_channel(
    vcore: Core, clock: FakeClock
) -> None:
    world = await make_world(vcore)
    notifier, slack = RecordingNotifier(), RecordingNotifier("slack")
    await reachable(vcore, world.ed, world.dana)
    await Chat(vcore, world.alice).say("how do I claim MDF for a webinar?")  # Thu 26 Nov 10:00 UTC
    assert (await question(vcore, 1)).due_at == datetime(2026, 11, 27, 10, 0)  # one business day, Ed's tz

    assert await escalate_questions(vcore, datetime(2026, 11, 27, 9, 59)) == "escalated 0 question(s)"
    assert await escalate_questions(vcore, datetime(2026, 11, 27, 10, 1)) == "escalated 1 question(s): Q-1"
    assert await escalate_questions(vcore, datetime(2026, 11, 27, 10, 1)) == "escalated 0 question(s)"
    q1 = await question(vcore, 1)
    assert (q1.assignee_id, q1.escalation_level) == (world.dana.person_id, 1)
    assert q1.due_at == datetime(2026, 11, 30, 10, 1), "a new business day for Dana, over the weekend"
    await deliver(vcore, notifier, slack)
    told = notifier.texts_for(world.dana.person_id)
    assert "Escalated: Q-1 from Northwind Partners is unanswered" in told and "(was with Ed Expert)" in told

    out = await Chat(vcore, world.alice).say("my questions")
    assert "Q-1 · with Dana Reyes" in out and "Answer expected by Mon 30 Nov 2026, 11:01 CET" in out

    assert await escalate_questions(vcore, datetime(2026, 11, 30, 10, 2)) == "escalated 1 question(s): Q-1"
    await deliver(vcore, notifier, slack)
    assert "Escalated: Q-1" in slack.texts_for("vendor")
    assert await escalate_questions(vcore, datetime(2026, 12, 30)) == "escalated 0 question(s)", (
        "nothing further"
    )
    out = await Chat(vcore, world.dana).say("Q-1")
    assert "Escalated to Dana Reyes: unanswered past the SLA (was with Ed Expert)." in out
    assert "Escalated to the vendor channel" in out
    async with vcore.db.transaction() as session:
        assert [a.action for a in await queries.audit_of(session, "Q-1")] == [
            "question.ask",
            "question.escalate",
            "question.escalate",
        ]


async def test_an_answer_in_time_stops_the_clock(qcore: Core, world: World, clock: FakeClock) -> None:
    await Chat(qcore, world.alice).say("how do I claim MDF for a webinar?")
    await Chat(qcore, world.ed).say("claim Q-1")
    await Chat(qcore, world.ed).say("answer Q-1: In the portal.")
    assert await escalate_questions(qcore, datetime(2027, 1, 1)) == "escalated 0 question(s)"


# -- save to KB -----------------------------------------------------------------------------------


async def test_save_to_kb_in_one_click_without_the_askers_identity(qcore: Core, world: World) -> None:
    notifier = RecordingNotifier()
    await reachable(qcore, world.ed, world.bob)
    await Chat(qcore, world.alice).say(
        "Hi, this is Alice Novak from Northwind Partners - how do we get reimbursed for a webinar under MDF?"
    )
    ed = Chat(qcore, world.ed)
    await ed.say("answer Q-1: Alice, file an MDF claim with the invoice and the attendee count.")
    out = await ed.click("Save to KB")
    assert "Added KB-1 in the knowledge base" in out
    assert "I took out the asker's name and organisation" in out
    for secret in ("Alice", "Novak", "Northwind"):
        assert secret not in out
    assert "file an MDF claim with the invoice" in out

    await ed.click("Edit")
    form = ed.replies[0].form
    assert form is not None and form.form_id == "question.kb_add" and form.data == {"kb": "KB-1"}
    assert form.fields[0].value == "Hi, this is from - how do we get reimbursed for a webinar under MDF?"
    result = await ed.submit(
        "question.kb_add",
        {
            "question": "How do we get reimbursed for a webinar under MDF?",
            "answer": "File an MDF claim with the invoice and the attendee count.",
            "topic": "mdf",
            "tags": "webinar; reimbursement",
        },
        data={"kb": "KB-1"},
    )
    assert result.ok and "Updated KB-1" in ed._read(result.replies)
    assert "Q-1 is already in the knowledge base as KB-1." in await ed.say("save Q-1 to kb")

    bob = Chat(qcore, world.bob)
    out = await bob.say("how do we get reimbursed for a webinar under MDF?")
    assert "from our knowledge base" in out and "File an MDF claim with the invoice" in out
    for secret in ("Alice", "Northwind", "Q-1", "this is"):
        assert secret not in out
    await deliver(qcore, notifier)
    assert "Alice" not in notifier.texts_for(world.bob.person_id)


# -- 6. privacy -----------------------------------------------------------------------------------


async def test_no_leak_between_partners(qcore: Core, world: World) -> None:
    notifier = RecordingNotifier()
    await reachable(qcore, world.alice, world.alex, world.bob, world.ed)
    alice, bob = Chat(qcore, world.alice), Chat(qcore, world.bob)
    await alice.say("how do I claim MDF for the Globex roadshow in Munich?")

    missing = await bob.say("Q-99")
    assert missing == "I can't find Q-99 among your questions."
    assert await bob.say("Q-1") == "I can't find Q-1 among your questions."
    assert await bob.say("follow up Q-1: any news?") == "I can't find Q-1 among your questions."
    for action in (
        "question.show",
        "question.helpful",
        "question.followup",
        "question.ask_person",
        "question.answer",
        "question.save_kb",
    ):
        replies = await qcore.conversation.handle_action(world.bob, action, {"ref": "Q-1"})
        assert replies[0].text == "I can't find Q-1 among your questions.", action
    result = await bob.submit("question.followup", {"text": "me too"}, data={"ref": "Q-1"})
    assert result.replies[0].text == "I can't find Q-1 among your questions."
    assert "Globex" not in await bob.say("my questions")

    out = await bob.say("how do I claim MDF for the Globex roadshow in Munich?")
    assert "Q-2" in out and "knowledge base" not in out, "other partners' questions are never suggestions"
    await Chat(qcore, world.ed).say("answer Q-1: Use the event template.")
    await deliver(qcore, notifier)
    assert "Use the event template." in notifier.texts_for(world.alice.person_id)
    assert "Use the event template." not in notifier.texts_for(world.bob.person_id)
    assert notifier.texts_for(world.alex.person_id) == "", "only the asker is told"
    assert "Q-1" not in notifier.texts_for(world.bob.person_id)
    assert "Q-1" in await Chat(qcore, world.alex).say("Q-1"), "colleagues of the same partner may look it up"
    out = await bob.say("I would like to know more about Q-1 and the roadshow in Munich")
    assert out == "I can't find Q-1 among your questions."
    out = await alice.say("I would like to know more about Q-1 and the roadshow in Munich")
    assert "To add to Q-1, say 'follow up Q-1: …'" in out and "Use the event template." in out


# -- status, detection, permissions, bad input -------------------------------------------------------


async def test_partners_see_the_status_of_their_questions(qcore: Core, world: World) -> None:
    alice = Chat(qcore, world.alice)
    assert "You haven't asked anything yet" in await alice.say("my questions")
    await alice.say("how do I claim MDF for a webinar?")
    await alice.say("can I bring a colleague to the partner summit?")
    await Chat(qcore, world.dana).say("claim Q-2")
    out = await alice.say("my questions")
    assert "Q-2 · Dana Reyes is working on it" in out and "Q-1 · with Ed Expert" in out
    out = await alice.say("status of Q-1")
    assert "Answer expected by: Fri 27 Nov 2026, 11:00 CET" in out and "[1] Add details" in out


@pytest.mark.parametrize(
    "text",
    [
        "what's the status of the Initech deal?",
        "what's new?",
        "D-3?",
        "can you show my deals?",
        "is lead L-4 still open?",
        "how are you today?",
        "register a deal for Globex, 10k USD",
    ],
)
async def test_messages_that_are_not_questions_are_left_to_others(
    qcore: Core, world: World, text: str
) -> None:
    await Chat(qcore, world.alice).say(text)
    assert await question_count(qcore) == 0


@pytest.mark.parametrize(
    "text",
    [
        "how do I claim MDF?",
        "is product X certified for Y?",
        "who approves my discount?",
        "question: pricing for the gold tier",
        "ask where the logo files are",
        "how do I reset the partner portal password",
    ],
)
async def test_questions_are_recognised(qcore: Core, world: World, text: str) -> None:
    out = await Chat(qcore, world.alice).say(text)
    assert "Q-1" in out
    assert await question_count(qcore) == 1


async def test_a_question_that_also_gives_an_amount_is_confirmed_before_it_goes_to_a_person(
    qcore: Core, world: World
) -> None:
    """ "does MDF pay for a roadshow, about 5k EUR": a question, or a request with its amount? Nothing
    goes to a person until the partner says it is a question; a number that is no amount changes
    nothing ("ISO 27001", "version 4.2")."""
    alice = Chat(qcore, world.alice)
    out = await alice.say("is there a limit on funds for a golf day with customers, ~3k?")
    assert "it gives an amount" in out and out.rstrip().endswith("[1] Yes  [2] No")
    assert await question_count(qcore) == 0
    assert "Q-1" in await alice.click("Yes")
    assert await question_count(qcore) == 1
    # where a request fits the message as well, both are offered
    out = await alice.say("does MDF pay for a partner roadshow with customers, about 5k EUR")
    assert "[1] Request MDF  [2] Ask the vendor this as a question" in out
    assert await question_count(qcore) == 1
    assert "Q-2" in await alice.say("is Cloud Suite ISO 27001 certified, version 4.2?")


async def test_staff_commands_and_what_partners_may_not_do(qcore: Core, world: World) -> None:
    alice, ed, dana = Chat(qcore, world.alice), Chat(qcore, world.ed), Chat(qcore, world.dana)
    await alice.say("how do I claim MDF for a webinar?")
    assert "Vendor staff answer questions" in await alice.say("claim Q-1")
    assert "Vendor staff answer questions" in await alice.say("answer Q-1: yes")
    assert "curate the knowledge base" in await alice.say("add to kb: a? b")
    out = await ed.say("how do I claim MDF?")  # staff don't ask, they answer: what they can do instead
    assert (
        "passed your question" not in out and "Questions are asked by partners and answered by staff" in out
    )

    assert "You claimed Q-1" in await ed.say("claim Q-1")
    assert "Q-1 is claimed by Ed Expert; use Reassign to take it over." in await dana.say("claim Q-1")
    out = await dana.say("reassign Q-1")
    assert "Who should answer Q-1?" in out and "Reassign Q-1" in out
    assert "I don't know a staff member 'Zed'" in await dana.say("Zed")
    result = await dana.submit("question.reassign", {"person": "carl@vendor.example"}, data={"ref": "Q-1"})
    assert "Q-1 is now with Carl Meyer" in dana._read(result.replies)
    assert "Q-1" in await Chat(qcore, world.carl).say("questions")

    result = await dana.submit("question.answer", {"answer": ""}, data={"ref": "Q-1"})
    assert result.errors == {"answer": "Write the answer the partner should read."}
    out = await dana.say("add to kb: there is no question mark here")
    assert "Write it as 'add to kb: question? answer'" in out
    result = await dana.submit(
        "question.kb_add", {"question": "Where are logos?", "answer": "", "topic": "brand"}
    )
    assert set(result.errors) == {"answer"}
    result = await dana.submit(
        "question.kb_add", {"question": "Where are logos?", "answer": "Portal", "topic": "a/b"}
    )
    assert set(result.errors) == {"topic"}
    async with qcore.db.transaction() as session:
        assert await qq.kb_count(session) == 0, "bad input writes nothing"

    await Chat(qcore, world.carl).say("answer Q-1: Claim it in the portal.")
    assert "Q-1 is already answered." in await ed.say("claim Q-1")
    await alice.say("Q-1")
    assert "Glad that helped! Q-1 is closed" in await alice.click("Helpful")
    assert "Q-1 is closed." in await ed.say("answer Q-1: one more thing")


async def test_help_and_home_mention_questions(qcore: Core, world: World) -> None:
    assert "how do I claim MDF?" in await Chat(qcore, world.alice).say("help")
    assert "answer Q-3: …" in await Chat(qcore, world.dana).say("help")
    await Chat(qcore, world.alice).say("how do I claim MDF for a webinar?")
    home = await qcore.conversation.home(world.ed)
    assert any("Questions waiting" == (r.title or "") for r in home)
    partner_home = await qcore.conversation.home(world.alice)
    assert any(b.action == "question.ask" for r in partner_home for b in r.buttons)


async def test_ask_with_nothing_opens_the_form_and_a_typed_question_follows(
    qcore: Core, world: World
) -> None:
    alice = Chat(qcore, world.alice)
    out = await alice.say("ask")
    assert "What would you like to know?" in out and "(form: Ask a question" in out
    out = await alice.say("Where do I find the partner logo pack")
    assert "Q-1" in out
    result = await alice.submit("question.ask", {"question": "   "})
    assert set(result.errors) == {"question"}
    assert await question_count(qcore) == 1


async def test_a_retried_button_click_changes_nothing_twice(qcore: Core, world: World) -> None:
    await Chat(qcore, world.alice).say("how do I claim MDF for a webinar?")
    async with qcore.db.transaction() as session:
        before = len(await queries.outbox_for(session))
    for _ in range(2):
        await qcore.conversation.handle_action(
            world.ed, "question.claim", {"ref": "Q-1"}, request_key="evt-9"
        )
    async with qcore.db.transaction() as session:
        rows = (await session.execute(select(OutboxMessage))).scalars().all()
    assert len(rows) == before + 1


async def test_a_dialog_yields_to_a_new_request_and_takes_a_typed_answer(qcore: Core, world: World) -> None:
    await Chat(qcore, world.alice).say("how do I claim MDF for a webinar?")
    ed = Chat(qcore, world.ed)
    await ed.say("Q-1")
    assert "Type your answer" in await ed.click("Answer")
    out = await ed.say("pending")
    assert "Nothing waits for review." in out, "a deal command mid-dialog is answered, not sent as the answer"
    assert (await question(qcore, 1)).status == "assigned"
    out = await ed.say("Use the MDF claim form in the portal; webinars count as events.")
    assert "Answer sent to Alice Novak (Northwind Partners) on Q-1" in out
    assert (await question(qcore, 1)).status == "answered"

    alice = Chat(qcore, world.alice)
    await alice.say("Q-1")
    await alice.click("Follow up")
    assert "No open deals" in await alice.say("show my deals")
    assert (await question(qcore, 1)).status == "answered", "the follow-up dialog waits"
    assert "Added to Q-1; Ed Expert has it." in await alice.say("And do recordings count as attendance?")


async def test_staff_work_on_a_question_in_other_words(qcore: Core, world: World) -> None:
    """Claim, reassign and save to the knowledge base are intents of their own: other wordings than
    the commands in 'help' do the same, and a partner typing them is told they are staff's."""
    await Chat(qcore, world.alice).say("how do I claim MDF for a webinar?")
    ed, dana = Chat(qcore, world.ed), Chat(qcore, world.dana)
    assert "You claimed Q-1" in await ed.say("I'll take Q-1")
    assert "Vendor staff answer questions" in await Chat(qcore, world.alice).say("reassign Q-1 to me")
    out = await ed.say("hand Q-1 over to carl@vendor.example")
    assert "Q-1 is now with Carl Meyer" in out
    await Chat(qcore, world.carl).say("answer Q-1: Claim it in the portal with the attendee list.")
    assert "Added KB-1 in the knowledge base" in await dana.say("put Q-1 in the knowledge base")
    assert "What would you like to know?" in await Chat(qcore, world.alice).say("I have a question")
