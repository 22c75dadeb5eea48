"""Unit tests for bot.kernel.dates: reading, finding, validating and formatting expected close dates.

``TODAY`` is fixed: Thursday 26 November 2026.
"""

from __future__ import annotations

from datetime import date

import pytest

from bot.kernel.dates import (
    MAX_YEARS_AHEAD,
    find_close_date,
    format_date,
    parse_close_date,
    parse_listed_date,
    validate_close_date,
)
from bot.kernel.errors import InputError

TODAY = date(2026, 11, 26)
HINT = "Try 2027-03-31, end of March, next Friday, Q2 or in 6 weeks."


def test_today_is_a_thursday() -> None:
    assert TODAY.weekday() == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the examples of the contract
        ("2027-03-31", date(2027, 3, 31)),
        ("31/03/2027", date(2027, 3, 31)),
        ("March 31", date(2027, 3, 31)),
        ("31 March 2027", date(2027, 3, 31)),
        ("end of March", date(2027, 3, 31)),
        ("March", date(2027, 3, 31)),
        ("end of month", date(2026, 11, 30)),
        ("end of next month", date(2026, 12, 31)),
        ("next month", date(2026, 12, 31)),
        ("end of quarter", date(2026, 12, 31)),
        ("next quarter", date(2027, 3, 31)),
        ("Q2", date(2027, 6, 30)),
        ("Q2 2027", date(2027, 6, 30)),
        ("end of Q1", date(2027, 3, 31)),
        ("end of year", date(2026, 12, 31)),
        ("next Friday", date(2026, 11, 27)),
        ("Friday", date(2026, 11, 27)),
        ("tomorrow", date(2026, 11, 27)),
        ("in 6 weeks", date(2027, 1, 7)),
        ("in 10 days", date(2026, 12, 6)),
        ("in 3 months", date(2027, 2, 26)),
        ("mid April", date(2027, 4, 15)),
        # lead-in words are ignored
        ("closing end of March", date(2027, 3, 31)),
        ("close date: 2027-05-15", date(2027, 5, 15)),
        ("by end of March", date(2027, 3, 31)),
        ("on Friday", date(2026, 11, 27)),
        ("expected around mid-April", date(2027, 4, 15)),
        ("Expected close: Q2 2027", date(2027, 6, 30)),
        ("closing by the end of the quarter.", date(2026, 12, 31)),
        # more spellings
        ("END OF MARCH", date(2027, 3, 31)),
        ("end of the month", date(2026, 11, 30)),
        ("this month", date(2026, 11, 30)),
        ("end of November", date(2026, 11, 30)),
        ("in March", date(2027, 3, 31)),
        ("March 2027", date(2027, 3, 31)),
        ("end of March 2028", date(2028, 3, 31)),
        ("mid-April", date(2027, 4, 15)),
        ("beginning of April", date(2027, 4, 1)),
        ("may", date(2027, 5, 31)),
        ("Mar. 5", date(2027, 3, 5)),
        ("March 31, 2027", date(2027, 3, 31)),
        ("the 31st of March", date(2027, 3, 31)),
        ("5 Dec", date(2026, 12, 5)),
        ("Dec 5th, 2027", date(2027, 12, 5)),
        ("29 Feb", date(2028, 2, 29)),
        ("today", date(2026, 11, 26)),
        ("the day after tomorrow", date(2026, 11, 28)),
        ("Thursday", date(2026, 12, 3)),  # the first Thursday *after* today
        ("this Friday", date(2026, 11, 27)),
        ("this week", date(2026, 11, 27)),
        ("next week", date(2026, 12, 4)),
        ("Q4", date(2026, 12, 31)),
        ("q1", date(2027, 3, 31)),
        ("Q3 '27", date(2027, 9, 30)),
        ("2027 Q3", date(2027, 9, 30)),
        ("in Q2", date(2027, 6, 30)),
        ("H1", date(2027, 6, 30)),
        ("H2 2027", date(2027, 12, 31)),
        ("eoq", date(2026, 12, 31)),
        ("next year", date(2027, 12, 31)),
        ("end of 2027", date(2027, 12, 31)),
        ("in a week", date(2026, 12, 3)),
        ("in two weeks", date(2026, 12, 10)),
        ("in a couple of weeks", date(2026, 12, 10)),
        ("within 6 weeks", date(2027, 1, 7)),
        ("3 weeks from now", date(2026, 12, 17)),
        ("in 1 year", date(2027, 11, 26)),
        ("31.03.2027", date(2027, 3, 31)),
        ("31-03-2027", date(2027, 3, 31)),
        ("31/03/27", date(2027, 3, 31)),
        ("3/31/2027", date(2027, 3, 31)),  # month first only when day first is impossible
        ("01/02/2027", date(2027, 2, 1)),  # day first
        ("2027/03/31", date(2027, 3, 31)),
        ("the 5th of December 2027", date(2027, 12, 5)),  # dateparser fallback or own rule
    ],
)
def test_parse_close_date(text: str, expected: date) -> None:
    assert parse_close_date(text, today=TODAY) == expected


