"""Unit tests for bot.kernel.companies: company keys, names, domains and similarity."""

from __future__ import annotations

import pytest

from bot.kernel.companies import (
    CONFLICT_THRESHOLD,
    MAX_NAME_LENGTH,
    company_similarity,
    normalize_company,
    normalize_domain,
    validate_company_name,
)
from bot.kernel.errors import InputError


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Globex Corporation", "globex"),
        ("Globex Corp.", "globex"),
        ("GLOBEX, Inc", "globex"),
        ("The Globex Group", "globex"),
        ("Globex", "globex"),
        ("  globex   INC.  ", "globex"),
        ("Globex Holdings Ltd", "globex"),
        ("Globex Pty Ltd", "globex"),
        ("Globex LLC", "globex"),
        ("Globex GmbH & Co. KG", "globex"),
        ("Société Générale S.A.", "societe generale"),
        ("Nestlé SA", "nestle"),
        ("Ørsted A/S", "orsted"),
        ("Smith & Co", "smith"),
        ("Procter & Gamble Co", "procter and gamble"),
        ("Johnson & Johnson", "johnson and johnson"),
        ("J.P. Morgan", "jp morgan"),
        ("McDonald's Corporation", "mcdonalds"),
        ("Hewlett-Packard Company", "hewlett packard"),
        ("Yahoo!", "yahoo"),
        ("Volvo AB", "volvo"),
        ("Nokia Oy", "nokia"),
        ("Philips N.V.", "philips"),
        ("Toyota K.K.", "toyota"),
        ("Grab Pte. Ltd.", "grab"),
        ("Fiat S.p.A.", "fiat"),
        ("Company", "company"),
        ("The Company", "company"),
        ("Inc.", "inc"),
        ("The Group Holdings", "group"),
        ("The", "the"),
        ("Theranos", "theranos"),
        ("Coca-Cola Co", "coca cola"),
        ("トヨタ自動車", "トヨタ自動車"),
        ("!!!", ""),
    ],
)
def test_normalize_company(name: str, key: str) -> None:
    assert normalize_company(name) == key


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("globex.com", "globex.com"),
        ("https://www.Globex.com/about", "globex.com"),
        ("sales@globex.com", "globex.com"),
        ("mailto:sales@globex.com", "globex.com"),
        ("  GLOBEX.CO.UK ", "globex.co.uk"),
        ("http://globex.com:8080/x?y=1", "globex.com"),
        ("www.globex.com", "globex.com"),
        ("globex.com/about", "globex.com"),
        ("globex.com.", "globex.com"),
        ("eu.globex.com", "eu.globex.com"),
        ("münchen.de", "münchen.de"),
        ("xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
        (None, None),
        ("", None),
        ("   ", None),
    ],
)
def test_normalize_domain(value: str | None, expected: str | None) -> None:
    assert normalize_domain(value) == expected


@pytest.mark.parametrize(
    "value",
    ["not a domain", "globex", "localhost", "10.0.0.1", "a..b.com", "-globex.com", "globex-.com", "globex.c",
     "globex.123", "sales@", "https://", "glo bex.com", "globex_corp.com", "http://[::1]/"],
)  # fmt: skip
def test_normalize_domain_rejects(value: str) -> None:
    with pytest.raises(InputError) as info:
        normalize_domain(value)
    assert info.value.field == "domain"
    assert "globex.com" in info.value.message


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Globex Corporation", "Globex Corporation"),
        ("  Globex   Corporation ", "Globex Corporation"),
        ("Globex\nCorporation", "Globex Corporation"),
        ("Globex\tCorp", "Globex Corp"),
        ("Globex\u00a0Corp", "Globex Corp"),
        ("AT&T", "AT&T"),
        ("Yahoo!", "Yahoo!"),
        (
            "Ben & Jerry's (UK) / Co + Partners @ Home, Inc.",
            "Ben & Jerry's (UK) / Co + Partners @ Home, Inc.",
        ),
        ("O’Reilly Media", "O’Reilly Media"),
        ("Hewlett-Packard", "Hewlett-Packard"),
        ("3M", "3M"),
        ("Société Générale", "Société Générale"),
        ("Socie\u0301te\u0301", "Société"),  # combining accents are composed (NFC)
        ("トヨタ自動車", "トヨタ自動車"),
        ("Яндекс", "Яндекс"),
        ("टाटा", "टाटा"),
        ("x" * MAX_NAME_LENGTH, "x" * MAX_NAME_LENGTH),
    ],
)
def test_validate_company_name_accepts(name: str, expected: str) -> None:
    assert validate_company_name(name) == expected


