"""A partner talks to partnerbot in Teams: plain words, cards and forms, welcome, unknown people.

Everything goes through the real aiohttp app (``POST /api/messages``) and the answers are read from
what the bot sent to the stand-in Bot Connector.
"""

from __future__ import annotations

from sqlalchemy import func, select

from bot.people import UNKNOWN_PERSON_TEXT
from store import queries
from store.deal_models import Deal
from store.models import ChatIdentity, ProcessedRequest
from tests.teams.teams_harness import BOT, CARD_TYPE, USERS, Teams, card_actions, find_action

ALICE, DANA, MALLORY = USERS["alice"], USERS["dana"], USERS["mallory"]


async def _count(teams: Teams, model: type, *where: object) -> int:
    async with teams.core.db.transaction() as session:
        return int(
            (await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()
        )


def _inputs(card: dict) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for element in card["body"]:
        if str(element.get("type", "")).startswith("Input."):
            found[element["id"]] = element
    return found


async def test_partner_registers_a_deal_by_conversation(teams: Teams) -> None:
    """(a) One question at a time, in plain words; the deal is registered once confirmed."""
    turns = [
        ("register", "Which customer is the deal with?"),
        ("Globex Corporation", "Which product or solution?"),
        ("Cloud Suite", "What is the deal worth?"),
        ("120k USD", "When do you expect it to close?"),
        ("end of March", "Register this deal?"),
    ]
    for text, expected in turns:
        answers = await teams.say(ALICE, text)
        assert len(answers) == 1 and answers[0].kind == "reply"
        assert expected in answers[0].text, (text, answers[0].text)
    summary = answers[0]
    assert "120,000 USD" in summary.text and "31 Mar 2027" in summary.text
    # Plain questions are plain-text messages; anything with buttons or facts is a card.
    question = teams.connector.to(ALICE)[0]
    assert question.body["text"].startswith("Which customer") and question.body.get("textFormat") == "plain"
    assert not question.cards()

    (done,) = await teams.say(ALICE, "yes")
    assert "Thanks! D-1 is registered and waiting for review" in done.text
    assert done.card["actions"][0]["title"] == "Update"

    deal = await teams.core.deals.get(teams.world.alice, "D-1", history=True)
    assert (deal.customer, deal.product, str(deal.amount.amount), deal.status) == (
        "Globex Corporation",
        "Cloud Suite",
        "120000.00",
        "pending",
    )
    assert {h.channel for h in deal.history} == {"teams"}
    # The reply went to the message it answers, in Alice's chat.
    assert done.body["replyToId"].startswith("in-") and done.conversation == ALICE.conversation


async def test_partner_registers_a_deal_by_card(teams: Teams) -> None:
    """(b) Help card -> registration form -> errors shown on the form -> registered (the form showed
    every detail at once: it is the review); each step replaces the card the person clicked (the card
    the Action.Execute invoke answers with)."""
    (help_card,) = await teams.say(ALICE, "help")
    assert "Here's what I can do" in help_card.text

    (form_card,) = await teams.click(ALICE, help_card, "Register a deal")
    assert form_card.kind == "invoke" and form_card.activity_id == help_card.activity_id
    inputs = _inputs(form_card.card)
    assert set(inputs) == {"customer", "domain", "country", "product", "amount", "close_date", "notes"}
    assert inputs["product"]["type"] == "Input.ChoiceSet" and inputs["product"]["style"] == "compact"
    assert {c["value"] for c in inputs["product"]["choices"]} == {
        "Cloud Suite",
        "Edge Gateway",
        "Security Pack",
    }
    assert inputs["notes"]["isMultiline"] is True
    assert inputs["customer"]["isRequired"] is True and inputs["customer"]["label"] == "Customer company"
    assert "isRequired" not in inputs["domain"]

    # Missing amount and an impossible close date: nothing is written, the form comes back with the
    # values kept and one attention line per field.
    (errors,) = await teams.click(
        ALICE,
        form_card,
        "Register",
        inputs={
            "customer": "Initech GmbH",
            "domain": "",
            "country": "DE",
            "product": "Cloud Suite",
            "amount": "",
            "close_date": "last year",
            "notes": "*urgent* <at>Bob</at>",
        },
    )
    assert errors.kind == "invoke" and errors.activity_id == help_card.activity_id
    again = _inputs(errors.card)
    assert again["customer"]["value"] == "Initech GmbH" and again["notes"]["value"] == "*urgent* <at>Bob</at>"
    attention = [b["text"] for b in errors.card["body"] if b.get("color") == "attention"]
    assert any("What is the deal worth" in t for t in attention)
    assert len(attention) >= 3  # the notice, amount, close date
    assert await _count(teams, Deal) == 0

    (registered,) = await teams.click(
        ALICE,
        errors,
        "Register",
        inputs={
            "customer": "Initech GmbH",
            "domain": "initech.example",
            "country": "DE",
            "product": "Cloud Suite",
            "amount": "85k EUR",
            "close_date": "2027-02-15",
            "notes": "*urgent* <at>Bob</at>",
        },
    )
    assert registered.kind == "invoke" and registered.activity_id == help_card.activity_id
    assert "D-1 is registered" in registered.text and "Register this deal?" not in registered.text
    assert "85,000 EUR" in registered.text
    deal = await teams.core.deals.get(teams.world.alice, "D-1")
    assert (deal.customer, deal.domain, deal.country, deal.amount.currency) == (
        "Initech GmbH",
        "initech.example",
        "DE",
        "EUR",
    )
    assert deal.notes == "*urgent* <at>Bob</at>"  # kept as typed; cards show it literally


async def test_list_item_click_opens_below_and_keeps_the_list(teams: Teams) -> None:
    await teams.say(ALICE, "register a deal for Globex, 120k USD of Cloud Suite, closing end of March")
    await teams.say(ALICE, "yes")
    (listing,) = await teams.say(ALICE, "show my deals")
    open_button = find_action(listing.card, "Open")
    assert open_button["data"]["pb"] == {"a": "deal.show", "d": {"ref": "D-1"}, "s": 1}
    (done, opened) = await teams.click(ALICE, listing, "Open")
    assert done.kind == "invoke" and not done.cards()  # the list stays as it is
    assert opened.kind == "reply" and "D-1 · Globex" in opened.text
    assert not teams.connector.updates(listing.activity_id)


async def test_plain_line_after_a_click_does_not_hide_the_card(teams: Teams) -> None:
    """A text-only answer (an error, "cancelled") follows the card instead of replacing it."""
    (summary,) = await teams.say(
        ALICE, "register a deal for Globex, 120k USD of Cloud Suite, closing end of March"
    )
    (cancelled,) = await teams.click(ALICE, summary, "Cancel")
    assert cancelled.kind == "invoke" and cancelled.body["text"] == "Cancelled. Nothing was saved."
    assert not teams.connector.updates(summary.activity_id)
    (late,) = await teams.click(ALICE, summary, "Confirm")
    assert late.kind == "invoke" and "already sent or cancelled" in late.body["text"]
    assert await _count(teams, Deal) == 0


async def test_unknown_person_gets_a_polite_text_and_nothing_else(teams: Teams) -> None:
    """(g) Someone from a tenant no partner uses: one plain text, no data, nothing stored."""
    answers = await teams.say(MALLORY, "show my deals")
    assert [a.body.get("text") for a in answers] == [UNKNOWN_PERSON_TEXT]
    assert not answers[0].cards()
    # The bot asked Teams who it was (the e-mail), and then stored nothing.
    assert [c.kind for c in teams.connector.calls] == ["member", "reply"]
    assert await _count(teams, ChatIdentity, ChatIdentity.platform == "teams") == 0
    assert await _count(teams, ProcessedRequest) == 0

    # A click from a card someone forwarded is answered the same way.
    value = {"pb": {"a": "deal.approve", "d": {"ref": "D-1"}}}
    response = await teams.post(teams.activity(MALLORY, value=value, replyToId="act-99"))
    assert response.status in (200, 201)
    assert [c.body.get("text") for c in teams.connector.to(MALLORY)] == [UNKNOWN_PERSON_TEXT] * 2


async def test_first_message_links_the_person_by_their_teams_email(teams: Teams) -> None:
    (answer,) = await teams.say(ALICE, "show my deals")
    assert "No open deals" in answer.body["text"]
    async with teams.core.db.transaction() as session:
        (identity,) = await queries.identities_of(session, teams.world.alice.person_id)
        assert (identity.platform, identity.workspace, identity.external_id) == (
            "teams",
            "tenant-northwind",
            "aad-alice",
        )
        reference = identity.conversation_ref["extras"]["reference"]
    assert reference["conversation"]["id"] == ALICE.conversation
    assert reference["serviceUrl"] == teams.connector.url
    assert reference["conversation"]["tenantId"] == "tenant-northwind"
    assert "activityId" not in reference
    # Linked now: the next message needs no member lookup.
    teams.connector.clear()
    await teams.say(ALICE, "help")
    assert [c.kind for c in teams.connector.calls] == ["reply"]


async def test_emulator_without_tenant_or_aad_id(teams: Teams) -> None:
    await teams.core.people.add_user(
        email="alex@northwind.example",
        name="Alex Roth",
        partner="Northwind Partners",
        identities=[("teams", "emulator", "emu-user-1")],
    )
    activity = {
        "type": "message",
        "id": "emu-1",
        "serviceUrl": teams.connector.url,
        "channelId": "emulator",
        "from": {"id": "emu-user-1", "name": "User"},
        "recipient": {"id": "emu-bot", "name": "Bot"},
        "conversation": {"id": "emu-conv-1"},
        "text": "help",
    }
    response = await teams.post(activity)
    assert response.status in (200, 201)
    (answer,) = teams.connector.to("emu-conv-1")
    assert "Here's what I can do" in answer.text


async def test_a_partner_in_a_group_chat_gets_their_data_privately_and_the_group_none(teams: Teams) -> None:
    """Before, the bot answered into the group: "show my deals" posted a partner's pipeline to everyone
    there. Now every answer goes to the person's 1:1 chat (opened or found through the connector), the
    group gets one line saying so, and later notifications go to the 1:1 chat too."""
    group = "19:sales-team@thread.v2"
    mention = [
        {
            "type": "mention",
            "mentioned": {"id": BOT["id"], "name": "partnerbot"},
            "text": "<at>partnerbot</at>",
        }
    ]
    for text in (
        "<at>partnerbot</at> register a deal for Globex, 120k USD of Cloud Suite, closing end of March",
        "<at>partnerbot</at> yes",
        "<at>partnerbot</at> show my deals",
    ):
        response = await teams.post(
            teams.activity(
                ALICE, text=text, entities=mention, conversation_type="groupChat", conversation_id=group
            )
        )
        assert response.status in (200, 201)
    in_group = teams.connector.to(group)
    assert [c.text for c in in_group] == [
        "Alice, I've answered you in our personal chat, so that only you see it."
    ] * 3
    private = teams.connector.to(ALICE)
    assert "Register this deal?" in private[0].text  # the mention was stripped: the text was read
    assert "D-1 is registered" in private[1].text
    assert "D-1" in private[2].text and "Globex" in private[2].text
    assert all("replyToId" not in c.body for c in private)
    creates = [c for c in teams.connector.calls if c.kind == "create"]
    assert creates and all(
        c.body["members"][0]["id"] == ALICE.id and c.body["isGroup"] is False for c in creates
    )

    dana_teams = await teams.core.people.actor_by_email("dana@vendor.example", channel="teams")
    assert dana_teams is not None
    await teams.core.conversation.handle_action(dana_teams, "deal.approve", {"ref": "D-1"})
    await teams.settle()
    # Alice's notification about her deal is not posted into the group chat either.
    assert len(teams.connector.to(group)) == 3
    assert "D-1 is approved: protected until 24 Feb 2027" in teams.connector.to(ALICE)[-1].text
    assert not any("Globex" in c.text or "D-1" in c.text for c in teams.connector.to(group))


async def test_staff_answers_in_a_shared_channel_go_to_their_personal_chat(teams: Teams) -> None:
    channel = "19:vendor-general@thread.tacv2"
    await teams.say(ALICE, "register a deal for Globex, 120k USD of Cloud Suite, closing end of March")
    await teams.say(ALICE, "yes")
    teams.connector.clear()
    await teams.say(DANA, "pending", conversation_type="channel", conversation_id=channel)
    (pointer,) = teams.connector.to(channel)
    assert pointer.text == "Dana, I've answered you in our personal chat, so that only you see it."
    (pending,) = teams.connector.to(DANA)
    assert "D-1" in pending.text and "Northwind" in pending.text


async def test_welcome_when_the_bot_is_added(teams: Teams) -> None:
    """Installing the bot greets once with the person's home; other updates greet nobody."""
    added = teams.activity(ALICE, type="conversationUpdate", membersAdded=[dict(BOT)])
    assert (await teams.post(added)).status in (200, 201)
    home = teams.connector.to(ALICE)
    assert "Hi Alice" in home[0].text and "No open deals" in home[1].text
    assert [a["title"] for a in card_actions(home[0].card)] == ["Register a deal", "My deals"]

    teams.connector.clear()
    assert (await teams.post(added)).status in (200, 201)
    assert teams.connector.to(ALICE) == [], "a redelivered conversationUpdate greets nobody twice"
    install = teams.activity(ALICE, type="installationUpdate", action="add")
    someone = teams.activity(ALICE, type="conversationUpdate", membersAdded=[ALICE.account()])
    for activity in (install, someone):
        assert (await teams.post(activity)).status in (200, 201)
    assert teams.connector.to(ALICE) == []

    # Staff get their queues.
    await teams.post(
        teams.activity(DANA, type="conversationUpdate", membersAdded=[DANA.account(), dict(BOT)])
    )
    assert "your queues" in teams.connector.to(DANA)[0].text


async def test_install_stores_the_reference_so_notifications_arrive(teams: Teams) -> None:
    assert (await teams.post(teams.activity(DANA, type="installationUpdate", action="add"))).status in (
        200,
        201,
    )
    assert teams.connector.to(DANA) == []
    await teams.core.conversation.handle_text(
        teams.world.alice, "register a deal for Globex, 120k USD of Cloud Suite, closing end of March"
    )
    await teams.core.conversation.handle_text(teams.world.alice, "yes")
    await teams.settle()
    (review,) = teams.connector.to(DANA)
    assert review.kind == "send" and "New registration D-1 from Northwind Partners" in review.text


async def test_unknown_person_is_welcomed_politely(teams: Teams) -> None:
    await teams.post(teams.activity(MALLORY, type="conversationUpdate", membersAdded=[dict(BOT)]))
    assert [c.body.get("text") for c in teams.connector.to(MALLORY)] == [UNKNOWN_PERSON_TEXT]


async def test_bot_added_to_a_team_says_hello_without_data(teams: Teams) -> None:
    channel = "19:general@thread.tacv2"
    await teams.post(
        teams.activity(
            ALICE,
            type="conversationUpdate",
            membersAdded=[dict(BOT)],
            conversation_type="channel",
            conversation_id=channel,
        )
    )
    (hello,) = teams.connector.to(channel)
    assert "write to me in a personal chat" in hello.body["text"] and not hello.cards()


async def test_action_execute_invoke_answers_with_the_card(teams: Teams) -> None:
    (help_card,) = await teams.say(ALICE, "help")
    invoke = teams.activity(
        ALICE,
        type="invoke",
        name="adaptiveCard/action",
        replyToId=help_card.activity_id,
        value={
            "action": {
                "type": "Action.Execute",
                "verb": "pb",
                "data": {"pb": {"a": "deal.register.start", "d": {}}},
            },
            "trigger": "manual",
        },
    )
    async with teams.session.post(teams.url + "/api/messages", json=invoke) as response:
        assert response.status == 200
        body = await response.json()
    assert body["statusCode"] == 200 and body["type"] == CARD_TYPE
    assert {e.get("id") for e in body["value"]["body"]} >= {"customer", "amount", "close_date"}
    # The card comes back in the invoke response; nothing else is posted.
    assert len(teams.connector.to(ALICE)) == 1

    plain = dict(
        invoke,
        id="in-plain",
        value={
            "action": {"type": "Action.Execute", "data": {"pb": {"a": "deals.list", "d": {"scope": "open"}}}}
        },
    )
    async with teams.session.post(teams.url + "/api/messages", json=plain) as response:
        body = await response.json()
    assert body["type"] == "application/vnd.microsoft.activity.message" and "No open deals" in body["value"]


async def test_the_turn_is_answered_once_stored_and_the_work_follows(teams: Teams) -> None:
    """Teams gets its HTTP answer as soon as the activity is stored; a redelivery is stored once; the
    answer goes out through the Bot Connector, as a reply to it, when a worker takes it up."""
    from store.inbox_models import InboxRequest

    await teams.core.inbox.stop()  # this process's worker is gone
    teams.core.inbox.start = lambda: None  # type: ignore[method-assign]
    activity = teams.activity(ALICE, text="show my deals")
    for _ in range(2):  # delivered, then redelivered with the same id
        async with teams.session.post(teams.url + "/api/messages", json=activity) as response:
            assert response.status == 201
    assert teams.connector.to(ALICE) == []
    async with teams.core.db.transaction() as session:
        stored = list((await session.execute(select(InboxRequest))).scalars())
    assert [(s.kind, s.status) for s in stored] == [("teams.turn", "pending")]

    await teams.core.inbox.drain()
    (answer,) = teams.connector.to(ALICE)
    assert answer.kind == "reply" and answer.body.get("replyToId") == activity["id"]


async def test_turns_share_one_connection_pool(teams: Teams, monkeypatch: object) -> None:
    """The Agents SDK builds a connector client (an aiohttp session) for every turn and closes it at
    the turn's end; partnerbot's client factory lends each of them one connection pool, so a turn opens
    no new connection to the Bot Connector."""
    import aiohttp
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    pools: list[aiohttp.TCPConnector] = []
    original = aiohttp.TCPConnector

    def counting(*args: object, **kwargs: object) -> aiohttp.TCPConnector:
        pool = original(*args, **kwargs)  # type: ignore[arg-type]
        pools.append(pool)
        return pool

    monkeypatch.setattr("handlers.teams.connector.aiohttp.TCPConnector", counting)
    for text in ("help", "show my deals", "help", "pending"):
        assert await teams.say(ALICE, text)
    assert len(pools) <= 1
