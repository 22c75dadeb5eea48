"""Slack's own surfaces: the message shortcut that registers a deal from a message, the global
shortcuts, and pickers too long to list that load their options as the person types."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from bot.kernel.messages import Button, Reply
from handlers.slack import blocks
from store.deal_models import Deal
from tests.slack.conftest import USERS, Call, Slack

MESSAGE = "Initech wants 80k EUR of Cloud Suite, closing 30 June 2027 - can we register it?"


def _who(user: str) -> dict[str, Any]:
    team = USERS[user][0]
    return {
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team},
        "team": {"id": team, "domain": team.lower()},
        "api_app_id": "A1",
        "token": "legacy",
    }


def _inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}


async def _deals(slack: Slack) -> int:
    async with slack.core.db.transaction() as session:
        return int((await session.execute(select(func.count()).select_from(Deal))).scalar_one())


async def test_the_message_shortcut_opens_the_registration_filled_in_from_the_message(slack: Slack) -> None:
    await slack.interact(
        {
            **_who("UALICE"),
            "type": "message_action",
            "callback_id": "register_from_message",
            "trigger_id": "trig-shortcut-1",
            "channel": {"id": "CGENERAL", "name": "general"},
            "message": {"type": "message", "text": MESSAGE, "ts": "1700000000.000100", "user": "UALEX"},
            "message_ts": "1700000000.000100",
            "response_url": slack.standin.response_url("UALICE"),
        }
    )
    (opened,) = slack.standin.of("views.open")
    assert opened.body["trigger_id"] == "trig-shortcut-1"
    inputs = _inputs(opened.body["view"])
    assert inputs["customer"]["initial_value"] == "Initech"
    assert inputs["amount"]["initial_value"] == "80,000 EUR"
    assert inputs["close_date"]["initial_value"] == "2027-06-30"
    assert inputs["product"]["initial_option"]["value"] == "Cloud Suite"
    assert await _deals(slack) == 0  # nothing is written on the shortcut alone

    await slack.submit("UALICE", opened, {})  # as filled in: the modal is the review
    assert await _deals(slack) == 1
    assert "D-1 is registered" in slack.standin.posts("DUALICE")[-1].dump


async def test_the_global_shortcuts_open_their_forms(slack: Slack) -> None:
    for callback, form_id in (("register_deal", "deal.register"), ("ask_vendor", "question.ask")):
        await slack.interact(
            {**_who("UALICE"), "type": "shortcut", "callback_id": callback, "trigger_id": f"trig-{callback}"}
        )
        opened = slack.standin.of("views.open")[-1]
        assert opened.body["trigger_id"] == f"trig-{callback}"
        assert json.loads(opened.body["view"]["private_metadata"])["form_id"] == form_id
    assert len(slack.standin.of("views.open")) == 2


async def test_staff_get_no_registration_form_from_the_message_shortcut(slack: Slack) -> None:
    await slack.interact(
        {
            **_who("UDANA"),
            "type": "message_action",
            "callback_id": "register_from_message",
            "trigger_id": "trig-shortcut-2",
            "channel": {"id": "CVENDOR", "name": "vendor"},
            "message": {"type": "message", "text": MESSAGE, "ts": "1.2"},
        }
    )
    assert slack.standin.of("views.open") == []
    assert "registered by partners" in slack.standin.posts("DUDANA")[-1].dump


async def _budget_modal(slack: Slack) -> Call:
    """Dana clicks "Set a budget": the budget form, as a modal."""
    button = Reply(text="MDF", buttons=[Button("Set a budget", "mdf.budget.start")])
    message = Call("chat.postMessage", {"channel": "DUDANA", **blocks.render_message(button), "ts": "9.1"})
    await slack.click("UDANA", message, "Set a budget")
    return slack.standin.of("views.open")[-1]


async def _options(slack: Slack, user: str, opened: Call, typed: str) -> list[str]:
    payload = {
        **_who(user),
        "type": "block_suggestion",
        "action_id": blocks.INPUT_ACTION_ID,
        "block_id": "partner",
        "value": typed,
        "view": {**opened.body["view"], "id": "VBUDGET", "team_id": USERS[user][0]},
    }
    response = await slack.interact(payload, settle=False)
    assert response.status == 200
    return [o["value"] for o in (await response.json())["options"]]


async def test_a_long_picker_loads_only_what_the_person_may_pick(slack: Slack) -> None:
    for i in range(120):  # more partners than a Slack picker lists
        await slack.core.people.add_partner(name=f"Partner {i:03d} GmbH", tier="Silver", region="EMEA")
    opened = await _budget_modal(slack)
    picker = _inputs(opened.body["view"])["partner"]
    assert picker["type"] == "external_select" and "options" not in picker

    assert await _options(slack, "UDANA", opened, "north") == ["Northwind Partners"]
    assert await _options(slack, "UDANA", opened, "nortwind") == ["Northwind Partners"]  # a typo
    first = await _options(slack, "UDANA", opened, "")
    assert len(first) == 100  # Slack's limit; typing narrows it
    assert await _options(slack, "UDANA", opened, "partner 11") == [f"Partner 11{i} GmbH" for i in range(10)]
    # Someone else replaying Dana's modal (its metadata is sealed for her) gets nothing.
    assert await _options(slack, "UBOB", opened, "north") == []
    assert await _options(slack, "UALICE", opened, "") == []
