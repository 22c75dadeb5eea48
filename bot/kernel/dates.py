"""Expected close dates of deals, as people type them in chat.

"Close date" semantics: a period means its *last* day (``March`` and ``end of March`` are 31 March,
``Q2`` is 30 June, ``next month`` is the last day of next month, ``end of year`` is 31 December);
``mid April`` is the 15th and ``beginning of April`` the 1st. A month, quarter or day given without
a year is the next one that is not before ``today``. Quarters are calendar quarters.

Entry points:

* :func:`parse_close_date` reads a text that is *only* a date expression and validates it.
* :func:`find_close_date` finds a close-date phrase inside a sentence and returns it unvalidated.
* :func:`validate_close_date` checks a date is between ``today`` and :data:`MAX_YEARS_AHEAD` years out.
* :func:`format_date` renders a date for people: ``31 Mar 2027``.

Our own rules cover numeric dates (ISO ``2027-03-31``; otherwise day first, ``31/03/2027``), named
months with or without day and year, quarters and halves (``Q2``, ``Q2 2027``, ``H1``), ``end of``
/ ``this`` / ``next`` month, quarter, year and week, weekdays, ``today``/``tomorrow`` and
``in N days/weeks/months/years``. Anything else goes to :mod:`dateparser` as a fallback.

Choices a caller should know: ``Friday``, ``this Friday`` and ``next Friday`` all mean the first
Friday *after* today; ``this week``/``end of week`` is the first Friday on or after today and
``next week`` the Friday after that; ``in 3 months`` is the same day of the month three months on
(clipped to the month's end), not the month's last day.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.kernel.errors import InputError

MAX_YEARS_AHEAD = 5
"""A close date further out than this many years from today is refused as a typo."""

_HINT = "Try 2027-03-31, end of March, next Friday, Q2 or in 6 weeks."
_MONTH_ABBREVIATIONS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_MONTHS: dict[str, int] = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): number for number, name in enumerate(_MONTH_ABBREVIATIONS, start=1)})
_MONTHS["sept"] = 9
_WEEKDAYS: dict[str, int] = {name.lower(): number for number, name in enumerate(calendar.day_name)}
_WEEKDAYS.update({"mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4})
_WEEKDAYS.update({"sat": 5, "sun": 6})
_COUNTS: dict[str, int] = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2, "couple of": 2,
}  # fmt: skip
_VAGUE = frozenset(
    {"someday", "some day", "sometime", "soon", "asap", "tbd", "tba", "tbc", "unknown", "later", "never",
     "n/a", "na", "eventually", "whenever", "not sure", "no idea"}
)  # fmt: skip


def _alternation(words: Iterable[str]) -> str:
    """A regex alternation of plain ``words``, longest first (Python's alternation takes the first hit);
    blanks become ``\\s+`` so the result also works in verbose patterns."""
    return "|".join(w.replace(" ", r"\s+") for w in sorted(words, key=len, reverse=True))


_MONTH = rf"(?:{_alternation(_MONTHS)})"
_WEEKDAY = rf"(?:{_alternation(_WEEKDAYS)})"
_COUNT = rf"(?:\d{{1,3}}|{_alternation(_COUNTS)})"
_ORD = r"(?:st|nd|rd|th)?"

# ---------------------------------------------------------------------------------------------------
# Whole-phrase rules. They run on normalized text (see _normalize): lower case, single spaces, no
# trailing punctuation, "mar." -> "mar", "mid-april" -> "mid april".
# ---------------------------------------------------------------------------------------------------
_TODAY_RE = re.compile(r"(?:the )?(today|tomorrow|tmrw|tmr|day after tomorrow)")
_ISO_RE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_DMY_RE = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})")
_PERIOD_RE = re.compile(
    r"(?P<end>(?:the )?end of (?:the )?)?(?:(?P<which>this|next|current|the following|following) )?"
    r"(?P<unit>month|quarter|year|week)"
)
_ABBREVIATED_PERIOD_RE = re.compile(r"eo(m|q|y|w)")
_QUARTER_RE = re.compile(
    r"(?:(?:the )?end of (?:the )?)?(?:in )?(?P<kind>q|h)(?P<n>[1-4])"
    r"(?: ?'(?P<yy>\d{2})| (?P<yyyy>\d{4})|/(?P<yyyy2>\d{4}))?"
)
_YEAR_QUARTER_RE = re.compile(
    r"(?:(?:the )?end of (?:the )?)?(?:in )?(?P<yyyy>\d{4}) (?P<kind>q|h)(?P<n>[1-4])"
)
_MONTH_RE = re.compile(
    r"(?:(?P<pos>(?:the )?end of|late|mid|(?:the )?middle of|(?:the )?beginning of|(?:the )?start of|early|in)"
    rf" (?:the )?)?(?P<month>{_MONTH}),?(?: (?P<year>\d{{4}}))?"
)
_DAY_MONTH_RE = re.compile(
    rf"(?:the )?(?P<day>\d{{1,2}}){_ORD} (?:of )?(?P<month>{_MONTH}),?(?: (?P<year>\d{{4}}))?"
)
_MONTH_DAY_RE = re.compile(rf"(?P<month>{_MONTH}) (?:the )?(?P<day>\d{{1,2}}){_ORD}(?:,? (?P<year>\d{{4}}))?")
_RELATIVE_RE = re.compile(
    rf"(?:(?:in|within) (?:about |approx |~ ?)?(?P<n>{_COUNT}) (?P<unit>day|week|month|year)s?"
    rf"|(?P<n2>{_COUNT}) (?P<unit2>day|week|month|year)s? from (?:now|today))"
)
# "6/30", "30.06.", "15.1": a day and month without a year (day first unless that is impossible)
_DAY_MONTH_NUMERIC_RE = re.compile(r"(\d{1,2})([/.])(\d{1,2})\.?")
_WEEKDAY_RE = re.compile(rf"(?:(?:this|next|coming|on) )?(?P<weekday>{_WEEKDAY})")
_END_OF_YEAR_RE = re.compile(r"(?:the )?end of (?:(?:the )?year )?(?P<year>\d{4})")

# Words that may lead a whole-text answer and carry no meaning ("closing by end of March").
_LEAD_WORDS_RE = re.compile(
    r"^(?:(?:expected|estimated|target|closing|closes|close|date|by|on|around|about|approximately|approx"
    r"|roughly|before|until|till|is|at|the)\b\s*|[:=\-]\s*)+"
)
# Things that are amounts, never dates: keeps them from the dateparser fallback.
_AMOUNTISH_RE = re.compile(
    r"[$€£¥]|\d\s*(?:k|m|mm|mn|bn|mio|million|billion|thousand)\b|\b(?:usd|eur|gbp|chf|jpy)\b"
)

# ---------------------------------------------------------------------------------------------------
# Finding a phrase in a sentence: an optional lead-in, then a "strong" form (a date on its own) or a
# "weak" one (a bare month, weekday, today, "this month"), which counts only after a lead-in.
# ---------------------------------------------------------------------------------------------------
_FIND_LEAD = r"""
(?P<lead>\b(?:
    (?:(?:expected|estimated|target)\s+)?(?:closing|closes|close)(?:\s+date)?
        (?:\s*[:=]\s*|\s+)(?:(?:is|on|by|in|around|at|before|of)\s+)?
  | (?:expected|estimated|target)\s+date(?:\s*[:=]\s*|\s+)
  | (?:by|on|in|around|before|until|till|at)\s+
))?
"""
_UNIT = r"(?:days?|weeks?|wks?|months?|mos|mths?|years?)"
_SENTENCE_MONTH = rf"\b{_MONTH}\b(?:\.(?=\s*\d))?"  # "Mar. 5" keeps its dot, "in May." does not
_STRONG = rf"""
    (?<![\w./\-])\d{{4}}[-/.]\d{{1,2}}[-/.]\d{{1,2}}(?![\w/\-]|[.,]\d)
  | (?<![\w./\-])\d{{1,2}}[-/.]\d{{1,2}}[-/.](?:\d{{4}}|\d{{2}})(?![\w/\-]|[.,]\d)
  | \b(?:the\s+)?end\s+of\s+(?:the\s+)?
    (?:(?:this|next|current)\s+(?:month|quarter|year|week)\b
      |(?:month|quarter|year|week)\b
      |[qh][1-4]\b(?:\s*'\d{{2}}\b|\s+\d{{4}}\b)?
      |{_SENTENCE_MONTH}(?:,?\s+\d{{4}}\b)?
      |\d{{4}}\b)
  | (?:\b(?:the\s+)?(?:middle|beginning|start)\s+of\s+(?:the\s+)?|\bmid(?:-|\s+)|\blate\s+|\bearly\s+)
    {_SENTENCE_MONTH}(?:,?\s+\d{{4}}\b)?
  | \b(?:next|the\s+following)\s+(?:month|quarter|year)\b
  | \b(?:eom|eoq|eoy)\b
  | \b[qh][1-4]\b(?:\s*'\d{{2}}\b|\s+\d{{4}}\b|/\d{{4}}\b)?
  | \b\d{{4}}\s+[qh][1-4]\b
  | {_SENTENCE_MONTH}\s+(?:the\s+)?\d{{1,2}}{_ORD}\b(?![.,:]\d)(?:,?\s+\d{{4}}\b)?
  | (?<![\w.,/$€£¥\-])(?:the\s+)?\d{{1,2}}{_ORD}\s+(?:of\s+)?{_SENTENCE_MONTH}(?:,?\s+\d{{4}}\b)?
  | {_SENTENCE_MONTH},?\s+\d{{4}}\b
  | \b(?:in|within)\s+(?:about\s+|approx\.?\s+|~\s*)?{_COUNT}\s*{_UNIT}\b
  | \b{_COUNT}\s+(?:day|week|month|year)s?\s+from\s+(?:now|today)\b
"""
_WEAK = rf"""
    (?:~\s*)?\b\d{{1,3}}\s*{_UNIT}\b
  | (?<![\w./\-])\d{{1,2}}/\d{{1,2}}(?![\w/\-]|[.,]\d)
  | (?<![\w./\-])\d{{1,2}}\.\d{{1,2}}\.(?!\w|[.,]\d)
  | \b(?:(?:this|next|coming)\s+)?{_WEEKDAY}\b
  | \b(?:the\s+)?(?:today|tomorrow|tmrw|day\s+after\s+tomorrow)\b
  | \b(?:this|next|current)\s+(?:month|quarter|year|week)\b
  | {_SENTENCE_MONTH}
"""
_CLOSE_LEAD_RE = re.compile(r"clos|date", re.IGNORECASE)
_BARE_COUNT_RE = re.compile(r"\d{1,3} (?:day|week|month|year)s?")
_MONTH_ABBREVIATIONS_LOWER = frozenset(m.lower() for m in (*_MONTH_ABBREVIATIONS, "Sept")) - {"may"}
_FIND_RE = re.compile(
    rf"{_FIND_LEAD}(?P<core>(?P<strong>{_STRONG})|(?P<weak>{_WEAK}))", re.IGNORECASE | re.VERBOSE
)


def parse_close_date(text: str, *, today: date) -> date:
    """Read ``text``, which must be nothing but a close-date expression, as a validated date.

    Leading filler such as "closing", "close date:", "expected", "by", "on", "around" is ignored.
    Raises :class:`InputError` with field ``"close_date"`` when the text is empty, vague ("soon",
    "asap", "someday") or unreadable (the message lists accepted forms), and whatever
    :func:`validate_close_date` raises for a date in the past or too far out.
    """
    normalized = _LEAD_WORDS_RE.sub("", _normalize(text)).strip()
    if not normalized:
        raise InputError("close_date", f"Tell me the expected close date. {_HINT}")
    result = _parse_phrase(normalized, today)
    if result is None:
        raise InputError("close_date", f"I couldn't read '{_shown(text)}' as a date. {_HINT}")
    return validate_close_date(result, today=today)


def find_close_date(text: str, *, today: date) -> tuple[date, tuple[int, int]] | None:
    """Find the first close-date phrase in a sentence; return the date and the phrase's span, or None.

    The span includes a lead-in such as "closing", "close date", "closes by", "by" or "in" so a caller
    can cut the whole phrase out. Bare month names, weekdays, ``today``/``tomorrow`` and
    ``this month``-style phrases count only after such a lead-in ("we may win" is no date; "closing
    in May" is), and ``next Friday`` needs one too ("call me next Friday" is not a close date). A bare
    month *abbreviation* needs a closing lead-in ("closing Jan"), as "approved by Jan" names a person.
    Amounts (``120k``, ``$1.2M``) and references (``D-12``) are never dates. The date is *not*
    validated: a past date is returned as is; pass it to :func:`validate_close_date`.
    """
    for match in _FIND_RE.finditer(text):
        lead, core = match.group("lead"), _normalize(match.group("core"))
        if match.group("weak") is not None:
            if lead is None:
                continue
            if core in _MONTH_ABBREVIATIONS_LOWER and not _CLOSE_LEAD_RE.search(lead):
                continue  # "approved by Jan" is a person; "closing Jan" is a month
            if _BARE_COUNT_RE.fullmatch(core):
                if not _CLOSE_LEAD_RE.search(lead) and not re.search(r"\bin\s*$", lead):
                    continue  # "extend by 2 weeks" is a length; "close: 90 days" a date
                core = f"in {core}"
        found = _parse_phrase(core, today, fallback=False)
        if found is not None:
            return found, match.span()
    return None


def parse_listed_date(text: str, *, today: date) -> date | None:
    """A date that is a whole item of a list on its own ("globex, 40k, march", "..., 6/30"): read with
    this module's own rules only (no dateparser guess), None when it is not one."""
    core = _normalize(text)
    if not core or _AMOUNTISH_RE.search(core):
        return None
    return _parse_phrase(f"in {core}" if _BARE_COUNT_RE.fullmatch(core) else core, today, fallback=False)


def validate_close_date(d: date, *, today: date) -> date:
    """Return ``d`` when ``today <= d <= today + MAX_YEARS_AHEAD years``; raise :class:`InputError`
    (field ``"close_date"``) saying what is wrong otherwise."""
    if d < today:
        raise InputError(
            "close_date", f"{format_date(d)} is in the past; the expected close date must be today or later."
        )
    latest = _add_months(today, 12 * MAX_YEARS_AHEAD)
    if d > latest:
        raise InputError(
            "close_date",
            f"{format_date(d)} is more than {MAX_YEARS_AHEAD} years away; the expected close date must be "
            f"by {format_date(latest)}.",
        )
    return d


def format_date(d: date) -> str:
    """Render ``d`` as ``"31 Mar 2027"`` (English month abbreviation, whatever the locale)."""
    return f"{d.day} {_MONTH_ABBREVIATIONS[d.month - 1]} {d.year}"


# ---------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------
def _shown(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[\u2010-\u2015\u2212]", "-", text)
    text = re.sub(r"[\u2018\u2019]", "'", text)
    text = " ".join(text.split())
    text = re.sub(rf"\b({_MONTH}|{_WEEKDAY})\.", r"\1", text)
    text = re.sub(r"\bmid-", "mid ", text)
    text = re.sub(r"\b(\d+) ?(?:wks?|weeks?)\b", r"\1 weeks", text)
    text = re.sub(r"\b(\d+) ?(?:mos|mths?|months?)\b", r"\1 months", text)
    text = re.sub(r"~ ?(?=\d)", "", text)
    if _DAY_MONTH_NUMERIC_RE.fullmatch(text):
        return text  # "30.06." keeps the dot that says it is a date
    return text.rstrip(".!?,;: ")


def _last_day(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _add_months(d: date, months: int) -> date:
    index = d.year * 12 + d.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(d.day, calendar.monthrange(year, month + 1)[1]))


def _quarter_end(year: int, quarter: int) -> date:
    return _last_day(year, quarter * 3)


def _first_on_or_after(today: date, make: Callable[[int], date | None]) -> date | None:
    """The first ``make(year)`` not before ``today``, trying this year and the next eight (29 Feb)."""
    for year in range(today.year, today.year + 9):
        candidate = make(year)
        if candidate is not None and candidate >= today:
            return candidate
    return None


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _year(yyyy: str | None, yy: str | None = None) -> int | None:
    if yyyy:
        return int(yyyy)
    if yy:
        return 2000 + int(yy)
    return None


def _friday_on_or_after(d: date) -> date:
    return d + timedelta(days=(4 - d.weekday()) % 7)


# ---------------------------------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------------------------------
def _parse_phrase(s: str, today: date, *, fallback: bool = True) -> date | None:
    """The date a normalized phrase names, or None when no rule (nor, with ``fallback``, dateparser)
    reads it. A phrase a rule matches but can't turn into a date ("april 31") is None: no fallback."""
    for pattern, rule in _RULES:
        match = pattern.fullmatch(s)
        if match is not None:
            return rule(match, today)
    return _fallback(s, today) if fallback else None


def _rule_today(m: re.Match[str], today: date) -> date | None:
    word = m.group(1)
    offset = 0 if word == "today" else 2 if word == "day after tomorrow" else 1
    return today + timedelta(days=offset)


def _rule_iso(m: re.Match[str], today: date) -> date | None:
    return _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))


def _rule_dmy(m: re.Match[str], today: date) -> date | None:
    first, second, raw_year = int(m.group(1)), int(m.group(2)), m.group(3)
    year = int(raw_year) if len(raw_year) == 4 else 2000 + int(raw_year)
    # Day first; month first only when day first is impossible (3/31/2027).
    return _safe_date(year, second, first) or (_safe_date(year, first, second) if second > 12 else None)


def _rule_day_month_numeric(m: re.Match[str], today: date) -> date | None:
    first, second = int(m.group(1)), int(m.group(3))
    if m.group(2) == "/" and first <= 12 < second:
        first, second = second, first  # 6/30 is month first
    return _first_on_or_after(today, lambda year: _safe_date(year, second, first))


def _period_end(unit: str, offset: int, today: date) -> date:
    if unit == "month":
        first = _add_months(today.replace(day=1), offset)
        return _last_day(first.year, first.month)
    if unit == "quarter":
        index = today.year * 4 + (today.month - 1) // 3 + offset
        return _quarter_end(index // 4, index % 4 + 1)
    if unit == "year":
        return date(today.year + offset, 12, 31)
    return _friday_on_or_after(today) + timedelta(weeks=offset)


def _rule_period(m: re.Match[str], today: date) -> date | None:
    which = m.group("which")
    if m.group("end") is None and which is None:
        return None
    offset = 1 if which in ("next", "the following", "following") else 0
    return _period_end(m.group("unit"), offset, today)


def _rule_abbreviated_period(m: re.Match[str], today: date) -> date | None:
    unit = {"m": "month", "q": "quarter", "y": "year", "w": "week"}[m.group(1)]
    return _period_end(unit, 0, today)


def _rule_quarter(m: re.Match[str], today: date) -> date | None:
    n = int(m.group("n"))
    if m.group("kind") == "h" and n > 2:
        return None
    last_month = n * 3 if m.group("kind") == "q" else n * 6
    groups = m.groupdict()
    year = _year(groups.get("yyyy") or groups.get("yyyy2"), groups.get("yy"))
    if year is not None:
        return _last_day(year, last_month)
    return _first_on_or_after(today, lambda y: _last_day(y, last_month))


def _rule_month(m: re.Match[str], today: date) -> date | None:
    month = _MONTHS[m.group("month")]
    position = (m.group("pos") or "").removeprefix("the ")
    if position in ("mid", "middle of"):
        make: Callable[[int], date | None] = lambda y: date(y, month, 15)  # noqa: E731
    elif position in ("beginning of", "start of", "early"):
        make = lambda y: date(y, month, 1)  # noqa: E731
    else:  # a bare month, "in", "end of", "late": the month's last day
        make = lambda y: _last_day(y, month)  # noqa: E731
    if m.group("year"):
        return make(int(m.group("year")))
    return _first_on_or_after(today, make)


def _rule_day_month(m: re.Match[str], today: date) -> date | None:
    month, day = _MONTHS[m.group("month")], int(m.group("day"))
    if not 1 <= day <= (29 if month == 2 else calendar.monthrange(2001, month)[1]):
        return None
    if m.group("year"):
        return _safe_date(int(m.group("year")), month, day)
    return _first_on_or_after(today, lambda y: _safe_date(y, month, day))


def _rule_relative(m: re.Match[str], today: date) -> date | None:
    raw = m.group("n") or m.group("n2")
    count = int(raw) if raw.isdigit() else _COUNTS[raw]
    unit = m.group("unit") or m.group("unit2")
    if unit == "day":
        return today + timedelta(days=count)
    if unit == "week":
        return today + timedelta(weeks=count)
    return _add_months(today, count * (12 if unit == "year" else 1))


def _rule_weekday(m: re.Match[str], today: date) -> date | None:
    weekday = _WEEKDAYS[m.group("weekday")]
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def _rule_end_of_year(m: re.Match[str], today: date) -> date | None:
    return date(int(m.group("year")), 12, 31)


_Rule = Callable[[re.Match[str], date], date | None]
_RULES: tuple[tuple[re.Pattern[str], _Rule], ...] = (
    (_TODAY_RE, _rule_today),
    (_ISO_RE, _rule_iso),
    (_DMY_RE, _rule_dmy),
    (_PERIOD_RE, _rule_period),
    (_ABBREVIATED_PERIOD_RE, _rule_abbreviated_period),
    (_QUARTER_RE, _rule_quarter),
    (_YEAR_QUARTER_RE, _rule_quarter),
    (_MONTH_RE, _rule_month),
    (_DAY_MONTH_RE, _rule_day_month),
    (_MONTH_DAY_RE, _rule_day_month),
    (_RELATIVE_RE, _rule_relative),
    (_DAY_MONTH_NUMERIC_RE, _rule_day_month_numeric),
    (_WEEKDAY_RE, _rule_weekday),
    (_END_OF_YEAR_RE, _rule_end_of_year),
)


def _fallback(s: str, today: date) -> date | None:
    """dateparser for the long tail ("the 5th of december 2027", "3 weeks from today", ...).

    Not for vague words, text without letters (dateparser reads "15" as a day of *this* month) or
    anything that looks like an amount (it reads "$1.2M" as a time).
    """
    if s in _VAGUE or not re.search(r"[^\W\d_]", s) or _AMOUNTISH_RE.search(s):
        return None
    # Imported on the first phrase the rules above leave over, not by every process that reads dates.
    import dateparser

    parsed = dateparser.parse(
        s,
        languages=["en"],
        settings={
            "PREFER_DATES_FROM": "future",
            "PREFER_DAY_OF_MONTH": "last",
            "RELATIVE_BASE": datetime(today.year, today.month, today.day),
            "DATE_ORDER": "DMY",
            "RETURN_AS_TIMEZONE_AWARE": False,
        },
    )
    return parsed.date() if parsed is not None else None


def to_local(moment: datetime, tz: str) -> datetime:
    """A stored (naive UTC) moment in the time zone ``tz``."""
    return moment.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(tz))


def local_today(now: datetime, tz: str) -> date:
    """The date it is in ``tz`` at the stored (naive UTC) moment ``now``."""
    return to_local(now, tz).date()


# The three ways a stored moment is shown: in a log-like line (history, CLI), in a sentence, in a card.


def utc_stamp(moment: datetime) -> str:
    """``2026-11-28 10:00 UTC``: history lines and operator output."""
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def format_when(moment: datetime | None, tz: str) -> str:
    """``28 Nov 2026 11:00 CET`` in the reader's ``tz``; ``—`` for no moment."""
    if moment is None:
        return "—"
    local = to_local(moment, tz)
    return f"{format_date(local.date())} {local:%H:%M} {local.tzname()}"


def format_day_time(moment: datetime, tz: str) -> str:
    """``Fri 27 Nov 2026, 10:00 CET`` in the reader's ``tz`` (question threads)."""
    local = to_local(moment, tz)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} {local.tzname()}"


def quarter_of(day: date) -> str:
    """The calendar quarter a day falls in, as ``2027-Q1``."""
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def quarter_bounds(quarter: str) -> tuple[date, date]:
    """The first and the last day of a quarter written ``2027-Q1``."""
    year, q = int(quarter[:4]), int(quarter[-1])
    last_month = q * 3
    return date(year, last_month - 2, 1), date(year, last_month, calendar.monthrange(year, last_month)[1])
