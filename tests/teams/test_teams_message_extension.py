"""The message extension: a search that finds only the searcher's own records, as cards to insert,
and "Register a deal from this message", a dialog filled in from the message's text."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from store.deal_models import Deal
from tests.teams.teams_harness import USERS, Teams, TeamsUser, card_actions, check_card, load_card_schema

ALICE, BOB, DANA, MALLORY = USERS["alice"], USERS["bob"], USERS["dana"], USERS["mallory"]


async def _invoke(
    teams: Teams, user: TeamsUser, name: str, value: dict[str, Any], **fields: Any
) -> tuple[int, Any]:
    activity = teams.activity(user, type="invoke", name=name, value=value, **fields)
    async with teams.session.post(teams.url + "/api/messages", json=activity) as response:
        body = await response.json() if response.content_type == "application/json" else None
        status = response.status
    await teams.core.inbox.drain()
    return status, body


async def _search(teams: Teams, user: TeamsUser, query: str | None) -> dict[str, Any]:
    parameters = (
        [{"name": "query", "value": query}]
        if query is not None
        else [{"name": "initialRun", "value": "true"}]
    )
    status, body = await _invoke(
        teams,
        user,
        "composeExtension/query",
        {"commandId": "searchRecords", "parameters": parameters, "queryOptions": {"skip": 0, "count": 25}},
    )
    assert status == 200, body
    for result in body["composeExtension"].get("attachments", []):
        check_card(load_card_schema(), result["content"])
    return body["composeExtension"]


def _inputs(card: dict[str, Any]) -> dict[str, Any]:
    return {e["id"]: e.get("value") for e in card["body"] if str(e.get("type", "")).startswith("Input.")}


async def _register(teams: Teams, user: TeamsUser, text: str) -> None:
    await teams.say(user, text)
    await teams.say(user, "yes")


async def test_search_finds_only_the_searchers_own_records(teams: Teams) -> None:
    await _register(teams, ALICE, "register a deal for Globex, 120k USD of Cloud Suite, closing end of March")
    await _register(teams, BOB, "register a deal for Hooli, 50k USD of Cloud Suite, closing end of May")

    found = await _search(teams, ALICE, "glob")
    assert found["type"] == "result"
    (result,) = found["attachments"]
    assert result["preview"]["content"]["title"].startswith("D-1")
    card = result["content"]
    # Inserted into a conversation it is seen by all there: no buttons; the searcher's view by refresh.
    assert card_actions(card) == [] and card["refresh"]["userIds"] == [ALICE.id]

    newest = await _search(teams, ALICE, None)  # the initial run: the newest records
    assert [a["preview"]["content"]["title"][:3] for a in newest["attachments"]] == ["D-1"]

    # Bob never finds Alice's deal, by name or by reference - and can't tell it exists.
    for query in ("globex", "D-1"):
        nothing = await _search(teams, BOB, query)
        assert nothing == {
            "type": "message",
            "text": f"None of your deals, leads, MDF requests or questions match '{query}'.",
        }
    assert (await _search(teams, BOB, "D-99"))["text"].startswith("None of your")
    (hooli,) = (await _search(teams, BOB, "hooli"))["attachments"]
    assert "Hooli" in hooli["preview"]["content"]["title"]


async def test_search_by_a_stranger_or_another_command(teams: Teams) -> None:
    assert (await _search(teams, MALLORY, "globex"))["type"] == "message"
    status, _ = await _invoke(teams, ALICE, "composeExtension/query", {"commandId": "nope", "parameters": []})
    assert status == 400


async def test_register_a_deal_from_a_message(teams: Teams) -> None:
    message = {
        "body": {
            "contentType": "html",
            "content": "<p><b>Initech</b> wants 80k EUR of Cloud&nbsp;Suite,</p><p>closing 30 June 2027</p>",
        }
    }

    async def in_the_group(name: str, value: dict[str, Any]) -> tuple[int, Any]:
        return await _invoke(
            teams, ALICE, name, value, conversation_type="groupChat", conversation_id="19:sales@thread.v2"
        )

    status, body = await in_the_group(
        "composeExtension/fetchTask",
        {"commandId": "registerDeal", "commandContext": "message", "messagePayload": message},
    )
    assert status == 200 and body["task"]["type"] == "continue"
    dialog = body["task"]["value"]["card"]["content"]
    check_card(load_card_schema(), dialog)
    values = _inputs(dialog)
    assert values["customer"] == "Initech" and values["close_date"] == "2027-06-30"
    assert "80,000" in values["amount"] and "EUR" in values["amount"]
    (submit,) = [a for a in card_actions(dialog) if a["type"] == "Action.Submit"]

    async with teams.core.db.transaction() as session:
        before = (await session.execute(select(func.count()).select_from(Deal))).scalar_one()
    data = {**submit["data"], **{k: v for k, v in values.items() if v}, "amount": "lots"}
    status, again = await in_the_group(
        "composeExtension/submitAction", {"commandId": "registerDeal", "data": data}
    )
    assert status == 200 and again["task"]["type"] == "continue"  # the dialog again, with the reason
    reopened = again["task"]["value"]["card"]["content"]
    check_card(load_card_schema(), reopened)
    attention = [b["text"] for b in reopened["body"] if b.get("color") == "attention"]
    assert len(attention) >= 2 and _inputs(reopened)["amount"] == "lots"  # the notice, the amount's reason

    data["amount"] = "80k EUR"
    status, done = await in_the_group(
        "composeExtension/submitAction", {"commandId": "registerDeal", "data": data}
    )
    assert (
        status == 200 and done["task"]["type"] == "message" and "D-1 is registered" in done["task"]["value"]
    )
    # What follows goes to Alice's 1:1 chat; the group chat gets nothing.
    assert not teams.connector.to("19:sales@thread.v2")
    # The dialog showed every detail: its submit registers, with no second confirmation.
    (registered,) = teams.connector.to(ALICE)
    assert "D-1 is registered" in registered.text and "Initech" in registered.text
    assert "80,000 EUR" in registered.text
    async with teams.core.db.transaction() as session:
        assert (await session.execute(select(func.count()).select_from(Deal))).scalar_one() == before + 1


async def test_staff_get_no_registration_form(teams: Teams) -> None:
    status, body = await _invoke(
        teams,
        DANA,
        "composeExtension/fetchTask",
        {
            "commandId": "registerDeal",
            "messagePayload": {"body": {"contentType": "text", "content": "Globex 10k"}},
        },
    )
    assert status == 200 and body["task"]["type"] == "message"
    assert "partner" in body["task"]["value"].lower()