@pytest.mark.parametrize(
    "text",
    ["someday", "soon", "asap", "ASAP", "tbd", "whenever", "lots", "120k", "$1.2M", "15", "2027", "April 31",
     "31/02/2027", "Q5", "H3", "D-12", "blue"],
)  # fmt: skip
def test_parse_close_date_rejects_unreadable(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_close_date(text, today=TODAY)
    assert info.value.field == "close_date"
    assert info.value.message == f"I couldn't read '{text}' as a date. {HINT}"


@pytest.mark.parametrize("text", ["", "   ", "closing", "close date:"])
def test_parse_close_date_rejects_empty(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_close_date(text, today=TODAY)
    assert info.value.field == "close_date"
    assert HINT in info.value.message


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("2025-01-01", "1 Jan 2025"),
        ("yesterday", "25 Nov 2026"),
        ("last Friday", "20 Nov 2026"),
        ("31 March 2026", "31 Mar 2026"),
        ("Q2 2026", "30 Jun 2026"),
    ],
)
def test_parse_close_date_rejects_the_past(text: str, shown: str) -> None:
    with pytest.raises(InputError) as info:
        parse_close_date(text, today=TODAY)
    assert info.value.field == "close_date"
    assert info.value.message == f"{shown} is in the past; the expected close date must be today or later."