@pytest.mark.parametrize("name", ["", "   ", "\n\t"])
def test_validate_company_name_rejects_empty(name: str) -> None:
    with pytest.raises(InputError) as info:
        validate_company_name(name)
    assert info.value.field == "customer"
    assert info.value.message == "Tell me the customer's company name, e.g. Globex Corporation."


def test_validate_company_name_rejects_too_long() -> None:
    with pytest.raises(InputError) as info:
        validate_company_name("x" * (MAX_NAME_LENGTH + 1))
    assert info.value.field == "customer"
    assert "120" in info.value.message


@pytest.mark.parametrize(
    "name",
    ["<@U123> Globex", "Globex > Initech", "*Globex*", "_Globex_", "~Globex~", "`Globex`", "Globex | Initech",
     "Globex #1", "[Globex]", "{Globex}", "Globex\\Corp", "Glo\x07bex", "Globex\x00", "Globex\x1b[31m",
     "Globex\x7f", "Globex 😀", "Globex; DROP TABLE", "Globex = Initech", "50% Corp"],
)  # fmt: skip
def test_validate_company_name_rejects_control_characters(name: str) -> None:
    with pytest.raises(InputError) as info:
        validate_company_name(name)
    assert info.value.field == "customer"
    assert "Use letters, digits, spaces and . , & ' - ( ) / + @ !" in info.value.message


@pytest.mark.parametrize("name", ["...", "&", "- / -"])
def test_validate_company_name_needs_a_letter_or_digit(name: str) -> None:
    with pytest.raises(InputError) as info:
        validate_company_name(name)
    assert info.value.field == "customer"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("globex", "globex"),
        ("globex", "globex industries"),
        ("globex", "globx"),
        ("globex industries", "industries globex"),
        ("umbrella", "umbrella health"),
        ("initech", "initec"),
    ],
)
def test_similar_companies_conflict(a: str, b: str) -> None:
    assert company_similarity(a, b) >= CONFLICT_THRESHOLD
    assert company_similarity(b, a) == company_similarity(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ab", "abc corp"),  # containment needs a shorter key of 5+ characters
        ("acme", "acme widgets"),
        ("apple", "pineapple express"),  # containment must sit on word boundaries
        ("globex", "initech"),
        ("globex", "glob"),
        ("international business machines", "ibm"),
        ("general motors", "general electric"),
    ],
)
def test_different_companies_do_not_conflict(a: str, b: str) -> None:
    assert company_similarity(a, b) < CONFLICT_THRESHOLD


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("globex", "globex", 100.0),
        ("", "globex", 0.0),
        ("globex", "", 0.0),
    ],
)
def test_company_similarity_bounds(a: str, b: str, expected: float) -> None:
    assert company_similarity(a, b) == expected


def test_containment_scores_below_exact_match() -> None:
    assert CONFLICT_THRESHOLD <= company_similarity("globex", "globex industries") < 100


def test_similarity_on_normalized_names() -> None:
    a = normalize_company("Globex Corporation")
    assert company_similarity(a, normalize_company("GLOBEX, Inc")) == 100.0
    assert company_similarity(a, normalize_company("Globex Industries Ltd")) >= CONFLICT_THRESHOLD


def test_conflict_threshold() -> None:
    assert CONFLICT_THRESHOLD == 88
