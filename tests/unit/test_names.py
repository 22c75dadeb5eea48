"""Finding a record by a typed name among what the reader may see: one sure winner, or close choices."""

from __future__ import annotations

from bot.kernel.names import match_name

NAMES = ["Contoso Ltd", "Hooli Inc", "Globex Corporation", "Initech GmbH"]


def test_a_typo_or_a_missing_suffix_still_finds_the_one_meant() -> None:
    assert match_name("contoso", NAMES).best == "Contoso Ltd"
    assert match_name("Hooli", NAMES).best == "Hooli Inc"
    assert match_name("globex corp.", NAMES).best == "Globex Corporation"


def test_a_doubtful_name_offers_choices_and_no_winner() -> None:
    found = match_name("initek", NAMES)
    assert found.best is None and found.close and found.close[0] == "Initech GmbH"


def test_nothing_alike_and_nothing_to_search_give_nothing() -> None:
    assert match_name("umbrella", NAMES).close == () and match_name("umbrella", NAMES).best is None
    assert match_name("contoso", []).best is None
    assert match_name("   ", NAMES).best is None
