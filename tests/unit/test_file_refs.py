"""One platform-neutral definition of a shared file's reference (``bot.kernel.messages.FILE_REF``):
what MDF proof accepted with its own ``(slack-|teams-)file:`` patterns is accepted still, and a file
from any other platform reads the same way."""

from __future__ import annotations

import pytest

from bot.features.mdf.service import PROOF_RE
from bot.features.mdf.skill import URL_RE
from bot.kernel.messages import FILE_REF_RE


@pytest.mark.parametrize(
    "proof",
    [
        "file:F07ABCDEF",
        "slack-file:F07ABCDEF",
        "teams-file:https://contoso.sharepoint.com/x.pdf",
        "SLACK-FILE:F07ABCDEF",
        "https://example.com/invoice.pdf",
        "zulip-file:user_uploads/2/ab/report.pdf",
    ],
)
def test_file_references_and_links_are_proof(proof: str) -> None:
    assert PROOF_RE.match(proof)
    found = URL_RE.search(f"here is the proof {proof} thanks")
    assert found is not None and found.group(0) == proof
    if "file:" in proof.lower():
        assert FILE_REF_RE.fullmatch(proof)


@pytest.mark.parametrize("text", ["file:", "slack-file: F07", "-file:F07", "a proof", "ftp://example.com/x"])
def test_what_is_no_file_reference_is_no_proof(text: str) -> None:
    assert not PROOF_RE.match(text)