@pytest.mark.parametrize("text", ["2032-01-01", "in 7 years", "Q1 2035"])
def test_parse_close_date_rejects_far_future(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_close_date(text, today=TODAY)
    assert info.value.field == "close_date"
    assert f"more than {MAX_YEARS_AHEAD} years away" in info.value.message
    assert "26 Nov 2031" in info.value.message


@pytest.mark.parametrize("d", [TODAY, date(2027, 3, 31), date(2031, 11, 26)])
def test_validate_close_date_accepts(d: date) -> None:
    assert validate_close_date(d, today=TODAY) == d


@pytest.mark.parametrize(
    ("d", "fragment"),
    [
        (date(2026, 11, 25), "is in the past"),
        (date(2020, 1, 1), "is in the past"),
        (date(2031, 11, 27), "more than 5 years away"),
    ],
)
def test_validate_close_date_rejects(d: date, fragment: str) -> None:
    with pytest.raises(InputError) as info:
        validate_close_date(d, today=TODAY)
    assert info.value.field == "close_date"
    assert fragment in info.value.message


def test_validate_close_date_on_leap_day() -> None:
    assert validate_close_date(date(2033, 2, 28), today=date(2028, 2, 29)) == date(2033, 2, 28)


@pytest.mark.parametrize(
    ("text", "expected", "phrase"),
    [
        (
            "register a deal for Globex, 120k USD, closing end of March",
            date(2027, 3, 31),
            "closing end of March",
        ),
        ("D-12 moved to proposal, closing next month", date(2026, 12, 31), "closing next month"),
        ("D-3 close date 2027-05-15", date(2027, 5, 15), "close date 2027-05-15"),
        ("D-3 close date: 2027-05-15, thanks", date(2027, 5, 15), "close date: 2027-05-15"),
        ("we may win, closing in May", date(2027, 5, 31), "closing in May"),
        ("Initech $1.2M Q2", date(2027, 6, 30), "Q2"),
        ("Globex 50.000 €, mid-April", date(2027, 4, 15), "mid-April"),
        ("L-7 closes by Friday.", date(2026, 11, 27), "closes by Friday"),
        ("closing next Friday", date(2026, 11, 27), "closing next Friday"),
        ("Acme, 75k, closing 31/03/2027", date(2027, 3, 31), "closing 31/03/2027"),
        ("Acme on 31 March", date(2027, 3, 31), "on 31 March"),
        ("closing March 31, 2027 hopefully", date(2027, 3, 31), "closing March 31, 2027"),
        ("Hooli in 6 weeks", date(2027, 1, 7), "in 6 weeks"),
        ("Hooli closing in 6 weeks", date(2027, 1, 7), "closing in 6 weeks"),
        ("L-7 by the end of the quarter", date(2026, 12, 31), "by the end of the quarter"),
        ("expected close: end of Q1 2027", date(2027, 3, 31), "expected close: end of Q1 2027"),
        ("deal for Umbrella May 2027", date(2027, 5, 31), "May 2027"),
        ("Umbrella, March 31", date(2027, 3, 31), "March 31"),
        ("we may close by end of March", date(2027, 3, 31), "close by end of March"),
        ("closing tomorrow", date(2026, 11, 27), "closing tomorrow"),
        ("closing this month", date(2026, 11, 30), "closing this month"),
        ("Closing Mar. 5", date(2027, 3, 5), "Closing Mar. 5"),
        ("Q3 '27 for Acme", date(2027, 9, 30), "Q3 '27"),
        # found even in the past: the caller validates
        ("closing 2025-01-01", date(2025, 1, 1), "closing 2025-01-01"),
        # abbreviated units, approximations, a count after a closing word, a day and month alone
        ("prob closing in 6 wks", date(2027, 1, 7), "closing in 6 wks"),
        ("closing in ~4 weeks", date(2026, 12, 24), "closing in ~4 weeks"),
        ("Expected close: 90 days", date(2027, 2, 24), "Expected close: 90 days"),
        ("deal reg for Rekall - close 6/30", date(2027, 6, 30), "close 6/30"),
        ("demo went well, closing 15.1.", date(2027, 1, 15), "closing 15.1."),
    ],
)
def test_find_close_date(text: str, expected: date, phrase: str) -> None:
    result = find_close_date(text, today=TODAY)
    assert result is not None
    found, (start, end) = result
    assert found == expected
    assert text[start:end] == phrase


FINDABLE_PHRASES = [
    "2027-03-31", "31/03/2027", "31.03.27", "end of month", "the end of the month", "end of next quarter",
    "end of this week", "end of Q1", "end of q1 2027", "end of March", "end of March, 2027", "end of 2027",
    "mid-April", "mid April 2027", "middle of May", "beginning of June", "start of July", "late August",
    "early September", "next month", "the following quarter", "eom", "eoq", "eoy", "Q2", "q2 2027",
    "Q3 '27", "q2/2027", "H1", "2027 Q3", "March 31", "Mar. 5", "March 31, 2027", "March the 5th",
    "31 March", "31st of March 2027", "the 5th of May", "May 2027", "in 6 weeks", "within 10 days",
    "in a couple of weeks", "in two months", "3 weeks from now", "a week from today", "Friday",
    "next Friday", "this Friday", "coming Monday", "thu", "today", "tomorrow", "tmrw",
    "the day after tomorrow", "this month", "next week", "current quarter", "May", "Jan", "Sept",
]  # fmt: skip


@pytest.mark.parametrize("phrase", FINDABLE_PHRASES)
def test_find_agrees_with_parse(phrase: str) -> None:
    text = f"Globex 120k USD closing {phrase}, thanks"
    result = find_close_date(text, today=TODAY)
    assert result is not None
    found, (start, end) = result
    assert text[start:end] == f"closing {phrase}"
    assert found == parse_close_date(phrase, today=TODAY)


@pytest.mark.parametrize(
    "text",
    [
        "approved by Jan",
        "ask Jan about the renewal",
        "we may win this one",
        "register a deal for Globex, 120k USD",
        "$1.2M for D-12",
        "L-7 is at 50.000 €",
        "call me next Friday",
        "see you Friday",
        "signed today",
        "it's March madness",
        "for mar 2,500 USD",
        "closing in 2027",
        "version 1.2.3",
        "closing April 31 or so",
        "closing soon",
        "extend D-1 by 2 weeks",  # a length, not a date
        "meeting booked for 12/9 w/ gavin",  # a day and month alone need a closing word
        "costs 12.5k",
        "",
    ],
)
def test_find_close_date_ignores_non_dates(text: str) -> None:
    assert find_close_date(text, today=TODAY) is None


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (date(2027, 3, 31), "31 Mar 2027"),
        (date(2026, 12, 5), "5 Dec 2026"),
        (date(2028, 2, 29), "29 Feb 2028"),
    ],
)
def test_format_date(d: date, expected: str) -> None:
    assert format_date(d) == expected


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("march", date(2027, 3, 31)),
        (" 2 weeks", date(2026, 12, 10)),
        ("~4 weeks", date(2026, 12, 24)),
        ("6/30", date(2027, 6, 30)),
        ("Q1", date(2027, 3, 31)),
        ("globex", None),
        ("30k eur", None),
        ("cloud suite", None),
        ("31.02.", None),
    ],
)
def test_parse_listed_date(item: str, expected: date | None) -> None:
    assert parse_listed_date(item, today=TODAY) == expected
