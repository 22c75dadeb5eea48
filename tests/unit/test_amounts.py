"""Unit tests for bot.kernel.amounts: reading, finding and formatting deal amounts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.kernel.amounts import MAX_AMOUNT, Money, find_money, format_money, parse_money
from bot.kernel.errors import InputError


def money(amount: str, currency: str = "USD") -> Money:
    return Money(amount=Decimal(amount), currency=currency)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("120k", money("120000")),
        ("120K USD", money("120000")),
        ("64 000 EUR", money("64000", "EUR")),  # thousands by blanks, as French and Nordic partners type
        ("1 250 000,50 €", money("1250000.50", "EUR")),
        ("19.900,- EUR", money("19900", "EUR")),  # ",-": no cents, as German invoices write it
        ("forty thousand euros", money("40000", "EUR")),  # in words, with a scale
        ("two hundred fifty k", money("250000")),
        ("one hundred and twenty thousand USD", money("120000")),
        ("$1.2M", money("1200000")),
        ("1.2m", money("1200000")),
        ("EUR 50,000", money("50000", "EUR")),
        ("50.000 €", money("50000", "EUR")),
        ("€50k", money("50000", "EUR")),
        ("£2,500.50", money("2500.50", "GBP")),
        ("50,000.00 usd", money("50000", "USD")),
        ("1,5 Mio EUR", money("1500000", "EUR")),
        ("2 million dollars", money("2000000")),
        ("120 thousand", money("120000")),
        ("USD 1.2M", money("1200000")),
        ("100000", money("100000")),
        ("1.250", money("1250")),
        ("1,250", money("1250")),
        ("1.5", money("1.50")),
        ("1,5", money("1.50")),
        ("1.234.567,89 EUR", money("1234567.89", "EUR")),
        ("1,234,567.89", money("1234567.89")),
        ("1,000,000", money("1000000")),
        ("1,00,000 INR", money("100000", "INR")),
        ("¥5,000,000", money("5000000", "JPY")),
        ("CHF 75k", money("75000", "CHF")),
        ("3bn", money("3000000000")),
        ("2 billion", money("2000000000")),
        ("1.5mm", money("1500000")),
        ("2.5 mn GBP", money("2500000", "GBP")),
        ("1.5 M USD", money("1500000")),
        ("US$5k", money("5000")),
        ("USD1.2M", money("1200000")),
        ("300 euros", money("300", "EUR")),
        ("40 pounds", money("40", "GBP")),
        ("1.2345k", money("1234.50")),
        ("0.5M", money("500000")),
        ("  120k   USD  ", money("120000")),
        ("$120k USD", money("120000")),
        ("1000000000000", money("1000000000000")),
    ],
)
def test_parse_money_accepts(text: str, expected: Money) -> None:
    assert parse_money(text) == expected


def test_parse_money_quantizes_to_cents() -> None:
    assert parse_money("120k").amount.as_tuple().exponent == -2
    assert str(parse_money("1.2M").amount) == "1200000.00"


@pytest.mark.parametrize(
    ("text", "default", "expected"),
    [
        ("120k", "EUR", money("120000", "EUR")),
        ("120k", "gbp", money("120000", "GBP")),
        ("$120k", "EUR", money("120000", "USD")),  # $ is always USD
        ("120k CHF", "EUR", money("120000", "CHF")),
    ],
)
def test_parse_money_default_currency(text: str, default: str, expected: Money) -> None:
    assert parse_money(text, default_currency=default) == expected


@pytest.mark.parametrize("default", ["", "US", "dollars", "12A"])
def test_parse_money_rejects_bad_default_currency(default: str) -> None:
    with pytest.raises(ValueError):
        parse_money("120k", default_currency=default)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("lots", "I couldn't read 'lots' as an amount. Try 120k USD, $1.2M, EUR 50,000 or 50.000 €."),
        ("", "Tell me the amount."),
        ("   ", "Tell me the amount."),
        ("a lot of money", "couldn't read"),
        ("120k USD and more", "couldn't read"),
        ("$5 trillion", "couldn't read"),
        ("31.03.2027", "couldn't read"),
        ("1,2.3,4", "couldn't read"),
        ("1,0000,000", "couldn't read"),
        ("0", "more than zero"),
        ("0k", "more than zero"),
        ("$0.00", "more than zero"),
        ("-5k", "negative"),
        ("-120000", "negative"),
        ("$-5", "negative"),
        ("USD -50", "negative"),
        ("5000bn", "too large"),
        ("1000000000000.01", "too large"),
        ("1.2345", "more than 2 decimal places"),
        ("0.001", "more than 2 decimal places"),
        ("12.345,678 EUR", "more than 2 decimal places"),
        ("$50k EUR", "two currencies"),
        ("50k XYZ", "I don't know the currency 'XYZ'"),
        ("ABC 50k", "I don't know the currency 'ABC'"),
    ],
)
def test_parse_money_rejects(text: str, fragment: str) -> None:
    with pytest.raises(InputError) as info:
        parse_money(text)
    assert info.value.field == "amount"
    assert fragment in info.value.message


def test_parse_money_error_quotes_long_text_trimmed() -> None:
    with pytest.raises(InputError) as info:
        parse_money("x" * 500)
    assert len(info.value.message) < 200


def test_max_amount_is_a_trillion() -> None:
    assert MAX_AMOUNT == Decimal(10) ** 12


@pytest.mark.parametrize(
    ("text", "expected", "found"),
    [
        ("register a deal for Globex, 120k USD, closing end of March", money("120000"), "120k USD"),
        ("Initech, $1.2M, Q2", money("1200000"), "$1.2M"),
        ("deal for Acme EUR 50,000 closing 2027-03-31", money("50000", "EUR"), "EUR 50,000"),
        ("Umbrella 50.000 € mid April", money("50000", "EUR"), "50.000 €"),
        ("worth 50000 at 10:30", money("50000"), "50000"),
        ("about 2,500 seats", money("2500"), "2,500"),
        ("it's 1,5 Mio EUR, in 6 weeks", money("1500000", "EUR"), "1,5 Mio EUR"),
        ("Hooli: 2 million dollars by Friday", money("2000000"), "2 million dollars"),
        ("120 thousand for L-7", money("120000"), "120 thousand"),
        ("D-12 now at 75k", money("75000"), "75k"),
        ("for 3M, 120k USD", money("120000"), "120k USD"),  # a currency beats a bare suffix
        ("first 10k seats then $2M", money("2000000"), "$2M"),
        ("amount: 2,500.", money("2500"), "2,500"),
        ("(€50k)", money("50000", "EUR"), "€50k"),
    ],
)
def test_find_money(text: str, expected: Money, found: str) -> None:
    result = find_money(text)
    assert result is not None
    value, (start, end) = result
    assert value == expected
    assert text[start:end] == found


def test_find_money_default_currency() -> None:
    result = find_money("Globex, 120k, closing Q2", default_currency="EUR")
    assert result is not None
    assert result[0] == money("120000", "EUR")


@pytest.mark.parametrize(
    "text",
    [
        "closing 2027-03-31",
        "close in Q2",
        "closing in 6 weeks",
        "closing March 31",
        "closing 31/03/2027",
        "closing 31.03.2027",
        "D-12 moved to proposal, closing next month",
        "see L-7",
        "by 2027",
        "closing in 2027",
        "we have 500 seats",
        "20% discount",
        "meet at 10:30",
        "ticket #12345",
        "call +4930123456",
        "version 1.2.3",
        "option 2 b",
        "range 100k-150k",
        "a live one",  # number words without a scale are no amount
        "twenty seats",
        "no amount here",
        "",
    ],
)
def test_find_money_ignores_dates_references_and_small_numbers(text: str) -> None:
    assert find_money(text) is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("Globex, $0, closing Q2", "more than zero"),
        ("Globex 5000bn", "too large"),
        ("Globex $50k EUR", "two currencies"),
    ],
)
def test_find_money_raises_for_invalid_explicit_amounts(text: str, fragment: str) -> None:
    with pytest.raises(InputError) as info:
        find_money(text)
    assert info.value.field == "amount"
    assert fragment in info.value.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (money("120000"), "120,000 USD"),
        (money("1250.50", "EUR"), "1,250.50 EUR"),
        (money("1250.5", "EUR"), "1,250.50 EUR"),
        (money("1250.00", "EUR"), "1,250 EUR"),
        (money("999.99", "GBP"), "999.99 GBP"),
        (money("1000000000000"), "1,000,000,000,000 USD"),
        (money("0.5"), "0.50 USD"),
    ],
)
def test_format_money(value: Money, expected: str) -> None:
    assert format_money(value) == expected


@pytest.mark.parametrize("text", ["120k USD", "$1.2M", "50.000 €", "£2,500.50", "1,5 Mio EUR"])
def test_format_then_parse_round_trips(text: str) -> None:
    value = parse_money(text)
    assert parse_money(format_money(value)) == value


def test_money_is_frozen_and_checked() -> None:
    value = money("1")
    with pytest.raises(AttributeError):
        value.amount = Decimal(2)  # type: ignore[misc]
    with pytest.raises(ValueError):
        Money(amount=Decimal(1), currency="usd")
    with pytest.raises(TypeError):
        Money(amount=1, currency="USD")  # type: ignore[arg-type]
