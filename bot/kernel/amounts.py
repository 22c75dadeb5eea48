"""Deal amounts as people type them in chat: ``120k USD``, ``$1.2M``, ``EUR 50,000``, ``50.000 €``.

Three entry points:

* :func:`parse_money` reads a text that is *only* an amount (a form field, an answer to "what's the
  amount?") and raises :class:`~bot.kernel.errors.InputError` (field ``"amount"``) when it can't.
* :func:`find_money` finds an amount inside a longer sentence ("register a deal for Globex, 120k USD,
  closing end of March") and returns it with its span, leaving dates and references alone.
* :func:`format_money` renders a :class:`Money` for people: ``120,000 USD``, ``1,250.50 EUR``.

Reading rules (shared by both readers):

* Currency: a symbol (``$`` USD, ``US$`` USD, ``€`` EUR, ``£`` GBP, ``¥`` JPY), one of
  :data:`CURRENCY_CODES` (any case) before or after the number, or the words dollar(s), euro(s),
  pound(s), yen after it. ``$`` is always USD, whatever the default currency. Without one, the
  ``default_currency`` applies. Naming two different currencies is an error.
* Scale suffix, any case, attached or after one space: k / thousand (10^3); m / mm / mn / mio / mil / million
  (10^6); b / bn / billion (10^9).
* Separators: when both ``,`` and ``.`` occur, the last one is the decimal separator and the other
  groups thousands; one kind occurring several times groups thousands; one occurrence followed by
  exactly three digits groups thousands when there is no scale suffix (``50.000 €`` is 50000,
  ``1.250`` is 1250) and is the decimal separator otherwise (``1.2M``, ``1,5 Mio``). Thousands groups
  must be well formed (``1,000,000`` or Indian ``1,00,000``); ``31.03.2027`` is not a number.
* Valid amounts are more than zero, at most :data:`MAX_AMOUNT`, and have at most two decimal places
  once scaled (``1.2345k`` is fine, ``1.234`` with a decimal point is not). Results are quantized to
  two decimal places.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from bot.kernel.errors import InputError

CURRENCY_CODES: frozenset[str] = frozenset(
    {
        "USD", "EUR", "GBP", "CHF", "JPY", "CAD", "AUD", "SEK", "NOK", "DKK",
        "PLN", "INR", "BRL", "MXN", "SGD", "NZD", "ZAR", "CNY", "HKD",
    }
)  # fmt: skip
"""The ISO 4217 codes the readers accept (a fixed set of common ones)."""

MAX_AMOUNT = Decimal(10) ** 12
"""The largest amount accepted (one trillion in any currency); anything above is surely a typo."""

_CENT = Decimal("0.01")
_HINT = "Try 120k USD, $1.2M, EUR 50,000 or 50.000 €."
_SYMBOLS: dict[str, str] = {"$": "USD", "us$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
_WORDS: dict[str, str] = {
    "dollar": "USD",
    "dollars": "USD",
    "euro": "EUR",
    "euros": "EUR",
    "pound": "GBP",
    "pounds": "GBP",
    "yen": "JPY",
}
_SCALES: dict[str, int] = {
    "k": 10**3,
    "thousand": 10**3,
    "m": 10**6,
    "mm": 10**6,
    "mn": 10**6,
    "mio": 10**6,
    "million": 10**6,
    "mil": 10**6,
    "mill": 10**6,
    "b": 10**9,
    "bn": 10**9,
    "billion": 10**9,
}

_SP = r"[ \t\u00a0]"  # one blank inside an amount (never a line break)
_NO_LETTER = r"(?![^\W\d_])"  # not followed by a letter (digits are fine: "USD1.2M")
_SYM = r"(?:US\$|[$€£¥])"
_CODE = "|".join(sorted(CURRENCY_CODES))
_SUFFIX = "thousand|million|billion|mill|mil|mio|mm|mn|bn|k|m|b"  # longest first: alternation is ordered
_WORD = "|".join(sorted(_WORDS, key=len, reverse=True))

_AMOUNT_RE = re.compile(
    rf"""
    (?<![\w.,\-/:#+])                                   # not glued to a word, number, date or D-12
    (?:(?P<pre_sym>{_SYM}){_SP}?
      |(?P<pre_code>{_CODE}){_NO_LETTER}{_SP}?)?
    (?P<number>\d{{1,3}}(?:[ \u00a0\u202f]\d{{3}})+(?:[.,]\d{{1,2}})?(?![\d.,])|\d+(?:[.,]\d+)*)  # 64 000 or 64.000
    (?:[.,][-–](?!\d))?                                # "19.900,-": no cents
    (?:(?P<gap>{_SP}?)(?P<suffix>{_SUFFIX}){_NO_LETTER})?
    (?:{_SP}?(?:(?P<post_sym>{_SYM})|(?P<post_code>{_CODE}|{_WORD}){_NO_LETTER}))?
    (?![\w%])(?![.,\-/:]\d)                             # not a percentage, a date or a time
    """,
    re.IGNORECASE | re.VERBOSE,
)
# The same shape with any three letters as currency: only used to explain an unknown currency code.
_LOOSE_RE = re.compile(
    rf"(?:(?P<pre>[A-Za-z]{{3}}){_SP}?)?[\d.,]+(?:{_SP}?(?:{_SUFFIX}))?(?:{_SP}?(?P<post>[A-Za-z]{{3}}))?",
    re.IGNORECASE,
)
_NEGATIVE_RE = re.compile(rf"(?:{_SYM}|[A-Za-z]{{3}})?\s*[-−–]\s*{_SYM}?\s*\d", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Money:
    """An amount of money: ``amount`` as a :class:`~decimal.Decimal`, ``currency`` an upper-case
    ISO 4217 code such as ``"USD"``. Construction checks the types and the code's shape only (any three
    upper-case letters), so stored amounts in other currencies still load."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError(f"Money.amount must be a Decimal, not {type(self.amount).__name__}")
        if not re.fullmatch(r"[A-Z]{3}", self.currency):
            raise ValueError(f"Money.currency must be an upper-case ISO 4217 code, not {self.currency!r}")


@dataclass(frozen=True, slots=True)
class _Reading:
    """What one regex match says, before validation."""

    number: str
    scale: int
    currencies: frozenset[str]
    spaced_letter_suffix: bool  # "2 b", "5 k": a one-letter suffix after a blank


def parse_money(text: str, *, default_currency: str = "USD") -> Money:
    """Read ``text``, which must be nothing but an amount, as :class:`Money`.

    ``default_currency`` (an ISO code, any case) applies when the text names no currency.
    Raises :class:`InputError` with field ``"amount"`` and a message saying what is accepted when the
    text is not an amount, names an unknown or two different currencies, or the amount is zero,
    negative, above :data:`MAX_AMOUNT` or finer than a cent. A bad ``default_currency`` is a
    programming error and raises :class:`ValueError`.
    """
    default = _check_default(default_currency)
    cleaned = " ".join(text.split())
    shown = _shown(cleaned)
    if not cleaned:
        raise InputError("amount", f"Tell me the amount. {_HINT}")
    if _NEGATIVE_RE.match(cleaned):
        raise InputError("amount", f"'{shown}' is negative; the amount must be more than zero. {_HINT}")
    match = _AMOUNT_RE.fullmatch(cleaned)
    if match is None:
        in_words = _in_words(cleaned, default=default, whole=True)
        if in_words is not None:
            return in_words[0]
        _explain_unknown_currency(cleaned)
        raise InputError("amount", f"I couldn't read '{shown}' as an amount. {_HINT}")
    reading = _reading(match)
    value = _number_value(reading.number, scaled=reading.scale != 1)
    if value is None:
        raise InputError("amount", f"I couldn't read '{shown}' as an amount. {_HINT}")
    return _validated(value[0] * reading.scale, reading.currencies, default=default, shown=shown)


def find_money(text: str, *, default_currency: str = "USD") -> tuple[Money, tuple[int, int]] | None:
    """Find an amount inside a sentence; return it with its ``(start, end)`` span in ``text``, or None.

    The span covers the currency and suffix (``"120k USD"``, ``"$1.2M"``) so a caller can cut it out.
    Candidates, in order of preference (the first one of the best kind wins):

    1. numbers with a currency (``120k USD``, ``$1.2M``, ``EUR 50,000``);
    2. numbers with a scale suffix only (``120k``); a one-letter suffix after a blank (``2 b``)
       doesn't count here without a currency;
    3. bare numbers, only when they have thousands separators (``50,000``) or are at least 1000
       (``50000``) and are not a year (1900-2100).

    Dates and references are never amounts: ``2027-03-31``, ``31/03/2027``, ``Q2``, ``D-12``,
    ``L-7``, ``10:30``, ``20%``, ``March 31``, ``in 6 weeks``, ``2027``. Ranges such as
    ``100k-150k`` are not read either. Known limitation: a company name shaped like an amount
    (``3M``) reads as one when the sentence holds no amount with a currency.

    Raises :class:`InputError` (field ``"amount"``) when the chosen candidate clearly is an amount
    (it has a currency or a suffix) but is invalid (zero, too large, finer than a cent, two
    currencies), so the person hears why rather than being asked again.
    """
    default = _check_default(default_currency)
    best: tuple[int, tuple[int, int], Money | InputError] | None = None
    for match in _AMOUNT_RE.finditer(text):
        reading = _reading(match)
        has_currency = bool(reading.currencies)
        if reading.spaced_letter_suffix and not has_currency:
            continue
        rank = 0 if has_currency else 1 if reading.scale != 1 else 2
        if best is not None and rank >= best[0]:
            continue
        parsed = _number_value(reading.number, scaled=reading.scale != 1)
        if parsed is None:
            continue
        value, grouped = parsed
        if rank == 2 and not _plausible_bare_number(reading.number, value, grouped=grouped):
            continue
        shown = _shown(match.group(0))
        outcome: Money | InputError
        try:
            outcome = _validated(value * reading.scale, reading.currencies, default=default, shown=shown)
        except InputError as error:
            if rank == 2:
                continue
            outcome = error
        best = (rank, match.span(), outcome)
        if rank == 0:
            break
    if best is None:
        return _in_words(text, default=default)
    _, span, outcome = best
    if isinstance(outcome, InputError):
        raise outcome
    return outcome, span


_UNITS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {
    w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)
}
_NUMBER_WORD = "|".join(sorted([*_UNITS, *_TENS, "hundred"], key=len, reverse=True))
# An amount in words ("forty thousand euros", "two hundred fifty k"): number words, then a scale -
# a bare "one" or "twenty" is no amount ("a live one", "twenty seats").
_IN_WORDS_RE = re.compile(
    rf"(?<![\w-])(?P<words>(?:(?:{_NUMBER_WORD})(?:[\s-]+|\s+and\s+))*?(?:{_NUMBER_WORD}))[\s-]+"
    rf"(?P<scale>thousand|million|billion|k|mio|bn)(?![\w-])"
    rf"(?:\s+(?P<currency>{_CODE}|{_WORD}){_NO_LETTER})?",
    re.IGNORECASE,
)


