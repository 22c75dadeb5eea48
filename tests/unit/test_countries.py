"""Countries as people type them: codes and names, and only where a word reads as a country."""

from __future__ import annotations

import pytest

from bot.kernel.countries import country_code, find_country


@pytest.mark.parametrize(
    ("typed", "code"),
    [("DE", "DE"), ("de", "DE"), ("Germany", "DE"), ("france", "FR"), ("the UK", "GB"), ("UK", "GB"),
     ("United States", "US"), ("Côte d'Ivoire", "CI"), ("Narnia", None), ("XX", None)],
)  # fmt: skip
def test_country_code(typed: str, code: str | None) -> None:
    assert country_code(typed) == code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("opp for Dunder Mifflin, Edge Gateway, 22k, close in 3 months, US", "US"),
        ("quick reg: Nakatomi Trading, 410k eur, they're in FR", "FR"),
        ("register Globex - domain globex.example, country DE", "DE"),
        ("got any leads in france?", "FR"),
        ("leads from germany pls", "DE"),
        ("contact is their IT director", None),  # a code only in capitals, and only where it reads as one
        ("we are in it together", None),
        ("a bank in toronto", None),
    ],
)
def test_find_country(text: str, code: str | None) -> None:
    found = find_country(text)
    assert (found[0] if found else None) == code
    if found:
        start, end = found[1]
        assert country_code(text[start:end]) == code
