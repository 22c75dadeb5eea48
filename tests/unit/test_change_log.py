"""The change log: one audit row per change, and every subscriber told in the same session, in order."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.kernel.changes import ChangeLog, RecordChanged
from bot.kernel.messages import Actor
from store.models import AuditEntry


class FakeSession:
    def __init__(self) -> None:
        self.added: list[Any] = []

    def add(self, row: Any) -> None:
        self.added.append(row)


AT = datetime(2026, 11, 26, 10, 0)


async def test_a_change_writes_its_audit_row_then_tells_each_subscriber_in_the_same_session() -> None:
    log = ChangeLog()
    seen: list[tuple[str, Any, RecordChanged, int]] = []

    async def first(session: Any, event: RecordChanged) -> None:
        seen.append(("first", session, event, len(session.added)))

    async def second(session: Any, event: RecordChanged) -> None:
        seen.append(("second", session, event, len(session.added)))

    log.subscribe(first)
    log.subscribe(second)
    session = FakeSession()
    alice = Actor(
        person_id=7,
        name="Alice",
        email="alice@northwind.example",
        kind="partner",
        partner_id=1,
        channel="slack",
    )
    await log.record(
        session, alice, action="deal.update", entity="D-3", before={"a": 1}, after={"a": 2}, at=AT
    )  # type: ignore[arg-type]
    [row] = session.added
    assert isinstance(row, AuditEntry)
    assert (row.actor_id, row.action, row.entity, row.channel, row.at) == (
        7,
        "deal.update",
        "D-3",
        "slack",
        AT,
    )
    event = RecordChanged(ref="D-3", action="deal.update", at=AT)
    assert seen == [("first", session, event, 1), ("second", session, event, 1)]


async def test_without_an_actor_the_channel_names_the_surface() -> None:
    session = FakeSession()
    await ChangeLog().record(
        session, None, action="mdf.remind.end", entity="M-1", before=None, after={}, at=AT
    )  # type: ignore[arg-type]
    await ChangeLog().record(
        session,  # type: ignore[arg-type]
        None,
        action="mdf.budget",
        entity="mdf-budget:p1:2027-Q1",
        before=None,
        after={},
        at=AT,
        channel="cli",
    )
    assert [row.channel for row in session.added] == ["job", "cli"]