def _in_words(text: str, *, default: str, whole: bool = False) -> tuple[Money, tuple[int, int]] | None:
    """An amount written in words in ``text`` (or as all of it), as :func:`find_money` returns it; None
    when there is none."""
    match = _IN_WORDS_RE.fullmatch(text) if whole else _IN_WORDS_RE.search(text)
    if match is None:
        return None
    value = 0
    for word in re.split(r"[\s-]+", match.group("words").lower()):
        if word in _UNITS:
            value += _UNITS[word]
        elif word in _TENS:
            value += _TENS[word]
        elif word == "hundred":
            value = max(value, 1) * 100
    code = match.group("currency")
    currencies = frozenset({_WORDS.get(code.lower(), code.upper())}) if code else frozenset()
    shown = _shown(match.group(0))
    scaled = Decimal(value * _SCALES[match.group("scale").lower()])
    return _validated(scaled, currencies, default=default, shown=shown), match.span()


def format_money(money: Money) -> str:
    """Render ``money`` as ``"120,000 USD"`` or ``"1,250.50 EUR"``: thousands separated by commas, two
    decimals unless they are ``.00``, then the currency code."""
    text = f"{money.amount.quantize(_CENT):,.2f}"
    if text.endswith(".00"):
        text = text[:-3]
    return f"{text} {money.currency}"


