"""References stored before the move to the Microsoft 365 Agents SDK still deliver.

``fixtures/botbuilder_references.json`` holds what partnerbot's botbuilder 4.17 code wrote - captured
from a run of that code, not written by hand: a person's 1:1 chat reference, a reference from a group
chat, and where a review card landed. botbuilder named the conversation's tenant ``tenantID`` (the SDK
says ``tenantId``); both are read (``handlers.teams.activities.reference_from``), with no migration of
the stored rows."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.kernel.messages import Reply
from handlers.teams.activities import reference_from
from store.models import ChatIdentity, DeliveredMessage
from tests.teams.teams_harness import USERS, Teams

ALICE, ALEX, DANA = USERS["alice"], USERS["alex"], USERS["dana"]
FIXTURES = Path(__file__).parent / "fixtures" / "botbuilder_references.json"


def _stored(name: str, service_url: str) -> Any:
    def fill(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: fill(v) for k, v in node.items()}
        if isinstance(node, list):
            return [fill(v) for v in node]
        return service_url if node == "SERVICE_URL" else node

    return fill(json.loads(FIXTURES.read_text(encoding="utf-8"))[name])


def test_botbuilder_is_not_installed() -> None:
    """The Teams channel runs on the Agents SDK alone: botbuilder left the dependencies."""
    assert importlib.util.find_spec("botbuilder") is None
    assert importlib.util.find_spec("botframework") is None


def test_a_botbuilder_reference_keeps_its_tenant() -> None:
    stored = _stored("personal_identity", "https://smba.trafficmanager.net/emea/")
    assert stored["extras"]["reference"]["conversation"]["tenantID"] == "tenant-northwind"
    reference = reference_from(stored["extras"]["reference"])
    assert reference.conversation.tenant_id == "tenant-northwind"
    assert reference.user is not None and reference.user.aad_object_id == "aad-alice"
    assert reference.agent is not None and reference.agent.id == "28:partnerbot-app"


async def test_stored_botbuilder_references_still_deliver_and_update(teams: Teams) -> None:
    await teams.say(DANA, "pending")
    await teams.say(ALICE, "register a deal for Globex, 120k USD of Cloud Suite, closing end of March")
    await teams.say(ALICE, "yes")
    await teams.settle()
    (review,) = [c for c in teams.connector.to(DANA) if c.kind == "send"]
    # What botbuilder-era code left in the database, in place of what today's code wrote.
    personal = _stored("personal_identity", teams.connector.url)
    delivered = _stored("delivered_review_card", teams.connector.url)
    delivered["message_ref"]["activity_id"] = review.activity_id
    async with teams.core.db.transaction() as session:
        (alice,) = (
            await session.execute(select(ChatIdentity).where(ChatIdentity.external_id == ALICE.aad))
        ).scalars()
        alice.conversation_ref = personal
        (card,) = (await session.execute(select(DeliveredMessage))).scalars()
        assert card.replace_key == delivered["replace_key"]
        card.message_ref = delivered["message_ref"]
    teams.connector.clear()

    dana = await teams.core.people.actor_by_email("dana@vendor.example", channel="slack")
    assert dana is not None
    await teams.core.conversation.handle_action(dana, "deal.approve", {"ref": "D-1"})
    await teams.settle()
    (notice,) = [c for c in teams.connector.to(ALICE) if c.kind == "send"]
    assert "D-1 is approved" in notice.text
    assert notice.body["conversation"]["tenantId"] == "tenant-northwind"
    (update,) = teams.connector.updates(review.activity_id)
    assert "Approved by Dana Reyes" in update.text


async def test_a_botbuilder_group_reference_opens_the_personal_chat(teams: Teams) -> None:
    group = _stored("group_identity", teams.connector.url)
    notifier = teams.core.notifiers["teams"]
    where = await notifier.send(
        target={
            "person_id": 0,
            "workspace": group["workspace"],
            "external_id": group["external_id"],
            "extras": group["extras"],
        },
        reply=Reply(text="Your lead L-9 is waiting."),
        idempotency_key="test:group-reference",
    )
    (create,) = [c for c in teams.connector.calls if c.kind == "create"]
    assert create.body["members"][0]["id"] == ALEX.id
    assert create.body["tenantId"] == "tenant-northwind"
    (sent,) = teams.connector.to(ALEX)
    assert sent.body["text"] == "Your lead L-9 is waiting."
    assert not teams.connector.to("19:group-1@thread.v2")
    assert where["conversation_id"] == ALEX.conversation
