"""Issue #18 through the real Teams endpoint: a registration phrased the way people type is understood."""

from __future__ import annotations

from tests.teams.teams_harness import USERS, Teams


async def test_the_same_understanding_in_teams(teams: Teams) -> None:
    answers = await teams.say(
        USERS["alice"], "reg new opp: globex / cloud suite / 120k usd / close end of March"
    )
    shown = " ".join(call.text for call in answers)
    assert "Register this deal?" in shown and "Globex" in shown