def _check_default(currency: str) -> str:
    code = currency.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise ValueError(f"default_currency must be an ISO 4217 code, not {currency!r}")
    return code


def _shown(text: str, limit: int = 40) -> str:
    """The person's text as quoted back in a message: trimmed so a paste doesn't flood the reply."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reading(match: re.Match[str]) -> _Reading:
    currencies: set[str] = set()
    for group in ("pre_sym", "post_sym"):
        if symbol := match.group(group):
            currencies.add(_SYMBOLS[symbol.lower()])
    for group in ("pre_code", "post_code"):
        if code := match.group(group):
            currencies.add(_WORDS.get(code.lower(), code.upper()))
    suffix = match.group("suffix")
    return _Reading(
        number=match.group("number"),
        scale=_SCALES[suffix.lower()] if suffix else 1,
        currencies=frozenset(currencies),
        spaced_letter_suffix=bool(suffix and len(suffix) == 1 and match.group("gap")),
    )


def _valid_groups(digits: str, sep: str) -> bool:
    """Whether ``digits`` is well grouped by ``sep``: 1,000,000 or (Indian) 1,00,000."""
    groups = digits.split(sep)
    first, rest = groups[0], groups[1:]
    if not rest or first.startswith("0"):
        return False
    if 1 <= len(first) <= 3 and all(len(g) == 3 for g in rest):
        return True
    return len(first) <= 2 and len(rest[-1]) == 3 and all(len(g) == 2 for g in rest[:-1])


def _number_value(number: str, *, scaled: bool) -> tuple[Decimal, bool] | None:
    """The value of a digit string with separators, and whether it used thousands separators.

    Applies the separator rules of the module docstring; None when the string is malformed.
    """
    if re.search(r"[ \u00a0\u202f]", number):  # thousands by blanks ("64 000"), the regex checked the groups
        whole, _, fraction = re.sub(r"[ \u00a0\u202f]", "", number).replace(",", ".").partition(".")
        return Decimal(f"{whole}.{fraction or 0}"), True
    commas, dots = number.count(","), number.count(".")
    if not commas and not dots:
        return Decimal(number), False
    if commas and dots:
        decimal_sep = "," if number.rfind(",") > number.rfind(".") else "."
        thousands_sep = "." if decimal_sep == "," else ","
        if number.count(decimal_sep) != 1:
            return None
        whole, fraction = number.split(decimal_sep)
        if not _valid_groups(whole, thousands_sep):
            return None
        return Decimal(f"{whole.replace(thousands_sep, '')}.{fraction}"), True
    sep = "," if commas else "."
    if commas + dots > 1:
        if not _valid_groups(number, sep):
            return None
        return Decimal(number.replace(sep, "")), True
    whole, fraction = number.split(sep)
    if len(fraction) == 3 and not scaled and _valid_groups(number, sep):
        return Decimal(whole + fraction), True
    return Decimal(f"{whole}.{fraction}"), False


def _plausible_bare_number(number: str, value: Decimal, *, grouped: bool) -> bool:
    """Whether a number with neither currency nor suffix, inside a sentence, is meant as an amount."""
    if number.isdigit() and len(number) == 4 and 1900 <= int(number) <= 2100:
        return False  # a year
    return grouped or value >= 1000


def _validated(amount: Decimal, currencies: frozenset[str], *, default: str, shown: str) -> Money:
    if len(currencies) > 1:
        names = " and ".join(sorted(currencies))
        raise InputError("amount", f"'{shown}' names two currencies ({names}); give just one, e.g. 120k USD.")
    if amount <= 0:
        raise InputError("amount", f"'{shown}' is zero; the amount must be more than zero. {_HINT}")
    if amount > MAX_AMOUNT:
        raise InputError(
            "amount",
            f"'{shown}' is more than 1,000,000,000,000, too large for a deal amount. "
            "Check the number and its k/M/bn suffix.",
        )
    if amount != amount.quantize(_CENT):
        raise InputError(
            "amount", f"'{shown}' has more than 2 decimal places; give at most cents, e.g. 1,250.50 EUR."
        )
    currency = next(iter(currencies)) if currencies else default
    return Money(amount=amount.quantize(_CENT), currency=currency)


def _explain_unknown_currency(text: str) -> None:
    """Raise a helpful InputError when ``text`` is an amount with an unknown three-letter code."""
    loose = _LOOSE_RE.fullmatch(text)
    if loose is None:
        return
    for code in (loose.group("pre"), loose.group("post")):
        if code and code.upper() not in CURRENCY_CODES and code.lower() not in _WORDS:
            known = ", ".join(sorted(CURRENCY_CODES))
            raise InputError(
                "amount", f"I don't know the currency '{code}'. Use one of {known}, or $, €, £ or ¥."
            )
