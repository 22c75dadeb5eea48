"""Every number that comes from a person or a button is bounded, with a clear message: a forged button
with ``days=99999999999`` used to raise OverflowError in the inbox on every retry, and
``partnerbot jobs run ... --at 9999-12-31T23:59:59`` printed a traceback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.bootstrap import Core
from bot.cli import main
from bot.kernel.messages import Actor
from tests.conftest import World

HUGE = ["99999999999", "9" * 40, "9" * 5000, "-1", "0", "1e309", "nan", "9999-12-31", "0001-01-01"]
DATA_KEYS = ("ref", "msg", "days", "status", "partner", "product", "kb", "scope", "amount", "quarter")


def every_action() -> list[str]:
    """Each action name a view or skill of the core can put on a button (read from bot/)."""
    names: set[str] = set()
    for path in Path("bot").rglob("*.py"):
        names.update(
            re.findall(
                r'"((?:deal|deals|lead|mdf|nudge|question|kb|content|performance|dialog)'
                r'\.[a-z_]+(?:\.[a-z_]+)?)"',
                path.read_text(),
            )
        )
    return sorted(names)


async def test_a_snooze_button_asking_for_ever_gets_a_clear_no(core: Core, world: World) -> None:
    for days in ("99999999999", "9" * 5000, "0", "91"):
        replies = await core.conversation.handle_action(world.alice, "nudge.snooze", {"days": days})
        assert "snoozed for 1 to 90 days" in " ".join(r.text or "" for r in replies)
    replies = await core.conversation.handle_action(world.alice, "nudge.snooze", {"days": "14"})
    assert "snoozed until" in " ".join(r.text or "" for r in replies)


@pytest.mark.parametrize("who", ["alice", "dana"])
async def test_no_button_with_huge_numbers_raises(core: Core, world: World, who: str) -> None:
    actor: Actor = getattr(world, who)
    actions = every_action()
    assert len(actions) > 60, actions  # the scan found the buttons
    for action in actions:
        for value in HUGE:
            data = {key: value for key in DATA_KEYS}
            # Raises nothing: a PartnerbotError becomes a reply, anything else would fail the test.
            replies = await core.conversation.handle_action(actor, action, data)
            assert isinstance(replies, list)
        for value in ("99999999999", "9" * 5000):
            for key in DATA_KEYS:
                replies = await core.conversation.handle_action(actor, action, {key: value})
                assert isinstance(replies, list)


async def test_no_message_with_huge_numbers_raises(core: Core, world: World) -> None:
    lines = [
        "register a deal for Globex, 99999999999999999999 USD, closing in 99999999999 weeks",
        "D-1 closes on 31.12.99999",
        "push D-1 by 999999999999 days",
        "scorecard last 999 years",
        "how am I doing over 999 years",
        "I'd like MDF for a webinar, 5k EUR, 10-20 March 99999, expecting 99999999999999999999 leads",
        "L-99999999999999 is qualified",
        "remind me in 99999999999 days",
        "what's closing in the next 99999999999 days?",
    ]
    for actor in (world.alice, world.dana):
        for line in lines:
            replies = await core.conversation.handle_text(actor, line)
            assert isinstance(replies, list) and replies
            await core.conversation.handle_text(actor, "cancel")


@pytest.mark.parametrize("at", ["9999-12-31T23:59:59", "0001-01-01T00:00:00", "0001-01-01T00:00:00+05:00"])
def test_jobs_run_at_out_of_range_says_so(
    at: str, sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    with pytest.raises(SystemExit) as exited:
        main(["jobs", "run", "nudge_sweep", "--at", at])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--at must be a time between 2000-01-01 and 2199-12-31" in err and "Traceback" not in err
