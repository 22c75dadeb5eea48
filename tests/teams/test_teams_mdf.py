"""MDF in Teams (issue #8): a file uploaded in the personal chat is the proof of a claim."""

from __future__ import annotations

from bot.features.mdf.service import set_mdf_budget
from tests.teams.teams_harness import USERS, Teams

ALICE, DANA = USERS["alice"], USERS["dana"]


async def test_a_claim_with_a_file_uploaded_in_teams(teams: Teams) -> None:
    await set_mdf_budget(teams.core.mdf, partner="Northwind Partners", quarter="2027-Q1", amount="50k EUR")
    await teams.say(ALICE, "I'd like MDF for a webinar, 5k EUR, 10-20 March, expecting 40 leads")
    sent = await teams.say(ALICE, "yes")
    assert any("M-1 is sent for approval" in c.text for c in sent)
    await teams.say(DANA, "approve M-1")

    url = "https://northwind-my.sharepoint.example/personal/alice/Documents/invoice.pdf"
    upload = {
        "contentType": "application/vnd.microsoft.teams.file.download.info",
        "name": "invoice.pdf",
        "content": {"downloadUrl": url, "uniqueId": "F0INVOICE", "fileType": "pdf"},
    }
    answers = await teams.say(ALICE, "claim M-1, results: 38 leads, 120 attendees", attachments=[upload])
    assert any("M-1 is claimed" in c.text and f"file:{url}" in c.text for c in answers)
