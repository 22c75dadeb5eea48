"""Who someone is, and where the answer goes, never come from what a client claims.

- Staff are recognised by e-mail only in the vendor's own Slack workspaces / Teams tenants: before, a
  Slack account in a workspace belonging to no partner, whose profile said a staff address, was linked
  as that staff member.
- A modal's ``private_metadata`` is sealed for its submitter: before, a ``view_submission`` naming
  another person's DM channel made the bot post the submitter's draft into that DM.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from bot.people import UNKNOWN_PERSON_TEXT
from store.models import ChatIdentity
from tests.slack.conftest import USERS as SLACK_USERS
from tests.slack.conftest import Call, Slack
from tests.teams.teams_harness import Teams, TeamsUser


def last(calls: list[Call]) -> Call:
    assert calls, "nothing recorded"
    return calls[-1]


async def identities_of(core: object, email: str) -> list[tuple[str, str, str]]:
    from store import queries

    async with core.db.transaction() as session:  # type: ignore[attr-defined]
        person = await queries.person_by_email(session, email)
        rows = (
            await session.execute(select(ChatIdentity).where(ChatIdentity.person_id == person.id))
        ).scalars()
        return [(r.platform, r.workspace, r.external_id) for r in rows]


async def test_slack_a_staff_email_from_a_foreign_workspace_is_a_stranger(
    slack: Slack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A workspace that belongs to no partner, an account whose profile claims Dana's address.
    monkeypatch.setitem(SLACK_USERS, "UEVE", ("TEVIL", "dana@vendor.example", "Dana Reyes", "UTC"))
    await slack.dm("UEVE", "pending")
    answer = last(slack.standin.posts("DUEVE")).dump
    assert UNKNOWN_PERSON_TEXT.split(".")[0] in answer and "D-" not in answer
    assert ("slack", "TEVIL", "UEVE") not in await identities_of(slack.core, "dana@vendor.example")
    # The real Dana, from the vendor's workspace, is recognised by the same e-mail.
    await slack.dm("UDANA", "help")
    assert ("slack", "TVENDOR", "UDANA") in await identities_of(slack.core, "dana@vendor.example")


async def test_slack_a_staff_email_from_a_partner_workspace_is_a_stranger_too(
    slack: Slack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(SLACK_USERS, "UMOLE", ("TNORTH", "dana@vendor.example", "Dana Reyes", "UTC"))
    await slack.dm("UMOLE", "pending")
    assert ("slack", "TNORTH", "UMOLE") not in await identities_of(slack.core, "dana@vendor.example")


async def test_teams_a_staff_email_from_a_foreign_tenant_is_a_stranger(teams: Teams) -> None:
    impostor = TeamsUser("eve", "Dana Reyes", "dana@vendor.example", "tenant-evil")
    teams.connector.members[impostor.id] = impostor
    answers = await teams.say(impostor, "pending")
    text = " ".join(json.dumps(c.body) for c in answers)
    assert UNKNOWN_PERSON_TEXT.split(".")[0] in text and "D-" not in text
    assert all(ws != "tenant-evil" for _, ws, _ in await identities_of(teams.core, "dana@vendor.example"))
    dana = TeamsUser("dana", "Dana Reyes", "dana@vendor.example", "tenant-vendor")
    await teams.say(dana, "help")
    assert ("teams", "tenant-vendor", dana.aad) in await identities_of(teams.core, "dana@vendor.example")


async def test_slack_a_forged_modal_metadata_cannot_pick_where_the_answer_goes(slack: Slack) -> None:
    # Bob opens the registration modal from his DM...
    await slack.command("UBOB", "register")
    opened = last(slack.standin.of("views.open"))
    view = opened.body["view"]
    meta = json.loads(view["private_metadata"])
    # ...and rewrites its metadata to name Alice's DM, and a message of the bot in it to overwrite.
    meta.update({"channel": "DUALICE", "origin": {"channel": "DUALICE", "ts": "1.000001"}})
    forged = type(opened)(
        **{**opened.__dict__, "body": {**opened.body, "view": {**view, "private_metadata": json.dumps(meta)}}}
    )
    before_alice = len(slack.standin.posts("DUALICE"))
    await slack.submit(
        "UBOB",
        forged,
        {"customer": "Initech", "product": "Cloud Suite", "amount": "40k USD", "close_date": "end of June"},
    )
    assert len(slack.standin.posts("DUALICE")) == before_alice, "nothing lands in Alice's DM"
    assert not slack.standin.of("chat.update", channel="DUALICE")
    # The metadata is not believed, so the submission is not taken as a registration either; Bob hears
    # about it in his own DM.
    assert slack.standin.posts("DUBOB"), "Bob is answered in his own DM"


async def test_slack_metadata_sealed_for_someone_else_is_not_believed(slack: Slack) -> None:
    await slack.command("UALICE", "register")
    opened = last(slack.standin.of("views.open"))
    before = len(slack.standin.posts("DUALICE"))
    # Bob submits the view that was opened for Alice (its sealed metadata names her).
    await slack.submit(
        "UBOB",
        opened,
        {"customer": "Initech", "product": "Cloud Suite", "amount": "40k USD", "close_date": "end of June"},
    )
    assert len(slack.standin.posts("DUALICE")) == before
    assert "D-" not in " ".join(c.dump for c in slack.standin.posts("DUBOB"))
