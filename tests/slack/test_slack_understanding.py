"""Issue #18 through the real Slack app: a registration phrased the way people type is understood."""

from __future__ import annotations

from tests.slack.conftest import Slack


async def test_the_same_understanding_in_slack(slack: Slack) -> None:
    await slack.dm("UALICE", "reg new opp: globex / cloud suite / 120k usd / close end of March")
    posted = " ".join(c.dump for c in slack.standin.posts("DUALICE"))
    assert "Register this deal?" in posted and "Globex" in posted
