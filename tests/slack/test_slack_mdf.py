"""MDF in Slack (issue #8): a file shared in the DM is the proof of a claim."""

from __future__ import annotations

import time

from bot.features.mdf.service import set_mdf_budget
from tests.slack.conftest import Slack


async def test_a_claim_with_a_file_shared_in_slack(slack: Slack) -> None:
    await set_mdf_budget(slack.core.mdf, partner="Northwind Partners", quarter="2027-Q1", amount="50k EUR")
    await slack.dm("UALICE", "I'd like MDF for a webinar, 5k EUR, 10-20 March, expecting 40 leads")
    await slack.dm("UALICE", "yes")
    assert any("M-1 is sent for approval" in c.dump for c in slack.standin.posts("DUALICE"))
    await slack.dm("UDANA", "approve M-1")

    permalink = "https://northwind.slack.example/files/UALICE/F0INVOICE/invoice.pdf"
    event = {
        "type": "message",
        "subtype": "file_share",
        "channel_type": "im",
        "user": "UALICE",
        "text": "claim M-1, results: 38 leads, 120 attendees",
        "files": [{"id": "F0INVOICE", "name": "invoice.pdf", "permalink": permalink}],
        "team": "TNORTH",
        "channel": "DUALICE",
        "ts": f"{time.time():.6f}",
        "event_ts": f"{time.time():.6f}",
    }
    await slack.event(event, team="TNORTH")
    claimed = slack.standin.posts("DUALICE")[-1].dump
    assert "M-1 is claimed" in claimed and f"file:{permalink}" in claimed
    view = await slack.core.conversation.handle_text(slack.world.dana, "M-1")
    assert any(permalink in f.value for r in view for f in r.facts)
