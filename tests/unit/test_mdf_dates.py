"""An MDF activity's dates inside a sentence, in the forms partners type them."""

from __future__ import annotations

from datetime import date

import pytest

from bot.features.mdf.service import find_activity_dates
from bot.kernel.errors import InputError

TODAY = date(2026, 12, 3)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("webinar - 5k eur - 10.–20.03. - expect ~40 leads", date(2027, 3, 10), date(2027, 3, 20)),
        ("roadshow DE/AT, 15.000 €, 01.03.-31.03.2027, 60 leads", date(2027, 3, 1), date(2027, 3, 31)),
        ("email campaign, 2,500 USD, 2/1–2/28, ~25 leads", date(2027, 2, 1), date(2027, 2, 28)),
        ("google ads, 8k eur, all of february, target 100 leads", date(2027, 2, 1), date(2027, 2, 28)),
        ("webinar series (3x), $6k total, feb-mar, 50 leads", date(2027, 2, 1), date(2027, 3, 31)),
        ("event 2027-03-11 to 2027-03-12", date(2027, 3, 11), date(2027, 3, 12)),
        ("webinar 10-20 March", date(2027, 3, 10), date(2027, 3, 20)),
        ("workshop on 12 March", date(2027, 3, 12), date(2027, 3, 12)),
        ("booth 28.12.-3.1.", date(2026, 12, 28), date(2027, 1, 3)),  # over the new year
    ],
)
def test_activity_dates_in_a_sentence(text: str, start: date, end: date) -> None:
    found = find_activity_dates(text, today=TODAY)
    assert found is not None and found[0] == (start, end)


@pytest.mark.parametrize("text", ["costs 1.5-2k", "release v1.2-3.4", "webinar, 5k eur"])
def test_no_dates_where_there_are_none(text: str) -> None:
    assert find_activity_dates(text, today=TODAY) is None


def test_an_impossible_day_is_said_so() -> None:
    with pytest.raises(InputError):
        find_activity_dates("event 30.02.-31.02.2027", today=TODAY)
