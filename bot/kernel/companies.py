"""Customer companies: validating names, comparing them, and normalizing web domains.

Channel conflict checks compare *keys*, not names: :func:`normalize_company` turns "Globex
Corporation", "GLOBEX, Inc" and "The Globex Group" into the same key ``"globex"``, and
:func:`company_similarity` scores two keys from 0 to 100; :data:`CONFLICT_THRESHOLD` is the score at
which two customers are taken to be probably the same company.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from rapidfuzz import fuzz

from bot.kernel.errors import InputError

CONFLICT_THRESHOLD = 88
"""Scores (from :func:`company_similarity`) at or above this mean "probably the same customer": a new
deal for such a customer is flagged as a possible channel conflict. 88 catches a typo or two and a
name contained in a longer one ("globex" ~ "globex industries"), but not names that merely share a
word or a few letters."""

MAX_NAME_LENGTH = 120
"""The longest company name accepted, in characters (after collapsing whitespace)."""

MIN_CONTAINMENT_LENGTH = 5
"""Containment ("globex" inside "globex industries") counts only when the shorter key is this long."""

CONTAINMENT_CAP = 95.0
"""The highest score containment alone gives: above the threshold, yet below an exact match."""

LEGAL_SUFFIXES: frozenset[str] = frozenset(
    {
        "inc", "incorporated", "corp", "corporation", "co", "company", "llc", "llp", "ltd", "limited",
        "plc", "gmbh", "ag", "kg", "sa", "sas", "sarl", "srl", "spa", "bv", "nv", "oy", "ab", "as",
        "pty", "pte", "kk", "group", "holding", "holdings",
    }
)  # fmt: skip
"""Words dropped from the end of a company key (after punctuation is gone, so "S.A." is "sa")."""

# Latin letters that have no decomposition, so stripping accents alone leaves them as they are.
_TRANSLITERATION = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
)
_ALLOWED_PUNCTUATION = ".,&'’-()/+@!"
_ALLOWED_SHOWN = ". , & ' - ( ) / + @ !"
_EXAMPLE_NAME = "Globex Corporation"
_DOMAIN_HINT = "Try globex.com, https://www.globex.com or sales@globex.com."
_LABEL_RE = re.compile(r"[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?")
_TLD_RE = re.compile(r"[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59}")


def normalize_company(name: str) -> str:
    """The comparison key of a company name.

    Lower case (casefolded), accents stripped (and ø, æ, œ, ł, đ, þ spelled in plain Latin letters),
    ``&`` read as "and", ``.`` and apostrophes dropped ("S.A." -> "sa", "McDonald's" -> "mcdonalds"),
    other punctuation read as a blank, runs of single letters joined ("J P Morgan" -> "jp morgan"),
    a leading "the" and any trailing
    :data:`LEGAL_SUFFIXES` removed (repeatedly, with an "and" left dangling by "& Co"), blanks
    collapsed. At least one word is always kept, so "Company" stays "company"; the result is empty
    only when the name has no letter or digit at all.
    """
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold().translate(_TRANSLITERATION)
    text = text.replace("&", " and ")
    text = re.sub(r"[.'’`´]", "", text)
    words = re.sub(r"[\W_]+", " ", text).split()
    words = _join_single_letters(words)
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words.pop()
        while len(words) > 1 and words[-1] == "and":
            words.pop()
    return " ".join(words)


def normalize_domain(value: str | None) -> str | None:
    """The bare, lower-case host name of a domain, web address or e-mail address, without ``www.``.

    "globex.com", "https://www.Globex.com/about" and "sales@globex.com" all give ``"globex.com"``;
    a port, path, query or trailing dot is dropped; internationalized names stay in Unicode.
    None or blank gives None. Raises :class:`InputError` with field ``"domain"`` for anything that is
    not a domain name with at least two labels and an alphabetic top-level domain (so IP addresses,
    "localhost" and "not a domain" are refused).
    """
    if value is None or not value.strip():
        return None
    raw = value.strip()
    error = InputError("domain", f"I couldn't read '{_shown(raw)}' as a web domain. {_DOMAIN_HINT}")
    try:
        if "://" in raw:
            host = urlsplit(raw).hostname
        elif "@" in raw:
            host = raw.rsplit("@", 1)[1]
        else:
            host = urlsplit("//" + raw).hostname
    except ValueError:
        raise error from None
    if not host:
        raise error
    host = host.lower().rstrip(".")
    host = host.removeprefix("www.")
    labels = host.split(".")
    if (
        len(host) > 253
        or len(labels) < 2
        or not all(_LABEL_RE.fullmatch(label) for label in labels)
        or not _TLD_RE.fullmatch(labels[-1])
    ):
        raise error
    return host


def validate_company_name(name: str) -> str:
    """The name as it should be stored: NFC-normalized, stripped, blanks (including line breaks, tabs
    and no-break spaces) collapsed to single spaces.

    Raises :class:`InputError` with field ``"customer"`` when the name is empty, longer than
    :data:`MAX_NAME_LENGTH` characters, has no letter or digit, or contains anything but letters (any
    script, with their accents), digits, blanks and ``. , & ' - ( ) / + @ !`` (the typographic
    apostrophe ’ is accepted too). That refuses Slack/Markdown control characters such as
    ``< > * _ ~ ` | # [ ] { }`` and control characters; the message lists what is accepted.
    """
    text = unicodedata.normalize("NFC", name)
    bad = sorted({ch for ch in text if not _allowed_in_name(ch)})
    if bad:
        shown = " ".join(_show_char(ch) for ch in bad)
        raise InputError(
            "customer",
            f"A company name can't contain {shown}. Use letters, digits, spaces and {_ALLOWED_SHOWN}, "
            f"e.g. {_EXAMPLE_NAME}.",
        )
    cleaned = " ".join(text.split())
    if not cleaned:
        raise InputError("customer", f"Tell me the customer's company name, e.g. {_EXAMPLE_NAME}.")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InputError(
            "customer",
            f"That company name is {len(cleaned)} characters long; keep it to {MAX_NAME_LENGTH} or fewer.",
        )
    if not any(ch.isalnum() for ch in cleaned):
        raise InputError(
            "customer", f"A company name needs at least one letter or digit, e.g. {_EXAMPLE_NAME}."
        )
    return cleaned


def company_similarity(a_key: str, b_key: str) -> float:
    """How alike two company keys (from :func:`normalize_company`) are, from 0 to 100.

    The best of ``fuzz.ratio`` and ``fuzz.token_sort_ratio``; plus containment (``fuzz.partial_ratio``)
    when the shorter key has at least :data:`MIN_CONTAINMENT_LENGTH` characters and the part of the
    longer key it aligns with starts and ends on word boundaries ("globex" in "globex industries"
    counts, "apple" in "pineapple" does not); containment alone gives at most
    :data:`CONTAINMENT_CAP`. Identical keys score 100, an empty key 0. Compare with
    :data:`CONFLICT_THRESHOLD`.
    """
    if not a_key or not b_key:
        return 0.0
    if a_key == b_key:
        return 100.0
    score = max(fuzz.ratio(a_key, b_key), fuzz.token_sort_ratio(a_key, b_key))
    shorter, longer = sorted((a_key, b_key), key=len)
    if len(shorter) >= MIN_CONTAINMENT_LENGTH:
        alignment = fuzz.partial_ratio_alignment(shorter, longer)
        if alignment is not None and _on_word_boundaries(longer, alignment.dest_start, alignment.dest_end):
            score = max(score, min(alignment.score, CONTAINMENT_CAP))
    return float(score)


def _join_single_letters(words: list[str]) -> list[str]:
    """Join runs of two or more one-letter words: "s a" -> "sa", "j p morgan" -> "jp morgan"."""
    joined: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:
        if len(word) == 1 and word.isalpha():
            run.append(word)
            continue
        if run:
            joined.extend(["".join(run)] if len(run) > 1 else run)
            run = []
        if word:
            joined.append(word)
    return joined


def _on_word_boundaries(text: str, start: int, end: int) -> bool:
    return (start == 0 or text[start - 1] == " ") and (end == len(text) or text[end] == " ")


def _allowed_in_name(ch: str) -> bool:
    """Letters and their marks (any script), decimal digits, the accepted punctuation, and blanks
    (space, tab, line break, no-break space: they are collapsed). Control characters are refused."""
    if ch in " \t\r\n" or ch in _ALLOWED_PUNCTUATION:
        return True
    category = unicodedata.category(ch)
    return category[0] in ("L", "M") or category in ("Nd", "Zs")


def _show_char(ch: str) -> str:
    if ch.isprintable():
        return f"'{ch}'"
    return f"U+{ord(ch):04X}"


def _shown(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
