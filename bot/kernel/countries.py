"""Countries as people type them: an ISO 3166-1 alpha-2 code ("DE") or a name ("Germany", "france",
"the UK"), read into the code. Names come from pycountry (the ISO 3166 tables, maintained upstream),
so there is no country list of our own to keep up to date.
"""

from __future__ import annotations

import re
from functools import cache

import pycountry

from bot.kernel.words import fold

# What people call a country that ISO does not (ISO says "United Kingdom of Great Britain and ...").
_ALIASES = {
    "uk": "GB", "u.k.": "GB", "england": "GB", "great britain": "GB", "britain": "GB",
    "usa": "US", "u.s.": "US", "u.s.a.": "US", "the us": "US", "the states": "US", "america": "US",
    "united states of america": "US", "holland": "NL", "the netherlands": "NL", "czechia": "CZ",
    "south korea": "KR", "korea": "KR", "russia": "RU", "vietnam": "VN", "uae": "AE",
    "deutschland": "DE", "frankreich": "FR", "schweiz": "CH", "osterreich": "AT", "espana": "ES",
}  # fmt: skip


def _fold(text: str) -> str:
    return " ".join(fold(text).split())


@cache
def names() -> dict[str, str]:
    """Every name a country goes by (folded to lower case without accents), mapped to its code."""
    found: dict[str, str] = {}
    for country in pycountry.countries:
        for attribute in ("name", "common_name", "official_name"):
            name = getattr(country, attribute, None)
            if name:
                found[_fold(name)] = country.alpha_2
                if "," in name:  # "Korea, Republic of" is also typed "Korea"
                    found.setdefault(_fold(name.split(",")[0]), country.alpha_2)
    found.update(_ALIASES)
    return found


@cache
def codes() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


def country_code(text: str) -> str | None:
    """The alpha-2 code of a country typed as a code (any case) or a name; None when it is neither."""
    value = text.strip().strip(".")
    if len(value) == 2 and value.isalpha():
        return value.upper() if value.upper() in codes() else _ALIASES.get(value.lower())
    return names().get(_fold(value).removeprefix("the ").strip()) or names().get(_fold(value))


@cache
def _name_re() -> re.Pattern[str]:
    ordered = sorted(names(), key=len, reverse=True)
    return re.compile(r"(?<![\w.])(?:" + "|".join(re.escape(n) for n in ordered) + r")(?![\w])")


_LEAD_RE = re.compile(
    r"\bcountry\s*[:=]?\s*|\b(?:based\s+)?(?:in|from)\s+(?:the\s+)?|(?:^|[,;|(\n]|\s[-–—])\s*(?:they'?re\s+in\s+)?"
)
_CANDIDATE_RE = re.compile(
    r"(?P<c>[A-Za-z][A-Za-z .]{1,40}?)(?=(?:\s+(?:pls|please|only|too|thanks|thx))?\s*(?:$|[,;|)\n?!]|\s[-–—]|\.\s|\.$))"
)


def find_country(text: str) -> tuple[str, tuple[int, int]] | None:
    """A country named in a sentence where it reads as one: after "country", "in", "from", "based in",
    or as an item of its own in a list ("..., 22k, US"); a code only in capitals ("IT director" and
    "in it" are no countries)."""
    folded = fold(text)
    for lead in _LEAD_RE.finditer(text):
        m = _CANDIDATE_RE.match(text, lead.end())
        if m is None:
            continue
        start, end = m.span("c")
        candidate = m.group("c")
        if len(candidate) == 2:
            code = country_code(candidate) if candidate.isupper() else None
            if code:
                return code, (start, end)
            continue
        name = _name_re().fullmatch(folded[start:end])
        if name:
            return names()[name.group(0)], (start, end)
    return None
